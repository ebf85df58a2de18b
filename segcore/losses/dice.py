"""Soft Dice loss over softmax probabilities (Milletari et al., V-Net, 3DV 2016, multi-class form)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from segcore.data.classes import IGNORE_INDEX
from segcore.losses._common import check_inputs, one_hot, safe_divide, valid_mask


class DiceLoss(nn.Module):
    """1 - mean soft Dice over the classes present in the batch.

    For class c, over all valid pixels of the batch (one Dice per class for the whole batch,
    so a class that is rare per image still gets a stable estimate):

        dice_c = (2 * sum(p_c * y_c) + smooth) / (sum(p_c) + sum(y_c) + smooth)

    with p = softmax(logits) and y the one-hot target. The mean runs over the classes present
    in the target or in the argmax prediction; a class absent from both would score a
    meaningless smooth/smooth = 1, so it is left out. Ignored pixels count in no sum. No valid
    pixels: 0.
    """

    def __init__(self, smooth: float = 1.0, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0, got {smooth}")
        self.smooth = smooth
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        check_inputs(logits, target)
        num_classes = logits.shape[1]
        valid = valid_mask(target, self.ignore_index)
        probs = torch.softmax(logits.float(), dim=1) * valid.unsqueeze(1)
        y = one_hot(target, valid, num_classes, torch.float32)
        dims = (0, 2, 3)
        intersection = (probs * y).sum(dims)
        target_sum = y.sum(dims)
        cardinality = probs.sum(dims) + target_sum
        dice = (2.0 * intersection + self.smooth) / (cardinality + self.smooth).clamp(min=1e-12)
        predicted = one_hot(logits.detach().argmax(dim=1), valid, num_classes, torch.bool).any(dim=3).any(dim=2).any(dim=0)
        present = (target_sum > 0) | predicted
        return safe_divide(((1.0 - dice) * present).sum(), present.sum())

    def extra_repr(self) -> str:
        return f"smooth={self.smooth}, ignore_index={self.ignore_index}"
