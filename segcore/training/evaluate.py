"""Evaluate a checkpoint on labelled samples: the metrics users report (mIoU, pixel accuracy)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from segcore.data.readers.base import LabelledSample
from segcore.data.torch_dataset import SegmentationDataset
from segcore.data.transforms import build_transforms
from segcore.errors import DatasetError
from segcore.metrics import ConfusionMatrix, SegmentationMetrics
from segcore.training.checkpoint import Checkpoint
from segcore.training.device import pick_device

log = logging.getLogger(__name__)

RUN_SPLITS = ("train", "val")
"""The splits a run records by sample name (`Checkpoint.extra["split"]`)."""


def select_samples(
    samples: Sequence[LabelledSample], split: str | None, recorded: dict[str, list[str]] | None = None
) -> list[LabelledSample]:
    """The samples to score: `split` None is the data's 'val' split, or all of it when it has none;
    'all' is everything; 'train' / 'val' are the images the run trained on / held out when it recorded
    them (`recorded`, sample names), else the data's split of that name; other names the data's split."""
    if split == "all" or (split is None and not any(s.split == "val" for s in samples)):
        return list(samples)
    split = split or "val"
    if recorded is not None and split in RUN_SPLITS:
        wanted = set(recorded[split])
        chosen = [s for s in samples if s.name in wanted]
        if not chosen:
            raise DatasetError(f"none of the {len(wanted)} {split} images the run recorded are in this data")
        if len(chosen) < len(wanted):
            log.warning("%d of the run's %d %s images are not in this data; scoring the other %d",
                        len(wanted) - len(chosen), len(wanted), split, len(chosen))
        return chosen
    chosen = [s for s in samples if s.split == split]
    if not chosen:
        splits = sorted({s.split for s in samples if s.split is not None})
        here = f"splits here: {', '.join(splits)}" if splits else "this data has no splits"
        raise DatasetError(f"no samples in split {split!r} ({here}; 'all' scores every image)")
    return chosen


@torch.no_grad()
def evaluate(
    checkpoint: Checkpoint,
    samples: Sequence[LabelledSample],
    *,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    at_training_resolution: bool = False,
) -> SegmentationMetrics:
    """Confusion-matrix metrics of the checkpoint's model over `samples` (whole images, batch 1).

    The image goes through the checkpoint's preprocessing (resize included) and its logits are
    upsampled (bilinear) to the label's own size, where it is scored: the labels' native resolution,
    as published benchmark numbers are. `at_training_resolution` resizes the labels with the image
    instead (nearest neighbour) and scores there, as validation during training does.
    """
    dev = pick_device(device)
    model = checkpoint.build_model().to(dev).eval()
    if at_training_resolution:
        transform = build_transforms(False, **checkpoint.preprocessing_options())
    else:
        transform = _image_only(build_transforms(False, **{**checkpoint.preprocessing_options(), "pad_divisor": None}))
    dataset = SegmentationDataset(samples, transform, class_table=checkpoint.class_table)
    matrix = ConfusionMatrix(checkpoint.num_classes, device=dev)
    for i, (image, mask) in enumerate(DataLoader(dataset, batch_size=1), 1):
        if image.shape[1] != checkpoint.in_channels:
            raise DatasetError(f"{samples[i - 1].name} has {image.shape[1]} channels; the model takes {checkpoint.in_channels}")
        logits = model(image.to(dev))["out"]
        if logits.shape[-2:] != mask.shape[-2:]:
            logits = F.interpolate(logits.float(), size=tuple(mask.shape[-2:]), mode="bilinear", align_corners=False)
        matrix.update(logits.argmax(1), mask.to(dev))
        if progress is not None:
            progress(i, len(dataset))
    return matrix.compute()


def _image_only(transform: Callable) -> Callable:
    """`transform` applied to the image alone; the mask stays as labelled (an int64 tensor at its own size)."""

    def apply(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator | None = None) -> tuple:
        return transform(image, None, rng)[0], torch.from_numpy(mask.astype(np.int64))

    return apply
