"""The train panel and the training session on a real small project: real clicks, real (tiny) training runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.panels.train_panel import TrainPanel
from app.state.project_state import ProjectState
from app.state.training_session import SessionState, TrainingSession
from segcore.data.transforms import AugmentConfig
from segcore.demo.project import create_demo_project
from segcore.models import get_model_info
from segcore.project.defaults import default_config
from segcore.training import TrainConfig
from segcore.training.events import BatchProgress, EpochMetrics, Finished, LabelsChecked

RUN_TIMEOUT_MS = 60_000


def tiny_config(**overrides) -> TrainConfig:
    """8 labelled 32 px frames: 6 train (3 batches of 2), 2 validate."""
    options = dict(model="unet", model_kwargs={"base_channels": 8}, epochs=2, batch_size=2, lr=1e-2,
                   augment={"hflip": 0.5, "vflip": 0.0}, val_fraction=0.25, keep_top_k=3)
    options.update(overrides)
    return TrainConfig(**options)


def slow_config(**overrides) -> TrainConfig:
    """Frames upscaled to 128 px: a batch takes long enough (~0.1 s) to see what happens between two."""
    return tiny_config(augment={"hflip": 0.5, "vflip": 0.0, "resize": 128}, **overrides)




def _click(button) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _recorded(signal) -> list:
    events: list = []
    signal.connect(events.append)
    return events


def test_form_starts_from_the_project_defaults_and_maps_to_the_config(qtbot, train_setup):
    panel, store = train_setup.panel, train_setup.state.store
    assert panel.config_from_form() == default_config(store)
    assert panel.fringe_check.isChecked() and panel.fringe_check.isEnabled()  # interferograms: fringe analysis on
    panel.fringe_check.setChecked(False)
    augment = panel.config_from_form().augment
    # The phase's sign, the normalised analysis and its side go with the analysis.
    assert not {"fringe_features", "phase_sign", "fringe_normalise", "fringe_robust", "fringe_refit",
                "fringe_side"} & set(augment)
    AugmentConfig.from_dict(augment)  # a config that trains
    panel.fringe_check.setChecked(True)
    augment = panel.config_from_form().augment
    assert augment["fringe_features"] is True and augment["fringe_background"] == "quartic"
    assert augment["phase_sign"] == 0.5 and augment["fringe_normalise"] is True and augment["fringe_side"] == 1024
    assert augment["fringe_robust"] is True and augment["fringe_refit"] is True
    assert panel.split_label.text() == "8 training / 0 validation images"  # 8 labelled frames: all of them train
    panel.val_spin.setValue(0.5)
    assert panel.split_label.text() == "4 training / 4 validation images"
    assert panel.model_description.text() == get_model_info("unet").description
    assert panel.device_combo.itemText(0).startswith("Automatic (")
    qtbot.waitUntil(lambda: "from scratch" in panel.pretrained_label.text())
    assert not panel.pretrained_check.isEnabled()  # U-Net has no pretrained backbone

    config = tiny_config(loss="focal", class_weights="median_freq", optimizer="sgd", schedule="cosine", lr=0.02,
                         epochs=7, batch_size=3, val_fraction=0.3, device="cpu", seed=5,
                         augment={"hflip": 0.0, "vflip": 0.5, "rotation": 15.0, "resize": 64, "crop": 48,
                                  "clahe": 3.0, "scale_range": [0.5, 1.5]})
    panel.set_form(config)
    assert panel.config_from_form() == config  # every option survives, including those without a control
    scaled = tiny_config(augment={"hflip": 0.5, "vflip": 0.0, "resize": 0.5, "crop": [24, 32]})
    panel.set_form(scaled)
    assert panel.resize_spin.text() == "0.5 (as set)" and panel.config_from_form() == scaled  # forms the spins lack
    panel.set_form(tiny_config(augment={"mean_image": "old.npy"}))
    assert panel.config_from_form().augment["mean_image"].startswith(str(store.root))  # the project's own mean image
    panel.clahe_check.setChecked(True)  # CLAHE and mean subtraction work together
    assert panel.mean_check.isChecked() and panel.clahe_check.isEnabled()
    assert {"clahe", "mean_image"} <= set(panel.config_from_form().augment)

    panel.model_combo.setCurrentIndex(panel.model_combo.findData("fcn_resnet18"))
    qtbot.waitUntil(lambda: "pretrained" in panel.pretrained_label.text().lower()
                    and "Checking" not in panel.pretrained_label.text())
    assert panel.config_from_form().model_kwargs == {}  # U-Net's width does not follow to another model


def test_pseudo_label_option_runs_and_says_where_the_pseudo_labels_are(qtbot, train_setup):
    panel, session, store = train_setup.panel, train_setup.session, train_setup.state.store
    panel.set_form(tiny_config(pseudo_confidence=0.5))
    assert not panel.pseudo_check.isChecked()
    _click(panel.pseudo_check)
    assert panel.config_from_form().pseudo_labels
    before = {r.name: (r.status, store.load_mask(r.id) is None) for r in store.images()}
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS):
        _click(panel.train_button)
    text = panel.notes_label.text()  # still there once the run has finished
    assert panel.status_label.text().startswith("Finished 2 epochs")
    assert "Pseudo-labels: the model labelled 2 of 2 unlabelled images" in text and "never as the project's labels" in text
    assert {r.name: (r.status, store.load_mask(r.id) is None) for r in store.images()} == before


def test_the_one_region_setting_round_trips_through_the_form(qtbot, train_setup):
    panel = train_setup.panel
    panel.set_form(tiny_config(one_region=True))
    assert panel.one_region_check.isChecked() and panel.config_from_form().one_region
    _click(panel.one_region_check)
    assert not panel.config_from_form().one_region


def test_the_invert_setting_round_trips_and_keeps_a_set_probability(qtbot, train_setup):
    panel = train_setup.panel
    config = tiny_config()
    config.augment["invert"] = 0.3  # set by hand (segcore train --aug invert=0.3): the form keeps it
    panel.set_form(config)
    assert panel.invert_check.isChecked() and panel.config_from_form().augment["invert"] == 0.3
    _click(panel.invert_check)
    assert "invert" not in panel.config_from_form().augment
    _click(panel.invert_check)
    assert panel.config_from_form().augment["invert"] == 0.3
    panel.set_form(tiny_config())
    assert not panel.invert_check.isChecked()
    _click(panel.invert_check)
    assert panel.config_from_form().augment["invert"] == 0.5


def test_train_reports_progress_epochs_curves_and_per_class_iou(qtbot, train_setup):
    panel, session = train_setup.panel, train_setup.session
    panel.set_form(tiny_config())
    panel.name_edit.setText("first")
    progress, epochs, ready = _recorded(session.progress), _recorded(session.epoch), _recorded(session.checkpoint)
    states, checked = _recorded(session.state_changed), _recorded(session.labels_checked)
    buttons_while_running: list[tuple[bool, bool]] = []
    session.progress.connect(lambda _: buttons_while_running.append(
        (panel.train_button.isEnabled(), panel.cancel_button.isEnabled())))

    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        _click(panel.train_button)
    assert isinstance(finished.args[0], Finished) and not finished.args[0].cancelled
    assert states == ["running", "idle"] and buttons_while_running[0] == (False, True)
    assert [(p.epoch, p.batch) for p in progress] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    assert [e.epoch for e in epochs] == [1, 2] and all(isinstance(e, EpochMetrics) for e in epochs)
    assert len(panel.curves.batch_losses) == 6 and len(panel.curves.smoothed_losses) == 6
    assert [epoch for epoch, _ in panel.curves.mious] == [1, 2]
    iou_cells = [panel.iou_table.item(row, 1).text() for row in range(panel.iou_table.rowCount())]
    assert [panel.iou_table.item(r, 0).text() for r in range(2)] == ["background", "sample"]
    assert all(0.0 <= float(cell) <= 1.0 for cell in iou_cells)
    assert panel.progress_bar.value() == panel.progress_bar.maximum()
    # The labelled frames predicted back, and what that says, instead of a validation score the run has none of.
    [run] = train_setup.state.store.runs()
    assert [c.images for c in checked] == [len(run.split["train"])] and isinstance(checked[0], LabelsChecked)
    assert checked[0].describe() in panel.status_label.text()
    assert ready and all(Path(c.path).is_file() for c in ready) and session.latest_checkpoint == ready[-1].path
    assert (run.name, run.status) == ("first", "finished")
    assert panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_a_run_that_does_not_reproduce_its_labels_is_reported_in_red(qtbot, train_setup):
    panel, session = train_setup.panel, train_setup.session
    session.labels_checked.emit(LabelsChecked(8, 0.13, ("frame_3", "frame_1", "frame_7", "frame_2")))
    session.finished.emit(Finished(250, None, "best.pt", "last.pt"))
    text = panel.status_label.text()
    assert text.startswith("Finished 250 epochs") and "color:#b00020" in text
    assert "4 below 0.50 (frame_3, frame_1, frame_7, ...)" in text and "Train longer or again (another seed)" in text
    session.started.emit()  # the next run starts without the last one's verdict
    session.finished.emit(Finished(3, None, "best.pt", "last.pt"))
    assert "below" not in panel.status_label.text() and "no validation images" in panel.status_label.text()


def test_another_project_starts_with_an_empty_run_display(qtbot, train_setup, tmp_path):
    """Issue 27, item 4: the panel kept the previous project's run, curves and words after switching."""
    from segcore.demo.project import create_demo_project

    panel, session, state = train_setup.panel, train_setup.session, train_setup.state
    panel.set_form(tiny_config(epochs=1))
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS):
        _click(panel.train_button)
    assert panel.curves.batch_losses and panel.status_label.text().startswith("Finished 1 epoch;")  # not "1 epochs"
    other = create_demo_project(tmp_path / "other", small=4, large=0, labelled=2, small_size=32)
    with qtbot.waitSignal(panel.defaults_loaded, timeout=10_000):
        state.open(other)
    assert not panel.curves.batch_losses and not panel.curves.mious
    assert panel.status_label.text() == "" and panel.progress_bar.value() == 0
    table = panel.iou_table  # the new project's classes, no IoU yet
    assert all(table.item(row, 1) is None or table.item(row, 1).text() == "" for row in range(table.rowCount()))


