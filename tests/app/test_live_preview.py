"""The whole loop in the real main window: train, the live preview fills the review view, accept, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from app.state.project_state import ProjectState
from segcore.data.masks import read_index_mask
from segcore.demo.project import create_demo_project
from segcore.project.store import ImageStatus
from segcore.training import TrainConfig

RUN_TIMEOUT_MS = 90_000


@pytest.fixture()
def window(qtbot, tmp_path: Path):
    root = create_demo_project(tmp_path / "demo", small=10, large=0, labelled=8, small_size=32)
    state = ProjectState()
    win = MainWindow(state)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    state.open(root)
    qtbot.waitUntil(win.view.is_settled, timeout=10_000)
    yield win
    state.close()


def _tiny_config(epochs: int) -> TrainConfig:
    return TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=epochs, batch_size=2, lr=1e-2,
                       augment={"hflip": 0.5}, val_fraction=0.25, keep_top_k=2)


def test_live_preview_shows_the_newest_checkpoint_on_the_image_in_view(qtbot, window):
    state = window.state
    unlabelled = next(r for r in state.images if r.status is ImageStatus.UNLABELLED)
    state.select(unlabelled.id)
    qtbot.waitUntil(window.view.is_settled, timeout=10_000)
    saved: list[str] = []
    window.training.checkpoint_ready.connect(saved.append)
    with qtbot.waitSignal(window.training.finished, timeout=RUN_TIMEOUT_MS):
        window.training.start(_tiny_config(epochs=3), name="preview")
    qtbot.waitUntil(lambda: not window.predictions.is_running and window.live_preview.pending is None,
                    timeout=RUN_TIMEOUT_MS)
    assert saved, "the run saved no checkpoint"
    stored = state.store.load_prediction(unlabelled.id)
    assert stored is not None and stored.checkpoint == saved[-1]  # previews never lag behind: the newest wins
    assert state.record(unlabelled.id).status is ImageStatus.PREDICTED

    # The review view shows it over the image, with the accept action ready.
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.review_view
    qtbot.waitUntil(lambda: window.review_view.has_prediction and window.review_view.is_settled(), timeout=10_000)
    np.testing.assert_array_equal(window.review_view.data.prediction, stored.labels)
    assert window.review_accept.accept_action.isEnabled()


def test_preview_is_off_when_unticked_and_on_demand_works(qtbot, window):
    window.live_preview.enabled_action.setChecked(False)
    with qtbot.waitSignal(window.training.finished, timeout=RUN_TIMEOUT_MS):
        window.training.start(_tiny_config(epochs=1), name="no preview")
    assert state_predictions(window) == {}
    with qtbot.waitSignal(window.predictions.finished, timeout=RUN_TIMEOUT_MS):
        qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert list(state_predictions(window)) == [window.state.current_id]


def test_accept_then_export_from_the_window(qtbot, window, tmp_path):
    state = window.state
    image_id = state.current_id
    labels = np.zeros((32, 32), np.uint8)
    labels[4:12, 6:20] = 1
    state.store.save_prediction(image_id, labels, np.full((32, 32), 0.3, np.float32), score=0.3, checkpoint="test")
    window.review_view.reveal()
    window.review_view.refresh(image_id)
    qtbot.waitUntil(lambda: window.review_view.has_prediction and window.review_accept.accept_action.isEnabled(),
                    timeout=10_000)
    with qtbot.waitSignal(window.review_accept.accepted, timeout=10_000):
        window.review_accept.accept_action.trigger()
    np.testing.assert_array_equal(state.store.load_mask(image_id), labels)
    assert state.store.image(image_id).status is ImageStatus.REVIEWED
    qtbot.waitUntil(lambda: window.view.document.mask is not None
                    and np.array_equal(window.view.document.mask, labels), timeout=10_000)

    from app.dialogs.export_dialog import ExportDialog

    dialog = ExportDialog(state, window)
    qtbot.addWidget(dialog)
    dialog.folder.setText(str(tmp_path / "out"))
    dialog.current_image.setChecked(True)
    with qtbot.waitSignal(dialog.export_finished, timeout=30_000):
        dialog.start_export()
    [written] = (tmp_path / "out" / "palette").glob("*.png")
    np.testing.assert_array_equal(read_index_mask(written), labels)


def state_predictions(window) -> dict:
    return window.state.store.prediction_scores()
