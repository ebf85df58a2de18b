"""Which unlabelled frame to label next: the one the model most likely gets wrong, unlike those labelled.

    suggestion = suggest_next(store)            # Suggestion(image_id, name, reason, ...) or None
    ranked = rank_unlabelled(store)             # every unlabelled frame, best to label first

Once a model has predicted the frames, a frame's *badness* is one less the estimated IoU of its
stored prediction (`segcore.inference.quality`, `ProjectStore.prediction_qualities`): the frames
estimated worst come first, each weighed by half plus half its *dissimilarity*, the distance from
its descriptor to the nearest labelled frame's (`image_descriptor`: layout, fringe direction,
fringe frequency, intensity spread and fringe period), so that of two frames estimated alike bad
the one unlike what is labelled comes first, and a round of suggestions spreads over kinds of
failure. Predictions made before estimates were use their mean per-pixel uncertainty instead
(`ProjectStore.prediction_scores`), multiplied by the dissimilarity. Both are scaled by their
largest value among the candidates. Without predictions the most dissimilar frame comes first
(farthest-point sampling); with nothing labelled either, the most typical one (the medoid).

A pure function of the store, or of what a caller passes instead (`qualities`, `uncertainties`,
`descriptors`): a benchmark simulating an annotator calls it with `exclude` holding the frames it
has chosen in this round but not labelled yet (they count as labelled for dissimilarity), and with
`among` holding the frames it may label at all (the others, held out for scoring, play no part).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segcore.data.transforms.fringes import fringe_period, windowed_spectrum
from segcore.errors import SegcoreError
from segcore.io.atomic import atomic_save_npy
from segcore.project.store import ImageRecord, ProjectStore
from segcore.project.thumbnails import THUMBNAILS_DIR
from segcore.project.transfer import LABELLED_STATUSES

log = logging.getLogger(__name__)

DESCRIPTOR_SIDE = 256
"""Frames are compared at this long side (each on its own: a 1024 and a 3072 frame of one optics alike)."""
LAYOUT_GRID = 8
ORIENTATION_BINS = 8
FREQUENCY_BINS = 8
INTENSITY_BINS = 8
PERIOD_BINS = np.geomspace(0.004, 0.16, 8)
"""Fringe periods (shares of the long side) the descriptor's period block is centred on."""
PERIOD_SIDE = 1024
DESCRIPTOR_VERSION = 2
"""Bumped when `image_descriptor` changes: cached descriptors of another version are made again."""
ROW_BLOCK = 256
"""Frames compared at a time: a block's distances to thousands of frames stay a few MB."""


@dataclass(frozen=True)
class Suggestion:
    """A frame to label next and why."""

    image_id: int
    name: str
    reason: str
    """One line for the status bar: what made this frame come first."""
    score: float
    uncertainty: float | None
    """Mean uncertainty of its stored prediction (0 certain .. 1), None without one."""
    distance: float | None
    """Descriptor distance to the nearest labelled frame (0 .. 2), None when nothing is labelled."""
    quality: float | None = None
    """Estimated IoU of its stored prediction, None without one (or one made before estimates were)."""


