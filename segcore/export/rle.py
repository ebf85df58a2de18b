"""COCO run-length encoding (uncompressed counts) of binary and index masks.

As COCO and pycocotools define it: the mask is read in column-major (Fortran) order, `counts`
alternate runs of 0 and 1 starting with 0 (a first count of 0 when the first pixel is 1), and
`size` is `[height, width]`. pycocotools' `frPyObjects` accepts these dicts as they are.

A file for an index mask (`mask_to_rle_doc`) is a COCO annotation file for its one image
(`pycocotools.coco.COCO` loads it) with one annotation per class present, background included:
    {"size": [h, w], "classes": [names], "ignore_index": 255,
     "images": [{"id": 1, "file_name": ..., "height": h, "width": w}],
     "categories": [{"id": i, "name": name}, ...],           # every class, id = class index
     "annotations": [{"id": k, "image_id": 1, "category_id": i, "category_name": name, "iscrowd": 0,
                      "area": n, "bbox": [x, y, w, h], "segmentation": {"size": [h, w], "counts": [...]}}]}
Pixels no annotation covers are ignore pixels (`rle_doc_to_mask`). For a dataset-wide COCO file,
write the masks with `write_dataset(..., "coco")`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segcore.data.classes import ClassTable
from segcore.data.coco import region_annotation
from segcore.data.masks import check_index_mask
from segcore.errors import MaskError


def encode_rle(binary: np.ndarray) -> dict[str, Any]:
    """COCO uncompressed RLE of a 2-D boolean (or 0/non-0) mask."""
    if binary.ndim != 2:
        raise MaskError(f"RLE needs a 2-D mask, got shape {binary.shape}")
    height, width = binary.shape
    flat = np.asarray(binary, dtype=bool).ravel(order="F")
    # Positions where the value changes, plus both ends: run lengths are their differences.
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)  # counts always start with a run of zeros
    return {"size": [int(height), int(width)], "counts": [int(c) for c in counts]}


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """The boolean H x W mask of a COCO uncompressed RLE dict."""
    try:
        height, width = (int(v) for v in rle["size"])
        counts = np.asarray(rle["counts"], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as exc:
        raise MaskError(f"not a COCO uncompressed RLE ({exc}); compressed string counts are not supported") from exc
    if counts.ndim != 1 or (counts < 0).any() or int(counts.sum()) != height * width:
        raise MaskError(f"RLE counts sum to {int(counts.sum())}, expected {height}*{width}={height * width}")
    values = np.arange(counts.size) % 2 == 1  # runs alternate 0, 1, 0, ...
    flat = np.repeat(values, counts)
    return flat.reshape((height, width), order="F")


def mask_to_rle_doc(mask: np.ndarray, table: ClassTable, file_name: str = "") -> dict[str, Any]:
    """A COCO file of one image (`file_name`): one RLE annotation per class present, background included."""
    check_index_mask(mask, table)
    height, width = mask.shape
    present = np.bincount(mask.ravel(), minlength=256)
    annotations = []
    for index, name in enumerate(table.names):
        if present[index]:
            binary = mask == index
            # id, area and bbox as pycocotools computes them; the counts uncompressed, readable without it.
            annotation = region_annotation(binary, ann_id=len(annotations) + 1, image_id=1, category_id=index)
            annotations.append({**annotation, "category_name": name, "segmentation": encode_rle(binary)})
    return {
        "size": [int(height), int(width)],
        "classes": table.names,
        "ignore_index": int(table.ignore_index),
        "images": [{"id": 1, "file_name": file_name, "height": int(height), "width": int(width)}],
        "categories": [{"id": index, "name": name} for index, name in enumerate(table.names)],
        "annotations": annotations,
    }


def rle_doc_to_mask(doc: dict[str, Any]) -> np.ndarray:
    """The index mask of a `mask_to_rle_doc` document; uncovered pixels get the ignore index."""
    try:
        height, width = (int(v) for v in doc["size"])
        ignore = int(doc.get("ignore_index", 255))
        annotations = doc["annotations"]
    except (KeyError, TypeError, ValueError) as exc:
        raise MaskError(f"malformed RLE document ({exc})") from exc
    out = np.full((height, width), ignore, dtype=np.uint8)
    for ann in annotations:
        binary = decode_rle(ann["segmentation"])
        if binary.shape != out.shape:
            raise MaskError(f"annotation of class {ann.get('category_id')} is {binary.shape}, the document {out.shape}")
        out[binary] = int(ann["category_id"])
    return out
