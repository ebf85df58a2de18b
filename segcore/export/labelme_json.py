"""Index masks as labelme JSON files: polygon shapes, one per connected region.

labelme rasterises a file's shapes in order, each on its own canvas, later shapes winning
(`segcore.data.shapes` reproduces that exactly). The canvas starts as class 0, so:

- every connected region of a class other than 0 becomes one polygon (8-connected regions,
  OpenCV's foreground convention);
- regions of class 0 that are enclosed (4-connected regions not touching the image border:
  the holes of the regions around them) become polygons of class 0, labelled labelme's
  `_background_` whatever its name in the table (labelme2voc.py asserts that class 0 is it);
- ignore pixels become `__ignore__` polygons (labelme's own ignore label), unless
  `include_ignore=False` turns them into class 0 first;
- shapes are written largest area first. A region inside another one's outline always has a
  smaller area than it, so it is painted after it: holes and islands in holes survive.

Holes are written as the enclosed regions themselves, not as OpenCV's hole contours
(`RETR_CCOMP`): a hole contour runs through the centres of the *enclosing* region's pixels, so
painting it as background would erase a one-pixel ring of that region around every hole.

Points: a polygon through the centres of a region's outer boundary pixels (OpenCV's contour,
integer pixel coordinates) is filled by labelme's polygon filler to exactly that region's pixels
plus what it encloses; `cv2.approxPolyDP(epsilon)` then moves the outline by at most `epsilon`
pixels, so per region the tolerance is lowered until the result is within `max_error`.
An outline that touches itself (regions joined by a diagonal pinch) is cut into its loops, one
shape each: labelme's filler mis-fills self-touching polygons.

Known limit: a one-pixel-wide region traces a degenerate (zero-area) outline. It is still written
as a polygon (first point repeated up to labelme's minimum of 3 points) and labelme fills it to
its pixels, except that its corner rule adds a pixel at some diagonal steps (measured: at most
4 pixels on a 60-pixel slanted line). Two pixels wide and more, exact outlines (`epsilon=0`)
come back pixel for pixel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from segcore.data.classes import BACKGROUND_NAME, IGNORE_NAME, ClassTable
from segcore.data.masks import check_index_mask
from segcore.data.shapes import shape_to_bool_mask
from segcore.errors import MaskError
from segcore.io.atomic import atomic_write_bytes

_MIN_EPSILON = 0.2  # below this approxPolyDP drops little beyond collinear points: use the exact outline

LABELME_VERSION = "5.5.0"
"""The labelme file-format version written; labelme warns on a different major version only."""


def mask_to_labelme(
    mask: np.ndarray,
    table: ClassTable,
    image_path: str,
    image_shape: tuple[int, ...] | None = None,
    *,
    epsilon: float = 1.0,
    min_area: int = 0,
    max_error: float = 0.01,
    include_ignore: bool = True,
) -> dict[str, Any]:
    """labelme's JSON document (as a dict) for an index mask.

    `image_path` is written as `imagePath` as given (make it relative to the JSON's folder;
    `write_labelme_json` does). `image_shape` ((h, w) or an image's shape) must match the mask.
    `epsilon`: the largest `cv2.approxPolyDP` tolerance in pixels (0 keeps every boundary pixel).
    Per region it is halved (then 0) until the simplified outline fills the same pixels as the
    exact one but for at most `max_error` of them: big smooth regions get few points, small and
    thin ones stay faithful (on a staircase boundary any chord drops or adds pixel centres).
    `min_area`: regions of fewer pixels are not written (a dropped hole is then filled by the
    region around it, a dropped island by what lies under it).
    """
    check_index_mask(mask, table)
    height, width = mask.shape
    if image_shape is not None and tuple(image_shape[:2]) != (height, width):
        raise MaskError(f"mask size {width}x{height} differs from image size {image_shape[1]}x{image_shape[0]}")
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    if not include_ignore:
        mask = np.where(mask == table.ignore_index, 0, mask).astype(np.uint8)

    regions: list[tuple[float, int, str, list[np.ndarray]]] = []
    names = labelme_names(table)
    for value in np.unique(mask).tolist():
        label = IGNORE_NAME if value == table.ignore_index else names[value]
        binary = (mask == value).astype(np.uint8)
        # The canvas already holds class 0 outside every shape: only enclosed class-0 regions
        # (holes, 4-connected as OpenCV's holes are) need shapes.
        enclosed_only = value == 0
        connectivity = 4 if enclosed_only else 8
        for contour, pixels in _region_outlines(binary, connectivity=connectivity, enclosed_only=enclosed_only):
            if pixels < max(min_area, 1):
                continue
            loops = _simplified_loops(contour, epsilon, max_error)
            regions.append((float(cv2.contourArea(contour)), pixels, label, loops))

    # Containers before what they contain (strictly larger area); ties are disjoint regions.
    regions.sort(key=lambda r: (-r[0], -r[1]))
    shapes = [_polygon_shape(label, loop) for _, _, label, loops in regions for loop in loops]
    return {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": None,
        "imageHeight": int(height),
        "imageWidth": int(width),
    }


def write_labelme_json(
    path: str | Path,
    mask: np.ndarray,
    table: ClassTable,
    image_path: str | Path,
    image_shape: tuple[int, ...] | None = None,
    *,
    epsilon: float = 1.0,
    min_area: int = 0,
    max_error: float = 0.01,
    include_ignore: bool = True,
) -> dict[str, Any]:
    """Write `mask` as a labelme JSON file at `path`, atomically; returns the document.

    `image_path` is the image file's path (absolute, or relative to the current directory);
    the file gets it relative to its own folder, with forward slashes, as labelme expects.
    """
    path = Path(path)
    doc = mask_to_labelme(
        mask,
        table,
        relative_image_path(image_path, path.parent),
        image_shape,
        epsilon=epsilon,
        min_area=min_area,
        max_error=max_error,
        include_ignore=include_ignore,
    )
    atomic_write_bytes(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return doc


def relative_image_path(image_path: str | Path, json_dir: str | Path) -> str:
    """`image_path` relative to `json_dir` in forward slashes (absolute where no relative path exists)."""
    image_abs = os.path.abspath(image_path)
    try:
        rel = os.path.relpath(image_abs, os.path.abspath(json_dir))
    except ValueError:  # Windows: another drive
        rel = image_abs
    return Path(rel).as_posix()


def labelme_names(table: ClassTable) -> list[str]:
    """The class names as labelme has them: class 0 is always `_background_` (labelme2voc.py asserts it)."""
    return [BACKGROUND_NAME, *table.names[1:]]


def labelme_labels_text(table: ClassTable) -> str:
    """labelme's labels.txt for `table`: `__ignore__`, then one class name per line (index order)."""
    return "\n".join([IGNORE_NAME, *labelme_names(table)]) + "\n"


def write_labelme_labels(path: str | Path, table: ClassTable) -> None:
    atomic_write_bytes(path, labelme_labels_text(table).encode("utf-8"))


def _region_outlines(binary: np.ndarray, *, connectivity: int, enclosed_only: bool):
    """(outer contour in image coordinates, pixel count) of each connected region of `binary`."""
    height, width = binary.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=connectivity)
    for k in range(1, count):
        x, y, w, h, pixels = (int(v) for v in stats[k])
        if enclosed_only and (x == 0 or y == 0 or x + w == width or y + h == height):
            continue  # touches the border: nothing can enclose it, the canvas already has it
        crop = (labels[y : y + h, x : x + w] == k).astype(np.uint8)
        # A connected region has exactly one outer boundary (4-connected regions are 8-connected too).
        contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE, offset=(x, y))
        yield max(contours, key=len), pixels


