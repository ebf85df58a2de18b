"""`python main.py` end to end, in subprocesses: the headless and missing-library messages, the offscreen screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.launcher import NO_DISPLAY_MESSAGE, main
from app.xcb_check import XCB_LIBRARIES, uses_xcb, xcb_problem
from segcore.demo.project import DEMO_NAME
from segcore.io.images import read_image

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _env_without_display() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}


def test_without_display_prints_one_line_and_exits_1():
    result = _run(["main.py"], _env_without_display())
    assert result.returncode == 1
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
    assert result.returncode == 1, result.stderr


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


def _loader_without(*missing: str):
    """A stand-in for ctypes.CDLL that cannot load `missing`."""
    def load(soname: str) -> None:
        if soname in missing:
            raise OSError(f"{soname}: cannot open shared object file: No such file or directory")

    return load


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin exists on Linux only")
def test_missing_xcb_library_is_named_with_the_install_command(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":0")
    for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert main([], load_library=_loader_without("libxcb-cursor.so.0")) == 1
    err = capsys.readouterr().err
    assert "missing system libraries: libxcb-cursor.so.0\n" in err
    assert "sudo apt-get install libxcb-cursor0\n" in err
    assert "sudo dnf install xcb-util-cursor\n" in err


def test_all_xcb_libraries_present_is_no_problem():
    env = {"DISPLAY": ":0"}
    assert xcb_problem(env, _loader_without(), platform="linux") is None
    message = xcb_problem(env, _loader_without("libxcb-randr.so.0", "libxcb-shape.so.0"), platform="linux")
    assert "sudo apt-get install libxcb-randr0 libxcb-shape0\n" in message
    assert "sudo dnf install libxcb\n" in message  # one package holds both


@pytest.mark.parametrize(("env", "platform", "expected"), [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb;wayland"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),  # Qt 6 picks Wayland there
    ({"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "darwin", False),
])
def test_the_xcb_check_runs_only_where_qt_will_use_xcb(env, platform, expected):
    assert uses_xcb(env, platform) is expected
    missing_everything = _loader_without(*(soname for soname, _deb, _rpm in XCB_LIBRARIES))
    assert (xcb_problem(env, missing_everything, platform) is not None) is expected


def test_missing_xcb_library_stops_before_qt_is_imported():
    code = (
        "import sys; from app.launcher import main\n"
        "def load(soname):\n"
        "    if soname == 'libxcb-icccm.so.4': raise OSError(soname)\n"
        "rc = main([], load_library=load)\n"
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))], 'Qt was imported'\n"
        "sys.exit(rc)\n"
    )
    result = _run(["-c", code], {**_env_without_display(), "DISPLAY": ":0"})
    assert result.returncode == 1, result.stderr
    assert "libxcb-icccm.so.4" in result.stderr
    assert "sudo apt-get install libxcb-icccm4" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("blocked", [("PySide6",), ("pyqtgraph",), ("PySide6", "pyqtgraph")])
def test_without_the_gui_extra_one_line_says_how_to_install_it(blocked):
    # A None entry in sys.modules is Python's own import blocker: `import PySide6` raises ModuleNotFoundError.
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "from app.launcher import main\n"
        "sys.exit(main(['--demo']))\n"
    )
    result = _run(["-c", code], {**os.environ, "QT_QPA_PLATFORM": "offscreen"})  # a display: only the extra lacks
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.endswith('pip install "segdesk[gui]"')
    assert all(name in line for name in blocked)
    assert result.stdout == ""


def test_version_needs_neither_qt_nor_a_display():
    code = (
        "import sys; from app.launcher import main\n"
        "sys.modules['PySide6'] = None\n"
        "main(['--version'])\n"
    )
    result = _run(["-c", code], _env_without_display())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "segdesk"
