"""Tighten box labels to the object inside them: GrabCut on texture or phase features, then clean-up.

GrabCut's colour models cannot tell a sample from fringe background by gray level alone: both
hold the same dark and bright fringes. So GrabCut sees a 3-channel feature image instead, of two
kinds, and the cut that separates its inside from its outside best is kept:

- texture: the gray level (for sharp edges) and, on the scale of the fringe period, its local mean
  (reflectivity) and local standard deviation (fringe contrast). Blurred channels put GrabCut's cut
  up to a blur width outside a sample that alone carries fringes, so a last step trims that rim
  where the contrast is nearer the background's;
- phase: the fringe analysis (`segcore.data.transforms.fringes`: the fringe amplitude and the phase
  left once the carrier and the optics' quadratic are removed). A transparent sample under fringes
  running everywhere (a phase object) has the mean and contrast of its surroundings: only the phase
  tells it, and texture alone labelled such samples at 0.68 IoU (docs/results.md).

"Separates best": among the cuts that reach each side of the box (a box is dragged around its object:
MAX_BOX_GAP), the largest Fisher ratio, over the six channels of both kinds, between the cut's inside and
outside in the working crop. Without the reach, a cut of a few fringes in one corner of a phase object
could separate its channels better than the object itself. Work happens on the box plus a margin, downscaled when
large (the fringe analysis on the box and its surroundings, at PHASE_SIDE at most), so a 3072 x 3072
frame costs no more than a small one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from segcore.data.boxes import Box
from segcore.data.transforms.fringes import fringe_features
from segcore.errors import MaskError

log = logging.getLogger(__name__)

MIN_BOX_SIDE = 12
"""Boxes narrower than this (pixels) are kept as they are: too few pixels to model."""
WORK_SIDE = 384
"""Longest side of the region GrabCut works on; larger crops are downscaled (GrabCut is O(pixels))."""
MIN_FILL, MAX_FILL = 0.05, 0.97
"""A refined object covering less or more of its box than this is taken as a failed refinement."""
FEATURE_SIGMA = 0.25
"""Blur of the local mean and contrast channels, in fringe periods."""
TRIM_BAND = 0.5
"""How far inside GrabCut's cut the rim trim reaches, in fringe periods."""
MIN_CONTRAST_SEPARATION = 3.0
"""Object and background contrast must differ by this many robust spreads for the rim trim to act."""
PHASE_SIDE = 512
"""The fringe analysis (for the phase features) runs on the box and its surroundings at this long side at most."""
PHASE_CONTEXT = 1.0
"""The fringe analysis sees this many box sides around the box (its carrier and background need fringes)."""
FEATURE_KINDS = ("texture", "phase")
"""The feature images GrabCut cuts, the best-separated cut kept."""
MAX_BOX_GAP = 0.12
"""A cut whose extent falls short of a side of the box by more than this share of the box's side is taken for a
part of the object (or of the background) when another cut reaches every side; on phase objects choosing among
the reaching cuts lifted labels from 0.85 to 0.90 IoU (docs/results.md)."""
PHASE_CHANNELS = (3, 4, 5)
"""Fringe amplitude, cosine and sine of the phase: what GrabCut's phase features hold."""


@dataclass(frozen=True)
class Refinement:
    """What `refine` made of a box: the object's mask, or the whole box and why it was kept."""

    mask: np.ndarray
    """bool H x W, never outside the box."""
    kept_box: str | None = None
    """Why the whole box was kept ("too small to refine", "no object found in it"); None when refined."""
    doubt: str | None = None
    """Why the outline found may be wrong (no cut reaches every side of the box); None when it does."""


def refine_box(image: np.ndarray, box: Box, *, iterations: int = 5, margin: int | None = None) -> np.ndarray:
    """A bool H x W mask of the object inside `box`, never outside it (`refine`'s mask)."""
    return refine(image, box, iterations=iterations, margin=margin).mask


