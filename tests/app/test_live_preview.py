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


def _preview_done(window) -> bool:
    return not window.live_preview.is_running and window.live_preview.pending is None


def test_live_preview_shows_the_newest_checkpoint_and_never_writes_the_project(qtbot, window):
    state = window.state
    unlabelled = next(r for r in state.images if r.status is ImageStatus.UNLABELLED)
    state.select(unlabelled.id)
    qtbot.waitUntil(window.view.is_settled, timeout=10_000)
    window.view_toolbar.prediction_action.setChecked(True)
    statuses = {r.id: r.status for r in state.store.images()}
    saved: list[str] = []
    window.training.checkpoint.connect(lambda event: saved.append(event.path))
    with qtbot.waitSignal(window.training.finished, timeout=RUN_TIMEOUT_MS):
        window.training.start(_tiny_config(epochs=3), name="preview")
    qtbot.waitUntil(lambda: _preview_done(window), timeout=RUN_TIMEOUT_MS)
    assert saved, "the run saved no checkpoint"
    preview = window.previews.of(unlabelled.id)
    assert preview is not None and preview.checkpoint == saved[-1]  # previews never lag behind: the newest wins
    # A preview is a view: nothing stored, no status changed (the image stays unlabelled).
    assert state_predictions(window) == {}
    assert {r.id: r.status for r in state.store.images()} == statuses
    assert state.record(unlabelled.id).status is ImageStatus.UNLABELLED

    # The canvas draws it in the prediction layer, titled as a preview.
    qtbot.waitUntil(lambda: not window.view.prediction_item.is_empty, timeout=10_000)
    assert "live preview" in window.view.prediction_caption.text() and "not saved" in window.view.prediction_caption.text()

    # The review view shows it too, but there is nothing to accept.
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.review_view
    qtbot.waitUntil(lambda: window.review_view.has_prediction and window.review_view.is_settled(), timeout=10_000)
    np.testing.assert_array_equal(window.review_view.data.prediction, preview.labels)
    assert window.review_view.data.is_preview and window.review_view.titles[-1].text() == "Live preview (not saved)"
    assert "live preview" in window.review_view.scores_label.text()
    assert not window.review_accept.accept_action.isEnabled()
    assert "not saved" in window.review_accept.accept_action.toolTip()

    # Moving on drops the preview: it was of the other image.
    state.next()
    assert window.previews.preview is None


def test_preview_is_off_when_unticked_and_on_demand_works(qtbot, window):
    window.live_preview.enabled_action.setChecked(False)
    with qtbot.waitSignal(window.training.finished, timeout=RUN_TIMEOUT_MS):
        window.training.start(_tiny_config(epochs=1), name="no preview")
    assert window.previews.preview is None and not window.live_preview.is_running
    with qtbot.waitSignal(window.previews.changed, timeout=RUN_TIMEOUT_MS):
        qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.previews.preview.image_id == window.state.current_id
    assert state_predictions(window) == {}


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
