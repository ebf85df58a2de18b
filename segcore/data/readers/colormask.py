"""A folder pair whose masks are RGB colour-coded (`images/`, `masks/`), mapped through a class table."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from segcore.data.classes import ClassTable, read_labels_file
from segcore.data.masks import read_color_mask
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.readers.folder import LABELS_FILE, pair_by_stem, warn_unused_options
from segcore.errors import DatasetError

UNKNOWN_COLOR_POLICIES = ("error", "ignore")


@register_reader("colormask")
def read_colormask(
    root: Path,
    *,
    class_table: ClassTable | None = None,
    images_dir: str = "images",
    masks_dir: str = "masks",
    unknown: str = "error",
    **unused: Any,
) -> LabelledDataset:
    """`images/X.*` with `masks/X.png` coloured by class.

    The colours need a class table: `class_table`, else `classes.txt` (`name r g b` lines) in the
    root. A colour not in the table raises `UnknownColorError` naming it when the mask is loaded,
    or becomes the ignore index with `unknown="ignore"`.
    """
    warn_unused_options("colormask", unused)
    root = Path(root)
    if unknown not in UNKNOWN_COLOR_POLICIES:
        raise DatasetError(f"unknown={unknown!r}: choose one of {', '.join(UNKNOWN_COLOR_POLICIES)}")
    if class_table is None:
        if not (root / LABELS_FILE).is_file():
            raise DatasetError(
                f"colour masks need a class table to map colours to classes: {root} has no {LABELS_FILE}; "
                "pass --labels with a labels file (`name r g b` per line) or a built-in table such as landcover"
            )
        class_table = read_labels_file(root / LABELS_FILE)
    samples = [
        LabelledSample(
            name=stem,
            image_path=image,
            mask_loader=functools.partial(read_color_mask, mask, class_table, unknown),
        )
        for stem, image, mask in pair_by_stem(root, images_dir, masks_dir)
    ]
    return LabelledDataset(class_table=class_table, samples=samples, source=root, format="colormask")