def image_descriptor(image: np.ndarray) -> np.ndarray:
    """A unit-length float32 vector that is near for frames that look alike.

    Five blocks, each of unit length (so each weighs the same): the frame's layout (an 8 x 8 thumbnail,
    centred), a histogram of gradient orientations weighted by magnitude (fringe direction), the
    radially binned power spectrum (fringe frequency) and the intensity histogram, all computed on the
    frame resized to DESCRIPTOR_SIDE and scaled by its own 1-99 percentiles (8 and 16 bit alike), and
    the fringe period measured at up to PERIOD_SIDE (fringes finer than DESCRIPTOR_SIDE resolves are
    common within a project: frames of another scale must read as unlike).
    """
    fine = _gray_at_most(image.astype(np.float32), PERIOD_SIDE)  # the full frame is made gray once
    gray = _gray_at_most(fine, DESCRIPTOR_SIDE)
    low, high = np.percentile(gray, (1, 99))
    gray = np.clip((gray - low) / max(float(high - low), 1e-6), 0.0, 1.0).astype(np.float32)

    layout = cv2.resize(gray, (LAYOUT_GRID, LAYOUT_GRID), interpolation=cv2.INTER_AREA).ravel()
    layout = layout - layout.mean()

    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # a fringe and its mirror image: one direction
    orientation, _ = np.histogram(angle, bins=ORIENTATION_BINS, range=(0, np.pi), weights=np.hypot(gx, gy))

    h, w = gray.shape
    power = windowed_spectrum(gray) ** 2
    yy, xx = np.indices(power.shape)
    radius = np.hypot((yy - h // 2) / max(h, 1), (xx - w // 2) / max(w, 1))  # cycles per pixel, 0..~0.7
    edges = np.geomspace(1 / DESCRIPTOR_SIDE, 0.5, FREQUENCY_BINS + 1)
    frequency, _ = np.histogram(radius, bins=edges, weights=power)
    frequency = np.sqrt(frequency / max(frequency.sum(), 1e-12))

    intensity, _ = np.histogram(gray, bins=INTENSITY_BINS, range=(0.0, 1.0))
    intensity = np.sqrt(intensity / max(intensity.sum(), 1))

    blocks = [_unit(block.astype(np.float32)) for block in (layout, orientation, frequency, intensity,
                                                           _period_block(fine))]
    return (np.concatenate(blocks) / np.sqrt(len(blocks))).astype(np.float32)


def _gray_at_most(image: np.ndarray, side: int) -> np.ndarray:
    """The float32 image as gray (the mean of its colour channels), area-resized to `side` at most a side."""
    gray = image if image.ndim == 2 else image[:, :, : min(3, image.shape[2])].mean(axis=2)
    height, width = gray.shape
    scale = side / max(height, width)
    if scale < 1:
        gray = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                          interpolation=cv2.INTER_AREA)
    return gray


def _period_block(gray: np.ndarray) -> np.ndarray:
    """The fringe period of the gray frame at PERIOD_SIDE at most (found without its illumination: fine fringes
    alias at DESCRIPTOR_SIDE) as a soft one-hot over PERIOD_BINS log-spaced bins; zeros for a frame without
    fringes."""
    period = fringe_period(gray, illumination=True)
    if period is None:
        return np.zeros(len(PERIOD_BINS), np.float32)
    position = np.log(period)
    centres = np.log(PERIOD_BINS)
    width = centres[1] - centres[0]
    return np.exp(-0.5 * ((position - centres) / width) ** 2).astype(np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-12 else vector


def descriptor_cache_path(root: str | Path, image_id: int) -> Path:
    return Path(root) / THUMBNAILS_DIR / f"{image_id}_descriptor_v{DESCRIPTOR_VERSION}.npy"


def descriptor_for(store: ProjectStore, image_id: int) -> np.ndarray:
    """The image's descriptor, cached next to its thumbnails while newer than the image file."""
    source = store.image_path(image_id)
    cache = descriptor_cache_path(store.root, image_id)
    try:
        if cache.stat().st_mtime_ns > source.stat().st_mtime_ns:
            return np.load(cache)
    except (OSError, ValueError):
        pass  # no cache yet, or a damaged one: make it again
    descriptor = image_descriptor(store.read_image(image_id))  # the store's orientation rule, as its masks
    try:
        atomic_save_npy(cache, descriptor)
    except (OSError, SegcoreError) as exc:  # a read-only project or a full disk: used, just not cached
        log.debug("descriptor not cached at %s: %s", cache, exc)
    return descriptor


def rank_unlabelled(
    store: ProjectStore,
    *,
    exclude: Iterable[int] = (),
    among: Iterable[int] | None = None,
    uncertainties: Mapping[int, float | None] | None = None,
    descriptors: Mapping[int, np.ndarray] | None = None,
    qualities: Mapping[int, float | None] | None = None,
) -> list[Suggestion]:
    """Every unlabelled frame (not labelled or reviewed, not in `exclude`), the one to label first first.

    `among`, when given, limits the candidates to those ids; unlabelled frames outside it are ignored.
    `uncertainties` ({image id: mean uncertainty}) and `qualities` ({image id: estimated IoU}) replace the
    stored predictions' and `descriptors` ({image id: vector}) the cached `descriptor_for`, for callers that
    have them.
    """
    excluded = set(exclude)
    records = store.images()
    names = {r.id: r.name for r in records}
    by_id = {r.id: r for r in records}
    allowed = None if among is None else set(among)
    candidates = [r.id for r in records if r.status not in LABELLED_STATUSES and r.id not in excluded
                  and (allowed is None or r.id in allowed)]
    if not candidates:
        return []
    references = [r.id for r in records if r.status in LABELLED_STATUSES or r.id in excluded]
    scores = store.prediction_scores() if uncertainties is None else dict(uncertainties)
    uncertainty = {i: scores.get(i) for i in candidates}
    estimates = store.prediction_qualities() if qualities is None else dict(qualities)
    quality = {i: estimates.get(i) for i in candidates}
    known = [u for u in uncertainty.values() if u is not None]
    estimated = any(q is not None for q in quality.values())

    vectors = _descriptors(store, candidates + references, descriptors, names)
    candidates = [i for i in candidates if i in vectors]  # an unreadable frame is neither suggested nor compared
    references = [i for i in references if i in vectors]
    if not candidates:
        return []
    cand = np.stack([vectors[i] for i in candidates])
    if references:
        refs = np.stack([vectors[i] for i in references])
        distance = _nearest_or_mean(cand, refs, nearest=True)
        distance = _spread_over_sequences(distance, [by_id[i] for i in candidates], [by_id[i] for i in references])
    else:
        distance = None

    max_u = max(known, default=0.0)
    u_scaled = np.array([1.0 if uncertainty[i] is None or max_u <= 0 else uncertainty[i] / max_u for i in candidates])
    d_scaled = None if distance is None else distance / max(float(distance.max()), 1e-12)
    if estimated:  # a model estimated its predictions: the worst first, the unfamiliar ahead of their like
        badness = np.array([1.0 if quality[i] is None else max(0.0, 1.0 - quality[i]) for i in candidates])
        score = badness / max(float(badness.max()), 1e-12) * (1.0 if d_scaled is None else 0.5 + 0.5 * d_scaled)
    elif d_scaled is not None:
        score = d_scaled * (u_scaled if known else 1.0)
    elif known:
        score = u_scaled
    else:  # nothing labelled, nothing predicted: the most typical frame first
        spread = _nearest_or_mean(cand, cand, nearest=False)
        score = 1.0 - spread / max(float(spread.max()), 1e-12)

    order = sorted(range(len(candidates)), key=lambda k: (-score[k], candidates[k]))
    u_rank = _ranks([uncertainty[i] if uncertainty[i] is not None else -1.0 for i in candidates])
    q_rank = _ranks([-quality[i] if quality[i] is not None else -2.0 for i in candidates])
    d_rank = _ranks(list(distance)) if distance is not None else None
    total = len(candidates)
    suggestions = []
    for k in order:
        image_id = candidates[k]
        u = uncertainty[image_id]
        d = None if distance is None else float(distance[k])
        q = quality[image_id]
        if q is not None:
            uncertain = f"estimated IoU {q:.2f} (#{q_rank[k]} lowest of {total})"
        else:
            uncertain = "not predicted yet" if u is None else f"uncertainty {u:.3f} (#{u_rank[k]} of {total})"
        unlike = f"unlike the {len(references)} labelled (distance {d:.2f}, #{d_rank[k]} of {total})" if d is not None else ""
        if (known or estimated) and unlike:
            why = f"{uncertain} and {unlike}"
        elif unlike:
            why = f"{unlike}; no predictions yet"
        elif known or estimated:
            why = f"{uncertain}; nothing labelled yet"
        else:
            why = f"typical of the {total} unlabelled frames; nothing labelled or predicted yet"
        reason = f"{names[image_id]}: {why}"
        suggestions.append(Suggestion(image_id, names[image_id], reason, float(score[k]), u, d, q))
    return suggestions


def suggest_next(
    store: ProjectStore,
    *,
    exclude: Iterable[int] = (),
    among: Iterable[int] | None = None,
    uncertainties: Mapping[int, float | None] | None = None,
    descriptors: Mapping[int, np.ndarray] | None = None,
    qualities: Mapping[int, float | None] | None = None,
) -> Suggestion | None:
    """The unlabelled frame to label next (see `rank_unlabelled`), or None when every frame is labelled."""
    ranked = rank_unlabelled(store, exclude=exclude, among=among, uncertainties=uncertainties, descriptors=descriptors,
                             qualities=qualities)
    return ranked[0] if ranked else None


def _descriptors(store: ProjectStore, ids: list[int], given: Mapping[int, np.ndarray] | None,
                 names: Mapping[int, str]) -> dict[int, np.ndarray]:
    """Descriptors of the readable frames among `ids` (`given` ones first); unreadable ones are logged and left out."""
    vectors = {}
    for image_id in ids:
        if given is not None and image_id in given:
            vectors[image_id] = np.asarray(given[image_id], np.float32)
            continue
        try:
            vectors[image_id] = descriptor_for(store, image_id)
        except SegcoreError as exc:
            log.warning("left out of the label-next suggestion: %s: %s", names.get(image_id, image_id), exc)
    return vectors


def _spread_over_sequences(distance: np.ndarray, candidates: list[ImageRecord],
                           references: list[ImageRecord]) -> np.ndarray:
    """The descriptor distance, for frames of a sequence blended half and half with how far in time the frame lies
    from the nearest labelled frame of its sequence (a share of its length; 1 with none labelled): frames alike
    in looks but far apart in an acquisition (the sample drifted, the light changed) are worth a label each."""
    labelled: dict[int, list[int]] = {}
    for record in references:
        if record.sequence_id is not None:
            labelled.setdefault(record.sequence_id, []).append(record.frame)
    if not any(record.sequence_id is not None for record in candidates):
        return distance
    lengths: dict[int, int] = {}
    for record in candidates + references:
        if record.sequence_id is not None:
            lengths[record.sequence_id] = max(lengths.get(record.sequence_id, 0), record.frame + 1)
    largest = float(distance.max())
    scaled = distance / largest if largest > 0 else distance
    blended = scaled.copy()
    for k, record in enumerate(candidates):
        if record.sequence_id is None:
            continue
        frames = labelled.get(record.sequence_id)
        apart = 1.0 if not frames else min(abs(record.frame - f) for f in frames) / max(lengths[record.sequence_id] - 1, 1)
        blended[k] = 0.5 * scaled[k] + 0.5 * min(1.0, 2.0 * apart)
    return blended * largest if largest > 0 else blended  # in the descriptor's units, as the reasons give them


def _nearest_or_mean(a: np.ndarray, b: np.ndarray, *, nearest: bool) -> np.ndarray:
    """For each row of `a`, its Euclidean distance to the nearest row of `b` (or the mean distance to them).

    ROW_BLOCK rows of `a` at a time, from the Gram matrix: never len(a) x len(b) x dimensions at once.
    """
    b = b.astype(np.float64)  # float32 would leave a frame 1e-4 from itself
    b_squared = (b * b).sum(1)[None, :]
    reduced = []
    for start in range(0, len(a), ROW_BLOCK):
        rows = a[start:start + ROW_BLOCK].astype(np.float64)
        distances = np.sqrt(np.maximum((rows * rows).sum(1)[:, None] + b_squared - 2.0 * (rows @ b.T), 0.0))
        reduced.append(distances.min(axis=1) if nearest else distances.mean(axis=1))
    return np.concatenate(reduced)


def _ranks(values: list[float]) -> list[int]:
    """1 for the largest value, 2 for the next, ..."""
    order = sorted(range(len(values)), key=lambda k: -values[k])
    ranks = [0] * len(values)
    for rank, k in enumerate(order, 1):
        ranks[k] = rank
    return ranks
