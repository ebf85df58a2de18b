"""The `boxes` format: a folder of frames with boxes.json beside them, imported with the file's classes
(issue 27, item 16: a folder import ignored the class names of a boxes.json beside it)."""

from __future__ import annotations

import json

import numpy as np

from segcore.cli import main
from segcore.data.boxes import Box
from segcore.data.readers import detect_format, open_dataset
from segcore.io.images import write_image
from segcore.project.store import ImageStatus, ProjectStore


def _frames(root) -> None:
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        write_image(root / name, np.full((40, 50), 30 + i, np.uint8))  # different pixels: a project keeps each
    boxes = {"classes": ["background", "sample", "dust"],
             "boxes": {"a.png": [10, 5, 20, 15], "b.png": [[1, 1, 8, 8, "dust"], [20, 10, 25, 25, "sample"]]}}
    (root / "boxes.json").write_text(json.dumps(boxes))


def test_a_folder_with_boxes_json_is_the_boxes_format_with_its_classes(tmp_path):
    _frames(tmp_path)
    assert detect_format(tmp_path).format == "boxes"
    dataset = open_dataset("boxes", tmp_path)
    assert dataset.class_table.names == ["background", "sample", "dust"]
    assert [s.name for s in dataset] == ["a", "b"]  # c.png has no box: not a sample
    mask = dataset[1].load_mask()
    assert (mask[1:9, 1:9] == 2).all() and (mask[10:35, 20:45] == 1).all() and mask.sum() == 64 * 2 + 625
    assert dataset[1].boxes == (Box(1, 1, 8, 8, 2), Box(20, 10, 25, 25, 1))


def test_project_import_keeps_the_classes_masks_and_box_labels(tmp_path, capsys):
    _frames(tmp_path / "frames")
    assert main(["project", "import", str(tmp_path / "p"), str(tmp_path / "frames"), "--from", "boxes"]) == 0
    with ProjectStore.open(tmp_path / "p") as store:
        assert store.class_table().names == ["background", "sample", "dust"]
        records = {r.name: r for r in store.images()}
        assert sorted(records) == ["a", "b"] and all(r.status is ImageStatus.LABELLED for r in records.values())
        assert store.boxes(records["a"].id) == [Box(10, 5, 20, 15, 1)]
        assert (store.load_mask(records["a"].id)[5:20, 10:30] == 1).all()
