"""`python main.py` end to end, in subprocesses: the headless message and the offscreen screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from app.launcher import NO_DISPLAY_MESSAGE
from segcore.demo.project import DEMO_NAME
from segcore.io.images import read_image

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _env_without_display() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}


def test_without_display_prints_one_line_and_exits_2():
    result = _run(["main.py"], _env_without_display())
    assert result.returncode == 2
    assert result.stderr.splitlines() == [NO_DISPLAY_MESSAGE]
    assert "xvfb-run -a" in result.stderr
    assert result.stdout == ""


def test_without_display_qt_is_never_imported():
    code = (
        "import sys; from app.launcher import main; rc = main(['--demo']); "
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))], 'Qt was imported'; "
        "sys.exit(rc)"
    )
    result = _run(["-c", code], _env_without_display())
    assert result.returncode == 2, result.stderr


def test_screenshot_renders_the_selected_image(tmp_path, tiny_project):
    out = tmp_path / "shots" / "window.png"
    result = _run(
        ["main.py", "--project", str(tiny_project.root), "--image", "gamma_rgb", "--screenshot", str(out)],
        _env_without_display(),  # --screenshot alone must be enough to run offscreen
    )
    assert result.returncode == 0, result.stderr
    shot = read_image(out)
    height, width = shot.shape[:2]
    assert 800 <= width <= 2000 and 500 <= height <= 1400
    # gamma_rgb is a flat (200, 0, 50) image fitted into the canvas: it must cover much of the window.
    share = np.all(shot[:, :, :3] == (200, 0, 50), axis=2).mean()
    assert share > 0.2
    assert "opened project 'Tiny project'" in result.stderr


def test_unknown_project_fails_cleanly_in_screenshot_mode(tmp_path):
    result = _run(["main.py", "--project", str(tmp_path), "--screenshot", str(tmp_path / "x.png")], os.environ.copy())
    assert result.returncode == 1
    assert "is not a segdesk project" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_demo_is_generated_once_then_opened(tmp_path):
    env = {**_env_without_display(), "SEGDESK_DATA_DIR": str(tmp_path / "data")}
    first = _run(["main.py", "--demo", "--screenshot", str(tmp_path / "a.png")], env)
    assert first.returncode == 0, first.stderr
    assert "generating the demo project" in first.stderr
    assert f"opened project {DEMO_NAME!r}" in first.stderr
    assert (tmp_path / "a.png").stat().st_size > 10_000
    again = _run(["main.py", "--demo", "--screenshot", str(tmp_path / "b.png")], env)
    assert again.returncode == 0, again.stderr
    assert "generating" not in again.stderr
