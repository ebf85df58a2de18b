"""`AugmentConfig`: the augmentation settings of a run (saved in its config JSON) and the pipelines
built from them by `build_transforms`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from segcore.data.transforms.base import Compose, Transform
from segcore.data.transforms.channels import ToChannels
from segcore.data.transforms.fringes import FRINGE_CHANNELS, FringeFeatures, RandomFringeIntensity, RandomPhaseSign
from segcore.data.transforms.geometric import (
    PadToMultiple,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomScale,
    RandomScaleRotateCrop,
    RandomVerticalFlip,
    Resize,
)
from segcore.data.transforms.labels import IgnoreBoundary
from segcore.data.transforms.memo import Memoised
from segcore.data.transforms.photometric import (
    CLAHE,
    MeanImageSubtraction,
    PercentileScale,
    PhotometricJitter,
    RandomInvert,
    RandomNoise,
    load_mean_image,
)
from segcore.data.transforms.tensor import Normalize, ToTensor

INTENSITIES = ("full_scale", "percentile")


@dataclass(frozen=True)
class AugmentConfig:
    """What `build_transforms` needs; every field JSON-friendly (lists come back as tuples).

    crop: training crop, int or (h, w); None trains on whole images (then they must share a size).
    scale_range: (min, max) of RandomScale. hflip / vflip: flip probabilities. rotation: max degrees.
    jitter: (brightness, contrast, gamma) strengths of PhotometricJitter, or None.
    clahe: CLAHE clip limit (None: off); clahe_grid: tiles per side.
    mean_image: path of a mean image (.npy or image file) to subtract first, or None; with clahe,
        frame and mean image are both equalised before the subtraction (see `MeanImageSubtraction`).
    resize: int = long side, float = scale factor, (h, w) = exact size; applied to train and val.
    mean / std: Normalize statistics on the 0..1 scale; None leaves images on the 0..1 scale.
    pad_divisor: validation pads H and W to a multiple of this (None: native size, batch 1).
    intensity: "full_scale" (uint8 / 255, uint16 / 65535) or "percentile" (each image's own 0.5-99.5
        percentile range to 0..1: 8-bit, 12-bit-in-16 and differently exposed frames look alike).
    channels: convert every image to 1 (gray) or 3 (RGB) channels first (`ToChannels`); None keeps them.
    ignore_boundary: training only: a band this many pixels wide along every class boundary is
        ignored by the loss (`IgnoreBoundary`, after the resize, so in pixels the network sees); 0: off.
    fringe_features: grayscale frames become six fringe-analysis channels (`FringeFeatures`: gray
        level, local mean and contrast, fringe amplitude, the demodulated phase) for the network.
    fringe_background: the phase fringe analysis removes (`fringes.BACKGROUNDS`): "carrier" (what runs
        saved before the option existed used) or "quadratic" (tilt, defocus and astigmatism too).
    fringe_side: with fringe_features, the analysis runs on each frame at this long side at most (before the
        resize to the network's side, which then resamples the channels) and once per frame, not per epoch
        (its input no longer varies: the gamma and bright-dark swap act on its gray channels, `RandomFringeIntensity`;
        brightness and contrast jitter, which `PercentileScale` undoes, are not applied). None: the analysis runs
        after `resize` on the jittered frame (runs saved before the option), where fine fringes alias.
    fringe_normalise: with fringe_features, the analysis is normalised (`FringeFeatures`: the illumination removed
        before it, the contrast and the amplitude relative to the frame's after); runs saved before the option: False.
    fringe_robust: with fringe_normalise, the carrier sought past hot pixels, row and column patterns and the sample's
        outline (`FringeFeatures.robust_carrier`); runs saved before the option: False.
    fringe_refit: with fringe_features and a polynomial fringe_background, the polynomial fitted on the smoothed
        field and once more (`FringeFeatures.refit`: noisy frames); runs saved before the option: False.
    noise: training only: Gaussian noise up to this share of each frame's intensity range (`RandomNoise`); 0: off.
    invert: training only: the probability a frame's intensities are mirrored, bright to dark (`RandomInvert`); 0: off.
    phase_sign: training only, with fringe_features: the probability the analysed phase is negated
        (`RandomPhaseSign`: its sign is the carrier's choice, not the sample's); 0: off.
    """

    crop: int | tuple[int, int] | None = None
    scale_range: tuple[float, float] | None = None
    hflip: float = 0.5
    vflip: float = 0.0
    rotation: float = 0.0
    jitter: tuple[float, float, float] | None = None
    clahe: float | None = None
    clahe_grid: int = 8
    mean_image: str | None = None
    resize: int | float | tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    pad_divisor: int | None = None
    intensity: str = "full_scale"
    channels: int | None = None
    ignore_boundary: int = 0
    fringe_features: bool = False
    fringe_background: str = "carrier"
    fringe_normalise: bool = False
    fringe_side: int | None = None
    fringe_robust: bool = False
    fringe_refit: bool = False
    noise: float = 0.0
    invert: float = 0.0
    phase_sign: float = 0.0

    def model_channels(self, image_channels: int) -> int:
        """How many channels the network takes when the images have `image_channels` (after `channels`)."""
        return FRINGE_CHANNELS if self.fringe_features else image_channels

    def __post_init__(self) -> None:
        # Fail when the options are read (a run's config), not at the first sample: build both
        # pipelines once, minus the mean image, whose file is only read by `build`.
        options = {**asdict(self), "mean_image": None}
        try:
            build_transforms(True, **options)
            build_transforms(False, **options)
        except TypeError as exc:
            raise ValueError(f"malformed augmentation option: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown augmentation option(s): {', '.join(unknown)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})

    def build(self, train: bool) -> Compose:
        return build_transforms(train, **asdict(self))


def build_transforms(
    train: bool,
    *,
    crop: int | tuple[int, int] | None = None,
    scale_range: tuple[float, float] | None = None,
    hflip: float = 0.5,
    vflip: float = 0.0,
    rotation: float = 0.0,
    jitter: tuple[float, float, float] | None = None,
    clahe: float | None = None,
    clahe_grid: int = 8,
    mean_image: str | Path | np.ndarray | None = None,
    resize: float | tuple[int, int] | None = None,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    pad_divisor: int | None = None,
    intensity: str = "full_scale",
    channels: int | None = None,
    ignore_boundary: int = 0,
    fringe_features: bool = False,
    fringe_background: str = "carrier",
    fringe_normalise: bool = False,
    fringe_side: int | None = None,
    fringe_robust: bool = False,
    fringe_refit: bool = False,
    noise: float = 0.0,
    invert: float = 0.0,
    phase_sign: float = 0.0,
) -> Compose:
    """The training (random) or validation (deterministic) pipeline, ending in `ToTensor`.

    Order, and why:
      ToChannels            first: every later step sees the channel count the model takes;
      MeanImageSubtraction  next: the mean image is aligned with the raw full-size frame; with
                            CLAHE too, frame and mean are equalised alike first, at full size
                            (CLAHE needs integer frames; the subtraction yields float);
      Resize                early: everything after works on the smaller image;
      IgnoreBoundary        (train only) the band along class boundaries, at the size the network sees;
      CLAHE                 (without a mean image) on integer data, before geometry so tiles see the whole frame;
      PhotometricJitter     (train only) on the integer frame: its gamma survives PercentileScale;
      RandomNoise           (train only) after the resize, so its strength is in the pixels the network sees;
      PercentileScale       (intensity="percentile") the whole frame's own range, before crops or padding;
      RandomInvert          (train only) mirrored about that range (or the dtype's), before the fringe analysis
                            so its local mean is mirrored too;
      FringeFeatures        the fringe analysis of the whole frame (its spectrum), before crops or padding;
      RandomPhaseSign       (train only) the analysed phase negated, on the whole frame's channels (after the
                            crop with `fringe_side`);
      RandomScale, RandomRotation, RandomCrop, flips   (train only; crop last among the
                            resamplings so the rotated-in corners are mostly cropped away; with a crop,
                            the three are one warp straight into it, `RandomScaleRotateCrop`);
      Normalize, ToTensor.
    Validation keeps the deterministic steps and adds PadToMultiple when pad_divisor is set.
    With `fringe_side`, the steps up to the resize run in another order (`_analysis_first`).
    """
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std for Normalize, or neither")
    if jitter is not None and len(jitter) != 3:
        raise ValueError(f"jitter is (brightness, contrast, gamma), got {jitter!r}")
    if intensity not in INTENSITIES:
        raise ValueError(f"intensity must be one of {', '.join(INTENSITIES)}, got {intensity!r}")
    if phase_sign and not fringe_features:
        raise ValueError("phase_sign negates the fringe analysis's phase: it needs fringe_features")
    if fringe_robust and not (fringe_features and fringe_normalise):
        raise ValueError("fringe_robust is part of the normalised fringe analysis: it needs fringe_features and "
                         "fringe_normalise")
    if fringe_refit and not fringe_features:
        raise ValueError("fringe_refit is part of the fringe analysis: it needs fringe_features")
    if fringe_side is not None and (not fringe_features or isinstance(fringe_side, bool) or int(fringe_side) < 1):
        raise ValueError(f"fringe_side is the fringe analysis's long side: a positive number of pixels with "
                         f"fringe_features, got {fringe_side!r}")
    steps: list[Transform] = []
    if channels is not None:
        steps.append(ToChannels(channels))
    equalise = CLAHE(clahe, (clahe_grid, clahe_grid)) if clahe is not None else None
    if mean_image is not None:
        array = mean_image if isinstance(mean_image, np.ndarray) else load_mean_image(mean_image)
        steps.append(MeanImageSubtraction(array, equalise))
    on_the_crop: list[Transform] = []  # pixelwise: on the crop's pixels rather than the whole frame's
    if fringe_side is not None:
        steps.extend(_analysis_first(train, equalise=None if mean_image is not None else equalise, resize=resize,
                                     ignore_boundary=ignore_boundary, noise=noise, intensity=intensity,
                                     background=fringe_background, normalise=fringe_normalise,
                                     robust_carrier=fringe_robust, refit=fringe_refit, side=int(fringe_side)))
        gamma = jitter[2] if jitter is not None else 0.0
        if train and (gamma or invert):
            on_the_crop.append(RandomFringeIntensity(gamma, invert))
        if train and phase_sign:
            on_the_crop.append(RandomPhaseSign(phase_sign))
    else:
        if resize is not None:
            steps.append(_resize(resize))
        if train and ignore_boundary:
            steps.append(IgnoreBoundary(ignore_boundary))
        if equalise is not None and mean_image is None:
            steps.append(equalise)
        if train and jitter is not None and any(jitter):
            steps.append(PhotometricJitter(*jitter))
        if train and noise:
            steps.append(RandomNoise(noise))
        if intensity == "percentile":
            steps.append(PercentileScale())
        if train and invert:
            steps.append(RandomInvert(invert))
        if fringe_features:
            steps.append(FringeFeatures(fringe_background, fringe_normalise, fringe_robust, fringe_refit))
            if train and phase_sign:
                steps.append(RandomPhaseSign(phase_sign))
    if train:
        if crop is not None and (scale_range is not None or rotation):  # one warp into the crop, as the three would
            steps.append(RandomScaleRotateCrop(crop, None if scale_range is None else tuple(scale_range), rotation))
        else:
            if scale_range is not None:
                steps.append(RandomScale(*scale_range))
            if rotation:
                steps.append(RandomRotation(rotation))
            if crop is not None:
                steps.append(RandomCrop(crop))
        steps.extend(on_the_crop)
        if hflip:
            steps.append(RandomHorizontalFlip(hflip))
        if vflip:
            steps.append(RandomVerticalFlip(vflip))
    elif pad_divisor is not None:
        steps.append(PadToMultiple(pad_divisor))
    if mean is not None and std is not None:
        steps.append(Normalize(mean, std))
    steps.append(ToTensor())
    return Compose(steps)


def _analysis_first(train: bool, *, equalise: CLAHE | None, resize: float | tuple[int, int] | None,
                    ignore_boundary: int, noise: float, intensity: str, background: str, normalise: bool,
                    robust_carrier: bool, refit: bool, side: int) -> list[Transform]:
    """The steps from the frame to the network's side with the fringe analysis first (`fringe_side`).

      Resize(max_side)      the frame to the analysis's side: fine fringes stay fringes (a period of 5 px at
                            1024 would be 2 px at the network's side, aliased);
      CLAHE, RandomNoise    as in the other order (noise, random, makes the analysis run every epoch);
      PercentileScale, FringeFeatures, Resize (the channels to the network's side), IgnoreBoundary (train only,
                            at the size the network sees)
                            once per frame (`Memoised`: nothing random before them).
    The gamma of `jitter`, the bright-dark swap (`RandomFringeIntensity`) and `RandomPhaseSign` act on the crop.
    """
    steps: list[Transform] = [Resize(max_side=side)]
    if equalise is not None:
        steps.append(equalise)
    random_noise = train and noise
    if random_noise:
        steps.append(RandomNoise(noise))
    if intensity == "percentile":
        steps.append(PercentileScale())
    steps.append(FringeFeatures(background, normalise, robust_carrier, refit))
    if resize is not None:
        steps.append(_resize(resize))
    if train and ignore_boundary:
        steps.append(IgnoreBoundary(ignore_boundary))
    return steps if random_noise else [Memoised(tuple(steps))]  # all deterministic: once per frame


def _resize(spec: float | tuple[int, int] | list[int]) -> Resize:
    if isinstance(spec, (tuple, list)):
        return Resize(size=(int(spec[0]), int(spec[1])))
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return Resize(long_side=int(spec))
    if isinstance(spec, float):
        return Resize(scale=spec)
    raise ValueError(f"resize must be an int (long side), a float (scale) or (h, w); got {spec!r}")
