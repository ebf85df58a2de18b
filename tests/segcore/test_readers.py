"""Dataset readers: CamVid, labelme JSON, VOC, VOC boxes, colour masks and plain folder pairs."""

from __future__ import annotations

import base64
import io
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segcore.data.boxes import Box
from segcore.data.classes import (
    CAMVID_VOID_INDEX,
    IGNORE_INDEX,
    ClassTable,
    builtin_table,
    read_labels_file,
)
from segcore.data.masks import read_index_mask, write_palette_png
from segcore.data.readers import list_readers, open_dataset
from segcore.data.shapes import shape_to_bool_mask, shapes_to_mask
from segcore.errors import (
    DatasetError,
    ImageReadError,
    LabelFileError,
    MaskError,
    UnknownColorError,
)
from segcore.io.header import apply_exif_orientation
from segcore.io.images import read_image, write_image

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
CAMVID = DATASETS / "camvid"
LABELME_SEG = DATASETS / "labelme-examples" / "semantic_segmentation"
LABELME_BOX = DATASETS / "labelme-examples" / "bbox_detection"
NPY = LABELME_SEG / "data_dataset_voc" / "SegmentationClassNpy"
EXAMPLES = ("2011_000003", "2011_000006", "2011_000025")

needs_shared = pytest.mark.skipif(not DATASETS.is_dir(), reason=f"shared datasets not found at {DATASETS}")


def as_labelme(mask: np.ndarray) -> np.ndarray:
    """Our uint8 mask in labelme's npy convention (int32, -1 = ignore).

    Cast first: `np.where(mask == 255, -1, mask)` on a uint8 array stays uint8 under NumPy 2,
    so -1 would wrap back to 255 and the comparison would pass or fail for the wrong reason.
    """
    out = mask.astype(np.int32)
    out[mask == IGNORE_INDEX] = -1
    return out


def test_every_reader_is_registered():
    assert list_readers() == ["boxes", "camvid", "coco", "colormask", "folder", "labelme", "project", "voc",
                              "voc_boxes"]


# ------------------------------------------------------------------------------------ CamVid


@needs_shared
def test_camvid_splits_and_names():
    ds = open_dataset("camvid", CAMVID)
    assert ds.format == "camvid"
    assert ds.class_table == builtin_table("camvid")
    assert sum(s.split == "train" for s in ds) == 367
    assert sum(s.split == "val" for s in ds) == 101
    assert len(ds) == 468
    assert len({s.name for s in ds}) == 468
    first = ds[0]
    assert first.name == "0001TP_006690" and first.image_path == CAMVID / "train" / "0001TP_006690.png"


@needs_shared
@pytest.mark.parametrize("name", ["0001TP_006690", "0016E5_07959", "0006R0_f01050"])
def test_camvid_masks_hold_class_indices_with_void_as_ignore(name):
    ds = open_dataset("camvid", CAMVID)
    sample = next(s for s in ds if s.name == name)
    image, mask = sample.load(ds.class_table)
    assert image.shape == (360, 480, 3) and image.dtype == np.uint8
    assert mask.shape == (360, 480) and mask.dtype == np.uint8
    values = set(np.unique(mask).tolist())
    assert values <= set(range(11)) | {IGNORE_INDEX}
    annot = "valannot" if sample.split == "val" else "trainannot"
    raw = read_index_mask(CAMVID / annot / f"{name}.png")
    assert set(np.unique(raw).tolist()) <= set(range(12))
    void = raw == CAMVID_VOID_INDEX
    assert np.array_equal(mask == IGNORE_INDEX, void)
    assert np.array_equal(mask[~void], raw[~void])


@needs_shared
def test_camvid_void_pixels_exist_in_the_data():
    # Guards the mapping test above: the real labels do use 11.
    raw = read_index_mask(CAMVID / "trainannot" / "0001TP_006690.png")
    assert (raw == CAMVID_VOID_INDEX).sum() > 0


@needs_shared
def test_camvid_split_option():
    val = open_dataset("camvid", CAMVID, splits=("val",))
    assert len(val) == 101 and {s.split for s in val} == {"val"}
    with pytest.raises(DatasetError, match="test"):
        open_dataset("camvid", CAMVID, splits="test")


