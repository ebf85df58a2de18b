"""labelme's shapes rasterised exactly as labelme's `shape_to_mask` / `shapes_to_label` draw them.

- every shape is drawn on its own blank canvas and painted into the label map in file order, so
  a later shape wins where shapes overlap;
- polygon: `draw.polygon(xy, outline=1, fill=1)`, and so labelme 6's oriented_rectangle (its four
  corners); rectangle: `draw.rectangle`; circle: an ellipse
  around the first point through the second; line / linestrip: `draw.line(width=10)`;
  point: an ellipse of radius 5; mask: a bitmap pasted into the box its two points span.

Pillow's polygon filler changed in Pillow 12 (corner handling), which moves single pixels of
thin polygons; labelme's published outputs were made with the older filler (Pillow 9.3-11 give
them exactly). Polygons and wide lines (which Pillow fills as polygons) are therefore filled here
by a port of that scan-line filler, so masks do not depend on the installed Pillow. Ellipses still
use PIL (unchanged from Pillow 9.3 to 13). One deliberate difference: a rectangle whose corners
are given in reverse order is normalised here; labelme's converter stops on it with a Pillow error.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from segcore.data.classes import ClassTable
from segcore.data.polygons import reachable_polygon
from segcore.errors import DatasetError, SegcoreError
from segcore.io.header import open_checked

LINE_WIDTH = 10
"""labelme's `shape_to_mask` line width for `line` and `linestrip` shapes."""
POINT_SIZE = 5
"""labelme's `shape_to_mask` radius for `point` shapes."""

SHAPE_TYPES = ("polygon", "rectangle", "oriented_rectangle", "circle", "line", "linestrip", "point", "mask")

# --------------------------------------------------------------------------------------------
# Public rasterisation
# --------------------------------------------------------------------------------------------


def shapes_to_mask(shapes: Sequence[Mapping[str, Any]], shape_hw: tuple[int, int], table: ClassTable) -> np.ndarray:
    """Rasterise labelme shapes (dicts with label, points, shape_type[, mask]) into a uint8 mask.

    Background is 0, `__ignore__` shapes paint `table.ignore_index`, later shapes overwrite
    earlier ones. Raises `DatasetError` for a label not in `table` or a malformed shape.
    """
    height, width = int(shape_hw[0]), int(shape_hw[1])
    out = np.zeros((height, width), dtype=np.uint8)
    for n, shape in enumerate(shapes):
        problem = shape_problem(shape)
        if problem:
            raise DatasetError(f"shape {n} ({shape.get('label')!r}): {problem}")
        value = table.index_of(shape["label"])
        out[shape_to_bool_mask(shape, (height, width))] = value
    return out


