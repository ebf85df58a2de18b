"""Prediction exports: palette / colour / overlay / binary PNGs, labelme JSON, COCO RLE, the writer."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from segcore.data.classes import IGNORE_INDEX, ClassTable, voc_colormap
from segcore.data.readers import open_dataset
from segcore.data.shapes import shapes_to_mask
from segcore.display import auto_window, to_display_rgb
from segcore.errors import MaskError
from segcore.export import (
    EXPORT_FORMATS,
    decode_rle,
    encode_rle,
    export_prediction,
    mask_to_labelme,
    mask_to_rle_doc,
    overlay_rgb,
    rle_doc_to_mask,
    write_binary_masks,
    write_color_mask,
    write_labelme_json,
)
from segcore.export.masks import class_file_names, write_palette_png
from segcore.io.images import read_image, write_image

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
LABELME_SEG = DATASETS / "labelme-examples" / "semantic_segmentation" / "data_annotated"

VOC_TABLE = ClassTable.from_names(["_background_", "cell", "nucleus", "fibre"])
CUSTOM = ClassTable.from_names(["background", "road", "car/van"], [(0, 0, 0), (128, 64, 128), (0, 0, 200)])


def _scene(h: int = 96, w: int = 128, thin: int = 1) -> np.ndarray:
    """Ellipses, a blob with a hole and an island in it, two touching classes, thin fibres."""
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (40, 42), (30, 22), 15, 0, 360, 1, -1)  # cell ...
    cv2.ellipse(m, (38, 40), (11, 7), -20, 0, 360, 0, -1)  # ... with a background hole ...
    cv2.circle(m, (38, 40), 3, 2, -1)  # ... holding a nucleus island
    cv2.ellipse(m, (93, 50), (22, 28), 0, 0, 360, 2, -1)  # a nucleus touching the cell
    cv2.line(m, (4, 88), (124, 74), 3, 3)  # a 3-pixel slanted fibre
    cv2.line(m, (4, 6), (124, 12), 3, thin)  # a `thin`-pixel fibre
    return m


def _iou(a: np.ndarray, b: np.ndarray, c: int) -> float:
    x, y = a == c, b == c
    return float((x & y).sum() / max((x | y).sum(), 1))


# ---------------------------------------------------------------------------------------------
# palette / colour / overlay / binary
# ---------------------------------------------------------------------------------------------


def test_palette_png_reads_back_as_indices_with_voc_palette(tmp_path: Path) -> None:
    mask = _scene()
    mask[0, :5] = IGNORE_INDEX
    path = tmp_path / "p.png"
    write_palette_png(path, mask, VOC_TABLE)
    with Image.open(path) as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), mask)
        palette = np.array(im.getpalette(), dtype=np.uint8).reshape(-1, 3)
    np.testing.assert_array_equal(palette[:4], voc_colormap(4))
    np.testing.assert_array_equal(palette[IGNORE_INDEX], voc_colormap()[IGNORE_INDEX])


def test_color_mask_uses_the_table_colours(tmp_path: Path) -> None:
    mask = np.array([[0, 1, 2], [2, 1, IGNORE_INDEX]], np.uint8)
    write_color_mask(tmp_path / "c.png", mask, CUSTOM)
    rgb = read_image(tmp_path / "c.png")
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    for (y, x), value in np.ndenumerate(mask):
        expected = CUSTOM.ignore_color if value == IGNORE_INDEX else CUSTOM.colors[value]
        assert tuple(rgb[y, x]) == tuple(expected)


def test_overlay_keeps_background_and_blends_classes() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:20] = 1
    mask[12:18, 2:8] = 2
    mask[0, 0] = IGNORE_INDEX
    out = overlay_rgb(image, mask, CUSTOM, alpha=0.25)
    keep = np.isin(mask, (0, IGNORE_INDEX))
    np.testing.assert_array_equal(out[keep], image[keep])
    for c in (1, 2):
        sel = mask == c
        expected = np.rint(0.75 * image[sel] + 0.25 * np.array(CUSTOM.colors[c])).astype(np.uint8)
        np.testing.assert_array_equal(out[sel], expected)
    assert not np.array_equal(out[mask == 1], image[mask == 1])


def test_overlay_of_a_16_bit_gray_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    image = (rng.random((40, 50)) * 3000 + 20000).astype(np.uint16)  # a narrow band of 16 bits
    mask = np.zeros((40, 50), np.uint8)
    mask[10:30, 10:40] = 1
    out = overlay_rgb(image, mask, VOC_TABLE)
    shown = to_display_rgb(image, auto_window(image))
    assert out.shape == (40, 50, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[mask == 0], shown[mask == 0])
    assert shown[mask == 0].std() > 30  # the window stretched the band, not a flat gray
    expected = np.rint(0.5 * shown[mask == 1] + 0.5 * np.array(VOC_TABLE.colors[1])).astype(np.uint8)
    np.testing.assert_array_equal(out[mask == 1], expected)
    with pytest.raises(MaskError):
        overlay_rgb(image, mask[:-1], VOC_TABLE)


def test_binary_masks_one_file_per_class(tmp_path: Path) -> None:
    mask = np.zeros((8, 9), np.uint8)
    mask[2:5, 3:7] = 2
    mask[0, 0] = IGNORE_INDEX
    paths = write_binary_masks(tmp_path, "img", mask, CUSTOM)
    assert [p.name for p in paths] == ["img_background.png", "img_road.png", "img_car_van.png"]
    for index, path in enumerate(paths):
        binary = read_image(path)
        assert binary.dtype == np.uint8 and set(np.unique(binary)) <= {0, 255}
        np.testing.assert_array_equal(binary == 255, mask == index)
    assert not read_image(paths[1]).any()  # no road: written, empty
    assert [p.name for p in write_binary_masks(tmp_path / "s", "img", mask, CUSTOM, skip_empty=True)] == [
        "img_background.png",
        "img_car_van.png",
    ]


def test_class_file_names_are_safe_and_distinct() -> None:
    table = ClassTable.from_names(["a b", "a/b", "..", "Zellkern ü", "A_B"])
    names = class_file_names(table)
    assert len(set(n.lower() for n in names)) == len(names)
    assert all("/" not in n and " " not in n and n not in ("", ".", "..") for n in names)
    assert names[2] == "class2" and names[3] == "Zellkern_ü"


# ---------------------------------------------------------------------------------------------
# labelme JSON
# ---------------------------------------------------------------------------------------------


def test_labelme_exact_outlines_round_trip_pixel_for_pixel() -> None:
    mask = _scene(thin=2)
    doc = mask_to_labelme(mask, VOC_TABLE, "img.png", epsilon=0)
    np.testing.assert_array_equal(shapes_to_mask(doc["shapes"], mask.shape, VOC_TABLE), mask)
    # One pixel wide and slanted: labelme's filler adds a pixel at some diagonal steps of such
    # zero-area outlines (its corner rule); a few pixels, never more than one per step.
    mask = _scene(thin=1)
    doc = mask_to_labelme(mask, VOC_TABLE, "img.png", epsilon=0)
    wrong = shapes_to_mask(doc["shapes"], mask.shape, VOC_TABLE) != mask
    assert 0 < wrong.sum() <= 6 and not wrong[16:].any()  # only on the fibre (rows 6-12)


def test_labelme_round_trip_iou_per_class(tmp_path: Path) -> None:
    mask = _scene()
    doc = mask_to_labelme(mask, VOC_TABLE, "img.png")  # default epsilon 1.0
    back = shapes_to_mask(doc["shapes"], mask.shape, VOC_TABLE)
    for c in range(VOC_TABLE.num_classes):
        assert _iou(mask, back, c) > 0.98, (c, _iou(mask, back, c))
    assert (back != mask).sum() < 0.01 * mask.size
    # The simplification does simplify: far fewer points than boundary pixels.
    exact = mask_to_labelme(mask, VOC_TABLE, "img.png", epsilon=0)
    assert sum(len(s["points"]) for s in doc["shapes"]) < 0.6 * sum(len(s["points"]) for s in exact["shapes"])
    # The hole is a background shape painted after the cell, the nucleus island after the hole.
    labels = [s["label"] for s in doc["shapes"]]
    assert labels.index("cell") < labels.index("_background_") < len(labels) - 1
    assert back[40, 38] == 2 and back[40, 46] == 0 and back[40, 60] == 1


def test_labelme_file_is_labelme_json_and_our_reader_agrees(tmp_path: Path) -> None:
    mask = _scene()
    mask[90:94, 60:66] = IGNORE_INDEX  # ignore is kept as labelme's __ignore__ label
    image = np.random.default_rng(2).integers(0, 65535, mask.shape).astype(np.uint16)
    write_image(tmp_path / "images" / "frame 1.png", image)
    out = tmp_path / "labelme"
    write_labelme_json(out / "frame 1.json", mask, VOC_TABLE, tmp_path / "images" / "frame 1.png", image.shape)
    VOC_TABLE.write(tmp_path / "labels.txt")

    raw = json.loads((out / "frame 1.json").read_text(encoding="utf-8"))
    assert set(raw) == {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"}
    assert raw["imagePath"] == "../images/frame 1.png" and raw["imageData"] is None
    assert (raw["imageHeight"], raw["imageWidth"]) == mask.shape
    for shape in raw["shapes"]:
        assert set(shape) == {"label", "points", "group_id", "shape_type", "flags"}
        assert shape["shape_type"] == "polygon" and shape["group_id"] is None and len(shape["points"]) >= 3
    assert "__ignore__" in {s["label"] for s in raw["shapes"]}

    ds = open_dataset("labelme", out, labels=tmp_path / "labels.txt")
    assert len(ds) == 1 and ds.class_table.names == VOC_TABLE.names
    loaded_image, loaded = ds[0].load()
    np.testing.assert_array_equal(loaded_image, image)
    np.testing.assert_array_equal(loaded, shapes_to_mask(raw["shapes"], mask.shape, VOC_TABLE))
    for c in [*range(VOC_TABLE.num_classes), IGNORE_INDEX]:
        assert _iou(mask, loaded, c) > 0.98, c


def test_labelme_min_area_drops_specks_and_fills_small_holes() -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[5:30, 5:30] = 1
    mask[15, 15] = 0  # a one-pixel hole
    mask[35, 35] = 1  # a one-pixel speck
    doc = mask_to_labelme(mask, VOC_TABLE, "x.png", min_area=4)
    back = shapes_to_mask(doc["shapes"], mask.shape, VOC_TABLE)
    assert back[15, 15] == 1 and back[35, 35] == 0 and len(doc["shapes"]) == 1
    full = mask_to_labelme(mask, VOC_TABLE, "x.png")  # min_area 0: every region is kept
    np.testing.assert_array_equal(shapes_to_mask(full["shapes"], mask.shape, VOC_TABLE), mask)


def test_labelme_rejects_a_wrong_image_size() -> None:
    with pytest.raises(MaskError):
        mask_to_labelme(np.zeros((10, 12), np.uint8), VOC_TABLE, "x.png", (12, 10))


@pytest.mark.skipif(not LABELME_SEG.is_dir(), reason=f"labelme examples not found at {LABELME_SEG}")
def test_labelme_round_trip_on_labelme_own_annotations() -> None:
    ds = open_dataset("labelme", LABELME_SEG, labels=LABELME_SEG.parent / "labels.txt")
    table = ds.class_table
    for sample in list(ds)[:2]:
        mask = sample.load_mask()
        back = shapes_to_mask(mask_to_labelme(mask, table, "x.jpg")["shapes"], mask.shape, table)
        for c in np.unique(mask).tolist():
            assert _iou(mask, back, c) > 0.98, (sample.name, c, _iou(mask, back, c))


# ---------------------------------------------------------------------------------------------
# RLE
# ---------------------------------------------------------------------------------------------


def test_rle_matches_coco_column_major_by_hand() -> None:
    # Columns read top to bottom: [0,1,1] [0,0,1] [1,1,1] [0,0,0] -> 0 1 1 0 0 1 1 1 1 0 0 0
    binary = np.array([[0, 0, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]], bool)
    rle = encode_rle(binary)
    assert rle == {"size": [3, 4], "counts": [1, 2, 2, 4, 3]}
    starts_with_one = encode_rle(np.array([[1, 1], [0, 1]], bool))
    assert starts_with_one["counts"] == [0, 1, 1, 2]
    np.testing.assert_array_equal(decode_rle(rle), binary)


def test_rle_round_trips_exactly() -> None:
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (7, 5), (33, 64)]:
        binary = rng.random(shape) < 0.4
        np.testing.assert_array_equal(decode_rle(encode_rle(binary)), binary)
    for value in (True, False):
        full = np.full((4, 6), value)
        np.testing.assert_array_equal(decode_rle(encode_rle(full)), full)
    mask = _scene()
    mask[0, :7] = IGNORE_INDEX
    doc = json.loads(json.dumps(mask_to_rle_doc(mask, VOC_TABLE)))
    assert [a["category_id"] for a in doc["annotations"]] == [0, 1, 2, 3]
    assert [a["area"] for a in doc["annotations"]] == [int((mask == c).sum()) for c in range(4)]
    np.testing.assert_array_equal(rle_doc_to_mask(doc), mask)
    with pytest.raises(MaskError):
        decode_rle({"size": [2, 2], "counts": [1, 2]})


# ---------------------------------------------------------------------------------------------
# writer
# ---------------------------------------------------------------------------------------------


def test_export_prediction_writes_the_documented_layout(tmp_path: Path) -> None:
    mask = _scene(48, 64)
    image = np.random.default_rng(4).integers(0, 4096, mask.shape).astype(np.uint16)
    image_path = tmp_path / "in" / "shot.png"
    write_image(image_path, image)
    probs = np.random.default_rng(5).random((4, *mask.shape)).astype(np.float32)
    probs /= probs.sum(axis=0, keepdims=True)
    out = tmp_path / "out"
    written = export_prediction(
        out, "shot", labels=mask, table=VOC_TABLE, image_path=image_path, probabilities=probs, formats=EXPORT_FORMATS
    )
    expected = {
        "palette/shot.png", "color/shot.png", "overlay/shot.png", "labelme/shot.json", "labelme/labels.txt",
        "rle/shot.json", "probs/shot.npy",
        *(f"binary/shot_{n}.png" for n in VOC_TABLE.names),
    }
    assert {p.relative_to(out).as_posix() for p in written} == expected
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == expected

    np.testing.assert_array_equal(np.asarray(Image.open(out / "palette" / "shot.png")), mask)
    assert read_image(out / "overlay" / "shot.png").shape == (*mask.shape, 3)
    saved = np.load(out / "probs" / "shot.npy")
    assert saved.dtype == np.float16 and saved.shape == probs.shape
    np.testing.assert_allclose(saved, probs, atol=1e-3)
    np.testing.assert_array_equal(rle_doc_to_mask(json.loads((out / "rle" / "shot.json").read_text())), mask)
    assert json.loads((out / "labelme" / "shot.json").read_text())["imagePath"] == "../../in/shot.png"
    ds = open_dataset("labelme", out / "labelme", labels=out / "labelme" / "labels.txt")
    assert ds[0].load_mask().shape == mask.shape and ds.class_table.names == VOC_TABLE.names

    # A second image: labels.txt is already right and not rewritten.
    again = export_prediction(out, "two", labels=mask, table=VOC_TABLE, image_path=image_path, formats=["labelme"])
    assert [p.relative_to(out).as_posix() for p in again] == ["labelme/two.json"]


def test_export_prediction_refuses_bad_requests_before_writing(tmp_path: Path) -> None:
    mask = np.zeros((6, 7), np.uint8)
    with pytest.raises(ValueError, match="palette, color, overlay, binary, labelme, rle, probs"):
        export_prediction(tmp_path, "a", labels=mask, table=VOC_TABLE, formats=["palette", "jpeg"])
    with pytest.raises(ValueError, match="image_path"):
        export_prediction(tmp_path, "a", labels=mask, table=VOC_TABLE, formats=["palette", "labelme"])
    with pytest.raises(ValueError, match="overlay"):
        export_prediction(tmp_path, "a", labels=mask, table=VOC_TABLE, formats=["overlay"])
    with pytest.raises(MaskError):
        export_prediction(
            tmp_path, "a", labels=mask, table=VOC_TABLE, probabilities=np.zeros((3, 6, 7)), formats=["probs"]
        )
    with pytest.raises(ValueError, match="stem"):
        export_prediction(tmp_path, "../a", labels=mask, table=VOC_TABLE)
    assert not any(tmp_path.iterdir())
