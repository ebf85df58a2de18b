"""Mask edits: exact pixels, reported regions, and speed on a 3072 x 3072 mask."""

from __future__ import annotations

import numpy as np
import pytest

from segcore.data.editing import Region, fill_polygon, fill_rect, flood_fill, paint_stroke, paste_where


def test_region_slices_union_and_clipping():
    a = Region(2, 3, 4, 5)
    assert a.slices() == (slice(3, 8), slice(2, 6))
    assert a.union(Region(10, 1, 2, 2)) == Region(2, 1, 10, 7)
    assert a.union(None) == a and Region(0, 0, 0, 0).union(a) == a
    assert Region(-2, -1, 5, 5).clipped((3, 10)) == Region(0, 0, 3, 3)
    assert Region(20, 0, 5, 5).clipped((10, 10)).is_empty


def test_paint_stroke_single_point_is_a_disc():
    mask = np.zeros((20, 20), np.uint8)
    region = paint_stroke(mask, [(10, 10)], 3, 2)
    assert region == Region(7, 7, 7, 7)
    yy, xx = np.nonzero(mask)
    assert set(mask[yy, xx]) == {2}
    assert (np.hypot(xx - 10, yy - 10) <= 3.5).all()
    assert mask[10, 7] == mask[10, 13] == mask[7, 10] == mask[13, 10] == 2
    assert mask[7, 7] == 0  # round, not square


def test_paint_stroke_segment_covers_the_path_and_stays_in_its_region():
    mask = np.zeros((30, 40), np.uint8)
    region = paint_stroke(mask, [(5, 5), (30, 5), (30, 20)], 1, 1)
    assert region == Region(4, 4, 28, 18)
    assert mask[5, 5:31].all() and mask[5:21, 30].all() and mask[4:7, 15].all()
    outside = mask.copy()
    outside[region.slices()] = 0
    assert not outside.any()


def test_paint_stroke_clips_at_the_border_and_off_image_is_none():
    mask = np.zeros((10, 10), np.uint8)
    assert paint_stroke(mask, [(0, 0)], 2, 1) == Region(0, 0, 3, 3)
    assert mask[0, 0] == 1
    assert paint_stroke(mask, [(50, 50)], 2, 1) is None


def test_fill_polygon_includes_vertices():
    mask = np.zeros((20, 20), np.uint8)
    region = fill_polygon(mask, [(2, 2), (10, 2), (10, 8), (2, 8)], 3)
    assert region == Region(2, 2, 9, 7)
    expected = np.zeros_like(mask)
    expected[2:9, 2:11] = 3
    np.testing.assert_array_equal(mask, expected)


def test_fill_rect_clips():
    mask = np.zeros((10, 10), np.uint8)
    assert fill_rect(mask, 8, -2, 5, 5, 4) == Region(8, 0, 2, 3)
    assert mask[:3, 8:].all() and mask.sum() == 4 * 6
    assert fill_rect(mask, 20, 20, 3, 3, 1) is None


def test_flood_fill_is_four_connected_on_the_clicked_class():
    mask = np.zeros((10, 10), np.uint8)
    mask[2:5, 2:5] = 1
    mask[5, 5] = 1  # touches the block only diagonally
    region = flood_fill(mask, 3, 3, 2)
    assert region == Region(2, 2, 3, 3)
    assert (mask[2:5, 2:5] == 2).all() and mask[5, 5] == 1
    assert flood_fill(mask, 3, 3, 2) is None  # already that class
    assert flood_fill(mask, -1, 3, 2) is None


def test_paste_where_sets_only_true_pixels_clipped():
    mask = np.zeros((10, 10), np.uint8)
    where = np.zeros((4, 4), bool)
    where[1:3, 1:3] = True
    where[0, 0] = True
    region = paste_where(mask, Region(-1, -1, 4, 4), where, 5)
    assert region == Region(0, 0, 3, 3)
    assert mask[0, 0] == 5 and mask[1, 1] == 5 and mask.sum() == 5 * 4
    with pytest.raises(ValueError):
        paste_where(mask, Region(0, 0, 3, 3), where, 1)


def test_a_brush_segment_on_a_large_mask_touches_only_its_rectangle():
    mask = np.zeros((3072, 3072), np.uint8)
    region = paint_stroke(mask, [(1000, 1500), (1040, 1510)], 20, 1)
    assert region == Region(980, 1480, 81, 51)  # the segment's bounds grown by the radius: all a repaint needs
    assert mask[1505, 1020] == 1 and mask.sum() == mask[region.slices()].sum()
