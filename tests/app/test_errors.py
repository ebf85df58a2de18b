"""Uncaught exceptions end in an error dialog, not in a dead app."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from app import errors
from segcore.errors import ProjectError


@pytest.fixture()
def shown(monkeypatch) -> list[tuple[str, str | None]]:
    """Install the app's excepthook with the dialog replaced by a recorder."""
    calls: list[tuple[str, str | None]] = []
    monkeypatch.setattr(errors, "show_error", lambda message, details=None, parent=None: calls.append((message, details)))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    errors.install_excepthook()
    return calls


def _button_raising(qtbot, exc: Exception) -> QPushButton:
    def fail() -> None:
        raise exc

    button = QPushButton("fail")
    qtbot.addWidget(button)
    button.clicked.connect(fail)
    return button


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_shows_a_dialog_and_the_app_goes_on(qtbot, shown):
    button = _button_raising(qtbot, ValueError("boom"))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert len(shown) == 1
    message, details = shown[0]
    assert "ValueError: boom" in message
    assert details is not None and "Traceback" in details and "fail" in details
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # still alive, still reporting
    assert len(shown) == 2


@pytest.mark.qt_no_exception_capture
def test_segcore_error_shows_just_its_message(qtbot, shown):
    button = _button_raising(qtbot, ProjectError("/data/x is not a segdesk project"))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert shown == [("/data/x is not a segdesk project", None)]
