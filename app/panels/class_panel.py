"""The class panel dock: the project's classes and the ignore class; pick, add, rename, recolour, reorder."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QDockWidget,
    QHeaderView,
    QToolBar,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app import errors
from app.state.project_state import ProjectState
from segcore.data.classes import ClassTable, Color
from segcore.errors import DatasetError, SegcoreError

CLASS_INDEX_ROLE = Qt.ItemDataRole.UserRole
NUMBER_KEYS = 10
"""Keys 0..9 pick classes 0..9."""
_COLUMNS = ("#", "Name")
_NAME_COLUMN = 1


def _swatch(color: Color) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*color))
    painter = QPainter(pixmap)
    painter.setPen(QColor(*color).darker(200))  # black and white swatches stay visible on any background
    painter.drawRect(0, 0, 13, 13)
    painter.end()
    return QIcon(pixmap)


def _rgb(color: QColor | Sequence[int]) -> Color:
    if isinstance(color, QColor):
        return color.red(), color.green(), color.blue()
    return tuple(color)  # type: ignore[return-value]  # ClassTable checks it is three values in 0..255


class ClassListModel(QAbstractTableModel):
    """One row per class (index, swatch, name), then the ignore class; only class names are editable."""

    rename_requested = Signal(int, str)
    """An edited name: (class index, new name). The model changes when the state's table does."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._table: ClassTable | None = None
        self._icons: list[QIcon] = []

    def set_table(self, table: ClassTable | None) -> None:
        self.beginResetModel()
        self._table = table
        self._icons = [] if table is None else [_swatch(c) for c in (*table.colors, table.ignore_color)]
        self.endResetModel()

    def class_at(self, row: int) -> int:
        """The class index shown in `row` (the last row is the ignore index)."""
        assert self._table is not None
        return row if row < self._table.num_classes else self._table.ignore_index

    def row_of(self, class_index: int) -> int:
        """The row of a class index (the ignore index is the last row), or -1."""
        if self._table is None:
            return -1
        if class_index == self._table.ignore_index:
            return self._table.num_classes
        return class_index if 0 <= class_index < self._table.num_classes else -1

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() or self._table is None else self._table.num_classes + 1

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == _NAME_COLUMN and not self._is_ignore_row(index.row()):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self._table is None:
            return None
        row, column, table = index.row(), index.column(), self._table
        ignore = self._is_ignore_row(row)
        class_index = self.class_at(row)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return str(class_index) if column == 0 else ("ignore" if ignore else table.names[row])
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._icons[row]
        if role == Qt.ItemDataRole.FontRole and ignore:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            if ignore:
                return f"ignore (index {class_index}): left out of training and metrics; paint it, recolour it"
            key = f"; key {class_index}" if class_index < NUMBER_KEYS else ""
            return f"{table.names[row]} (index {class_index}){key}; double-click the name to rename, the swatch to recolour"
        if role == CLASS_INDEX_ROLE:
            return class_index
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if index.isValid() and role == Qt.ItemDataRole.EditRole and self.flags(index) & Qt.ItemFlag.ItemIsEditable:
            self.rename_requested.emit(self.class_at(index.row()), str(value))
        return False  # the row changes when the project's class table does

    def _is_ignore_row(self, row: int) -> bool:
        return self._table is not None and row == self._table.num_classes


