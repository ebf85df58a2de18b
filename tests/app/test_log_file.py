"""The app's log file: in the user's log folder on each platform, written from the start, named in About."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from app.log_file import BACKUPS, HANDLER_NAME, LOG_NAME, MAX_BYTES, active_log_file, install_log_file, log_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def log_file(tmp_path):
    """The log file installed into `tmp_path`, removed from the root logger afterwards."""
    path = install_log_file(logging.INFO, folder=tmp_path / "logs")
    yield path
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
        handler.close()


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"XDG_STATE_HOME": "/xdg/state"}, Path("/xdg/state/segdesk/log")),
        ("linux", {"XDG_STATE_HOME": "relative"}, Path.home() / ".local/state/segdesk/log"),
        ("linux", {}, Path.home() / ".local/state/segdesk/log"),
        ("darwin", {}, Path.home() / "Library/Logs/segdesk"),
        ("win32", {"LOCALAPPDATA": "C:/Users/u/AppData/Local"}, Path("C:/Users/u/AppData/Local/segdesk/Logs")),
    ],
)
def test_the_log_folder_follows_each_platform(platform, env, expected):
    assert log_dir(env, platform) == expected


def test_the_app_writes_its_log_file_from_the_start(tmp_path, tiny_project):
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "main.py", "--project", str(tiny_project.root), "--screenshot", str(tmp_path / "shot.png")],
        cwd=ROOT, env={**env, "XDG_STATE_HOME": str(state)}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = (state / "segdesk" / "log" / LOG_NAME).read_text(encoding="utf-8")
    assert "opened project 'Tiny project'" in text
    assert "wrote screenshot" in text


def test_the_log_file_rotates(log_file):
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert isinstance(handler, RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (MAX_BYTES, BACKUPS)
    assert log_file.is_file() and active_log_file() == log_file
    assert install_log_file(logging.INFO) == log_file  # a second call adds no second handler


def test_about_names_the_log_file(window, log_file):
    dialog = window.help_menu.show_about()
    shown = [label.text() for label in dialog.findChildren(QLabel)]
    assert str(log_file) in shown
    assert f"Log file: {log_file}" in dialog.text()
    dialog.close()
