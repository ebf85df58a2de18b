"""detect_format on tiny real datasets of every layout, the shared examples, and odd folders."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segcore.data.classes import ClassTable
from segcore.data.masks import write_palette_png
from segcore.data.readers import DetectedFormat, detect_format, open_dataset
from segcore.io.images import write_image

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
CAMVID = DATASETS / "camvid"
LABELME_SEG = DATASETS / "labelme-examples" / "semantic_segmentation"
SIZE = 16


def _gray() -> np.ndarray:
    return np.full((SIZE, SIZE), 90, np.uint8)


def _index_mask() -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[4:10, 3:12] = 1
    return mask


def _voc(root: Path) -> Path:
    write_image(root / "JPEGImages" / "a.png", _gray())
    write_palette_png(root / "SegmentationClass" / "a.png", _index_mask(), ClassTable.from_names(["bg", "cell"]))
    return root


def _voc_boxes(root: Path) -> Path:
    write_image(root / "JPEGImages" / "a.png", _gray())
    (root / "Annotations").mkdir()
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.png</filename><object><name>cell</name>"
        "<bndbox><xmin>2</xmin><ymin>2</ymin><xmax>8</xmax><ymax>8</ymax></bndbox></object></annotation>"
    )
    return root


def _camvid_lists(root: Path) -> Path:
    write_image(root / "train" / "a.png", np.zeros((SIZE, SIZE, 3), np.uint8))
    write_image(root / "trainannot" / "a.png", _index_mask())
    (root / "train.txt").write_text("/SegNet/CamVid/train/a.png /SegNet/CamVid/trainannot/a.png\n")
    return root


def _camvid_folders(root: Path) -> Path:
    _camvid_lists(root)
    (root / "train.txt").unlink()
    return root


def _folder(root: Path) -> Path:
    write_image(root / "images" / "a.png", _gray())
    write_image(root / "masks" / "a.png", _index_mask())
    return root


def _palette_folder(root: Path) -> Path:
    write_image(root / "images" / "a.png", _gray())
    write_palette_png(root / "masks" / "a.png", _index_mask(), ClassTable.from_names(["bg", "cell"]))
    return root


def _colormask(root: Path) -> Path:
    write_image(root / "images" / "a.png", _gray())
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[_index_mask() == 1] = (0, 200, 0)
    write_image(root / "masks" / "a.png", rgb)
    ClassTable.from_names(["bg", "leaf"], [(0, 0, 0), (0, 200, 0)]).write(root / "classes.txt")
    return root


def _labelme(root: Path) -> Path:
    write_image(root / "a.png", _gray())
    shape = {"label": "cell", "points": [[2, 2], [10, 2], [10, 10]], "shape_type": "polygon", "group_id": None, "flags": {}}
    label_file = {"version": "5.4.1", "flags": {}, "shapes": [shape], "imagePath": "a.png", "imageData": None,
                  "imageHeight": SIZE, "imageWidth": SIZE}
    (root / "a.json").write_text(json.dumps(label_file))
    return root


LAYOUTS = {
    "voc": (_voc, "voc", "SegmentationClass/"),
    "voc_boxes": (_voc_boxes, "voc_boxes", "Annotations/*.xml"),
    "camvid lists": (_camvid_lists, "camvid", "train.txt"),
    "camvid folders": (_camvid_folders, "camvid", "trainannot/"),
    "folder gray masks": (_folder, "folder", "class indices"),
    "folder palette masks": (_palette_folder, "folder", "class indices"),
    "colormask": (_colormask, "colormask", "colour mask"),
    "labelme": (_labelme, "labelme", "a.json"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_is_detected_and_its_reader_opens_it(tmp_path, layout):
    build, fmt, said = LAYOUTS[layout]
    root = build(tmp_path / "ds")
    found = detect_format(root)
    assert isinstance(found, DetectedFormat) and found.format == fmt
    assert said in found.reason and "\n" not in found.reason
    assert len(open_dataset(found.format, root)) == 1  # the guess is one its reader accepts
    assert detect_format(str(root)) == found  # a str works as well as a Path


def test_voc_with_masks_and_boxes_is_read_for_its_masks(tmp_path):
    root = _voc(tmp_path / "ds")
    _voc_boxes(root)
    assert detect_format(root).format == "voc"


def test_the_first_readable_mask_decides(tmp_path):
    root = _colormask(tmp_path / "ds")
    (root / "masks" / "0_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert detect_format(root).format == "colormask"


def test_a_list_that_is_not_pairs_is_not_camvid(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "train.txt").write_text("just some notes\n")
    (root / "val.txt").write_text("a.png\n")
    assert detect_format(root) is None


def test_json_that_is_not_labelme_is_not_labelme(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"shapes": "round", "imagePath": "x.png"}))
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    (tmp_path / "broken.json").write_bytes(b"{\xff\xfe not json")
    (tmp_path / "deep.json").write_text("[" * 100_000)
    assert detect_format(tmp_path) is None


@pytest.mark.parametrize(
    "case", ["empty folder", "missing folder", "a file", "unrelated files", "masks without images", "symlink loop"]
)
def test_odd_inputs_give_none(tmp_path, case):
    root = tmp_path / "x"
    if case == "empty folder":
        root.mkdir()
    elif case == "a file":
        root.write_text("not a folder")
    elif case == "unrelated files":
        root.mkdir()
        (root / "notes.txt").write_text("hello")
        write_image(root / "photo.png", _gray())
        (root / "sub").mkdir()
    elif case == "masks without images":
        (root / "masks").mkdir(parents=True)
        (root / "images").mkdir()
        (root / "masks" / "a.png").mkdir()  # a folder with an image's name is no mask
    elif case == "symlink loop":
        root.symlink_to(root)
    assert detect_format(root) is None


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions and a non-root user")
def test_unreadable_folders_give_none(tmp_path):
    root = _folder(tmp_path / "ds")
    (root / "masks").chmod(0)
    try:
        assert detect_format(root) is None
    finally:
        (root / "masks").chmod(0o755)


def test_a_large_folder_is_detected_from_a_few_of_its_files(tmp_path, monkeypatch):
    root = _folder(tmp_path / "ds")
    source = root / "masks" / "a.png"
    for i in range(10_000):
        os.link(source, root / "masks" / f"m{i:05d}.png")
    opened: list[str] = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    found = detect_format(root)
    assert found is not None and found.format == "folder"
    assert len(opened) <= 2  # headers of a couple of masks, not 10,000 files


@pytest.mark.skipif(not CAMVID.is_dir(), reason=f"the CamVid example dataset is not at {CAMVID}")
def test_shared_camvid_is_detected():
    found = detect_format(CAMVID)
    assert found == DetectedFormat("camvid", "train.txt lists image/annotation pairs")


@pytest.mark.skipif(not LABELME_SEG.is_dir(), reason=f"the labelme examples are not at {LABELME_SEG}")
def test_shared_labelme_examples_are_detected(tmp_path):
    assert detect_format(LABELME_SEG / "data_annotated").format == "labelme"
    assert detect_format(LABELME_SEG / "data_dataset_voc").format == "voc"  # labelme2voc's output
    # The JSON alone, its image elsewhere, is still recognised: detection opens no image.
    copy = tmp_path / "json_only"
    copy.mkdir()
    shutil.copy(LABELME_SEG / "data_annotated" / "2011_000003.json", copy)
    assert detect_format(copy).format == "labelme"
