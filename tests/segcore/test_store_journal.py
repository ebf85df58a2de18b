"""The edit journal (autosave per edit), its compaction, and class-table changes that remap masks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.errors import MaskError, ProjectError
from segcore.project.store import ImageStatus, ProjectStore

TABLE = ClassTable.from_names(["background", "sample", "dust"])
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def store(tmp_path):
    with ProjectStore.create(tmp_path / "proj", TABLE) as s:
        yield s


def test_patches_apply_in_order_on_a_zero_base_and_label_the_image(store):
    rec = store.add_image_array("a", np.zeros((20, 30), np.uint8))
    assert store.load_mask(rec.id) is None
    store.save_mask_patch(rec.id, 5, 2, np.full((4, 6), 1, np.uint8))
    store.save_mask_patch(rec.id, 8, 4, np.full((3, 3), 2, np.uint8))  # overlaps the first
    expected = np.zeros((20, 30), np.uint8)
    expected[2:6, 5:11] = 1
    expected[4:7, 8:11] = 2
    np.testing.assert_array_equal(store.load_mask(rec.id), expected)
    assert store.image(rec.id).status is ImageStatus.LABELLED
    assert store.pending_patches(rec.id) == 2


def test_patches_apply_on_top_of_the_latest_revision(store):
    rec = store.add_image_array("a", np.zeros((10, 10), np.uint8))
    base = np.full((10, 10), 2, np.uint8)
    store.save_mask(rec.id, base)
    store.save_mask_patch(rec.id, 0, 0, np.full((2, 2), IGNORE_INDEX, np.uint8), status=ImageStatus.REVIEWED)
    expected = base.copy()
    expected[:2, :2] = IGNORE_INDEX
    np.testing.assert_array_equal(store.load_mask(rec.id), expected)
    np.testing.assert_array_equal(store.load_mask(rec.id, revision=1), base)  # a revision alone
    assert store.image(rec.id).status is ImageStatus.REVIEWED


def test_compaction_folds_the_journal_into_one_revision(store):
    rec = store.add_image_array("a", np.zeros((16, 16), np.uint8))
    assert store.compact_mask(rec.id) is None  # nothing to fold
    for i in range(5):
        store.save_mask_patch(rec.id, i, i, np.full((3, 3), 1 + i % 2, np.uint8))
    before = store.load_mask(rec.id)
    revision = store.compact_mask(rec.id)
    assert revision == 1 and store.pending_patches(rec.id) == 0
    np.testing.assert_array_equal(store.load_mask(rec.id), before)
    np.testing.assert_array_equal(store.load_mask(rec.id, revision=1), before)
    assert store.mask_revisions(rec.id)[-1].source == "edit"


def test_a_saved_mask_supersedes_older_patches(store):
    rec = store.add_image_array("a", np.zeros((8, 8), np.uint8))
    store.save_mask_patch(rec.id, 0, 0, np.full((8, 8), 1, np.uint8))
    store.save_mask(rec.id, np.full((8, 8), 2, np.uint8), source="prediction accepted")
    np.testing.assert_array_equal(store.load_mask(rec.id), np.full((8, 8), 2, np.uint8))
    assert store.pending_patches(rec.id) == 0


@pytest.mark.parametrize(
    ("x", "y", "patch", "message"),
    [
        (0, 0, np.zeros((3, 3), np.uint16), "uint8"),
        (0, 0, np.zeros((0, 3), np.uint8), "non-empty"),
        (6, 0, np.zeros((3, 3), np.uint8), "outside"),
        (-1, 0, np.zeros((3, 3), np.uint8), "outside"),
        (0, 0, np.full((3, 3), 7, np.uint8), "not classes"),
    ],
)
def test_bad_patches_are_refused_and_change_nothing(store, x, y, patch, message):
    rec = store.add_image_array("a", np.zeros((8, 8), np.uint8))
    with pytest.raises(MaskError, match=message):
        store.save_mask_patch(rec.id, x, y, patch)
    assert store.pending_patches(rec.id) == 0
    assert store.load_mask(rec.id) is None and store.image(rec.id).status is ImageStatus.UNLABELLED


def test_replace_class_table_remaps_every_mask_and_the_journal(store):
    a = store.add_image_array("a", np.zeros((6, 6), np.uint8))
    b = store.add_image_array("b", np.ones((6, 6), np.uint8))
    store.add_image_array("unlabelled", np.full((6, 6), 2, np.uint8))
    mask = np.zeros((6, 6), np.uint8)
    mask[:3] = 1
    mask[5, 5] = IGNORE_INDEX
    store.save_mask(a.id, mask)
    store.save_mask_patch(b.id, 0, 0, np.full((2, 2), 2, np.uint8))  # only in the journal
    reordered = ClassTable.from_names(["sample", "dust", "background"])
    remap = np.arange(256, dtype=np.uint8)
    remap[[0, 1, 2]] = [2, 0, 1]
    store.replace_class_table(reordered, remap)
    assert store.class_table() == reordered
    np.testing.assert_array_equal(store.load_mask(a.id), remap[mask])
    expected_b = np.full((6, 6), 2, np.uint8)
    expected_b[:2, :2] = 1
    np.testing.assert_array_equal(store.load_mask(b.id), expected_b)
    assert store.pending_patches(b.id) == 0


def test_replace_class_table_that_would_lose_labels_changes_nothing(store):
    rec = store.add_image_array("a", np.zeros((4, 4), np.uint8))
    store.save_mask(rec.id, np.full((4, 4), 2, np.uint8))
    smaller = ClassTable.from_names(["background", "sample"])
    with pytest.raises(MaskError):
        store.replace_class_table(smaller, np.arange(256, dtype=np.uint8))  # class 2 has nowhere to go
    with pytest.raises(ProjectError):
        store.replace_class_table(smaller)
    assert store.class_table() == TABLE
    assert [r.revision for r in store.mask_revisions(rec.id)] == [1]


JOURNAL_WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from segcore.project.store import ProjectStore
    store = ProjectStore.open(sys.argv[1])
    image_id = store.images()[0].id
    for i in range(10_000):
        store.save_mask_patch(image_id, i % 60, (i // 60) % 40, np.full((8, 8), 1 + i % 2, np.uint8))
        print(i, flush=True)  # reported only after the patch is committed
    """
)


def test_a_killed_writer_loses_no_committed_patch(tmp_path):
    root = tmp_path / "proj"
    with ProjectStore.create(root, TABLE) as s:
        image_id = s.add_image_array("a", np.zeros((48, 68), np.uint8)).id
    proc = subprocess.Popen([sys.executable, "-c", JOURNAL_WRITER, str(root)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    committed = -1
    deadline = time.monotonic() + 60
    while committed < 40 and time.monotonic() < deadline:
        committed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert committed >= 40, "the writer made no progress"
    with ProjectStore.open(root) as s:
        assert s.integrity_check() == []
        assert s.pending_patches(image_id) >= committed + 1
        expected = np.zeros((48, 68), np.uint8)
        for i in range(s.pending_patches(image_id)):
            x, y = i % 60, (i // 60) % 40
            expected[y : y + 8, x : x + 8] = 1 + i % 2
        np.testing.assert_array_equal(s.load_mask(image_id), expected)
