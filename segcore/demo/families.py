"""Interferogram families whose frames vary within one project: a benchmark that does not flatter.

`varied.py` draws an instrument per seed and keeps its fringe period within +-25 % over a project,
so defaults tuned on it learn one scale. Real acquisitions do not keep one: the tilt changes, the
sample moves, the contrast drifts. Here a seed draws a project of one **family** whose frames each
draw their own:

- fringe period: log-uniform over the project's range, 10-14x wide (0.5 % .. 7 % of the long side: from
  a fringe every 5 px of a 1024 frame to 1-2 fringes across a small sample);
- fringe contrast (visibility) 0.2-0.9;
- sample: 1-40 % of the frame (log-uniform), ellipse, rounded rectangle, blob, lobed or polygon, anywhere;
- illumination: a linear gradient and a Gaussian beam falloff of random strength;
- noise kind: Gaussian (shot + read), speckle, hot pixels, row and column pattern, or a soft camera blur.

FAMILIES:
  inside      fringes inside the sample only (its thickness wedge), on flat noisy illumination;
  everywhere  fringes everywhere; the sample bends them (a phase step and a dome) and changes the
              reflectivity and the fringe contrast over it;
  phase       the phase object, the commonest interferogram: fringes everywhere (carrier tilt plus
              defocus, astigmatism, coma and spherical aberration); the sample is transparent, adds
              optical path inside its outline (a plateau with a soft rim, or a dome), so the fringes
              bend and jump at its edge, and absorbs a little. Fringe contrast is the same inside.

Every draw comes from the seed: frame i of family f and seed s depends on (f, s, kind, i) only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from segcore.demo.interferogram import DemoSample, demo_box
from segcore.demo.varied import expose

FAMILIES = ("inside", "everywhere", "phase")
SHAPES = ("ellipse", "rectangle", "blob", "lobed", "polygon")
NOISES = ("gaussian", "speckle", "hot_pixels", "pattern", "blur")
AREA_RANGE = (0.01, 0.40)
PERIOD_LOW = (0.005, 0.0065)
"""The finest period of a project, as a share of the frame's long side; its coarsest is 10-14x that."""
PERIOD_SPAN = (10.0, 14.0)
VISIBILITY_RANGE = (0.2, 0.9)
_OUTLINE_POINTS = 256
_SUBPIXEL_BITS = 4


@dataclass(frozen=True)
class FamilySample(DemoSample):
    """A frame with what it was drawn with: period (share of the long side), visibility, area, shape, noise."""

    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Project:
    """What a project's frames share: the family, the carrier's direction, the period range, the optics."""

    family: str
    period_low: float
    period_high: float
    angle: float
    """The carrier's mean direction (radians); each frame turns it by up to 30 degrees."""
    aberrations: tuple[float, float, float, float]
    """Defocus, astigmatism, coma and spherical aberration in waves at the frame's corner (phase family)."""


def draw_project(family: str, rng: np.random.Generator) -> Project:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    low = rng.uniform(*PERIOD_LOW)
    aberrations = tuple(float(rng.uniform(-limit, limit)) for limit in (3.0, 2.0, 1.5, 1.5))
    return Project(family, low, low * rng.uniform(*PERIOD_SPAN), rng.uniform(0, math.pi), aberrations)  # type: ignore[arg-type]


def family_samples(family: str, seed: int = 0, *, small: int = 8, large: int = 2, small_size: int = 1024,
                   large_size: int = 3072) -> Iterator[FamilySample]:
    """One project of `family`: `small` 8-bit frames of small_size, then `large` 16-bit of large_size.

    The project depends on (family, seed), frame i on (family, seed, kind, i): more frames keep the first ones.
    """
    code = FAMILIES.index(family) if family in FAMILIES else -1
    project = draw_project(family, np.random.default_rng([seed, 2000 + code]))
    kinds = ((f"{family}", small, small_size, 8, 0), (f"{family}_large", large, large_size, 16, 1))
    for prefix, count, size, bit_depth, kind in kinds:
        for i in range(count):
            rng = np.random.default_rng([seed, 2100 + code, kind, i])
            params: dict = {}
            image, mask = make_family_interferogram(size, project, bit_depth=bit_depth, rng=rng, params=params)
            yield FamilySample(f"{prefix}_{i:02d}", image, mask, demo_box(mask, rng), params)


