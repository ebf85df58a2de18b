"""Geometric transforms: always applied jointly to image and mask with the same parameters.

The mask is resampled by nearest neighbour (no interpolated, invalid class values) and padded with
IGNORE_INDEX; the image is resampled bilinearly (area when shrinking) and padded with 0. dtype is
kept: uint16 stays uint16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from segcore.data.transforms.base import (
    Mask,
    as_size,
    check_pair,
    pad_pair,
    require_rng,
    resize_pair,
    warp_pair,
)


@dataclass(frozen=True)
class Resize:
    """Deterministic resize, e.g. 3072 -> 1024 before anything else. Exactly one of:

    - size: (height, width) exactly, or an int for a square;
    - long_side: the longer side becomes this, aspect ratio kept (3072 x 2048 -> 1024 x 683);
    - scale: both sides multiplied by this (1/3: 3072 -> 1024);
    - max_side: as long_side for larger frames; smaller ones are left as they are.
    """

    size: int | tuple[int, int] | None = None
    long_side: int | None = None
    scale: float | None = None
    max_side: int | None = None

    def __post_init__(self) -> None:
        given = [v is not None for v in (self.size, self.long_side, self.scale, self.max_side)]
        if sum(given) != 1:
            raise ValueError("Resize needs exactly one of size, long_side, scale or max_side")
        if self.size is not None:
            as_size(self.size)
        if any(v is not None and v <= 0 for v in (self.long_side, self.scale, self.max_side)):
            raise ValueError("Resize long_side, scale and max_side must be positive")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        if self.size is not None:
            return as_size(self.size)
        if self.max_side is not None:
            factor = min(1.0, self.max_side / max(height, width))
        else:
            factor = self.scale if self.scale is not None else self.long_side / max(height, width)  # type: ignore[operator]
        return max(1, round(height * factor)), max(1, round(width * factor))

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        return resize_pair(image, mask, *self.output_size(*image.shape[:2]))


@dataclass(frozen=True)
class RandomScale:
    """Resize both sides by one factor drawn uniformly from [min_scale, max_scale]."""

    min_scale: float
    max_scale: float

    def __post_init__(self) -> None:
        if not 0 < self.min_scale <= self.max_scale:
            raise ValueError(f"need 0 < min_scale <= max_scale, got {self.min_scale}, {self.max_scale}")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        factor = require_rng(rng, self).uniform(self.min_scale, self.max_scale)
        h, w = image.shape[:2]
        return resize_pair(image, mask, max(1, round(h * factor)), max(1, round(w * factor)))


@dataclass(frozen=True)
class RandomCrop:
    """A crop of `size` ((h, w) or int) at a random position; smaller images are padded first
    (bottom/right, as torchvision's reference does) with 0 / IGNORE_INDEX."""

    size: int | tuple[int, int]

    def __post_init__(self) -> None:
        as_size(self.size)

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        rng = require_rng(rng, self)
        ch, cw = as_size(self.size)
        h, w = image.shape[:2]
        image, mask = pad_pair(image, mask, 0, max(0, ch - h), 0, max(0, cw - w))
        h, w = image.shape[:2]
        top = int(rng.integers(0, h - ch + 1))
        left = int(rng.integers(0, w - cw + 1))
        image = image[top : top + ch, left : left + cw]
        mask = None if mask is None else mask[top : top + ch, left : left + cw]
        return image, mask


@dataclass(frozen=True)
class CenterCrop:
    """The central `size` region; smaller images are padded evenly on both sides first."""

    size: int | tuple[int, int]

    def __post_init__(self) -> None:
        as_size(self.size)

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        ch, cw = as_size(self.size)
        h, w = image.shape[:2]
        ph, pw = max(0, ch - h), max(0, cw - w)
        image, mask = pad_pair(image, mask, ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)
        h, w = image.shape[:2]
        top, left = (h - ch) // 2, (w - cw) // 2
        image = image[top : top + ch, left : left + cw]
        mask = None if mask is None else mask[top : top + ch, left : left + cw]
        return image, mask


@dataclass(frozen=True)
class PadToMultiple:
    """Pad bottom/right so H and W are multiples of `divisor` (validation at native size).

    The padded mask pixels are IGNORE_INDEX, so metrics computed on the padded mask are exact.
    """

    divisor: int

    def __post_init__(self) -> None:
        if self.divisor <= 0:
            raise ValueError(f"divisor must be positive, got {self.divisor}")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        h, w = image.shape[:2]
        return pad_pair(image, mask, 0, -h % self.divisor, 0, -w % self.divisor)


@dataclass(frozen=True)
class RandomHorizontalFlip:
    p: float = 0.5

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        if require_rng(rng, self).random() < self.p:
            image = image[:, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        return image, mask


@dataclass(frozen=True)
class RandomVerticalFlip:
    """Vertical flips suit top-down data (interferograms, satellite tiles), not road scenes."""

    p: float = 0.5

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        if require_rng(rng, self).random() < self.p:
            image = image[::-1]
            mask = None if mask is None else mask[::-1]
        return image, mask


@dataclass(frozen=True)
class RandomRotation:
    """Rotate about the image centre by an angle uniform in [-max_degrees, max_degrees].

    The canvas keeps its size; corners that rotate in are 0 in the image and IGNORE_INDEX in the
    mask, so they never count as background.
    """

    max_degrees: float

    def __post_init__(self) -> None:
        if self.max_degrees < 0:
            raise ValueError(f"max_degrees must be >= 0, got {self.max_degrees}")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        angle = require_rng(rng, self).uniform(-self.max_degrees, self.max_degrees)
        if math.isclose(angle, 0.0, abs_tol=1e-9):
            return image, mask
        h, w = image.shape[:2]
        # Centre in pixel-centre coordinates ((w-1)/2): a 180 degree turn maps pixels exactly onto pixels.
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
        return warp_pair(image, mask, matrix)


@dataclass(frozen=True)
class RandomScaleRotateCrop:
    """`RandomScale`, then `RandomRotation`, then `RandomCrop`, as one warp straight into the crop.

    The same draws in the same order as the three steps (so a seed gives the same samples), the same canvas
    (rotated-in corners and padding 0 in the image, IGNORE_INDEX in the mask), one resampling instead of two,
    and only the crop's pixels computed: the three on a whole 640 px frame of six channels took ~50 ms a sample,
    this ~6 ms (docs/results.md, "Twice the epochs in the same four minutes").
    scale_range None: no scaling; max_degrees 0: no rotation.
    """

    size: int | tuple[int, int]
    scale_range: tuple[float, float] | None = None
    max_degrees: float = 0.0

    def __post_init__(self) -> None:
        as_size(self.size)
        if self.scale_range is not None:
            RandomScale(*self.scale_range)  # its checks
        RandomRotation(self.max_degrees)

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        rng = require_rng(rng, self)
        h, w = image.shape[:2]
        sh, sw = h, w
        scale = np.eye(3)
        if self.scale_range is not None:
            factor = rng.uniform(*self.scale_range)
            sh, sw = max(1, round(h * factor)), max(1, round(w * factor))
            # pixel centres onto pixel centres, as a resize maps them
            fy, fx = sh / h, sw / w
            scale = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])
        rotate = np.eye(3)
        if self.max_degrees:
            angle = rng.uniform(-self.max_degrees, self.max_degrees)
            if not math.isclose(angle, 0.0, abs_tol=1e-9):
                rotate[:2] = cv2.getRotationMatrix2D(((sw - 1) / 2.0, (sh - 1) / 2.0), angle, 1.0)
        ch, cw = as_size(self.size)
        top = int(rng.integers(0, max(sh, ch) - ch + 1))
        left = int(rng.integers(0, max(sw, cw) - cw + 1))
        shift = np.array([[1, 0, -left], [0, 1, -top], [0, 0, 1]], dtype=float)
        matrix = (shift @ rotate @ scale)[:2]
        image, mask = warp_pair(image, mask, matrix, (ch, cw))
        if ch > sh or cw > sw:  # the steps padded past the rotated canvas's edge, where a rotation could bring image in
            return pad_pair(image[: sh - top, : sw - left], None if mask is None else mask[: sh - top, : sw - left],
                            0, max(0, ch - sh), 0, max(0, cw - sw))
        return image, mask
