"""A full disk while training: one `DiskFullError` naming the disk, earlier files whole, one line on the CLI."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from segcore.data.readers import open_dataset
from segcore.errors import DiskFullError
from segcore.training import TrainConfig, Trainer, load_checkpoint, prepare
from segcore.training.events import Failed

REPO = Path(__file__).resolve().parents[2]
REAL_SAVE = torch.save


def tiny_config(**overrides) -> TrainConfig:
    options = dict(model="unet", model_kwargs={"base_channels": 8}, epochs=2, batch_size=4, lr=1e-2,
                   augment={"hflip": 0.5}, val_fraction=0.2, seed=0, device="cpu", keep_top_k=1)
    options.update(overrides)
    return TrainConfig(**options)


def run_until_failure(squares: Path, run: Path) -> list:
    config = tiny_config()
    events: list = []
    with pytest.raises(DiskFullError, match="is full"):
        for event in Trainer(config, prepare(open_dataset("folder", squares), 0.2, 0), run).run():
            events.append(event)
    return events


def save_half_then_enospc(obj: object, f: object, *args: object, **kwargs: object) -> None:
    """What a disk filling up mid-write does: some bytes land, then the kernel says ENOSPC."""
    if obj.get("epoch", 0) < 2:
        return REAL_SAVE(obj, f, *args, **kwargs)
    if hasattr(f, "write"):
        f.write(b"PK\x03\x04 half a checkpoint")
    else:
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
    raise OSError(errno.ENOSPC, "No space left on device")


def save_to_dev_full(obj: object, f: object, *args: object, **kwargs: object) -> None:
    """torch's own behaviour on a full disk: the same save, written to /dev/full from epoch 2 on."""
    if obj.get("epoch", 0) < 2:
        return REAL_SAVE(obj, f, *args, **kwargs)
    if hasattr(f, "write"):
        with open("/dev/full", "wb") as full:
            return REAL_SAVE(obj, full, *args, **kwargs)
    return REAL_SAVE(obj, "/dev/full", *args, **kwargs)


@pytest.mark.parametrize("save", [
    save_half_then_enospc,
    pytest.param(save_to_dev_full, marks=pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")),
])
def test_a_full_disk_while_saving_a_checkpoint_keeps_the_last_one(squares, tmp_path, monkeypatch, save):
    monkeypatch.setattr(torch, "save", save)
    run = tmp_path / "run"
    events = run_until_failure(squares, run)
    failed = [e for e in events if isinstance(e, Failed)]
    assert len(failed) == 1 and events[-1] is failed[0]
    assert failed[0].error_type == "DiskFullError" and "\n" not in failed[0].error and "last.pt" in failed[0].error
    assert load_checkpoint(run / "last.pt").epoch == 1  # the previous checkpoint, whole
    assert not [p.name for p in run.rglob("*.tmp")]  # no half-written file left behind


@pytest.mark.parametrize("name", ["config.json", "metrics.jsonl"])
def test_a_full_disk_for_the_run_files_is_one_disk_full_error(squares, tmp_path, monkeypatch, name):
    real_write = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:
        # metrics.jsonl fails at epoch 2 (its second line), config.json at once
        if self.name.startswith(f".{name}.") and data.count(b"\n") >= (2 if name == "metrics.jsonl" else 0):
            real_write(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    run = tmp_path / "run"
    events = run_until_failure(squares, run)
    assert events[-1].error_type == "DiskFullError" and name in events[-1].error
    if name == "metrics.jsonl":
        assert [json.loads(line)["epoch"] for line in (run / name).read_text().splitlines()] == [1]
    else:
        assert not (run / name).exists()
    assert not [p.name for p in run.rglob("*.tmp")]


CLI = textwrap.dedent(
    """
    import errno, runpy, sys
    import torch

    real_save = torch.save

    def save(obj, f, *args, **kwargs):  # the disk fills up while epoch 2 is saved
        if obj.get("epoch", 0) < 2:
            return real_save(obj, f, *args, **kwargs)
        f.write(b"half a checkpoint") if hasattr(f, "write") else open(f, "wb").write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    torch.save = save
    sys.argv = ["segcore", *sys.argv[1:]]
    runpy.run_module("segcore", run_name="__main__", alter_sys=True)
    """
)


def test_cli_says_the_disk_is_full_in_one_line(squares, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-c", CLI, "train", "--data", str(squares), "--format", "folder", "--model", "unet",
           "--model-arg", "base_channels=8", "--epochs", "2", "--batch-size", "4", "--workers", "0", "--device", "cpu",
           "--out", str(run)]
    result = subprocess.run(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("segcore train: error: the disk holding"), result.stderr
    assert "is full" in lines[0] and "is full" not in result.stdout  # said once
    assert load_checkpoint(run / "last.pt").epoch == 1
