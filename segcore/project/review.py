"""Review predictions against labels: per-image scores, error maps, review queues, accepting a prediction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from segcore.errors import MaskError, ProjectError
from segcore.metrics import ConfusionMatrix
from segcore.project.store import ImageStatus, ProjectStore

QUEUES = ("worst_iou", "uncertain")


@dataclass(frozen=True)
class Comparison:
    miou: float | None
    """Mean IoU over the classes present in the label or the prediction (None: nothing labelled)."""
    pixel_acc: float | None
    false_positive: np.ndarray
    """H x W bool: a class predicted where the label has another one (background predicted is excluded)."""
    false_negative: np.ndarray
    """H x W bool: a labelled class that the prediction calls background."""


def compare(label: np.ndarray, prediction: np.ndarray, num_classes: int, ignore_index: int = 255,
            background: int = 0) -> Comparison:
    """Score one prediction against its label; ignore pixels count nowhere."""
    if label.shape != prediction.shape:
        raise MaskError(f"label {label.shape} and prediction {prediction.shape} differ in size")
    matrix = ConfusionMatrix(num_classes, ignore_index)
    matrix.update(torch.from_numpy(prediction[None].astype(np.int64)), torch.from_numpy(label[None].astype(np.int64)))
    metrics = matrix.compute()
    wrong = (prediction != label) & (label != ignore_index)
    return Comparison(
        miou=metrics.miou,
        pixel_acc=metrics.pixel_acc,
        false_positive=wrong & (prediction != background),
        false_negative=wrong & (prediction == background),
    )


def review_queue(store: ProjectStore, kind: str) -> list[tuple[int, float]]:
    """(image id, value) to review first: labelled images by worst IoU, or unlabelled ones by highest uncertainty."""
    if kind not in QUEUES:
        raise ValueError(f"queue must be one of {', '.join(QUEUES)}, got {kind!r}")
    scores = store.prediction_scores()
    records = {r.id: r for r in store.images()}
    if kind == "uncertain":
        queue = [(i, s) for i, s in scores.items() if s is not None and records[i].status is ImageStatus.PREDICTED]
        return sorted(queue, key=lambda item: -item[1])
    table = store.class_table()
    queue = []
    for image_id in scores:
        if records[image_id].status not in (ImageStatus.LABELLED, ImageStatus.REVIEWED):
            continue
        label, prediction = store.load_mask(image_id), store.load_prediction(image_id)
        if label is None or prediction is None:
            continue
        result = compare(label, prediction.labels, table.num_classes, table.ignore_index)
        if result.miou is not None:
            queue.append((image_id, result.miou))
    return sorted(queue, key=lambda item: item[1])


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
