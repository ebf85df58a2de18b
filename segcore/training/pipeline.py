"""The data side of a run: normalisation, augmentations, datasets, loaders and the loss."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from segcore.data.normalization import IMAGENET_MEAN, IMAGENET_STD, dataset_statistics
from segcore.data.torch_dataset import SegmentationDataset, pad_collate, worker_init
from segcore.data.transforms import AugmentConfig, build_transforms
from segcore.data.transforms.photometric import load_mean_image
from segcore.losses import SegmentationLoss, get_loss, median_frequency_weights
from segcore.training.config import ConfigError, TrainConfig
from segcore.training.data import TrainingData, channel_notes, spread
from segcore.training.distributed import DistContext

log = logging.getLogger(__name__)

STATS_SAMPLES = 32
"""Grayscale mean/std come from at most this many training images (spread over the set)."""
CACHE_BYTES = 2 << 30
"""Datasets whose decoded images fit in this many bytes are kept in memory after the first epoch."""


@dataclass
class DataPipeline:
    train_set: SegmentationDataset
    val_set: SegmentationDataset | None
    loss: SegmentationLoss
    normalization: dict
    """{"mean": [...], "std": [...]}: what inference must apply (stored in checkpoints)."""
    num_workers: int
    notes: tuple[str, ...] = ()
    """What the user should know about how the data is fed (e.g. padded batches)."""
    mean_image: np.ndarray | None = None
    """The mean image subtracted first (read once from `augment.mean_image`), stored in checkpoints."""

    def val_loader(self, ctx: DistContext) -> DataLoader:
        """Validation, one image per batch (sizes may differ), sharded over ranks."""
        assert self.val_set is not None
        sampler = DistributedSampler(self.val_set, ctx.world_size, ctx.rank, shuffle=False) if ctx.enabled else None
        return DataLoader(self.val_set, batch_size=1, sampler=sampler, num_workers=self.num_workers,
                          worker_init_fn=worker_init if self.num_workers else None)


def normalization_for(
    data: TrainingData, augment: AugmentConfig, mean_image: np.ndarray | None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """ImageNet statistics for RGB (what pretrained backbones expect); the data's own for grayscale."""
    if augment.mean is not None and augment.std is not None:
        return tuple(augment.mean), tuple(augment.std)
    if data.in_channels == 3:
        return IMAGENET_MEAN, IMAGENET_STD
    # Statistics of what Normalize will actually see: after mean-image subtraction, resize and CLAHE.
    before = dataclasses.replace(augment, mean=None, std=None, pad_divisor=None)
    before_normalize = build_transforms(False, **{**dataclasses.asdict(before), "mean_image": mean_image})
    images = (before_normalize(s.load_image(), None)[0].permute(1, 2, 0).numpy() for s in spread(data.train, STATS_SAMPLES))
    mean, std = dataset_statistics(images)
    # A flat image set would divide by zero; keep unit scale then.
    return mean, tuple(s if s > 1e-6 else 1.0 for s in std)


def build_loss(config: TrainConfig, data: TrainingData) -> SegmentationLoss:
    kwargs = dict(config.loss_kwargs)
    if config.class_weights != "none":
        weights = median_frequency_weights(data.class_pixel_counts, data.class_image_pixels)
        if config.class_weights == "sqrt_median_freq":
            weights = weights.sqrt()
        log.info("%s class weights: %s", config.class_weights, [round(float(w), 3) for w in weights])
        kwargs["weight"] = weights
    try:
        base = get_loss(config.loss, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"loss {config.loss!r} does not take these options ({', '.join(kwargs)}): {exc}") from exc
    return SegmentationLoss(base, aux_weight=config.aux_weight)


def build_pipeline(config: TrainConfig, data: TrainingData, ctx: DistContext) -> DataPipeline:
    try:
        augment = AugmentConfig.from_dict(config.augment)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad augmentation options: {exc}") from exc
    # Every image to the run's channel count first; the checkpoint records it, so prediction repeats it.
    augment = dataclasses.replace(augment, channels=data.in_channels)
    # Read once: the checkpoints keep this array, so they still predict when the file moves.
    mean_image = None if augment.mean_image is None else load_mean_image(augment.mean_image)
    mean, std = normalization_for(data, augment, mean_image)
    augment = dataclasses.replace(augment, mean=mean, std=std)
    options = {**dataclasses.asdict(augment), "mean_image": mean_image}
    cache = data.image_bytes * (len(data.train) + len(data.val)) <= CACHE_BYTES
    common = {"seed": config.seed, "class_table": data.class_table, "cache": cache}
    train_set = SegmentationDataset(data.train, build_transforms(True, **options), **common)
    val_set = SegmentationDataset(data.val, build_transforms(False, **options), **common) if data.val else None
    return DataPipeline(
        train_set=train_set,
        val_set=val_set,
        loss=build_loss(config, data),
        normalization={"mean": list(mean), "std": list(std), "augment": augment.to_dict()},
        num_workers=config.workers,
        notes=(*channel_notes(data.image_channels, data.in_channels), *padding_notes(augment, data.same_size)),
        mean_image=mean_image,
    )


def padding_notes(augment: AugmentConfig, same_size: bool) -> tuple[str, ...]:
    """A note when training batches will hold images of different sizes (whole images, no crop)."""
    resized_to_one_size = isinstance(augment.resize, tuple)
    if augment.crop is not None or ((same_size or resized_to_one_size) and augment.scale_range is None):
        return ()
    return ("no crop and images of different sizes: each batch is padded to its largest image "
            "(the padding is ignored by the loss)",)


def loader_kwargs(pipeline: DataPipeline, device: torch.device) -> dict:
    return {
        "num_workers": pipeline.num_workers,
        "pin_memory": device.type == "cuda",
        "worker_init_fn": worker_init if pipeline.num_workers else None,
        "persistent_workers": False,
        "collate_fn": pad_collate,
    }