def test_cancel_is_honoured_within_one_batch(qtbot, train_setup):
    panel, session = train_setup.panel, train_setup.session
    panel.set_form(slow_config(epochs=3))
    after_cancel: list[BatchProgress] = []
    said: list[tuple[str, str, bool]] = []

    def on_progress(event: BatchProgress) -> None:
        if session.state is SessionState.RUNNING:
            _click(panel.cancel_button)
            said.append((panel.cancel_button.text(), panel.eta_label.text(), panel.cancel_button.isEnabled()))
        else:
            after_cancel.append(event)
            said.append((panel.cancel_button.text(), panel.eta_label.text(), panel.cancel_button.isEnabled()))

    session.progress.connect(on_progress)
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        _click(panel.train_button)
    assert finished.args[0].cancelled and len(after_cancel) <= 1
    # From the click to the end, the panel says it is stopping (the batch in progress still reports).
    assert said and all(entry == ("Stopping…", "Stopping after the current batch…", False) for entry in said)
    assert panel.cancel_button.text() == "Cancel"
    assert train_setup.state.store.runs()[0].status == "cancelled"
    assert panel.status_label.text().startswith("Cancelled") and panel.train_button.isEnabled()


def test_pause_holds_the_run_and_resume_finishes_it(qtbot, train_setup):
    panel, session = train_setup.panel, train_setup.session
    panel.set_form(slow_config())
    progress = _recorded(session.progress)
    with qtbot.waitSignal(session.progress, timeout=RUN_TIMEOUT_MS):
        _click(panel.train_button)
    _click(panel.pause_button)
    assert session.state is SessionState.PAUSED and panel.resume_button.isEnabled()
    assert not panel.pause_button.isEnabled() and panel.eta_label.text().startswith("Paused")
    qtbot.wait(300)  # the batch in flight may still finish; then nothing
    held = len(progress)
    qtbot.wait(400)
    assert len(progress) == held <= 2
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        _click(panel.resume_button)
    assert not finished.args[0].cancelled and len(progress) == 6


