"""The training data of a run: the train/val split and what is learnt from the labels up front."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from segcore.data.classes import ClassTable
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.errors import DatasetError
from segcore.losses import class_pixel_counts
from segcore.training.checkpoint import label_set_hash, mask_digest

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    train: list[LabelledSample]
    val: list[LabelledSample]
    class_table: ClassTable
    in_channels: int
    label_hash: str
    class_pixel_counts: np.ndarray
    """Pixels per class over the training masks (for median-frequency weights)."""
    class_image_pixels: np.ndarray
    """Labelled pixels of the training images in which each class appears."""
    image_bytes: int
    """Decoded size of one training image (sizes the in-memory cache)."""


def split_samples(samples: list[LabelledSample], val_fraction: float, seed: int) -> tuple[list, list]:
    """The source's own 'val' split when it has one; otherwise a seeded random `val_fraction`."""
    val = [s for s in samples if s.split == "val"]
    train = [s for s in samples if s.split in (None, "train", "trainval")]
    if val:
        return train, val
    if val_fraction <= 0 or len(samples) < 2:
        return list(samples), []
    order = np.random.default_rng(seed).permutation(len(samples))
    n_val = max(1, int(round(len(samples) * val_fraction)))
    held = set(order[:n_val].tolist())
    return [s for i, s in enumerate(samples) if i not in held], [s for i, s in enumerate(samples) if i in held]


def prepare(dataset: LabelledDataset, val_fraction: float, seed: int) -> TrainingData:
    """Split the data and read each training mask once: class statistics and the label-set hash."""
    train, val = split_samples(list(dataset.samples), val_fraction, seed)
    if not train:
        raise DatasetError("no training images: label some images first (or check the 'train' split)")
    digests: list[tuple[str, str]] = []

    def masks():  # one read per mask feeds both the class statistics and the label-set hash
        for sample in train:
            mask = sample.load_mask()
            digests.append((sample.name, mask_digest(mask)))
            yield mask

    stats = class_pixel_counts(masks(), dataset.class_table.num_classes)
    first = train[0].load_image()
    in_channels = 1 if first.ndim == 2 else 3
    return TrainingData(
        train=train,
        val=val,
        class_table=dataset.class_table,
        in_channels=in_channels,
        label_hash=label_set_hash(digests),
        class_pixel_counts=stats.counts,
        class_image_pixels=stats.image_pixel_totals,
        image_bytes=first.nbytes,
    )
