"""Step-by-step imports of image files and datasets into a real project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import write_squares_dataset

from segcore.data.classes import ClassTable
from segcore.data.readers import open_dataset
from segcore.errors import DatasetError
from segcore.io.images import write_image
from segcore.project.image_import import (
    ImportProgress,
    image_files,
    iter_import_dataset,
    iter_import_folder,
    iter_import_images,
)
from segcore.project.store import ImageStatus, ProjectStore


@pytest.fixture()
def store(tmp_path: Path):
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "cell"])) as store:
        yield store


def _drain(steps) -> tuple[list[ImportProgress], object]:
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as stop:
            return progress, stop.value


def _write_images(folder: Path) -> None:
    write_image(folder / "b.png", np.zeros((10, 12), np.uint8))
    write_image(folder / "a.tif", np.full((6, 7), 4000, np.uint16))
    (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    (folder / "notes.txt").write_text("not an image")
    write_image(folder / ".hidden.png", np.zeros((4, 4), np.uint8))


def test_image_files_lists_images_only_sorted(tmp_path):
    _write_images(tmp_path)
    assert [p.name for p in image_files(tmp_path)] == ["a.tif", "b.png", "c.png"]
    with pytest.raises(DatasetError, match="not a folder"):
        image_files(tmp_path / "missing")


def test_import_folder_skips_and_reports_unreadable_files(tmp_path, store):
    _write_images(tmp_path / "src")
    progress, report = _drain(iter_import_folder(store, tmp_path / "src"))
    assert [(p.done, p.total, p.name) for p in progress] == [(1, 3, "a.tif"), (2, 3, "b.png"), (3, 3, "c.png")]
    assert progress[0].error is None and "corrupt" in progress[2].error
    assert report.added == 2 and [name for name, _ in report.failed] == ["c.png"]
    records = store.images()
    assert [(r.name, r.width, r.bit_depth, r.status) for r in records] == [
        ("a", 7, 16, ImageStatus.UNLABELLED),
        ("b", 12, 8, ImageStatus.UNLABELLED),
    ]
    assert all((store.root / r.path).is_file() for r in records)  # copied into the project


def test_stopping_early_keeps_the_images_added_so_far(tmp_path, store):
    _write_images(tmp_path / "src")
    steps = iter_import_images(store, image_files(tmp_path / "src"))
    next(steps)
    steps.close()
    assert [r.name for r in store.images()] == ["a"]


def test_import_dataset_adds_images_masks_and_classes(tmp_path, store):
    dataset = open_dataset("folder", write_squares_dataset(tmp_path / "squares", n=3))
    progress, report = _drain(iter_import_dataset(store, dataset))
    assert [p.done for p in progress] == [1, 2, 3] and {p.total for p in progress} == {3}
    assert report.added == 3 and not report.failed
    assert store.class_table().names == ["background", "square"]  # an empty project takes the dataset's table
    first = store.images()[0]
    assert first.status == ImageStatus.LABELLED
    np.testing.assert_array_equal(store.load_mask(first.id), dataset.samples[0].load_mask())


def test_importing_the_same_images_again_adds_nothing_and_says_so(tmp_path, store):
    folder = tmp_path / "frames"
    for value in range(3):
        write_image(folder / f"f{value}.png", np.full((5, 5), value * 40, np.uint8))
    _, first = _drain(iter_import_folder(store, folder))
    assert (first.added, first.duplicates, first.failed) == (3, [], [])
    write_image(folder / "f3.png", np.full((5, 5), 200, np.uint8))  # one new frame among the old ones
    _, second = _drain(iter_import_folder(store, folder))
    assert second.added == 1 and second.failed == []
    assert second.duplicates == [("f0.png", "f0"), ("f1.png", "f1"), ("f2.png", "f2")]
    assert [r.name for r in store.images()] == ["f0", "f1", "f2", "f3"]  # no f0_1 copies
