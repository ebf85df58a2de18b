"""Live preview: while a run trains, predict the image in view with each new checkpoint, in the background.

Each checkpoint the training session saves (every epoch) is run on the current image through the
same `PredictionController` as the Predict dialog, so the result is stored as the image's
prediction and the review view's prediction pane (an overlay on the image) refreshes. Previews
never queue up: while one runs, only the newest checkpoint waits for the next turn.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from app.predictions import PredictionController
from app.state.project_state import NO_IMAGE, ProjectState
from app.state.training_session import TrainingSession

log = logging.getLogger(__name__)


class LivePreview(QObject):
    """Runs the newest checkpoint on the current image after every epoch (and on demand)."""

    def __init__(self, state: ProjectState, session: TrainingSession, predictions: PredictionController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state, self._session, self._predictions = state, session, predictions
        self._pending: str | None = None
        self._last: str | None = None
        self.enabled_action = QAction("Live preview while training", self, checkable=True, checked=True)
        self.enabled_action.setToolTip("After every epoch, predict the image in view with the newest checkpoint")
        self.now_action = QAction("Preview the current image now", self, shortcut=QKeySequence("Ctrl+Shift+P"))
        self.now_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.now_action.triggered.connect(self.preview_now)
        session.checkpoint_ready.connect(self._on_checkpoint)
        predictions.finished.connect(lambda *_: self._run_pending())

    @property
    def pending(self) -> str | None:
        """The checkpoint waiting for the running prediction to end, if any."""
        return self._pending

    def preview_now(self) -> None:
        """Predict the current image with the newest checkpoint of this session (if it made one)."""
        checkpoint = self._session.latest_checkpoint or self._last
        if checkpoint is not None:
            self._request(checkpoint)

    def _on_checkpoint(self, path: str) -> None:
        self._last = path
        if self.enabled_action.isChecked():
            self._request(path)

    def _request(self, path: str) -> None:
        self._pending = path
        self._run_pending()

    def _run_pending(self) -> None:
        if self._pending is None or self._predictions.is_running:
            return
        if not self._state.is_open or self._state.current_id == NO_IMAGE:
            self._pending = None
            return
        path, self._pending = self._pending, None
        log.debug("live preview of image %d with %s", self._state.current_id, path)
        self._predictions.predict(path, "selected")
