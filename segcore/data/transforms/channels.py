"""`ToChannels`: every image to the channel count a model takes, by the rule the rest of segcore uses.

The rule (the display and the box refiner already treat images this way):
  - alpha is dropped (RGBA -> RGB, gray+alpha -> gray);
  - colour -> gray by luminance, OpenCV's RGB2GRAY (0.299 R + 0.587 G + 0.114 B);
  - gray -> colour by repeating the gray value in R, G and B.
Training and prediction both run it as the first step of the checkpoint's preprocessing, so a
model sees the same pixels whatever mix of gray and colour frames it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segcore.data.transforms.base import Mask, check_pair

CHANNELS = (1, 3)
"""What a model can take: gray or RGB."""


def channel_count(image: np.ndarray) -> int:
    """Channels of a decoded image (1 for H x W)."""
    return 1 if image.ndim == 2 else image.shape[2]


@dataclass(frozen=True)
class ToChannels:
    """Convert the image to `channels` (1 = gray, 3 = RGB); the mask passes through."""

    channels: int

    def __post_init__(self) -> None:
        if self.channels not in CHANNELS:
            raise ValueError(f"channels must be 1 (gray) or 3 (RGB), got {self.channels!r}")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        have = channel_count(image)
        if have > 4:
            raise ValueError(f"images with {have} channels are not supported (gray, gray+alpha, RGB or RGBA)")
        if have in (1, 2):
            gray = image if image.ndim == 2 else image[:, :, 0]
            return (gray if self.channels == 1 else np.repeat(gray[:, :, None], 3, axis=2)), mask
        rgb = image[:, :, :3]
        if self.channels == 3:
            return (image if have == 3 else np.ascontiguousarray(rgb)), mask
        return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY), mask