def refine(image: np.ndarray, box: Box, *, iterations: int = 5, margin: int | None = None) -> Refinement:
    """The object inside `box`, or the whole box (with a warning, and the reason in `kept_box`).

    `margin` is how many pixels around the box feed the background model (default: a quarter
    of the box's longer side, at least 16). The whole box is kept when it is too small or the
    refinement degenerates (empty, or nearly the whole box).
    """
    height, width = image.shape[:2]
    b = box.clipped(width, height)
    out = np.zeros((height, width), dtype=bool)
    if b.w < MIN_BOX_SIDE or b.h < MIN_BOX_SIDE:
        log.warning("box %s is too small to refine (< %d px); keeping the box", _fmt(box), MIN_BOX_SIDE)
        out[b.y : b.y + b.h, b.x : b.x + b.w] = True
        return Refinement(out, f"too small to refine (under {MIN_BOX_SIDE} px)")
    pad = max(16, max(b.w, b.h) // 4) if margin is None else max(0, int(margin))
    x0, y0 = max(b.x - pad, 0), max(b.y - pad, 0)
    x1, y1 = min(b.x + b.w + pad, width), min(b.y + b.h + pad, height)
    gray = _gray_unit(image)
    crop = gray[y0:y1, x0:x1]
    scale = min(1.0, WORK_SIDE / max(crop.shape))
    if scale < 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    inner = _scaled_rect(b.x - x0, b.y - y0, b.w, b.h, scale, crop.shape)
    period = _fringe_period(crop)
    kinds = {"texture": lambda: _features(crop, period), "phase": lambda: _phase_features(gray, b, (y0, y1, x0, x1),
                                                                                               crop.shape)}
    images = {kind: kinds[kind]() for kind in FEATURE_KINDS}
    channels = [c.astype(np.float32) for features in images.values() for c in np.moveaxis(features, 2, 0)]
    cuts = []
    for kind, features in images.items():
        cut = _grabcut(features, inner, iterations)
        if cut is None:
            continue
        cut = _clean(cut, period)
        if cut.any() and kind == "texture":
            cut = _clean(_trim_rim(cut, features[:, :, 2], period), period)
        bx, by, bw, bh = inner
        if MIN_FILL <= float(cut[by : by + bh, bx : bx + bw].mean()) <= MAX_FILL:
            cuts.append(cut)
    object_mask, gap = _best_cut(cuts, inner, channels)
    if object_mask is None:
        log.warning("refining box %s degenerated (no cut fills 5-97%% of it); keeping the box", _fmt(box))
        out[b.y : b.y + b.h, b.x : b.x + b.w] = True
        return Refinement(out, "no object found in it")
    if scale < 1.0:
        # Upscale the soft mask, not the binary one, so edges stay smooth at full resolution.
        soft = cv2.resize(object_mask.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        object_mask = soft >= 0.5
    out[y0:y1, x0:x1] = object_mask
    box_only = np.zeros_like(out)
    box_only[b.y : b.y + b.h, b.x : b.x + b.w] = True
    doubt = None
    if gap > MAX_BOX_GAP:
        # On the benchmark's frames, outlines that fall short scored 0.65-0.74 IoU where the others averaged 0.92.
        doubt = f"the outline found stops {gap:.0%} of the box short of one side"
        log.warning("refining box %s: %s; check it", _fmt(box), doubt)
    return Refinement(out & box_only, doubt=doubt)


def refine_boxes_to_mask(
    image: np.ndarray, boxes: Sequence[Box], background: int = 0, *, iterations: int = 5, margin: int | None = None
) -> np.ndarray:
    """Like `boxes_to_mask`, but each box is refined to its object (larger boxes drawn first)."""
    mask = np.full(image.shape[:2], background, dtype=np.uint8)
    for box in sorted(boxes, key=lambda b: -b.area):
        if not 0 <= box.label <= 255:
            raise MaskError(f"box class {box.label} is outside 0..255")
        mask[refine_box(image, box, iterations=iterations, margin=margin)] = box.label
    return mask


def _gray_unit(image: np.ndarray) -> np.ndarray:
    """Gray float32 in 0..1, stretched between the 1st and 99th percentile (16-bit frames rarely use their range)."""
    if image.ndim == 3:
        code = cv2.COLOR_RGBA2GRAY if image.shape[2] == 4 else cv2.COLOR_RGB2GRAY
        image = cv2.cvtColor(image, code) if image.shape[2] in (3, 4) else image[:, :, 0]
    gray = image.astype(np.float32)
    lo, hi = np.percentile(gray[:: max(1, gray.shape[0] // 256), :: max(1, gray.shape[1] // 256)], (1, 99))
    gray -= lo
    gray *= 1.0 / max(float(hi - lo), 1e-6)
    return np.clip(gray, 0, 1, out=gray)


def _fringe_period(gray: np.ndarray) -> float:
    """The dominant fringe period in pixels (strongest non-DC spatial frequency), clamped to a sane range."""
    h, w = gray.shape
    windowed = (gray - gray.mean()) * np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    spectrum = np.abs(np.fft.rfft2(windowed))
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.hypot(fy, fx)
    spectrum[radius < 2.5 / min(h, w)] = 0  # below ~2 cycles per crop is illumination, not fringes
    peak = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    freq = float(radius[peak])
    return float(np.clip(1.0 / freq if freq > 0 else 8.0, 3.0, min(h, w) / 4))


def _features(gray: np.ndarray, period: float) -> np.ndarray:
    """H x W x 3 uint8: the gray level, its local mean and its local standard deviation."""
    # A quarter period (sigma) averages the fringes out yet keeps the object's edge sharp: on 144
    # varied interferograms, before the rim trim, half a period scored 0.943 mean IoU and a quarter
    # 0.960 (docs/results.md). Gradient energy, the obvious third channel, mostly repeats the local
    # std and scored lower.
    sigma = period * FEATURE_SIGMA
    mean = cv2.GaussianBlur(gray, (0, 0), sigma)
    std = np.sqrt(np.maximum(cv2.GaussianBlur(gray * gray, (0, 0), sigma) - mean * mean, 0))
    return np.ascontiguousarray(np.stack([_to_u8(c) for c in (gray, mean, std)], axis=2))


def _phase_features(gray: np.ndarray, box: Box, region: tuple[int, int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    """H x W x 3 uint8 (`shape`): the fringe amplitude and the phase's cosine and sine over `region` (y0, y1, x0,
    x1) of the frame, from the fringe analysis of the box and PHASE_CONTEXT box sides around it."""
    height, width = gray.shape
    context = round(PHASE_CONTEXT * max(box.w, box.h, 64))
    ay0, ay1 = max(0, box.y - context), min(height, box.y + box.h + context)
    ax0, ax1 = max(0, box.x - context), min(width, box.x + box.w + context)
    area = gray[ay0:ay1, ax0:ax1]
    scale = min(1.0, PHASE_SIDE / max(area.shape))
    small = cv2.resize(area, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else area
    analysis = fringe_features(small, "quadratic", normalise=True)
    y0, y1 = region[0] - ay0, region[1] - ay0
    x0, x1 = region[2] - ax0, region[3] - ax0
    rows = slice(int(y0 * scale), max(int(y0 * scale) + 1, round(y1 * scale)))
    cols = slice(int(x0 * scale), max(int(x0 * scale) + 1, round(x1 * scale)))
    size = (shape[1], shape[0])
    return np.ascontiguousarray(np.stack(
        [_to_u8(cv2.resize(analysis[rows, cols, c], size, interpolation=cv2.INTER_LINEAR)) for c in PHASE_CHANNELS], axis=2))


def _best_cut(cuts: list[np.ndarray], rect: tuple[int, int, int, int],
              channels: list[np.ndarray]) -> tuple[np.ndarray | None, float]:
    """The best-separated of the cuts within MAX_BOX_GAP of every side of `rect`, failing any the one that reaches
    furthest, and its gap (`_box_gap`); (None, 1.0): no cut."""
    if not cuts:
        return None, 1.0
    gaps = [_box_gap(cut, rect) for cut in cuts]
    reaching = [i for i, gap in enumerate(gaps) if gap <= MAX_BOX_GAP]
    if not reaching:
        best = int(np.argmin(gaps))
    else:
        best = max(reaching, key=lambda i: _separation(cuts[i], channels))
    return cuts[best], gaps[best]


def _box_gap(cut: np.ndarray, rect: tuple[int, int, int, int]) -> float:
    """The widest gap between a side of `rect` (x, y, w, h) and the cut's extent, as a share of that side's length."""
    x, y, w, h = rect
    inside = cut[y : y + h, x : x + w]
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if not rows.size:
        return 1.0
    return max(cols[0] / w, (w - 1 - cols[-1]) / w, rows[0] / h, (h - 1 - rows[-1]) / h)


def _separation(mask: np.ndarray, channels: list[np.ndarray]) -> float:
    """The largest Fisher ratio over `channels` between the pixels inside and outside `mask` (0: one side empty)."""
    inside, outside = mask, ~mask
    if inside.sum() < 2 or outside.sum() < 2:
        return 0.0
    ratios = []
    for channel in channels:
        a, b = channel[inside], channel[outside]
        ratios.append(abs(float(a.mean()) - float(b.mean())) / np.sqrt((float(a.var()) + float(b.var())) / 2 + 1e-9))
    return max(ratios)


def _to_u8(channel: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(channel, (0.5, 99.5))
    return np.clip((channel - lo) * (255.0 / max(float(hi - lo), 1e-6)), 0, 255).astype(np.uint8)


GRABCUT_SEED = 0


def _grabcut(features: np.ndarray, rect: tuple[int, int, int, int], iterations: int) -> np.ndarray | None:
    """GrabCut initialised from the rectangle; None when it cannot run (no background around the box)."""
    _, _, w, h = rect
    if w >= features.shape[1] and h >= features.shape[0]:
        return None
    labels = np.zeros(features.shape[:2], np.uint8)
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    # GrabCut's k-means starts from OpenCV's per-thread RNG: seeded, a box refines the same on any
    # thread, however many boxes that thread refined before.
    cv2.setRNGSeed(GRABCUT_SEED)
    try:
        cv2.grabCut(features, labels, rect, bgd_model, fgd_model, max(1, iterations), cv2.GC_INIT_WITH_RECT)
    except cv2.error as exc:
        log.debug("GrabCut failed: %s", exc)
        return None
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def _clean(mask: np.ndarray, period: float) -> np.ndarray:
    """Smooth away fringe-sized specks, keep the largest component, fill its holes."""
    size = max(3, int(round(period / 2)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    component = (labels == largest).astype(np.uint8)
    # Holes are background pixels the outside cannot reach: flood the outside from a 1-px frame.
    flood = np.pad(component, 1)
    cv2.floodFill(flood, None, (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    return component.astype(bool) | holes


def _trim_rim(mask: np.ndarray, contrast: np.ndarray, period: float) -> np.ndarray:
    """`mask` less the rim pixels, within TRIM_BAND periods of its edge, whose contrast is nearer the background's.

    Blurring a step by a symmetric kernel leaves its half-way level on the step, so the half-way
    level between the object's and the background's typical contrast marks the true edge. The trim
    only removes: where GrabCut cut inside that level, it followed a gray-level edge. It does
    nothing when the two contrasts are not clearly apart (fringes everywhere, the sample bending them).
    """
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * max(1, round(TRIM_BAND * period)) + 1,) * 2)
    mask8 = mask.astype(np.uint8)
    core = cv2.erode(mask8, disk).astype(bool)
    outside = ~cv2.dilate(mask8, disk).astype(bool)
    if core.sum() < 20 or outside.sum() < 20:
        return mask
    values = contrast.astype(np.float32)
    inside_level, outside_level = float(np.median(values[core])), float(np.median(values[outside]))
    spread = _robust_spread(values[core]) + _robust_spread(values[outside])
    if abs(inside_level - outside_level) < MIN_CONTRAST_SEPARATION * max(spread, 1.0):
        return mask
    halfway = (inside_level + outside_level) / 2
    nearer_inside = values > halfway if inside_level > outside_level else values < halfway
    return mask & (core | nearer_inside)


def _robust_spread(values: np.ndarray) -> float:
    """The standard deviation a normal distribution with `values`' median absolute deviation would have."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _scaled_rect(x: int, y: int, w: int, h: int, scale: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    rx, ry = int(math.floor(x * scale)), int(math.floor(y * scale))
    rw = min(int(math.ceil((x + w) * scale)), shape[1]) - rx
    rh = min(int(math.ceil((y + h) * scale)), shape[0]) - ry
    return rx, ry, rw, rh


def _fmt(box: Box) -> str:
    return f"(x={box.x}, y={box.y}, w={box.w}, h={box.h})"
