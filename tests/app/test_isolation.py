"""The test session never touches the user's settings, recent projects or data folder."""

from __future__ import annotations

import os
from pathlib import Path

from app.main_window import MainWindow
from app.state.project_state import ProjectState
from segcore.demo import default_demo_dir


def _inside(path: str | Path, folder: str | Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def test_settings_and_data_folders_live_in_the_session_home():
    from PySide6.QtCore import QSettings

    home = os.environ["SEGDESK_TEST_HOME"]
    assert _inside(QSettings().fileName(), home), QSettings().fileName()
    assert _inside(default_demo_dir(), home)
    assert not _inside(QSettings().fileName(), Path.home() / ".config")


def test_opening_a_project_in_the_window_records_it_only_in_the_session_settings(qtbot, tiny_project):
    from PySide6.QtCore import QSettings

    state = ProjectState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    state.open(tiny_project.root)
    state.close()
    recorded = QSettings()
    assert str(tiny_project.root.resolve()) in (recorded.value("recentProjects") or [])
    assert _inside(recorded.fileName(), os.environ["SEGDESK_TEST_HOME"])
