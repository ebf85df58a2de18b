"""`segcore boxes-to-masks`: turn box labels (x, y, w, h) into index masks, optionally refined.

BOXES.json is `segcore.data.boxes_file`'s format: the class names, background first, and boxes
(top-left corner, width, height in pixels, as OpenCV's selectROI gives them) per image file. Only
the images named in `boxes` get a mask.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from segcore.cli.bars import bar_over
from segcore.data import refine
from segcore.data.boxes import Box, boxes_to_mask
from segcore.data.boxes_file import load_boxes_file
from segcore.data.classes import resolve_class_table
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


class _NameTheImage(logging.Filter):
    """Puts the image being refined before each of the refinement's warnings (they name only the box)."""

    def __init__(self) -> None:
        super().__init__()
        self.image = ""

    def filter(self, record: logging.LogRecord) -> bool:
        # Formatted here, the arguments dropped: a "%" in a file name must not read as a placeholder.
        record.msg, record.args = f"{self.image}: {record.getMessage()}", None
        return True


def run(args: argparse.Namespace) -> int:
    name_the_image = _NameTheImage()
    refine.log.addFilter(name_the_image)
    try:
        return _run(args, name_the_image)
    finally:
        refine.log.removeFilter(name_the_image)


def _run(args: argparse.Namespace, name_the_image: _NameTheImage) -> int:
    table = resolve_class_table(args.labels) if args.labels else None
    table, boxes = load_boxes_file(args.boxes, table)
    paths = _image_paths(args.images, boxes)
    args.out.mkdir(parents=True, exist_ok=True)
    for key, path in bar_over(paths.items(), "image"):
        name_the_image.image = key
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