def _tiny_camvid(root: Path, lines: list[str]) -> None:
    for folder in ("train", "trainannot"):
        (root / folder).mkdir(parents=True)
    write_image(root / "train" / "a.png", np.zeros((4, 5, 3), np.uint8))
    write_image(root / "trainannot" / "a.png", np.array([[0, 11, 10, 3, 3]] * 4, np.uint8))
    (root / "train.txt").write_text("\n".join(lines) + "\n")


def test_camvid_pairs_relative_to_the_root(tmp_path):
    _tiny_camvid(tmp_path, ["train/a.png trainannot/a.png"])
    ds = open_dataset("camvid", tmp_path)
    assert [s.name for s in ds] == ["a"]
    assert ds[0].load_mask()[0].tolist() == [0, 255, 10, 3, 3]


def test_unused_reader_options_are_reported(tmp_path, caplog):
    _tiny_camvid(tmp_path, ["train/a.png trainannot/a.png"])
    with caplog.at_level(logging.WARNING, logger="segcore"):
        assert len(open_dataset("camvid", tmp_path, split="val")) == 1  # `splits` was meant
    assert "camvid reader ignores option(s) split" in caplog.text


def test_camvid_missing_file_names_the_line(tmp_path):
    _tiny_camvid(tmp_path, ["/SegNet/CamVid/train/a.png /SegNet/CamVid/trainannot/a.png", "train/b.png trainannot/b.png"])
    with pytest.raises(DatasetError, match=r"train\.txt:2: train/b\.png not found"):
        open_dataset("camvid", tmp_path)


# ------------------------------------------------------------------------------------ labelme


@needs_shared
@pytest.mark.parametrize("name", EXAMPLES)
def test_labelme_equals_labelme2voc_output(name):
    ds = open_dataset("labelme", LABELME_SEG / "data_annotated", labels=LABELME_SEG / "labels.txt")
    sample = next(s for s in ds if s.name == name)
    image, mask = sample.load(ds.class_table)
    expected = np.load(NPY / f"{name}.npy")
    assert mask.shape == expected.shape == image.shape[:2]
    assert np.array_equal(as_labelme(mask), expected)


@needs_shared
def test_labelme_class_table_from_labels_file():
    ds = open_dataset("labelme", LABELME_SEG / "data_annotated", labels=LABELME_SEG / "labels.txt")
    lines = (LABELME_SEG / "labels.txt").read_text().split("\n")
    assert ds.class_table.names == [line for line in lines if line and line != "__ignore__"]
    assert ds.class_table.index_of("_background_") == 0 and ds.class_table.index_of("person") == 15
    assert [s.name for s in ds] == list(EXAMPLES)
    assert all(s.image_path is not None and s.image_loader is None for s in ds)


@needs_shared
def test_labelme_class_order_without_labels_file():
    ds = open_dataset("labelme", LABELME_SEG / "data_annotated")
    assert ds.class_table.names == ["_background_", "person", "bottle", "chair", "sofa", "bus", "car"]
    mask = ds[0].load_mask()
    expected = np.load(NPY / "2011_000003.npy")
    # Same shapes, renumbered classes: person 15 -> 1, bottle 5 -> 2; ignore stays ignore.
    renumber = {-1: IGNORE_INDEX, 0: 0, 15: 1, 5: 2}
    assert np.array_equal(mask, np.vectorize(renumber.get)(expected).astype(np.uint8))


@needs_shared
def test_shapes_to_mask_is_the_readers_rasteriser():
    data = json.loads((LABELME_SEG / "data_annotated" / "2011_000006.json").read_text())
    table = read_labels_file(LABELME_SEG / "labels.txt")
    mask = shapes_to_mask(data["shapes"], (data["imageHeight"], data["imageWidth"]), table)
    assert mask.dtype == np.uint8
    assert np.array_equal(as_labelme(mask), np.load(NPY / "2011_000006.npy"))


def _copy_labelme(tmp_path: Path, names=EXAMPLES) -> Path:
    root = tmp_path / "ann"
    root.mkdir()
    for name in names:
        for suffix in (".json", ".jpg"):
            shutil.copy(LABELME_SEG / "data_annotated" / f"{name}{suffix}", root)
    return root


