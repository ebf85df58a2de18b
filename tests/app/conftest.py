"""Fixtures for GUI tests: offscreen Qt and a tiny real project built through the store."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.demo.project import create_demo_project
from segcore.project.store import ImageStatus, ProjectStore

if TYPE_CHECKING:
    from app.panels.train_panel import TrainPanel
    from app.state.project_state import ProjectState
    from app.state.training_session import TrainingSession


@pytest.fixture(scope="session", autouse=True)
def isolated_settings(qapp):
    """The app's names (so QSettings() finds what the app would) with every settings file under the session home."""
    from PySide6.QtCore import QSettings

    home = Path(os.environ["SEGDESK_TEST_HOME"])  # made by tests/conftest.py
    qapp.setOrganizationName("segdesk")
    qapp.setApplicationName("segdesk")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(home / "qsettings"))
        QSettings.setPath(fmt, QSettings.Scope.SystemScope, str(home / "qsettings-system"))
    return home


@pytest.fixture(autouse=True)
def errors_shown(monkeypatch) -> list[str]:
    """Error dialogs are recorded instead of shown (a modal box would wait forever offscreen).

    An error that reaches the user in a test that did not ask for it fails the test; tests that
    provoke errors patch `show_error` themselves and check the messages.
    """
    from app import errors

    shown: list[str] = []
    monkeypatch.setattr(errors, "show_error", lambda message, details=None, parent=None: shown.append(message))
    yield shown
    assert not shown, f"unexpected error shown to the user: {shown}"


CLASSES = ClassTable.from_names(["background", "cell"], [(0, 0, 0), (255, 0, 0)])


@dataclass(frozen=True)
class TinyProject:
    root: Path
    names: dict[str, ImageStatus]  # image name -> status, in store order
    gray16: np.ndarray  # the labelled 16-bit image
    mask: np.ndarray  # its mask: background, a cell block, an ignore corner


def _gray16() -> np.ndarray:
    yy, xx = np.mgrid[0:48, 0:64]
    return (xx * 1000 + yy * 7).astype(np.uint16)


def _mask() -> np.ndarray:
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 20:40] = 1
    mask[:5, :5] = IGNORE_INDEX
    return mask


@pytest.fixture()
def tiny_project(tmp_path: Path) -> TinyProject:
    """Four small images: 8-bit gray, 16-bit gray with a mask, 8-bit RGB, 16-bit gray; varied statuses."""
    root = tmp_path / "tiny"
    gray16, mask = _gray16(), _mask()
    with ProjectStore.create(root, CLASSES, name="Tiny project") as store:
        gray8 = store.add_image_array("alpha_gray8", (np.arange(40 * 30) % 256).astype(np.uint8).reshape(30, 40))
        labelled = store.add_image_array("beta_gray16", gray16)
        store.save_mask(labelled.id, mask)
        rgb = np.zeros((32, 36, 3), np.uint8)
        rgb[..., 0], rgb[..., 2] = 200, 50
        predicted = store.add_image_array("gamma_rgb", rgb)
        store.set_status(predicted.id, ImageStatus.PREDICTED)
        store.add_image_array("delta_gray16", np.full((20, 24), 3000, np.uint16))
        names = {record.name: record.status for record in store.images()}
    assert gray8.id < labelled.id  # the tests rely on store order = insertion order
    return TinyProject(root=root, names=names, gray16=gray16, mask=mask)


@pytest.fixture()
def state(qtbot):
    """A `ProjectState` with no project open; closed after the test."""
    from app.state.project_state import ProjectState

    state = ProjectState()
    yield state
    state.close()


@pytest.fixture()
def tiny_state(state, tiny_project: TinyProject):
    """The tiny project, open."""
    state.open(tiny_project.root)
    return state


@pytest.fixture()
def window(qtbot, tiny_project: TinyProject):
    """The real main window with the tiny project open, shown offscreen."""
    from app.main_window import MainWindow
    from app.state.project_state import ProjectState

    state = ProjectState()
    win = MainWindow(state)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    state.open(tiny_project.root)
    yield win
    state.close()


RUN_TIMEOUT_MS = 60_000


@dataclass
class Setup:
    """What the train panel tests work with."""

    state: ProjectState
    session: TrainingSession
    panel: TrainPanel
    shown: list[str]
    """Messages that went to the error dialog."""


@pytest.fixture()
def demo_root(tmp_path: Path) -> Path:
    """The demo project at 32 px: 10 interferogram frames, 8 of them labelled."""
    return create_demo_project(tmp_path / "demo", small=10, large=0, labelled=8, small_size=32)


@pytest.fixture()
def train_setup(qtbot, demo_root, monkeypatch) -> Setup:
    """The train panel and a training session on the demo project, its defaults loaded; error dialogs recorded."""
    from app import errors
    from app.panels.train_panel import TrainPanel
    from app.state.project_state import ProjectState
    from app.state.training_session import TrainingSession

    shown: list[str] = []
    monkeypatch.setattr(errors, "show_error", lambda message, details=None, parent=None: shown.append(message))
    state = ProjectState()
    session = TrainingSession(state)
    panel = TrainPanel(state, session)
    qtbot.addWidget(panel)
    panel.show()
    with qtbot.waitSignal(panel.defaults_loaded, timeout=10_000):
        state.open(demo_root)
    yield Setup(state, session, panel, shown)
    session.cancel()
    qtbot.waitUntil(lambda: not session.is_running, timeout=RUN_TIMEOUT_MS)
    state.close()
