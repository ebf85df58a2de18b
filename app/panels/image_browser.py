"""The image browser dock: the project's images with thumbnails, size, depth and status; filter; navigation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
)
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QStyle,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.canvas.render import rgb_to_qimage
from app.quality_marks import CHECK_COLOR, describe_quality
from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import Worker
from segcore.errors import SegcoreError
from segcore.inference.quality import CHECK_BELOW, to_check
from segcore.project.store import ImageRecord, ImageStatus
from segcore.project.thumbnails import cached_thumbnail, thumbnail_cache_path

log = logging.getLogger(__name__)

STATUS_COLORS: dict[ImageStatus, QColor] = {
    ImageStatus.UNLABELLED: QColor(150, 150, 150),
    ImageStatus.LABELLED: QColor(46, 160, 67),
    ImageStatus.PREDICTED: QColor(230, 140, 20),
    ImageStatus.REVIEWED: QColor(40, 110, 220),
}
NEXT_KEYS = (QKeySequence(Qt.Key.Key_PageDown), QKeySequence(Qt.Key.Key_D))
PREVIOUS_KEYS = (QKeySequence(Qt.Key.Key_PageUp), QKeySequence(Qt.Key.Key_A))

IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
CHECK_ROLE = Qt.ItemDataRole.UserRole + 2
"""True for a predicted image whose prediction is estimated below `CHECK_BELOW`: the user should look (its status
reads "est. 0.41" in red, with a red dot)."""
_COLUMNS = ("Name", "Size", "Bits", "Status")
_NAME_COLUMN, _STATUS_COLUMN = 0, 3
CHECK_FILTER = "check"
"""The status filter's entry for predictions estimated bad ("check this")."""
THUMBNAIL_SIDE = 96
"""Thumbnails are made (and cached) at this size; the view scales them to its icon size."""
LARGE_ICON, SMALL_ICON = 64, 20
MAX_DOCK_WIDTH = 400
"""The browser never asks for more of the window than this, however long the names."""