@needs_shared
def test_labelme_embedded_image_data(tmp_path):
    root = tmp_path / "ann"
    root.mkdir()
    data = json.loads((LABELME_SEG / "data_annotated" / "2011_000025.json").read_text())
    data["imageData"] = base64.b64encode((LABELME_SEG / "data_annotated" / "2011_000025.jpg").read_bytes()).decode()
    data["imagePath"] = "elsewhere/missing.jpg"
    (root / "2011_000025.json").write_text(json.dumps(data))
    ds = open_dataset("labelme", root, labels=LABELME_SEG / "labels.txt")
    sample = ds[0]
    assert sample.image_path is None and sample.image_loader is not None
    image, mask = sample.load(ds.class_table)
    assert np.array_equal(image, read_image(LABELME_SEG / "data_annotated" / "2011_000025.jpg"))
    assert np.array_equal(as_labelme(mask), np.load(NPY / "2011_000025.npy"))


@needs_shared
def test_labelme_unknown_label_names_file_and_label(tmp_path):
    root = _copy_labelme(tmp_path, ["2011_000025"])
    path = root / "2011_000025.json"
    data = json.loads(path.read_text())
    data["shapes"][1]["label"] = "zeppelin"
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"2011_000025\.json.*'zeppelin'"):
        open_dataset("labelme", root, labels=LABELME_SEG / "labels.txt")


@needs_shared
def test_labelme_malformed_json_is_skipped_and_reported(tmp_path):
    # One bad file no longer stops the reader: its sample raises when loaded, as an unreadable image does.
    root = _copy_labelme(tmp_path, ["2011_000025"])
    (root / "broken.json").write_text('{"shapes": [')
    ds = open_dataset("labelme", root)
    assert [s.name for s in ds] == ["2011_000025", "broken"]
    ds[0].load(ds.class_table)
    with pytest.raises(DatasetError, match=r"broken\.json: not valid JSON"):
        ds[1].load()


def test_labelme_bad_shape_and_missing_image_are_reported_on_load(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "a.json").write_text(json.dumps({"imagePath": "a.png", "imageData": None,
                                                 "shapes": [{"label": "x", "points": [[1, 1], [2, 2]], "shape_type": "polygon"}]}))
    with pytest.raises(DatasetError, match=r"a\.json.*at least 3 points"):
        open_dataset("labelme", tmp_path)[0].load()
    (tmp_path / "a.json").write_text(json.dumps({"imagePath": "gone.png", "imageData": None, "shapes": []}))
    with pytest.raises(DatasetError, match=r"gone\.png"):
        open_dataset("labelme", tmp_path)[0].load()


def _shape(shape_type, points, label="a", **extra):
    return {"label": label, "points": points, "shape_type": shape_type, **extra}


def test_labelme_shape_types():
    # Expected regions follow from Pillow's integer geometry (coordinates truncated, edges inclusive).
    rect = shape_to_bool_mask(_shape("rectangle", [[5.9, 3.99], [2.7, 1.2]]), (10, 10))
    expected = np.zeros((10, 10), bool)
    expected[1:4, 2:6] = True
    assert np.array_equal(rect, expected)

    line = shape_to_bool_mask(_shape("line", [[5, 20], [30, 20]]), (40, 40))
    expected = np.zeros((40, 40), bool)
    expected[16:26, 5:31] = True  # width 10 around row 20
    assert np.array_equal(line, expected)

    point = shape_to_bool_mask(_shape("point", [[10, 10]]), (30, 30))
    ys, xs = np.nonzero(point)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (5, 15, 5, 15)  # radius 5
    circle = shape_to_bool_mask(_shape("circle", [[10, 10], [13, 14]]), (30, 30))
    assert np.array_equal(circle, point)  # radius sqrt(3^2 + 4^2) = 5

    strip = shape_to_bool_mask(_shape("linestrip", [[2, 2], [20, 2], [20, 20]]), (30, 30))
    assert strip[2, 10] and strip[10, 20] and not strip[15, 5]

    bitmap = np.array([[1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1]], bool)
    buf = io.BytesIO()
    Image.fromarray(bitmap).save(buf, format="PNG")
    pasted = shape_to_bool_mask(_shape("mask", [[2, 1], [5, 3]], mask=base64.b64encode(buf.getvalue()).decode()), (6, 8))
    expected = np.zeros((6, 8), bool)
    expected[1:4, 2:6] = bitmap
    assert np.array_equal(pasted, expected)