def _raise_out_of_memory(self, epoch):
    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    yield  # a generator, like the method it replaces


@pytest.mark.parametrize("case", ["out of memory", "refused config"])
def test_a_failed_run_shows_a_message_and_returns_to_idle(qtbot, train_setup, monkeypatch, case):
    panel, session = train_setup.panel, train_setup.session
    if case == "out of memory":
        monkeypatch.setattr("segcore.training.trainer.Trainer._train_batches", _raise_out_of_memory)
        panel.set_form(tiny_config())
        expected = "ran out of memory"
    else:
        panel.set_form(tiny_config(model_kwargs={"base_channels": 8, "depth": 9}))  # U-Net has no 'depth'
        expected = "depth"
    with qtbot.waitSignal(session.failed, timeout=RUN_TIMEOUT_MS) as failed:
        _click(panel.train_button)
    assert expected in failed.args[0] and train_setup.shown == [failed.args[0]]
    assert expected in panel.status_label.text()
    assert session.state is SessionState.IDLE and panel.train_button.isEnabled()
    assert train_setup.state.store.runs()[0].status == "failed"


def test_the_form_refuses_a_missing_checkpoint_before_starting(train_setup):
    panel = train_setup.panel
    panel.set_form(tiny_config())
    panel.init_check.setChecked(True)
    _click(panel.train_button)
    assert "checkpoint" in train_setup.shown[0] and not train_setup.session.is_running and train_setup.state.store.runs() == []


