"""The review view: image | ground truth | prediction side by side, zoom and pan linked, errors and scores on top.

Loading (decode, label, prediction, comparison) runs in a `Worker`; a result the user has moved
past is dropped. While the view is hidden (another tab) it only notes that it is out of date.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPixmap, QShowEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QToolBar, QVBoxLayout, QWidget

from app.canvas.image_view import zoom_view
from app.errors import report_worker_error
from app.review.data import ERROR_TABLE, ReviewData, describe_scores, error_mask, load_review
from app.review.pane import ReviewPane
from app.state.mask_document import MaskDocument
from app.state.preview import PreviewState
from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import Worker, WorkerGroup
from segcore.project.review import Comparison

PANE_TITLES = ("Image", "Ground truth", "Prediction")
EDIT_SETTLE_MS = 300
"""A label edit on the canvas refreshes the comparison after this pause (not on every brush dab)."""


class ReviewView(QWidget):
    """Three linked panes for `ProjectState`'s current image; `refresh()` re-reads its label and prediction.

    With a `document` (the canvas's `MaskDocument`), the ground truth is its live mask and edits
    refresh the view; without one, the stored mask is shown.
    """

    shown = Signal(int)
    """The image's panes, scores and overlays are on screen (its id); also after each refresh."""
    region_drawn = Signal(object)
    """A `Region` dragged out on the prediction pane in region mode."""
    reveal_requested = Signal()
    """Something (the review queue) opened an image for review: the window should bring this view forward."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None, *,
                 document: MaskDocument | None = None, previews: PreviewState | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.document = document
        self.previews = previews
        self.image_pane, self.label_pane, self.prediction_pane = (ReviewPane(self) for _ in PANE_TITLES)
        self.panes = (self.image_pane, self.label_pane, self.prediction_pane)
        self._data: ReviewData | None = None
        self._pixmap = QPixmap()
        self._loading_id = NO_IMAGE
        self._serial = 0  # bumped per load; an older result is stale
        self._stale = False  # something changed while hidden: load when shown
        self._fit_mode = True
        self._syncing = False
        self._workers = WorkerGroup()

        self.fit_action = QAction("Fit", self, toolTip="Fit the image into the panes")
        self.actual_size_action = QAction("1:1", self, toolTip="One image pixel per screen pixel")
        self.errors_action = QAction("Errors", self, checkable=True, checked=True,
                                     shortcut=QKeySequence("Ctrl+Shift+E"))
        self.errors_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.errors_action)  # its shortcut works while a pane has the focus
        self.errors_action.setToolTip("Mark false positives (magenta) and false negatives (cyan) on the prediction")
        self.scores_label = QLabel()
        self.scores_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._settle_timer = QTimer(self, singleShot=True, interval=EDIT_SETTLE_MS)
        self._build_layout()

        self.fit_action.triggered.connect(self.fit_to_window)
        self.actual_size_action.triggered.connect(self.actual_size)
        self.errors_action.toggled.connect(self.prediction_pane.errors_item.setVisible)
        self.prediction_pane.region_drawn.connect(self.region_drawn)
        for pane in self.panes:
            pane.zoomed.connect(lambda p=pane: self._zoomed(p))
            pane.resized.connect(self._pane_resized)
            pane.horizontalScrollBar().valueChanged.connect(lambda _, p=pane: self._follow(p))
            pane.verticalScrollBar().valueChanged.connect(lambda _, p=pane: self._follow(p))
        self._settle_timer.timeout.connect(self.refresh)
        state.current_image_changed.connect(self._load)
        state.class_table_changed.connect(self.refresh)
        state.about_to_close.connect(self._workers.wait)
        state.project_closed.connect(self._clear)
        if previews is not None:
            previews.changed.connect(self.refresh)
        if document is not None:
            document.mask_changed.connect(lambda _region: self._settle_timer.start())
            document.mask_replaced.connect(self._settle_timer.start)
        else:
            state.record_changed.connect(self.refresh)

    def _build_layout(self) -> None:
        toolbar = self.toolbar = QToolBar("Review view", self)
        toolbar.addActions([self.fit_action, self.actual_size_action, self.errors_action])
        # The scores get a line of their own: at the end of the toolbar a narrow window hid them.
        self.scores_label.setContentsMargins(6, 0, 6, 0)
        grid = self._grid = QGridLayout()
        self.titles = [QLabel(title, alignment=Qt.AlignmentFlag.AlignCenter) for title in PANE_TITLES]
        for title in self.titles:  # a long title must not make its pane wider than the others
            title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for column, (title, pane) in enumerate(zip(self.titles, self.panes, strict=True)):
            grid.addWidget(title, 0, column)
            grid.addWidget(pane, 1, column)
            grid.setColumnStretch(column, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(toolbar)
        layout.addWidget(self.scores_label)
        layout.addLayout(grid)

    def add_actions(self, actions: list[QAction]) -> None:
        """Put `actions` (e.g. accepting the prediction) on the view's toolbar."""
        self.toolbar.addSeparator()
        self.toolbar.addActions(actions)

    # -- what is shown -----------------------------------------------------------------------------

    @property
    def image_id(self) -> int:
        """The image on screen, or NO_IMAGE."""
        return NO_IMAGE if self._data is None else self._data.image_id

    @property
    def data(self) -> ReviewData | None:
        """Label, prediction and comparison of the image on screen."""
        return self._data

    @property
    def comparison(self) -> Comparison | None:
        return None if self._data is None else self._data.comparison

    @property
    def has_prediction(self) -> bool:
        return self._data is not None and self._data.prediction is not None

    def is_settled(self) -> bool:
        """The current image is on screen with nothing loading."""
        current = self.state.current_id if self.state.is_open else NO_IMAGE
        return self._loading_id == NO_IMAGE and self.image_id == current

    def reveal(self) -> None:
        """Ask the window to bring this view forward (emits `reveal_requested`)."""
        self.reveal_requested.emit()

    # -- loading -----------------------------------------------------------------------------------

    def refresh(self, image_id: int | None = None) -> None:
        """Re-read the current image's label and prediction (`image_id`: only if that image is current)."""
        if not self.state.is_open or (image_id is not None and image_id != self.state.current_id):
            return
        self._load(self.state.current_id)

    def _load(self, image_id: int) -> None:
        self._serial += 1
        self._settle_timer.stop()
        if image_id == NO_IMAGE:
            self._clear()
            return
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        serial = self._serial
        self._loading_id = image_id
        same_image = self.image_id == image_id and not self._pixmap.isNull()
        with_image = not same_image
        live = self.document
        label = None
        if live is not None and live.image_id == image_id and live.mask is not None and live.labelled:
            label = live.mask.copy()  # the worker must not read pixels a brush is painting
        preview = self.previews.of(image_id) if self.previews is not None else None
        worker = Worker(load_review, self.state.store, image_id, self.state.class_table, with_image=with_image, label=label,
                        preview=preview)
        worker.returned.connect(lambda data: self._loaded(serial, data))
        worker.errored.connect(lambda exc: self._failed(serial, exc))
        self._workers.start(worker)

    def _loaded(self, serial: int, data: ReviewData) -> None:
        if serial != self._serial:
            return  # the user moved on (or the labels changed again) while this was read
        self._loading_id = NO_IMAGE
        if data.rendered is not None:
            previous_size = self._pixmap.size()
            self._pixmap = QPixmap.fromImage(data.rendered.qimage)
            for pane in self.panes:
                pane.set_pixmap(self._pixmap)
            if self._fit_mode or previous_size != self._pixmap.size():
                self.fit_to_window()
        self._data = data
        # Without a label the ground-truth pane is the image again: it gives its width to the other two.
        labelled = data.label is not None
        self.label_pane.setVisible(labelled)
        self.titles[1].setVisible(labelled)
        self._grid.setColumnStretch(1, int(labelled))  # an empty column would keep its share
        table = self.state.class_table
        for pane, mask in ((self.label_pane, data.label), (self.prediction_pane, data.prediction)):
            if mask is None:
                pane.overlay_item.clear()
            else:
                pane.overlay_item.set_mask(mask, table)
        if data.comparison is None:
            self.prediction_pane.errors_item.clear()
        else:
            self.prediction_pane.errors_item.set_mask(error_mask(data.comparison), ERROR_TABLE)
        self.scores_label.setText(describe_scores(data))
        self.titles[-1].setText("Live preview (not saved)" if data.is_preview else PANE_TITLES[-1])
        self.titles[-1].setToolTip(data.prediction_origin)
        self.shown.emit(data.image_id)

    def _failed(self, serial: int, exc: BaseException) -> None:
        if serial == self._serial:
            self._clear()
        report_worker_error(exc)

    def _clear(self) -> None:
        self._serial += 1
        self._data, self._pixmap, self._loading_id = None, QPixmap(), NO_IMAGE
        for pane in self.panes:
            pane.clear()
        self.scores_label.clear()
        self.titles[-1].setText(PANE_TITLES[-1])

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale and self.state.is_open:
            self._load(self.state.current_id)

    # -- linked zoom and pan -----------------------------------------------------------------------

    def scale_factor(self) -> float:
        """Screen pixels per image pixel (the same in all three panes)."""
        return self.image_pane.transform().m11()

    def fit_to_window(self) -> None:
        """Scale the whole image into the panes, and keep it fitted when they resize."""
        self._fit_mode = True
        if not self._pixmap.isNull():
            self.image_pane.fitInView(self.image_pane.image_item, Qt.AspectRatioMode.KeepAspectRatio)
            self._follow(self.image_pane)

    def actual_size(self) -> None:
        """One image pixel per screen pixel."""
        self._fit_mode = False
        self.image_pane.resetTransform()
        self._follow(self.image_pane)

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom all panes by `factor` about `anchor` (viewport pixels of a pane; default: the centre)."""
        self._fit_mode = False
        zoom_view(self.image_pane, factor, anchor)
        self._follow(self.image_pane)

    def set_region_mode(self, enabled: bool) -> None:
        """Left drags on the prediction pane draw a region (`region_drawn`) instead of panning."""
        self.prediction_pane.set_region_mode(enabled)

    def _zoomed(self, pane: ReviewPane) -> None:
        self._fit_mode = False
        self._follow(pane)

    def _pane_resized(self) -> None:
        if self._fit_mode:
            self.fit_to_window()

    def _follow(self, source: ReviewPane) -> None:
        """Give the other panes `source`'s zoom and scroll position."""
        if self._syncing:
            return
        self._syncing = True
        try:
            transform = source.transform()
            h, v = source.horizontalScrollBar().value(), source.verticalScrollBar().value()
            for pane in self.panes:
                if pane is source:
                    continue
                if pane.transform() != transform:
                    pane.setTransform(transform)
                pane.horizontalScrollBar().setValue(h)
                pane.verticalScrollBar().setValue(v)
        finally:
            self._syncing = False
