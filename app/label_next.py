"""Label next (L): select the unlabelled frame segcore suggests labelling next, and say why.

The suggestion (`segcore.project.suggest`: most uncertain, least like the labelled frames) is
computed in the background and again whenever labels or predictions change (an image's status,
the image list), so it never names a frame that has been labelled since. Triggering the action
while a recomputation is due waits for it, then selects.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from app.state.project_state import ProjectState
from app.workers import Worker, WorkerGroup
from segcore.project.suggest import Suggestion, suggest_next

REFRESH_DELAY_MS = 600
"""Label edits and predictions come in bursts: the suggestion is recomputed once they settle."""


class LabelNext(QObject):
    """The *Label next* action and the current suggestion (`suggestion`, `changed`)."""

    changed = Signal()
    """The suggestion was recomputed (it may be None: every frame is labelled)."""
    selected = Signal(object)
    """The action selected this Suggestion (the window shows the labelling view)."""
    message = Signal(str)
    """A line for the status bar: why this frame, or that there is nothing left to label; "" once the
    user has moved on to another image."""

    def __init__(self, state: ProjectState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._suggestion: Suggestion | None = None
        self._fresh = False
        self._pending = False
        self._serial = 0
        self._shown: int | None = None
        """The image the last message is about (the message goes when another image is selected)."""
        self._workers = WorkerGroup()
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.action = QAction("&Label next", self, shortcut=QKeySequence(Qt.Key.Key_L))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setToolTip("Select the unlabelled image to label next: the most uncertain, and the least like "
                               "the labelled ones (L)")
        self.action.setEnabled(False)
        self.action.triggered.connect(self.label_next)
        state.project_opened.connect(self._on_opened)
        state.about_to_close.connect(self._workers.wait)
        state.project_closed.connect(self._on_closed)
        state.images_changed.connect(self.schedule_refresh)
        state.record_changed.connect(lambda _image_id: self.schedule_refresh())
        state.current_image_changed.connect(self._on_current_changed)

    @property
    def suggestion(self) -> Suggestion | None:
        """The suggestion as last computed (check `is_fresh`)."""
        return self._suggestion

    @property
    def is_fresh(self) -> bool:
        """True when no change has come in since the suggestion was computed."""
        return self._fresh

    def schedule_refresh(self) -> None:
        """Recompute once a burst of changes has settled; until then the suggestion is stale."""
        if self._state.is_open:
            self._fresh = False
            self._timer.start()

    def refresh(self) -> None:
        """Recompute the suggestion in the background."""
        self._timer.stop()
        self._serial += 1
        if not self._state.is_open:
            return
        self._fresh = False
        serial = self._serial
        worker = Worker(suggest_next, self._state.store)
        worker.returned.connect(lambda suggestion: self._computed(serial, suggestion))
        worker.errored.connect(lambda exc: self._failed(serial, exc))
        self._workers.start(worker)

    def label_next(self) -> None:
        """Select the suggested frame (after recomputing, when a change came in since)."""
        if not self._state.is_open:
            return
        if self._fresh:
            self._select()
        else:
            self._pending = True
            self.refresh()  # now, not once the burst of changes settles: the user asked

    # -- internals ---------------------------------------------------------------------------------------
    def _select(self) -> None:
        suggestion = self._suggestion
        if suggestion is None:
            self._shown = self._state.current_id
            self.message.emit("Every image is labelled: nothing to label next")
            return
        if all(record.id != suggestion.image_id for record in self._state.images):
            self._pending = True  # the image list changed under it
            self.refresh()
            return
        self._shown = suggestion.image_id
        self._state.select(suggestion.image_id)
        self.selected.emit(suggestion)
        self.message.emit(f"Label next: {suggestion.reason}")

    def _computed(self, serial: int, suggestion: Suggestion | None) -> None:
        if serial != self._serial or not self._state.is_open:
            return
        self._suggestion, self._fresh = suggestion, True
        self.changed.emit()
        if self._pending:
            self._pending = False
            self._select()

    def _failed(self, serial: int, exc: BaseException) -> None:
        if serial != self._serial:
            return
        self._pending = False
        self.message.emit(f"No suggestion for the next image: {exc}")

    def _on_current_changed(self, image_id: int) -> None:
        if self._shown is not None and image_id != self._shown:
            self._shown = None
            self.message.emit("")

    def _on_opened(self) -> None:
        self.action.setEnabled(True)
        self.refresh()

    def _on_closed(self) -> None:
        self._serial += 1
        self._timer.stop()
        self._suggestion, self._fresh, self._pending, self._shown = None, False, False, None
        self.action.setEnabled(False)
        self.message.emit("")
        self.changed.emit()


class LabelNextBar(QWidget):
    """A *Label next* button with the current suggestion beside it (for the review queue dock)."""

    def __init__(self, controller: LabelNext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.button = QToolButton()
        self.button.setDefaultAction(controller.action)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.label = QLabel(wordWrap=True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.label, 1)
        controller.changed.connect(self._show)
        self._show()

    def _show(self) -> None:
        suggestion = self._controller.suggestion
        if suggestion is None:
            self.label.setText("")
            self.label.setToolTip("")
        else:
            self.label.setText(suggestion.name)
            self.label.setToolTip(suggestion.reason)
