"""`ProjectStore.transaction()`: re-entrant, all or nothing, files of a rolled-back write removed, no file overwritten."""

from __future__ import annotations

import numpy as np
import pytest

from segcore.data.boxes import Box
from segcore.data.classes import ClassTable
from segcore.errors import MaskError, ProjectError
from segcore.io.images import read_image, write_image
from segcore.project.store import ProjectStore

TABLE = ClassTable.from_names(["background", "cell"])


@pytest.fixture()
def store(tmp_path):
    with ProjectStore.create(tmp_path / "proj", TABLE) as s:
        yield s


def _files(store: ProjectStore) -> list[str]:
    return sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*.png"))


def test_a_failure_late_in_a_transaction_takes_back_every_row_and_file(store):
    with pytest.raises(MaskError), store.transaction():
        record = store.add_image_array("a", np.ones((8, 8), np.uint8))
        store.add_box(record.id, Box(1, 1, 2, 2, 1))
        store.save_mask(record.id, np.ones((8, 8), np.uint8))
        store.save_mask(record.id, np.ones((4, 4), np.uint8))  # wrong size: the whole sample goes
    assert store.images() == [] and _files(store) == []


def test_a_nested_transaction_that_fails_is_undone_alone(store):
    with store.transaction():
        kept = store.add_image_array("kept", np.ones((8, 8), np.uint8))
        with pytest.raises(ProjectError, match="boom"), store.transaction():
            store.add_image_array("dropped", np.full((8, 8), 2, np.uint8))
            raise ProjectError("boom")
        store.save_mask(kept.id, np.ones((8, 8), np.uint8))
    assert [r.name for r in store.images()] == ["kept"]
    assert _files(store) == ["images/kept.png", f"masks/{kept.id}/000001.png"]


def test_a_strangers_file_is_never_overwritten_but_a_killed_imports_own_is_reused(store):
    stranger = np.full((8, 8), 7, np.uint8)
    write_image(store.root / "images" / "a.png", stranger)  # no row names it, other pixels
    assert store.add_image_array("a", np.ones((8, 8), np.uint8)).name == "a_1"
    np.testing.assert_array_equal(read_image(store.root / "images" / "a.png"), stranger)

    leftover = np.full((8, 8), 3, np.uint8)
    write_image(store.root / "images" / "b.png", leftover)  # what an import killed before its row leaves
    record = store.add_image_array("b", leftover)
    assert (record.name, record.path) == ("b", "images/b.png")


def test_reads_inside_a_write_see_its_own_uncommitted_rows(store):
    with store.transaction():
        record = store.add_image_array("a", np.zeros((8, 8), np.uint8))
        store.save_mask_patch(record.id, 0, 0, np.ones((2, 2), np.uint8))
        assert store.load_mask(record.id)[:2, :2].all()
        assert store.compact_mask(record.id) == 1
    assert store.pending_patches(record.id) == 0
