"""Synthetic interferograms: carrier fringes on a camera frame, with one small sample region.

The sample is a smooth, rotated, non-rectangular blob covering a few percent of the frame. It
shows because it bends and shifts the fringes (its thickness profile adds phase) and because its
reflectivity and fringe contrast differ from the background; shot and read noise cover everything.
Every random draw comes from the `rng` passed in, so a seed reproduces the frame bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from segcore.data.boxes import Box

FRACTION_RANGE = (0.04, 0.10)
"""Share of the frame the sample covers: strong class imbalance, like real interferograms."""

_OUTLINE_POINTS = 256
_SUBPIXEL_BITS = 4


@dataclass(frozen=True)
class DemoSample:
    """One synthetic frame, its true sample mask (uint8 0/1) and the box a person would drag around it."""

    name: str
    image: np.ndarray
    true_mask: np.ndarray
    box: Box


def make_interferogram(
    size: int | tuple[int, int], *, bit_depth: int = 8, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A grayscale interferogram (uint8 or uint16) of `size` (side, or (height, width)) and its 0/1 sample mask."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    height, width = (size, size) if isinstance(size, int) else size
    mask, thickness, (y0, y1, x0, x1) = _sample_blob(height, width, rng)
    scale = max(height, width)

    period = max(6.0, scale * rng.uniform(0.015, 0.035))
    angle = rng.uniform(0.0, math.pi)
    xs = np.arange(width, dtype=np.float32) - width / 2
    ys = np.arange(height, dtype=np.float32) - height / 2
    k = 2 * math.pi / period
    # Separable carrier + slight curvature (defocus): outer sums of 1-D terms stay cheap at 3072 x 3072.
    curvature = 2 * math.pi * rng.uniform(-2.0, 2.0) / (scale / 2) ** 2
    phase = (k * math.sin(angle) * ys + curvature * ys**2)[:, None] + (k * math.cos(angle) * xs + curvature * xs**2)[None, :]

    reflect = _smooth_field(height, width, rng, 1.0, 0.12)
    reflect += (0.25 * rng.uniform(-1, 1) * ys / scale)[:, None] + (0.25 * rng.uniform(-1, 1) * xs / scale)[None, :]
    visibility = _smooth_field(height, width, rng, rng.uniform(0.6, 0.85), 0.1)

    # The sample: a phase step at its edge plus a thickness dome, and its own reflectivity and contrast.
    crop = (slice(y0, y1), slice(x0, x1))
    sign = rng.choice([-1.0, 1.0])
    phase[crop] += (2 * math.pi * sign) * (rng.uniform(0.25, 0.5) * mask[crop] + rng.uniform(0.8, 2.5) * thickness)
    edge = cv2.GaussianBlur(mask[crop].astype(np.float32), (0, 0), 1.0)
    reflectivity = rng.uniform(0.75, 0.9) if rng.random() < 0.5 else rng.uniform(1.1, 1.25)
    reflect[crop] *= 1 + (reflectivity - 1) * edge
    visibility[crop] *= 1 + (rng.uniform(0.5, 0.8) - 1) * edge

    np.clip(visibility, 0.05, 1.0, out=visibility)
    intensity = np.cos(phase, out=phase)
    intensity *= visibility
    intensity += 1
    intensity *= reflect
    intensity *= 0.42 / float(np.percentile(reflect[:: max(1, height // 64), :: max(1, width // 64)], 95))
    _add_noise(intensity, rng)
    full_scale = 255 if bit_depth == 8 else 65535
    offset = 0.02  # camera dark level
    image = np.clip((intensity + offset) * full_scale, 0, full_scale)
    return image.astype(np.uint8 if bit_depth == 8 else np.uint16), mask


def demo_box(mask: np.ndarray, rng: np.random.Generator) -> Box:
    """The bounding box of the mask with a few pixels of slack on each side, like a hand-dragged box."""
    x, y, w, h = cv2.boundingRect(mask)
    height, width = mask.shape
    unit = max(1, round(max(height, width) / 1024))
    left, top, right, bottom = (int(s) * unit for s in rng.integers(2, 9, size=4))
    return Box(x - left, y - top, w + left + right, h + top + bottom, 1).clipped(width, height)


def demo_samples(
    seed: int = 0, *, small: int = 8, large: int = 2, small_size: int = 1024, large_size: int = 3072
) -> Iterator[DemoSample]:
    """`small` 8-bit frames of small_size, then `large` 16-bit frames of large_size, reproducible from `seed`.

    Frame i depends only on (seed, kind, i), so asking for more frames keeps the first ones unchanged.
    """
    kinds = (("interferogram", small, small_size, 8, 0), ("interferogram_large", large, large_size, 16, 1))
    for prefix, count, size, bit_depth, kind in kinds:
        for i in range(count):
            rng = np.random.default_rng([seed, kind, i])
            image, mask = make_interferogram(size, bit_depth=bit_depth, rng=rng)
            yield DemoSample(f"{prefix}_{i:02d}", image, mask, demo_box(mask, rng))


def _sample_blob(height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """A random smooth closed shape: 0/1 mask, its thickness dome (0 at the edge, 1 inside) and its bbox."""
    t = np.linspace(0, 2 * math.pi, _OUTLINE_POINTS, endpoint=False)
    radius = np.ones_like(t)
    for harmonic in range(2, 6):
        radius += rng.uniform(0, 0.12) / harmonic * np.cos(harmonic * t + rng.uniform(0, 2 * math.pi))
    aspect = rng.uniform(1.0, 1.8)
    px, py = aspect * radius * np.cos(t), radius * np.sin(t) / aspect
    rot = rng.uniform(0, math.pi)
    px, py = px * math.cos(rot) - py * math.sin(rot), px * math.sin(rot) + py * math.cos(rot)
    area = 0.5 * abs(np.dot(px, np.roll(py, 1)) - np.dot(py, np.roll(px, 1)))
    scale = math.sqrt(rng.uniform(*FRACTION_RANGE) * height * width / area)
    px, py = px * scale, py * scale
    pad = 0.03 * max(height, width)
    cx = rng.uniform(pad - px.min(), width - pad - px.max())
    cy = rng.uniform(pad - py.min(), height - pad - py.max())
    outline = np.round(np.stack([px + cx, py + cy], axis=1) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [outline], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    x, y, w, h = cv2.boundingRect(mask)
    dist = cv2.distanceTransform(np.pad(mask[y : y + h, x : x + w], 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    depth = dist / max(float(dist.max()), 1.0)
    thickness = depth * (2 - depth)  # a dome: steep at the edge, flat on top
    return mask, thickness.astype(np.float32), (y, y + h, x, x + w)


def _smooth_field(height: int, width: int, rng: np.random.Generator, mean: float, spread: float) -> np.ndarray:
    """A slowly varying random field (illumination, fringe contrast) around `mean`."""
    grid = (mean + spread * rng.uniform(-1, 1, size=(4, 4))).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def _add_noise(intensity: np.ndarray, rng: np.random.Generator) -> None:
    """Shot noise (grows with the signal) plus Gaussian read noise, in place."""
    shot, read = rng.uniform(0.015, 0.03), rng.uniform(0.005, 0.012)
    sigma = np.sqrt(np.maximum(intensity, 0), dtype=np.float32)
    sigma *= shot
    sigma += read
    sigma *= rng.standard_normal(intensity.shape, dtype=np.float32)
    intensity += sigma
