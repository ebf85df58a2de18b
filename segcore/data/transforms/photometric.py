"""Intensity transforms: brightness/contrast/gamma jitter, CLAHE, mean-image subtraction.

They act on the image only; the mask passes through untouched. 16-bit images are processed at
16-bit precision (never squeezed through 8 bits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from segcore.data.normalization import full_scale, to_unit_float
from segcore.data.transforms.base import Mask, check_pair, check_probability, require_rng
from segcore.errors import DatasetError, ImageReadError
from segcore.io.images import read_image


def _from_unit_float(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Back from the 0..1 scale to an integer dtype: clipped to its full range and rounded."""
    scale = full_scale(dtype)
    return np.clip(np.rint(x * scale), 0, scale).astype(dtype)


@dataclass(frozen=True)
class PhotometricJitter:
    """Random gamma, then contrast, then brightness, each factor drawn independently.

    - brightness b: multiply by a factor in [1 - b, 1 + b];
    - contrast c: scale the deviation from the image mean by a factor in [1 - c, 1 + c];
    - gamma g: x ** gamma with gamma log-uniform in [1 / (1 + g), 1 + g] (on the 0..1 scale).

    Integer images are worked on as float on the 0..1 scale and return in their own dtype, clipped
    to its full range (uint16: 0..65535). Float images (mean-subtracted, signed) skip gamma, which is
    undefined for negative values, and are not clipped.
    """

    brightness: float = 0.0
    contrast: float = 0.0
    gamma: float = 0.0

    def __post_init__(self) -> None:
        if min(self.brightness, self.contrast, self.gamma) < 0:
            raise ValueError("jitter strengths must be >= 0")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        rng = require_rng(rng, self)
        # Always draw all three, so one option's setting does not shift the others' random streams.
        b = rng.uniform(max(0.0, 1 - self.brightness), 1 + self.brightness)
        c = rng.uniform(max(0.0, 1 - self.contrast), 1 + self.contrast)
        g = float(np.exp(rng.uniform(-np.log1p(self.gamma), np.log1p(self.gamma))))
        is_float = image.dtype.kind == "f"
        x = to_unit_float(image)
        if not is_float and g != 1.0:
            x = np.power(x, np.float32(g))
        if c != 1.0:
            mean = np.float32(x.mean())
            x = (x - mean) * np.float32(c) + mean
        if b != 1.0:
            x = x * np.float32(b)
        return (x if is_float else _from_unit_float(x, image.dtype)), mask


@dataclass(frozen=True)
class CLAHE:
    """Contrast-limited adaptive histogram equalisation (`cv2.createCLAHE`).

    Grayscale uint8 and uint16 go to OpenCV directly (16-bit is native there). RGB(A) is equalised
    on the L channel of Lab so hues do not shift; alpha is kept. Other channel counts: per channel.

    Note OpenCV scales `clip_limit` by tile_pixels / histogram_bins, with 65536 bins for 16-bit:
    on 16-bit data the same clip_limit clips far harder than on 8-bit (down to one count per bin).
    """

    clip_limit: float = 2.0
    tile_grid: tuple[int, int] = (8, 8)

    def __post_init__(self) -> None:
        if self.clip_limit <= 0 or min(self.tile_grid) <= 0:
            raise ValueError("CLAHE needs clip_limit > 0 and a positive tile grid")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        if image.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"CLAHE needs a uint8 or uint16 image, got {image.dtype} (apply it before MeanImageSubtraction)")
        # A fresh object per call: cv2.CLAHE does not pickle, and DataLoader workers pickle transforms.
        clahe = cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=tuple(int(v) for v in self.tile_grid))
        if image.ndim == 2:
            return clahe.apply(np.ascontiguousarray(image)), mask
        channels = image.shape[2]
        if channels in (3, 4):
            rgb = _equalise_lightness(np.ascontiguousarray(image[:, :, :3]), clahe)
            out = rgb if channels == 3 else np.concatenate([rgb, image[:, :, 3:]], axis=2)
            return out, mask
        planes = [clahe.apply(np.ascontiguousarray(image[:, :, i])) for i in range(channels)]
        return np.stack(planes, axis=2), mask


def _equalise_lightness(rgb: np.ndarray, clahe: cv2.CLAHE) -> np.ndarray:
    if rgb.dtype == np.uint8:
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
        lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    # OpenCV's Lab conversion has no 16-bit path: go through float (L in 0..100) and run CLAHE on
    # L quantised to 16 bits, so no precision is lost to an 8-bit detour.
    lab = cv2.cvtColor(to_unit_float(rgb), cv2.COLOR_RGB2Lab)
    lightness = np.clip(np.rint(lab[:, :, 0] * (65535.0 / 100.0)), 0, 65535).astype(np.uint16)
    lab[:, :, 0] = clahe.apply(lightness).astype(np.float32) * np.float32(100.0 / 65535.0)
    return _from_unit_float(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), np.dtype(np.uint16))


