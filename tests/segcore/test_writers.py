"""write_dataset: VOC, folder and colour-mask output that reads back to the same masks and table.

COCO and labelme output (which cannot keep ignore pixels, resp. colours and one-pixel regions) have
their own round trips in test_coco.py and test_labelme_writer.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.readers import open_dataset
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.writers import WRITER_FORMATS, write_dataset
from segcore.errors import DatasetError, MaskError
from segcore.io.images import read_image, write_image

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
LABELME_SEG = DATASETS / "labelme-examples" / "semantic_segmentation"
needs_shared = pytest.mark.skipif(not DATASETS.is_dir(), reason=f"shared datasets not found at {DATASETS}")

# Custom colours, so a round trip that dropped them would show.
TABLE = ClassTable.from_names(["background", "road", "car", "tree"], [(0, 0, 0), (128, 64, 128), (0, 0, 200), (0, 160, 0)])
SIZE = (12, 16)


def _mask(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, TABLE.num_classes, SIZE).astype(np.uint8)
    mask[0, :3] = IGNORE_INDEX
    return mask


def _image(seed: int, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(100 + seed)
    top = 255 if dtype == np.uint8 else 65535
    return rng.integers(0, top, (*SIZE, 3)).astype(dtype)


def _constant(value: np.ndarray):
    return lambda: value.copy()


def _source(tmp_path: Path) -> tuple[LabelledDataset, dict[str, np.ndarray]]:
    """Four samples: a JPEG file, a PNG file, a 16-bit TIFF file and an in-memory image."""
    src = tmp_path / "src"
    src.mkdir()
    write_image(src / "photo.jpg", _image(0))
    write_image(src / "scan.png", _image(1))
    write_image(src / "deep.tif", _image(2, np.uint16))
    masks = {name: _mask(i) for i, name in enumerate(["photo", "scan", "deep", "memory"])}
    samples = [
        LabelledSample("photo", src / "photo.jpg", _constant(masks["photo"]), split="train"),
        LabelledSample("scan", src / "scan.png", _constant(masks["scan"]), split="val"),
        LabelledSample("deep", src / "deep.tif", _constant(masks["deep"]), split=None),
        LabelledSample("memory", None, _constant(masks["memory"]), split="val", image_loader=_constant(_image(3))),
    ]
    return LabelledDataset(TABLE, samples), masks


def _images_equal(a: LabelledSample, b: LabelledSample) -> bool:
    return np.array_equal(a.load_image(), b.load_image())


@pytest.mark.parametrize("fmt", ["voc", "folder", "colormask"])
def test_round_trip(tmp_path, fmt):
    dataset, masks = _source(tmp_path)
    out = write_dataset(dataset, tmp_path / "out", fmt)
    assert out == tmp_path / "out"
    back = open_dataset(fmt, out)
    assert back.class_table == TABLE
    assert sorted(s.name for s in back) == sorted(masks)
    by_name = {s.name: s for s in dataset}
    for sample in back:
        image, mask = sample.load(back.class_table)
        assert np.array_equal(mask, masks[sample.name]), sample.name
        assert _images_equal(sample, by_name[sample.name]), sample.name  # JPEG copied, others lossless


@pytest.mark.parametrize("fmt", WRITER_FORMATS)
def test_original_image_bytes_are_kept(tmp_path, fmt):
    dataset, _ = _source(tmp_path)
    out = write_dataset(dataset, tmp_path / "out", fmt)
    images = {"voc": out / "JPEGImages", "labelme": out}.get(fmt, out / "images")
    assert (images / "photo.jpg").read_bytes() == (tmp_path / "src" / "photo.jpg").read_bytes()
    assert (images / "scan.png").read_bytes() == (tmp_path / "src" / "scan.png").read_bytes()
    assert (images / "memory.png").is_file()
    deep = "deep.png" if fmt == "voc" else "deep.tif"  # VOC holds JPEG/PNG; folders keep any format
    assert read_image(images / deep).dtype == np.uint16


def test_voc_layout_and_splits(tmp_path):
    dataset, _ = _source(tmp_path)
    out = write_dataset(dataset, tmp_path / "voc", "voc")
    sets = out / "ImageSets" / "Segmentation"
    assert (sets / "train.txt").read_text().split() == ["photo", "deep"]  # no split -> train
    assert (sets / "val.txt").read_text().split() == ["scan", "memory"]
    assert (sets / "trainval.txt").read_text().split() == ["photo", "deep", "scan", "memory"]
    assert not (sets / "test.txt").exists()
    back = open_dataset("voc", out)
    assert {s.name: s.split for s in back} == {"photo": "train", "deep": "train", "scan": "val", "memory": "val"}
    # Palette PNG: the stored value is the class index, the palette carries the class colours.
    from PIL import Image

    with Image.open(out / "SegmentationClass" / "scan.png") as im:
        assert im.mode == "P" and im.getpalette()[3:6] == [128, 64, 128]


@needs_shared
def test_voc_class_names_stay_labelme_style(tmp_path):
    dataset = open_dataset("labelme", LABELME_SEG / "data_annotated", labels=LABELME_SEG / "labels.txt")
    out = write_dataset(dataset, tmp_path / "voc", "voc")
    assert (out / "class_names.txt").read_text().splitlines() == dataset.class_table.names
    assert open_dataset("voc", out).class_table == dataset.class_table


def test_colormask_writes_class_colours(tmp_path):
    dataset, masks = _source(tmp_path)
    out = write_dataset(dataset, tmp_path / "cm", "colormask")
    rgb = read_image(out / "masks" / "scan.png")
    assert rgb.shape == (*SIZE, 3)
    assert np.array_equal(rgb, TABLE.color_lut()[masks["scan"]])
    assert (out / "classes.txt").read_text().splitlines()[1] == "background 0 0 0"


def test_folder_masks_are_gray_indices(tmp_path):
    dataset, masks = _source(tmp_path)
    out = write_dataset(dataset, tmp_path / "f", "folder")
    assert np.array_equal(read_image(out / "masks" / "deep.png"), masks["deep"])


def test_progress_is_reported(tmp_path):
    dataset, _ = _source(tmp_path)
    calls = []
    write_dataset(dataset, tmp_path / "out", "folder", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_unknown_format_lists_the_valid_ones(tmp_path):
    dataset, _ = _source(tmp_path)
    with pytest.raises(DatasetError, match="'yolo'.*voc, folder, colormask, coco, labelme"):
        write_dataset(dataset, tmp_path / "out", "yolo")
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_output_folder(tmp_path):
    dataset, _ = _source(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        write_dataset(dataset, tmp_path / "out", "voc")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    assert (write_dataset(dataset, tmp_path / "empty", "voc") / "class_names.txt").is_file()


def test_a_failure_leaves_no_output(tmp_path):
    dataset, _ = _source(tmp_path)
    dataset.samples.append(LabelledSample("bad", None, _constant(np.zeros((3, 3), np.uint8)), image_loader=_constant(_image(9))))
    with pytest.raises(MaskError, match="bad"):
        write_dataset(dataset, tmp_path / "out", "folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no out/, no staging folder left


def test_masks_are_checked_against_the_table(tmp_path):
    dataset, _ = _source(tmp_path)
    dataset.samples[0] = LabelledSample("photo", tmp_path / "src" / "photo.jpg", _constant(np.full(SIZE, 9, np.uint8)))
    with pytest.raises(MaskError, match=r"\[9\]"):
        write_dataset(dataset, tmp_path / "out", "voc")


def test_names_must_be_unique_file_names(tmp_path):
    dataset, _ = _source(tmp_path)
    dataset.samples.append(dataset.samples[0])
    with pytest.raises(DatasetError, match="two samples are named 'photo'"):
        write_dataset(dataset, tmp_path / "out", "folder")
    dataset.samples[-1] = LabelledSample("../escape", None, _constant(_mask(0)), image_loader=_constant(_image(0)))
    with pytest.raises(DatasetError, match="cannot be a file name"):
        write_dataset(dataset, tmp_path / "out", "folder")


def test_colormask_needs_distinct_colours(tmp_path):
    dataset, _ = _source(tmp_path)
    dataset.class_table = ClassTable.from_names(["a", "b", "c", "d"], [(1, 1, 1), (2, 2, 2), (1, 1, 1), (3, 3, 3)])
    with pytest.raises(DatasetError, match="'a' and 'c' share the colour"):
        write_dataset(dataset, tmp_path / "out", "colormask")


def test_class_names_with_spaces_survive_a_folder_round_trip(tmp_path):
    # labelme's VOC classes include "potted plant"; classes.txt holds "potted plant 192 128 0".
    write_image(tmp_path / "x.png", np.zeros((2, 2, 3), np.uint8))
    table = ClassTable.from_names(["background", "potted plant"], [(0, 0, 0), (192, 128, 0)])
    dataset = LabelledDataset(table, [LabelledSample("x", tmp_path / "x.png", _constant(np.ones((2, 2), np.uint8)))])
    out = write_dataset(dataset, tmp_path / "out", "folder")
    assert open_dataset("folder", out).class_table == table