def _split_loops(points: np.ndarray) -> list[np.ndarray]:
    """Cut a closed outline at the vertices it passes twice into simple loops.

    OpenCV walks a region joined by a diagonal pinch, or with a one-pixel spur, through the
    same pixel twice; Pillow's filler (corner rules) mis-fills such self-touching polygons by
    a few pixels, while each loop on its own fills exactly.
    """
    stack: list[tuple[int, int]] = []
    where: dict[tuple[int, int], int] = {}
    loops: list[list[tuple[int, int]]] = []
    for p in map(tuple, points.tolist()):
        i = where.get(p)
        # Only loops that enclose area are cut off: a spur (out and back along the same pixels)
        # fills correctly inside its polygon, and cutting it would make one shape per pixel.
        if i is not None and cv2.contourArea(np.array(stack[i:], dtype=np.int32)) > 0:
            loops.append(stack[i:])
            for q in stack[i + 1 :]:
                where.pop(q, None)
            del stack[i + 1 :]
        else:
            where[p] = len(stack)
            stack.append(p)
    loops.append(stack)
    kept = [loop for loop in loops if len(loop) > 1]  # a lone vertex lies on another loop
    return [np.array(loop, dtype=np.int32) for loop in (kept or loops[-1:])]


def _simplified_loops(contour: np.ndarray, epsilon: float, max_error: float) -> list[np.ndarray]:
    loops = _split_loops(contour.reshape(-1, 2))
    if epsilon <= 0:
        return loops
    points = contour.reshape(-1, 2)
    origin = points.min(axis=0)
    width, height = points.max(axis=0) - origin + 1
    # What the exact outline stands for: the region and everything it encloses.
    target = np.zeros((int(height), int(width)), dtype=np.uint8)
    cv2.drawContours(target, [(points - origin).reshape(-1, 1, 2)], -1, 1, thickness=cv2.FILLED)
    target = target.astype(bool)
    budget = max_error * int(target.sum())
    eps = epsilon
    while eps >= _MIN_EPSILON:
        simple = [_approx(loop, eps) for loop in loops]
        filled = np.zeros_like(target)
        for loop in simple:  # labelme's own filler: thin slivers fill differently in cv2
            filled |= shape_to_bool_mask({"points": (loop - origin).tolist(), "shape_type": "polygon"}, target.shape)
        if np.count_nonzero(filled != target) <= budget:
            return simple
        eps /= 2
    return loops


def _approx(loop: np.ndarray, eps: float) -> np.ndarray:
    if len(loop) <= 3:
        return loop
    return cv2.approxPolyDP(loop.reshape(-1, 1, 2), eps, True).reshape(-1, 2)


def _polygon_shape(label: str, points: np.ndarray) -> dict[str, Any]:
    pts = [[float(x), float(y)] for x, y in points.tolist()]
    while len(pts) < 3:  # a 1-2 pixel or straight one-pixel-wide region: a degenerate polygon
        pts.append(list(pts[0]))
    return {"label": label, "points": pts, "group_id": None, "shape_type": "polygon", "flags": {}}
