"""COCO in and out: the coco writer read back by pycocotools itself, the coco reader on hand-written files,
`convert` and `project import/export` through the real CLI, and the per-image RLE export as a COCO file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from segcore.cli import main
from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.coco import compressed_counts, decode_segmentation
from segcore.data.readers import detect_format, open_dataset
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.writers import write_dataset
from segcore.errors import DatasetError
from segcore.export import export_prediction
from segcore.export.rle import rle_doc_to_mask
from segcore.io.images import read_image, write_image

H, W = 32, 40
COLOURS = [(0, 0, 0), (128, 64, 128), (0, 0, 200), (0, 160, 0)]
TABLE = ClassTable.from_names(["background", "road", "car", "tree"], COLOURS)


def _masks() -> dict[str, np.ndarray]:
    """Three masks: rings with holes (and an island in a hole), several regions per class, a blank one."""
    a = np.zeros((H, W), np.uint8)
    a[2:20, 2:22] = 1
    a[6:14, 6:16] = 0  # hole
    a[8:11, 9:12] = 3  # island in the hole
    a[24:30, 5:12] = 1  # a second road region
    a[22:31, 25:38] = 2
    b = np.full((H, W), 3, np.uint8)
    b[10:20, 10:30] = 2
    b[13:17, 15:25] = 1
    b[0:4, 0:4] = 0
    return {"ring": a, "nested": b, "blank": np.zeros((H, W), np.uint8)}


def _dataset(tmp_path: Path) -> tuple[LabelledDataset, dict[str, np.ndarray]]:
    masks = _masks()
    rng = np.random.default_rng(0)
    samples = []
    for n, (name, mask) in enumerate(masks.items()):
        path = tmp_path / "src" / f"{name}.png"
        write_image(path, rng.integers(0, 255, (H, W, 3)).astype(np.uint8))
        samples.append(LabelledSample(name, path, lambda m=mask: m.copy(), split="val" if n else "train"))
    return LabelledDataset(TABLE, samples), masks


def _write_coco_json(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


# --------------------------------------------------------------------------------------------
# The writer, checked by pycocotools
# --------------------------------------------------------------------------------------------


def test_written_coco_loads_in_pycocotools_and_gives_the_masks_back(tmp_path):
    dataset, masks = _dataset(tmp_path)
    out = write_dataset(dataset, tmp_path / "coco", "coco")
    assert sorted(p.name for p in out.iterdir()) == ["annotations.json", "classes.txt", "images"]

    coco = COCO(str(out / "annotations.json"))
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {1: "road", 2: "car", 3: "tree"}
    by_name = {img["file_name"]: img for img in coco.loadImgs(coco.getImgIds())}
    assert sorted(by_name) == ["blank.png", "nested.png", "ring.png"]
    for file_name, img in by_name.items():
        expected = masks[Path(file_name).stem]
        assert (img["height"], img["width"]) == (H, W)
        assert (out / "images" / file_name).is_file()
        got = np.zeros((H, W), np.uint8)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
        assert len(anns) == len(set(np.unique(expected).tolist()) - {0})  # one annotation per class present
        for ann in anns:
            region = coco.annToMask(ann).astype(bool)
            assert not got[region].any()  # classes do not overlap
            got[region] = ann["category_id"]
            assert ann["iscrowd"] == 0 and isinstance(ann["segmentation"]["counts"], str)
            assert ann["area"] == int(region.sum())
            ys, xs = np.nonzero(region)
            assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        np.testing.assert_array_equal(got, expected)


def test_coco_round_trip_through_our_reader_keeps_masks_and_class_table(tmp_path):
    dataset, masks = _dataset(tmp_path)
    out = write_dataset(dataset, tmp_path / "coco", "coco")
    back = open_dataset("coco", out)
    assert back.class_table == TABLE  # classes.txt keeps class 0's name and the colours
    assert sorted(s.name for s in back) == sorted(masks)
    for sample in back:
        image, mask = sample.load(back.class_table)
        np.testing.assert_array_equal(mask, masks[sample.name])
        np.testing.assert_array_equal(image, read_image(tmp_path / "src" / f"{sample.name}.png"))


def test_ignore_pixels_become_background_with_a_warning(tmp_path, caplog):
    mask = _masks()["ring"]
    mask[0, :5] = IGNORE_INDEX
    sample = LabelledSample("x", None, lambda: mask.copy(), image_loader=lambda: np.zeros((H, W), np.uint8))
    with caplog.at_level(logging.WARNING, logger="segcore.data.writers"):
        out = write_dataset(LabelledDataset(TABLE, [sample]), tmp_path / "coco", "coco")
    assert "ignore pixels" in caplog.text
    expected = np.where(mask == IGNORE_INDEX, 0, mask)
    np.testing.assert_array_equal(open_dataset("coco", out)[0].load_mask(), expected)


# --------------------------------------------------------------------------------------------
# The reader, on files written by hand as other tools write them
# --------------------------------------------------------------------------------------------


def _foreign_coco(root: Path) -> Path:
    """CVAT's layout: annotations/instances_default.json, images/; ids 7 and 3, no background category."""
    write_image(root / "images" / "a.jpg", np.full((H, W, 3), 90, np.uint8))
    write_image(root / "images" / "sub" / "b.png", np.full((H, W), 30, np.uint8))
    write_image(root / "images" / "empty.png", np.full((H, W), 30, np.uint8))
    crowd = np.zeros((H, W), bool)
    crowd[20:30, 0:10] = True
    uncompressed = {"size": [H, W], "counts": _uncompressed(crowd)}
    compressed = np.zeros((H, W), bool)
    compressed[0:8, 30:40] = True
    doc = {
        "images": [
            {"id": 10, "file_name": "a.jpg", "height": H, "width": W},
            {"id": 11, "file_name": "sub/b.png", "height": H, "width": W},
            {"id": 12, "file_name": "empty.png", "height": H, "width": W},
        ],
        "categories": [{"id": 7, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            # a square polygon of 'cat', then an overlapping 'dog' polygon painted over it (later wins)
            {"id": 1, "image_id": 10, "category_id": 7, "iscrowd": 0,
             "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]], "bbox": [2, 2, 10, 10], "area": 100},
            {"id": 2, "image_id": 10, "category_id": 3, "iscrowd": 0,
             "segmentation": [[8, 8, 18, 8, 18, 18, 8, 18]], "bbox": [8, 8, 10, 10], "area": 100},
            {"id": 3, "image_id": 10, "category_id": 3, "iscrowd": 1, "segmentation": uncompressed,
             "bbox": [0, 20, 10, 10], "area": 100},
            {"id": 4, "image_id": 11, "category_id": 7, "iscrowd": 0,
             "segmentation": {"size": [H, W], "counts": _compressed(compressed)},
             "bbox": [30, 0, 10, 8], "area": 80},
            {"id": 5, "image_id": 11, "category_id": 3, "iscrowd": 0, "segmentation": [], "bbox": [1, 1, 3, 3]},
        ],
    }
    return _write_coco_json(root / "annotations" / "instances_default.json", doc)


def _compressed(binary: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(binary.astype(np.uint8)))["counts"].decode()


def _uncompressed(binary: np.ndarray) -> list[int]:
    flat = binary.ravel(order="F")
    bounds = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]))
    counts = np.diff(bounds).tolist()
    return [0, *counts] if flat[0] else counts


