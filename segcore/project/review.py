"""Review predictions against labels: per-image scores, error maps, review queues, accepting a prediction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from segcore.errors import MaskError, ProjectError
from segcore.inference.quality import to_check
from segcore.project.comparison import Comparison, compare
from segcore.project.runs import newest_finished_run
from segcore.project.sequence_jumps import jumping_frames
from segcore.project.store import ImageStatus, ProjectStore

__all__ = ["Comparison", "QUEUES", "QueueEntry", "accept_confident", "accept_prediction", "compare",
           "confident_predictions", "prediction_origins", "review_queue"]

QUEUES = ("estimated_iou", "worst_iou", "uncertain")
"""The review queues; the first is the default: predictions of frames never labelled, lowest estimated IoU first."""


@dataclass(frozen=True)
class PredictionOrigin:
    """Which run and checkpoint made an image's stored prediction, and whether a newer run has finished since."""

    run_id: int | None
    checkpoint: str
    """The checkpoint's path as recorded when predicting."""
    created_at: str
    stale: bool
    """True when the prediction is older than the newest finished run: that run has not predicted it."""
    method: tuple[str, ...] | None = ()
    """What the predictor added to the network (`StoredPrediction.method`); None: not recorded."""

    def describe(self) -> str:
        """'run 3 · best.pt · flips, one region · 2026-11-30 20:41', '(older than the newest run)' when stale."""
        made_by = f"run {self.run_id}" if self.run_id is not None else "checkpoint"
        when = self.created_at[:16].replace("T", " ")
        parts = [made_by, PurePath(self.checkpoint).name, *([", ".join(self.method)] if self.method else []), when]
        text = " · ".join(parts)
        return f"{text} (older than the newest run)" if self.stale else text


def prediction_origins(store: ProjectStore) -> dict[int, PredictionOrigin]:
    """{image id: origin} of every stored prediction; stale ones predate the newest finished run."""
    newest = newest_finished_run(store)
    cutoff = newest.finished_at if newest is not None else None
    return {
        image_id: PredictionOrigin(record.run_id, record.checkpoint, record.created_at,
                                   stale=cutoff is not None and record.created_at < cutoff, method=record.method)
        for image_id, record in store.prediction_records().items()
    }


@dataclass(frozen=True)
class QueueEntry:
    """One image of a review queue."""

    image_id: int
    value: float | None
    """Estimated IoU (estimated_iou), IoU against the label (worst_iou) or mean uncertainty (uncertain); None: no
    prediction to score, or one made before estimates were."""
    origin: PredictionOrigin | None
    """Where the prediction came from; None when the image has none."""
    jump: bool = False
    """A frame whose prediction jumps against the frames beside it in its acquisition (`sequence_jumps`)."""

    @property
    def flagged(self) -> bool:
        """Estimated bad ("check this") or jumping: one for the user to look at first."""
        return to_check(self.value) or self.jump

    @property
    def needs_prediction(self) -> bool:
        """No prediction, or one older than the newest finished run."""
        return self.origin is None or self.origin.stale


def review_queue(store: ProjectStore, kind: str) -> list[QueueEntry]:
    """The images to review first.

    estimated_iou: every unlabelled image that has a prediction, lowest estimated IoU first (the
    frames most likely wrong), then those predicted before estimates were, most uncertain first; within each,
    the flagged ones (estimated bad, or a frame that jumps against its neighbours) come first.
    worst_iou: every labelled (or reviewed) image, lowest IoU first, then those whose prediction
    scores nothing (all pixels ignored), then those without a prediction. uncertain: every
    unlabelled image that has a prediction, most uncertain first.
    """
    if kind not in QUEUES:
        raise ValueError(f"queue must be one of {', '.join(QUEUES)}, got {kind!r}")
    origins = prediction_origins(store)
    scores = store.prediction_scores()
    records = store.images()
    if kind == "estimated_iou":
        qualities = store.prediction_qualities()
        jumping = jumping_frames(store)
        predicted = [r for r in records if r.id in origins and r.status is ImageStatus.PREDICTED]
        estimated = sorted((QueueEntry(r.id, qualities[r.id], origins[r.id], r.id in jumping) for r in predicted
                            if qualities[r.id] is not None), key=lambda entry: (not entry.flagged, entry.value))
        older = sorted((QueueEntry(r.id, None, origins[r.id], r.id in jumping) for r in predicted
                        if qualities[r.id] is None),
                       key=lambda entry: (not entry.flagged, -(scores[entry.image_id] or 0.0)))
        return estimated + older
    if kind == "uncertain":
        queue = [QueueEntry(r.id, scores[r.id], origins[r.id]) for r in records
                 if r.id in origins and scores[r.id] is not None and r.status is ImageStatus.PREDICTED]
        return sorted(queue, key=lambda entry: -entry.value)
    table = store.class_table()
    scored, unscored = [], []
    for record in records:
        if record.status not in (ImageStatus.LABELLED, ImageStatus.REVIEWED):
            continue
        origin = origins.get(record.id)
        label = store.load_mask(record.id) if origin is not None else None
        prediction = store.load_prediction(record.id) if label is not None else None
        miou = None
        if label is not None and prediction is not None and label.shape == prediction.labels.shape:
            miou = compare(label, prediction.labels, table.num_classes, table.ignore_index).miou
        (scored if miou is not None else unscored).append(QueueEntry(record.id, miou, origin))
    # Without a score an image cannot be ranked: after the scored ones, those with a prediction first.
    unscored.sort(key=lambda entry: entry.origin is None)
    return sorted(scored, key=lambda entry: entry.value) + unscored


def accept_prediction(store: ProjectStore, image_id: int, region: np.ndarray | None = None) -> np.ndarray:
    """Make the prediction the image's label (only inside `region`, an H x W bool mask, if given).

    Outside the region the current label stays (class 0 where there is none). The image
    becomes 'reviewed'; returns the new label.
    """
    prediction = store.load_prediction(image_id)
    if prediction is None:
        raise ProjectError(f"image {image_id} has no prediction to accept")
    if region is None:
        label = prediction.labels.copy()
    else:
        if region.shape != prediction.labels.shape:
            raise MaskError(f"region {region.shape} and prediction {prediction.labels.shape} differ in size")
        current = store.load_mask(image_id)
        label = np.zeros_like(prediction.labels) if current is None else current
        label[region] = prediction.labels[region]
    store.save_mask(image_id, label, source="prediction accepted", status=ImageStatus.REVIEWED)
    return label


def confident_predictions(store: ProjectStore, at_least: float) -> list[int]:
    """The unlabelled images whose prediction is estimated at an IoU of `at_least` or more, best first."""
    qualities = store.prediction_qualities()
    chosen = [(quality, record.id) for record in store.images()
              if record.status is ImageStatus.PREDICTED and (quality := qualities.get(record.id)) is not None
              and quality >= at_least]
    return [image_id for _, image_id in sorted(chosen, reverse=True)]


def accept_confident(store: ProjectStore, at_least: float) -> Iterator[int]:
    """Accept every prediction `confident_predictions` lists, one image (one transaction) at a time, yielding
    each id once accepted: a run stopped half-way keeps what it accepted."""
    for image_id in confident_predictions(store, at_least):
        accept_prediction(store, image_id)
        yield image_id