def test_labelme_later_shapes_win_and_ignore_paints_255():
    table = ClassTable.from_names(["_background_", "a", "b"])
    square = [[1, 1], [8, 1], [8, 8], [1, 8]]
    inner = [[3, 3], [6, 3], [6, 6], [3, 6]]
    mask = shapes_to_mask([_shape("polygon", square, "a"), _shape("polygon", inner, "__ignore__")], (10, 10), table)
    assert mask[2, 2] == 1 and mask[4, 4] == IGNORE_INDEX and mask[0, 0] == 0
    mask = shapes_to_mask([_shape("polygon", inner, "__ignore__"), _shape("polygon", square, "b")], (10, 10), table)
    assert mask[4, 4] == 2
    with pytest.raises(DatasetError, match="unknown class 'c'"):
        shapes_to_mask([_shape("polygon", square, "c")], (10, 10), table)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    from PIL import ImageOps

    array = np.random.default_rng(orientation).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    im = Image.fromarray(array)
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format="PNG", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))))
    assert np.array_equal(apply_exif_orientation(array, orientation), expected)


def test_labelme_rotated_jpeg_is_read_upright(tmp_path):
    # A phone photo stored 40 wide x 20 high with "rotate 90 clockwise" (6): labelme shows and
    # annotates it 20 wide x 40 high, so mask and image must both come out that way.
    im = Image.fromarray(np.full((20, 40, 3), 128, np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "p.jpg", exif=exif)
    (tmp_path / "p.json").write_text(json.dumps({"imagePath": "p.jpg", "imageData": None,
                                                 "shapes": [_shape("rectangle", [[0, 0], [4, 30]])]}))
    ds = open_dataset("labelme", tmp_path)
    image, mask = ds[0].load(ds.class_table)
    assert image.shape[:2] == mask.shape == (40, 20)
    assert mask[30, 4] == 1 and mask[31, 4] == 0


# ------------------------------------------------------------------------------------ VOC


@needs_shared
def test_voc_reader_on_labelme_output_equals_npy():
    ds = open_dataset("voc", LABELME_SEG / "data_dataset_voc")
    assert [s.name for s in ds] == list(EXAMPLES)
    assert all(s.split is None for s in ds)
    assert ds.class_table.names == read_labels_file(LABELME_SEG / "data_dataset_voc" / "class_names.txt").names
    for sample in ds:
        image, mask = sample.load(ds.class_table)
        assert sample.image_path.suffix == ".jpg"
        assert np.array_equal(as_labelme(mask), np.load(NPY / f"{sample.name}.npy"))


def _tiny_voc(root: Path) -> Path:
    table = builtin_table("voc")
    (root / "JPEGImages").mkdir(parents=True)
    for name, value in (("a", 1), ("b", 15), ("c", 7)):
        mask = np.zeros((6, 9), np.uint8)
        mask[2:4, 3:7] = value
        mask[0, 0] = IGNORE_INDEX
        write_palette_png(root / "SegmentationClass" / f"{name}.png", mask, table)
    write_image(root / "JPEGImages" / "a.jpg", np.zeros((6, 9, 3), np.uint8))
    write_image(root / "JPEGImages" / "b.png", np.zeros((6, 9, 3), np.uint8))  # any suffix, found by stem
    write_image(root / "JPEGImages" / "c.bmp", np.zeros((6, 9, 3), np.uint8))
    return root


def test_voc_without_lists_reads_every_mask_with_the_builtin_table(tmp_path):
    ds = open_dataset("voc", _tiny_voc(tmp_path))
    assert ds.class_table == builtin_table("voc")
    assert [(s.name, s.image_path.name, s.split) for s in ds] == [("a", "a.jpg", None), ("b", "b.png", None), ("c", "c.bmp", None)]
    assert ds[1].load(ds.class_table)[1][2, 3] == 15 and ds[1].load_mask()[0, 0] == IGNORE_INDEX


def test_voc_image_sets_give_samples_and_splits(tmp_path):
    root = _tiny_voc(tmp_path)
    sets = root / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text("c\na\n")
    (sets / "val.txt").write_text("b\n")
    ds = open_dataset("voc", root)
    assert [(s.name, s.split) for s in ds] == [("c", "train"), ("a", "train"), ("b", "val")]
    (sets / "val.txt").write_text("b\nmissing\n")
    with pytest.raises(DatasetError, match="'missing'"):
        open_dataset("voc", root)


def test_voc_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="JPEGImages"):
        open_dataset("voc", tmp_path)


