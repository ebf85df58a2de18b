"""Training options from the seeds (issue 14): rectangular crops, the step schedule's factor and
interval, SGD momentum and poly power, CLAHE with mean-image subtraction; self-contained
checkpoints: the mean image inside, no optimiser state outside last.pt, ONNX metadata."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from synthetic import write_squares_dataset

from segcore.cli import main
from segcore.data.normalization import compute_mean_image
from segcore.data.transforms import AugmentConfig
from segcore.io.images import read_image
from segcore.training import TrainConfig, load_checkpoint
from segcore.training.optim import lr_factor

TINY = ["--model", "unet", "--model-arg", "base_channels=8", "--batch-size", "4", "--workers", "0"]


def test_rectangular_crop_step_schedule_momentum_poly_power_one_region_and_invert_flags(squares, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", str(squares), "--format", "folder", "--out", str(run), *TINY, "--epochs", "2",
                 "--crop", "16x24", "--optimizer", "sgd", "--momentum", "0.8", "--lr", "0.01",
                 "--schedule", "step", "--step-size", "1", "--step-gamma", "0.1", "--poly-power", "2",
                 "--one-region", "--aug", "hflip,invert=0.3"]) == 0
    config = TrainConfig.load(run / "config.json")
    assert config.augment["invert"] == 0.3 and config.augment["hflip"] == 0.5
    assert config.one_region and load_checkpoint(run / "best.pt").config["one_region"]  # predictions follow it
    assert config.augment["crop"] == [16, 24]
    assert (config.step_epochs, config.step_gamma, config.momentum, config.poly_power) == (1, 0.1, 0.8, 2.0)
    image, _ = AugmentConfig.from_dict(config.augment).build(train=True)(
        read_image(squares / "images" / "f00.png"), np.zeros((32, 32), np.uint8), np.random.default_rng(0))
    assert tuple(image.shape) == (1, 16, 24)  # height x width
    lrs = [json.loads(line)["lr"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert lrs == pytest.approx([0.01, 0.001])  # x0.1 after each epoch
    state = load_checkpoint(run / "last.pt").training_state["optimizer"]
    assert state["param_groups"][0]["momentum"] == 0.8


def test_a_bad_augmentation_option_is_reported_as_one_and_nothing_is_written(squares, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(squares), "--format", "folder", "--out", str(run), *TINY, "--epochs", "1",
                 "--aug", "invert=2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "augmentation: invert probability must be in [0, 1]" in err
    assert "cannot build model" not in err  # the model was never the problem
    assert not (run / "best.pt").exists()


def test_the_voc_step_recipe_and_poly_power():
    voc = TrainConfig(schedule="step", step_epochs=50, step_gamma=0.1, epochs=100)
    assert [lr_factor(voc, e) for e in (0, 49.9, 50, 99)] == pytest.approx([1, 1, 0.1, 0.1])
    poly = TrainConfig(schedule="poly", poly_power=2.0, epochs=10)
    assert lr_factor(poly, 5) == pytest.approx(0.25)


def test_clahe_with_mean_image_trains_and_the_checkpoint_predicts_after_moving(tmp_path):
    root = write_squares_dataset(tmp_path / "squares")
    mean_path = tmp_path / "mean.npy"
    np.save(mean_path, compute_mean_image(read_image(p) for p in sorted((root / "images").glob("*.png"))))
    run = tmp_path / "run"
    assert main(["train", "--data", str(root), "--format", "folder", "--out", str(run), *TINY, "--epochs", "1",
                 "--aug", f"hflip,clahe=2,mean-image={mean_path}"]) == 0
    best = load_checkpoint(run / "best.pt")
    assert best.preprocessing().clahe == 2.0
    np.testing.assert_array_equal(best.mean_image.numpy(), np.load(mean_path))

    moved = tmp_path / "elsewhere" / "model.pt"
    moved.parent.mkdir()
    shutil.move(run / "best.pt", moved)
    mean_path.unlink()
    shutil.rmtree(run)
    rc = main(["predict", "--checkpoint", str(moved), "--input", str(root / "images"), "--out", str(tmp_path / "out"),
               "--workers", "0", "--precision", "fp32"])
    assert rc == 0 and len(list((tmp_path / "out" / "palette").glob("*.png"))) == 16
    assert main(["eval", "--checkpoint", str(moved), "--data", str(root), "--format", "folder", "--split", "all"]) == 0


def test_only_last_pt_carries_the_optimiser_state(squares, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", str(squares), "--format", "folder", "--out", str(run), *TINY, "--epochs", "3",
                 "--keep-top-k", "3", "--lr", "0.01"]) == 0
    last = run / "last.pt"
    assert "optimizer" in load_checkpoint(last).training_state
    others = [run / "best.pt", *sorted((run / "top_k").glob("epoch_*.pt"))]
    assert len(others) >= 2
    for path in others:
        assert load_checkpoint(path).training_state == {}, path
        assert path.stat().st_size < 0.6 * last.stat().st_size, path  # AdamW's two moments per weight are gone
    assert main(["average", "--out", str(tmp_path / "avg.pt"), "--run", str(run)]) == 0


def test_onnx_metadata_props_carry_class_table_normalisation_and_preprocessing(squares, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    run = tmp_path / "run"
    assert main(["train", "--data", str(squares), "--format", "folder", "--out", str(run), *TINY, "--epochs", "1",
                 "--aug", "clahe=3"]) == 0
    assert main(["export-onnx", "--checkpoint", str(run / "best.pt"), "--out", str(tmp_path / "m.onnx"),
                 "--height", "32", "--width", "32", "--no-verify"]) == 0
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    ckpt = load_checkpoint(run / "best.pt")
    assert json.loads(props["segcore.class_table"]) == ckpt.class_table.to_dict()
    assert json.loads(props["segcore.normalization"])["mean"] == ckpt.normalization["mean"]
    preprocessing = json.loads(props["segcore.preprocessing"])
    assert preprocessing["clahe"] == 3.0 and preprocessing["channels"] == 1
    assert preprocessing["intensity"] == ckpt.preprocessing().intensity
    sidecar = json.loads((tmp_path / "m.onnx.json").read_text())
    assert {f"segcore.{k}" for k in sidecar} == set(props)