def _wheel(widget, steps: int) -> bool:
    """A mouse-wheel event over the middle of `widget` (negative steps: towards the user); True if it took it.

    An event a widget leaves ignored is what Qt hands on to the parent (the scroll area) when it
    comes from the real mouse; events sent from a test never travel, so the test checks that hand-off.
    """
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(widget.rect().center())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_the_wheel_changes_a_form_field_only_once_it_has_the_focus(qtbot, train_setup):
    panel = train_setup.panel
    width, model, lr = panel.width_spin.value(), panel.model_combo.currentIndex(), panel.lr_spin.value()
    panel.train_button.setFocus()
    for field in (panel.width_spin, panel.model_combo, panel.lr_spin):
        assert not _wheel(field, -3)  # left for the scroll area...
    assert (panel.width_spin.value(), panel.model_combo.currentIndex(), panel.lr_spin.value()) == (width, model, lr)
    assert panel.width_spin.focusPolicy() == Qt.FocusPolicy.StrongFocus  # ...and the wheel does not grab the focus
    panel.width_spin.setFocus()  # clicked or tabbed into: now the wheel is the field's
    qtbot.waitUntil(panel.width_spin.hasFocus)
    assert _wheel(panel.width_spin, 1)
    assert panel.width_spin.value() == width + panel.width_spin.singleStep()


def test_an_untouched_form_follows_the_labels_and_an_edited_one_stays(qtbot, tmp_path):
    root = create_demo_project(tmp_path / "fresh", small=8, large=0, labelled=0, small_size=32)
    state = ProjectState()
    session = TrainingSession(state)
    panel = TrainPanel(state, session)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.defaults_loaded, timeout=10_000):
        state.open(root)
    assert panel.val_spin.value() == 0.0 and panel.split_label.text() == "0 training / 0 validation images"
    mask = np.zeros((32, 32), np.uint8)
    mask[8:20, 8:20] = 1
    for record in state.images[:5]:  # the user labels five frames
        state.store.save_mask(record.id, mask)
        state.reload_record(record.id)
    qtbot.waitUntil(lambda: panel.split_label.text() == "5 training / 0 validation images", timeout=10_000)
    assert panel.batch_spin.value() == default_config(state.store).batch_size == 2 and panel.shows_defaults()

    panel.epochs_spin.setValue(7)  # the user's own choice from here on
    assert not panel.shows_defaults()
    state.store.save_mask(state.images[5].id, mask)
    state.reload_record(state.images[5].id)
    qtbot.waitUntil(lambda: panel.split_label.text().startswith("6 training"), timeout=10_000)
    assert panel.epochs_spin.value() == 7
    state.close()
