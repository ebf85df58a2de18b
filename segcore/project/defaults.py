"""First training settings for a project, chosen from its images, classes and a few of its labels.

    config = default_config(store)      # a TrainConfig that trains out of the box
    train, val = split_counts(store, config.val_fraction, config.seed)

Grayscale projects (interferograms: 1 channel, often 16-bit, big frames, two very unequal
classes) get a small U-Net trained from scratch with CE + Dice; every frame is resized on its own
to one long side (one scale for the optics, whatever the frame size), its intensities scaled by
its own percentiles (8-bit and 16-bit alike), and augmented with flips, rotations, scales and
photometric jitter. RGB projects get a ResNet model with cross-entropy (ImageNet weights when
torch's cache has them). Epochs and batch follow the number of labelled images and the device; a
time budget that suits the device (4 minutes for grayscale on a CPU) caps the run, the epochs being
the most it may take. Where the labelled frames hold one object of each class (a sample per
interferogram), the run's predictions keep each class's largest region, holes filled.
"""

from __future__ import annotations

import hashlib
import logging
import math
import warnings
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2
import numpy as np
import torch

from segcore.data.normalization import compute_mean_image
from segcore.data.transforms.fringes import fringe_period
from segcore.errors import ProjectError, SegcoreError
from segcore.inference.regions import holds_one_region_per_class
from segcore.io.atomic import atomic_save_npy
from segcore.models import PretrainedWeightsMissing, get_model, get_model_info
from segcore.project.store import ProjectStore
from segcore.project.transfer import LABELLED_STATUSES, project_dataset
from segcore.training import TrainConfig
from segcore.training.data import split_samples
from segcore.training.device import pick_device

log = logging.getLogger(__name__)

MAX_SIDE = 1024
"""RGB frames with a longer side are resized (one factor for all: objects in scenes keep their relative size)."""
GRAY_SIDES = (384, 1024)
"""Grayscale frames train and predict at one long side in this range, each frame resized on its own.

One scale for the optics: a 1024 and a 3072 frame of the same field of view become alike (with one
factor for all, the network saw the same fringes at two scales and missed samples in the big frames;
benchmarks/bench_loop.py, docs/results.md). The smallest side that still gives a fringe
`FRINGE_PIXELS` pixels: a coarse view sees more of the frame in each crop and trains faster."""
FRINGE_PIXELS = 8
PERIOD_FRAMES = 3
PERIOD_SIDE = 1024
"""Frames whose fringe period is measured (median) to choose the working side."""
FRINGE_BACKGROUND = "quartic"
"""The phase fringe analysis removes in new runs (`fringes.BACKGROUNDS`): the optics' tilt, defocus, astigmatism,
coma and spherical aberration."""
GRAY_AUGMENT = {"hflip": 0.5, "vflip": 0.5, "rotation": 180.0, "scale_range": [0.7, 1.4], "jitter": [0.2, 0.2, 0.3],
                "invert": 0.5, "intensity": "percentile", "fringe_features": True, "fringe_background": FRINGE_BACKGROUND,
                "fringe_normalise": True, "fringe_robust": True, "fringe_refit": True, "fringe_side": 1024,
                "phase_sign": 0.5}
