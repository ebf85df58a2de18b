"""Shared plumbing of the segmentation losses: input checks, the ignore mask, sync-free means.

Everything here stays on the device of its inputs and never reads a value back to the host
(no `.item()`, no boolean-mask indexing), so a loss never stalls the CUDA stream.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_inputs(logits: Tensor, target: Tensor) -> None:
    """Raise ValueError unless `logits` is N x C x H x W float and `target` N x H x W integer."""
    if logits.dim() != 4:
        raise ValueError(f"logits must be N x C x H x W, got shape {tuple(logits.shape)}")
    if target.dim() != 3:
        raise ValueError(f"target must be N x H x W, got shape {tuple(target.shape)}")
    if logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(
            f"logits {tuple(logits.shape)} and target {tuple(target.shape)} differ in batch or spatial size"
        )
    if not logits.is_floating_point():
        raise ValueError(f"logits must be floating point, got {logits.dtype}")
    if target.is_floating_point() or target.dtype == torch.bool:
        raise ValueError(f"target must hold integer class indices, got {target.dtype}")


def valid_mask(target: Tensor, ignore_index: int) -> Tensor:
    """N x H x W bool: the pixels that take part in the loss."""
    return target != ignore_index


def one_hot(target: Tensor, valid: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """N x C x H x W one-hot of `target`, all zeros at pixels that are not `valid`.

    Built by comparison with arange instead of F.one_hot because F.one_hot range-checks its
    input with a host read-back; a label outside [0, C) simply gets an all-zero row here.
    """
    classes = torch.arange(num_classes, device=target.device).view(1, num_classes, 1, 1)
    return ((target.unsqueeze(1) == classes) & valid.unsqueeze(1)).to(dtype)


def safe_divide(numerator: Tensor, denominator: Tensor) -> Tensor:
    """numerator / denominator, or numerator itself where the denominator is 0.

    Used for means over valid pixels: an all-ignored batch has numerator 0 and denominator 0
    and must give 0 with zero (not NaN) gradients. The denominator is replaced *before* the
    division because `torch.where(den > 0, num / den, 0)` still back-propagates NaN from 0/0.
    """
    denominator = denominator.to(numerator.dtype)
    return numerator / torch.where(denominator > 0, denominator, torch.ones_like(denominator))


def masked_mean(per_pixel: Tensor, valid: Tensor) -> Tensor:
    """Mean of N x H x W `per_pixel` over the `valid` pixels; 0 when there are none."""
    return safe_divide((per_pixel * valid).sum(), valid.sum())
