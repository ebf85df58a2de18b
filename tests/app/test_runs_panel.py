"""The runs panel on a real small project: history, checkpoints, resume, continue, average."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app import errors
from app.panels.runs_panel import RunsPanel
from app.state.project_state import ProjectState
from app.state.training_session import TrainingSession
from segcore.demo.project import create_demo_project
from segcore.training import TrainConfig
from segcore.training.events import EpochMetrics

RUN_TIMEOUT_MS = 60_000


def tiny_config(**overrides) -> TrainConfig:
    options = dict(model="unet", model_kwargs={"base_channels": 8}, epochs=3, batch_size=2, lr=1e-2,
                   augment={"hflip": 0.5}, val_fraction=0.25, keep_top_k=3)
    options.update(overrides)
    return TrainConfig(**options)


@pytest.fixture()
def runs(qtbot, tmp_path, monkeypatch):
    """(state, session, panel, shown error messages) on the 32 px demo project (8 of 10 frames labelled)."""
    shown: list[str] = []
    monkeypatch.setattr(errors, "show_error", lambda message, details=None, parent=None: shown.append(message))
    root = create_demo_project(tmp_path / "demo", small=10, large=0, labelled=8, small_size=32)
    state = ProjectState()
    session = TrainingSession(state)
    panel = RunsPanel(state, session)
    qtbot.addWidget(panel)
    panel.show()
    state.open(root)
    yield state, session, panel, shown
    session.cancel()
    qtbot.waitUntil(lambda: not session.is_running, timeout=RUN_TIMEOUT_MS)
    state.close()


def _train(qtbot, session: TrainingSession, config: TrainConfig, **options):
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        session.start(config, **options)
    return finished.args[0]


def _checkpoint_labels(panel: RunsPanel) -> list[str]:
    return [panel.checkpoints_view.item(row).text() for row in range(panel.checkpoints_view.count())]


def _rows(panel: RunsPanel) -> list[list[str]]:
    view = panel.runs_view
    return [[view.topLevelItem(r).text(c) for c in range(view.columnCount())] for r in range(view.topLevelItemCount())]


def test_a_finished_run_is_listed_with_its_config_curves_and_checkpoints(qtbot, runs):
    state, session, panel, _ = runs
    assert _rows(panel) == []
    _train(qtbot, session, tiny_config(), name="first")
    [[name, model, status, best, started]] = _rows(panel)
    assert (name, model, status) == ("first", "unet", "finished") and 0 <= float(best) <= 1 and started
    labels = _checkpoint_labels(panel)
    assert {"best", "last"} <= set(labels) and sum(label.startswith("epoch") for label in labels) == 3
    assert '"base_channels": 8' in panel.config_view.toPlainText()
    assert [epoch for epoch, _ in panel.curves.mious] == [1, 2, 3]

    view = panel.checkpoints_view
    row = labels.index("best")
    rect = view.visualItemRect(view.item(row))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.selected_checkpoint() == str(state.store.root / "runs" / "0001" / "best.pt")
    with qtbot.waitSignal(panel.checkpoint_chosen) as chosen:
        QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen.args == [panel.selected_checkpoint()] and Path(chosen.args[0]).is_file()


def test_resume_a_cancelled_run_from_its_last_epoch(qtbot, runs):
    state, session, panel, _ = runs

    def cancel_after_first_epoch(event: EpochMetrics) -> None:
        if event.epoch == 1:
            session.cancel()

    session.epoch.connect(cancel_after_first_epoch)
    assert _train(qtbot, session, tiny_config()).cancelled
    session.epoch.disconnect(cancel_after_first_epoch)
    assert _rows(panel)[0][2] == "cancelled" and panel.resume_button.isEnabled()

    epochs: list[EpochMetrics] = []
    session.epoch.connect(epochs.append)
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        QTest.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert not finished.args[0].cancelled and [e.epoch for e in epochs] == [2, 3]
    assert [row[2] for row in _rows(panel)] == ["finished"] and not panel.resume_button.isEnabled()


def test_continue_from_the_best_checkpoint_starts_a_new_run(qtbot, runs):
    state, session, panel, _ = runs
    _train(qtbot, session, tiny_config(epochs=1), name="first")
    notices: list[str] = []
    session.notice.connect(notices.append)
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS):
        QTest.mouseClick(panel.continue_button, Qt.MouseButton.LeftButton)
    assert [row[0] for row in _rows(panel)] == ["first (continued)", "first"]  # newest first, and selected
    assert any("initialised from" in note and note.endswith("best.pt") for note in notices)


def test_average_k_best_lists_the_averaged_checkpoint(qtbot, runs):
    state, session, panel, shown = runs
    _train(qtbot, session, tiny_config())
    panel.k_spin.setValue(2)
    QTest.mouseClick(panel.average_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "averaged_top2" in _checkpoint_labels(panel), timeout=RUN_TIMEOUT_MS)
    assert Path(panel.selected_checkpoint()).name == "averaged_top2.pt" and shown == []
    qtbot.waitUntil(panel.average_button.isEnabled)


def test_averaging_a_run_without_kept_epochs_shows_why(qtbot, runs):
    state, session, panel, shown = runs
    _train(qtbot, session, tiny_config(epochs=1, keep_top_k=0))
    QTest.mouseClick(panel.average_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(shown))
    assert "at least 2" in shown[0]
    qtbot.waitUntil(panel.average_button.isEnabled)
