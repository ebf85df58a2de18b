"""One prediction against its label: the scores and the error maps review shows, with no project behind them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from segcore.errors import MaskError
from segcore.metrics import ConfusionMatrix


@dataclass(frozen=True)
class Comparison:
    miou: float | None
    """Mean IoU over the classes present in the label or the prediction (None: nothing labelled)."""
    pixel_acc: float | None
    false_positive: np.ndarray
    """H x W bool: a class predicted where the label has another one (background predicted is excluded)."""
    false_negative: np.ndarray
    """H x W bool: a labelled class that the prediction calls background."""


def compare(label: np.ndarray, prediction: np.ndarray, num_classes: int, ignore_index: int = 255,
            background: int = 0) -> Comparison:
    """Score one prediction against its label; ignore pixels count nowhere."""
    if label.shape != prediction.shape:
        raise MaskError(f"label {label.shape} and prediction {prediction.shape} differ in size")
    matrix = ConfusionMatrix(num_classes, ignore_index)
    matrix.update(torch.from_numpy(prediction[None].astype(np.int64)), torch.from_numpy(label[None].astype(np.int64)))
    metrics = matrix.compute()
    wrong = (prediction != label) & (label != ignore_index)
    return Comparison(
        miou=metrics.miou,
        pixel_acc=metrics.pixel_acc,
        false_positive=wrong & (prediction != background),
        false_negative=wrong & (prediction == background),
    )