def test_reader_rasterises_polygons_and_both_rles_as_pycocotools_does(tmp_path, caplog):
    json_path = _foreign_coco(tmp_path / "cvat")
    assert detect_format(tmp_path / "cvat").format == "coco"
    with caplog.at_level(logging.WARNING, logger="segcore.data.readers.coco"):
        dataset = open_dataset("coco", tmp_path / "cvat")
    assert "1 annotation(s) that have a box but no segmentation" in caplog.text
    # Ids 3 and 7 become classes 1 and 2 (id order), background added as class 0.
    assert dataset.class_table.names == ["_background_", "dog", "cat"]
    assert [s.name for s in dataset] == ["a", "b", "empty"]  # "sub/b.png" is b: its stem is its own

    coco = COCO(str(json_path))
    cls = {3: 1, 7: 2}
    for sample, image_id in zip(dataset, (10, 11, 12)):
        expected = np.zeros((H, W), np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):  # file order: later on top
            if ann["segmentation"]:
                expected[coco.annToMask(ann).astype(bool)] = cls[ann["category_id"]]
        image, mask = sample.load(dataset.class_table)
        np.testing.assert_array_equal(mask, expected, err_msg=sample.name)
    ring = dataset[0].load_mask()
    assert ring[10, 10] == 1 and ring[4, 4] == 2  # the overlap went to the later 'dog' polygon
    assert (ring[20:30, 0:10] == 1).all()  # the crowd RLE
    assert (dataset[1].load_mask()[0:8, 30:40] == 2).all()  # the compressed RLE
    assert not dataset[2].load_mask().any()  # no annotations: all background


