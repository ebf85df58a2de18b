"""Predict project images with a checkpoint in the background; the store keeps the results."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import Worker
from segcore.project.predict import PredictProgress, not_predicted_with, predict_project, select_images
from segcore.project.store import ProjectStore

log = logging.getLogger(__name__)

WHICH = ("selected", "sequence", "unlabelled", "all")
"""'selected' is the current image; 'sequence' the frames of its acquisition not yet predicted with the checkpoint
(a prediction cancelled half-way goes on where it stopped); 'unlabelled' also re-predicts images that have only a
prediction."""


class PredictionController(QObject):
    """Runs `segcore.project.predict.predict_project` in a `Worker` and keeps `ProjectState` up to date."""

    started = Signal(int)
    """A prediction of this many images started (before the first is done: a checkpoint may take seconds to load)."""
    progress = Signal(int, int)
    """(done, total) after each image."""
    image_predicted = Signal(int)
    """An image's prediction is stored (views showing it refresh)."""
    finished = Signal(int, list)
    """(images predicted, ["<image name>: <reason>" for each image that failed]) at the end, also when cancelled."""

    def __init__(self, state: ProjectState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._worker: Worker | None = None
        self._store: ProjectStore | None = None
        self._count = 0
        self._errors: list[str] = []
        state.about_to_close.connect(self._stop_before_close)

    @property
    def is_running(self) -> bool:
        return self._worker is not None

    def predict(self, checkpoint_path: str | Path, which: str, *, tile: int | None = None, tta: bool = False,
                one_region: bool | None = None) -> Worker:
        """Start predicting the `which` images ('selected', 'unlabelled', 'all'); tiles of `tile` px, else automatic;
        `one_region`: each class keeps its largest region, holes filled (`Predictor`; None: as the checkpoint says)."""
        if which not in WHICH:
            raise ValueError(f"which must be one of {', '.join(WHICH)}, got {which!r}")
        if which in ("selected", "sequence") and self._state.current_id == NO_IMAGE:
            raise ValueError("no image is selected")
        if which == "selected":
            ids = [self._state.current_id]
        elif which == "sequence":
            sequence = self._state.record(self._state.current_id).sequence_id
            if sequence is None:
                raise ValueError("the current image is no frame of an acquisition")
            frames = [r.id for r in self._state.images if r.sequence_id == sequence]
            ids = not_predicted_with(self._state.store, frames, checkpoint_path)
        else:
            ids = select_images(self._state.store, which)
        return self.predict_images(checkpoint_path, ids, tile=tile, tta=tta, one_region=one_region)

    def predict_images(self, checkpoint_path: str | Path, ids: list[int], *, tile: int | None = None,
                       tta: bool = False, one_region: bool | None = None) -> Worker:
        """Start predicting the images `ids` (e.g. those the review queue lacks a current prediction for)."""
        if self._worker is not None:
            raise RuntimeError("a prediction is already running")
        store = self._state.store
        options: dict = {"tta": tta, "one_region": one_region}
        if tile is not None:
            options.update(mode="tile", tile=tile)
        checkpoint = Path(checkpoint_path)
        log.info("predicting %d image(s) with %s", len(ids), checkpoint)
        worker = Worker(predict_project, store, checkpoint, ids, run_id=_run_of(store, checkpoint), **options)
        worker.yielded.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        self._worker, self._store, self._count, self._errors = worker, store, 0, []
        worker.start()
        self.started.emit(len(ids))
        return worker

    def cancel(self) -> None:
        """Stop after the image being predicted now."""
        if self._worker is not None:
            self._worker.quit()

    def _on_progress(self, step: PredictProgress) -> None:
        if not self._is_current_store():
            return
        if step.error is None:
            self._count += 1
            self._state.reload_record(step.image_id)
            self.image_predicted.emit(step.image_id)
        else:
            self._errors.append(f"{self._state.record(step.image_id).name}: {step.error}")
        self.progress.emit(step.done, step.total)

    def _on_finished(self) -> None:
        self._worker = self._store = None
        self.finished.emit(self._count, list(self._errors))

    def _is_current_store(self) -> bool:
        # Progress queued before a project switch must not touch the newly opened project.
        return self._state.is_open and self._state.store is self._store

    def _stop_before_close(self) -> None:
        # The worker writes to the store that is about to close: let it finish its image first.
        if self._worker is not None:
            self._worker.quit()
            self._worker.wait()


def _run_of(store: ProjectStore, checkpoint: Path) -> int | None:
    """The id of the run whose folder holds `checkpoint`, so predictions remember their run."""
    resolved = checkpoint.resolve()
    for run in store.runs():
        if run.checkpoint_dir and resolved.is_relative_to((store.root / run.checkpoint_dir).resolve()):
            return run.id
    return None
