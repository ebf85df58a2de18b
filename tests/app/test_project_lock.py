"""A project open in another window: a lock file, a warning with a choice, stale locks taken over silently."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMainWindow, QMessageBox

from app.project_lock import LOCK_NAME
from app.projects import ProjectController
from segcore.cli import main
from segcore.data.classes import ClassTable
from segcore.project import store as store_module
from segcore.project.store import ProjectStore


@pytest.fixture()
def controller(qtbot, state, tmp_path) -> ProjectController:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    return ProjectController(state, window, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture()
def project(tmp_path) -> Path:
    root = tmp_path / "cells"
    with ProjectStore.create(root, ClassTable.from_names(["background", "cell"])) as store:
        store.add_image_array("one", np.zeros((16, 16), np.uint8))
    return root


@pytest.fixture()
def other_window():
    """A live process that is not this one, standing for another segdesk window; ended after the test."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _lock(root: Path, pid: int, host: str | None = None) -> dict:
    data = {"pid": pid, "host": host or socket.gethostname(), "user": "ada", "since": "2026-05-01T09:30:00"}
    (root / LOCK_NAME).write_text(json.dumps(data))
    return data


def _lock_data(root: Path) -> dict:
    return json.loads((root / LOCK_NAME).read_text())


def _click(qtbot, box: QMessageBox, text: str) -> None:
    [button] = [b for b in box.buttons() if b.text() == text]
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())


def test_an_open_project_holds_a_lock_until_it_closes(qtbot, controller, state, project):
    controller.open_project(project)
    assert state.is_open and controller.in_use_box is None
    assert _lock_data(project)["pid"] == os.getpid()
    controller.open_project(project)  # this window again: its own lock is no reason to ask
    assert controller.in_use_box is None
    state.close()
    assert not (project / LOCK_NAME).exists()


def test_a_stale_lock_is_taken_over_silently(qtbot, controller, state, project):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _lock(project, int(gone.stdout))  # a window that crashed: its process no longer runs
    controller.open_project(project)
    assert state.is_open and not state.read_only and controller.in_use_box is None
    assert _lock_data(project)["pid"] == os.getpid()


def test_a_live_lock_asks_and_read_only_leaves_the_other_windows_lock(qtbot, controller, state, project, other_window):
    theirs = _lock(project, other_window)
    controller.open_project(project)
    box = controller.in_use_box
    assert box is not None and box.isVisible()
    assert "ada on" in box.text() and f"process {other_window}" in box.text()
    assert not state.is_open  # open_project returned (no nested event loop) and waits for the answer
    _click(qtbot, box, "Open read-only")
    assert state.is_open and state.read_only
    assert not controller.import_images_action.isEnabled()
    assert _lock_data(project) == theirs
    state.close()
    assert _lock_data(project) == theirs  # still theirs


def test_open_anyway_takes_the_lock_and_leaves_it_on_close(qtbot, controller, state, project, other_window):
    _lock(project, other_window)
    controller.open_project(project)
    _click(qtbot, controller.in_use_box, "Open anyway")
    assert state.is_open and not state.read_only
    assert _lock_data(project)["pid"] == os.getpid()
    assert controller.in_use_box is None


def test_a_lock_from_another_host_asks_and_cancel_opens_nothing(qtbot, controller, state, project):
    _lock(project, 1, host="lab-pc-7")  # cannot be probed from here: it may be running
    controller.open_project(project)
    box = controller.in_use_box
    assert "lab-pc-7" in box.text()
    _click(qtbot, box, "Cancel")
    assert not state.is_open and controller.in_use_box is None


def test_opening_without_the_question_leaves_the_other_windows_lock(state, project, other_window):
    theirs = _lock(project, other_window)
    state.open(project)  # what a resumed session does
    assert state.is_open and not state.read_only
    state.close()
    assert _lock_data(project) == theirs


def test_the_command_line_is_never_blocked_by_a_lock(project, other_window, capsys):
    _lock(project, other_window)
    assert main(["project", "info", str(project)]) == 0
    assert "images: 1" in capsys.readouterr().out


def test_an_unwritable_project_opens_read_only_with_a_notice(qtbot, controller, state, project, monkeypatch):
    real = os.access  # tests run as root, which may write anywhere: the folder's answer is patched
    monkeypatch.setattr(store_module.os, "access",
                        lambda path, mode: False if mode & os.W_OK and Path(path).is_relative_to(project) else real(path, mode))
    controller.open_project(project)
    assert state.is_open and state.read_only
    box = controller.read_only_box
    assert box is not None and box.isVisible() and "read-only" in box.text()
    assert not (project / LOCK_NAME).exists()  # a project nobody can write needs no lock
    QTest.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.read_only_box is None)
