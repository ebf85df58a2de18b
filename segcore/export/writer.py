"""Write one prediction in the chosen export formats: the `predict` CLI's and the GUI's entry point.

Layout: one sub-folder per format under `out_dir`, files named after the image's stem:

    palette/<stem>.png          palette PNG: value = class index, palette = class colours
    color/<stem>.png            RGB colour mask
    overlay/<stem>.png          display image with the class colours blended in (needs the image)
    binary/<stem>_<class>.png   0/255 mask per class (every class, empty ones included)
    labelme/<stem>.json         labelme polygons; imagePath relative to this file (needs image_path)
    labelme/labels.txt          labelme's class list (`__ignore__`, then the classes), written once
    rle/<stem>.json             a one-image COCO file: uncompressed RLE per class (see `segcore.export.rle`)
    probs/<stem>.npy            float16 C x H x W softmax probabilities (needs probabilities)

Probabilities are kept as one `.npy` (float16: 3 significant digits, half the size of float32,
every class in one file that numpy loads directly) rather than per-class 8-bit PNGs.
Every file is written atomically; inputs are checked before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.masks import check_index_mask, check_same_size, write_palette_png
from segcore.errors import MaskError
from segcore.export.labelme_json import labelme_labels_text, write_labelme_json, write_labelme_labels
from segcore.export.masks import write_binary_masks, write_color_mask, write_overlay
from segcore.export.rle import mask_to_rle_doc
from segcore.io.atomic import atomic_path, atomic_write_bytes
from segcore.io.images import read_image

EXPORT_FORMATS = ("palette", "color", "overlay", "binary", "labelme", "rle", "probs")


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The formats in order, duplicates dropped; `ValueError` naming the valid ones for an unknown one."""
    chosen: list[str] = []
    for fmt in [formats] if isinstance(formats, str) else formats:
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
        if fmt not in chosen:
            chosen.append(fmt)
    return tuple(chosen)


def export_prediction(
    out_dir: str | Path,
    stem: str,
    *,
    labels: np.ndarray,
    table: ClassTable,
    image: np.ndarray | None = None,
    image_path: str | Path | None = None,
    probabilities: np.ndarray | None = None,
    formats: Sequence[str] = ("palette",),
    alpha: float = 0.5,
    overlay_skip: Iterable[int] = (0, IGNORE_INDEX),
    labelme_epsilon: float = 1.0,
    labelme_min_area: int = 0,
) -> list[Path]:
    """Write `labels` (H x W uint8 class indices) in each of `formats`; returns the files written.

    `overlay` needs `image` (or reads `image_path`); `labelme` needs `image_path` (the JSON
    points at it); `probs` needs `probabilities` (C x H x W, C = the table's classes).
    """
    fmts = check_formats(formats)
    if not stem or stem in (".", "..") or "/" in stem or "\\" in stem:
        raise ValueError(f"stem must be a plain file name, got {stem!r}")
    check_index_mask(labels, table)
    if image is not None:
        check_same_size(image, labels, stem)
    if "labelme" in fmts and image_path is None:
        raise ValueError("the labelme format needs image_path: the JSON file refers to its image")
    if "overlay" in fmts and image is None and image_path is None:
        raise ValueError("the overlay format needs the image (image or image_path)")
    if "probs" in fmts:
        if probabilities is None:
            raise ValueError("the probs format needs probabilities")
        probabilities = np.asarray(probabilities)
        expected = (table.num_classes, *labels.shape)
        if probabilities.shape != expected:
            raise MaskError(f"probabilities have shape {probabilities.shape}, expected {expected} (C x H x W)")

    out = Path(out_dir)
    written: list[Path] = []
    for fmt in fmts:
        if fmt == "palette":
            path = out / "palette" / f"{stem}.png"
            write_palette_png(path, labels, table)
        elif fmt == "color":
            path = out / "color" / f"{stem}.png"
            write_color_mask(path, labels, table)
        elif fmt == "overlay":
            if image is None:
                image = read_image(image_path)  # type: ignore[arg-type]
                check_same_size(image, labels, str(image_path))
            path = out / "overlay" / f"{stem}.png"
            write_overlay(path, image, labels, table, alpha=alpha, skip=overlay_skip)
        elif fmt == "binary":
            written += write_binary_masks(out / "binary", stem, labels, table)
            continue
        elif fmt == "labelme":
            path = out / "labelme" / f"{stem}.json"
            write_labelme_json(
                path, labels, table, image_path,  # type: ignore[arg-type]
                epsilon=labelme_epsilon, min_area=labelme_min_area,
            )
            written += _ensure_labelme_labels(out / "labelme" / "labels.txt", table)
        elif fmt == "rle":
            path = out / "rle" / f"{stem}.json"
            doc = mask_to_rle_doc(labels, table, Path(image_path).name if image_path is not None else stem)
            atomic_write_bytes(path, (json.dumps(doc, separators=(",", ":")) + "\n").encode("utf-8"))
        else:  # probs
            path = out / "probs" / f"{stem}.npy"
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:  # a file object: np.save would append .npy to the temp name
                    np.save(fh, probabilities.astype(np.float16))  # type: ignore[union-attr]
        written.append(path)
    return written


def _ensure_labelme_labels(path: Path, table: ClassTable) -> list[Path]:
    # Once per folder, not per image: rewritten only when the class list differs.
    wanted = labelme_labels_text(table)
    try:
        if path.read_text(encoding="utf-8") == wanted:
            return []
    except (OSError, UnicodeDecodeError):
        pass
    write_labelme_labels(path, table)
    return [path]
