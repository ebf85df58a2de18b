"""The review queue dock: unlabelled predictions by lowest estimated IoU (the default), labelled images by worst
IoU, or unlabelled ones by highest uncertainty; N opens the next.

Each row says which run and checkpoint made the prediction; a prediction older than the newest
finished run is marked, and so is a labelled image with no prediction at all. One button predicts
those (with the newest run's best checkpoint). The queue is recomputed after predictions,
accepts, finished runs and label edits, so an IoU never outlives the label it was computed on.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.quality_marks import CHECK_COLOR
from app.review.triptych import ReviewView
from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import Worker, WorkerGroup
from segcore.inference.quality import CHECK_BELOW, to_check
from segcore.project.label_fit import RunLabelCheck, run_label_check
from segcore.project.review import QueueEntry, review_queue
from segcore.project.runs import newest_best_checkpoint, newest_finished_run
from segcore.project.store import ProjectStore

MODES = (("estimated_iou", "Lowest estimated IoU (unlabelled)", "Est. IoU"), ("worst_iou", "Worst IoU (labelled)", "IoU"),
         ("uncertain", "Most uncertain (unlabelled)", "Uncertainty"))
"""(segcore queue kind, menu text, what the value column holds)."""
IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole
NAME, VALUE, ORIGIN = range(3)
REFRESH_DELAY_MS = 600
"""Label edits come in bursts (brush dabs): the queue is recomputed once they settle."""
MUTED = QColor(130, 130, 130)


@dataclass(frozen=True)
class QueueFacts:
    """What the worker reads: the queue and the checkpoint that would predict what it lacks."""

    entries: list[QueueEntry]
    checkpoint: Path | None
    run_id: int | None
    """The newest finished run, whose checkpoint that is."""
    labels: RunLabelCheck | None = None
    """That run's labelled frames predicted back (None: a run from before the check)."""


def _queue_facts(store: ProjectStore, kind: str) -> QueueFacts:
    run = newest_finished_run(store)
    return QueueFacts(review_queue(store, kind), newest_best_checkpoint(store), None if run is None else run.id,
                      None if run is None else run_label_check(store, run.id))


