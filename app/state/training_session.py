"""The training run of the open project: one background worker around segcore's `train_project`.

A pool thread, not a subprocess: the engine's generator and `TrainingControl` already give
progress, pause and a cancel honoured within one batch; the GUI reads the same thread-safe store;
events need no pickling. The session turns the engine's events into Qt signals on the GUI thread.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal

from app.state.project_state import ProjectState
from app.workers import Worker
from segcore.errors import SegcoreError
from segcore.project.defaults import ensure_mean_image, mean_image_path
from segcore.project.runs import train_project
from segcore.project.store import ProjectStore
from segcore.training import TrainConfig, TrainingControl
from segcore.training.events import (
    BatchProgress,
    BatchSizeReduced,
    CheckpointSaved,
    EpochMetrics,
    Event,
    Failed,
    Finished,
    LabelsChecked,
    PseudoLabelled,
    RunStarted,
    SchedulePlanned,
)

log = logging.getLogger(__name__)

CLOSE_WAIT_S = 60.0
"""How long closing the project waits for a cancelled run to record itself (cancel takes one batch)."""


class SessionState(str, Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"


class TrainingSession(QObject):
    """Starts, pauses, resumes and cancels one training run at a time; reports it through signals."""

    started = Signal()
    run_started = Signal(object)
    """RunStarted: the run's folder, device, train/val image counts."""
    progress = Signal(object)
    """BatchProgress after every batch."""
    epoch = Signal(object)
    """EpochMetrics after every epoch's validation."""
    checkpoint = Signal(object)
    """CheckpointSaved."""
    planned = Signal(object)
    """SchedulePlanned: a run with a time budget timed its first epoch(s) and chose its number of epochs."""
    notice = Signal(str)
    """Something the user should read: RunStarted notes, a batch size reduced after out-of-memory."""
    labels_checked = Signal(object)
    """LabelsChecked: the finished run's labelled frames predicted back (before `finished`)."""
    finished = Signal(object)
    """Finished (cancelled or not), after the run is recorded in the store."""
    failed = Signal(str)
    """A message for the user; the run is recorded as failed."""
    state_changed = Signal(str)
    """A SessionState value."""

    def __init__(self, state: ProjectState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._worker: Worker | None = None
        self._control = TrainingControl()
        self._session_state = SessionState.IDLE
        self._outcome: Finished | None = None
        self._error: str | None = None
        self._latest_checkpoint: str | None = None
        self.last_error: BaseException | None = None
        """The exception of the last failed run (its traceback for a 'details' view)."""
        state.about_to_close.connect(self._on_project_closing)

    # -- queries ---------------------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        return self._session_state

    @property
    def is_running(self) -> bool:
        """True from `start` until the run has ended and been recorded (paused and cancelling included)."""
        return self._session_state is not SessionState.IDLE

    @property
    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint saved by the current or last run."""
        return self._latest_checkpoint

    # -- control ---------------------------------------------------------------------------------------
    def start(
        self,
        config: TrainConfig,
        *,
        name: str | None = None,
        init_from: str | Path | None = None,
        resume_run: int | None = None,
    ) -> None:
        """Train on the open project in the background; a run already going raises RuntimeError."""
        if self.is_running:
            raise RuntimeError("a training run is already going; cancel it first")
        self._control = TrainingControl()
        self._outcome, self._error, self.last_error = None, None, None
        self._latest_checkpoint = None
        worker = Worker(_train, self._state.store, config, name=name, control=self._control,
                        init_from=init_from, resume_run=resume_run)
        worker.yielded.connect(self._on_event)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        self._set_state(SessionState.RUNNING)
        self.started.emit()
        worker.start()

    def pause(self) -> None:
        """Hold the run before its next batch."""
        if self._session_state is SessionState.RUNNING:
            self._control.pause()
            self._set_state(SessionState.PAUSED)

    def resume(self) -> None:
        if self._session_state is SessionState.PAUSED:
            self._control.resume()
            self._set_state(SessionState.RUNNING)

    def cancel(self) -> None:
        """Stop the run before its next batch; it ends as 'cancelled', its last epoch's checkpoint kept."""
        if self._session_state in (SessionState.RUNNING, SessionState.PAUSED):
            self._control.cancel()
            self._set_state(SessionState.CANCELLING)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker thread has ended (tests, shutdown); True if it has."""
        return self._worker is None or self._worker.wait(timeout_s)

    # -- worker slots (GUI thread) -------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if isinstance(event, BatchProgress):
            self.progress.emit(event)
        elif isinstance(event, EpochMetrics):
            self.epoch.emit(event)
        elif isinstance(event, CheckpointSaved):
            self._latest_checkpoint = event.path
            self.checkpoint.emit(event)
        elif isinstance(event, RunStarted):
            self.run_started.emit(event)
            for note in event.notes:
                self.notice.emit(note)
        elif isinstance(event, SchedulePlanned):
            self.planned.emit(event)
        elif isinstance(event, PseudoLabelled):
            self.notice.emit(event.message[0].upper() + event.message[1:])
        elif isinstance(event, BatchSizeReduced):
            self.notice.emit(f"Out of memory ({event.reason}): batch size reduced from {event.old} to {event.new}")
        elif isinstance(event, LabelsChecked):
            self.labels_checked.emit(event)
        elif isinstance(event, Finished):
            self._outcome = event  # announced once the run is recorded (`_on_worker_finished`)
        elif isinstance(event, Failed):
            log.info("training failed: %s: %s", event.error_type, event.error)

    def _on_error(self, exc: BaseException) -> None:
        self.last_error = exc
        self._error = error_message(exc)
        if not isinstance(exc, SegcoreError):
            log.error("training failed:\n%s", "".join(traceback.format_exception(exc)))

    def _on_worker_finished(self) -> None:
        self._worker = None
        self._set_state(SessionState.IDLE)  # first: receivers may start the next run right away
        if self._error is not None:
            self.failed.emit(self._error)
        elif self._outcome is not None:
            self.finished.emit(self._outcome)

    def _on_project_closing(self) -> None:
        if self._worker is not None:
            self._control.cancel()
            if not self._worker.wait(CLOSE_WAIT_S):
                log.warning("the training run did not stop within %.0f s of closing the project", CLOSE_WAIT_S)

    def _set_state(self, new: SessionState) -> None:
        if new is not self._session_state:
            self._session_state = new
            self.state_changed.emit(new.value)


def _train(store: ProjectStore, config: TrainConfig, **options) -> Iterator[Event]:
    """The worker's generator: prepare the mean image when the config subtracts it, then train."""
    if config.augment.get("mean_image") == str(mean_image_path(store)):
        ensure_mean_image(store)
    yield from train_project(store, config, **options)


def error_message(exc: BaseException) -> str:
    """A sentence for the user: expected failures say what to change, out-of-memory says how to fit."""
    text = str(exc)
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return f"Training ran out of memory: lower the batch size, the crop or the model size.\n\n{text}"
    if isinstance(exc, SegcoreError):
        return text
    return f"Training failed: {type(exc).__name__}: {text}"
