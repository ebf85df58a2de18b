"""`segcore boxes-to-masks`: turn box labels (x, y, w, h) into index masks, optionally refined.

BOXES.json looks like::

    {"classes": ["background", "sample", "dust"],
     "boxes": {"a.png": [10, 20, 200, 150],
               "b.png": [[5, 5, 40, 40, "dust"], [60, 10, 300, 280, "sample"]]}}

`classes` names the classes, background first (index 0). A bare `[x, y, w, h]`, alone or in a
list, is one box of the first non-background class. Boxes follow OpenCV's selectROI: top-left
corner, width, height, in pixels. Only the images named in `boxes` get a mask.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from numbers import Real
from pathlib import Path

from segcore.cli.bars import bar_over
from segcore.data.boxes import Box, boxes_to_mask
from segcore.data.classes import ClassTable, resolve_class_table
from segcore.data.masks import write_palette_png
from segcore.data.refine import refine_boxes_to_mask
from segcore.errors import DatasetError
from segcore.io.images import is_file_or_broken_link, read_image

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "boxes-to-masks",
        help="turn box labels into index masks (palette PNGs), optionally refined to the objects",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--images", type=Path, required=True, metavar="DIR", help="folder holding the images")
    parser.add_argument("--boxes", type=Path, required=True, metavar="BOXES.json", help="the box labels")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where masks and classes.txt go")
    parser.add_argument("--refine", action="store_true", help="tighten each box to the object inside it (GrabCut)")
    parser.add_argument(
        "--labels",
        metavar="LABELS",
        help="class table (labels file or voc/camvid/landcover) giving names and colours; "
        "BOXES.json may then omit 'classes'",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    table = resolve_class_table(args.labels) if args.labels else None
    table, boxes = load_boxes_file(args.boxes, table)
    paths = _image_paths(args.images, boxes)
    args.out.mkdir(parents=True, exist_ok=True)
    for key, path in bar_over(paths.items(), "image"):
        image = read_image(path)
        height, width = image.shape[:2]
        outside = [b for b in boxes[key] if b.misplaced(width, height)]
        if outside:
            raise DatasetError(f"{key}: box {outside[0]} lies or reaches far outside the {width}x{height} image")
        if args.refine:
            mask = refine_boxes_to_mask(image, boxes[key])
        else:
            mask = boxes_to_mask((height, width), boxes[key])
        write_palette_png(args.out / f"{path.stem}.png", mask, table)
        log.info("%s: %d box(es) -> %s.png", key, len(boxes[key]), path.stem)
    table.write(args.out / "classes.txt")
    print(f"wrote {len(paths)} mask(s) and classes.txt to {args.out}")
    return 0


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


def _image_paths(images: Path, boxes: dict[str, list[Box]]) -> dict[str, Path]:
    """Each boxed image's path, checked up front so a typo fails before any mask is written."""
    if not images.is_dir():
        raise DatasetError(f"image folder {images} does not exist")
    paths = {key: images / key for key in boxes}
    # A link that loops or dangles is no typo: reading it names the problem.
    missing = sorted(key for key, path in paths.items() if not is_file_or_broken_link(path))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(f"boxes name {len(missing)} image(s) not in {images}: {shown}")
    stems: dict[str, str] = {}
    for key, path in paths.items():
        if path.stem in stems:
            raise DatasetError(f"{stems[path.stem]} and {key} would both write the mask {path.stem}.png")
        stems[path.stem] = key
    return paths
