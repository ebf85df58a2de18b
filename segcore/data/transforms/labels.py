"""Label transforms: they change the mask only (the image passes through)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segcore.data.classes import IGNORE_INDEX
from segcore.data.transforms.base import Mask, check_pair


@dataclass(frozen=True)
class IgnoreBoundary:
    """Pixels within `width` of a boundary between two classes become IGNORE_INDEX (training only).

    Box-derived labels (a refined box, a hand-drawn outline) are surest inside an object and
    outside it, least sure on its edge: a band there the loss skips costs a few edge pixels and
    spares the network from learning where a refinement happened to stop.
    """

    width: int

    def __post_init__(self) -> None:
        if self.width < 0:
            raise ValueError(f"the ignored boundary band must be >= 0 pixels wide, got {self.width}")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        if mask is None or not self.width:
            return image, mask
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * self.width + 1, 2 * self.width + 1))
        # Where the highest and the lowest class within reach differ, two classes meet; ignored
        # pixels take no part (they are neither class), so they are set aside before the filters.
        known = np.where(mask == IGNORE_INDEX, 0, mask)
        highest = cv2.dilate(known, kernel)
        lowest = cv2.erode(np.where(mask == IGNORE_INDEX, 254, mask).astype(np.uint8), kernel)
        band = highest != lowest
        band &= ~((lowest == 254) & (highest == known))  # next to ignore only: not a class boundary
        out = mask.copy()
        out[band] = IGNORE_INDEX
        return image, out
