"""The class panel on a real project: rows, clicks, number keys, and edits that reach the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QColorDialog, QLineEdit, QMainWindow, QToolBar

from app import errors
from app.panels.class_panel import ClassPanel
from segcore.data.classes import IGNORE_INDEX, ClassTable, voc_colormap
from segcore.errors import DatasetError
from segcore.project.store import ProjectStore


@pytest.fixture()
def state(tiny_state):
    return tiny_state


@pytest.fixture()
def panel(qtbot, state):
    """The panel docked in a plain main window, shown and active (window-wide keys need that)."""
    host = QMainWindow()
    qtbot.addWidget(host)
    panel = ClassPanel(state, host)
    host.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, panel)
    host.show()
    qtbot.waitExposed(host)
    host.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is host)
    yield panel  # a generator keeps `host` (the panel's owner) alive for the test


@pytest.fixture()
def shown(monkeypatch) -> list[str]:
    """Error messages the panel shows, recorded instead of opening a dialog."""
    messages: list[str] = []
    monkeypatch.setattr(errors, "show_error", lambda message, details=None, parent=None: messages.append(message))
    return messages


def _stored(root: Path) -> ClassTable:
    with ProjectStore.open(root) as store:
        return store.class_table()


def _stored_mask(root: Path, name: str) -> np.ndarray:
    with ProjectStore.open(root) as store:
        return store.load_mask(store.image_by_name(name).id)


def _cell(panel: ClassPanel, row: int, column: int = 1) -> QModelIndex:
    return panel.view.model().index(row, column)


def _click(qtbot, panel: ClassPanel, row: int, column: int = 1) -> None:
    rect = panel.view.visualRect(_cell(panel, row, column))
    QTest.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())


def _rows(panel: ClassPanel) -> list[tuple[str, str]]:
    model = panel.view.model()
    return [(model.index(row, 0).data(), model.index(row, 1).data()) for row in range(model.rowCount())]


def _button(panel: ClassPanel, action):
    return panel.findChild(QToolBar).widgetForAction(action)


def _type_into_editor(qtbot, panel: ClassPanel, row: int, text: str) -> None:
    """Type `text` into the open name editor of `row` and press Enter."""
    qtbot.waitUntil(lambda: isinstance(panel.view.indexWidget(_cell(panel, row)), QLineEdit))
    editor = panel.view.indexWidget(_cell(panel, row))
    editor.selectAll()
    QTest.keyClicks(editor, text)
    QTest.keyClick(editor, Qt.Key.Key_Return)


def _double_click(panel: ClassPanel, row: int, column: int) -> None:
    """A real double-click: QTest.mouseDClick alone sends no press, and item views want the press first."""
    center = panel.view.visualRect(_cell(panel, row, column)).center()
    viewport, left, none = panel.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mouseClick(viewport, left, none, center)
    QTest.mouseDClick(viewport, left, none, center)


def _rename_by_double_click(qtbot, panel: ClassPanel, row: int, name: str) -> None:
    _double_click(panel, row, 1)
    _type_into_editor(qtbot, panel, row, name)


def test_lists_the_classes_then_the_ignore_class(panel):
    assert _rows(panel) == [("0", "background"), ("1", "cell"), (str(IGNORE_INDEX), "ignore")]
    model = panel.view.model()
    assert model.index(0, 0).data(Qt.ItemDataRole.DecorationRole) is not None  # the colour swatch
    assert model.flags(_cell(panel, 1)) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(_cell(panel, 2)) & Qt.ItemFlag.ItemIsEditable  # the ignore class keeps its name
    assert panel.view.currentIndex().row() == 1  # the state starts on the first non-background class


def test_clicking_rows_sets_the_current_class(qtbot, panel, state):
    _click(qtbot, panel, 0)
    assert state.current_class == 0
    assert not panel.move_up_action.isEnabled() and panel.move_down_action.isEnabled()
    _click(qtbot, panel, 2, column=0)
    assert state.current_class == IGNORE_INDEX  # paint "ignore"
    assert panel.recolour_action.isEnabled()
    assert not (panel.rename_action.isEnabled() or panel.move_up_action.isEnabled() or panel.move_down_action.isEnabled())


def test_the_selection_follows_the_state(panel, state):
    state.set_current_class(0)
    assert panel.view.currentIndex().row() == 0
    state.set_current_class(IGNORE_INDEX)
    assert panel.view.currentIndex().row() == 2


def test_number_keys_select_existing_classes(qtbot, panel, state):
    host = panel.window()
    assert len(panel.select_actions) == 10
    assert all(a.shortcutContext() == Qt.ShortcutContext.WindowShortcut for a in panel.select_actions)
    assert "key 1" in panel.select_actions[1].toolTip() and "cell" in panel.select_actions[1].toolTip()
    QTest.keyClick(host, Qt.Key.Key_0)
    assert state.current_class == 0 and panel.view.currentIndex().row() == 0
    QTest.keyClick(host, Qt.Key.Key_1)
    assert state.current_class == 1
    QTest.keyClick(host, Qt.Key.Key_2)
    assert state.current_class == 1  # no class 2 yet
    panel.add_class("nucleus")
    state.set_current_class(0)
    QTest.keyClick(host, Qt.Key.Key_2)
    assert state.current_class == 2 and panel.view.currentIndex().row() == 2
    assert panel.select_actions[2].text() == "Class 2: nucleus"


def test_add_button_appends_a_class_and_edits_its_name_in_place(qtbot, panel, state, tiny_project):
    QTest.mouseClick(_button(panel, panel.add_action), Qt.MouseButton.LeftButton)
    assert state.current_class == 2
    _type_into_editor(qtbot, panel, 2, "nucleus")
    qtbot.waitUntil(lambda: _stored(tiny_project.root).names == ["background", "cell", "nucleus"])
    assert _stored(tiny_project.root).colors[2] == tuple(voc_colormap()[2].tolist())  # the VOC default
    assert _rows(panel)[2:] == [("2", "nucleus"), (str(IGNORE_INDEX), "ignore")]


def test_add_class_with_a_colour_is_persisted(panel, state, tiny_project):
    assert panel.add_class("membrane", QColor(1, 2, 3)) == 2
    stored = _stored(tiny_project.root)
    assert stored.names[2] == "membrane" and stored.colors[2] == (1, 2, 3)
    assert state.class_table == stored and state.current_class == 2


def test_double_click_renames_in_place(qtbot, panel, tiny_project):
    _rename_by_double_click(qtbot, panel, 1, "nucleus")
    qtbot.waitUntil(lambda: _stored(tiny_project.root).names == ["background", "nucleus"])
    assert _rows(panel)[1] == ("1", "nucleus")
    assert _stored_mask(tiny_project.root, "beta_gray16").tolist() == tiny_project.mask.tolist()  # masks untouched


def test_recolour_classes_and_the_ignore_class(panel, tiny_project):
    panel.recolour_class(1, QColor(10, 20, 30))
    panel.recolour_class(IGNORE_INDEX, (1, 2, 3))
    stored = _stored(tiny_project.root)
    assert stored.colors == [(0, 0, 0), (10, 20, 30)] and stored.ignore_color == (1, 2, 3)


def test_double_click_on_the_swatch_opens_the_colour_dialog(qtbot, panel, tiny_project, monkeypatch):
    asked: list[tuple[int, int, int]] = []

    def get_color(initial: QColor, parent=None, title: str = "") -> QColor:
        asked.append((initial.red(), initial.green(), initial.blue()))
        return QColor(0, 200, 0)

    monkeypatch.setattr(QColorDialog, "getColor", get_color)
    _double_click(panel, 2, 0)
    assert asked == [tuple(voc_colormap()[IGNORE_INDEX].tolist())]  # the dialog starts from the ignore colour
    assert _stored(tiny_project.root).ignore_color == (0, 200, 0)


def test_move_up_and_down_remap_the_stored_masks(qtbot, panel, state, tiny_project):
    cell = np.zeros_like(tiny_project.mask, dtype=bool)
    cell[10:30, 20:40] = True
    ignore = tiny_project.mask == IGNORE_INDEX
    _click(qtbot, panel, 1)
    QTest.mouseClick(_button(panel, panel.move_up_action), Qt.MouseButton.LeftButton)
    assert _stored(tiny_project.root).names == ["cell", "background"]
    mask = _stored_mask(tiny_project.root, "beta_gray16")
    assert (mask[cell] == 0).all() and (mask[ignore] == IGNORE_INDEX).all()
    assert (mask[~cell & ~ignore] == 1).all()
    assert state.current_class == 0 and panel.view.currentIndex().row() == 0  # the selection moved with the class
    assert _rows(panel)[:2] == [("0", "cell"), ("1", "background")]
    QTest.mouseClick(_button(panel, panel.move_down_action), Qt.MouseButton.LeftButton)
    assert _stored(tiny_project.root).names == ["background", "cell"]
    assert _stored_mask(tiny_project.root, "beta_gray16").tolist() == tiny_project.mask.tolist()


def test_moving_past_the_ends_changes_nothing(panel, tiny_project):
    panel.move_class(0, -1)
    panel.move_class(1, +5)
    assert _stored(tiny_project.root).names == ["background", "cell"]
    with pytest.raises(DatasetError, match="cannot be moved"):
        panel.move_class(IGNORE_INDEX, -1)


def test_a_duplicate_name_is_refused_with_a_clear_error(qtbot, panel, state, tiny_project, shown):
    _rename_by_double_click(qtbot, panel, 1, "background")
    qtbot.waitUntil(lambda: bool(shown))
    assert shown == ["a class named 'background' already exists"]
    assert _stored(tiny_project.root).names == ["background", "cell"]
    assert _rows(panel)[1] == ("1", "cell") and state.class_table.names == ["background", "cell"]
    with pytest.raises(DatasetError, match="already exists"):
        panel.add_class("cell")
    assert _stored(tiny_project.root).names == ["background", "cell"]


def test_close_and_reopen_the_project(panel, state, tiny_project):
    state.close()
    assert _rows(panel) == []
    assert not any(a.isEnabled() for a in panel.select_actions + panel.edit_actions)
    state.open(tiny_project.root)
    assert [name for _, name in _rows(panel)] == ["background", "cell", "ignore"]
    assert panel.add_action.isEnabled() and panel.select_actions[1].isEnabled()
