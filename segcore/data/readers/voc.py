"""PASCAL VOC segmentation layout: `JPEGImages/`, `SegmentationClass/` palette PNGs, `ImageSets/`.

    root/JPEGImages/X.jpg                   (any supported suffix; found by stem, .jpg first)
    root/SegmentationClass/X.png            palette PNG: pixel value = class index, 255 = ignore
    root/ImageSets/Segmentation/train.txt   one name per line; val.txt, test.txt likewise
    root/class_names.txt                    optional: one class per line, `_background_` first
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from segcore.data.classes import ClassTable, builtin_table, read_labels_file
from segcore.data.masks import read_index_mask
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.readers.folder import files_by_stem, warn_unused_options
from segcore.errors import DatasetError

log = logging.getLogger(__name__)

CLASS_NAMES_FILE = "class_names.txt"
SPLITS = ("train", "val", "test")


def read_image_sets(folder: Path) -> list[tuple[str, str | None, Path]] | None:
    """(name, split, list file) from `train.txt`, `val.txt`, `test.txt` in `folder`.

    Without those, `trainval.txt` gives names without a split; without any list, None. A name
    listed twice keeps its first split (one warning).
    """
    if not folder.is_dir():
        return None
    lists = [(folder / f"{split}.txt", split) for split in SPLITS if (folder / f"{split}.txt").is_file()]
    if not lists and (folder / "trainval.txt").is_file():
        lists = [(folder / "trainval.txt", None)]
    if not lists:
        return None
    entries: list[tuple[str, str | None, Path]] = []
    seen: set[str] = set()
    repeated = 0
    for path, split in lists:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"cannot read image list {path}: {exc}") from exc
        for line in lines:
            fields = line.split()
            if not fields:
                continue
            if fields[0] in seen:
                repeated += 1
                continue
            seen.add(fields[0])
            entries.append((fields[0], split, path))
    if repeated:
        log.warning("%s: %d name(s) listed more than once; each keeps its first split", folder, repeated)
    return entries


def table_from_root(root: Path, class_table: ClassTable | None, labels: str | Path | None = None) -> ClassTable | None:
    """`class_table`, else the labels file `labels`, else `class_names.txt` in `root`, else None."""
    if class_table is not None:
        return class_table
    if labels is not None:
        return read_labels_file(labels)
    if (root / CLASS_NAMES_FILE).is_file():
        return read_labels_file(root / CLASS_NAMES_FILE)
    return None


def require_dir(root: Path, name: str) -> Path:
    folder = root / name
    if not folder.is_dir():
        raise DatasetError(f"{root} has no {name}/ folder; is it a PASCAL VOC dataset?")
    return folder


@register_reader("voc")
def read_voc(
    root: Path,
    *,
    class_table: ClassTable | None = None,
    labels: str | Path | None = None,
    **unused: Any,
) -> LabelledDataset:
    """VOC segmentation data; samples are the ImageSets/Segmentation lists, else every mask.

    Class table: `class_table`, else the labels file `labels`, else `class_names.txt` in the
    root (labelme's converter writes one), else the built-in 21-class `voc` table.
    """
    warn_unused_options("voc", unused)
    root = Path(root)
    images = files_by_stem(require_dir(root, "JPEGImages"))
    masks = files_by_stem(require_dir(root, "SegmentationClass"))
    table = table_from_root(root, class_table, labels) or builtin_table("voc")

    listed = read_image_sets(root / "ImageSets" / "Segmentation")
    if listed is None:
        listed = [(stem, None, None) for stem in masks]
    samples = []
    for name, split, list_file in listed:
        if name not in masks:
            raise DatasetError(f"{list_file} lists {name!r} but {root / 'SegmentationClass'} has no {name}.png")
        if name not in images:
            raise DatasetError(f"{root / 'JPEGImages'} has no image named {name!r} for mask {masks[name]}")
        samples.append(
            LabelledSample(
                name=name,
                image_path=images[name],
                mask_loader=functools.partial(read_index_mask, masks[name]),
                split=split,
            )
        )
    return LabelledDataset(class_table=table, samples=samples, source=root, format="voc")
