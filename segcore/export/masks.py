"""Prediction masks as image files: palette PNG, RGB colour mask, overlay, one binary mask per class.

- palette PNG: pixel value = class index, palette = the class colours (VOC colours by default),
  as labelme and PASCAL VOC write `SegmentationClassPNG`; any tool reads either the index or the colour;
- colour mask: H x W x 3 RGB, each pixel its class colour (ignore pixels the ignore colour);
- overlay: the image as displayed (auto window, 8/16-bit gray or colour) with the class colour
  blended in at `alpha` on every pixel whose class is not in `skip` (default: class 0 and the
  ignore index; those pixels stay exactly the displayed image);
- binary masks: `<stem>_<class name>.png`, 0/255 uint8, one for every class of the table
  (background included, ignore excluded); a class without pixels gets an all-zero file, so every
  image has the same set of files (`skip_empty=True` leaves those out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.masks import (
    check_index_mask,
    check_same_size,
    index_to_rgb,
    write_palette_png,
)
from segcore.display import auto_window, to_display_rgb
from segcore.io.images import write_image

__all__ = [
    "overlay_rgb",
    "sanitize_name",
    "class_file_names",
    "write_binary_masks",
    "write_color_mask",
    "write_overlay",
    "write_palette_png",
]


def write_color_mask(path: str | Path, mask: np.ndarray, table: ClassTable) -> None:
    """Write the RGB colour mask of an index mask (colours from `table`), atomically."""
    check_index_mask(mask, table)
    write_image(path, index_to_rgb(mask, table))


def overlay_rgb(
    image: np.ndarray,
    mask: np.ndarray,
    table: ClassTable,
    *,
    alpha: float = 0.5,
    skip: Iterable[int] = (0, IGNORE_INDEX),
) -> np.ndarray:
    """The image for display (`to_display_rgb` with `auto_window`) with class colours blended in.

    Pixels whose class is in `skip` keep the display image's value; the others become
    `(1 - alpha) * image + alpha * colour`, rounded.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within 0..1, got {alpha}")
    check_index_mask(mask, table)
    check_same_size(image, mask)
    shown = to_display_rgb(image, auto_window(image))
    blend = ~np.isin(mask, np.asarray(list(skip), dtype=np.int64))
    out = shown.copy()
    colors = index_to_rgb(mask[blend], table).astype(np.float32)
    out[blend] = np.rint((1.0 - alpha) * shown[blend].astype(np.float32) + alpha * colors).astype(np.uint8)
    return out


def write_overlay(
    path: str | Path,
    image: np.ndarray,
    mask: np.ndarray,
    table: ClassTable,
    *,
    alpha: float = 0.5,
    skip: Iterable[int] = (0, IGNORE_INDEX),
) -> None:
    """Write `overlay_rgb(...)` as an 8-bit RGB image, atomically."""
    write_image(path, overlay_rgb(image, mask, table, alpha=alpha, skip=skip))


def sanitize_name(name: str) -> str:
    """A class name made safe as part of a file name on every OS (letters, digits, `.`, `_`, `-`)."""
    return re.sub(r"[^\w.-]+", "_", name).strip(".")


def class_file_names(table: ClassTable) -> list[str]:
    """A distinct, file-name-safe name per class (index order); clashes get `_<index>` appended."""
    names = [sanitize_name(n) or f"class{i}" for i, n in enumerate(table.names)]
    folded = [n.lower() for n in names]  # case-insensitive file systems (Windows, macOS)
    return [n if folded.count(n.lower()) == 1 else f"{n}_{i}" for i, n in enumerate(names)]


def write_binary_masks(
    out_dir: str | Path,
    stem: str,
    mask: np.ndarray,
    table: ClassTable,
    *,
    skip_empty: bool = False,
) -> list[Path]:
    """Write `<out_dir>/<stem>_<class>.png` (0 / 255 uint8) for each class; returns the paths."""
    check_index_mask(mask, table)
    out_dir = Path(out_dir)
    written = []
    for index, name in enumerate(class_file_names(table)):
        binary = mask == index
        if skip_empty and not binary.any():
            continue
        path = out_dir / f"{stem}_{name}.png"
        write_image(path, binary.astype(np.uint8) * 255)
        written.append(path)
    return written
