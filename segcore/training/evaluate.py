"""Evaluate a checkpoint on labelled samples: the metrics users report (mIoU, pixel accuracy)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.data import DataLoader

from segcore.data.readers.base import LabelledSample
from segcore.data.torch_dataset import SegmentationDataset
from segcore.errors import DatasetError
from segcore.metrics import ConfusionMatrix, SegmentationMetrics
from segcore.training.checkpoint import Checkpoint
from segcore.training.device import pick_device


@torch.no_grad()
def evaluate(
    checkpoint: Checkpoint,
    samples: Sequence[LabelledSample],
    *,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> SegmentationMetrics:
    """Confusion-matrix metrics of the checkpoint's model over `samples` (whole images, batch 1)."""
    dev = pick_device(device)
    model = checkpoint.build_model().to(dev).eval()
    dataset = SegmentationDataset(samples, checkpoint.preprocessing().build(train=False), class_table=checkpoint.class_table)
    matrix = ConfusionMatrix(checkpoint.num_classes, device=dev)
    for i, (image, mask) in enumerate(DataLoader(dataset, batch_size=1), 1):
        if image.shape[1] != checkpoint.in_channels:
            raise DatasetError(f"{samples[i - 1].name} has {image.shape[1]} channels; the model takes {checkpoint.in_channels}")
        logits = model(image.to(dev))["out"]
        matrix.update(logits.argmax(1), mask.to(dev))
        if progress is not None:
            progress(i, len(dataset))
    return matrix.compute()
