"""The image browser dock: the project's images with size, depth and status; filter; navigation."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.state.project_state import NO_IMAGE, ProjectState
from segcore.project.store import ImageRecord, ImageStatus

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
_COLUMNS = ("Name", "Size", "Bits", "Status")
_STATUS_COLUMN = 3


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


class ImageListModel(QAbstractTableModel):
    """One row per image record: name, size, bit depth, status."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._records: list[ImageRecord] = []
        self._icons = {status: _status_icon(color) for status, color in STATUS_COLORS.items()}

    def set_records(self, records: list[ImageRecord]) -> None:
        self.beginResetModel()
        self._records = list(records)
        self.endResetModel()

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
        if role == Qt.ItemDataRole.DisplayRole:
            return (record.name, f"{record.width} × {record.height}", str(record.bit_depth), record.status.value)[column]
        if role == Qt.ItemDataRole.DecorationRole and column == _STATUS_COLUMN:
            return self._icons.get(record.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            channels = {1: "gray", 3: "RGB", 4: "RGBA"}.get(record.channels, f"{record.channels} channels")
            return f"{record.path}\n{record.width} × {record.height}, {record.bit_depth}-bit {channels}\n{record.status.value}"
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
        """Show rows whose name contains `text` (any case) and, unless None, whose status is `status`."""
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
        if self._status is not None and index.data(STATUS_ROLE) != self._status:
            return False
        return self._text in str(index.data(Qt.ItemDataRole.DisplayRole)).casefold()


class ImageBrowser(QDockWidget):
    """Lists the project's images; selecting one makes it current in `ProjectState`."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__("Images", parent)
        self.setObjectName("ImageBrowser")
        self._state = state
        self._model = ImageListModel(self)
        self._proxy = ImageFilterProxy(self)
        self._proxy.setSourceModel(self._model)

        self.search = QLineEdit(placeholderText="Filter by name…", clearButtonEnabled=True)
        self.status_filter = QComboBox()
        self.view = QTreeView(rootIsDecorated=False, uniformRowHeights=True, alternatingRowColors=True)
        self.view.setModel(self._proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # names differ at the end: keep it visible
        self.view.header().setStretchLastSection(False)
        self.view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(_COLUMNS)):
            self.view.header().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        self.next_action = QAction("Next image", self, shortcuts=list(NEXT_KEYS))
        self.previous_action = QAction("Previous image", self, shortcuts=list(PREVIOUS_KEYS))
        # Window-wide: the keys work wherever the focus is, except in the text box (it takes letters).
        for action in (self.next_action, self.previous_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(self.status_filter)
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
        state.images_changed.connect(self._on_images_changed)
        state.current_image_changed.connect(self._show_current)

    def visible_names(self) -> list[str]:
        """Names of the rows the filter lets through, top to bottom."""
        return [str(self._proxy.index(row, 0).data()) for row in range(self._proxy.rowCount())]

    def _on_images_changed(self) -> None:
        records = self._state.images
        self._model.set_records(records)
        self._fill_status_filter(records)
        self._show_current(self._state.current_id)

    def _fill_status_filter(self, records: list[ImageRecord]) -> None:
        chosen = self.status_filter.currentData()
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        self.status_filter.addItem(f"All ({len(records)})", None)
        for status, color in STATUS_COLORS.items():
            count = sum(record.status == status for record in records)
            self.status_filter.addItem(_status_icon(color), f"{status.value} ({count})", status.value)
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
