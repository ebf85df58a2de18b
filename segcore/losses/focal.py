"""Multi-class focal loss on softmax probabilities (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segcore.data.classes import IGNORE_INDEX
from segcore.losses._common import check_inputs, masked_mean, valid_mask
from segcore.losses.cross_entropy import as_class_vector


class FocalLoss(nn.Module):
    """-alpha_y * (1 - p_y)^gamma * log(p_y) per pixel, averaged over the non-ignored pixels.

    p_y is the softmax probability of the true class. `alpha` is optional per-class weights
    (the multi-class form of Lin et al.'s alpha); the mean divides by the number of valid
    pixels, not by the sum of alpha. gamma=0 without alpha is plain cross-entropy.
    """

    alpha: Tensor | None

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: Sequence[float] | Tensor | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = gamma
        self.register_buffer("alpha", as_class_vector(alpha, "alpha"), persistent=False)
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        check_inputs(logits, target)
        if self.alpha is not None and self.alpha.numel() != logits.shape[1]:
            raise ValueError(f"alpha has {self.alpha.numel()} entries but the logits have {logits.shape[1]} classes")
        valid = valid_mask(target, self.ignore_index)
        # -log p_y; exactly 0 (with zero gradient) at ignored pixels.
        ce = F.cross_entropy(logits.float(), target, ignore_index=self.ignore_index, reduction="none")
        pt = torch.exp(-ce)
        # clamp: rounding can push p_y a hair above 1, and a fractional gamma would give NaN.
        loss = (1.0 - pt).clamp(min=0.0).pow(self.gamma) * ce
        if self.alpha is not None:
            loss = loss * self.alpha[torch.where(valid, target, torch.zeros_like(target))]
        return masked_mean(loss, valid)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, weighted={self.alpha is not None}, ignore_index={self.ignore_index}"
