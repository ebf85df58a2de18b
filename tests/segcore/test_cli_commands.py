"""CLI completeness (issue 14): add-images, eval without splits and on the run's own split, project
runs from `train --format project` (from the project's own defaults, issue 27), `project info --json`, predict
without uncertainty, -v after the command, `mean-image`, and the pretrained-weights message in the CLI's words."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import write_squares_dataset

from segcore.cli import build_parser, main
from segcore.cli.train import AUG_LIST_KEYS, parse_aug, project_config
from segcore.data.classes import ClassTable
from segcore.data.normalization import compute_mean_image
from segcore.io.images import read_image, write_image
from segcore.project.defaults import default_config
from segcore.project.store import ImageStatus, ProjectStore
from segcore.training import load_checkpoint

TINY = ["--model", "unet", "--model-arg", "base_channels=8", "--epochs", "1", "--batch-size", "4", "--workers", "0",
        "--lr", "0.01"]


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory) -> tuple[Path, Path]:
    """(squares folder dataset without splits, the run folder of one CLI training epoch on it)."""
    root = write_squares_dataset(tmp_path_factory.mktemp("data") / "squares")
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--data", str(root), "--format", "folder", "--out", str(run), *TINY]) == 0
    return root, run


def _eval(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["eval", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_scores_data_without_splits_and_repeats_the_runs_split(folder_run, capsys):
    root, run = folder_run
    data = ["--data", str(root), "--format", "folder"]
    assert _eval(capsys, "--checkpoint", str(run / "best.pt"), *data)["images"] == 16  # all of it
    held_out = json.loads((run / "split.json").read_text())["val"]
    assert len(held_out) == 3  # 0.2 of 16
    best = load_checkpoint(run / "best.pt")
    assert best.extra["split"]["val"] == held_out
    result = _eval(capsys, "--checkpoint", str(run / "best.pt"), *data, "--split", "val")
    assert result["images"] == 3
    assert result["miou"] == pytest.approx(best.metrics["miou"], abs=1e-6)  # the very images validation scored
    assert _eval(capsys, "--checkpoint", str(run / "best.pt"), *data, "--split", "train")["images"] == 13


def test_train_format_project_is_recorded_in_the_project(tmp_path, capsys):
    project = tmp_path / "proj"
    root = write_squares_dataset(tmp_path / "squares")
    assert main(["project", "import", str(project), str(root), "--from", "folder"]) == 0
    assert main(["train", "--data", str(project), "--format", "project", *TINY]) == 0
    assert "recorded as run 1" in capsys.readouterr().out
    with ProjectStore.open(project) as store:
        (run,) = store.runs()
        assert run.status == "finished" and run.checkpoint_dir == "runs/0001" and run.best_score is not None
        assert sorted(run.split["train"] + run.split["val"]) == [f"f{i:02d}" for i in range(16)]
        assert store.run_metrics(run.id)[1]["val_miou"] == run.best_score
    result = _eval(capsys, "--checkpoint", str(project / "runs" / "0001" / "best.pt"), "--data", str(project),
                   "--format", "project", "--split", "val")
    assert result["images"] == len(run.split["val"])

    out = tmp_path / "elsewhere"
    assert main(["train", "--data", str(project), "--format", "project", "--out", str(out), *TINY]) == 0
    with ProjectStore.open(project) as store:
        assert store.runs()[-1].checkpoint_dir == str(out.resolve()) and (out / "best.pt").is_file()


def test_project_add_images_and_info_json(tmp_path, capsys):
    project = tmp_path / "proj"
    assert main(["project", "create", str(project), "--labels", "camvid"]) == 0
    rng = np.random.default_rng(0)
    frames = tmp_path / "frames"
    for name in ("a", "b", "c"):
        write_image(frames / f"{name}.png", rng.integers(0, 255, (12, 10), dtype=np.uint8))
    shutil.copyfile(frames / "a.png", frames / "dup.png")  # the same pixels again
    (frames / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    write_image(tmp_path / "extra.png", rng.integers(0, 255, (12, 10), dtype=np.uint8))
    capsys.readouterr()
    rc = main(["project", "add-images", str(project), str(frames), str(tmp_path / "extra.png")])
    out = capsys.readouterr().out
    assert rc == 3  # an unreadable file was skipped
    assert "added 4 of 6 images" in out and "skipped bad.png" in out and "not added again: dup.png" in out
    with ProjectStore.open(project) as store:
        assert sorted(r.name for r in store.images(ImageStatus.UNLABELLED)) == ["a", "b", "c", "extra"]

    assert main(["project", "info", str(project), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["images"] == 4 and info["statuses"] == {"unlabelled": 4} and info["runs"] == []
    assert info["classes"][0] == "Sky" and info["ignore_index"] == 255


def test_predict_without_uncertainty_counts_every_image_and_writes_no_scores(folder_run, tmp_path, capsys):
    _, run = folder_run
    for i in range(3):
        write_image(tmp_path / "in" / f"t{i}.png", np.full((32, 40), 40 * i, np.uint8))
    rc = main(["predict", "--checkpoint", str(run / "best.pt"), "--input", str(tmp_path / "in"),
               "--out", str(tmp_path / "out"), "--no-uncertainty", "--workers", "0"])
    out = capsys.readouterr().out
    assert rc == 0 and "predicted 3 of 3 images" in out and "uncertainty" not in out
    assert not (tmp_path / "out" / "scores.json").exists()
    assert len(list((tmp_path / "out" / "palette").glob("*.png"))) == 3


def test_verbose_is_accepted_after_the_command(tmp_path, capsys):
    parser = build_parser()
    assert parser.parse_args(["project", "info", "p", "-v"]).verbose
    assert parser.parse_args(["-v", "project", "info", "p"]).verbose  # before it still counts
    assert not parser.parse_args(["project", "info", "p"]).verbose
    assert parser.parse_args(["convert", "a", "b", "--from", "voc", "--to", "folder", "--verbose"]).verbose
    assert main(["project", "create", str(tmp_path / "p"), "--labels", "voc", "-v"]) == 0


def test_mean_image_command(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for i in range(4):
        write_image(tmp_path / "seq" / f"f{i}.png", rng.integers(0, 65535, (9, 11), dtype=np.uint16))
    assert main(["mean-image", "--input", str(tmp_path / "seq"), "--out", str(tmp_path / "m" / "mean.npy")]) == 0
    expected = compute_mean_image(read_image(p) for p in sorted((tmp_path / "seq").glob("*.png")))
    np.testing.assert_array_equal(np.load(tmp_path / "m" / "mean.npy"), expected)
    assert "mean of 4 frames (9x11)" in capsys.readouterr().out
    write_image(tmp_path / "seq" / "odd.png", np.zeros((5, 5), np.uint16))
    assert main(["mean-image", "--input", str(tmp_path / "seq"), "--out", str(tmp_path / "m2.npy")]) == 1
    assert "cannot average" in capsys.readouterr().err


def test_missing_pretrained_weights_name_the_cli_flag(squares, tmp_path, capsys):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))  # empty: no weights cached
    try:
        rc = main(["train", "--data", str(squares), "--format", "folder", "--out", str(tmp_path / "run"),
                   "--model", "fcn_resnet18", "--pretrained", "--epochs", "1", "--workers", "0"])
    finally:
        torch.hub.set_dir(old)
    err = capsys.readouterr().err
    assert rc == 1 and "leave out --pretrained" in err and "pretrained_backbone" not in err


def _gray_project(root: Path) -> Path:
    """Eight labelled 32 x 32 grayscale frames: a small interferogram project."""
    rng = np.random.default_rng(0)
    with ProjectStore.create(root, ClassTable.from_names(["background", "sample"])) as store:
        for i in range(8):
            record = store.add_image_array(f"f{i}", (rng.random((32, 32)) * 255).astype(np.uint8))
            mask = np.zeros((32, 32), np.uint8)
            mask[8:20, 10:22] = 1
            store.save_mask(record.id, mask)
    return root


def test_train_format_project_starts_from_the_projects_defaults(tmp_path):
    # The dataset defaults (whole frames, no resize, no budget, a plain U-Net) OOM-killed a project of 1024-px
    # frames; a project run starts where Train in the app does, and the options given replace only their own.
    project = _gray_project(tmp_path / "proj")
    with ProjectStore.open(project) as store:
        defaults = default_config(store, device="cpu")
    assert main(["train", "--data", str(project), "--format", "project", "--epochs", "1", "--lr", "0.005",
                 "--workers", "0", "--device", "cpu"]) == 0
    with ProjectStore.open(project) as store:
        (run,) = store.runs()
    recorded = run.config
    assert recorded["augment"] == defaults.augment  # fringe analysis, percentiles, crops: the project's
    assert (recorded["model"], recorded["model_kwargs"], recorded["loss"]) == ("unet", defaults.model_kwargs, "ce+dice")
    assert (recorded["epochs"], recorded["lr"], recorded["time_budget_s"]) == (1, 0.005, None)  # given; --epochs alone
    assert recorded["batch_size"] == defaults.batch_size


def test_train_format_project_options_replace_only_their_own(tmp_path):
    project = _gray_project(tmp_path / "proj")
    args = build_parser().parse_args(["train", "--data", str(project), "--format", "project", "--model", "fcn8s",
                                      "--aug", "hflip", "--crop", "16", "--time", "2m", "--epochs", "50"])
    with ProjectStore.open(project) as store:
        defaults = default_config(store, device="auto")
        config = project_config(store, args)
    assert config.model == "fcn8s" and config.model_kwargs == {}  # the U-Net's width is not another network's
    # --aug is the run's augmentation (only hflip), --crop its crop; the project's intensities and analysis stay
    kept = {k: v for k, v in defaults.augment.items() if k not in AUG_LIST_KEYS}
    assert config.augment == {**kept, "hflip": 0.5, "crop": 16}
    assert config.augment["fringe_features"] and "rotation" not in config.augment
    assert set(parse_aug("hflip,vflip,invert,rot=9,scale=1:2,jitter,clahe,mean-image=m.npy")) == AUG_LIST_KEYS
    assert (config.epochs, config.time_budget_s) == (50, 120)  # with --time, --epochs caps the run
    assert config.loss == defaults.loss and config.batch_size == defaults.batch_size
