"""The transform contract, `Compose`, and the OpenCV helpers every geometric transform shares.

A transform is a callable `t(image, mask, rng) -> (image, mask)`:

- image: H x W or H x W x C, uint8 or uint16 (float32 after `MeanImageSubtraction`);
- mask: H x W uint8 class indices with IGNORE_INDEX (255) where unlabelled, or None (inference);
- rng: the `numpy.random.Generator` all randomness comes from, so that a sample is a pure
  function of (seed, epoch, index) — see `segcore.data.torch_dataset`. Deterministic transforms
  ignore it; random ones refuse to run without it rather than fall back to global state.

Transforms never modify their inputs in place: the dataset may cache decoded images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import cv2
import numpy as np

from segcore.data.classes import IGNORE_INDEX

Mask = np.ndarray | None
Pair = tuple[Any, Any]
"""(image, mask): NumPy arrays until `ToTensor`, torch tensors after it."""

IMAGE_FILL = 0
"""Padding and rotation borders of the image. Constant 0 rather than reflect: the mask is the
ignore index there anyway, so reflected content would teach nothing, and 0 stays 0 ('no change')
for mean-subtracted float images."""

# OpenCV's warp/remap kernels take at most 4 channels; more are processed in groups of 4.
_CV_MAX_CHANNELS = 4


class Transform(Protocol):
    def __call__(self, image: Any, mask: Any, rng: np.random.Generator | None = None) -> Pair: ...


class Compose:
    """Apply transforms in order, threading the one rng through all of them."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, image: Any, mask: Any, rng: np.random.Generator | None = None) -> Pair:
        for t in self.transforms:
            image, mask = t(image, mask, rng)
        return image, mask

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


def require_rng(rng: np.random.Generator | None, who: object) -> np.random.Generator:
    if rng is None:
        raise ValueError(f"{type(who).__name__} is random and needs a numpy Generator: t(image, mask, rng)")
    return rng


def check_probability(p: float, what: str) -> None:
    """A random step's probability must be in [0, 1]: `what` names the step in the error."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{what} probability must be in [0, 1], got {p}")


def check_pair(image: np.ndarray, mask: Mask) -> None:
    """Image and mask must be the same size; masks must be 2-D uint8 (255 = ignore)."""
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an H x W or H x W x C image, got shape {image.shape}")
    if mask is None:
        return
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"expected an H x W uint8 mask, got shape {mask.shape} dtype {mask.dtype}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"image is {image.shape[:2]} but mask is {mask.shape}")


def as_size(size: int | Sequence[int]) -> tuple[int, int]:
    """(height, width) from an int (square) or a pair; both must be positive."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        h, w = int(size), int(size)
    elif isinstance(size, Sequence) and not isinstance(size, str) and len(size) == 2:
        h, w = int(size[0]), int(size[1])
    else:
        raise ValueError(f"a size is an int or (height, width), got {size!r}")
    if h <= 0 or w <= 0:
        raise ValueError(f"sizes must be positive, got {(h, w)}")
    return int(h), int(w)


def cv_apply(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray) -> np.ndarray:
    """Run an OpenCV call on any channel count, keeping the H x W x C layout.

    OpenCV drops a trailing channel of size 1 and its warps take at most 4 channels.
    """
    if image.ndim == 2:
        return fn(np.ascontiguousarray(image))  # flips leave negative strides OpenCV rejects
    channels = image.shape[2]
    if channels <= _CV_MAX_CHANNELS:
        out = fn(np.ascontiguousarray(image))
        return out[:, :, None] if out.ndim == 2 else out
    parts = [cv_apply(fn, image[:, :, i : i + _CV_MAX_CHANNELS]) for i in range(0, channels, _CV_MAX_CHANNELS)]
    return np.concatenate(parts, axis=2)


def resize_pair(image: np.ndarray, mask: Mask, height: int, width: int) -> tuple[np.ndarray, Mask]:
    """Resize to (height, width): image by area when shrinking (anti-aliasing: fringes would alias
    into moiré), bilinear otherwise; mask by nearest neighbour with pixel-centre alignment."""
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image, mask
    interp = cv2.INTER_AREA if height <= h and width <= w else cv2.INTER_LINEAR
    image = cv_apply(lambda a: cv2.resize(a, (width, height), interpolation=interp), image)
    if mask is not None:
        # NEAREST_EXACT samples at pixel centres like LINEAR/AREA do; plain NEAREST is shifted by
        # up to half a pixel, which would misalign mask and image.
        mask = cv2.resize(np.ascontiguousarray(mask), (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return image, mask


def pad_pair(
    image: np.ndarray, mask: Mask, top: int, bottom: int, left: int, right: int
) -> tuple[np.ndarray, Mask]:
    """Pad with IMAGE_FILL (image) and IGNORE_INDEX (mask), so padding never counts in loss or metrics."""
    if not (top or bottom or left or right):
        return image, mask
    spec = ((top, bottom), (left, right)) + (((0, 0),) if image.ndim == 3 else ())
    image = np.pad(image, spec, mode="constant", constant_values=IMAGE_FILL)
    if mask is not None:
        mask = np.pad(mask, ((top, bottom), (left, right)), mode="constant", constant_values=IGNORE_INDEX)
    return image, mask


def warp_pair(image: np.ndarray, mask: Mask, matrix: np.ndarray,
              size: tuple[int, int] | None = None) -> tuple[np.ndarray, Mask]:
    """Affine-warp onto a canvas of `size` (h, w; None: the image's own): image bilinear with border IMAGE_FILL,
    mask nearest with border IGNORE_INDEX. One matrix for both, so they stay aligned."""
    h, w = size if size is not None else image.shape[:2]
    image = cv_apply(
        lambda a: cv2.warpAffine(
            a, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=IMAGE_FILL
        ),
        image,
    )
    if mask is not None:
        mask = cv2.warpAffine(
            np.ascontiguousarray(mask), matrix, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE_INDEX
        )
    return image, mask
