"""The last steps of a pipeline: `Normalize` to float32 statistics, `ToTensor` to torch layout."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from segcore.data.normalization import to_unit_float
from segcore.data.transforms.base import Mask, check_pair


@dataclass(frozen=True)
class Normalize:
    """To float32 on the 0..1 scale (uint8 / 255, uint16 / 65535, float as is), then
    (x - mean) / std per channel. One value applies to every channel.

    RGB with pretrained backbones: IMAGENET_MEAN / IMAGENET_STD. Grayscale (interferograms): use
    `dataset_statistics` of the training images, computed on the same 0..1 scale.
    """

    mean: Sequence[float]
    std: Sequence[float]

    def __post_init__(self) -> None:
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if not mean or len(mean) != len(std):
            raise ValueError(f"mean and std need the same, non-zero length; got {mean} and {std}")
        if min(std) <= 0:
            raise ValueError(f"std must be positive, got {std}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        channels = 1 if image.ndim == 2 else image.shape[2]
        if len(self.mean) not in (1, channels):
            raise ValueError(f"Normalize has {len(self.mean)} channel statistics but the image has {channels} channels")
        if image.dtype in (np.uint8, np.uint16):
            # One table lookup per pixel instead of four float passes: ~2x faster on 8-bit crops.
            luts = _normalize_luts(np.dtype(image.dtype), self.mean * channels if len(self.mean) == 1 else self.mean,
                                   self.std * channels if len(self.std) == 1 else self.std)
            if image.ndim == 2:
                return luts[0][image], mask
            out = np.empty(image.shape, np.float32)
            for c in range(channels):
                out[..., c] = luts[c][image[..., c]]
            return out, mask
        mean = np.asarray(self.mean, np.float32)
        inv_std = np.float32(1.0) / np.asarray(self.std, np.float32)
        if image.ndim == 2:
            mean, inv_std = mean[0], inv_std[0]
        return (to_unit_float(image) - mean) * inv_std, mask


@functools.lru_cache(maxsize=16)
def _normalize_luts(dtype: np.dtype, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """C x (2^bits) float32: the normalised value of every possible integer pixel, per channel."""
    values = to_unit_float(np.arange(np.iinfo(dtype).max + 1, dtype=dtype))
    return np.stack([(values - np.float32(m)) * (np.float32(1.0) / np.float32(s)) for m, s in zip(mean, std)])


@dataclass(frozen=True)
class ToTensor:
    """image -> float32 C x H x W contiguous tensor (integer images scaled to 0..1, float kept);
    mask -> int64 H x W tensor (what `cross_entropy(ignore_index=255)` takes)."""

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        check_pair(image, mask)
        fresh = image.dtype != np.float32  # to_unit_float returns a new array
        x = to_unit_float(image) if fresh else image
        x = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
        # The tensor must own contiguous memory and never alias an input the dataset may cache.
        x = np.ascontiguousarray(x) if fresh else np.array(x, order="C", copy=True)
        tensor = torch.from_numpy(x)
        target = None if mask is None else torch.from_numpy(mask.astype(np.int64))
        return tensor, target
