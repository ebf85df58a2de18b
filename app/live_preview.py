"""Live preview: while a run trains, predict the image in view with each new checkpoint, in the background.

The result goes to `PreviewState` (memory only), never to the project store: a preview must not
turn an unlabelled image 'predicted' or replace a prediction the user made on purpose. The canvas
and the review view draw it in their prediction layer, titled as a preview. Previews never queue
up: while one runs, only the newest checkpoint waits for the next turn. Moving to another image
while a run trains previews that image with the newest checkpoint.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from app.state.preview import Preview, PreviewState
from app.state.project_state import NO_IMAGE, ProjectState
from app.state.training_session import TrainingSession
from app.workers import Worker, WorkerGroup
from segcore.project.predict import predict_image
from segcore.training.events import CheckpointSaved

log = logging.getLogger(__name__)


class LivePreview(QObject):
    """Runs the newest checkpoint on the current image after every epoch (and on demand)."""

    failed = Signal(str)
    """A preview could not be made (a message for the status bar: a preview is never worth a dialog)."""

    def __init__(self, state: ProjectState, session: TrainingSession, previews: PreviewState,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state, self._session, self._previews = state, session, previews
        self._pending: CheckpointSaved | None = None
        self._last: CheckpointSaved | None = None
        self._running: Worker | None = None
        self._workers = WorkerGroup()
        self.enabled_action = QAction("Live preview while training", self, checkable=True, checked=True)
        self.enabled_action.setToolTip("After every epoch, predict the image in view with the newest checkpoint "
                                       "(shown, never saved)")
        self.now_action = QAction("Preview the current image now", self, shortcut=QKeySequence("Ctrl+Shift+P"))
        self.now_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.now_action.triggered.connect(self.preview_now)
        session.started.connect(self._forget_last)
        session.checkpoint.connect(self._on_checkpoint)
        state.current_image_changed.connect(self._on_image_changed)
        state.about_to_close.connect(self._stop_before_close)

    @property
    def pending(self) -> str | None:
        """The checkpoint waiting for the running preview to end, if any."""
        return None if self._pending is None else self._pending.path

    @property
    def is_running(self) -> bool:
        return self._running is not None

    def preview_now(self) -> None:
        """Preview the current image with the newest checkpoint of this session (if it made one)."""
        if self._last is not None:
            self._request(self._last)

    def _forget_last(self) -> None:
        self._last = self._pending = None

    def _on_checkpoint(self, event: CheckpointSaved) -> None:
        self._last = event
        if self.enabled_action.isChecked():
            self._request(event)

    def _on_image_changed(self, image_id: int) -> None:
        # The preview follows the eye: a new image in view gets the newest checkpoint while a run trains.
        if image_id != NO_IMAGE and self._session.is_running and self.enabled_action.isChecked():
            self.preview_now()

    def _request(self, event: CheckpointSaved) -> None:
        self._pending = event
        self._run_pending()

    def _run_pending(self) -> None:
        if self._pending is None or self._running is not None:
            return
        if not self._state.is_open or self._state.current_id == NO_IMAGE:
            self._pending = None
            return
        event, self._pending = self._pending, None
        image_id = self._state.current_id
        log.debug("live preview of image %d with %s", image_id, event.path)
        worker = Worker(predict_image, self._state.store, event.path, image_id)
        worker.returned.connect(
            lambda result: self._previews.show(Preview(image_id, result.labels, event.path, event.epoch)))
        worker.errored.connect(self._failed)
        worker.finished.connect(self._finished)
        self._running = worker
        self._workers.start(worker)

    def _failed(self, exc: BaseException) -> None:
        log.warning("live preview failed: %s", exc)
        self.failed.emit(f"Live preview failed: {exc}")

    def _finished(self) -> None:
        self._running = None
        self._run_pending()

    def _stop_before_close(self) -> None:
        self._pending = None
        self._workers.wait()
