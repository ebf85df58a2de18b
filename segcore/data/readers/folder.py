"""A plain folder pair: `images/` and `masks/` (index masks: gray or palette PNG), matched by stem.

Also home of the helpers that the other folder-based readers share: indexing image files by
stem and pairing two folders.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import numpy as np

from segcore.data.classes import IGNORE_INDEX, ClassTable, read_labels_file
from segcore.data.masks import read_index_mask
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.errors import DatasetError
from segcore.io.images import IMAGE_SUFFIXES, listed_image

log = logging.getLogger(__name__)

LABELS_FILE = "classes.txt"
# Which file wins when two share a stem (x.jpg and x.png): JPEG first, as VOC has it.
_SUFFIX_RANK = {s: i for i, s in enumerate((".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"))}
assert set(_SUFFIX_RANK) == set(IMAGE_SUFFIXES)


def warn_unused_options(fmt: str, options: dict) -> None:
    """Readers take `**options` so callers may pass one set to any format; say which went unused."""
    if options:
        log.warning("the %s reader ignores option(s) %s", fmt, ", ".join(sorted(options)))


def files_by_stem(folder: Path) -> dict[str, Path]:
    """Image files in `folder` (not recursive, hidden files skipped) by stem, in name order.

    Symbolic links that loop or dangle and folders named like images are kept: reading them reports the problem.

    Where several files share a stem the suffix order .jpg, .jpeg, .png, .tif, .tiff, .bmp decides
    and one warning says how many stems were ambiguous.
    """
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not listed_image(path):
            continue
        found.setdefault(path.stem, []).append(path)
    ambiguous = [stem for stem, paths in found.items() if len(paths) > 1]
    if ambiguous:
        log.warning(
            "%d name(s) in %s have several image files (e.g. %s); using the first of %s",
            len(ambiguous), folder, ", ".join(p.name for p in found[ambiguous[0]]), ", ".join(_SUFFIX_RANK),
        )
    return {stem: min(paths, key=lambda p: _SUFFIX_RANK[p.suffix.lower()]) for stem, paths in found.items()}


def pair_by_stem(root: Path, images_dir: str, masks_dir: str) -> list[tuple[str, Path, Path]]:
    """(stem, image, mask) for every stem found in both folders; orphans get one warning."""
    folders = []
    for sub in (images_dir, masks_dir):
        folder = root / sub
        if not folder.is_dir():
            raise DatasetError(f"{root} has no {sub}/ folder (expected {images_dir}/ and {masks_dir}/)")
        folders.append(folder)
    images, masks = files_by_stem(folders[0]), files_by_stem(folders[1])
    pairs = [(stem, images[stem], masks[stem]) for stem in images if stem in masks]
    lonely_images = len(images) - len(pairs)
    lonely_masks = len(masks) - len(pairs)
    if lonely_images or lonely_masks:
        log.warning(
            "%s: skipped %d image(s) without a mask and %d mask(s) without an image",
            root, lonely_images, lonely_masks,
        )
    return pairs


def _max_class_index(masks: list[Path]) -> int:
    """The largest class index in any of the masks (the ignore index does not count), or -1."""
    top = -1
    for path in masks:
        values = np.unique(read_index_mask(path))
        values = values[values != IGNORE_INDEX]
        if values.size:
            top = max(top, int(values[-1]))
    return top


@register_reader("folder")
def read_folder(
    root: Path,
    *,
    class_table: ClassTable | None = None,
    images_dir: str = "images",
    masks_dir: str = "masks",
    **unused: Any,
) -> LabelledDataset:
    """`images/X.*` with `masks/X.png` (class indices, 255 = ignore).

    Class table: `class_table`, else `classes.txt` in the root, else `class_0..class_K` with K
    the largest index found in the masks (which reads every mask once, one at a time).
    """
    warn_unused_options("folder", unused)
    root = Path(root)
    pairs = pair_by_stem(root, images_dir, masks_dir)
    if class_table is None:
        if (root / LABELS_FILE).is_file():
            class_table = read_labels_file(root / LABELS_FILE)
        else:
            top = _max_class_index([mask for _, _, mask in pairs])
            class_table = ClassTable.from_names([f"class_{i}" for i in range(max(top, 0) + 1)])
    samples = [
        LabelledSample(name=stem, image_path=image, mask_loader=functools.partial(read_index_mask, mask))
        for stem, image, mask in pairs
    ]
    return LabelledDataset(class_table=class_table, samples=samples, source=root, format="folder")
