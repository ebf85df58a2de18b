"""Train for a time or until the run stops improving: the plan, the stop, resume, the CLI's durations."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from test_trainer import data_for, tiny_config

from segcore.cli import main
from segcore.data.classes import ClassTable
from segcore.project.defaults import default_config
from segcore.project.store import ProjectStore
from segcore.training import ConfigError, TrainConfig, Trainer, TrainingControl, load_checkpoint
from segcore.training.budget import DurationError, EpochBudget, Plan, Plateau, parse_duration
from segcore.training.events import BatchProgress, EpochMetrics, Finished, RunStarted, SchedulePlanned
from segcore.training.optim import lr_factor


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("5m", 300), ("20 min", 1200), ("1h", 3600),
                                               ("1h30m", 5400), ("4:00", 240), ("1:00:00", 3600), ("45", 45)])
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 parsecs", "m5", "-3m", "0s", "5m later"])
def test_unreadable_durations_are_refused(text):
    with pytest.raises(DurationError):
        parse_duration(text)


def test_the_plan_fills_the_budget_and_the_cap_binds():
    budget = EpochBudget(300, cap=100)
    plan = budget.plan(1, elapsed_s=10.0, epoch_s=8.0)  # 290 s left: 36 more epochs of 8 s
    assert (plan.epochs, plan.capped) == (37, False)
    assert budget.describe(plan) == "budget 5:00: ~37 epochs of 8.0 s"
    assert budget.plan(2, elapsed_s=16.0, epoch_s=6.0).epochs == 2 + 47  # the quicker second epoch refines it
    assert budget.plan(1, elapsed_s=1.0, epoch_s=0.5).capped  # 600 epochs would fit; 100 is the cap
    assert EpochBudget(5, cap=100).plan(1, elapsed_s=9.0, epoch_s=9.0).epochs == 1  # over at once: stop there
    budget = EpochBudget(300, cap=100)
    assert budget.stop_reason(1, elapsed_s=295.0, epoch_s=8.0) is None  # not planned yet: nothing to go by
    budget.plan(1, elapsed_s=8.0, epoch_s=8.0)
    assert "time budget 5:00 reached" in budget.stop_reason(36, elapsed_s=295.0, epoch_s=8.0)  # would end at 303
    assert budget.stop_reason(36, elapsed_s=291.0, epoch_s=8.0) is None  # ends at 299: still inside
    assert budget.stop_reason(30, elapsed_s=250.0, epoch_s=60.0)  # a slow last epoch counts too


def test_the_schedule_spans_the_planned_epochs():
    config = tiny_config(epochs=100, schedule="poly")
    assert lr_factor(config, 9.99, total_epochs=10) < 0.01 < lr_factor(config, 9.99)
    assert lr_factor(tiny_config(schedule="cosine"), 5.0, total_epochs=10) == pytest.approx(0.5)


def test_the_new_options_are_validated():
    for bad in (dict(time_budget_s=0.0), dict(time_budget_s=float("nan")), dict(patience=0)):
        with pytest.raises(ConfigError):
            tiny_config(**bad).validate()
    tiny_config(time_budget_s=60.0, until_flat=True, patience=3).validate()


def test_a_time_budget_ends_training_on_time_within_one_epoch(squares, tmp_path):
    budget = 4.0
    config = tiny_config(epochs=10_000, time_budget_s=budget, keep_top_k=0)
    data = data_for(squares, config)
    started = time.perf_counter()
    boundaries: list[float] = []
    events = []
    for event in Trainer(config, data, tmp_path / "run").run():
        events.append(event)
        if isinstance(event, (RunStarted, EpochMetrics, Finished)):
            boundaries.append(time.perf_counter() - started)
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.cancelled
    plans = [e for e in events if isinstance(e, SchedulePlanned)]
    assert plans and plans[0].after_epoch == 1 and plans[0].message.startswith("budget 0:04: ~")
    longest_epoch = max(b - a for a, b in zip(boundaries, boundaries[1:]))
    # Never more than one epoch past the budget, and no sooner than an epoch before it unless the plan was done.
    assert boundaries[-1] <= budget + longest_epoch + 0.5, (boundaries, plans)
    assert finished.epochs == plans[-1].epochs or boundaries[-1] >= budget - 2 * longest_epoch, (boundaries, plans)
    assert finished.epochs < config.epochs  # the budget, not the cap, ended it
    if not finished.reason and finished.epochs > 2:  # ended as planned: the schedule ran down with the budget
        last_lr = [e.lr for e in events if isinstance(e, BatchProgress)][-1]
        assert last_lr < 0.5 * config.lr


def _optimistic_plan(self, epoch, elapsed_s, epoch_s):
    self.epoch_seconds = 0.001
    return Plan(500, 0.001, False)


def test_the_eta_never_reads_past_the_budget(squares, tmp_path, monkeypatch):
    # The plan says 500 epochs fit; each takes far longer than it thought. The budget still ends the run, so the
    # ETA a user reads ("ETA 5:42" for a 4-minute run) must not promise more than what is left of it.
    monkeypatch.setattr(EpochBudget, "plan", _optimistic_plan)
    budget = 2.0
    config = tiny_config(epochs=10_000, time_budget_s=budget, keep_top_k=0)
    events = list(Trainer(config, data_for(squares, config), tmp_path / "run").run())
    assert any(isinstance(e, SchedulePlanned) and e.epochs == 500 for e in events)
    etas = [e.eta_s for e in events if isinstance(e, BatchProgress)]
    assert etas and max(etas) <= budget
    assert events[-1].epochs < 500 and "time budget" in events[-1].reason  # the budget, not the plan, ended it


def test_until_flat_stops_when_validation_stops_improving(squares, tmp_path):
    config = tiny_config(epochs=30, lr=1e-9, until_flat=True, patience=2, keep_top_k=0)  # ~no learning: flat at once
    events = list(Trainer(config, data_for(squares, config), tmp_path / "run").run())
    finished = events[-1]
    mious = [e.val_miou for e in events if isinstance(e, EpochMetrics)]
    assert isinstance(finished, Finished) and finished.epochs == len(mious) < config.epochs
    assert "validation mIoU" in finished.reason and "no better for 2 epochs" in finished.reason
    best_before = max(mious[:-2])
    assert all(m <= best_before + 1e-3 for m in mious[-2:])  # the last two epochs brought nothing


def test_until_flat_without_validation_watches_the_training_loss(squares, tmp_path):
    config = tiny_config(epochs=30, lr=1e-9, until_flat=True, patience=2, val_fraction=0.0, keep_top_k=0)
    finished = list(Trainer(config, data_for(squares, config), tmp_path / "run").run())[-1]
    assert finished.epochs < config.epochs and "training loss" in finished.reason


def test_plateau_counts_epochs_without_a_better_score():
    plateau = Plateau(2, "max")
    assert [plateau.update(e, v) for e, v in enumerate([0.5, 0.6, 0.6005, 0.61], 1)] == [True, True, False, True]
    plateau.update(5, 0.2)
    assert not plateau.flat
    plateau.update(6, 0.3)
    assert plateau.flat and "epoch 4" in plateau.reason()
    again = Plateau(2, "max")
    again.load_state_dict(plateau.state_dict())
    assert again.flat


def test_time_paused_does_not_count_against_the_budget(squares, tmp_path):
    control = TrainingControl()
    trainer = Trainer(tiny_config(time_budget_s=60.0), data_for(squares, tiny_config()), tmp_path / "run",
                      control=control)
    trainer._clock, trainer._paused_s = time.perf_counter(), 0.0
    control.pause()
    threading.Timer(0.3, control.resume).start()
    trainer._check_control()  # what the loop does before every batch: here it waits for the resume
    assert trainer._paused_s >= 0.25 and trainer._elapsed() < time.perf_counter() - trainer._clock - 0.25


def _fixed_plan(self, epoch, elapsed_s, epoch_s):
    self.epoch_seconds = 0.01
    return Plan(6, 0.01, False)


def test_a_resumed_budget_run_keeps_its_epoch_count_and_its_weights(squares, tmp_path, monkeypatch):
    monkeypatch.setattr(EpochBudget, "plan", _fixed_plan)  # the first epochs' timing says: 6 epochs fit
    monkeypatch.setattr(EpochBudget, "stop_reason", lambda self, epoch, elapsed_s, epoch_s: None)
    config = tiny_config(epochs=1000, time_budget_s=3600.0, keep_top_k=0)
    straight = list(Trainer(config, data_for(squares, config), tmp_path / "straight").run())
    assert straight[-1].epochs == 6 and [e.epochs for e in straight if isinstance(e, SchedulePlanned)] == [6]

    control = TrainingControl()
    for event in Trainer(config, data_for(squares, config), tmp_path / "resumed", control=control).run():
        if isinstance(event, BatchProgress) and (event.epoch, event.batch) == (3, 1):
            control.cancel()
    assert event.cancelled and load_checkpoint(tmp_path / "resumed" / "last.pt").epoch == 2
    monkeypatch.undo()  # the resumed run must not time itself again
    events = list(Trainer(config, data_for(squares, config), tmp_path / "resumed", resume=True).run())
    started = next(e for e in events if isinstance(e, RunStarted))
    assert (started.start_epoch, started.epochs) == (3, 6) and not any(isinstance(e, SchedulePlanned) for e in events)
    assert events[-1].epochs == 6
    a = load_checkpoint(tmp_path / "straight" / "last.pt").state_dict
    b = load_checkpoint(tmp_path / "resumed" / "last.pt").state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)  # the schedule after resuming is the planned one


def test_train_cli_takes_a_time_or_until_flat(squares, tmp_path, capsys):
    common = ["train", "--data", str(squares), "--format", "folder", "--model-arg", "base_channels=8",
              "--batch-size", "4", "--workers", "0", "--keep-top-k", "0"]
    assert main([*common, "--time", "3s", "--epochs", "1000", "--out", str(tmp_path / "timed")]) == 0
    out = capsys.readouterr().out
    assert "budget 0:03: ~" in out
    assert TrainConfig.load(tmp_path / "timed" / "config.json").time_budget_s == 3.0
    assert main([*common, "--until-flat", "--patience", "2", "--lr", "1e-9", "--epochs", "30",
                 "--out", str(tmp_path / "flat")]) == 0
    assert "stopped improving" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # argparse's usage error, naming the option
        main([*common, "--time", "5 parsecs", "--out", str(tmp_path / "bad")])
    assert refused.value.code == 2 and "argument --time: cannot read the duration '5 parsecs'" in capsys.readouterr().err


def test_the_defaults_pick_a_budget_that_suits_the_device(tmp_path):
    with ProjectStore.create(tmp_path / "gray", ClassTable.from_names(["background", "sample"])) as store:
        for i in range(8):
            record = store.add_image_array(f"f{i}", np.full((64, 64), 10 * i, np.uint8))
            store.save_mask(record.id, np.zeros((64, 64), np.uint8))
        cpu, gpu = default_config(store, device="cpu"), default_config(store, device="cuda")
    assert cpu.time_budget_s == 240.0 and not cpu.until_flat  # 8 boxed frames train in 4 minutes on a CPU
    assert gpu.time_budget_s < cpu.time_budget_s and cpu.epochs >= 10  # the epochs stay, as the cap
    with ProjectStore.create(tmp_path / "rgb", ClassTable.from_names(["background", "car"])) as store:
        store.add_image_array("a", np.zeros((64, 64, 3), np.uint8))
        assert default_config(store, device="cpu").time_budget_s == 1200.0
