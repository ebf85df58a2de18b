"""Help ▸ Keyboard shortcuts and About, opened on the real main window."""

from __future__ import annotations

import importlib.metadata

import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel

import segcore
from app.dialogs import help as help_dialogs
from app.dialogs.help import CANVAS_GROUP, AboutDialog, ShortcutsDialog


def _activate(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def test_f1_lists_the_window_shortcuts_and_the_canvas_keys(qtbot, window):
    _activate(qtbot, window)
    qtbot.keyClick(window.view, Qt.Key.Key_F1)
    dialog = window.help_menu.dialog
    assert isinstance(dialog, ShortcutsDialog) and dialog.isVisible()
    rows = dialog.rows()
    assert ("Edit", "Undo", "Ctrl+Z") in rows
    assert ("Edit", "Redo", "Ctrl+Shift+Z, Ctrl+Y") in rows
    assert ("Tools", "Box", "R") in rows and ("Tools", "Larger brush", "]") in rows
    assert ("Classes", "Class 3", "3") in rows
    assert ("Image", "Next image", "PgDown, D") in rows
    canvas = {keys: command for group, command, keys in rows if group == CANVAS_GROUP}
    assert canvas["Enter / Space"].startswith("Box")
    assert canvas["Backspace"] == "Polygon: remove the last vertex"
    assert {"Esc", "Middle-drag", "Wheel"} <= set(canvas)
    dialog.close()
    assert window.help_menu.dialog is None


def test_shortcuts_follow_the_actions_the_window_has(window):
    menu = window.menuBar().addMenu("&Extra")
    menu.addAction(QAction("&Frobnicate…", window, shortcut=QKeySequence("Ctrl+Alt+F")))
    window.addAction(QAction("Hidden helper", window, shortcut=QKeySequence("Ctrl+Alt+H")))
    dialog = window.help_menu.show_shortcuts()
    assert ("Extra", "Frobnicate", "Ctrl+Alt+F") in dialog.rows()
    assert ("Other", "Hidden helper", "Ctrl+Alt+H") in dialog.rows()
    assert sum(command == "Undo" for _group, command, _keys in dialog.rows()) == 1  # each action once
    dialog.close()


def test_about_shows_versions_gpu_device_and_folders(window):
    window.help_menu.about_action.trigger()
    dialog = window.help_menu.dialog
    assert isinstance(dialog, AboutDialog) and dialog.isVisible()
    shown = [label.text() for label in dialog.findChildren(QLabel)]
    assert torch.__version__ in shown
    assert segcore.__version__ in shown
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    assert any(text.startswith(gpu) for text in shown)
    assert any(text.startswith(("cpu", "cuda", "mps")) for text in shown)  # the training device
    assert QSettings().fileName() in shown
    assert f"torch: {torch.__version__}" in dialog.text()
    dialog.close()


def test_about_shows_the_version_even_in_an_uninstalled_source_tree(monkeypatch):
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert dict(help_dialogs.about_facts())["segdesk"] == segcore.__version__  # segcore's, the one source
