"""Boxes in the cv2.selectROI convention and their filled masks."""

from __future__ import annotations

import numpy as np
import pytest

from segcore.data.boxes import Box, boxes_to_mask
from segcore.errors import MaskError


def test_box_fills_exactly_x_y_w_h():
    mask = boxes_to_mask((10, 12), [Box(x=2, y=3, w=4, h=5, label=1)])
    assert mask.dtype == np.uint8 and mask.shape == (10, 12)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (3, 7, 2, 5)  # y..y+h-1, x..x+w-1
    assert int(mask.sum()) == 4 * 5


def test_small_box_inside_large_keeps_its_class_whatever_the_order():
    big, small = Box(0, 0, 10, 10, label=1), Box(4, 4, 2, 2, label=2)
    for order in ([big, small], [small, big]):
        mask = boxes_to_mask((10, 10), order, background=0)
        assert (mask[4:6, 4:6] == 2).all() and int((mask == 1).sum()) == 100 - 4


def test_boxes_are_clipped_to_the_image():
    mask = boxes_to_mask((5, 5), [Box(-3, 3, 6, 10, label=7)], background=255)
    assert (mask[3:, :3] == 7).all() and int((mask == 7).sum()) == 2 * 3
    assert Box(10, 10, 4, 4).clipped(5, 5).area == 0


def test_corners_in_any_order_and_bad_labels():
    assert Box.from_corners(9, 8, 2, 3, label=1) == Box(2, 3, 8, 6, 1)  # inclusive corners
    with pytest.raises(MaskError, match="256"):
        boxes_to_mask((4, 4), [Box(0, 0, 2, 2, label=256)])
