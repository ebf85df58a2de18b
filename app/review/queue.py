"""The review queue dock: labelled images by worst IoU, or unlabelled ones by highest uncertainty; N opens the next."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.review.triptych import ReviewView
from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import Worker, WorkerGroup
from segcore.project.review import review_queue

MODES = (("worst_iou", "Worst IoU (labelled)", "IoU"), ("uncertain", "Most uncertain (unlabelled)", "uncertainty"))
"""(segcore queue kind, menu text, what the value is)."""
IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole


class ReviewPanel(QDockWidget):
    """Lists the images to review first; a click or "Next in queue" (N) selects one and reveals the review view.

    "Next" walks the queue in order, skipping images already opened from it since the mode was
    picked, so recomputing the queue (after an accept, after predictions) does not lose the place.
    """

    def __init__(self, state: ProjectState, review_view: ReviewView, parent: QWidget | None = None) -> None:
        super().__init__("Review queue", parent)
        self.setObjectName("ReviewPanel")
        self.state = state
        self._review_view = review_view
        self._queue: list[tuple[int, float]] = []
        self._visited: set[int] = set()
        self._serial = 0  # bumped per computation; an older result is stale
        self._computing = False
        self._workers = WorkerGroup()

        self.mode = QComboBox()
        for kind, text, _ in MODES:
            self.mode.addItem(text, kind)
        self.refresh_button = QToolButton(toolTip="Recompute the queue")
        self.refresh_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.list = QListWidget()
        self.summary = QLabel()
        self.next_action = QAction("Next in queue", self, shortcut=QKeySequence(Qt.Key.Key_N))
        self.next_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.next_action.setToolTip("Open the next image of the review queue (N)")
        self.addAction(self.next_action)  # the shortcut works while the dock is shown, menus or not

        body = QWidget()
        top = QHBoxLayout()
        top.addWidget(self.mode, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(body)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.summary)
        self.setWidget(body)

        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.list.itemActivated.connect(self._open_item)
        self.list.itemClicked.connect(self._open_item)
        self.next_action.triggered.connect(self.open_next)
        state.project_opened.connect(self._mode_changed)
        state.about_to_close.connect(self._workers.wait)
        state.project_closed.connect(self._clear)
        state.current_image_changed.connect(self._mark_current)

    @property
    def kind(self) -> str:
        """The segcore queue kind shown: 'worst_iou' or 'uncertain'."""
        return self.mode.currentData()

    def set_kind(self, kind: str) -> None:
        self.mode.setCurrentIndex(self.mode.findData(kind))

    @property
    def queue(self) -> list[tuple[int, float]]:
        """(image id, value) in review order, as last computed."""
        return list(self._queue)

    @property
    def is_computing(self) -> bool:
        return self._computing

    def refresh(self) -> None:
        """Recompute the queue in the background (after predictions, accepts or label edits)."""
        self._serial += 1
        if not self.state.is_open:
            return
        serial = self._serial
        self._computing = True
        worker = Worker(review_queue, self.state.store, self.kind)
        worker.returned.connect(lambda queue: self._computed(serial, queue))
        worker.finished.connect(lambda: self._finished(serial))
        self._workers.start(worker)

    def open_next(self) -> None:
        """Select the first image of the queue not opened from it yet; after the last, start over."""
        pending = [image_id for image_id, _ in self._queue if image_id not in self._visited]
        if not pending:
            if not self._queue:
                return
            self._visited.clear()
            pending = [image_id for image_id, _ in self._queue]
        self._open(pending[0])

    def _open(self, image_id: int) -> None:
        self._visited.add(image_id)
        self.state.select(image_id)
        self._review_view.reveal()

    def _open_item(self, item: QListWidgetItem) -> None:
        self._open(item.data(IMAGE_ID_ROLE))

    def _mode_changed(self) -> None:
        self._visited.clear()
        self.refresh()

    def _computed(self, serial: int, queue: list[tuple[int, float]]) -> None:
        if serial != self._serial or not self.state.is_open:
            return
        known = {record.id: record.name for record in self.state.images}
        self._queue = [(image_id, value) for image_id, value in queue if image_id in known]
        what = next(label for kind, _, label in MODES if kind == self.kind)
        self.list.clear()
        for image_id, value in self._queue:
            item = QListWidgetItem(f"{known[image_id]}    {what} {value:.3f}")
            item.setData(IMAGE_ID_ROLE, image_id)
            self.list.addItem(item)
        self.summary.setText(f"{len(self._queue)} image(s) to review" if self._queue else self._empty_text())
        self._mark_current(self.state.current_id)

    def _finished(self, serial: int) -> None:
        if serial == self._serial:
            self._computing = False

    def _empty_text(self) -> str:
        if self.kind == "worst_iou":
            return "No labelled image has a prediction yet"
        return "No unlabelled image has a prediction yet"

    def _mark_current(self, image_id: int) -> None:
        self.list.blockSignals(True)  # showing the current image is not the user picking it
        self.list.clearSelection()
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(IMAGE_ID_ROLE) == image_id and image_id != NO_IMAGE:
                item.setSelected(True)
                self.list.setCurrentItem(item)
                break
        self.list.blockSignals(False)

    def _clear(self) -> None:
        self._serial += 1
        self._queue, self._computing = [], False
        self._visited.clear()
        self.list.clear()
        self.summary.clear()
