"""Interferograms that vary as real ones do, for measuring how well a few labels generalise.

The demo frames (`interferogram.py`) all look alike: fringes everywhere, one blob shape, one
range of fringe periods and noise. A network trained on a few of them and scored on others says
little about the next instrument. Here a seed draws an **instrument** (`Setup`) and its frames:

- per instrument: where the fringes are (everywhere, the sample bending them; or inside the
  sample only, on a flat noisy background), the carrier's period (0.8 % to 5 % of the frame
  side) and direction, fringe contrast, illumination, noise (clean to noisy);
- per frame, around the instrument's values: the sample's shape (an ellipse, a rotated,
  slightly rounded rectangle, or an irregular blob), size, place and cues (phase step,
  thickness, reflectivity and contrast change, each weak or strong), the period (+-25 %) and
  direction (+-20 degrees), the noise; 8- and 16-bit; any frame size.

A project is one instrument; different seeds are different instruments. As in
`interferogram.py`, every draw comes from the `rng` passed in: a seed reproduces a frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from segcore.demo.interferogram import DemoSample, _sample_blob, _smooth_field, demo_box

SHAPES = ("ellipse", "rectangle", "blob")
FRINGES = ("everywhere", "inside")
FRACTION_RANGE = (0.02, 0.12)
PERIOD_RANGE = (0.008, 0.05)
"""Fringe period as a fraction of the frame's long side."""
MIN_PERIOD_PX = 5.0


@dataclass(frozen=True)
class Setup:
    """An instrument: what every frame it takes has in common."""

    fringes: str
    period: float
    """Carrier period as a fraction of the frame's long side."""
    angle: float
    visibility: float
    shot_noise: float
    read_noise: float


def draw_setup(rng: np.random.Generator) -> Setup:
    """A random instrument."""
    return Setup(
        fringes=FRINGES[int(rng.integers(len(FRINGES)))],
        period=float(np.exp(rng.uniform(*np.log(PERIOD_RANGE)))),
        angle=rng.uniform(0.0, math.pi),
        visibility=rng.uniform(0.3, 0.9),
        shot_noise=float(np.exp(rng.uniform(np.log(0.005), np.log(0.05)))),
        read_noise=float(np.exp(rng.uniform(np.log(0.002), np.log(0.025)))),
    )


