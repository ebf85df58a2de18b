"""The training loop on real files: it learns, resumes exactly, cancels, pauses, survives OOM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

import segcore.training.trainer as trainer_module
from segcore.cli import main
from segcore.data.readers import open_dataset
from segcore.training import (
    TrainConfig,
    Trainer,
    TrainingControl,
    TrainingError,
    average_checkpoints,
    load_checkpoint,
    prepare,
)
from segcore.training.events import BatchProgress, BatchSizeReduced, EpochMetrics, Finished, RunStarted
from segcore.training.pipeline import build_loss

REPO = Path(__file__).resolve().parents[2]


def tiny_config(**overrides) -> TrainConfig:
    options = dict(model="unet", model_kwargs={"base_channels": 8}, epochs=3, batch_size=4, lr=1e-2,
                   augment={"hflip": 0.5}, val_fraction=0.2, seed=0)
    options.update(overrides)
    return TrainConfig(**options)


def data_for(root: Path, config: TrainConfig):
    return prepare(open_dataset("folder", root), config.val_fraction, config.seed)


def test_learns_a_tiny_task_to_near_perfect_iou(squares, tmp_path):
    config = tiny_config(epochs=20)
    started = time.perf_counter()
    events = list(Trainer(config, data_for(squares, config), tmp_path / "run").run())
    seconds = time.perf_counter() - started
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.cancelled
    assert finished.best_miou > 0.95, [e.val_miou for e in epochs]
    assert epochs[-1].train_loss < epochs[0].train_loss / 3
    assert len(epochs) == 20 and seconds < 120  # "within seconds" on 2 cores; generous for loaded CI
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert progress[0].batch == 1 and progress[0].eta_s > progress[-1].eta_s >= 0
    assert all(e.images_per_s > 0 for e in progress)


def test_the_cpu_trains_in_channels_last(squares, tmp_path):
    # oneDNN's NHWC convolutions: the grayscale U-Net's step 1.25x faster in fp32, 2.3x with bf16 (bench_train.py).
    config = tiny_config(epochs=1, device="cpu")
    trainer = Trainer(config, data_for(squares, config), tmp_path / "run")
    events = list(trainer.run())
    assert isinstance(events[-1], Finished)
    weight = next(p for p in trainer.model.parameters() if p.dim() == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last)
    saved = load_checkpoint(tmp_path / "run" / "last.pt")
    assert saved.config["model"] == "unet"
    assert all(value.is_contiguous() for value in saved.state_dict.values())  # the file keeps the standard layout


def test_run_directory_is_self_describing(squares, tmp_path):
    config = tiny_config(epochs=2)
    data = data_for(squares, config)
    Trainer(config, data, tmp_path / "run").fit()
    run = tmp_path / "run"
    assert TrainConfig.load(run / "config.json") == config
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2] and lines[0]["event"] == "EpochMetrics"
    payload = torch.load(run / "last.pt", weights_only=True)  # plain data, nothing to unpickle
    assert payload["model"] == {"name": "unet", "kwargs": {"base_channels": 8}, "num_classes": 2, "in_channels": 1}
    assert payload["class_table"]["classes"][1]["name"] == "square"
    assert payload["label_set_hash"] == data.label_hash and payload["epoch"] == 2
    assert len(payload["normalization"]["mean"]) == 1 and payload["config"]["lr"] == config.lr
    ckpt = load_checkpoint(run / "best.pt")
    model = ckpt.build_model().eval()
    x = torch.randn(1, 1, 32, 32)
    assert model(x)["out"].shape == (1, 2, 32, 32)


def test_label_set_hash_follows_the_labels(squares):
    config = tiny_config()
    before = data_for(squares, config).label_hash
    mask_path = squares / "masks" / "f00.png"
    from segcore.io.images import read_image, write_image

    mask = read_image(mask_path)
    mask[0, 0] = 1 - mask[0, 0]
    write_image(mask_path, mask)
    assert data_for(squares, config).label_hash != before


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, sys.argv[3])
    from tests.segcore.test_trainer import data_for, tiny_config
    from segcore.training import Trainer
    from segcore.training.events import BatchProgress

    config = tiny_config(epochs=4)
    for event in Trainer(config, data_for(sys.argv[1], config), sys.argv[2]).run():
        if isinstance(event, BatchProgress) and event.epoch == 3 and event.batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # dies mid-epoch, after epoch 2's checkpoint
    """
)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX-only")
def test_resume_after_kill_gives_the_same_weights(squares, tmp_path):
    config = tiny_config(epochs=4)
    Trainer(config, data_for(squares, config), tmp_path / "straight").fit()

    killed = subprocess.run([sys.executable, "-c", KILLER, str(squares), str(tmp_path / "resumed"), str(REPO)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert load_checkpoint(tmp_path / "resumed" / "last.pt").epoch == 2

    events = list(Trainer(config, data_for(squares, config), tmp_path / "resumed", resume=True).run())
    assert next(e for e in events if isinstance(e, RunStarted)).start_epoch == 3
    straight = load_checkpoint(tmp_path / "straight" / "last.pt")
    resumed = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert resumed.epoch == straight.epoch == 4
    for key, value in straight.state_dict.items():
        assert torch.equal(value, resumed.state_dict[key]), key


def test_cancel_is_honoured_within_one_batch(squares, tmp_path):
    config = tiny_config(epochs=5)
    control = TrainingControl()
    events = []
    for event in Trainer(config, data_for(squares, config), tmp_path / "run", control=control).run():
        events.append(event)
        if isinstance(event, BatchProgress) and event.epoch == 2 and event.batch == 1:
            control.cancel()
    after = events[[i for i, e in enumerate(events) if isinstance(e, BatchProgress)][-1] + 1 :]
    batches = [e for e in events if isinstance(e, BatchProgress)]
    assert (batches[-1].epoch, batches[-1].batch) == (2, 1)  # no batch started after the cancel
    assert isinstance(after[-1], Finished) and after[-1].cancelled and after[-1].epochs == 2


def test_pause_holds_the_loop_until_resume(squares, tmp_path):
    config = tiny_config(epochs=2)
    control = TrainingControl()
    seen: list[BatchProgress] = []
    first = threading.Event()
    done = threading.Event()

    def consume():
        for event in Trainer(config, data_for(squares, config), tmp_path / "run", control=control).run():
            if isinstance(event, BatchProgress):
                seen.append(event)
                if len(seen) == 1:
                    control.pause()
                    first.set()
        done.set()

    thread = threading.Thread(target=consume)
    thread.start()
    assert first.wait(60)
    time.sleep(0.5)
    assert len(seen) == 1 and control.paused  # nothing ran while paused
    control.resume()
    assert done.wait(120)
    thread.join()
    assert len(seen) == 2 * 3  # 13 training images, batch 4, last partial batch dropped


def test_gpu_out_of_memory_halves_the_batch_and_continues(squares, tmp_path, monkeypatch):
    real_get_model = trainer_module.get_model

    def get_model_that_runs_out_of_memory(*args, **kwargs):
        model = real_get_model(*args, **kwargs)

        def too_big(module, inputs):
            if module.training and inputs[0].shape[0] > 2:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        model.register_forward_pre_hook(too_big)
        return model

    monkeypatch.setattr(trainer_module, "get_model", get_model_that_runs_out_of_memory)
    config = tiny_config(epochs=2, batch_size=8)
    events = list(Trainer(config, data_for(squares, config), tmp_path / "run").run())
    reduced = [e for e in events if isinstance(e, BatchSizeReduced)]
    assert [(e.old, e.new) for e in reduced] == [(8, 4), (4, 2)]
    assert isinstance(events[-1], Finished) and not events[-1].cancelled
    assert load_checkpoint(tmp_path / "run" / "last.pt").training_state["batch_size"] == 2


def test_cpu_out_of_memory_is_a_clear_error(squares, tmp_path, monkeypatch):
    real_get_model = trainer_module.get_model

    def get_model_without_memory(*args, **kwargs):
        model = real_get_model(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda m, i: (_ for _ in ()).throw(RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 9 GB"))
        )
        return model

    monkeypatch.setattr(trainer_module, "get_model", get_model_without_memory)
    config = tiny_config()
    with pytest.raises(TrainingError, match="out of memory on the CPU with batch 4"):
        list(Trainer(config, data_for(squares, config), tmp_path / "run").run())


def test_weighted_loss_and_continuing_from_a_checkpoint(squares, tmp_path):
    config = tiny_config(epochs=1, class_weights="median_freq", loss="ce+dice", optimizer="sgd", schedule="cosine",
                         warmup_epochs=0.5)
    data = data_for(squares, config)
    Trainer(config, data, tmp_path / "first").fit()
    events = list(Trainer(config, data, tmp_path / "second", init_from=tmp_path / "first" / "last.pt").run())
    started = next(e for e in events if isinstance(e, RunStarted))
    assert any("initialised from" in note for note in started.notes)


def test_square_root_class_weights_lift_rare_classes_less(squares):
    data = data_for(squares, tiny_config())
    full = build_loss(tiny_config(class_weights="median_freq"), data).loss.weight
    root = build_loss(tiny_config(class_weights="sqrt_median_freq"), data).loss.weight
    assert full.shape == root.shape == (2,) and full.max() > full.min()  # the squares: unbalanced classes
    torch.testing.assert_close(root, full.sqrt())
    assert root.max() / root.min() < full.max() / full.min()


def test_average_of_checkpoints(squares, tmp_path):
    paths = []
    for seed in (0, 1):
        config = tiny_config(epochs=1, seed=seed)
        Trainer(config, data_for(squares, config), tmp_path / f"s{seed}").fit()
        paths.append(tmp_path / f"s{seed}" / "last.pt")
    averaged = average_checkpoints(paths)
    a, b = (load_checkpoint(p).state_dict for p in paths)
    key = next(k for k, v in a.items() if v.is_floating_point() and v.ndim == 4)
    torch.testing.assert_close(averaged.state_dict[key], (a[key] + b[key]) / 2)
    assert main(["average", "--out", str(tmp_path / "avg.pt"), *map(str, paths)]) == 0
    assert load_checkpoint(tmp_path / "avg.pt").extra["averaged_from"] == [str(p) for p in paths]


def test_train_and_eval_cli(squares, tmp_path, capsys):
    run = tmp_path / "cli_run"
    rc = main(["train", "--data", str(squares), "--format", "folder", "--model", "unet", "--model-arg", "base_channels=8",
               "--epochs", "2", "--batch-size", "4", "--lr", "0.01", "--aug", "hflip,vflip,rot=10", "--workers", "0",
               "--out", str(run)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "epoch 2: train loss" in out and "val mIoU" in out
    rc = main(["eval", "--checkpoint", str(run / "last.pt"), "--data", str(squares), "--format", "folder", "--split", "all"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"miou", "pixel_acc", "mean_class_acc", "per_class_iou"}
    assert set(result["per_class_iou"]) == {"background", "square"} and 0 <= result["miou"] <= 1


def test_two_process_ddp_with_gloo(squares, tmp_path):
    run = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "segcore", "-v",
           "train", "--data", str(squares), "--format", "folder", "--model", "unet", "--model-arg", "base_channels=8",
           "--epochs", "2", "--batch-size", "2", "--workers", "0", "--device", "cpu", "--out", str(run)]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "rank 0/2 joined the gloo process group" in log and "rank 1/2 joined the gloo process group" in log
    assert "rank 0/2 left the process group" in log and "rank 1/2 left the process group" in log  # none left to exit
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]  # rank 0 alone writes
    assert load_checkpoint(run / "last.pt").epoch == 2


def test_top_k_epochs_are_kept_and_averaged(squares, tmp_path):
    from segcore.training.checkpoint import TopK

    config = tiny_config(epochs=4, keep_top_k=2)
    events = list(Trainer(config, data_for(squares, config), tmp_path / "run").run())
    by_epoch = {e.epoch: e.val_miou for e in events if isinstance(e, EpochMetrics)}
    kept = TopK(tmp_path / "run", 2).entries()
    best_two = sorted(by_epoch, key=lambda e: -by_epoch[e])[:2]
    assert [e["epoch"] for e in kept] == best_two
    assert sorted(p.name for p in (tmp_path / "run" / "top_k").glob("*.pt")) == sorted(e["path"] for e in kept)
    assert main(["average", "--out", str(tmp_path / "avg.pt"), "--run", str(tmp_path / "run")]) == 0
    assert len(load_checkpoint(tmp_path / "avg.pt").extra["averaged_from"]) == 2
