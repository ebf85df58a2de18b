"""Session fixtures of the robustness suite: the fork server, a tiny trained checkpoint, the corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from corpus import good_image, write_corpus
from runner import CliRunner

from segcore.io.images import write_image


@pytest.fixture(scope="session")
def cli():
    if sys.platform != "linux":
        pytest.skip("the fork server measures memory through Linux's /proc and wait4")
    runner = CliRunner()
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def checkpoint(cli: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A U-Net (8 base channels) trained for one epoch on four 32 px gray frames, through `segcore train`."""
    ws = tmp_path_factory.mktemp("train")
    mask = np.zeros(good_image().shape, np.uint8)
    mask[8:20, 10:22] = 1
    for i in range(4):
        write_image(ws / "data" / "images" / f"f{i}.png", np.roll(good_image(), 3 * i, axis=1))
        write_image(ws / "data" / "masks" / f"f{i}.png", np.roll(mask, 3 * i, axis=1))
    (ws / "data" / "classes.txt").write_text("background\nsquare\n")
    run = cli.run(["train", "--data", "data", "--format", "folder", "--model", "unet", "--model-arg", "base_channels=8",
                   "--epochs", "1", "--batch-size", "2", "--workers", "0", "--device", "cpu", "--out", "run"], ws)
    assert run.code == 0, run.stderr
    return ws / "run" / "last.pt"


@pytest.fixture(scope="session")
def corpus_dir(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root, checkpoint)
    return root