def shape_to_bool_mask(shape: Mapping[str, Any], shape_hw: tuple[int, int]) -> np.ndarray:
    """The pixels one labelme shape covers, as labelme's `shape_to_mask` draws them."""
    height, width = shape_hw
    shape_type = shape.get("shape_type") or "polygon"
    points = [(float(x), float(y)) for x, y in shape["points"]]
    canvas = np.zeros((height, width), dtype=bool)
    if shape_type in ("polygon", "oriented_rectangle"):
        _fill_polygon(canvas, [(int(x), int(y)) for x, y in reachable_polygon(points, height, width)])
    elif shape_type == "rectangle":
        (xa, ya), (xb, yb) = points
        _fill_rectangle(canvas, min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
    elif shape_type == "circle":
        (cx, cy), (px, py) = points
        d = math.sqrt((cx - px) ** 2 + (cy - py) ** 2)
        _fill_ellipse(canvas, cx - d, cy - d, cx + d, cy + d)
    elif shape_type in ("line", "linestrip"):
        for (xa, ya), (xb, yb) in zip(points, points[1:]):
            _draw_wide_line(canvas, int(xa), int(ya), int(xb), int(yb), LINE_WIDTH)
    elif shape_type == "point":
        (cx, cy), = points
        r = POINT_SIZE
        _fill_ellipse(canvas, cx - r, cy - r, cx + r, cy + r)
    elif shape_type == "mask":
        bitmap = _shape_bitmap(shape.get("mask"))
        (x1, y1), (x2, y2) = np.asarray(shape["points"]).astype(int)
        region = canvas[y1 : y2 + 1, x1 : x2 + 1]
        if region.shape != bitmap.shape:
            raise DatasetError(
                f"mask shape: bitmap is {bitmap.shape[1]}x{bitmap.shape[0]} but its box is {region.shape[1]}x{region.shape[0]}"
            )
        region[...] = bitmap
    else:  # shape_problem() rejects these first
        raise DatasetError(f"unsupported shape_type {shape_type!r}")
    return canvas


def shape_problem(shape: Mapping[str, Any]) -> str | None:
    """Why a labelme shape cannot be rasterised (labelme's own checks), or None when it can."""
    if not isinstance(shape, Mapping):
        return "a shape must be a JSON object"
    if not isinstance(shape.get("label"), str):
        return "'label' must be a string"
    shape_type = shape.get("shape_type") or "polygon"
    if shape_type not in SHAPE_TYPES:
        return f"unsupported shape_type {shape_type!r} (supported: {', '.join(SHAPE_TYPES)})"
    points = shape.get("points")
    if not isinstance(points, list) or not all(
        isinstance(p, (list, tuple))
        and len(p) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
        for p in points
    ):
        return "'points' must be a list of [x, y] numbers"
    needed = {"circle": 2, "rectangle": 2, "oriented_rectangle": 4, "line": 2, "point": 1, "mask": 2}.get(shape_type)
    if needed is not None and len(points) != needed:
        return f"a {shape_type} needs exactly {needed} point(s), got {len(points)}"
    if shape_type == "polygon" and len(points) < 3:
        return f"a polygon needs at least 3 points, got {len(points)}"
    if shape_type == "mask" and not isinstance(shape.get("mask"), (str, np.ndarray)):
        return "a mask shape needs its 'mask' bitmap (base64 PNG)"
    return None


def _shape_bitmap(data: str | np.ndarray) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.astype(bool)
    try:
        encoded = base64.b64decode(data)
    except (binascii.Error, ValueError) as exc:
        raise DatasetError(f"mask shape: its 'mask' is not base64 ({exc})") from exc
    try:
        with open_checked(encoded, "mask shape bitmap") as im:  # the pixel limit, before decoding
            return np.asarray(im).astype(bool)
    except (ValueError, OSError, SegcoreError) as exc:
        raise DatasetError(f"mask shape: its 'mask' is not a readable PNG ({exc})") from exc


# --------------------------------------------------------------------------------------------
# Pillow's drawing primitives, reproduced (see the module docstring for why)
# --------------------------------------------------------------------------------------------
# Coordinates reach Pillow's C code as doubles and are truncated to int (C casts); the filler
# then works in float32 exactly as below. Every `_f32` step is one rounding of the C code.

_f32 = np.float32


@dataclass
class _Edge:
    x0: int
    y0: int
    xmin: int
    ymin: int
    xmax: int
    ymax: int
    dx: float  # float32 value: (x1 - x0) / (y1 - y0), 0 for horizontal edges

    @classmethod
    def between(cls, x0: int, y0: int, x1: int, y1: int) -> _Edge:
        dx = 0.0 if y0 == y1 else float(_f32(x1 - x0) / _f32(y1 - y0))
        return cls(x0, y0, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), dx)

    def x_at(self, y: int) -> float:
        """The edge's x on scan line y, rounded as the C code does (float32 at each step)."""
        return float(_f32(_f32(_f32(y - self.y0) * _f32(self.dx)) + _f32(self.x0)))

    def xs_between(self, lo: int, hi: int) -> list[float]:
        rows = (np.arange(lo, hi + 1) - self.y0).astype(np.float32)
        return (rows * _f32(self.dx) + _f32(self.x0)).tolist()