def _status_icon(color: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(color)
    painter.setPen(color.darker(140))
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


def _thumbnails(jobs: list[tuple[int, Path, int | None, Path]], max_side: int) -> Iterator[tuple[int, np.ndarray]]:
    """Worker body: (image id, RGB thumbnail) per (id, image file, frame of a sequence or None, cache file);
    unreadable images are skipped.

    It never touches the project store, so closing the project while it runs is safe.
    """
    for image_id, source, frame, cache in jobs:
        try:
            yield image_id, cached_thumbnail(source, cache, max_side, frame=frame)
        except SegcoreError as exc:  # a missing or broken file: the row just has no picture
            log.warning("no thumbnail for image %d: %s", image_id, exc)


def _square_icon(rgb: np.ndarray) -> QIcon:
    """The thumbnail centred on a transparent THUMBNAIL_SIDE square: every row gets the same height and scale."""
    pixmap = QPixmap(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    pixmap.fill(Qt.GlobalColor.transparent)
    height, width = rgb.shape[:2]
    painter = QPainter(pixmap)
    painter.drawImage((THUMBNAIL_SIDE - width) // 2, (THUMBNAIL_SIDE - height) // 2, rgb_to_qimage(rgb))
    painter.end()
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)  # a picture, not a symbol: no selection tint
    return icon


class ImageListModel(QAbstractTableModel):
    """One row per image record: thumbnail and name, size, bit depth, status."""

    def __init__(self, parent: QWidget | None = None, quality: Callable[[int], float | None] = lambda _id: None) -> None:
        """quality: the estimated IoU of an image's stored prediction (None: none, or not estimated)."""
        super().__init__(parent)
        self._quality = quality
        self._records: list[ImageRecord] = []
        # Icons, not pixmaps: the view draws an icon at its icon size, a pixmap at the pixmap's own size.
        self._thumbnails: dict[int, QIcon] = {}
        # Rows without a thumbnail yet show a blank one, so every row keeps the same height.
        blank = QPixmap(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        blank.fill(Qt.GlobalColor.transparent)
        self._placeholder = QIcon(blank)
        self._icons = {status: _status_icon(color) for status, color in STATUS_COLORS.items()}
        self._check_icon = _status_icon(CHECK_COLOR)

    def set_records(self, records: list[ImageRecord]) -> None:
        """Show `records`; thumbnails of images still listed are kept."""
        self.beginResetModel()
        self._records = list(records)
        ids = {record.id for record in records}
        self._thumbnails = {image_id: icon for image_id, icon in self._thumbnails.items() if image_id in ids}
        self.endResetModel()

    def clear(self) -> None:
        self._thumbnails = {}
        self.set_records([])

    def records_without_thumbnail(self) -> list[ImageRecord]:
        return [record for record in self._records if record.id not in self._thumbnails]

    def has_thumbnail(self, image_id: int) -> bool:
        return image_id in self._thumbnails

    def set_thumbnail(self, image_id: int, rgb: np.ndarray) -> None:
        """Give an image its thumbnail (an RGB array); only its row is repainted."""
        row = self.row_of(image_id)
        if row < 0:
            return
        self._thumbnails[image_id] = _square_icon(rgb)
        index = self.index(row, _NAME_COLUMN)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def update_record(self, record: ImageRecord) -> None:
        """Replace one image's record (its status changed); only its row is repainted."""
        row = self.row_of(record.id)
        if row < 0:
            return
        self._records[row] = record
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(_COLUMNS) - 1))

    def shown_quality(self, record: ImageRecord) -> float | None:
        """The estimate shown for an image: its prediction's, while the prediction is all it has (not labelled)."""
        return self._quality(record.id) if record.status is ImageStatus.PREDICTED else None

    def row_of(self, image_id: int) -> int:
        """The row of an image id, or -1."""
        for row, record in enumerate(self._records):
            if record.id == image_id:
                return row
        return -1

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        record = self._records[index.row()]
        column = index.column()
        quality = self.shown_quality(record)
        check = to_check(quality)
        if role == Qt.ItemDataRole.DisplayRole:
            # A predicted image (its orange dot says so) shows its prediction's estimated IoU instead: "est. 0.93",
            # no wider than "predicted", so the names keep their room.
            status = record.status.value if quality is None else f"est. {quality:.2f}"
            return (record.name, f"{record.width} × {record.height}", str(record.bit_depth), status)[column]
        if role == Qt.ItemDataRole.DecorationRole and column == _STATUS_COLUMN:
            return self._check_icon if check else self._icons.get(record.status)
        if role == Qt.ItemDataRole.ForegroundRole and column == _STATUS_COLUMN and check:
            return CHECK_COLOR
        if role == CHECK_ROLE:
            return check
        if role == Qt.ItemDataRole.DecorationRole and column == _NAME_COLUMN:
            return self._thumbnails.get(record.id, self._placeholder)
        if role == Qt.ItemDataRole.ToolTipRole:
            channels = {1: "gray", 3: "RGB", 4: "RGBA"}.get(record.channels, f"{record.channels} channels")
            estimate = "" if quality is None else f" · prediction's {describe_quality(quality)}"
            return (f"{record.name}\n{record.path}\n{record.width} × {record.height}, {record.bit_depth}-bit {channels}"
                    f"\n{record.status.value}{estimate}")
        if role == IMAGE_ID_ROLE:
            return record.id
        if role == STATUS_ROLE:
            return record.status.value
        return None


class ImageFilterProxy(QSortFilterProxyModel):
    """Keeps rows whose name contains the search text and whose status matches the chosen one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._status: str | None = None

    def set_filter(self, text: str, status: str | None) -> None:
        """Show rows whose name contains `text` (any case) and, unless None, whose status is `status` (or, for
        `CHECK_FILTER`, whose prediction is estimated bad)."""
        # Qt 6.10 replaced invalidateRowsFilter() by a begin/end pair; the project still allows older PySide6.
        if hasattr(self, "endFilterChange"):
            self.beginFilterChange()
        self._text, self._status = text.strip().casefold(), status
        if hasattr(self, "endFilterChange"):
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        index = self.sourceModel().index(source_row, 0, source_parent)
        if self._status == CHECK_FILTER:
            if not index.data(CHECK_ROLE):
                return False
        elif self._status is not None and index.data(STATUS_ROLE) != self._status:
            return False
        return self._text in str(index.data(Qt.ItemDataRole.DisplayRole)).casefold()


class ImageBrowser(QDockWidget):
    """Lists the project's images; selecting one makes it current in `ProjectState`.

    Thumbnails come from one background worker at a time, started when the list gains images
    without one (project opened, images imported) and stopped when the project closes.
    """

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__("Images", parent)
        self.setObjectName("ImageBrowser")
        self._state = state
        self._model = ImageListModel(self, state.quality)
        self._proxy = ImageFilterProxy(self)
        self._proxy.setSourceModel(self._model)
        self._thumbnail_worker: Worker | None = None
        # A pool of its own: thumbnails of a large project must not hold the threads that load the current image.
        self._thumbnail_pool = QThreadPool(self)
        self._thumbnail_pool.setMaxThreadCount(1)

        self.search = QLineEdit(placeholderText="Filter by name…", clearButtonEnabled=True)
        self.status_filter = QComboBox()
        self.view = QTreeView(rootIsDecorated=False, uniformRowHeights=True, alternatingRowColors=True)
        self.view.setModel(self._proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Frame names share a stem and differ at the end ("interferogram_00", "interferogram_large_00",
        # "0001TP_006690"): when a name must be cut, its start goes, never the part that tells it apart.
        self.view.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.view.setIconSize(QSize(LARGE_ICON, LARGE_ICON))
        header = self.view.header()
        header.setStretchLastSection(False)
        # The name takes what the other columns leave: widen the dock and it grows; squeeze it and the
        # name elides (its start), never the status.
        header.setSectionResizeMode(_NAME_COLUMN, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        self.next_action = QAction("Next image", self, shortcuts=list(NEXT_KEYS))
        self.previous_action = QAction("Previous image", self, shortcuts=list(PREVIOUS_KEYS))
        # Window-wide: the keys work wherever the focus is, except in the text box (it takes letters).
        for action in (self.next_action, self.previous_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)
        self.large_thumbnails_action = QAction(
            self.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView), "Large thumbnails", self,
            checkable=True, checked=True, toolTip="Large thumbnails or a compact list",
        )
        thumbnails_button = QToolButton(autoRaise=True)
        thumbnails_button.setDefaultAction(self.large_thumbnails_action)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(self.status_filter)
        filters.addWidget(thumbnails_button)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addWidget(self.view)
        self.setWidget(body)

        self.search.textChanged.connect(self._on_filter_changed)
        self.status_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.view.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.next_action.triggered.connect(state.next)
        self.previous_action.triggered.connect(state.previous)
        self.large_thumbnails_action.toggled.connect(self._set_large_thumbnails)
        state.images_changed.connect(self._on_images_changed)
        state.record_changed.connect(self._on_record_changed)
        state.project_closed.connect(self._on_project_closed)
        state.current_image_changed.connect(self._show_current)

    @property
    def model(self) -> ImageListModel:
        """The source model (not the filtered one the view shows)."""
        return self._model

    @property
    def thumbnail_worker(self) -> Worker | None:
        """The worker making thumbnails now, if any."""
        return self._thumbnail_worker

    def visible_names(self) -> list[str]:
        """Names of the rows the filter lets through, top to bottom."""
        return [str(self._proxy.index(row, 0).data()) for row in range(self._proxy.rowCount())]

    def preferred_width(self) -> int:
        """The dock width that shows every column, names whole (capped by `MAX_DOCK_WIDTH`)."""
        header = self.view.header()
        others = sum(header.sectionSize(column) for column in range(1, len(_COLUMNS)))
        name = self.view.sizeHintForColumn(_NAME_COLUMN)
        return min(MAX_DOCK_WIDTH, name + others + self.view.verticalScrollBar().sizeHint().width() + 24)

    def _on_images_changed(self) -> None:
        records = self._state.images
        self._model.set_records(records)
        self._fill_status_filter(records)
        self._show_current(self._state.current_id)
        self._start_thumbnails()

    def _on_record_changed(self, image_id: int) -> None:
        # The new status may filter the row out; that must not move the selection to another image.
        selection = self.view.selectionModel()
        selection.blockSignals(True)
        self._model.update_record(self._state.record(image_id))
        selection.blockSignals(False)
        self._fill_status_filter(self._state.images)
        self._show_current(self._state.current_id)

    def _on_project_closed(self) -> None:
        self._stop_thumbnails()
        self._model.clear()
        self._fill_status_filter([])

    def _start_thumbnails(self) -> None:
        """Replace any running thumbnail worker by one for the rows that still lack a thumbnail."""
        self._stop_thumbnails()
        records = self._model.records_without_thumbnail()
        if not records:
            return
        root = self._state.store.root
        jobs = [(r.id, root / r.file, r.frame, thumbnail_cache_path(root, r.id, THUMBNAIL_SIDE)) for r in records]
        worker = Worker(_thumbnails, jobs, THUMBNAIL_SIDE)
        # Bound to this worker: results a stopped worker already sent are dropped, never shown on another project.
        worker.yielded.connect(partial(self._on_thumbnail, worker))
        worker.finished.connect(partial(self._on_thumbnails_finished, worker))
        self._thumbnail_worker = worker.start(self._thumbnail_pool)

    def _stop_thumbnails(self) -> None:
        if self._thumbnail_worker is not None:
            self._thumbnail_worker.quit()
            self._thumbnail_worker = None

    def _on_thumbnail(self, worker: Worker, item: tuple[int, np.ndarray]) -> None:
        if worker is not self._thumbnail_worker:
            return
        image_id, rgb = item
        self._model.set_thumbnail(image_id, rgb)

    def _on_thumbnails_finished(self, worker: Worker) -> None:
        if worker is self._thumbnail_worker:
            self._thumbnail_worker = None

    def _set_large_thumbnails(self, large: bool) -> None:
        side = LARGE_ICON if large else SMALL_ICON
        self.view.setIconSize(QSize(side, side))

    def _fill_status_filter(self, records: list[ImageRecord]) -> None:
        chosen = self.status_filter.currentData()
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        self.status_filter.addItem(f"All ({len(records)})", None)
        for status, color in STATUS_COLORS.items():
            count = sum(record.status == status for record in records)
            self.status_filter.addItem(_status_icon(color), f"{status.value} ({count})", status.value)
        check = sum(to_check(self._model.shown_quality(record)) for record in records)
        self.status_filter.addItem(_status_icon(CHECK_COLOR), f"check this ({check})", CHECK_FILTER)
        self.status_filter.setItemData(self.status_filter.count() - 1,
                                       f"Predictions estimated below IoU {CHECK_BELOW:.2f}: look at these first",
                                       Qt.ItemDataRole.ToolTipRole)
        self.status_filter.setCurrentIndex(max(0, self.status_filter.findData(chosen)))
        self.status_filter.blockSignals(False)

    def _on_filter_changed(self) -> None:
        # Filtering only changes what is listed; without the block the view would select a neighbour row.
        selection = self.view.selectionModel()
        selection.blockSignals(True)
        self._proxy.set_filter(self.search.text(), self.status_filter.currentData())
        selection.blockSignals(False)
        self._show_current(self._state.current_id)

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._state.select(int(current.data(IMAGE_ID_ROLE)))

    def _show_current(self, image_id: int) -> None:
        """Mirror the state's current image in the selection, without echoing it back to the state."""
        row = self._model.row_of(image_id) if image_id != NO_IMAGE else -1
        index = self._proxy.mapFromSource(self._model.index(row, 0)) if row >= 0 else QModelIndex()
        selection = self.view.selectionModel()
        selection.blockSignals(True)
        if index.isValid():
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            selection.setCurrentIndex(index, flags)
            self.view.scrollTo(index)
        else:
            selection.clear()
        selection.blockSignals(False)
        self.view.viewport().update()  # the blocked signals would have repainted the selection
