"""Index masks (uint8 class indices) and their file forms: palette PNGs and RGB colour masks."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from segcore.data.classes import ClassTable
from segcore.errors import ImageReadError, MaskError, UnknownColorError
from segcore.io.atomic import atomic_write_bytes
from segcore.io.header import open_checked
from segcore.io.images import read_image


def read_index_mask(path: str | Path) -> np.ndarray:
    """Read a mask file of class indices: a palette PNG (the index, not the colour) or a gray image.

    Raises `MaskError` for colour (RGB) images: those need `rgb_to_index` and a class table.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(path, f"cannot open file ({exc.strerror or exc})") from exc
    with open_checked(data, path) as im:  # the pixel limit, before any pixel is decoded
        try:
            im.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageReadError(path, f"corrupt, truncated or unsupported mask file ({exc})") from exc
        mode = im.mode
        if mode in ("P", "L", "1"):
            return np.asarray(im, dtype=np.uint8).copy()
        if mode in ("I", "I;16", "I;16B", "I;16L"):
            arr = np.asarray(im)
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise MaskError(f"mask {path} holds values outside 0..255 (min {arr.min()}, max {arr.max()})")
            return arr.astype(np.uint8)
    raise MaskError(f"mask {path} is a {mode} colour image, not an index mask; convert it with a class table (colormask)")


def read_color_mask(path: str | Path, table: ClassTable, unknown: Literal["error", "ignore"] = "error") -> np.ndarray:
    """Read an RGB colour-coded mask file and map it to class indices through `table`."""
    rgb = read_image(path)
    if rgb.ndim == 2:
        raise MaskError(f"{path} is a single-channel image, not an RGB colour mask")
    return rgb_to_index(rgb[:, :, :3], table, unknown=unknown, source=str(path))


def palette_png_bytes(mask: np.ndarray, table: ClassTable) -> bytes:
    """Encode an index mask as a palette PNG: pixel value = class index, palette = class colours."""
    check_index_mask(mask, table)
    im = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="P")
    im.putpalette(table.color_lut().flatten().tolist())
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)  # masks compress well anyway; level 6 is ~3x slower
    return buf.getvalue()


def write_palette_png(path: str | Path, mask: np.ndarray, table: ClassTable) -> None:
    """Write an index mask as a palette PNG, atomically."""
    atomic_write_bytes(path, palette_png_bytes(mask, table))


def index_to_rgb(mask: np.ndarray, table: ClassTable) -> np.ndarray:
    """Colour an index mask with the class table (ignore pixels get the ignore colour)."""
    return table.color_lut()[mask]


def _pack(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.uint32, copy=False)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def rgb_to_index(
    rgb: np.ndarray,
    table: ClassTable,
    unknown: Literal["error", "ignore"] = "error",
    source: str = "",
) -> np.ndarray:
    """Map an H x W x 3 colour mask to class indices.

    Colours not in the table raise `UnknownColorError` listing them, or become the ignore index
    with `unknown="ignore"`. The ignore colour maps to the ignore index.
    """
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise MaskError(f"expected an H x W x 3 colour mask{' in ' + source if source else ''}, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise MaskError(f"colour masks must be 8-bit{' (' + source + ')' if source else ''}, got {rgb.dtype}")
    colors = np.array(table.colors + [table.ignore_color], dtype=np.uint8)
    values = np.array([c.index for c in table.classes] + [table.ignore_index], dtype=np.uint8)
    keys = _pack(colors)
    if len(np.unique(keys)) != len(keys):
        raise MaskError("the class table gives two classes the same colour; colour masks would be ambiguous")
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    packed = _pack(rgb[..., :3])
    pos = np.clip(np.searchsorted(keys, packed), 0, len(keys) - 1)
    known = keys[pos] == packed
    out = values[pos]
    if not known.all():
        if unknown == "ignore":
            out[~known] = table.ignore_index
        else:
            stray, counts = np.unique(packed[~known], return_counts=True)
            by_count = np.argsort(-counts)
            colors_found = [((int(k) >> 16) & 255, (int(k) >> 8) & 255, int(k) & 255) for k in stray[by_count]]
            raise UnknownColorError(colors_found, [int(c) for c in counts[by_count]], source)
    return out.astype(np.uint8)


def check_index_mask(mask: np.ndarray, table: ClassTable, source: str = "") -> None:
    """Raise `MaskError` unless `mask` is 2-D uint8 with values that are classes or the ignore index."""
    where = f" ({source})" if source else ""
    if mask.ndim != 2:
        raise MaskError(f"an index mask must be 2-D, got shape {mask.shape}{where}")
    if mask.dtype != np.uint8:
        raise MaskError(f"an index mask must be uint8, got {mask.dtype}{where}")
    if mask.size == 0 or int(mask.max()) < table.num_classes:  # the common case, without a histogram
        return
    counts = np.bincount(mask.ravel(), minlength=256)  # ~10x faster than np.unique on a frame
    bad = [v for v in np.flatnonzero(counts).tolist() if v >= table.num_classes and v != table.ignore_index]
    if bad:
        raise MaskError(
            f"mask values {bad} are not classes of this table (0..{table.num_classes - 1}, ignore {table.ignore_index}){where}"
        )


def check_same_size(image: np.ndarray, mask: np.ndarray, source: str = "") -> None:
    """Raise `MaskError` when a mask's height and width differ from its image's."""
    if image.shape[:2] != mask.shape[:2]:
        where = f" for {source}" if source else ""
        raise MaskError(
            f"mask size {mask.shape[1]}x{mask.shape[0]} differs from image size {image.shape[1]}x{image.shape[0]}{where}"
        )