@dataclass(frozen=True, eq=False)  # eq by identity: comparing mean images is not meaningful
class MeanImageSubtraction:
    """Subtract a mean image (`compute_mean_image` of the frames of a sequence), e.g. the static
    fringe background of interferograms, leaving what changes between frames.

    Output: float32, (image - mean_image) / full_scale(image dtype): the signed difference on the
    0..1 scale, so it lies in [-1, 1] and is centred at 0 where nothing changed. Put it first in a
    pipeline (the mean image is aligned with the raw, full-size frame); follow it with
    `Normalize(mean, std)` using `dataset_statistics` of subtracted frames (the residual is small,
    so dividing by its std restores a usable range). Padding with 0 then means 'no change'.

    With `clahe`, frame and mean image both go through that same CLAHE first (the mean rounded to
    the frame's integer dtype), and the equalised mean is subtracted from the equalised frame:
    CLAHE works on integer frames as it was designed to, and a frame equal to the mean still gives 0.
    """

    mean_image: np.ndarray = field(repr=False)
    clahe: CLAHE | None = None
    _equalised: dict = field(default_factory=dict, init=False, repr=False)
    """The CLAHE'd mean image per frame dtype, made on first use."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_image", np.asarray(self.mean_image, dtype=np.float32))

    @classmethod
    def from_file(cls, path: str | Path, clahe: CLAHE | None = None) -> MeanImageSubtraction:
        """Load a mean image saved with `numpy.save` (.npy, float32) or as a 8/16-bit image file."""
        return cls(load_mean_image(path), clahe)

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        if image.shape != self.mean_image.shape:
            raise DatasetError(
                f"the mean image is {self.mean_image.shape} but this frame is {image.shape}; "
                "compute the mean image from frames of the same size, before any resize"
            )
        mean = self.mean_image
        if self.clahe is not None:
            image = self.clahe(image, None)[0]
            mean = self._equalised_mean(image.dtype)
        scale = np.float32(1.0 / full_scale(image.dtype))
        return (image.astype(np.float32) - mean) * scale, mask

    def _equalised_mean(self, dtype: np.dtype) -> np.ndarray:
        key = np.dtype(dtype).str
        if key not in self._equalised:
            assert self.clahe is not None
            rounded = np.clip(np.rint(self.mean_image), 0, full_scale(dtype)).astype(dtype)
            self._equalised[key] = self.clahe(rounded, None)[0].astype(np.float32)
        return self._equalised[key]

    def __repr__(self) -> str:
        return f"MeanImageSubtraction(mean_image=<{self.mean_image.shape} float32>, clahe={self.clahe})"


def load_mean_image(path: str | Path) -> np.ndarray:
    """A mean image saved with `numpy.save` (.npy) or as an 8/16-bit image file, as float32."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        return read_image(path).astype(np.float32)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ImageReadError(path, f"not a readable .npy mean image ({exc})") from exc
    if array.ndim not in (2, 3) or array.dtype.kind not in "fiu":
        raise ImageReadError(path, f"expected an H x W (x C) numeric array, got {array.dtype} {array.shape}")
    return array.astype(np.float32)


INTENSITY_PERCENTILES = (0.5, 99.5)
_PERCENTILE_SAMPLES = 1 << 18
"""Percentiles are estimated from at most this many pixels (a regular subsample): exact enough, fast on 3072x3072."""


def _percentiles(image: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """Two percentiles of the frame's values, from at most ~_PERCENTILE_SAMPLES pixels of a regular grid."""
    step = max(1, int(np.sqrt(image.shape[0] * image.shape[1] / _PERCENTILE_SAMPLES)))
    lo, hi = np.percentile(image[::step, ::step], (low, high))
    return float(lo), float(hi)


@dataclass(frozen=True)
class PercentileScale:
    """Each image's own intensity range to 0..1: its low percentile -> 0, its high percentile -> 1 (float32).

    Frames of one camera arrive as 8-bit, 16-bit with 12 bits used, or with another exposure;
    scaled by the bit depth (`Normalize`'s 0..1) they differ by up to 16x, and a network trained
    on some of them fails on the others. Scaled by their own percentiles they look alike. Values
    beyond the percentiles are kept (slightly below 0 or above 1), not clipped.
    """

    low: float = INTENSITY_PERCENTILES[0]
    high: float = INTENSITY_PERCENTILES[1]

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        low, high = _percentiles(image, self.low, self.high)
        span = float(high - low) or 1.0  # a flat image: shifted to 0, not divided by zero
        return (image.astype(np.float32) - np.float32(low)) * np.float32(1.0 / span), mask


@dataclass(frozen=True)
class RandomNoise:
    """Gaussian noise of a random strength: up to `max_std` of the frame's 1-99 percentile range (training only).

    Frames resized by different factors keep different noise (a 3072 frame brought to 512 is
    averaged over 36 pixels, a 1024 frame over 4): the network must not tell them apart by it.
    The result is float on the 0..1 scale (as `to_unit_float`), so later steps see one scale.
    """

    max_std: float

    def __post_init__(self) -> None:
        if self.max_std < 0:
            raise ValueError(f"noise strength must be >= 0, got {self.max_std}")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        rng = require_rng(rng, self)
        x = to_unit_float(image)
        strength = rng.uniform(0.0, self.max_std)
        if strength == 0.0:
            return x, mask
        low, high = _percentiles(x, 1, 99)
        noise = rng.standard_normal(x.shape, dtype=np.float32) * np.float32(strength * max(float(high - low), 1e-6))
        return x + noise, mask


@dataclass(frozen=True)
class RandomInvert:
    """With probability `p`, the frame's intensities mirrored, bright becoming dark (training only).

    A sample may reflect more or less than what it lies on, and a handful of labelled frames may all
    show one polarity: a network trained on them misses the samples of the other (docs/results.md).
    Fringes stay fringes (a half-period phase shift). Integer frames: full scale - x, same dtype;
    float frames: mirrored about the middle of their 0.5-99.5 percentiles (`PercentileScale`'s 0..1
    becomes 1..0, a signed mean-subtracted frame about -x).
    """

    p: float

    def __post_init__(self) -> None:
        check_probability(self.p, "invert")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        rng = require_rng(rng, self)
        if rng.random() >= self.p:
            return image, mask
        if image.dtype.kind != "f":
            return image.dtype.type(full_scale(image.dtype)) - image, mask  # never below 0: no wider copy
        low, high = _percentiles(image, *INTENSITY_PERCENTILES)
        return np.float32(low + high) - image, mask
