"""Predict a project's images with a checkpoint and keep the results (labels, uncertainty) in the store.

    for progress in predict_project(store, "runs/0001/best.pt", store_ids):
        ...  # PredictProgress(done, total, image_id, score)

Big images are tiled automatically (the predictor's "auto" mode); a generator, so the caller
can stop between images.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from segcore.errors import ProjectError, SegcoreError
from segcore.inference.predictor import Prediction, Predictor
from segcore.project.store import ImageStatus, ProjectStore
from segcore.training.checkpoint import Checkpoint, load_checkpoint

log = logging.getLogger(__name__)

SELECTIONS = ("all", "unlabelled", "labelled")


@dataclass(frozen=True)
class PredictProgress:
    done: int
    total: int
    image_id: int
    score: float | None
    """Mean uncertainty of the image (None when it failed)."""
    error: str | None = None
    quality: float | None = None
    """Estimated IoU of the prediction (None when it failed or was not estimated)."""


def select_images(store: ProjectStore, which: str) -> list[int]:
    """Image ids of a selection: all, unlabelled (not labelled by hand) or labelled ones."""
    if which not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {which!r}")
    records = store.images()
    if which == "unlabelled":
        records = [r for r in records if r.status in (ImageStatus.UNLABELLED, ImageStatus.PREDICTED)]
    elif which == "labelled":
        records = [r for r in records if r.status in (ImageStatus.LABELLED, ImageStatus.REVIEWED)]
    return [r.id for r in records]


def not_predicted_with(store: ProjectStore, image_ids: Iterable[int], checkpoint: str | Path) -> list[int]:
    """The images among `image_ids` without a stored prediction from `checkpoint`: what a prediction of them that
    was cancelled or killed half-way still has to do (a new checkpoint has all of them to do)."""
    records, source = store.prediction_records(), str(checkpoint)
    return [i for i in image_ids if i not in records or records[i].checkpoint != source]


def project_predictor(store: ProjectStore, checkpoint: Checkpoint | str | Path, **predictor_options) -> Predictor:
    """A predictor for this project's images; refuses a checkpoint trained on other classes."""
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    if ckpt.class_table.names != store.class_table().names:
        raise ProjectError(
            f"the checkpoint predicts {', '.join(ckpt.class_table.names)} but the project's classes are "
            f"{', '.join(store.class_table().names)}"
        )
    return Predictor(ckpt, **{"mode": "auto", **predictor_options})


def predict_image(store: ProjectStore, checkpoint: Checkpoint | str | Path, image_id: int,
                  **predictor_options) -> Prediction:
    """Predict one image and keep nothing: a live preview, which must not change the project."""
    return project_predictor(store, checkpoint, **predictor_options).predict(store.read_image(image_id))


def predict_project(
    store: ProjectStore,
    checkpoint: Checkpoint | str | Path,
    image_ids: Iterable[int],
    *,
    run_id: int | None = None,
    **predictor_options,
) -> Iterator[PredictProgress]:
    """Predict each image and store its labels, uncertainty and estimated IoU; an unreadable image is reported, not
    fatal. The estimate (`quality`, on unless a predictor option says otherwise) costs three more forwards an image."""
    source = str(checkpoint) if not isinstance(checkpoint, Checkpoint) else "<in memory>"
    predictor = project_predictor(store, checkpoint, **{"quality": True, **predictor_options})
    ids = list(image_ids)
    for done, image_id in enumerate(ids, start=1):
        try:
            result = predictor.predict(store.read_image(image_id))
            quality = None if result.quality is None else result.quality.iou
            store.save_prediction(image_id, result.labels, result.uncertainty, score=result.score,
                                  checkpoint=source, run_id=run_id, method=predictor.method, quality=quality)
        except SegcoreError as exc:
            log.warning("image %d not predicted: %s", image_id, exc)
            yield PredictProgress(done, len(ids), image_id, None, str(exc))
            continue
        yield PredictProgress(done, len(ids), image_id, result.score, quality=quality)
