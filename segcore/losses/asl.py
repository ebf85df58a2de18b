"""Asymmetric loss (ASL) applied per pixel, treating each pixel as a multi-label problem over C.

Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter, Zelnik-Manor, "Asymmetric Loss For
Multi-Label Classification", ICCV 2021. Matches `AsymmetricLoss` of Alibaba-MIIL/ASL
(src/loss_functions/losses.py): sigmoid probabilities, probability shifting of the negatives
by `clip`, logs clamped at `eps`, one-sided focusing weights. It suits heavy imbalance (a small
sample region on a large fringe background): easy negatives are down-weighted by p^gamma_neg
and very easy ones (p < clip) are discarded entirely.

Per valid pixel with one-hot target y over the C classes and p = sigmoid(logit):

    L+ = y * (1 - p)^gamma_pos * log(max(p, eps))
    L- = (1 - y) * p_m^gamma_neg * log(max(1 - p_m, eps)),   p_m = max(p - clip, 0)
    loss(pixel) = -sum_c (L+ + L-)

Reduction: the sum over classes, averaged over the non-ignored pixels (the reference sums over
everything; with one pixel both agree). No valid pixels: 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from segcore.data.classes import IGNORE_INDEX
from segcore.losses._common import check_inputs, masked_mean, one_hot, valid_mask


class AsymmetricLoss(nn.Module):
    """ASL over sigmoid(logits) per pixel and class; see the module docstring for the formula."""

    def __init__(
        self,
        gamma_neg: float = 4.0,
        gamma_pos: float = 1.0,
        clip: float = 0.05,
        eps: float = 1e-8,
        disable_torch_grad_focal_loss: bool = False,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        if gamma_neg < 0 or gamma_pos < 0:
            raise ValueError(f"gamma_neg and gamma_pos must be >= 0, got {gamma_neg} and {gamma_pos}")
        if not 0.0 <= clip < 1.0:
            raise ValueError(f"clip must be in [0, 1), got {clip}")
        self.gamma_neg = gamma_neg
        self.gamma_pos = gamma_pos
        self.clip = clip
        self.eps = eps
        # True treats the focusing weight as a constant (the reference's option); the default
        # False keeps it in the autograd graph, as the reference's AsymmetricLoss does in effect.
        self.disable_torch_grad_focal_loss = disable_torch_grad_focal_loss
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        check_inputs(logits, target)
        valid = valid_mask(target, self.ignore_index)
        y = one_hot(target, valid, logits.shape[1], torch.float32)
        # float32 even under autocast: log(1e-8) and p^4 underflow in half precision.
        xs_pos = torch.sigmoid(logits.float())
        xs_neg = 1.0 - xs_pos
        if self.clip > 0:
            # 1 - p_m with p_m = max(p - clip, 0), written as the reference does.
            xs_neg = (xs_neg + self.clip).clamp(max=1.0)
        loss = y * torch.log(xs_pos.clamp(min=self.eps)) + (1.0 - y) * torch.log(xs_neg.clamp(min=self.eps))
        if self.gamma_neg > 0 or self.gamma_pos > 0:
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self.disable_torch_grad_focal_loss):
                pt = xs_pos * y + xs_neg * (1.0 - y)  # p for the true class, 1 - p_m for the others
                one_sided_gamma = self.gamma_pos * y + self.gamma_neg * (1.0 - y)
                one_sided_w = torch.pow(1.0 - pt, one_sided_gamma)
            loss = loss * one_sided_w
        return masked_mean(-loss.sum(dim=1), valid)

    def extra_repr(self) -> str:
        return (
            f"gamma_neg={self.gamma_neg}, gamma_pos={self.gamma_pos}, clip={self.clip}, eps={self.eps}, "
            f"ignore_index={self.ignore_index}"
        )