# ------------------------------------------------------------------------------------ VOC boxes


@needs_shared
def test_voc_boxes_on_the_labelme_bbox_example():
    ds = open_dataset("voc_boxes", LABELME_BOX / "data_dataset_voc")
    table = ds.class_table
    assert table.names == read_labels_file(LABELME_BOX / "data_dataset_voc" / "class_names.txt").names
    person, bus, car = (table.index_of(n) for n in ("person", "bus", "car"))
    assert {s.name: [b.label for b in s.boxes] for s in ds} == {
        "2011_000003": [person] * 2,
        "2011_000006": [person] * 4,
        "2011_000025": [bus, bus, car],
    }
    # <xmin>191.0</xmin> ... <xmax>313.0</xmax>, 1-based inclusive -> columns 190..312.
    assert ds[0].boxes[0] == Box(x=190, y=106, w=123, h=223, label=person)
    for sample in ds:
        image, mask = sample.load(table)
        assert mask.shape == image.shape[:2]
        height, width = mask.shape
        covered = np.zeros(mask.shape, bool)
        for box in sample.boxes:
            b = box.clipped(width, height)
            covered[b.y : b.y + b.h, b.x : b.x + b.w] = True
        assert np.array_equal(mask != 0, covered)
        assert set(np.unique(mask[covered]).tolist()) == {b.label for b in sample.boxes}


@needs_shared
def test_voc_boxes_table_from_first_appearance_and_errors(tmp_path):
    root = tmp_path / "boxes"
    shutil.copytree(LABELME_BOX / "data_dataset_voc" / "Annotations", root / "Annotations")
    shutil.copytree(LABELME_BOX / "data_dataset_voc" / "JPEGImages", root / "JPEGImages")
    ds = open_dataset("voc_boxes", root)
    assert ds.class_table.names == ["_background_", "person", "bus", "car"]
    assert {b.label for b in ds[2].boxes} == {2, 3}
    with pytest.raises(DatasetError, match=r"2011_000025\.xml.*'bus'"):
        open_dataset("voc_boxes", root, class_table=ClassTable.from_names(["_background_", "person", "car"]))
    (root / "Annotations" / "2011_000006.xml").write_text("<annotation><object><name>person</name>")
    with pytest.raises(LabelFileError, match=r"2011_000006\.xml"):
        open_dataset("voc_boxes", root)


# ------------------------------------------------------------------------------------ colour masks

LANDCOVER = builtin_table("landcover")


def _colormask_dataset(root: Path, stray: bool = False) -> np.ndarray:
    """One 6x8 landcover image/mask pair; returns the index mask the colours encode."""
    index = np.zeros((6, 8), np.uint8)
    index[:, 2:4] = 3
    index[:, 4:] = 4
    index[5, :] = 6
    rgb = LANDCOVER.color_lut()[index]
    if stray:
        rgb[0, 0:3] = (1, 2, 3)
        rgb[1, 0] = (9, 9, 9)
    (root / "images").mkdir(parents=True)
    write_image(root / "images" / "tile.png", np.zeros((6, 8, 3), np.uint8))
    write_image(root / "masks" / "tile.png", rgb)
    return index


def test_colormask_maps_colours_to_classes(tmp_path):
    index = _colormask_dataset(tmp_path)
    ds = open_dataset("colormask", tmp_path, class_table=LANDCOVER)
    image, mask = ds[0].load(ds.class_table)
    assert np.array_equal(mask, index)


def test_colormask_stray_colours_are_named(tmp_path):
    _colormask_dataset(tmp_path, stray=True)
    ds = open_dataset("colormask", tmp_path, class_table=LANDCOVER)
    with pytest.raises(UnknownColorError) as err:
        ds[0].load_mask()
    assert err.value.colors == [(1, 2, 3), (9, 9, 9)] and err.value.counts == [3, 1]
    assert "(1, 2, 3)" in str(err.value) and "tile.png" in str(err.value)


def test_colormask_stray_colours_become_ignore_on_request(tmp_path):
    index = _colormask_dataset(tmp_path, stray=True)
    ds = open_dataset("colormask", tmp_path, class_table=LANDCOVER, unknown="ignore")
    mask = ds[0].load_mask()
    assert mask[0, 0:3].tolist() == [IGNORE_INDEX] * 3 and mask[1, 0] == IGNORE_INDEX
    index[0, 0:3] = index[1, 0] = IGNORE_INDEX
    assert np.array_equal(mask, index)


