"""Class pixel statistics of a set of masks, and median-frequency class weights from them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from segcore.data.classes import IGNORE_INDEX
from segcore.errors import DatasetError, MaskError


class ClassPixelCounts(NamedTuple):
    """Per-class pixel statistics; unpacks as `(counts, image_pixel_totals)`."""

    counts: np.ndarray
    """int64 (C,): labelled pixels of each class over all masks."""
    image_pixel_totals: np.ndarray
    """int64 (C,): labelled (non-ignored) pixels of the masks in which the class occurs."""


def class_pixel_counts(
    masks: Iterable[np.ndarray | Tensor], num_classes: int, ignore_index: int = IGNORE_INDEX
) -> ClassPixelCounts:
    """Count class pixels over `masks` (each H x W integer class indices), skipping `ignore_index`.

    A value that is neither a class index in [0, num_classes) nor `ignore_index` raises
    MaskError: such a mask would otherwise silently skew the weights.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    counts = np.zeros(num_classes, dtype=np.int64)
    totals = np.zeros(num_classes, dtype=np.int64)
    for i, mask in enumerate(masks):
        values = (mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)).ravel()
        if values.size == 0:
            continue
        if not np.issubdtype(values.dtype, np.integer):
            raise MaskError(f"mask {i} holds {values.dtype} values, not integer class indices")
        if values.min() < 0:
            raise MaskError(f"mask {i} holds the negative value {int(values.min())}")
        hist = np.bincount(values, minlength=max(num_classes, ignore_index + 1)).astype(np.int64)
        if 0 <= ignore_index < hist.size:
            hist[ignore_index] = 0
        stray = np.flatnonzero(hist[num_classes:]) + num_classes
        if stray.size:
            raise MaskError(
                f"mask {i} holds values {stray[:8].tolist()} that are neither a class index "
                f"(0..{num_classes - 1}) nor the ignore index {ignore_index}"
            )
        per_class = hist[:num_classes]
        counts += per_class
        totals[per_class > 0] += per_class.sum()
    return ClassPixelCounts(counts, totals)


def median_frequency_weights(
    counts: np.ndarray | Tensor | Iterable[int], image_pixel_totals: np.ndarray | Tensor | Iterable[int]
) -> Tensor:
    """Median-frequency balancing weights (Eigen & Fergus, ICCV 2015), float32 (C,).

        freq_c   = counts_c / image_pixel_totals_c   (pixels of c / pixels of the images holding c)
        weight_c = median(freq over the classes present) / freq_c

    Present means counts_c > 0; an absent class gets weight 0 (it has no pixels to weigh).
    The median is NumPy's: with an even number of present classes (two, for a sample on a
    background) it is the mean of the two middle frequencies. "Pixels of an image" are its
    labelled pixels; ignored pixels are not counted anywhere, which is the paper's definition
    for fully labelled masks. Inputs are usually `class_pixel_counts(...)`.
    """
    c = np.asarray(counts.cpu() if isinstance(counts, Tensor) else counts, dtype=np.float64)
    t = np.asarray(image_pixel_totals.cpu() if isinstance(image_pixel_totals, Tensor) else image_pixel_totals, dtype=np.float64)
    if c.ndim != 1 or c.shape != t.shape:
        raise ValueError(f"counts {c.shape} and image_pixel_totals {t.shape} must be 1-D of the same length")
    if (c < 0).any() or (t < c).any():
        raise ValueError("counts must be non-negative and image_pixel_totals at least the counts")
    present = c > 0
    if not present.any():
        raise DatasetError("no labelled pixels of any class: cannot compute class weights")
    freq = np.zeros_like(c)
    freq[present] = c[present] / t[present]
    weights = np.zeros_like(c)
    weights[present] = np.median(freq[present]) / freq[present]
    return torch.from_numpy(weights.astype(np.float32))