def test_reader_maps_categories_by_name_into_a_given_table(tmp_path):
    _foreign_coco(tmp_path / "cvat")
    table = ClassTable.from_names(["bg", "cat", "dog", "bird"])
    dataset = open_dataset("coco", tmp_path / "cvat", class_table=table)
    assert dataset[0].load_mask()[10, 10] == 2 and dataset[0].load_mask()[4, 4] == 1
    with pytest.raises(DatasetError, match="'cat' .*not in the class table"):
        open_dataset("coco", tmp_path / "cvat", class_table=ClassTable.from_names(["bg", "dog"]))


def test_reader_takes_a_json_file_and_an_image_root(tmp_path):
    write_image(tmp_path / "pictures" / "a.png", np.zeros((H, W), np.uint8))
    doc = {"images": [{"id": 1, "file_name": "a.png", "height": H, "width": W}],
           "categories": [{"id": 1, "name": "background"}, {"id": 2, "name": "cell"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "segmentation": [[0, 0, 9, 0, 9, 9, 0, 9]]}]}
    json_path = _write_coco_json(tmp_path / "labels" / "train.json", doc)
    missing = open_dataset("coco", json_path)
    with pytest.raises(DatasetError, match="'a.png' not found"):
        missing[0].load_mask()
    dataset = open_dataset("coco", json_path, image_root=tmp_path / "pictures")
    assert dataset.class_table.names == ["background", "cell"]  # the file's background category is class 0
    assert dataset[0].split == "train"
    assert dataset[0].load(dataset.class_table)[1][5, 5] == 1


def test_sample_names_are_stems_and_folders_join_in_only_where_stems_repeat(tmp_path):
    # issue 27, item 17: VOC-style file names imported as "JPEGImages_2011_000003"
    names = ["JPEGImages/2011_000003.jpg", "x/a.png", "y/a.png", "z/a.jpg", "b.png"]
    for name in names:
        write_image(tmp_path / "images" / name, np.full((H, W), 9, np.uint8))
    doc = {"images": [{"id": i, "file_name": name, "height": H, "width": W} for i, name in enumerate(names)],
           "categories": [{"id": 1, "name": "cell"}], "annotations": []}
    json_path = _write_coco_json(tmp_path / "annotations" / "instances.json", doc)
    assert [s.name for s in open_dataset("coco", json_path)] == ["2011_000003", "x_a", "y_a", "z_a", "b"]