class ClassPanel(QDockWidget):
    """Lists the project's classes; the selected row is `ProjectState.current_class`; edits go to the store."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__("Classes", parent)
        self.setObjectName("ClassPanel")
        self._state = state
        self._model = ClassListModel(self)

        self.view = QTreeView(rootIsDecorated=False, uniformRowHeights=True, alternatingRowColors=True)
        self.view.setModel(self._model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.view.header().setStretchLastSection(True)
        self.view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)

        self.add_action = QAction("Add class", self, iconText="Add", toolTip="Add a class, then type its name")
        self.rename_action = QAction("Rename class", self, iconText="Rename", toolTip="Rename the selected class")
        self.recolour_action = QAction(
            "Recolour class…", self, iconText="Colour…", toolTip="Choose the colour of the selected class"
        )
        self.move_up_action = QAction(
            "Move class up", self, iconText="Up", toolTip="Give the selected class the index above (stored masks follow)"
        )
        self.move_down_action = QAction(
            "Move class down", self, iconText="Down", toolTip="Give the selected class the index below (stored masks follow)"
        )
        self.edit_actions = [
            self.add_action, self.rename_action, self.recolour_action, self.move_up_action, self.move_down_action
        ]
        self.select_actions = [self._select_action(index) for index in range(NUMBER_KEYS)]

        toolbar = QToolBar()
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addActions(self.edit_actions)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view)
        layout.addWidget(toolbar)
        self.setWidget(body)

        self.view.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.view.doubleClicked.connect(self._on_double_clicked)
        # Queued: the rename replaces the model, which must not happen while its editor is committing.
        self._model.rename_requested.connect(self._on_rename_requested, Qt.ConnectionType.QueuedConnection)
        self.add_action.triggered.connect(self._on_add)
        self.rename_action.triggered.connect(self._on_rename)
        self.recolour_action.triggered.connect(self._on_recolour)
        self.move_up_action.triggered.connect(lambda: self._report(self.move_class, self._state.current_class, -1))
        self.move_down_action.triggered.connect(lambda: self._report(self.move_class, self._state.current_class, +1))
        for signal in (state.project_opened, state.project_closed, state.class_table_changed):
            signal.connect(self._reload)
        state.current_class_changed.connect(self._show_current)
        self._reload()

    # -- edits (the logic; the actions call these) --------------------------------------------------------
    def add_class(self, name: str, color: QColor | Sequence[int] | None = None) -> int:
        """Append a class (colour: the VOC colour of its index unless given), make it current; its index."""
        table = self._state.class_table.with_class(name, None if color is None else _rgb(color))
        self._state.set_class_table(table)
        self._state.set_current_class(table.num_classes - 1)
        return table.num_classes - 1

    def rename_class(self, index: int, name: str) -> None:
        """Rename class `index`; DatasetError for a duplicate or empty name, or the ignore class."""
        table = self._state.class_table
        renamed = table.renamed(index, name)
        if renamed != table:
            self._state.set_class_table(renamed)

    def recolour_class(self, index: int, color: QColor | Sequence[int]) -> None:
        """Show class `index` (or the ignore index) in `color`."""
        table = self._state.class_table
        rgb = _rgb(color)
        self._state.set_class_table(
            table.with_ignore_color(rgb) if index == table.ignore_index else table.recoloured(index, rgb)
        )

    def move_class(self, index: int, delta: int) -> None:
        """Move class `index` by `delta` places (clamped); every stored mask is remapped to the new indices."""
        table = self._state.class_table
        if not 0 <= index < table.num_classes:
            raise DatasetError(f"class {index} cannot be moved: only classes 0..{table.num_classes - 1} have a place")
        target = min(max(index + delta, 0), table.num_classes - 1)
        if target == index:
            return
        order = list(range(table.num_classes))
        order.insert(target, order.pop(index))
        reordered, remap = table.reordered(order)
        self._state.set_class_table(reordered, remap)

    # -- slots ----------------------------------------------------------------------------------------------
    def _select_action(self, index: int) -> QAction:
        action = QAction(f"Class {index}", self, shortcut=QKeySequence(str(index)))
        # Window-wide, as the image browser's keys: a focused text box still takes the digits it is typed.
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda: self._state.set_current_class(index))
        self.addAction(action)
        return action

    def _report(self, edit: Callable[..., object], *args: object) -> bool:
        """Run an edit; a refused one (duplicate name, ...) is shown to the user and changes nothing."""
        try:
            edit(*args)
        except SegcoreError as exc:
            errors.show_error(str(exc), parent=self)
            return False
        return True

    def _on_add(self) -> None:
        names = set(self._state.class_table.names)
        number = self._state.class_table.num_classes
        while f"class {number}" in names:
            number += 1
        if self._report(self.add_class, f"class {number}"):
            self._on_rename()  # the user types the real name into the new row

    def _on_rename(self) -> None:
        row = self._model.row_of(self._state.current_class)
        self.view.edit(self._model.index(row, _NAME_COLUMN))

    def _on_recolour(self) -> None:
        table, index = self._state.class_table, self._state.current_class
        current = table.ignore_color if index == table.ignore_index else table.colors[index]
        title = "Colour of the ignore class" if index == table.ignore_index else f"Colour of {table.names[index]}"
        color = QColorDialog.getColor(QColor(*current), self, title)
        if color.isValid():
            self._report(self.recolour_class, index, color)

    def _on_rename_requested(self, index: int, name: str) -> None:
        self._report(self.rename_class, index, name)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        if index.column() == 0:  # the swatch; the name column opens its editor by itself
            self._on_recolour()

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._state.set_current_class(int(current.data(CLASS_INDEX_ROLE)))

    def _reload(self) -> None:
        table = self._state.class_table if self._state.is_open else None
        self._model.set_table(table)
        names = table.names if table is not None else []
        for index, action in enumerate(self.select_actions):
            exists = index < len(names)
            action.setEnabled(exists)  # a disabled action's key does nothing
            action.setText(f"Class {index}: {names[index]}" if exists else f"Class {index}")
            action.setToolTip(f"Paint with {names[index]} (key {index})" if exists else f"No class {index} yet (key {index})")
        self._show_current(self._state.current_class if table is not None else -1)

    def _show_current(self, class_index: int) -> None:
        """Mirror the state's current class in the selection, without echoing it back to the state."""
        row = self._model.row_of(class_index)
        selection = self.view.selectionModel()
        selection.blockSignals(True)
        if row >= 0:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            selection.setCurrentIndex(self._model.index(row, 0), flags)
            self.view.scrollTo(self._model.index(row, 0))
        else:
            selection.clear()
        selection.blockSignals(False)
        self.view.viewport().update()  # the blocked signals would have repainted the selection
        self._update_actions(class_index)

    def _update_actions(self, class_index: int) -> None:
        is_open = self._state.is_open
        count = self._state.class_table.num_classes if is_open else 0
        is_class = 0 <= class_index < count and self._state.editable
        self.add_action.setEnabled(self._state.editable)
        self.recolour_action.setEnabled(self._state.editable and (is_class or class_index == self._state.class_table.ignore_index))
        self.rename_action.setEnabled(is_class)
        self.move_up_action.setEnabled(is_class and class_index > 0)
        self.move_down_action.setEnabled(is_class and class_index < count - 1)
