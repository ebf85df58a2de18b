"""Segmentation losses: each maps (N x C x H x W logits, N x H x W int64 target) to a scalar.

Every loss skips pixels equal to `IGNORE_INDEX` and returns 0 (with zero gradients, never
NaN) for a batch with no valid pixel. `SegmentationLoss` applies one of them to a model's
`{"out", "aux"}` output; `get_loss` builds them by name.
"""

from segcore.losses.asl import AsymmetricLoss
from segcore.losses.class_weights import (
    ClassPixelCounts,
    class_pixel_counts,
    median_frequency_weights,
)
from segcore.losses.combined import SegmentationLoss, SumLoss
from segcore.losses.cross_entropy import CrossEntropyLoss
from segcore.losses.dice import DiceLoss
from segcore.losses.focal import FocalLoss
from segcore.losses.registry import LOSSES, get_loss, list_losses

__all__ = [
    "LOSSES",
    "AsymmetricLoss",
    "ClassPixelCounts",
    "CrossEntropyLoss",
    "DiceLoss",
    "FocalLoss",
    "SegmentationLoss",
    "SumLoss",
    "class_pixel_counts",
    "get_loss",
    "list_losses",
    "median_frequency_weights",
]