@pytest.mark.parametrize(
    ("segmentation", "message"),
    [
        ({"size": [H, W], "counts": [5, 3]}, "do not cover"),  # pycocotools would return uninitialised memory
        ({"size": [H, W], "counts": _compressed(np.ones((4, 4), bool))}, "do not cover"),
        ({"size": [4, 4], "counts": [16]}, "RLE size"),
        ({"size": [H, W], "counts": "0é"}, "character"),
        ([[1, 2, float("nan"), 4, 5, 6]], "finite"),
        ("text", "must be a list"),
    ],
)
def test_malformed_segmentations_are_refused_before_pycocotools(segmentation, message):
    with pytest.raises(DatasetError, match=message):
        decode_segmentation(segmentation, H, W)


def test_compressed_counts_match_pycocotools():
    rng = np.random.default_rng(3)
    for _ in range(50):
        binary = rng.random((H, W)) < rng.random()
        assert compressed_counts(_compressed(binary)) == _uncompressed(binary)


# --------------------------------------------------------------------------------------------
# The command line: convert, project import / export
# --------------------------------------------------------------------------------------------


def test_convert_coco_to_voc_and_voc_to_coco(tmp_path, capsys):
    _foreign_coco(tmp_path / "cvat")
    expected = {s.name: s.load_mask() for s in open_dataset("coco", tmp_path / "cvat")}
    assert main(["convert", str(tmp_path / "cvat"), str(tmp_path / "voc"), "--from", "coco", "--to", "voc"]) == 0
    voc = open_dataset("voc", tmp_path / "voc")
    assert voc.class_table.names == ["_background_", "dog", "cat"]
    assert {s.name: s.load_mask().tolist() for s in voc} == {k: v.tolist() for k, v in expected.items()}

    assert main(["convert", str(tmp_path / "voc"), str(tmp_path / "back"), "--from", "voc", "--to", "coco"]) == 0
    assert "to coco" in capsys.readouterr().out
    coco = COCO(str(tmp_path / "back" / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["dog", "cat"]
    back = open_dataset("coco", tmp_path / "back")
    assert {s.name: s.load_mask().tolist() for s in back} == {k: v.tolist() for k, v in expected.items()}


def test_project_import_and_export_coco(tmp_path, capsys):
    dataset, masks = _dataset(tmp_path)
    src = write_dataset(dataset, tmp_path / "coco", "coco")
    project = tmp_path / "project"
    assert main(["project", "import", str(project), str(src), "--from", "coco"]) == 0
    assert "imported 3 of 3 images" in capsys.readouterr().out
    assert main(["project", "export", str(project), str(tmp_path / "out"), "--to", "coco"]) == 0
    COCO(str(tmp_path / "out" / "annotations.json"))
    back = open_dataset("coco", tmp_path / "out")
    assert back.class_table.names == TABLE.names
    assert {s.name: s.load_mask().tolist() for s in back} == {k: v.tolist() for k, v in masks.items()}


# --------------------------------------------------------------------------------------------
# `predict --export rle`: each file is now a COCO file pycocotools loads
# --------------------------------------------------------------------------------------------


def test_rle_export_is_a_coco_file(tmp_path):
    mask = _masks()["ring"]
    mask[0, 0] = IGNORE_INDEX
    write_image(tmp_path / "shot.png", np.zeros((H, W), np.uint8))
    [path] = export_prediction(tmp_path / "out", "shot", labels=mask, table=TABLE,
                               image_path=tmp_path / "shot.png", formats=["rle"])
    coco = COCO(str(path))
    [img] = coco.loadImgs(coco.getImgIds())
    assert img == {"id": 1, "file_name": "shot.png", "height": H, "width": W}
    got = np.full((H, W), IGNORE_INDEX, np.uint8)
    for ann in coco.loadAnns(coco.getAnnIds()):
        region = coco.annToMask(ann).astype(bool)
        got[region] = ann["category_id"]
        ys, xs = np.nonzero(region)
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    np.testing.assert_array_equal(got, mask)
    np.testing.assert_array_equal(rle_doc_to_mask(json.loads(path.read_text())), mask)