def _round_up(v: float) -> int:
    """Pillow's ROUND_UP on a double: half away from zero."""
    return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(abs(v) + 0.5))


def _round_down(v: float) -> int:
    """Pillow's ROUND_DOWN on a double: half towards zero."""
    return int(math.ceil(v - 0.5)) if v >= 0 else -int(math.ceil(abs(v) - 0.5))


def _hlines(canvas: np.ndarray, rows: np.ndarray, x_start: np.ndarray, x_end: np.ndarray) -> None:
    height, width = canvas.shape
    keep = (rows >= 0) & (rows < height) & (x_start < width) & (x_end >= 0)
    x_start = np.clip(x_start[keep], 0, width - 1)
    x_end = np.clip(x_end[keep], 0, width - 1)
    for y, a, b in zip(rows[keep].tolist(), x_start.tolist(), x_end.tolist()):
        if a <= b:
            canvas[y, a : b + 1] = True


def _fill_polygon(canvas: np.ndarray, xy: list[tuple[int, int]]) -> None:
    """A filled polygon through integer vertices (Pillow's edge list, consecutive horizontals merged)."""
    edges: list[_Edge] = []
    for i in range(len(xy) - 1):
        (x0, y0), (x1, y1) = xy[i], xy[i + 1]
        if y0 == y1 and i != 0 and y0 == xy[i - 1][1]:
            prev_x = xy[i - 1][0]
            if x1 > x0 > prev_x:  # two horizontal edges in a row, both going right
                edges[-1].xmax = x1
                continue
            if x1 < x0 < prev_x:  # ... both going left
                edges[-1].xmin = x1
                continue
        edges.append(_Edge.between(x0, y0, x1, y1))
    if xy and xy[-1] != xy[0]:
        edges.append(_Edge.between(*xy[-1], *xy[0]))
    _fill_edges(canvas, edges)


def _fill_edges(canvas: np.ndarray, edges: list[_Edge]) -> None:
    """Pillow's (9.3-11) scan-line polygon filler for 8-bit images."""
    if not edges:
        return
    height = canvas.shape[0]
    span_rows: list[int] = []
    span_a: list[int] = []
    span_b: list[int] = []
    ymin, ymax = height - 1, 0
    table: list[_Edge] = []
    for e in edges:
        ymin, ymax = min(ymin, e.ymin), max(ymax, e.ymax)
        if e.ymin == e.ymax:  # horizontal edges are drawn as they are
            span_rows.append(e.ymin)
            span_a.append(e.xmin)
            span_b.append(e.xmax)
        else:
            table.append(e)
    ymin, ymax = max(ymin, 0), min(ymax, height)

    pair_rows: list[int] = []
    pair_a: list[float] = []
    pair_b: list[float] = []
    if table and ymin <= ymax:
        buckets: list[list[tuple[int, float]]] = [[] for _ in range(ymax - ymin + 1)]
        for i, e in enumerate(table):
            lo, hi = max(e.ymin, ymin), min(e.ymax, ymax)
            if lo <= hi:
                for y, x in zip(range(lo, hi + 1), e.xs_between(lo, hi)):
                    buckets[y - ymin].append((i, x))
        for offset, bucket in enumerate(buckets):
            y = ymin + offset
            xx: list[float] = []
            for i, x in bucket:
                e = table[i]
                xx.append(x)
                if y == e.ymax and y < ymax:
                    xx.append(x)  # counted twice where an edge ends, for consistent polygons
                elif e.dx != 0 and x.is_integer():
                    _join_corner(table, i, y, x, ymax, xx)
            xx.sort()
            for a, b in zip(xx[0::2], xx[1::2]):
                pair_rows.append(y)
                pair_a.append(a)
                pair_b.append(b)

    rows = np.array(span_rows + pair_rows, dtype=np.int64)
    starts = np.array(span_a + [_round_up_f32(a) for a in pair_a], dtype=np.int64)
    ends = np.array(span_b + [_round_down_f32(b) for b in pair_b], dtype=np.int64)
    _hlines(canvas, rows, starts, ends)


