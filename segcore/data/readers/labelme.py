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
import json
import logging
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np

from segcore.data.classes import (
    BACKGROUND_NAME,
    IGNORE_NAME,
    ClassTable,
    read_labels_file,
)
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample, unreadable_sample
from segcore.data.readers.folder import warn_unused_options
from segcore.data.shapes import shape_problem, shapes_to_mask
from segcore.errors import DatasetError, LabelFileError, SegcoreError
from segcore.io.header import read_file_header, read_header
from segcore.io.images import decode_image, is_file_or_broken_link

log = logging.getLogger(__name__)

LABELS_TXT = "labels.txt"

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


def _load_label_file(path: Path) -> _LabelFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabelFileError(path, f"cannot open file ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: absurd nesting
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
        height, width = read_file_header(image_path).upright_shape  # labelme annotates photos upright
    elif isinstance(data.get("imageData"), str) and data["imageData"]:
        embedded = read_header(_b64decode(data["imageData"], path), f"{path} (imageData)")
        height, width = embedded.height, embedded.width  # labelme's converter uses it as stored
    else:
        raise LabelFileError(path, f"its image {raw_path!r} was not found beside it and it embeds no imageData")

    for key, actual in (("imageHeight", height), ("imageWidth", width)):
        if isinstance(data.get(key), int) and data[key] != actual:
            log.warning("%s: %s is %s but the image has %s; using the image's size", path, key, data[key], actual)
    return _LabelFile(path, shapes, image_path, height, width)


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
    return decode_image(_b64decode(text, path), f"{path} (imageData)", upright=False)


def _mask(path: Path, shapes: list[dict], shape_hw: tuple[int, int], table: ClassTable) -> np.ndarray:
    try:
        return shapes_to_mask(shapes, shape_hw, table)
    except DatasetError as exc:  # e.g. a mask shape's bitmap: say which file it is in
        raise LabelFileError(path, str(exc)) from exc


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
    `__ignore__`, `_background_`, then the classes), else `labels.txt` in `root` (the labelme
    writer leaves it), else `_background_` followed by the shape labels in order of first
    appearance (files sorted by name).
    """
    warn_unused_options("labelme", unused)
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of labelme JSON files")
    loaded: list[_LabelFile | LabelledSample] = []
    for path in sorted(p for p in root.glob("*.json") if is_file_or_broken_link(p)):
        try:
            loaded.append(_load_label_file(path))
        except SegcoreError as exc:  # one bad file is skipped and reported, as an unreadable image is
            loaded.append(unreadable_sample(path.stem, str(exc)))
    files = [f for f in loaded if isinstance(f, _LabelFile)]
    if labels is None and (root / LABELS_TXT).is_file():
        labels = root / LABELS_TXT
    if class_table is None:
        class_table = read_labels_file(labels) if labels is not None else _inferred_table(files)

    known = set(class_table.names) | {IGNORE_NAME}
    for f in files:
        for shape in f.shapes:
            if shape["label"] not in known:
                raise DatasetError(
                    f"{f.path}: shape label {shape['label']!r} is not in the class table "
                    f"({', '.join(class_table.names)}); add it to the labels file"
                )
    samples = [_sample(f, class_table) if isinstance(f, _LabelFile) else f for f in loaded]
    return LabelledDataset(class_table=class_table, samples=samples, source=root, format="labelme")


def _sample(f: _LabelFile, table: ClassTable) -> LabelledSample:
    return LabelledSample(
        name=f.path.stem,
        image_path=f.image_path,
        mask_loader=functools.partial(_mask, f.path, f.shapes, (f.height, f.width), table),
        image_loader=functools.partial(_embedded_image, f.path) if f.image_path is None else None,
    )
