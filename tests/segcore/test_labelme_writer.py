"""labelme output (`write_dataset(..., "labelme")`, `convert --to labelme`) read back by the labelme reader,
and labelme 6's oriented_rectangle shape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segcore.cli import main
from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.readers import open_dataset
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.shapes import shape_to_bool_mask
from segcore.data.writers import write_dataset
from segcore.errors import DatasetError
from segcore.io.images import write_image

H, W = 32, 40
TABLE = ClassTable.from_names(["background", "road", "car", "tree"])


def _masks() -> dict[str, np.ndarray]:
    """Regions two pixels wide or more: holes, an island in a hole, slanted edges, an ignore patch."""
    a = np.zeros((H, W), np.uint8)
    a[2:20, 2:22] = 1
    a[6:14, 6:16] = 0
    a[8:11, 9:12] = 3
    a[24:30, 5:12] = 1
    a[22:31, 25:38] = 2
    a[0:3, 30:36] = IGNORE_INDEX
    b = np.full((H, W), 3, np.uint8)
    yy, xx = np.mgrid[:H, :W]
    b[(yy - 16) ** 2 + (xx - 20) ** 2 < 100] = 2  # a disc: many slanted boundary steps
    b[xx + yy < 12] = 0
    return {"ring": a, "disc": b}


def _dataset(tmp_path: Path) -> tuple[LabelledDataset, dict[str, np.ndarray]]:
    masks = _masks()
    samples = []
    for n, (name, mask) in enumerate(masks.items()):
        path = tmp_path / "src" / f"{name}.jpg"
        write_image(path, np.full((H, W, 3), 60 + 100 * n, np.uint8))  # different pixels: a project keeps both
        samples.append(LabelledSample(name, path, lambda m=mask: m.copy()))
    return LabelledDataset(TABLE, samples), masks


def test_labelme_output_reads_back_to_the_same_masks_and_classes(tmp_path):
    dataset, masks = _dataset(tmp_path)
    out = write_dataset(dataset, tmp_path / "labelme", "labelme")
    assert sorted(p.name for p in out.iterdir()) == ["disc.jpg", "disc.json", "labels.txt", "ring.jpg", "ring.json"]
    assert (out / "ring.jpg").read_bytes() == (tmp_path / "src" / "ring.jpg").read_bytes()
    doc = json.loads((out / "ring.json").read_text())
    assert doc["imagePath"] == "ring.jpg" and doc["imageData"] is None
    assert {s["label"] for s in doc["shapes"]} == {"road", "car", "tree", "_background_", "__ignore__"}
    # labelme2voc.py's assertions on labels.txt: __ignore__ first, _background_ second, whatever class 0's name
    lines = (out / "labels.txt").read_text().splitlines()
    assert lines[:2] == ["__ignore__", "_background_"] and lines[2:] == TABLE.names[1:]

    back = open_dataset("labelme", out)
    # from labels.txt, not the order shapes first appear in; class 0 under labelme's name
    assert back.class_table.names == ["_background_", *TABLE.names[1:]]
    for sample in back:
        image, mask = sample.load(back.class_table)
        np.testing.assert_array_equal(mask, masks[sample.name], err_msg=sample.name)


def test_convert_to_labelme_and_project_export(tmp_path, capsys):
    dataset, masks = _dataset(tmp_path)
    voc = write_dataset(dataset, tmp_path / "voc", "voc")
    assert main(["convert", str(voc), str(tmp_path / "lm"), "--from", "voc", "--to", "labelme"]) == 0
    assert "to labelme" in capsys.readouterr().out
    back = open_dataset("labelme", tmp_path / "lm")
    assert {s.name: s.load_mask().tolist() for s in back} == {k: v.tolist() for k, v in masks.items()}

    project = tmp_path / "project"
    assert main(["project", "import", str(project), str(tmp_path / "lm"), "--from", "labelme"]) == 0
    assert main(["project", "export", str(project), str(tmp_path / "again"), "--to", "labelme"]) == 0
    again = open_dataset("labelme", tmp_path / "again")
    assert {s.name: s.load_mask().tolist() for s in again} == {k: v.tolist() for k, v in masks.items()}


def _oriented(points: list[list[float]], shape_type: str = "oriented_rectangle") -> dict:
    return {"label": "box", "points": points, "shape_type": shape_type, "group_id": None, "flags": {}}


def test_oriented_rectangle_is_filled_as_labelme_fills_its_four_corners(tmp_path):
    # A 30-degree rectangle with fractional corners, as labelme 6 saves it.
    corners = [[10.4, 3.2], [30.7, 14.9], [24.1, 26.3], [3.8, 14.6]]
    shape = _oriented(corners)
    got = shape_to_bool_mask(shape, (H, W))
    np.testing.assert_array_equal(got, shape_to_bool_mask(_oriented(corners, "polygon"), (H, W)))
    assert 250 < got.sum() < 350  # about 23.4 x 13.2 pixels

    write_image(tmp_path / "a.png", np.zeros((H, W), np.uint8))
    doc = {"version": "6.0.0", "flags": {}, "shapes": [shape], "imagePath": "a.png", "imageData": None,
           "imageHeight": H, "imageWidth": W}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    dataset = open_dataset("labelme", tmp_path)
    assert dataset.class_table.names == ["_background_", "box"]
    np.testing.assert_array_equal(dataset[0].load_mask(), got.astype(np.uint8))


def test_oriented_rectangle_needs_four_points(tmp_path):
    with pytest.raises(DatasetError, match="oriented_rectangle needs exactly 4 point"):
        from segcore.data.shapes import shapes_to_mask

        shapes_to_mask([_oriented([[1, 1], [9, 1], [9, 9]])], (H, W), ClassTable.from_names(["bg", "box"]))
