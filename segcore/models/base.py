"""The one output contract every segcore model implements."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def resize_logits(logits: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of logits to `size` (H, W); a no-op when already there."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


class SegmentationModel(nn.Module):
    """Base class: subclasses implement `forward_logits(x) -> (logits, aux_logits)` at any scale.

    `forward` pads the input to a multiple of `divisor` when the architecture needs exact
    multiples (`pad_to_divisor`), then returns `{"out": logits at the input's H x W}` plus
    `"aux"` (a tuple, at the input's H x W) in training mode when there are auxiliary heads.
    """

    divisor: int = 32
    pad_to_divisor: bool = False

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> dict[str, Tensor | tuple[Tensor, ...]]:
        height, width = x.shape[-2:]
        if self.pad_to_divisor:
            pad_h = (-height) % self.divisor
            pad_w = (-width) % self.divisor
            if pad_h or pad_w:
                # Replicate keeps image statistics at the border (zeros would be a false edge).
                x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        logits, aux = self.forward_logits(x)
        result: dict[str, Tensor | tuple[Tensor, ...]] = {"out": _fit(logits, x.shape[-2:], (height, width))}
        if self.training and aux:
            result["aux"] = tuple(_fit(a, x.shape[-2:], (height, width)) for a in aux)
        return result


def _fit(logits: Tensor, padded: torch.Size, size: tuple[int, int]) -> Tensor:
    """Resize logits to the padded input's size, then crop the padding away."""
    return resize_logits(logits, (padded[0], padded[1]))[..., : size[0], : size[1]]
