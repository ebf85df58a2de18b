"""labelme JSON annotations, rasterised the way labelme's own `labelme2voc.py` does it.

A folder of `*.json` files (one per image) becomes a dataset whose masks equal, pixel for pixel,
the `SegmentationClassNpy` arrays that labelme's converter writes (`-1` there is our 255).

Shapes are rasterised by `segcore.data.shapes` exactly as labelme draws them;
`__ignore__` shapes paint the ignore index (labelme: -1), `_background_` is class 0.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from segcore.data.classes import (
    BACKGROUND_NAME,
    IGNORE_NAME,
    ClassTable,
    read_labels_file,
)
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.readers.folder import warn_unused_options
from segcore.data.shapes import shape_problem, shapes_to_mask
from segcore.errors import DatasetError, ImageReadError, LabelFileError
from segcore.io.images import decode_image, read_image

log = logging.getLogger(__name__)

_EXIF_ORIENTATION = 0x0112


# --------------------------------------------------------------------------------------------
# EXIF orientation (labelme shows and annotates photos upright)
# --------------------------------------------------------------------------------------------


def apply_exif_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a decoded image upright the way labelme does for an EXIF orientation tag (1..8)."""
    if orientation == 2:
        return image[:, ::-1].copy()
    if orientation == 3:
        return image[::-1, ::-1].copy()
    if orientation == 4:
        return image[::-1].copy()
    if orientation == 5:
        return np.ascontiguousarray(np.swapaxes(image, 0, 1))
    if orientation == 6:
        return np.ascontiguousarray(np.rot90(image, -1))
    if orientation == 7:
        return np.ascontiguousarray(np.rot90(image, 1)[:, ::-1])
    if orientation == 8:
        return np.ascontiguousarray(np.rot90(image, 1))
    return image


def _image_header(data: bytes | Path, source: Path) -> tuple[int, int, int]:
    """(height, width, exif orientation) from an image's header, without decoding the pixels."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            width, height = im.size
            try:
                orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1))
            except (OSError, ValueError, SyntaxError, KeyError, TypeError, struct.error):
                orientation = 1  # an unreadable EXIF block: take the photo as stored
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageReadError(source, f"cannot read the image header ({exc})") from exc
    if orientation in (5, 6, 7, 8):
        height, width = width, height
    return height, width, orientation


# --------------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------------


@dataclass
class _LabelFile:
    path: Path
    shapes: list[dict]
    image_path: Path | None  # the image file used, or None when the image is embedded
    height: int
    width: int
    orientation: int


def _load_label_file(path: Path) -> _LabelFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabelFileError(path, f"cannot open file ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelFileError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise LabelFileError(path, "the top level must be a JSON object")
    shapes = data.get("shapes")
    if not isinstance(shapes, list):
        raise LabelFileError(path, "'shapes' must be a list")
    for n, shape in enumerate(shapes):
        problem = shape_problem(shape)
        if problem:
            label = shape.get("label") if isinstance(shape, dict) else None
            raise LabelFileError(path, f"shape {n} ({label!r}): {problem}")

    image_path: Path | None = None
    raw_path = data.get("imagePath")
    if isinstance(raw_path, str) and raw_path:
        candidate = path.parent / PureWindowsPath(raw_path).as_posix()
        if candidate.is_file():
            image_path = candidate
    if image_path is not None:
        height, width, orientation = _image_header(image_path, image_path)
    elif isinstance(data.get("imageData"), str) and data["imageData"]:
        embedded = _b64decode(data["imageData"], path)
        height, width, _ = _image_header(embedded, path)
        orientation = 1  # labelme's converter uses embedded image data as stored
    else:
        raise LabelFileError(path, f"its image {raw_path!r} was not found beside it and it embeds no imageData")

    for key, actual in (("imageHeight", height), ("imageWidth", width)):
        if isinstance(data.get(key), int) and data[key] != actual:
            log.warning("%s: %s is %s but the image has %s; using the image's size", path, key, data[key], actual)
    return _LabelFile(path, shapes, image_path, height, width, orientation)


def _b64decode(text: str, path: Path) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise LabelFileError(path, f"'imageData' is not valid base64 ({exc})") from exc


def _embedded_image(path: Path) -> np.ndarray:
    try:
        text = json.loads(path.read_text(encoding="utf-8"))["imageData"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise LabelFileError(path, f"cannot read its embedded imageData ({exc})") from exc
    return decode_image(_b64decode(text, path), f"{path} (imageData)")


def _oriented_image(path: Path, orientation: int) -> np.ndarray:
    return apply_exif_orientation(read_image(path), orientation)


def _mask(shapes: list[dict], shape_hw: tuple[int, int], table: ClassTable) -> np.ndarray:
    return shapes_to_mask(shapes, shape_hw, table)


def _inferred_table(files: list[_LabelFile]) -> ClassTable:
    names = [BACKGROUND_NAME]
    for f in files:
        for shape in f.shapes:
            if shape["label"] not in names and shape["label"] != IGNORE_NAME:
                names.append(shape["label"])
    return ClassTable.from_names(names)


@register_reader("labelme")
def read_labelme(
    root: Path,
    *,
    class_table: ClassTable | None = None,
    labels: str | Path | None = None,
    **unused: Any,
) -> LabelledDataset:
    """A folder of labelme JSON files (not searched recursively), one sample per file.

    Class table: `class_table`, else the labels file `labels` (labelme's labels.txt:
    `__ignore__`, `_background_`, then the classes), else `_background_` followed by the shape
    labels in order of first appearance (files sorted by name).
    """
    warn_unused_options("labelme", unused)
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of labelme JSON files")
    files = [_load_label_file(p) for p in sorted(root.glob("*.json")) if p.is_file()]
    if class_table is None:
        class_table = read_labels_file(labels) if labels is not None else _inferred_table(files)

    known = set(class_table.names) | {IGNORE_NAME}
    samples = []
    for f in files:
        for shape in f.shapes:
            if shape["label"] not in known:
                raise DatasetError(
                    f"{f.path}: shape label {shape['label']!r} is not in the class table "
                    f"({', '.join(class_table.names)}); add it to the labels file"
                )
        if f.image_path is None:
            image_loader = functools.partial(_embedded_image, f.path)
        elif f.orientation != 1:
            image_loader = functools.partial(_oriented_image, f.image_path, f.orientation)
        else:
            image_loader = None
        samples.append(
            LabelledSample(
                name=f.path.stem,
                image_path=f.image_path,
                mask_loader=functools.partial(_mask, f.shapes, (f.height, f.width), class_table),
                image_loader=image_loader,
            )
        )
    return LabelledDataset(class_table=class_table, samples=samples, source=root, format="labelme")
