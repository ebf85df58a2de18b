"""Guess a dataset folder's format from its layout, looking at a handful of files at most.

    found = detect_format("../shared/datasets/camvid")
    found.format, found.reason   # ('camvid', 'train.txt lists image/annotation pairs')

Only the file system is inspected (names, a JSON file or two, one or two mask headers); a folder
of thousands of images answers in milliseconds. Anything odd (missing, unreadable, empty, a file)
gives None rather than an error: the answer is a suggestion, the reader has the final word.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segcore.data.boxes_file import BOXES_FILE
from segcore.errors import ImageReadError
from segcore.io.header import read_file_header
from segcore.io.images import is_image_file

SPLITS = ("train", "val", "test")  # as camvid.py
MAX_JSON_FILES = 3
MAX_JSON_BYTES = 64 * 1024 * 1024  # labelme files embed their image; larger ones (COCO train2017) are not parsed here
MAX_MASK_FILES = 2
LIST_HEAD_BYTES = 4096
# Mask modes read_index_mask takes as class indices; RGB(A) needs a class table (colormask).
_INDEX_MODES = frozenset({"P", "L", "1", "I", "I;16", "I;16B", "I;16L"})
_COLOUR_MODES = frozenset({"RGB", "RGBA"})
COCO_KEYS = ("images", "annotations", "categories")


@dataclass(frozen=True)
class DetectedFormat:
    """A reader name for `open_dataset` and the one-line reason it was chosen."""

    format: str
    reason: str


def detect_format(root: str | Path) -> DetectedFormat | None:
    """The format whose layout `root` has (first match: voc, voc_boxes, camvid, folder/colormask, boxes, labelme,
    coco)."""
    try:
        root = Path(root)
        if not root.is_dir():
            return None
        for probe in _PROBES:
            found = probe(root)
            if found is not None:
                return found
    except (OSError, ValueError):  # permissions, odd names: no suggestion rather than an error
        return None
    return None


def _voc(root: Path) -> DetectedFormat | None:
    if (root / "JPEGImages").is_dir() and (root / "SegmentationClass").is_dir():
        return DetectedFormat("voc", "JPEGImages/ and SegmentationClass/ found")
    return None


def _voc_boxes(root: Path) -> DetectedFormat | None:
    # Runs after _voc: a VOC root with both masks and boxes is read for its masks.
    if (root / "JPEGImages").is_dir() and _first_files(root / "Annotations", _is_xml, 1):
        return DetectedFormat("voc_boxes", "JPEGImages/ and Annotations/*.xml found (box labels)")
    return None


def _camvid(root: Path) -> DetectedFormat | None:
    for split in SPLITS:
        if _is_pair_list(root / f"{split}.txt"):
            return DetectedFormat("camvid", f"{split}.txt lists image/annotation pairs")
    for split in SPLITS:
        if (root / split).is_dir() and (root / f"{split}annot").is_dir():
            return DetectedFormat("camvid", f"{split}/ and {split}annot/ found")
    return None


def _image_and_mask_folders(root: Path) -> DetectedFormat | None:
    if not ((root / "images").is_dir() and (root / "masks").is_dir()):
        return None
    for mask in _first_files(root / "masks", is_image_file, MAX_MASK_FILES):
        mode = _image_mode(mask)
        if mode in _INDEX_MODES:
            return DetectedFormat("folder", f"images/ and masks/ found; {mask.name} holds class indices")
        if mode in _COLOUR_MODES:
            return DetectedFormat("colormask", f"images/ and masks/ found; {mask.name} is an RGB colour mask")
    return None


def _boxes(root: Path) -> DetectedFormat | None:
    if (root / BOXES_FILE).is_file():
        return DetectedFormat("boxes", f"{BOXES_FILE} (box labels per image) found beside the images")
    return None


def _labelme(root: Path) -> DetectedFormat | None:
    for path in _first_files(root, _is_json, MAX_JSON_FILES):
        if _is_labelme_file(path):
            return DetectedFormat("labelme", f"labelme JSON files found (e.g. {path.name})")
    return None


def _coco(root: Path) -> DetectedFormat | None:
    # Where COCO exports put it: beside the images (ours, Roboflow) or in annotations/ (COCO, CVAT).
    for folder in (root, root / "annotations"):
        for path in _first_files(folder, _is_json, MAX_JSON_FILES):
            if is_coco_document(_json_object(path)):
                return DetectedFormat("coco", f"COCO annotation file found ({path.relative_to(root).as_posix()})")
    return None


_PROBES: tuple[Callable[[Path], DetectedFormat | None], ...] = (
    _voc, _voc_boxes, _camvid, _image_and_mask_folders, _boxes, _labelme, _coco,
)


def is_coco_document(data: object) -> bool:
    """True for a COCO annotation file's content: an object with images, annotations and categories lists."""
    return isinstance(data, dict) and all(isinstance(data.get(key), list) for key in COCO_KEYS)


def _first_files(folder: Path, wanted: Callable[[str], bool], n: int) -> list[Path]:
    """The first `n` files in `folder` by name that `wanted` accepts (hidden ones skipped); [] if unreadable."""
    try:
        with os.scandir(folder) as entries:
            # nsmallest keeps the answer stable without sorting a huge folder's listing.
            names = heapq.nsmallest(
                n, (e.name for e in entries if not e.name.startswith(".") and wanted(e.name) and e.is_file())
            )
    except OSError:
        return []
    return [folder / name for name in names]


def _is_xml(name: str) -> bool:
    return name.lower().endswith(".xml")


def _is_json(name: str) -> bool:
    return name.lower().endswith(".json")


def _is_pair_list(path: Path) -> bool:
    """True when the first non-blank line of `path` names two image files, as CamVid's lists do."""
    try:
        with open(path, "rb") as f:
            head = f.read(LIST_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    line = next((line for line in head.splitlines() if line.strip()), "")
    fields = line.split()
    return len(fields) == 2 and all(is_image_file(field) for field in fields)


def _is_labelme_file(path: Path) -> bool:
    data = _json_object(path)
    return isinstance(data, dict) and isinstance(data.get("shapes"), list) and "imagePath" in data


def _json_object(path: Path) -> object:
    """The parsed file, or None when it is too large to look at here or not JSON."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):  # ValueError: bad JSON or UTF-8; RecursionError: absurd nesting
        return None


def _image_mode(path: Path) -> str | None:
    """The PIL mode from the file's header (pixels are not decoded), or None if it is not a readable image."""
    try:
        return read_file_header(path).mode
    except ImageReadError:  # also above the pixel limit: such a file could not be read anyway
        return None