def _join_corner(table: list[_Edge], i: int, y: int, x: float, ymax: int, xx: list[float]) -> None:
    """Pillow's 'connect discontiguous corners' step, including where its result lands.

    The C code stores the corrected crossing at index k of the row's crossings, k being the
    *edge's* index in the table; it takes effect only when that slot already holds a crossing
    of this row (a later crossing would overwrite it otherwise).
    """
    cur = table[i]
    for k in range(i):
        other = table[k]
        if (cur.dx > 0 and other.dx <= 0) or (cur.dx < 0 and other.dx >= 0):
            continue
        joined = (y == cur.ymin and y == other.ymin) or (y == cur.ymax and y == other.ymax)
        if joined and x == other.x_at(y):
            step = -1 if y == ymax else 1
            here, there = cur.x_at(y + step), other.x_at(y + step)
            if y == cur.ymax:
                value = max(here, there) + 1 if cur.dx > 0 else min(here, there) - 1
            else:
                value = min(here, there) if cur.dx > 0 else max(here, there) + 1
            if k < len(xx):
                xx[k] = float(_f32(value))
            return


def _round_up_f32(v: float) -> int:
    # ROUND_UP on a float: `f + 0.5F` is a float32 sum for f >= 0, a double sum otherwise.
    return int(math.floor(_f32(v) + _f32(0.5))) if v >= 0 else -int(math.floor(abs(v) + 0.5))


def _round_down_f32(v: float) -> int:
    return int(math.ceil(_f32(v) - _f32(0.5))) if v >= 0 else -int(math.ceil(abs(v) - 0.5))


def _draw_wide_line(canvas: np.ndarray, x0: int, y0: int, x1: int, y1: int, width: int) -> None:
    """Pillow's wide line: a quadrilateral around the segment, filled like a polygon."""
    dx, dy = x1 - x0, y1 - y0
    if dx == 0 and dy == 0:
        if 0 <= x0 < canvas.shape[1] and 0 <= y0 < canvas.shape[0]:
            canvas[y0, x0] = True
        return
    big = math.sqrt(dx * dx + dy * dy)
    small = (width - 1) / 2.0
    ratio_max, ratio_min = _round_up(small) / big, _round_down(small) / big
    dxmin, dxmax = _round_down(ratio_min * dy), _round_down(ratio_max * dy)
    dymin, dymax = _round_down(ratio_min * dx), _round_down(ratio_max * dx)
    v = [(x0 - dxmin, y0 + dymax), (x1 - dxmin, y1 + dymax), (x1 + dxmax, y1 - dymin), (x0 + dxmax, y0 - dymin)]
    _fill_edges(canvas, [_Edge.between(*v[i], *v[(i + 1) % 4]) for i in range(4)])


def _fill_rectangle(canvas: np.ndarray, xa: float, ya: float, xb: float, yb: float) -> None:
    height, width = canvas.shape
    x0, y0, x1, y1 = int(xa), int(ya), int(xb), int(yb)
    if y0 >= height or y1 < 0 or x0 >= width or x1 < 0:
        return
    canvas[max(y0, 0) : min(y1, height - 1) + 1, max(x0, 0) : min(x1, width - 1) + 1] = True


def _fill_ellipse(canvas: np.ndarray, xa: float, ya: float, xb: float, yb: float) -> None:
    height, width = canvas.shape
    im = Image.new("L", (width, height), 0)
    ImageDraw.Draw(im).ellipse([xa, ya, xb, yb], outline=1, fill=1)
    canvas |= np.asarray(im, dtype=bool)

