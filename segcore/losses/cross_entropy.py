"""Pixel-wise cross-entropy with the ignore index and optional per-class weights."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segcore.data.classes import IGNORE_INDEX
from segcore.losses._common import check_inputs, safe_divide, valid_mask


def as_class_vector(values: Sequence[float] | Tensor | None, name: str) -> Tensor | None:
    """A 1-D float32 tensor of per-class values, or None; used for CE weights and focal alpha."""
    if values is None:
        return None
    vector = torch.as_tensor(values, dtype=torch.float32).detach().clone()
    if vector.dim() != 1 or vector.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of per-class values, got shape {tuple(vector.shape)}")
    if not torch.isfinite(vector).all() or (vector < 0).any():
        raise ValueError(f"{name} must be finite and non-negative, got {vector.tolist()}")
    return vector


class CrossEntropyLoss(nn.Module):
    """Cross-entropy over classes at every pixel, averaged over the non-ignored pixels.

    With `weight`, the mean is weighted like `F.cross_entropy(..., reduction="mean")`: the sum
    of w[y] * loss divided by the sum of w[y] over valid pixels. Unlike `F.cross_entropy`, a
    batch without valid pixels (or whose valid pixels all have weight 0) gives 0, not NaN.
    """

    weight: Tensor | None

    def __init__(
        self,
        weight: Sequence[float] | Tensor | None = None,
        ignore_index: int = IGNORE_INDEX,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        # A buffer so that model.to(device) / loss.to(device) moves the weights too.
        self.register_buffer("weight", as_class_vector(weight, "weight"), persistent=False)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        check_inputs(logits, target)
        if self.weight is not None and self.weight.numel() != logits.shape[1]:
            raise ValueError(f"weight has {self.weight.numel()} entries but the logits have {logits.shape[1]} classes")
        per_pixel = F.cross_entropy(
            logits.float(),
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction="none",
            label_smoothing=self.label_smoothing,
        )
        valid = valid_mask(target, self.ignore_index)
        if self.weight is None:
            denominator = valid.sum()
        else:
            safe_target = torch.where(valid, target, torch.zeros_like(target))
            denominator = (self.weight[safe_target] * valid).sum()
        return safe_divide(per_pixel.sum(), denominator)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, weighted={self.weight is not None}, label_smoothing={self.label_smoothing}"
