"""Quitting while a run trains asks first (issue 27, item 3: Ctrl+Q 20 s into a run closed at once)."""

from __future__ import annotations

import app.main_window
from segcore.project.store import ProjectStore
from segcore.training import TrainConfig

RUN_TIMEOUT_MS = 60_000


def _long_run() -> TrainConfig:
    return TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=500, batch_size=1, val_fraction=0.0,
                       augment={})


def test_quit_during_training_asks_and_keeps_training_unless_told_to_stop(qtbot, window, tiny_project, monkeypatch):
    asked: list[bool] = []
    answer = [False]

    def confirm(parent) -> bool:
        asked.append(True)
        return answer[0]

    monkeypatch.setattr(app.main_window, "confirm_quit_during_training", confirm)
    session = window.training
    with qtbot.waitSignal(session.epoch, timeout=RUN_TIMEOUT_MS):  # a real run, an epoch in
        session.start(_long_run(), name="long")

    window.close()  # "Keep training"
    assert asked == [True] and window.isVisible() and session.is_running

    answer[0] = True  # "Stop training and quit"
    window.close()
    assert asked == [True, True] and window.isVisible()  # not before the run has stopped
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=RUN_TIMEOUT_MS)
    assert not session.is_running
    with ProjectStore.open(tiny_project.root, read_only=True) as store:
        assert [(run.name, run.status) for run in store.runs()] == [("long", "cancelled")]


def test_quit_when_nothing_trains_asks_nothing(qtbot, window, monkeypatch):
    monkeypatch.setattr(app.main_window, "confirm_quit_during_training", lambda parent: 1 / 0)
    window.close()
    assert not window.isVisible()
