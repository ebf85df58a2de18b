"""COCO segmentations to and from masks, through pycocotools (the reference implementation).

Writing: one annotation per class present in an index mask, a compressed RLE with area and bbox.
Reading: a COCO `segmentation` is a list of polygons (`[x1, y1, x2, y2, ...]`), an uncompressed RLE
(`{"size": [h, w], "counts": [ints]}`, usually with `iscrowd=1`) or a compressed RLE (`counts` a
string). pycocotools decodes RLE counts without checking that they add up to h*w (it then returns
uninitialised memory), so every RLE is checked here first and a malformed one is a `DatasetError`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from segcore.data.classes import ClassTable
from segcore.data.polygons import reachable_polygon
from segcore.errors import DatasetError

MIN_POLYGON_COORDS = 6
"""A polygon needs three points; pycocotools reads a 4-number list as a box, not as a polygon."""


def mask_annotations(mask: np.ndarray, table: ClassTable, *, image_id: int, first_id: int) -> list[dict[str, Any]]:
    """One annotation per class present in an index mask, ids from `first_id`; class 0 and ignore are left out."""
    present = np.flatnonzero(np.bincount(mask.ravel(), minlength=256)).tolist()
    values = [v for v in present if v != 0 and v != table.ignore_index]
    return [
        region_annotation(mask == value, ann_id=first_id + n, image_id=image_id, category_id=value)
        for n, value in enumerate(values)
    ]


def categories(table: ClassTable) -> list[dict[str, Any]]:
    """COCO categories for classes 1..n-1, id = class index (class 0, the background, is no category)."""
    return [{"id": c.index, "name": c.name, "supercategory": ""} for c in table.classes[1:]]


def region_annotation(binary: np.ndarray, *, ann_id: int, image_id: int, category_id: int) -> dict[str, Any]:
    """One COCO annotation (compressed RLE, `iscrowd=0`) with area and bbox from pycocotools."""
    rle = mask_utils.encode(np.asfortranarray(binary, dtype=np.uint8))
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")},
        "area": int(mask_utils.area(rle)),
        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        "iscrowd": 0,
    }


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """The H x W boolean mask of a COCO segmentation.

    Raises `DatasetError` for anything pycocotools could not read or would misread, a polygon of fewer
    than three points among them (it encloses nothing: labelme refuses those too). Vertices far outside
    the image are clipped first (`segcore.data.polygons`).
    """
    if isinstance(segmentation, list):
        polygons = [_reachable(_checked_polygon(p), height, width) for p in segmentation]
        polygons = [p for p in polygons if len(p) >= MIN_POLYGON_COORDS]  # none left: wholly far outside
        if not polygons:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict):
        rle = _checked_rle(segmentation, height, width)
    else:
        kind = type(segmentation).__name__
        raise DatasetError(f"a segmentation must be a list of polygons or an RLE dict, got {kind}")
    return mask_utils.decode(rle).astype(bool)


def _checked_polygon(polygon: Any) -> list[float]:
    if not isinstance(polygon, list) or len(polygon) % 2:
        raise DatasetError("a polygon must be a flat list of x, y numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in polygon):
        raise DatasetError("a polygon holds a value that is not a finite number")
    if len(polygon) < MIN_POLYGON_COORDS:
        raise DatasetError(f"a polygon needs at least 3 points, got {len(polygon) // 2}")
    return [float(v) for v in polygon]


def _reachable(polygon: list[float], height: int, width: int) -> list[float]:
    """The flat polygon with vertices far outside the image clipped (pycocotools' integers overflow)."""
    points = reachable_polygon(list(zip(polygon[0::2], polygon[1::2])), height, width)
    return [v for point in points for v in point]


def _checked_rle(rle: dict[str, Any], height: int, width: int) -> dict[str, Any]:
    """The RLE in the form `mask_utils.decode` takes, once its size and counts are known to be sound."""
    size, counts = rle.get("size"), rle.get("counts")
    if size != [height, width]:
        raise DatasetError(f"RLE size {size} is not the image's [height, width] [{height}, {width}]")
    if isinstance(counts, str):
        runs = compressed_counts(counts)
    elif isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        runs = counts
    else:
        raise DatasetError("RLE counts must be a string (compressed) or a list of integers")
    if any(c < 0 for c in runs) or sum(runs) != height * width:
        raise DatasetError(f"RLE counts do not cover the {height}x{width} image exactly")
    if isinstance(counts, str):
        return {"size": size, "counts": counts.encode("ascii")}
    return mask_utils.frPyObjects({"size": size, "counts": counts}, height, width)


def compressed_counts(text: str) -> list[int]:
    """The run lengths of a compressed RLE string (pycocotools' `rleFrString`, in Python, to check them)."""
    if not all(48 <= ord(ch) < 112 for ch in text):
        raise DatasetError("compressed RLE counts hold a character outside '0'..'o'")
    counts: list[int] = []
    p = 0
    try:
        while p < len(text):
            x = k = 0
            more = True
            while more:
                c = ord(text[p]) - 48
                x |= (c & 0x1F) << (5 * k)
                more = bool(c & 0x20)
                p += 1
                k += 1
                if not more and c & 0x10:
                    x |= -1 << (5 * k)
            if len(counts) > 2:
                x += counts[-2]
            counts.append(x)
    except IndexError:  # the last character asked for more
        raise DatasetError("compressed RLE counts end in the middle of a number") from None
    return counts

