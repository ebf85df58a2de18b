"""BOXES.json: box labels (x, y, w, h, as OpenCV's selectROI gives them) per image file, with the class names.

    {"classes": ["background", "sample", "dust"],
     "boxes": {"a.png": [10, 20, 200, 150],
               "b.png": [[5, 5, 40, 40, "dust"], [60, 10, 300, 280, "sample"]]}}

`classes` names the classes, background first (index 0). A bare `[x, y, w, h]`, alone or in a
list, is one box of the first non-background class. Read by `segcore boxes-to-masks` and, as the
`boxes` dataset format (a folder of images with `boxes.json` beside them), by every import.
"""

from __future__ import annotations

import json
import math
from numbers import Real
from pathlib import Path

from segcore.data.boxes import Box
from segcore.data.classes import ClassTable
from segcore.errors import DatasetError

BOXES_FILE = "boxes.json"
"""The boxes file a folder of images carries for the `boxes` dataset format."""


def load_boxes_file(path: Path, table: ClassTable | None = None) -> tuple[ClassTable, dict[str, list[Box]]]:
    """Parse BOXES.json into a class table and boxes per image file name; `table` overrides its classes."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"cannot read boxes file {path}: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"boxes file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("boxes"), dict):
        raise DatasetError(f"boxes file {path} needs an object with a 'boxes' object: {{file name: boxes}}")
    table = _class_table(data.get("classes"), table, path)
    if table.num_classes < 2:
        raise DatasetError(f"{path}: 'classes' needs the background and at least one object class")
    return table, {name: _parse_boxes(name, value, table) for name, value in data["boxes"].items()}


def _class_table(names: object, table: ClassTable | None, path: Path) -> ClassTable:
    if names is None:
        if table is None:
            raise DatasetError(f"{path} has no 'classes' list; add one (background first) or pass --labels")
        return table
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise DatasetError(f"{path}: 'classes' must be a list of class names, background first")
    if table is not None and table.names != names:
        raise DatasetError(f"{path}: 'classes' {names} differ from the --labels classes {table.names}")
    return table or ClassTable.from_names(names)


def _parse_boxes(name: str, value: object, table: ClassTable) -> list[Box]:
    if not isinstance(value, list):
        raise DatasetError(f"{name}: expected [x, y, w, h] or a list of [x, y, w, h, class], got {value!r}")
    entries = [value] if value and all(_is_number(v) for v in value) else value
    return [_parse_box(name, entry, table) for entry in entries]


def _parse_box(name: str, entry: object, table: ClassTable) -> Box:
    if not isinstance(entry, list) or len(entry) not in (4, 5) or not all(_is_number(v) for v in entry[:4]):
        raise DatasetError(f"{name}: malformed box {entry!r}; expected [x, y, w, h] or [x, y, w, h, class]")
    if not all(math.isfinite(v) for v in entry[:4]):  # JSON as Python reads it allows NaN and Infinity
        raise DatasetError(f"{name}: box {entry!r} has a coordinate that is not a finite number")
    x, y, w, h = (int(round(v)) for v in entry[:4])
    if w <= 0 or h <= 0:
        raise DatasetError(f"{name}: box {entry!r} has no area (width and height must be positive)")
    if len(entry) == 4:
        return Box(x, y, w, h, 1)
    if not isinstance(entry[4], str):
        raise DatasetError(f"{name}: box {entry!r} names its class with {entry[4]!r}, not a class name")
    return Box(x, y, w, h, table.index_of(entry[4]))


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)
