"""Importing datasets into a project and exporting a project, on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segcore.data.boxes import Box
from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.masks import read_index_mask, write_palette_png
from segcore.data.readers import open_dataset
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.io.images import write_image
from segcore.project.store import ImageStatus, ProjectStore
from segcore.project.transfer import (
    export_project,
    import_dataset,
    merge_class_tables,
    project_dataset,
)


def _dataset(tmp_path: Path, table: ClassTable, n: int = 3, *, corrupt: int | None = None) -> LabelledDataset:
    rng = np.random.default_rng(0)
    samples = []
    for i in range(n):
        img_path = tmp_path / "src" / f"img{i}.png"
        write_image(img_path, rng.integers(0, 65535, (20, 30), dtype=np.uint16))
        if i == corrupt:
            img_path.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
        mask = rng.integers(0, table.num_classes, (20, 30), dtype=np.uint8)
        mask[0] = IGNORE_INDEX
        mask_path = tmp_path / "src" / f"img{i}_mask.png"
        write_palette_png(mask_path, mask, table)
        samples.append(
            LabelledSample(
                name=f"img{i}",
                image_path=img_path,
                mask_loader=lambda p=mask_path: read_index_mask(p),
                split="val" if i == 0 else "train",
                boxes=(Box(1, 2, 5, 6, label=1),),
            )
        )
    return LabelledDataset(table, samples, source=tmp_path / "src", format="test")


def test_merge_class_tables_by_name():
    project = ClassTable.from_names(["background", "cat", "dog"])
    incoming = ClassTable.from_names(["background", "dog", "bird"])
    merged, remap = merge_class_tables(project, incoming)
    assert merged.names == ["background", "cat", "dog", "bird"]
    assert remap[:3].tolist() == [0, 2, 3] and remap[IGNORE_INDEX] == IGNORE_INDEX


def test_import_into_empty_project_takes_dataset_table(tmp_path):
    table = ClassTable.from_names(["bg", "fringe", "sample"], [(0, 0, 0), (1, 2, 3), (9, 9, 9)])
    ds = _dataset(tmp_path, table)
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background"])) as store:
        report = import_dataset(store, ds)
        assert report.added == 3 and report.failed == []
        assert store.class_table().names == table.names and store.class_table().colors == table.colors
        for sample, record in zip(ds, store.images()):
            image, mask = sample.load()
            np.testing.assert_array_equal(store.read_image(record.id), image)
            np.testing.assert_array_equal(store.load_mask(record.id), mask)
            assert record.status is ImageStatus.LABELLED and record.split == sample.split
            assert store.boxes(record.id) == [Box(1, 2, 5, 6, 1)]


def test_import_remaps_classes_and_reports_bad_samples(tmp_path):
    incoming = ClassTable.from_names(["background", "dog", "bird"])
    ds = _dataset(tmp_path, incoming, corrupt=1)
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "cat", "dog"])) as store:
        store.add_image_array("existing", np.zeros((4, 4), np.uint8))
        progress: list[tuple[int, int]] = []
        report = import_dataset(store, ds, progress=lambda i, n: progress.append((i, n)))
        assert progress == [(1, 3), (2, 3), (3, 3)]
        assert report.added == 2 and [name for name, _ in report.failed] == ["img1"]
        assert "img1.png" in report.failed[0][1]
        assert report.new_classes == ["bird"]
        assert store.class_table().names == ["background", "cat", "dog", "bird"]
        record = store.image_by_name("img2")
        _, original = ds[2].load()
        expected = np.array([0, 2, 3], np.uint8)[np.where(original == IGNORE_INDEX, 0, original)]
        expected[original == IGNORE_INDEX] = IGNORE_INDEX
        np.testing.assert_array_equal(store.load_mask(record.id), expected)
        assert store.boxes(record.id) == [Box(1, 2, 5, 6, 2)]  # 'dog' is 2 in the project


def test_project_dataset_lists_only_labelled_images(tmp_path):
    table = ClassTable.from_names(["bg", "fg"])
    with ProjectStore.create(tmp_path / "p", table) as store:
        a = store.add_image_array("a", np.zeros((4, 4), np.uint8))
        store.add_image_array("b", np.ones((4, 4), np.uint8))
        c = store.add_image_array("c", np.full((4, 4), 2, np.uint8))
        store.save_mask(a.id, np.ones((4, 4), np.uint8))
        store.save_mask(c.id, np.zeros((4, 4), np.uint8), status=ImageStatus.PREDICTED)
        assert [s.name for s in project_dataset(store)] == ["a"]
        assert [s.name for s in project_dataset(store, [ImageStatus.PREDICTED])] == ["c"]


@pytest.mark.parametrize("fmt", ["voc", "folder", "colormask"])
def test_export_reads_back_with_the_matching_reader(tmp_path, fmt):
    table = ClassTable.from_names(["background", "sample", "dust"])
    ds = _dataset(tmp_path, table)
    with ProjectStore.create(tmp_path / "p", table) as store:
        import_dataset(store, ds)
        out = export_project(store, tmp_path / f"out_{fmt}", fmt)
        back = open_dataset(fmt, out)
        assert back.class_table.names == table.names
        assert sorted(s.name for s in back) == ["img0", "img1", "img2"]
        by_name = {s.name: s for s in back}
        for record in store.images():
            image, mask = by_name[record.name].load()
            np.testing.assert_array_equal(mask, store.load_mask(record.id))
            np.testing.assert_array_equal(image, store.read_image(record.id))
