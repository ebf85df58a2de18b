"""CamVid in the SegNet tutorial layout (11 classes, void = 11 mapped to the ignore index).

    root/train.txt        lines `/SegNet/CamVid/train/X.png /SegNet/CamVid/trainannot/X.png`
    root/val.txt, root/test.txt (optional)
    root/train/X.png      RGB image;  root/trainannot/X.png  uint8 class indices 0..10, 11 = void

A path in a list is looked up relative to the root as written, then by its last two components
(folder/file) under the root — that resolves the tutorial's `/SegNet/CamVid/` prefix — and, when
absolute, as written. Without a list file, a split's `train/` + `trainannot/` folders are paired by file stem.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from segcore.data.classes import (
    CAMVID_VOID_INDEX,
    IGNORE_INDEX,
    ClassTable,
    builtin_table,
)
from segcore.data.masks import read_index_mask
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.readers.folder import files_by_stem, warn_unused_options
from segcore.errors import DatasetError

SPLITS = ("train", "val", "test")


def read_camvid_mask(path: Path) -> np.ndarray:
    """A CamVid label PNG with void (11) turned into the ignore index."""
    mask = read_index_mask(path)
    mask[mask == CAMVID_VOID_INDEX] = IGNORE_INDEX
    return mask


def _resolve(root: Path, written: str) -> Path | None:
    pure = PureWindowsPath(written) if "\\" in written else PurePosixPath(written)
    candidates = []
    if not pure.is_absolute():
        candidates.append(root / pure.as_posix())
    if len(pure.parts) >= 2:
        candidates.append(root / pure.parts[-2] / pure.parts[-1])
    if pure.is_absolute():
        candidates.append(Path(written))
    return next((c for c in candidates if c.is_file()), None)


def _pairs_from_list(root: Path, list_file: Path) -> list[tuple[Path, Path]]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {list_file}: {exc}") from exc
    pairs = []
    for lineno, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DatasetError(f"{list_file}:{lineno}: expected 'IMAGE MASK', got {line.strip()!r}")
        resolved = [_resolve(root, f) for f in fields]
        for written, found in zip(fields, resolved):
            if found is None:
                raise DatasetError(f"{list_file}:{lineno}: {written} not found under {root}")
        pairs.append((resolved[0], resolved[1]))
    return pairs


def _pairs_from_folders(root: Path, split: str) -> list[tuple[Path, Path]]:
    images, masks = files_by_stem(root / split), files_by_stem(root / f"{split}annot")
    return [(images[stem], masks[stem]) for stem in images if stem in masks]


@register_reader("camvid")
def read_camvid(
    root: Path,
    *,
    class_table: ClassTable | None = None,
    splits: Sequence[str] | str | None = None,
    **unused: Any,
) -> LabelledDataset:
    """CamVid's splits (default: every one of train/val/test that is present) in list order.

    `class_table` defaults to the built-in `camvid` table; masks map void (11) to 255.
    """
    warn_unused_options("camvid", unused)
    root = Path(root)
    explicit = splits is not None
    wanted = [splits] if isinstance(splits, str) else list(splits or SPLITS)
    samples: list[LabelledSample] = []
    seen: dict[str, str] = {}
    for split in wanted:
        if (root / f"{split}.txt").is_file():
            pairs = _pairs_from_list(root, root / f"{split}.txt")
        elif (root / split).is_dir() and (root / f"{split}annot").is_dir():
            pairs = _pairs_from_folders(root, split)
        elif explicit:
            raise DatasetError(f"{root} has neither {split}.txt nor {split}/ with {split}annot/")
        else:
            continue
        for image, mask in pairs:
            name = image.stem
            if name in seen:
                raise DatasetError(f"{name!r} appears in CamVid split {seen[name]!r} and again in {split!r}")
            seen[name] = split
            samples.append(
                LabelledSample(
                    name=name,
                    image_path=image,
                    mask_loader=functools.partial(read_camvid_mask, mask),
                    split=split,
                )
            )
    return LabelledDataset(
        class_table=class_table or builtin_table("camvid"), samples=samples, source=root, format="camvid"
    )