def test_colormask_needs_a_class_table(tmp_path):
    index = _colormask_dataset(tmp_path)
    with pytest.raises(DatasetError, match="--labels.*landcover"):
        open_dataset("colormask", tmp_path)
    LANDCOVER.write(tmp_path / "classes.txt")
    ds = open_dataset("colormask", tmp_path)
    assert ds.class_table == LANDCOVER and np.array_equal(ds[0].load_mask(), index)
    with pytest.raises(DatasetError, match="unknown='keep'"):
        open_dataset("colormask", tmp_path, unknown="keep")


# ------------------------------------------------------------------------------------ folder


def _folder_dataset(root: Path, names=("a", "b"), size=(6, 8)) -> None:
    for i, name in enumerate(names):
        write_image(root / "images" / f"{name}.png", np.full((*size, 3), 40 * i, np.uint8))
        mask = np.zeros(size, np.uint8)
        mask[1:3, 1:3] = i + 1
        write_image(root / "masks" / f"{name}.png", mask)


def test_folder_pairs_by_stem_and_warns_once_about_orphans(tmp_path, caplog):
    _folder_dataset(tmp_path)
    write_image(tmp_path / "images" / "lonely.jpg", np.zeros((6, 8, 3), np.uint8))
    write_image(tmp_path / "masks" / "nobody.png", np.zeros((6, 8), np.uint8))
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    with caplog.at_level(logging.WARNING, logger="segcore"):
        ds = open_dataset("folder", tmp_path)
    assert [s.name for s in ds] == ["a", "b"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "1 image(s) without a mask and 1 mask(s) without an image" in warnings[0].getMessage()


def test_folder_class_table_from_masks_or_classes_txt(tmp_path):
    _folder_dataset(tmp_path)
    mask = np.full((6, 8), IGNORE_INDEX, np.uint8)
    mask[0, 0] = 4
    write_palette_png(tmp_path / "masks" / "b.png", mask, ClassTable.from_names([f"c{i}" for i in range(5)]))
    ds = open_dataset("folder", tmp_path)
    assert ds.class_table.names == ["class_0", "class_1", "class_2", "class_3", "class_4"]
    assert ds[1].load_mask()[0, 0] == 4  # palette PNG: the index, not the colour
    table = ClassTable.from_names(["bg", "x", "y", "z", "w", "v"])
    table.write(tmp_path / "classes.txt")
    assert open_dataset("folder", tmp_path).class_table == table


def test_folder_custom_subfolders(tmp_path):
    _folder_dataset(tmp_path)
    (tmp_path / "images").rename(tmp_path / "img")
    (tmp_path / "masks").rename(tmp_path / "lbl")
    with pytest.raises(DatasetError, match="images/"):
        open_dataset("folder", tmp_path)
    assert len(open_dataset("folder", tmp_path, images_dir="img", masks_dir="lbl")) == 2


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n truncated"])
def test_folder_corrupt_mask_names_the_file(tmp_path, content):
    _folder_dataset(tmp_path)
    (tmp_path / "masks" / "b.png").write_bytes(content)
    # Without classes.txt the reader scans the masks for the class count, so it fails at once.
    with pytest.raises(ImageReadError, match=r"masks/b\.png"):
        open_dataset("folder", tmp_path)
    ClassTable.from_names(["bg", "x", "y"]).write(tmp_path / "classes.txt")
    ds = open_dataset("folder", tmp_path)
    ds[0].load_mask()
    with pytest.raises(ImageReadError, match=r"masks/b\.png"):
        ds[1].load_mask()


def test_folder_mask_of_the_wrong_size_fails_on_load(tmp_path):
    _folder_dataset(tmp_path)
    write_image(tmp_path / "masks" / "b.png", np.zeros((5, 8), np.uint8))
    ds = open_dataset("folder", tmp_path)
    ds[0].load()
    with pytest.raises(MaskError, match=r"mask size 8x5 differs from image size 8x6.*b\.png"):
        ds[1].load()


def test_empty_dataset_is_an_error(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(DatasetError, match="no labelled images"):
        open_dataset("folder", tmp_path, class_table=LANDCOVER)