"""Few labelled frames must cover many: no up or down, fringes and samples at any angle, a range of scales,
exposures and gammas, samples brighter and darker than what they lie on (half the frames mirrored);
each frame's intensities by its own percentiles (8-bit, 12-bit-in-16, exposures);
the network sees the fringe analysis beside the gray level: run without the frame's illumination (a beam's
falloff leaks into faint fringes' band), its carrier sought past hot pixels, row and column patterns and the
sample's own outline (fringes over a small sample lose to them), its background fitted twice on the smoothed field
(speckle and row patterns threw the fit off by a fringe), its contrasts relative to the frame's, at up to
1024 px a side before the resize (fine fringes alias at the network's side) and once per frame, its phase flat over
the background once tilt, defocus, astigmatism, coma and spherical aberration are removed, and of either sign (which of the
carrier's mirror peaks the analysis takes is arbitrary) (docs/results.md: 8 boxes go much further with each)."""
CROP = {"cuda": 512, "cpu": 256}
"""Training crop per device type (whole images when they are smaller)."""
BATCH = {"cuda": 8, "cpu": 4}
TARGET_STEPS = {("cpu", True): 800, ("cpu", False): 6000, ("cuda", True): 1500, ("cuda", False): 20000}
"""Optimiser steps a first run aims at by (device type, grayscale); epochs follow from the number of
training images. On a CPU these are more than the time budget holds, so the budget ends the run and the
schedule spans it (8 boxed frames: ~140 epochs in 4 minutes; a cap of 100 left a minute of it unused,
docs/results.md). Scenes want many more (a ResNet from scratch): CamVid on 2 CPU cores gets ~32 epochs
in its 20 minutes."""
MIN_EPOCHS, MAX_EPOCHS = 10, 400
TIME_BUDGET_S = {("cpu", True): 240.0, ("cpu", False): 1200.0, ("cuda", True): 120.0, ("cuda", False): 600.0}
"""A first run's time budget by (device type, grayscale): the epochs above are then its cap. A grayscale
project on a CPU trains in 4 minutes at most (a handful of boxed frames on 2 cores); RGB scenes with
a ResNet need longer; a GPU does as much in less."""
MIN_IMAGES_FOR_VAL = 16
"""Below this many labelled images all of them train (no validation mIoU): a fifth held out would be 1-3
frames, a noisy score bought with a fifth of the labels (8 boxes: +0.02 and +0.04 IoU on never-labelled
frames when all 8 train, docs/results.md). The form's Validation field still holds some out on request."""
MEAN_IMAGES_DIR = "mean_images"
ONE_REGION_MASKS = 16
"""Labelled masks read, evenly spread over the project, to see whether frames hold one object per class."""


@dataclass(frozen=True)
class ProjectProfile:
    """What the defaults are chosen from: the project's images and classes."""

    grayscale: bool
    high_bit_depth: bool
    long_side: int
    """The longest image side in the project."""
    short_side: int
    """The shortest image side in the project."""
    min_aspect: float
    """The smallest short side / long side ratio of an image (1: all square)."""
    same_size: bool
    labelled: int
    num_classes: int
    fringe_period: float | None = None
    """Grayscale projects: the median fringe period of a few frames, as a share of their long side."""


def project_profile(store: ProjectStore) -> ProjectProfile:
    """Summarise the project's images (channels, bit depth, sizes, fringe period) and class count."""
    images = store.images()
    sizes = {(r.height, r.width) for r in images}
    grayscale = bool(images) and all(r.channels == 1 for r in images)
    return ProjectProfile(
        grayscale=grayscale,
        fringe_period=_median_fringe_period(store, images) if grayscale else None,
        high_bit_depth=any(r.bit_depth > 8 for r in images),
        long_side=max((max(s) for s in sizes), default=0),
        short_side=min((min(s) for s in sizes), default=0),
        min_aspect=min((min(s) / max(s) for s in sizes if max(s)), default=1.0),
        same_size=len(sizes) <= 1,
        labelled=sum(r.status in LABELLED_STATUSES for r in images),
        num_classes=store.class_table().num_classes,
    )


class Pretrained(str, Enum):
    """Whether a model can start from ImageNet weights here."""

    UNSUPPORTED = "unsupported"
    MISSING = "missing"
    CACHED = "cached"


