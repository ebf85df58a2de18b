"""Label next (L): the window selects the frame segcore suggests, says why, and follows new labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QToolButton

from segcore.data.classes import ClassTable
from segcore.project.store import ImageStatus, ProjectStore

SIZE = 48


def _fringes(angle_deg: float, period: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    angle = np.deg2rad(angle_deg)
    wave = np.cos(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform(0, 6.3))
    return np.clip((0.5 + 0.4 * wave + rng.normal(0, 0.05, wave.shape)) * 255, 0, 255).astype(np.uint8)


@pytest.fixture()
def fringe_project(tmp_path: Path) -> Path:
    """Two labelled frames of horizontal fringes; unlabelled: two more like them, one of fine vertical fringes."""
    root = tmp_path / "fringes"
    with ProjectStore.create(root, ClassTable.from_names(["background", "sample"]), name="Fringes") as store:
        for seed in range(2):
            record = store.add_image_array(f"labelled{seed}", _fringes(0, 8, seed))
            store.save_mask(record.id, np.zeros((SIZE, SIZE), np.uint8))
        for seed in range(2):
            store.add_image_array(f"alike{seed}", _fringes(0, 8, 10 + seed))
        store.add_image_array("unlike", _fringes(90, 4, 20))
    return root


@pytest.fixture()
def win(qtbot, fringe_project):
    from app.main_window import MainWindow
    from app.state.project_state import ProjectState

    state = ProjectState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.label_next.changed, timeout=10_000):
        state.open(fringe_project)
    yield window
    state.close()


def _name(window) -> str:
    return window.state.record(window.state.current_id).name


def test_l_selects_the_suggested_frame_and_says_why(qtbot, win):
    assert win.label_next.is_fresh and win.label_next.suggestion.name == "unlike"
    win.tabs.setCurrentWidget(win.review_view)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    qtbot.keyClick(win.view, Qt.Key.Key_L)
    assert _name(win) == "unlike" and win.tabs.currentWidget() is win.view  # ready to label
    assert win.label_next_status.text().startswith("Label next: unlike: unlike the 2 labelled")
    image_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Image")
    assert win.label_next.action in image_menu.actions()
    win.state.previous()  # moving on: the reason goes
    assert win.label_next_status.text() == ""


def test_once_the_frame_is_labelled_the_suggestion_moves_on(qtbot, win):
    state, controller = win.state, win.label_next
    first = controller.suggestion
    state.store.save_mask(first.image_id, np.zeros((SIZE, SIZE), np.uint8))  # the user labels it
    with qtbot.waitSignal(controller.changed, timeout=10_000):
        state.reload_record(first.image_id)  # what the canvas does once a label is stored
    assert controller.suggestion.image_id != first.image_id
    # The review queue dock's button runs the same action, and never lands on a labelled frame.
    bar_button = next(b for b in win.review_panel.findChildren(QToolButton) if b.defaultAction() is controller.action)
    seen = set()
    while state.store.images(ImageStatus.UNLABELLED):
        with qtbot.waitSignal(controller.selected, timeout=10_000):
            qtbot.mouseClick(bar_button, Qt.MouseButton.LeftButton)
        current = state.record(state.current_id)
        assert current.status is ImageStatus.UNLABELLED and current.id not in seen
        seen.add(current.id)
        state.store.save_mask(current.id, np.zeros((SIZE, SIZE), np.uint8))
        state.reload_record(current.id)  # labelled: the next click must recompute before selecting
    assert len(seen) == 2
    qtbot.mouseClick(bar_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Every image is labelled" in win.label_next_status.text(), timeout=10_000)