def make_family_interferogram(size: int | tuple[int, int], project: Project, *, bit_depth: int = 8,
                              rng: np.random.Generator, params: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A grayscale interferogram (uint8 or uint16) of `project`'s family and its 0/1 sample mask.

    `params`, when given, is filled with what the frame was drawn with (for reports by period, contrast...).
    """
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    height, width = (size, size) if isinstance(size, int) else size
    scale = max(height, width)
    area = math.exp(rng.uniform(*np.log(AREA_RANGE)))
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    mask = sample_mask(shape, height, width, area, rng)
    inside = _soft(mask, rng.uniform(0.5, 2.0) * scale / 1024)
    y, x = _coordinates(height, width)

    period = scale * math.exp(rng.uniform(math.log(project.period_low), math.log(project.period_high)))
    angle = project.angle + math.radians(rng.uniform(-30, 30))
    k = 2 * math.pi / period * scale / 2  # radians per unit of the normalised coordinates
    phase = k * (math.cos(angle) * x + math.sin(angle) * y)
    contrast = rng.uniform(*VISIBILITY_RANGE)
    visibility = contrast * _smooth_field(height, width, rng, 1.0, 0.1)
    reflect = _illumination(height, width, x, y, rng)

    if project.family == "phase":
        phase += _aberrations(x, y, project, rng)
        phase += 2 * math.pi * rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 2.5) * _optical_path(mask, rng)
        reflect *= 1 - rng.uniform(0.03, 0.12) * inside  # it absorbs a little
    else:
        defocus = 2 * math.pi * rng.uniform(-2.0, 2.0)
        phase += defocus * (x * x + y * y) / 2
        thickness = _dome(mask)
        phase += 2 * math.pi * rng.choice([-1.0, 1.0]) * (rng.uniform(0.1, 0.5) * inside + rng.uniform(0.3, 3.0) * thickness)
        if project.family == "inside":
            visibility *= inside
        else:
            visibility *= 1 + (rng.uniform(0.4, 1.1) - 1) * inside
        reflectivity = rng.uniform(0.7, 0.95) if rng.random() < 0.5 else rng.uniform(1.05, 1.3)
        reflect *= 1 + (reflectivity - 1) * inside

    intensity = expose(phase, visibility, reflect, rng)
    noise = NOISES[int(rng.integers(len(NOISES)))]
    _add_noise(intensity, noise, scale, rng)
    if params is not None:
        params.update(period=period / scale, visibility=contrast, area=float(mask.mean()), shape=shape, noise=noise)
    full_scale = 255 if bit_depth == 8 else 65535
    image = np.clip((intensity + rng.uniform(0.0, 0.05)) * full_scale, 0, full_scale)
    return image.astype(np.uint8 if bit_depth == 8 else np.uint16), mask


def sample_mask(shape: str, height: int, width: int, area: float, rng: np.random.Generator) -> np.ndarray:
    """A 0/1 mask of one sample of `shape` covering about `area` of the frame, wholly inside it."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    t = np.linspace(0, 2 * math.pi, _OUTLINE_POINTS, endpoint=False)
    aspect = rng.uniform(1.0, 2.2)
    if shape == "ellipse":
        px, py = aspect * np.cos(t), np.sin(t) / aspect
    elif shape == "rectangle":  # a superellipse: straight sides, rounded corners, as cut samples are
        power = rng.uniform(0.15, 0.4)
        px = aspect * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** power
        py = np.sign(np.sin(t)) * np.abs(np.sin(t)) ** power / aspect
    else:
        radius = np.ones_like(t)
        harmonics = {"blob": (2, 6, 0.12), "lobed": (2, 5, 0.3), "polygon": (3, 4, 0.0)}[shape]
        for harmonic in range(harmonics[0], harmonics[1]):
            radius += rng.uniform(0, harmonics[2]) / harmonic * np.cos(harmonic * t + rng.uniform(0, 2 * math.pi))
        if shape == "polygon":  # 3-8 corners, spread round the centre (never a needle), jittered
            corners = int(rng.integers(3, 9))
            angles = (np.arange(corners) + rng.uniform(-0.3, 0.3, corners)) * (2 * math.pi / corners)
            px, py = np.cos(angles) * rng.uniform(0.7, 1.0, corners), np.sin(angles) * rng.uniform(0.7, 1.0, corners)
        else:
            px, py = aspect * radius * np.cos(t), radius * np.sin(t) / aspect
    rotation = rng.uniform(0, math.pi)
    px, py = px * math.cos(rotation) - py * math.sin(rotation), px * math.sin(rotation) + py * math.cos(rotation)
    own = 0.5 * abs(np.dot(px, np.roll(py, 1)) - np.dot(py, np.roll(px, 1)))
    factor = math.sqrt(area * height * width / max(own, 1e-9))
    pad = 0.03 * max(height, width)
    # A large sample must still fit: shrink it to the frame less the margin.
    factor = min(factor, (width - 2 * pad) / max(np.ptp(px), 1e-9), (height - 2 * pad) / max(np.ptp(py), 1e-9))
    px, py = px * factor, py * factor
    cx = rng.uniform(pad - px.min(), max(pad - px.min(), width - pad - px.max()))
    cy = rng.uniform(pad - py.min(), max(pad - py.min(), height - pad - py.max()))
    outline = np.round(np.stack([px + cx, py + cy], axis=1) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [outline], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return mask


def _coordinates(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Column and row coordinates, -1..1 over the long side (y as a column, x as a row: broadcast, not stored)."""
    half = max(height, width) / 2
    return ((np.arange(height, dtype=np.float32) - height / 2) / half)[:, None], \
        ((np.arange(width, dtype=np.float32) - width / 2) / half)[None, :]


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    """The mask blurred by `sigma` pixels: an edge the optics soften."""
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(sigma, 0.3))


def _dome(mask: np.ndarray) -> np.ndarray:
    """0 at the edge, 1 on top, steep at the edge and flat on top (a thickness profile)."""
    dist = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    depth = dist / max(float(dist.max()), 1.0)
    return (depth * (2 - depth)).astype(np.float32)


def _optical_path(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A transparent sample's optical path, 0..1: a plateau with a soft rim, or a dome."""
    dist = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    if rng.random() < 0.5:
        rim = max(1.0, float(dist.max()) * rng.uniform(0.05, 0.4))
        ramp = np.clip(dist / rim, 0.0, 1.0)
        return (ramp * ramp * (3 - 2 * ramp)).astype(np.float32)
    depth = dist / max(float(dist.max()), 1.0)
    return np.sqrt(depth * (2 - depth)).astype(np.float32)


def _aberrations(x: np.ndarray, y: np.ndarray, project: Project, rng: np.random.Generator) -> np.ndarray:
    """Defocus, astigmatism, coma and spherical aberration (radians), each around the project's value."""
    defocus, astigmatism, coma, spherical = (2 * math.pi * a * rng.uniform(0.6, 1.4) for a in project.aberrations)
    theta = rng.uniform(0, math.pi)
    u = x * math.cos(theta) + y * math.sin(theta)
    v = -x * math.sin(theta) + y * math.cos(theta)
    rho2 = (x * x + y * y) / 2  # 1 at the corners
    return defocus * rho2 + astigmatism * (u * u - v * v) / 2 + coma * rho2 * u / math.sqrt(2) + spherical * rho2 * rho2


def _illumination(height: int, width: int, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A slowly varying field, a linear gradient and a Gaussian beam's falloff of random strength."""
    field = _smooth_field(height, width, rng, 1.0, rng.uniform(0.03, 0.2))
    field += (rng.uniform(-0.3, 0.3) * x + rng.uniform(-0.3, 0.3) * y).astype(np.float32)
    cx, cy, waist = rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(0.8, 3.0)
    field *= np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / waist**2).astype(np.float32)
    return np.maximum(field, 0.05)


def _smooth_field(height: int, width: int, rng: np.random.Generator, mean: float, spread: float) -> np.ndarray:
    grid = (mean + spread * rng.uniform(-1, 1, size=(4, 4))).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def _add_noise(intensity: np.ndarray, kind: str, scale: int, rng: np.random.Generator) -> None:
    """Shot and read noise always, plus one kind of camera trouble, in place."""
    unit = scale / 1024  # what a pixel of a 1024 frame covers
    if kind == "blur":
        cv2.GaussianBlur(intensity, (0, 0), rng.uniform(0.7, 1.6) * unit, dst=intensity)
    if kind == "speckle":
        grain = cv2.GaussianBlur(rng.standard_normal(intensity.shape, dtype=np.float32), (0, 0), rng.uniform(0.8, 2.5) * unit)
        grain *= rng.uniform(0.1, 0.3) / max(float(grain.std()), 1e-6)
        intensity *= 1 + grain
    shot, read = math.exp(rng.uniform(math.log(0.005), math.log(0.05))), math.exp(rng.uniform(math.log(0.002), math.log(0.025)))
    sigma = np.sqrt(np.maximum(intensity, 0), dtype=np.float32)
    sigma *= shot
    sigma += read
    sigma *= rng.standard_normal(intensity.shape, dtype=np.float32)
    intensity += sigma
    if kind == "pattern":  # row and column offsets of a rolling-shutter or a banded sensor
        intensity += rng.normal(0, rng.uniform(0.005, 0.03), (intensity.shape[0], 1)).astype(np.float32)
        intensity += rng.normal(0, rng.uniform(0.005, 0.03), (1, intensity.shape[1])).astype(np.float32)
    if kind == "hot_pixels":
        count = int(intensity.size * rng.uniform(1e-4, 1e-3))
        intensity.flat[rng.integers(0, intensity.size, count)] = rng.uniform(0.6, 1.0)
