"""Intensity scales and statistics: the 0..1 scale, ImageNet constants, dataset mean/std, mean image.

Every statistic here lives on the same scale as `Normalize`'s input: uint8 divided by 255, uint16 by
65535, float images (e.g. after mean-image subtraction) taken as they are. So statistics computed
by `dataset_statistics` can be passed straight to `Normalize(mean, std)`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""RGB statistics of ImageNet on the 0..1 scale; what pretrained torchvision backbones expect."""

_FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def full_scale(dtype: np.dtype | type) -> float:
    """The value that maps to 1.0: 255 for uint8, 65535 for uint16, 1 for float images."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 1.0
    try:
        return _FULL_SCALE[dtype]
    except KeyError:
        raise ValueError(f"unsupported image dtype {dtype} (expected uint8, uint16 or float)") from None


def to_unit_float(image: np.ndarray) -> np.ndarray:
    """float32 copy of `image` on the 0..1 scale (float input: a float32 copy, values unchanged)."""
    return image.astype(np.float32) * np.float32(1.0 / full_scale(image.dtype))


def dataset_statistics(images: Iterable[np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) over all pixels of `images` on the 0..1 scale.

    Streams: one image in memory at a time (3072 x 3072 frames). Sums run in float64 per image so
    that millions of pixels do not lose precision. All images need the same channel count.
    """
    count = 0
    total: np.ndarray | None = None
    total_sq: np.ndarray | None = None
    channels: int | None = None
    for image in images:
        c = 1 if image.ndim == 2 else image.shape[2]
        if channels is None:
            channels = c
            total, total_sq = np.zeros(c), np.zeros(c)
        elif c != channels:
            raise ValueError(f"images have {channels} and {c} channels; statistics need one channel count")
        x = image.reshape(-1, c).astype(np.float64) / full_scale(image.dtype)
        total += x.sum(axis=0)
        total_sq += np.square(x).sum(axis=0)
        count += x.shape[0]
    if not count:
        raise ValueError("dataset_statistics needs at least one non-empty image")
    mean = total / count
    # Clamp: E[x^2] - E[x]^2 can dip just below zero by rounding on constant images.
    var = np.maximum(total_sq / count - mean**2, 0.0)
    std = np.sqrt(var)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def compute_mean_image(images: Iterable[np.ndarray]) -> np.ndarray:
    """The pixel-wise average of a sequence of equally sized frames, float32, in the frames' raw units.

    For interferograms: the static fringe pattern is common to every frame of a sequence, so
    subtracting this mean (see `MeanImageSubtraction`) leaves what changes, e.g. the sample.
    Raw units (not 0..1) so the result can be saved and applied to uint8 or uint16 frames alike.
    """
    total: np.ndarray | None = None
    count = 0
    for image in images:
        if total is None:
            total = np.zeros(image.shape, np.float64)
        elif image.shape != total.shape:
            raise ValueError(f"frame {count} has shape {image.shape}, expected {total.shape} like the first")
        total += image
        count += 1
    if total is None:
        raise ValueError("compute_mean_image needs at least one frame")
    return (total / count).astype(np.float32)