def pretrained_status(model: str) -> tuple[Pretrained, str]:
    """Can `model` load a pretrained backbone from torch's cache? (status, a sentence for the user).

    Builds the model on the meta device, so only a cached weights file is read, never a tensor allocated.
    """
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loading real weights into meta tensors is a warned no-op
            get_model(model, num_classes=2, in_channels=3, pretrained_backbone=True)
    except PretrainedWeightsMissing as exc:
        return Pretrained.MISSING, str(exc)
    except ValueError as exc:  # the builder's refusal: the model has no pretrained backbone
        return Pretrained.UNSUPPORTED, str(exc)
    return Pretrained.CACHED, "ImageNet weights found in torch's cache"


def default_config(store: ProjectStore, *, device: str = "auto") -> TrainConfig:
    """A configuration that trains the project well enough out of the box on `device`."""
    profile = project_profile(store)
    kind = pick_device(device).type
    kind = kind if kind in CROP else "cpu"  # mps and others: the CPU's modest sizes
    if profile.grayscale:
        binary = profile.num_classes == 2
        config = TrainConfig(
            model="unet",
            # Instance norm: each frame's own statistics in training and prediction alike. BatchNorm's running
            # statistics, from batches of four crops, once turned a whole project's predictions around.
            model_kwargs={"base_channels": 32 if kind == "cuda" else 16, "norm": "instance"},
            # Dice counters the imbalance of a small foreground; with more classes, median-frequency weights do.
            loss="ce+dice" if binary else "ce",
            class_weights="none" if binary else "median_freq",
            lr=1e-3,
            cpu_bf16=True,
        )
        augment: dict = dict(GRAY_AUGMENT)
    else:
        model = "deeplabv3plus_resnet50" if kind == "cuda" else "fcn_resnet18"
        pretrained = pretrained_status(model)[0] is Pretrained.CACHED
        # Scenes have thin, rare classes (poles, signs, people): class weights lift them. The square roots of the
        # median-frequency weights, because the full weights make them over-predicted (CamVid, docs/results.md).
        # bf16 on a CPU that computes it natively (used only there) trains twice as fast at the same mIoU.
        config = TrainConfig(model=model, pretrained_backbone=pretrained, loss="ce", lr=3e-4 if pretrained else 1e-3,
                             class_weights="sqrt_median_freq" if profile.num_classes > 2 else "none",
                             cpu_bf16=True)
        augment = {"hflip": 0.5, "vflip": 0.0}
    geometry = _gray_geometry if profile.grayscale else _geometry
    augment.update(geometry(profile, CROP[kind], get_model_info(config.model).divisor))
    if not profile.grayscale and augment.get("crop"):
        augment["scale_range"] = [0.5, 2.0]  # scenes: objects at many sizes
    config.augment = augment
    config.val_fraction = 0.2 if profile.labelled >= MIN_IMAGES_FOR_VAL else 0.0
    n_train = split_counts(store, config.val_fraction, config.seed)[0]
    config.batch_size = max(1, min(BATCH[kind], n_train // 2))  # two steps an epoch at least: none dropped
    steps_per_epoch = max(1, math.ceil(n_train / config.batch_size))
    config.epochs = int(np.clip(round(TARGET_STEPS[kind, profile.grayscale] / steps_per_epoch), MIN_EPOCHS, MAX_EPOCHS))
    config.time_budget_s = TIME_BUDGET_S[kind, profile.grayscale]
    # False patches in the background are most of what 8 boxes leave wrong (docs/results.md); a frame
    # known to hold one sample can drop them.
    config.one_region = one_object_per_class(store)
    config.validate()
    return config


def one_object_per_class(store: ProjectStore) -> bool:
    """Whether the labelled frames hold one object of each class: no mask read has two regions of a class.

    Reads up to ONE_REGION_MASKS labelled masks. False for a project with no labels.
    """
    ids = [record.id for record in store.images() if record.status in LABELLED_STATUSES]
    if not ids:
        return False
    num_classes = store.class_table().num_classes
    for image_id in ids[:: max(1, math.ceil(len(ids) / ONE_REGION_MASKS))]:
        mask = store.load_mask(image_id)
        if mask is not None and not holds_one_region_per_class(mask, num_classes):
            return False
    return True


def _geometry(profile: ProjectProfile, crop: int, divisor: int) -> dict:
    """Resize big frames, crop to `crop` (a multiple of the model's divisor) when images are larger or differ."""
    options: dict = {}
    scale = 1.0
    if profile.long_side > MAX_SIDE:
        scale = MAX_SIDE / profile.long_side
        # One size: the long side. Mixed sizes: one factor for all, so objects keep their relative scale.
        options["resize"] = MAX_SIDE if profile.same_size else round(scale, 4)
    short = int(profile.short_side * scale)
    if short > crop or not profile.same_size:
        options["crop"] = max(divisor, min(crop, short) // divisor * divisor)
    return options


def gray_side(profile: ProjectProfile) -> int:
    """The long side grayscale frames train at: a fringe FRINGE_PIXELS wide, within GRAY_SIDES and the frames' own."""
    smallest, largest = GRAY_SIDES
    wanted = smallest if not profile.fringe_period else math.ceil(FRINGE_PIXELS / profile.fringe_period / 32) * 32
    return min(max(smallest, min(wanted, largest)), profile.long_side)


def _gray_geometry(profile: ProjectProfile, crop: int, divisor: int) -> dict:
    """Each frame to `gray_side` long side (when any is larger, or sizes differ), then crops of one size.

    Always a crop (at most the frames' short side): the random scales give each sample another
    size, and a batch needs one.
    """
    options: dict = {}
    side = profile.long_side
    if profile.long_side > gray_side(profile) or not profile.same_size:
        side = gray_side(profile)
        options["resize"] = side  # an int: every frame's own long side becomes it
    short = int(side * profile.min_aspect)
    options["crop"] = max(divisor, min(crop, short) // divisor * divisor)
    return options


def _median_fringe_period(store: ProjectStore, images: list) -> float | None:
    """The median fringe period of up to PERIOD_FRAMES frames spread over the project (None: none readable)."""
    step = max(1, len(images) // PERIOD_FRAMES)
    periods = []
    for record in images[::step][:PERIOD_FRAMES]:
        try:
            frame = store.read_image(record.id)
        except SegcoreError as exc:  # a broken file must not stop the defaults: the others tell
            log.warning("no fringe period from %s: %s", record.name, exc)
            continue
        scale = PERIOD_SIDE / max(frame.shape[:2])
        if scale < 1:  # the period is a share of the frame: measured as well, and fast, on a smaller copy
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        period = fringe_period(frame, illumination=GRAY_AUGMENT["fringe_normalise"])
        if period is not None:
            periods.append(period)
    return float(np.median(periods)) if periods else None


def split_counts(store: ProjectStore, val_fraction: float, seed: int = 0) -> tuple[int, int]:
    """How many labelled images a run would train and validate on (the trainer's own split rule)."""
    train, val = split_samples(list(project_dataset(store).samples), val_fraction, seed)
    return len(train), len(val)


def mean_image_path(store: ProjectStore) -> Path:
    """Where the mean of the project's current images is kept; named after the image set, so adding
    images gives a new file and runs trained on an older mean keep theirs."""
    digest = hashlib.sha1("\n".join(r.path for r in store.images()).encode()).hexdigest()[:12]
    return store.root / MEAN_IMAGES_DIR / f"mean_{digest}.npy"


def ensure_mean_image(store: ProjectStore) -> Path:
    """The mean of every project image (for mean-image subtraction), computed once and saved as .npy."""
    path = mean_image_path(store)
    if path.is_file():
        return path
    records = store.images()
    if len({(r.height, r.width, r.channels) for r in records}) != 1:
        raise ProjectError("mean-image subtraction needs images that all share one size and channel count")
    mean = compute_mean_image(store.read_image(r.id) for r in records)
    atomic_save_npy(path, mean)  # a crash never leaves half a mean image under the real name
    return path
