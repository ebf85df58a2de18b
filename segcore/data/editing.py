"""In-place edits of an index mask (brush, polygon, rectangle, flood fill, paste), each reporting what it touched.

Every operation works on the smallest sub-rectangle it can and returns that `Region` (or None when
nothing could change), so callers can repaint, store and undo just that rectangle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Point = tuple[int, int]


@dataclass(frozen=True)
class Region:
    """An axis-aligned rectangle of pixels: top-left (x, y), width w, height h."""

    x: int
    y: int
    w: int
    h: int

    @property
    def is_empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    def slices(self) -> tuple[slice, slice]:
        """Row and column slices selecting the region from an H x W array."""
        return slice(self.y, self.y + self.h), slice(self.x, self.x + self.w)

    def union(self, other: Region | None) -> Region:
        """The smallest region holding both (an empty or missing one adds nothing)."""
        if other is None or other.is_empty:
            return self
        if self.is_empty:
            return other
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.x + self.w, other.x + other.w), max(self.y + self.h, other.y + other.h)
        return Region(x0, y0, x1 - x0, y1 - y0)

    def clipped(self, shape: tuple[int, ...]) -> Region:
        """The part of the region inside an array of `shape` (H, W, ...); may be empty."""
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + self.w, shape[1]), min(self.y + self.h, shape[0])
        return Region(x0, y0, max(x1 - x0, 0), max(y1 - y0, 0))


def _bounds(points: np.ndarray, pad: int, shape: tuple[int, ...]) -> Region:
    x0, y0 = points.min(axis=0) - pad
    x1, y1 = points.max(axis=0) + pad + 1
    return Region(int(x0), int(y0), int(x1 - x0), int(y1 - y0)).clipped(shape)


def _as_points(points: Sequence[Point] | np.ndarray) -> np.ndarray:
    array = np.asarray(points, dtype=np.int32).reshape(-1, 2)
    if len(array) == 0:
        raise ValueError("at least one point is needed")
    return array


def paint_stroke(mask: np.ndarray, points: Sequence[Point] | np.ndarray, radius: int, value: int) -> Region | None:
    """Paint a round brush of `radius` (0 = one pixel) along the polyline through `points` (x, y)."""
    pts = _as_points(points)
    radius = max(int(radius), 0)
    region = _bounds(pts, radius, mask.shape)
    if region.is_empty:
        return None
    # OpenCV draws into a contiguous copy of just the touched rectangle: cost follows the stroke, not the mask.
    sub = np.ascontiguousarray(mask[region.slices()])
    local = pts - (region.x, region.y)
    thickness = 2 * radius + 1
    for (xa, ya), (xb, yb) in zip(local[:-1], local[1:], strict=True):
        cv2.line(sub, (int(xa), int(ya)), (int(xb), int(yb)), int(value), thickness, cv2.LINE_8)
    for x, y in local[[0, -1]]:  # round caps; cv2.line caps thick lines, but not a single point
        cv2.circle(sub, (int(x), int(y)), radius, int(value), -1, cv2.LINE_8)
    mask[region.slices()] = sub
    return region


def fill_polygon(mask: np.ndarray, points: Sequence[Point] | np.ndarray, value: int) -> Region | None:
    """Fill the polygon through `points` (x, y pixel indices, vertices included)."""
    pts = _as_points(points)
    region = _bounds(pts, 0, mask.shape)
    if region.is_empty:
        return None
    sub = np.ascontiguousarray(mask[region.slices()])
    cv2.fillPoly(sub, [pts - (region.x, region.y)], int(value), cv2.LINE_8)
    mask[region.slices()] = sub
    return region


def fill_rect(mask: np.ndarray, x: int, y: int, w: int, h: int, value: int) -> Region | None:
    """Set the w x h rectangle at (x, y) to `value` (clipped to the mask)."""
    region = Region(int(x), int(y), int(w), int(h)).clipped(mask.shape)
    if region.is_empty:
        return None
    mask[region.slices()] = value
    return region


def flood_fill(mask: np.ndarray, x: int, y: int, value: int) -> Region | None:
    """Give the 4-connected region of pixel (x, y)'s class the class `value`; None when nothing changes."""
    height, width = mask.shape[:2]
    if not (0 <= x < width and 0 <= y < height) or mask[y, x] == value:
        return None
    if not mask.flags.c_contiguous:
        raise ValueError("flood_fill needs a C-contiguous mask (OpenCV fills it in place)")
    _, _, _, rect = cv2.floodFill(mask, None, (int(x), int(y)), int(value), 0, 0, 4)
    return Region(*rect)


def paste_where(mask: np.ndarray, region: Region, where: np.ndarray, value: int) -> Region | None:
    """Set the pixels of `region` where the region-sized bool array `where` is true to `value`."""
    clipped = region.clipped(mask.shape)
    if where.shape != (region.h, region.w):
        raise ValueError(f"`where` has shape {where.shape}, the region is {region.h} x {region.w}")
    if clipped.is_empty:
        return None
    inner = where[Region(clipped.x - region.x, clipped.y - region.y, clipped.w, clipped.h).slices()]
    mask[clipped.slices()][inner] = value
    return clipped
