"""A generated acquisition: one instrument, one sample, hundreds of frames that change as a real recording does.

    for frame in acquisition_frames(120, size=1024, seed=0): ...     # AcquisitionFrame(index, image, mask)

What stays: the instrument (carrier period and direction, defocus, the illumination's shape, the noise kind)
and the sample's shape (drawn once, `families.sample_mask`). What changes from frame to frame, smoothly:
the sample drifts along a slow random path, turns and grows or shrinks (by up to a third), the fringes drift
in phase (the optical path between the arms creeps), and the light flickers (a few per cent, frame to frame).
The physics is the *everywhere* family's: fringes everywhere, the sample bending them (a phase step and a
dome) and changing the reflectivity and the fringe contrast over it. Frame i depends on (seed, i) only.

With `glitches`, that share of the frames is spoiled as recordings are: the table shakes during the exposure
(the fringes wash out to a tenth of their contrast) or the exposure misfires (a tenth of the light, the noise
as strong). Which frames, and how, depends on (seed, i) too; the other frames stay as they are without.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from segcore.demo.families import SHAPES, _add_noise, _coordinates, _dome, _illumination, _soft, sample_mask
from segcore.demo.varied import expose

PERIOD_RANGE = (0.012, 0.03)
"""The instrument's fringe period, a share of the long side."""
AREA_RANGE = (0.03, 0.12)
DRIFT = 0.25
"""How far the sample wanders over the acquisition, a share of the long side."""
TURN_DEGREES = 40.0
GROWTH = 0.33
"""The sample's size changes by up to this share either way over the acquisition."""
FLICKER = 0.04
NOISES = ("gaussian", "speckle", "pattern")
GLITCHES = ("washed out", "dark")
GLITCH_DIMMING = 0.1
"""A glitched frame keeps this share of its fringe contrast (washed out) or of its light (dark)."""


@dataclass(frozen=True)
class AcquisitionFrame:
    index: int
    image: np.ndarray
    """uint8 (or uint16) H x W."""
    mask: np.ndarray
    """0/1 H x W: the sample."""
    glitch: str | None = None
    """One of GLITCHES, or None: a frame as the instrument meant it."""


@dataclass(frozen=True)
class _Instrument:
    size: int
    period: float
    angle: float
    defocus: float
    noise: str
    shape_mask: np.ndarray
    """The sample at frame 0."""
    centre: tuple[float, float]
    path: np.ndarray
    """4 x 3 Fourier coefficients of the drift (x, y), the turn and the growth over the acquisition."""
    reflectivity: float
    visibility_inside: float
    step: float
    dome: float
    illumination: np.ndarray


def _instrument(size: int, seed: int) -> _Instrument:
    rng = np.random.default_rng([seed, 3000])
    area = math.exp(rng.uniform(*np.log(AREA_RANGE)))
    margin = int(size * (DRIFT / 2 + 0.15))  # the sample starts far enough from the edges to wander
    inner = sample_mask(SHAPES[int(rng.integers(len(SHAPES)))], size - 2 * margin, size - 2 * margin,
                        area * size * size / (size - 2 * margin) ** 2, rng)
    shape_mask = np.pad(inner, margin)
    ys, xs = np.nonzero(shape_mask)
    y, x = _coordinates(size, size)
    return _Instrument(
        size=size, period=size * rng.uniform(*PERIOD_RANGE), angle=rng.uniform(0, math.pi),
        defocus=2 * math.pi * rng.uniform(-1.5, 1.5), noise=NOISES[int(rng.integers(len(NOISES)))],
        shape_mask=shape_mask, centre=(float(xs.mean()), float(ys.mean())), path=rng.uniform(-1, 1, (4, 4)),
        reflectivity=rng.uniform(0.75, 0.92) if rng.random() < 0.5 else rng.uniform(1.08, 1.25),
        visibility_inside=rng.uniform(0.5, 0.9), step=rng.uniform(0.15, 0.45) * rng.choice([-1.0, 1.0]),
        dome=rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0]),
        illumination=_illumination(size, size, x, y, rng))


def _smooth(coefficients: np.ndarray, t: float) -> float:
    """A slow random curve of t in [0, 1], within -1..1: a few low harmonics."""
    value = sum(c * math.sin(math.pi * (k + 1) * t + k) for k, c in enumerate(coefficients))
    return max(-1.0, min(1.0, value / 2))


def _pose(instrument: _Instrument, t: float) -> np.ndarray:
    """The 2 x 3 affine map of the sample at time t (0..1): drifted, turned and scaled about its centre."""
    dx, dy = (DRIFT / 2 * instrument.size * _smooth(instrument.path[k], t) for k in (0, 1))
    turn = TURN_DEGREES * _smooth(instrument.path[2], t)
    scale = 1 + GROWTH * _smooth(instrument.path[3], t)
    matrix = cv2.getRotationMatrix2D(instrument.centre, turn, scale)
    matrix[:, 2] += (dx, dy)
    return matrix


def acquisition_frames(frames: int, *, size: int = 1024, seed: int = 0, bit_depth: int = 8,
                       start: int = 0, glitches: float = 0.0) -> Iterator[AcquisitionFrame]:
    """Frames `start`..`frames - 1` of the acquisition `seed` (`frames` sets its length: the sample's path spans it);
    `glitches`: the share of frames spoiled (the module's docstring)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    if not 0.0 <= glitches <= 1.0:
        raise ValueError(f"glitches is a share of the frames, 0 to 1, got {glitches}")
    instrument = _instrument(size, seed)
    y, x = _coordinates(size, size)
    k = 2 * math.pi / instrument.period * size / 2
    carrier = k * (math.cos(instrument.angle) * x + math.sin(instrument.angle) * y)
    carrier = carrier + instrument.defocus * (x * x + y * y) / 2
    full_scale = 255 if bit_depth == 8 else 65535
    for index in range(start, frames):
        rng = np.random.default_rng([seed, 3100, index])
        spoil = np.random.default_rng([seed, 3200, index])  # its own stream: the other frames stay the same
        glitch = GLITCHES[int(spoil.integers(len(GLITCHES)))] if spoil.random() < glitches else None
        t = index / max(frames - 1, 1)
        mask = cv2.warpAffine(instrument.shape_mask, _pose(instrument, t), (size, size), flags=cv2.INTER_NEAREST)
        inside = _soft(mask, 1.2 * size / 1024)
        drift = 2 * math.pi * 0.05 * index  # the arms creep: a twentieth of a fringe a frame
        phase = carrier + drift + 2 * math.pi * (instrument.step * inside + instrument.dome * _dome(mask))
        visibility = np.full((size, size), 0.6, np.float32) * (1 + (instrument.visibility_inside - 1) * inside)
        reflect = instrument.illumination * (1 + (instrument.reflectivity - 1) * inside)
        reflect = reflect * np.float32(1 + FLICKER * rng.uniform(-1, 1))
        if glitch == "washed out":
            visibility *= GLITCH_DIMMING
        intensity = expose(phase.astype(np.float32), visibility, reflect.astype(np.float32), rng)
        if glitch == "dark":  # after the exposure's own scaling, before the camera's noise
            intensity *= GLITCH_DIMMING
        _add_noise(intensity, instrument.noise, size, rng)
        image = np.clip((intensity + 0.02) * full_scale, 0, full_scale)
        yield AcquisitionFrame(index, image.astype(np.uint8 if bit_depth == 8 else np.uint16), mask, glitch)
