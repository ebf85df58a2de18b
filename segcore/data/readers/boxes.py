"""The `boxes` format: a folder of images with `boxes.json` beside them (`segcore.data.boxes_file`).

What a physicist with OpenCV's selectROI habit has: frames, and a box per frame. Each image the file
names is a sample whose mask is its boxes filled with their classes (refining them is the import's
choice, as *Refine boxes* is the tool's); the boxes are kept as box labels. Images the file does not
name are not samples (add them as unlabelled images). The file's `classes` are the class table.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from segcore.data.boxes_file import BOXES_FILE, load_boxes_file
from segcore.data.classes import ClassTable, resolve_class_table
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample, box_mask, unreadable_sample
from segcore.data.readers.folder import warn_unused_options
from segcore.errors import DatasetError
from segcore.io.images import is_file_or_broken_link


@register_reader("boxes")
def read_boxes(root: Path, *, class_table: ClassTable | None = None, labels: str | Path | None = None,
               **unused: Any) -> LabelledDataset:
    """One sample per image `root/boxes.json` names (the file itself may be given as `root`); `class_table`
    or the labels file `labels` must then agree with the file's classes (or stand in for missing ones)."""
    warn_unused_options("boxes", unused)
    if class_table is None and labels is not None:
        class_table = resolve_class_table(labels)
    path = root if root.is_file() else root / BOXES_FILE
    if not path.is_file():
        raise DatasetError(f"{root} has no {BOXES_FILE} (the boxes format: images with {BOXES_FILE} beside them)")
    table, boxes = load_boxes_file(path, class_table)
    samples = []
    for name, image_boxes in boxes.items():
        image = path.parent / name
        if not is_file_or_broken_link(image):
            samples.append(unreadable_sample(Path(name).stem, f"{path}: image {name!r} is not in {path.parent}"))
            continue
        samples.append(LabelledSample(name=Path(name).stem, image_path=image,
                                      mask_loader=functools.partial(box_mask, image, path, tuple(image_boxes)),
                                      boxes=tuple(image_boxes)))
    return LabelledDataset(class_table=table, samples=samples, source=root, format="boxes")

