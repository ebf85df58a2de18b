"""Class tables, the VOC colour map, palette PNGs and colour-coded masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segcore.data.classes import (
    IGNORE_INDEX,
    ClassTable,
    builtin_table,
    read_labels_file,
    resolve_class_table,
    voc_colormap,
)
from segcore.data.masks import (
    index_to_rgb,
    read_color_mask,
    read_index_mask,
    rgb_to_index,
    write_palette_png,
)
from segcore.errors import DatasetError, ImageReadError, MaskError, UnknownColorError
from segcore.io.images import write_image


def test_voc_colormap_known_entries():
    cmap = voc_colormap()
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    # Published PASCAL VOC colours: background, aeroplane, bicycle, person, and the 255 'void' border.
    assert tuple(cmap[0]) == (0, 0, 0)
    assert tuple(cmap[1]) == (128, 0, 0)
    assert tuple(cmap[2]) == (0, 128, 0)
    assert tuple(cmap[15]) == (192, 128, 128)
    assert tuple(cmap[255]) == (224, 224, 192)
    assert len({tuple(c) for c in cmap}) == 256


def test_class_table_validation_and_lookup():
    table = ClassTable.from_names(["background", "sample"])
    assert table.colors == [(0, 0, 0), (128, 0, 0)]
    assert table.index_of("sample") == 1 and table.index_of("__ignore__") == IGNORE_INDEX
    with pytest.raises(DatasetError, match="unknown class 'cat'"):
        table.index_of("cat")
    with pytest.raises(DatasetError, match="duplicate"):
        ClassTable.from_names(["a", "a"])
    with pytest.raises(DatasetError, match="colours"):
        ClassTable.from_names(["a", "b"], [(1, 2, 3)])
    assert ClassTable.from_dict(table.to_dict()) == table


def test_labels_file_labelme_style_and_with_colours(tmp_path):
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\naeroplane\nbicycle\n")
    t = read_labels_file(tmp_path / "labels.txt")
    assert t.names == ["_background_", "aeroplane", "bicycle"]
    assert t.colors == [tuple(c) for c in voc_colormap()[:3].tolist()]
    (tmp_path / "c.txt").write_text("# land cover\nurban 0 255 255\nwater,0,0,255\npotted plant\n")
    t = read_labels_file(tmp_path / "c.txt")
    assert t.names == ["urban", "water", "potted plant"] and t.colors[:2] == [(0, 255, 255), (0, 0, 255)]
    (tmp_path / "bad.txt").write_text("urban 0 255 999\n")
    with pytest.raises(DatasetError, match="bad.txt:1"):
        read_labels_file(tmp_path / "bad.txt")
    # Written tables read back identically (colours and ignore colour included).
    lc = builtin_table("landcover")
    lc.write(tmp_path / "lc.txt")
    assert read_labels_file(tmp_path / "lc.txt") == lc
    assert resolve_class_table("camvid").names[0] == "Sky"
    with pytest.raises(DatasetError, match="neither a labels file nor a built-in class table"):
        resolve_class_table(tmp_path / "missing.txt")


def test_palette_png_round_trip_through_pillow(tmp_path):
    table = builtin_table("voc")
    mask = np.random.default_rng(1).integers(0, 21, (37, 53), dtype=np.uint8)
    mask[:3] = IGNORE_INDEX
    write_palette_png(tmp_path / "m.png", mask, table)
    im = Image.open(tmp_path / "m.png")
    assert im.mode == "P"
    np.testing.assert_array_equal(np.asarray(im), mask)  # Pillow reads back the indices
    palette = np.array(im.getpalette()[: 256 * 3], np.uint8).reshape(-1, 3)
    np.testing.assert_array_equal(palette, voc_colormap())
    np.testing.assert_array_equal(read_index_mask(tmp_path / "m.png"), mask)


def test_palette_png_refuses_values_outside_the_table(tmp_path):
    table = ClassTable.from_names(["bg", "fg"])
    with pytest.raises(MaskError, match=r"\[5\]"):
        write_palette_png(tmp_path / "m.png", np.full((4, 4), 5, np.uint8), table)
    assert not (tmp_path / "m.png").exists()


def test_read_index_mask_gray_and_errors(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_image(tmp_path / "g.png", gray)
    np.testing.assert_array_equal(read_index_mask(tmp_path / "g.png"), gray)
    write_image(tmp_path / "rgb.png", np.zeros((3, 4, 3), np.uint8))
    with pytest.raises(MaskError, match="colour"):
        read_index_mask(tmp_path / "rgb.png")
    (tmp_path / "trunc.png").write_bytes((tmp_path / "g.png").read_bytes()[:30])
    with pytest.raises(ImageReadError, match="trunc.png"):
        read_index_mask(tmp_path / "trunc.png")


LANDCOVER_RGB = {
    "urban": (0, 255, 255), "agriculture": (255, 255, 0), "rangeland": (255, 0, 255), "forest": (0, 255, 0),
    "water": (0, 0, 255), "barren": (255, 255, 255), "unknown": (0, 0, 0),
}


def test_landcover_colour_mask_to_index_and_back(tmp_path):
    table = builtin_table("landcover")
    assert dict(zip(table.names, table.colors)) == LANDCOVER_RGB
    idx = np.random.default_rng(2).integers(0, 7, (30, 40), dtype=np.uint8)
    rgb = index_to_rgb(idx, table)
    np.testing.assert_array_equal(rgb[idx == 4], [[0, 0, 255]] * int((idx == 4).sum()))
    np.testing.assert_array_equal(rgb_to_index(rgb, table), idx)
    write_image(tmp_path / "lc.png", rgb)
    np.testing.assert_array_equal(read_color_mask(tmp_path / "lc.png", table), idx)


def test_stray_colours_error_or_ignore():
    table = builtin_table("landcover")
    rgb = index_to_rgb(np.zeros((10, 10), np.uint8), table)
    rgb[0, :3] = (10, 20, 30)  # 3 stray pixels of one colour
    rgb[5, 5] = (1, 2, 3)
    with pytest.raises(UnknownColorError) as info:
        rgb_to_index(rgb, table, source="tile_7.png")
    assert info.value.colors == [(10, 20, 30), (1, 2, 3)] and info.value.counts == [3, 1]
    assert "tile_7.png" in str(info.value) and "(10, 20, 30) x3" in str(info.value)
    out = rgb_to_index(rgb, table, unknown="ignore")
    assert (out[0, :3] == IGNORE_INDEX).all() and out[5, 5] == IGNORE_INDEX
    assert (out[1:5] == 0).all()


def test_ambiguous_colour_table_is_refused():
    table = ClassTable.from_names(["a", "b"], [(1, 1, 1), (1, 1, 1)])
    with pytest.raises(MaskError, match="same colour"):
        rgb_to_index(np.zeros((2, 2, 3), np.uint8), table)
