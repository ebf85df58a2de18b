"""Restarts resume the session: a new main window and session memory against the same QSettings."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from app.launcher import _open_requested_project, build_parser
from app.main_window import MainWindow
from app.session_memory import SessionMemory
from app.state.project_state import ProjectState
from segcore.data.classes import ClassTable
from segcore.project.store import ProjectStore

CLASSES = ClassTable.from_names(["background", "cell"], [(0, 0, 0), (255, 0, 0)])


@pytest.fixture(autouse=True)
def fresh_session():
    """No session left over from another test, and none left behind."""
    def clear() -> None:
        settings = QSettings()
        for group in ("session", "tools"):
            settings.remove(group)
        settings.sync()

    clear()
    yield
    clear()


def _start(qtbot) -> MainWindow:
    """What the launcher does on a normal start: the window, then the session memory."""
    win = MainWindow(ProjectState())
    qtbot.addWidget(win)
    win.memory = SessionMemory(win.state, win.tool_bar, parent=win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    return win


def _launch(win: MainWindow, *argv: str) -> None:
    _open_requested_project(build_parser().parse_args(argv), win.state, win, win.memory)


def _current(win: MainWindow) -> str:
    return win.state.record(win.state.current_id).name


def _quit(win: MainWindow) -> None:
    win.close()  # closes the project, as quitting does
    assert not win.state.is_open


def test_a_plain_restart_reopens_the_last_project_at_its_image_and_tool(qtbot, tiny_project):
    win = _start(qtbot)
    _launch(win)
    assert not win.state.is_open  # nothing to resume on the very first start
    win.projects.open_project(tiny_project.root)
    win.state.select(win.state.find("gamma_rgb").id)
    qtbot.keyClick(win.view, Qt.Key.Key_P)
    assert win.view.tool is win.tool_bar.tools["polygon"]
    _quit(win)

    again = _start(qtbot)
    assert again.view.tool is again.tool_bar.tools["polygon"]
    assert again.tool_bar.tool_actions["polygon"].isChecked()
    _launch(again)
    assert again.state.is_open and _current(again) == "gamma_rgb"
    qtbot.waitUntil(again.view.is_settled)
    assert again.view.image_item.pixmap().size().toTuple() == (36, 32)  # gamma_rgb on the canvas
    assert "where you left off" in again.statusBar().currentMessage()


def test_brush_size_and_refine_boxes_survive_a_restart(qtbot):
    win = _start(qtbot)
    settings = win.tool_bar.settings
    default = settings.brush_size
    qtbot.keyClick(win.view, Qt.Key.Key_BracketRight)
    qtbot.keyClick(win.view, Qt.Key.Key_BracketRight)
    size = settings.brush_size
    assert size > default
    qtbot.mouseClick(win.tool_bar.refine, Qt.MouseButton.LeftButton)
    assert settings.refine_boxes
    _quit(win)

    again = _start(qtbot)
    assert again.tool_bar.settings.brush_size == size and again.tool_bar.brush_size.value() == size
    assert again.tool_bar.settings.refine_boxes and again.tool_bar.refine.isChecked()
    qtbot.mouseClick(again.tool_bar.refine, Qt.MouseButton.LeftButton)  # and turning it off is remembered too
    _quit(again)
    assert not _start(qtbot).tool_bar.refine.isChecked()


def test_each_project_resumes_at_its_own_image(qtbot, tiny_project, tmp_path):
    other = tmp_path / "other"
    with ProjectStore.create(other, CLASSES, name="Other") as store:
        for value, name in enumerate(("one", "two", "three")):
            store.add_image_array(name, np.full((8, 8), value, np.uint8))
    win = _start(qtbot)
    _launch(win, "--project", str(tiny_project.root))
    win.state.select(win.state.find("delta_gray16").id)
    _launch(win, "--project", str(other))
    win.state.select(win.state.find("two").id)
    _quit(win)

    again = _start(qtbot)
    _launch(again, "--project", str(tiny_project.root))
    assert _current(again) == "delta_gray16"
    again.projects.open_project(other)  # any way of opening resumes, not only the launcher's
    assert _current(again) == "two"
    _launch(again, "--project", str(tiny_project.root), "--image", "beta_gray16")  # --image wins
    assert _current(again) == "beta_gray16"


def test_a_deleted_project_is_skipped_with_a_note_not_an_error(qtbot, tiny_project):
    win = _start(qtbot)
    _launch(win, "--project", str(tiny_project.root))
    _quit(win)
    shutil.rmtree(tiny_project.root)

    again = _start(qtbot)
    _launch(again)  # the errors_shown fixture fails the test if an error dialog was shown
    assert not again.state.is_open
    assert "could not be reopened" in again.statusBar().currentMessage()


def test_a_remembered_image_that_is_gone_falls_back_to_the_first(qtbot, tiny_project):
    win = _start(qtbot)
    _launch(win, "--project", str(tiny_project.root), "--image", "gamma_rgb")
    _quit(win)
    shutil.rmtree(tiny_project.root)  # the same folder now holds a project without gamma_rgb
    with ProjectStore.create(tiny_project.root, CLASSES) as store:
        store.add_image_array("first", np.zeros((8, 8), np.uint8))
        store.add_image_array("second", np.ones((8, 8), np.uint8))

    again = _start(qtbot)
    _launch(again)
    assert _current(again) == "first"
