"""The training data of a run: the train/val split and what is learnt from the labels up front."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from segcore.data.classes import ClassTable
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.transforms.channels import channel_count
from segcore.errors import DatasetError
from segcore.losses import class_pixel_counts
from segcore.training.checkpoint import label_set_hash, mask_digest
from segcore.training.pseudo import UnlabelledImage

log = logging.getLogger(__name__)

SAMPLED_IMAGES = 32
"""Channel counts and sizes are checked on at most this many training images, spread over the set."""


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
    same_size: bool = True
    """Whether the checked training images all share one size."""
    image_channels: tuple[int, ...] = ()
    """Channel counts of the checked training images (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA)."""
    unlabelled: list[UnlabelledImage] = field(default_factory=list)
    """Images without labels, for pseudo-labels (`TrainConfig.pseudo_labels`); never validated on."""

    def split_names(self) -> dict[str, list[str]]:
        """{"train": [...], "val": [...]} sample names: the split a run records, so `eval` can repeat it."""
        return {"train": [s.name for s in self.train], "val": [s.name for s in self.val]}


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
    """Split the data and read each training mask once (class statistics, label-set hash) and a spread
    of training images (the channel count to train with, sizes)."""
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
    # (channels, size, bytes) only: holding 32 decoded 3072 x 3072 frames at once would cost gigabytes.
    images = [(channel_count(image), image.shape[:2], image.nbytes)
              for image in (s.load_image() for s in spread(train, SAMPLED_IMAGES))]
    counts = tuple(channels for channels, _, _ in images)
    return TrainingData(
        train=train,
        val=val,
        class_table=dataset.class_table,
        in_channels=choose_channels(counts),
        label_hash=label_set_hash(digests),
        class_pixel_counts=stats.counts,
        class_image_pixels=stats.image_pixel_totals,
        image_bytes=sum(nbytes for _, _, nbytes in images) // len(images),
        same_size=len({size for _, size, _ in images}) == 1,
        image_channels=counts,
    )


def spread(samples: Sequence, n: int) -> list:
    """At most `n` items spread evenly over the list, first and last included (all of them when there are few)."""
    if len(samples) <= n:
        return list(samples)
    return [samples[int(i)] for i in np.linspace(0, len(samples) - 1, n).round()]


def choose_channels(counts: Sequence[int]) -> int:
    """The channel count a run trains with (1 or 3), from its images' channel counts.

    The majority decides (gray + alpha counts as gray, RGBA as colour); a tie goes to colour, since
    gray -> RGB loses nothing while RGB -> gray drops the colour. Frames are converted as they load
    (`ToChannels`, recorded in the checkpoint so prediction repeats it).
    """
    gray = sum(c <= 2 for c in counts)
    return 1 if gray > len(counts) - gray else 3


def channel_notes(counts: Sequence[int], channels: int) -> tuple[str, ...]:
    """A note for the run saying which of these images are converted to `channels`, and how."""
    gray = sum(c <= 2 for c in counts)
    colour = len(counts) - gray
    alpha = sum(c in (2, 4) for c in counts)
    converted = colour if channels == 1 else gray
    parts = []
    if converted:
        how = "gray, colour by luminance" if channels == 1 else "RGB, gray repeated"
        parts.append(f"{gray} gray and {colour} colour images checked: trained as {how}")
    if alpha:
        parts.append(f"the alpha channel of {alpha} dropped")
    return ("; ".join(parts) + "; prediction converts its input the same way",) if parts else ()
