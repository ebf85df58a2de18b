"""Polygons with vertices far outside the image, cut down to what the rasterisers can draw.

labelme's and pycocotools' rasterisers work in integers (pycocotools scales by 5 into 32 bits); a vertex
at 1e30 overflowed them (a segfault in pycocotools, an OverflowError in the labelme path). A polygon
with a vertex farther than `FAR` pixels is clipped to the image and a margin of one image on every side
(Sutherland-Hodgman against that rectangle), which leaves every pixel inside the image as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Point = tuple[float, float]

FAR = 2.0**20
"""Vertices within this many pixels of the origin are drawn as given (every real annotation)."""


def reachable_polygon(points: Sequence[Point], height: int, width: int) -> list[Point]:
    """`points` as given when every vertex is within `FAR`; else clipped to the image plus a margin."""
    if all(abs(x) <= FAR and abs(y) <= FAR for x, y in points):
        return list(points)
    x0, y0, x1, y1 = -width, -height, 2 * width, 2 * height
    clipped = list(points)
    for inside, cross in (
        (lambda p: p[0] >= x0, lambda a, b: _at_x(a, b, x0)),
        (lambda p: p[0] <= x1, lambda a, b: _at_x(a, b, x1)),
        (lambda p: p[1] >= y0, lambda a, b: _at_y(a, b, y0)),
        (lambda p: p[1] <= y1, lambda a, b: _at_y(a, b, y1)),
    ):
        clipped = _clip(clipped, inside, cross)
    return clipped


def _clip(points: list[Point], inside: Callable[[Point], bool], cross: Callable[[Point, Point], Point]) -> list[Point]:
    """One Sutherland-Hodgman pass: the part of the polygon on the inner side of one edge."""
    out: list[Point] = []
    for i, current in enumerate(points):
        previous = points[i - 1]
        if inside(current):
            if not inside(previous):
                out.append(cross(previous, current))
            out.append(current)
        elif inside(previous):
            out.append(cross(previous, current))
    return out


def _at_x(a: Point, b: Point, x: float) -> Point:
    t = (x - a[0]) / (b[0] - a[0])
    return x, a[1] + t * (b[1] - a[1])


def _at_y(a: Point, b: Point, y: float) -> Point:
    t = (y - a[1]) / (b[1] - a[1])
    return a[0] + t * (b[0] - a[0]), y
