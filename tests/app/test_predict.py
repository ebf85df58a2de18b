"""Background prediction into the project (PredictionController) and the predict dialog, on a really trained checkpoint."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.dialogs.predict_dialog import PredictChoice, PredictDialog
from app.predictions import PredictionController
from app.state.project_state import ProjectState
from segcore.data.classes import ClassTable
from segcore.inference.regions import confident_pixels, keep_one_region
from segcore.project.predict import predict_image, predict_project
from segcore.project.review import prediction_origins
from segcore.project.runs import run_checkpoints, train_project
from segcore.project.store import ImageStatus, ProjectStore
from segcore.training import TrainConfig, load_checkpoint, save_checkpoint

TABLE = ClassTable.from_names(["background", "square"])
LABELLED, UNLABELLED = 6, 2


def _frame(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    image = (rng.random((32, 32)) * 60).astype(np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    y, x = rng.integers(2, 18, 2)
    mask[y : y + 10, x : x + 12] = 1
    image[mask == 1] += 150
    return image, mask


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project of 32x32 frames (6 labelled, 2 unlabelled) with one 1-epoch run of a tiny U-Net."""
    root = tmp_path_factory.mktemp("trained") / "proj"
    rng = np.random.default_rng(0)
    with ProjectStore.create(root, TABLE) as store:
        for i in range(LABELLED + UNLABELLED):
            image, mask = _frame(rng)
            record = store.add_image_array(f"f{i}", image)
            if i < LABELLED:
                store.save_mask(record.id, mask)
        config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=1, batch_size=4,
                             val_fraction=0.34, seed=0, device="cpu")
        list(train_project(store, config, name="tiny"))
    return root


@pytest.fixture()
def state(trained, tmp_path):
    """The trained project (a fresh copy per test), open."""
    root = tmp_path / "proj"
    shutil.copytree(trained, root)
    state = ProjectState()
    state.open(root)
    yield state
    state.close()


def _best(state: ProjectState) -> Path:
    return run_checkpoints(state.store, state.store.runs()[0].id)["best"]


class _HeldAfterEachImage:
    """`predict_project` held after each stored image until `release()`; `held` is set while it waits, so a test
    cancels while the worker is inside the generator, the next image in progress (no race with its abort check)."""

    def __init__(self, monkeypatch) -> None:
        self.gate, self.held = threading.Event(), threading.Event()

        def gated(*args, **kwargs):
            for step in predict_project(*args, **kwargs):
                yield step
                self.held.set()
                self.gate.wait(10)

        monkeypatch.setattr("app.predictions.predict_project", gated)

    def wait_held(self) -> None:
        assert self.held.wait(10), "the prediction never reached its first image"

    def release(self) -> None:
        self.gate.set()


def test_predict_unlabelled_fills_the_store_and_the_statuses(qtbot, state):
    controller = PredictionController(state)
    unlabelled = [r.id for r in state.images if r.status is ImageStatus.UNLABELLED]
    assert len(unlabelled) == UNLABELLED
    progress, predicted, changed = [], [], []
    controller.progress.connect(lambda done, total: progress.append((done, total)))
    controller.image_predicted.connect(predicted.append)
    state.record_changed.connect(changed.append)

    with qtbot.waitSignal(controller.finished, timeout=60_000) as finished:
        controller.predict(_best(state), "unlabelled")
        assert controller.is_running
    assert finished.args == [UNLABELLED, []]
    assert progress == [(1, 2), (2, 2)] and predicted == unlabelled and changed == unlabelled
    assert not controller.is_running
    for image_id in unlabelled:
        assert state.record(image_id).status is ImageStatus.PREDICTED  # the state's cache, reloaded
        stored = state.store.load_prediction(image_id)
        assert stored.labels.shape == (32, 32) and stored.uncertainty is not None
        assert stored.run_id == state.store.runs()[0].id  # the checkpoint's run is remembered
    assert all(state.record(r.id).status is ImageStatus.LABELLED for r in state.images[:LABELLED])


