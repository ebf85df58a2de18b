"""Segmentation metrics from a confusion matrix accumulated on the device (torchvision-style).

`ConfusionMatrix.update` never reads a value back to the host, so evaluating on a GPU does not
stall the stream per batch; the one sync is `compute()`. Rows of the matrix are the true class,
columns the predicted class.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from segcore.data.classes import IGNORE_INDEX


@dataclass(frozen=True)
class SegmentationMetrics:
    """Metrics of one confusion matrix. None marks a value that is undefined, never NaN.

    A class is *present* when it occurs in the truth or in the prediction. Per-class IoU and
    Dice are None for a class present in neither; the means (`miou`, `mean_dice`) run over the
    present classes only, so a class absent from an evaluation set neither helps nor hurts,
    while a class that is only predicted scores 0 and counts. Per-class accuracy (recall) is
    None for a class absent from the truth; `mean_class_acc` averages the others.
    With no valid pixel at all every scalar is None and every per-class entry is None.
    """

    num_pixels: int
    """Pixels counted (not ignored)."""
    pixel_acc: float | None
    mean_class_acc: float | None
    miou: float | None
    fw_iou: float | None
    """Frequency-weighted IoU: sum over classes of (true pixels of c / all pixels) * IoU_c."""
    mean_dice: float | None
    per_class_acc: list[float | None]
    per_class_iou: list[float | None]
    per_class_dice: list[float | None]
    confusion: list[list[int]]
    """confusion[true][pred] pixel counts."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (ints, floats, None, lists)."""
        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return math.fsum(defined) / len(defined) if defined else None


class ConfusionMatrix:
    """Accumulates a num_classes x num_classes confusion matrix over batches, on their device.

    Pixels whose target is `ignore_index` are skipped. Targets outside [0, num_classes) that are
    not the ignore index, and predictions outside [0, num_classes), are bugs upstream; checking
    them per batch would need a host sync, so they are counted on the device and `compute()`
    raises ValueError if there were any.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX, device: torch.device | str | None = None) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        n2 = num_classes * num_classes
        # One flat buffer so a single all_reduce covers everything:
        # [0, n^2): the matrix, n^2: ignored pixels, n^2 + 1: out-of-range labels or predictions.
        self._ignored_bin = n2
        self._invalid_bin = n2 + 1
        self._counts = torch.zeros(n2 + 2, dtype=torch.int64, device=device)

    @property
    def mat(self) -> Tensor:
        """The int64 matrix, mat[true, pred], on the accumulation device (a view, do not modify)."""
        return self._counts[: self.num_classes**2].view(self.num_classes, self.num_classes)

    @property
    def ignored_pixels(self) -> Tensor:
        """Pixels skipped because their target is the ignore index (a 0-d device tensor)."""
        return self._counts[self._ignored_bin]

    def reset(self) -> None:
        self._counts.zero_()

    @torch.no_grad()
    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add a batch: `pred` class indices N x H x W (or logits N x C x H x W, argmax'd), `target` N x H x W."""
        if pred.dim() == target.dim() + 1:
            if pred.shape[1] != self.num_classes:
                raise ValueError(f"logits have {pred.shape[1]} classes, the matrix {self.num_classes}")
            pred = pred.argmax(dim=1)
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        if pred.is_floating_point() or target.is_floating_point():
            raise ValueError("pred and target must be integer class indices (or pred logits N x C x H x W)")
        if self._counts.device != target.device:
            self._counts = self._counts.to(target.device)
        n = self.num_classes
        target = target.reshape(-1).long()
        pred = pred.reshape(-1).to(target.device).long()
        ignored = target == self.ignore_index
        in_range = (target >= 0) & (target < n) & (pred >= 0) & (pred < n) & ~ignored
        index = torch.where(in_range, n * target + pred, torch.full_like(target, self._invalid_bin))
        index = torch.where(ignored, torch.full_like(target, self._ignored_bin), index)
        # Not torch.bincount: on CUDA it reads min() and max() back to the host (two syncs per
        # call), and boolean-mask selection of the valid pixels would be a third. index_add_
        # into a fixed-size buffer stays asynchronous; the expanded source allocates nothing.
        ones = torch.ones(1, dtype=torch.int64, device=target.device).expand(index.numel())
        self._counts.index_add_(0, index, ones)

    def reduce_from_all_processes(self) -> None:
        """Sum the counts over all processes when torch.distributed is initialised; otherwise nothing."""
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            dist.all_reduce(self._counts)

    def compute(self) -> SegmentationMetrics:
        """The metrics of everything accumulated so far (the one host read-back)."""
        counts = self._counts.cpu()
        invalid = int(counts[self._invalid_bin])
        if invalid:
            raise ValueError(
                f"{invalid} pixel(s) had a target or prediction outside 0..{self.num_classes - 1} "
                f"that is not the ignore index {self.ignore_index}"
            )
        mat: list[list[int]] = counts[: self.num_classes**2].view(self.num_classes, self.num_classes).tolist()
        n = self.num_classes
        tp = [mat[c][c] for c in range(n)]
        true = [sum(mat[c]) for c in range(n)]
        predicted = [sum(mat[r][c] for r in range(n)) for c in range(n)]
        total = sum(true)
        per_class_acc = [_ratio(tp[c], true[c]) for c in range(n)]
        per_class_iou = [_ratio(tp[c], true[c] + predicted[c] - tp[c]) for c in range(n)]
        per_class_dice = [_ratio(2 * tp[c], true[c] + predicted[c]) for c in range(n)]
        fw_iou = None
        if total:
            # A class with true pixels has a non-zero union, so its IoU is defined.
            fw_iou = math.fsum(true[c] / total * per_class_iou[c] for c in range(n) if true[c])  # type: ignore[operator]
        return SegmentationMetrics(
            num_pixels=total,
            pixel_acc=_ratio(sum(tp), total),
            mean_class_acc=_mean(per_class_acc),
            miou=_mean(per_class_iou),
            fw_iou=fw_iou,
            mean_dice=_mean(per_class_dice),
            per_class_acc=per_class_acc,
            per_class_iou=per_class_iou,
            per_class_dice=per_class_dice,
            confusion=mat,
        )

    def __repr__(self) -> str:
        return f"ConfusionMatrix(num_classes={self.num_classes}, ignore_index={self.ignore_index}, device={self._counts.device})"
