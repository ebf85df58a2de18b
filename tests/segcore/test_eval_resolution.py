"""`eval` scores at the labels' native resolution by default, at the training resolution on request."""

from __future__ import annotations

import json

import pytest
from test_trainer import data_for, tiny_config

import segcore.training.evaluate as evaluate_module
from segcore.cli import main
from segcore.data.readers import open_dataset
from segcore.training import Trainer, load_checkpoint
from segcore.training.evaluate import evaluate


@pytest.fixture()
def half_size_run(squares, tmp_path):
    """A model trained on the 32 px squares resized to 16 px (resize=0.5)."""
    config = tiny_config(epochs=15, augment={"hflip": 0.5, "resize": 0.5}, keep_top_k=0)
    Trainer(config, data_for(squares, config), tmp_path / "run").fit()
    return tmp_path / "run" / "last.pt"


def _scored_shapes(monkeypatch) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    real_update = evaluate_module.ConfusionMatrix.update

    def update(self, pred, target):
        shapes.append((tuple(pred.shape), tuple(target.shape)))
        return real_update(self, pred, target)

    monkeypatch.setattr(evaluate_module.ConfusionMatrix, "update", update)
    return shapes


def test_a_half_resolution_model_is_scored_on_full_size_labels(squares, half_size_run, monkeypatch, capsys):
    checkpoint = load_checkpoint(half_size_run)
    samples = list(open_dataset("folder", squares))
    shapes = _scored_shapes(monkeypatch)
    native = evaluate(checkpoint, samples, device="cpu")
    assert shapes and all(shape == ((1, 32, 32), (1, 32, 32)) for shape in shapes)  # the labels' own 32 px
    shapes.clear()
    training = evaluate(checkpoint, samples, device="cpu", at_training_resolution=True)
    assert shapes and all(shape == ((1, 16, 16), (1, 16, 16)) for shape in shapes)  # the old way: labels resized
    # The upsampled prediction lies on the labels: scored natively it is about as good as at 16 px.
    assert native.miou > 0.6 and abs(native.miou - training.miou) < 0.15, (native.miou, training.miou)

    args = ["eval", "--checkpoint", str(half_size_run), "--data", str(squares), "--format", "folder",
            "--split", "all", "--device", "cpu"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["resolution"] == "labels" and result["miou"] == pytest.approx(native.miou)
    assert main([*args, "--at-training-resolution"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["resolution"] == "training" and result["miou"] == pytest.approx(training.miou)
