"""Box labels in the `cv2.selectROI` convention (x, y, w, h) and their conversion to masks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from segcore.errors import MaskError


@dataclass(frozen=True)
class Box:
    """An axis-aligned box: top-left (x, y), width w and height h in pixels, and its class index."""

    x: int
    y: int
    w: int
    h: int
    label: int = 1

    @property
    def area(self) -> int:
        return max(self.w, 0) * max(self.h, 0)

    def clipped(self, width: int, height: int) -> Box:
        """The part of the box inside a width x height image (may be empty)."""
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + self.w, width), min(self.y + self.h, height)
        return Box(x0, y0, max(x1 - x0, 0), max(y1 - y0, 0), self.label)

    def misplaced(self, width: int, height: int) -> bool:
        """Wholly outside a width x height image, or reaching more than the image's own size past its border.

        A pixel or two past the border is common (VOC's xmax = width + 1) and is clipped; a box that
        reaches an image's size past it (1e300) is a broken file, not a box to draw over the whole image.
        """
        far = self.x < -width or self.y < -height or self.x + self.w > 2 * width or self.y + self.h > 2 * height
        return far or self.clipped(width, height).area == 0

    @classmethod
    def from_corners(cls, x0: float, y0: float, x1: float, y1: float, label: int = 1) -> Box:
        """A box from two corners in any order (e.g. VOC xmin, ymin, xmax, ymax inclusive)."""
        xa, xb = sorted((x0, x1))
        ya, yb = sorted((y0, y1))
        return cls(int(round(xa)), int(round(ya)), int(round(xb - xa)) + 1, int(round(yb - ya)) + 1, label)


def boxes_to_mask(shape: tuple[int, int], boxes: Sequence[Box], background: int = 0) -> np.ndarray:
    """Fill each box with its class on a `background` mask of `shape` (H, W).

    Larger boxes are drawn first so a small box inside a large one keeps its class.
    """
    height, width = shape
    mask = np.full((height, width), background, dtype=np.uint8)
    for box in sorted(boxes, key=lambda b: -b.area):
        if not 0 <= box.label <= 255:
            raise MaskError(f"box class {box.label} is outside 0..255")
        b = box.clipped(width, height)
        if b.area:
            mask[b.y : b.y + b.h, b.x : b.x + b.w] = b.label
    return mask
