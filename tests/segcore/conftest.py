"""Shared fixtures for engine tests: small real datasets written to disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic import write_squares_dataset

from segcore.data.readers import open_dataset
from segcore.training import Checkpoint, TrainConfig, Trainer, load_checkpoint, prepare


@pytest.fixture()
def squares(tmp_path: Path) -> Path:
    return write_squares_dataset(tmp_path / "squares")


@pytest.fixture(scope="session")
def squares_checkpoint(tmp_path_factory) -> Checkpoint:
    """A U-Net trained for a few seconds on bright squares (class 1) on dark noise (class 0); trained once."""
    root = write_squares_dataset(tmp_path_factory.mktemp("data") / "squares", n=24, size=48)
    config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=20, batch_size=4, lr=1e-2)
    run = tmp_path_factory.mktemp("run")
    finished = Trainer(config, prepare(open_dataset("folder", root), 0.2, 0), run).fit()
    assert finished.best_miou > 0.9
    return load_checkpoint(run / "best.pt")