class ReviewPanel(QDockWidget):
    """Lists the images to review first; a click or "Next in queue" (N) selects one and reveals the review view.

    "Next" walks the queue in order, skipping images already opened from it since the mode was
    picked, so recomputing the queue (after an accept, after predictions) does not lose the place.
    """

    predict_requested = Signal(object, list)
    """(checkpoint path, image ids): predict these images (those without a current prediction)."""

    def __init__(self, state: ProjectState, review_view: ReviewView, parent: QWidget | None = None) -> None:
        super().__init__("Review queue", parent)
        self.setObjectName("ReviewPanel")
        self.state = state
        self._review_view = review_view
        self._queue: list[QueueEntry] = []
        self._checkpoint: Path | None = None
        self._run_id: int | None = None
        self._labels: RunLabelCheck | None = None
        self._visited: set[int] = set()
        self._serial = 0  # bumped per computation; an older result is stale
        self._computing = False
        self._workers = WorkerGroup()
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_DELAY_MS)

        self.mode = QComboBox()
        for kind, text, _ in MODES:
            self.mode.addItem(text, kind)
        self.refresh_button = QToolButton(toolTip="Recompute the queue")
        self.refresh_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.list = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True)
        self.list.setHeaderLabels(["Image", "IoU", "Prediction from"])
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.list.header()
        header.setStretchLastSection(True)
        for column in (NAME, VALUE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.predict_button = QPushButton()
        self.predict_button.setToolTip("Predict the queue's images that have no prediction, or only one older than "
                                       "the newest finished run, with that run's best checkpoint")
        self.summary = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
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
        layout.addWidget(self.predict_button)
        layout.addWidget(self.summary)
        self.setWidget(body)

        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.predict_button.clicked.connect(self._predict_missing)
        self.list.itemActivated.connect(self._open_item)
        self.list.itemClicked.connect(self._open_item)
        self.next_action.triggered.connect(self.open_next)
        self._refresh_timer.timeout.connect(self.refresh)
        state.project_opened.connect(self._mode_changed)
        state.about_to_close.connect(self._workers.wait)
        state.project_closed.connect(self._clear)
        state.current_image_changed.connect(self._mark_current)
        state.record_changed.connect(lambda _image_id: self.schedule_refresh())
        state.images_changed.connect(self.schedule_refresh)
        if review_view.document is not None:  # the canvas's edits: an IoU must not outlive its label
            review_view.document.mask_saved.connect(lambda _image_id: self.schedule_refresh())
        self._show_predict_button()

    @property
    def kind(self) -> str:
        """The segcore queue kind shown: 'estimated_iou', 'worst_iou' or 'uncertain'."""
        return self.mode.currentData()

    def set_kind(self, kind: str) -> None:
        self.mode.setCurrentIndex(self.mode.findData(kind))

    @property
    def queue(self) -> list[QueueEntry]:
        """The entries in review order, as last computed."""
        return list(self._queue)

    @property
    def is_computing(self) -> bool:
        return self._computing

    def missing(self) -> list[int]:
        """Images of the queue without a current prediction (none, or older than the newest finished run)."""
        return [entry.image_id for entry in self._queue if entry.needs_prediction]

    def add_footer(self, widget: QWidget) -> None:
        """Show `widget` under the queue (the window puts *Label next* there)."""
        self.widget().layout().addWidget(widget)

    def schedule_refresh(self) -> None:
        """Recompute the queue once a burst of changes (label edits) has settled."""
        if self.state.is_open:
            self._refresh_timer.start()

    def refresh(self) -> None:
        """Recompute the queue in the background (after predictions, accepts, runs or label edits)."""
        self._serial += 1
        self._refresh_timer.stop()
        if not self.state.is_open:
            return
        serial = self._serial
        self._computing = True
        worker = Worker(_queue_facts, self.state.store, self.kind)
        worker.returned.connect(lambda facts: self._computed(serial, facts))
        worker.finished.connect(lambda: self._finished(serial))
        self._workers.start(worker)

    def open_next(self) -> None:
        """Select the first image of the queue with a score not opened from it yet; after the last, start over."""
        ranked = [entry.image_id for entry in self._queue if entry.value is not None]
        pending = [image_id for image_id in ranked if image_id not in self._visited]
        if not pending:
            if not ranked:
                return
            self._visited.clear()
            pending = ranked
        self._open(pending[0])

    def open_next_after(self, image_id: int) -> None:
        """`open_next`, counting `image_id` (just accepted, say) as opened."""
        self._visited.add(image_id)
        self.open_next()

    def _open(self, image_id: int) -> None:
        self._visited.add(image_id)
        self.state.select(image_id)
        self._review_view.reveal()

    def _open_item(self, item: QTreeWidgetItem) -> None:
        self._open(item.data(NAME, IMAGE_ID_ROLE))

    def _mode_changed(self) -> None:
        self._visited.clear()
        self.list.headerItem().setText(VALUE, next(label for kind, _, label in MODES if kind == self.kind))
        self.refresh()

    def _computed(self, serial: int, facts: QueueFacts) -> None:
        if serial != self._serial or not self.state.is_open:
            return
        known = {record.id: record.name for record in self.state.images}
        self._queue = [entry for entry in facts.entries if entry.image_id in known]
        self._checkpoint, self._run_id, self._labels = facts.checkpoint, facts.run_id, facts.labels
        self.list.clear()
        estimated = self.kind == "estimated_iou"
        for entry in self._queue:
            self.list.addTopLevelItem(_row(entry, known[entry.image_id], flag=estimated and entry.flagged))
        self._show_summary()
        self._show_predict_button()
        self._mark_current(self.state.current_id)

    def _show_summary(self) -> None:
        text = html.escape(self._summary_text())
        if self._labels is not None and self._labels.failed:  # a model that failed as a whole: above all else
            text = f"<span style='color:{CHECK_COLOR.name()}'>{html.escape(self._labels.describe())}</span><br>{text}"
        self.summary.setText(text)

    def _summary_text(self) -> str:
        if not self._queue:
            return "No labelled image yet" if self.kind == "worst_iou" else "No unlabelled image has a prediction yet"
        scored = sum(entry.value is not None for entry in self._queue)
        stale = sum(entry.origin is not None and entry.origin.stale for entry in self._queue)
        unpredicted = sum(entry.origin is None for entry in self._queue)
        parts = [f"{len(self._queue)} image(s), {scored} {'estimated' if self.kind == 'estimated_iou' else 'scored'}"]
        if self.kind == "estimated_iou":
            parts.append(f"{sum(map(_to_check, self._queue))} to check (estimated IoU below {CHECK_BELOW:.2f})")
            jumping = sum(entry.jump for entry in self._queue)
            if jumping:
                parts.append(f"{jumping} jump against the frames beside them")
        if stale:
            parts.append(f"{stale} predicted by an older run")
        if unpredicted:
            parts.append(f"{unpredicted} not predicted")
        return "; ".join(parts)

    def _show_predict_button(self) -> None:
        missing = self.missing()
        self.predict_button.setVisible(bool(missing))
        if self._checkpoint is None:
            self.predict_button.setText("Train a model to predict these images")
            self.predict_button.setEnabled(False)
        else:
            self.predict_button.setText(f"Predict {len(missing)} image(s) with run {self._run_id} · "
                                        f"{self._checkpoint.name}")
            self.predict_button.setEnabled(True)

    def _predict_missing(self) -> None:
        missing = self.missing()
        if missing and self._checkpoint is not None:
            self.predict_requested.emit(self._checkpoint, missing)

    def _finished(self, serial: int) -> None:
        if serial == self._serial:
            self._computing = False

    def _mark_current(self, image_id: int) -> None:
        self.list.blockSignals(True)  # showing the current image is not the user picking it
        self.list.clearSelection()
        for row in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(row)
            if item.data(NAME, IMAGE_ID_ROLE) == image_id and image_id != NO_IMAGE:
                item.setSelected(True)
                self.list.setCurrentItem(item)
                break
        self.list.blockSignals(False)

    def _clear(self) -> None:
        self._serial += 1
        self._refresh_timer.stop()
        self._queue, self._computing, self._checkpoint, self._run_id = [], False, None, None
        self._visited.clear()
        self.list.clear()
        self.summary.clear()
        self._show_predict_button()


def _to_check(entry: QueueEntry) -> bool:
    """An estimated IoU low enough that the user should look (in the estimated_iou queue)."""
    return to_check(entry.value)


def _row(entry: QueueEntry, name: str, *, flag: bool = False) -> QTreeWidgetItem:
    """One queue row: name, value, where the prediction came from; marked when it needs a new prediction, and in
    red when `flag` (estimated bad, or jumping against the frames beside it)."""
    origin = entry.origin
    if origin is None:
        where, tip = "not predicted", "This image has no prediction yet"
    else:
        where = origin.describe()
        tip = f"{where}\n{origin.checkpoint}"
    value = ("—" if entry.value is None else f"{entry.value:.3f}") + (" jump" if entry.jump else "")
    item = QTreeWidgetItem([name, value, where])
    item.setData(NAME, IMAGE_ID_ROLE, entry.image_id)
    item.setTextAlignment(VALUE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if flag:
        why = [f"estimated IoU {entry.value:.2f}: check this prediction"] if _to_check(entry) else []
        why += ["its region jumps against the frames beside it (area or position)"] if entry.jump else []
        tip = "\n".join([*why, tip])
        for column in (NAME, VALUE):
            item.setForeground(column, QBrush(CHECK_COLOR))
    for column in (NAME, VALUE, ORIGIN):
        item.setToolTip(column, f"{name}\n{tip}")
    if entry.needs_prediction:
        font = QFont()
        font.setItalic(True)
        for column in (VALUE, ORIGIN):
            item.setFont(column, font)
            item.setForeground(column, QBrush(MUTED))
    return item