def test_cancel_stops_after_the_image_in_progress(qtbot, state, monkeypatch):
    hold = _HeldAfterEachImage(monkeypatch)  # holds the worker after its first image until the test has cancelled
    controller = PredictionController(state)
    with qtbot.waitSignal(controller.finished, timeout=60_000) as finished:
        worker = controller.predict(_best(state), "all")
        hold.wait_held()
        controller.cancel()
        hold.release()  # the image in progress (the second) is finished and stored, then the worker stops
    assert finished.args == [2, []]
    assert worker.wait(5)
    assert len(state.store.prediction_scores()) == 2 < LABELLED + UNLABELLED


def test_predict_the_current_image_tiled_with_flips_one_region_per_class(qtbot, state):
    controller = PredictionController(state)
    scene = (np.random.default_rng(7).random((48, 64)) * 60).astype(np.uint8)
    for y, x in ((4, 4), (26, 40), (30, 6)):  # three bright squares: three regions of the one class
        scene[y : y + 12, x : x + 12] += 150
    target = state.store.add_image_array("three squares", scene).id
    state.refresh()
    state.select(target)
    with qtbot.waitSignal(controller.finished, timeout=60_000) as finished:
        controller.predict(_best(state), "selected", tile=16, tta=True, one_region=True)
    assert finished.args == [1, []]
    assert set(state.store.prediction_scores()) == {target}
    plain = predict_image(state.store, _best(state), target, mode="tile", tile=16, tta=True, keep_probabilities=True)
    stored = state.store.load_prediction(target)
    np.testing.assert_array_equal(stored.labels, keep_one_region(plain.labels, confident_pixels(plain.probabilities)))
    assert stored.method == ("flips", "one region")  # the Review header says how it was made
    assert " · flips, one region · " in prediction_origins(state.store)[target].describe()
    with pytest.raises(ValueError, match="which"):
        controller.predict(_best(state), "labelled")


def test_closing_the_project_stops_a_running_prediction(qtbot, state):
    controller = PredictionController(state)
    worker = controller.predict(_best(state), "all")
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        state.close()  # waits for the image in progress; nothing touches the closed store afterwards
        assert worker.wait(0)


