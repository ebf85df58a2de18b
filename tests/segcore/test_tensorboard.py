"""Every training run writes TensorBoard logs when tensorboard is installed: a project run (the app's), `segcore train`
and a Trainer run from Python alike (the trainer writes them)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from segcore.data.classes import ClassTable
from segcore.project.runs import run_dir, train_project
from segcore.project.store import ProjectStore
from segcore.project.transfer import project_dataset
from segcore.training import TrainConfig, Trainer, prepare
from segcore.training.events import Finished
from segcore.training.tensorboard import SUBDIR

CONFIG = dict(model="unet", model_kwargs={"base_channels": 4}, epochs=2, batch_size=2, val_fraction=0.25, seed=0,
              keep_top_k=0)


@pytest.fixture()
def store(tmp_path):
    rng = np.random.default_rng(0)
    with ProjectStore.create(tmp_path / "proj", ClassTable.from_names(["background", "square"])) as store:
        for i in range(4):
            image = (rng.random((32, 32)) * 60).astype(np.uint8)
            mask = np.zeros((32, 32), np.uint8)
            mask[8:20, 10:24] = 1
            store.save_mask(store.add_image_array(f"f{i}", image + 150 * mask).id, mask)
        yield store


def _train(store: ProjectStore) -> Finished:
    *_, finished = train_project(store, TrainConfig(**CONFIG))
    assert isinstance(finished, Finished) and not finished.cancelled
    return finished


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_a_project_run_writes_tensorboard_scalars(store):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _train(store)
    [run] = store.runs()
    board = EventAccumulator(str(run_dir(store, run) / SUBDIR))
    board.Reload()
    assert {"train_loss", "val_miou", "lr"} <= set(board.Tags()["scalars"])
    assert [scalar.step for scalar in board.Scalars("val_miou")] == [1, 2]


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_a_trainer_run_from_python_writes_tensorboard_scalars_once(tmp_path, store):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(TrainConfig(**CONFIG), prepare(project_dataset(store), 0.25, 0), tmp_path / "run").fit()
    [events] = (tmp_path / "run" / SUBDIR).iterdir()  # one writer: not one per sink
    board = EventAccumulator(str(tmp_path / "run" / SUBDIR))
    board.Reload()
    assert [scalar.step for scalar in board.Scalars("train_loss")] == [1, 2]


def test_a_project_run_trains_without_tensorboard(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import raises ModuleNotFoundError
    _train(store)
    [run] = store.runs()
    assert run.status == "finished"
    assert not (run_dir(store, run) / SUBDIR).exists()