def make_varied_interferogram(
    size: int | tuple[int, int], setup: Setup, *, bit_depth: int = 8, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A grayscale interferogram (uint8 or uint16) of `setup` with a sample of a random shape, and its 0/1 mask."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    height, width = (size, size) if isinstance(size, int) else size
    scale = max(height, width)
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    mask, thickness, (y0, y1, x0, x1) = _sample(shape, height, width, rng)

    period = max(MIN_PERIOD_PX, scale * setup.period * rng.uniform(0.8, 1.25))
    angle = setup.angle + math.radians(rng.uniform(-20, 20))
    xs = np.arange(width, dtype=np.float32) - width / 2
    ys = np.arange(height, dtype=np.float32) - height / 2
    k = 2 * math.pi / period
    curvature = 2 * math.pi * rng.uniform(-3.0, 3.0) / (scale / 2) ** 2
    phase = (k * math.sin(angle) * ys + curvature * ys**2)[:, None] + (k * math.cos(angle) * xs + curvature * xs**2)[None, :]
    crop = (slice(y0, y1), slice(x0, x1))
    sign = rng.choice([-1.0, 1.0])
    phase[crop] += (2 * math.pi * sign) * (rng.uniform(0.1, 0.5) * mask[crop] + rng.uniform(0.3, 3.0) * thickness)

    reflect = _smooth_field(height, width, rng, 1.0, rng.uniform(0.05, 0.25))
    reflect += (0.3 * rng.uniform(-1, 1) * ys / scale)[:, None] + (0.3 * rng.uniform(-1, 1) * xs / scale)[None, :]
    visibility = _smooth_field(height, width, rng, setup.visibility * rng.uniform(0.85, 1.15), 0.1)
    edge = cv2.GaussianBlur(mask[crop].astype(np.float32), (0, 0), rng.uniform(0.5, 2.0))
    if setup.fringes == "inside":  # only the sample carries fringes: the background is flat illumination
        visibility *= 0.0
        visibility[crop] += setup.visibility * rng.uniform(0.8, 1.2) * edge
    else:
        visibility[crop] *= 1 + (rng.uniform(0.4, 1.1) - 1) * edge
    reflectivity = rng.uniform(0.7, 0.95) if rng.random() < 0.5 else rng.uniform(1.05, 1.3)
    reflect[crop] *= 1 + (reflectivity - 1) * edge

    intensity = expose(phase, visibility, reflect, rng)
    _add_noise(intensity, setup.shot_noise * rng.uniform(0.7, 1.4), setup.read_noise * rng.uniform(0.7, 1.4), rng)
    full_scale = 255 if bit_depth == 8 else 65535
    image = np.clip((intensity + rng.uniform(0.0, 0.05)) * full_scale, 0, full_scale)
    return image.astype(np.uint8 if bit_depth == 8 else np.uint16), mask


def expose(phase: np.ndarray, visibility: np.ndarray, reflect: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The frame's intensity (in place of `phase`): fringes of `visibility` (clipped to [0, 1]) on `reflect`,
    scaled so the bright illumination sits at 0.30-0.45 of full scale, before noise."""
    height, width = phase.shape
    np.clip(visibility, 0.0, 1.0, out=visibility)
    intensity = np.cos(phase, out=phase)
    intensity *= visibility
    intensity += 1
    intensity *= reflect
    intensity *= rng.uniform(0.3, 0.45) / float(np.percentile(reflect[:: max(1, height // 64), :: max(1, width // 64)], 95))
    return intensity


def varied_samples(seed: int = 0, *, small: int = 8, large: int = 2, small_size: int = 1024,
                   large_size: int = 3072) -> Iterator[DemoSample]:
    """One instrument's frames: `small` 8-bit of small_size, then `large` 16-bit of large_size.

    The instrument depends on `seed` only, frame i on (seed, kind, i): asking for more frames keeps the first ones.
    """
    setup = draw_setup(np.random.default_rng([seed, 999]))
    kinds = (("varied", small, small_size, 8, 0), ("varied_large", large, large_size, 16, 1))
    for prefix, count, size, bit_depth, kind in kinds:
        for i in range(count):
            rng = np.random.default_rng([seed, 1000 + kind, i])  # other streams than the demo's
            image, mask = make_varied_interferogram(size, setup, bit_depth=bit_depth, rng=rng)
            yield DemoSample(f"{prefix}_{i:02d}", image, mask, demo_box(mask, rng))


def _sample(shape: str, height: int, width: int, rng: np.random.Generator):  # noqa: ANN202 - as _sample_blob
    """A sample of `shape`: 0/1 mask, thickness dome, bounding rows/columns."""
    if shape == "blob":
        return _sample_blob(height, width, rng)
    area = rng.uniform(*FRACTION_RANGE) * height * width
    aspect = rng.uniform(1.0, 2.5)
    a, b = math.sqrt(area * aspect), math.sqrt(area / aspect)  # sides (rectangle) or diameters (ellipse)
    if shape == "ellipse":
        a, b = a * 2 / math.sqrt(math.pi), b * 2 / math.sqrt(math.pi)
    pad = 0.03 * max(height, width) + max(a, b) / 2
    centre = (rng.uniform(pad, width - pad), rng.uniform(pad, height - pad))
    angle = rng.uniform(0, 180)
    mask = np.zeros((height, width), np.uint8)
    if shape == "ellipse":
        cv2.ellipse(mask, (centre, (a, b), angle), 1, thickness=-1)
    else:
        corners = cv2.boxPoints((centre, (a, b), angle))
        cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1)
        radius = max(1, int(min(a, b) * rng.uniform(0.0, 0.15)))  # rounded corners, as cut samples are
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    x, y, w, h = cv2.boundingRect(mask)
    dist = cv2.distanceTransform(np.pad(mask[y : y + h, x : x + w], 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    depth = dist / max(float(dist.max()), 1.0)
    return mask, (depth * (2 - depth)).astype(np.float32), (y, y + h, x, x + w)


def _add_noise(intensity: np.ndarray, shot: float, read: float, rng: np.random.Generator) -> None:
    """Shot noise (grows with the signal) plus Gaussian read noise, in place."""
    sigma = np.sqrt(np.maximum(intensity, 0), dtype=np.float32)
    sigma *= shot
    sigma += read
    sigma *= rng.standard_normal(intensity.shape, dtype=np.float32)
    intensity += sigma