def _click(button) -> None:
    """Click a check box or radio button on its indicator (its centre may be empty space in a wide row)."""
    QTest.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(8, button.height() // 2))


def test_predict_dialog_offers_the_latest_best_checkpoint(qtbot, state):
    dialog = PredictDialog(state)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.checkpoint.text() == str(_best(state)) and dialog.ok_button.isEnabled()
    assert dialog.values() == PredictChoice(_best(state), "unlabelled", None, False)

    _click(dialog.all)
    _click(dialog.fixed_tile)
    assert dialog.tile.isEnabled()
    dialog.tile.selectAll()
    QTest.keyClicks(dialog.tile, "1024")
    _click(dialog.tta)
    assert dialog.values() == PredictChoice(_best(state), "all", 1024, True)
    _click(dialog.one_region)
    assert dialog.values() == PredictChoice(_best(state), "all", 1024, True, one_region=True)

    _click(dialog.selected)
    assert dialog.values().which == "selected"

    dialog.checkpoint.clear()
    QTest.keyClicks(dialog.checkpoint, "/nowhere/model.pt")
    assert not dialog.ok_button.isEnabled() and "not a file" in dialog.problem.text()


def test_predict_dialog_without_runs_asks_for_a_checkpoint(qtbot, tiny_project):
    state = ProjectState()
    state.open(tiny_project.root)
    dialog = PredictDialog(state)
    qtbot.addWidget(dialog)
    assert dialog.checkpoint.text() == "" and not dialog.ok_button.isEnabled()
    assert "Choose a checkpoint" in dialog.problem.text()
    state.close()


@pytest.fixture()
def window(qtbot, state):
    """The main window on the trained project (the `state` fixture's copy)."""
    from app.main_window import MainWindow

    root = state.store.root
    state.close()
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.show()
    state.open(root)
    return window


def test_the_window_shows_prediction_progress_from_the_first_moment(qtbot, window, monkeypatch):
    gate = threading.Event()  # holds the worker before its first image: a checkpoint loading, a big frame

    def gated(*args, **kwargs):
        gate.wait(10)
        yield from predict_project(*args, **kwargs)

    monkeypatch.setattr("app.predictions.predict_project", gated)
    progress = window.prediction_progress
    assert not progress.isVisible()
    with qtbot.waitSignal(window.predictions.finished, timeout=60_000):
        window.predictions.predict(_best(window.state), "all")
        assert progress.isVisible() and progress.label.text() == f"Predicting: 0 / {LABELLED + UNLABELLED} images"
        gate.set()
        qtbot.waitUntil(lambda: progress.bar.value() >= 1, timeout=60_000)
    assert not progress.isVisible()
    assert window.statusBar().currentMessage() == f"Predicted {LABELLED + UNLABELLED} image(s)"


def test_cancel_in_the_status_bar_stops_the_prediction(qtbot, window, monkeypatch):
    hold = _HeldAfterEachImage(monkeypatch)
    with qtbot.waitSignal(window.predictions.finished, timeout=60_000) as finished:
        with qtbot.waitSignal(window.predictions.progress, timeout=60_000):
            window.predictions.predict(_best(window.state), "all")
        hold.wait_held()
        QTest.mouseClick(window.prediction_progress.cancel_button, Qt.MouseButton.LeftButton)
        assert window.prediction_progress.cancel_button.text() == "Stopping…"
        hold.release()
    assert finished.args[0] == 2


def _one_region_checkpoint(state: ProjectState, folder: Path) -> Path:
    """The run's best checkpoint, saved again as trained with `one_region` on (the Train form's setting)."""
    checkpoint = load_checkpoint(_best(state))
    checkpoint.config = {**checkpoint.config, "one_region": True}
    return save_checkpoint(folder / "one_region.pt", checkpoint)


def test_the_dialog_ticks_one_region_as_the_checkpoint_was_trained(qtbot, state, tmp_path):
    dialog = PredictDialog(state)
    qtbot.addWidget(dialog)
    assert not dialog.one_region.isChecked()  # the run trained without it
    dialog.checkpoint.setText(str(_one_region_checkpoint(state, tmp_path)))
    assert dialog.one_region.isChecked() and dialog.values().one_region
    _click(dialog.one_region)  # the user may still decline it
    assert not dialog.values().one_region
    dialog.checkpoint.setText(str(_best(state)))
    assert not dialog.one_region.isChecked()


def test_review_predictions_follow_the_checkpoints_one_region_setting(qtbot, state, tmp_path):
    controller = PredictionController(state)
    target = next(r.id for r in state.images if r.status is ImageStatus.UNLABELLED)
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        controller.predict_images(_one_region_checkpoint(state, tmp_path), [target])  # as the review queue asks
    assert state.store.load_prediction(target).method == ("one region",)


def test_an_acquisition_cancelled_half_way_goes_on_with_the_frames_left(qtbot, state, tmp_path, monkeypatch):
    import tifffile

    rng = np.random.default_rng(1)
    tifffile.imwrite(tmp_path / "acq.tif", np.stack([_frame(rng)[0] for _ in range(5)]), photometric="minisblack")
    state.store.add_sequence(tmp_path / "acq.tif")
    state.refresh()
    frames = [r.id for r in state.images if r.sequence_id is not None]
    state.select(frames[2])
    dialog = PredictDialog(state)
    qtbot.addWidget(dialog)
    assert dialog.sequence.isEnabled() and dialog.values().which == "sequence"  # on a frame: its acquisition
    hold = _HeldAfterEachImage(monkeypatch)
    controller = PredictionController(state)
    with qtbot.waitSignal(controller.finished, timeout=60_000) as first:
        controller.predict(_best(state), "sequence")
        hold.wait_held()
        controller.cancel()
        hold.release()
    done = set(state.store.prediction_scores())
    assert first.args[0] == len(done) == 2  # stopped after the image in progress
    made = {i: r.created_at for i, r in state.store.prediction_records().items()}
    monkeypatch.undo()
    with qtbot.waitSignal(controller.finished, timeout=60_000) as second:
        controller.predict(_best(state), "sequence")
    assert second.args == [len(frames) - len(done), []]  # the frames left, none of those done
    records = state.store.prediction_records()
    assert set(records) == set(frames) and all(records[i].created_at == made[i] for i in done)  # not redone
