"""Issue 27, item 12: a checkpoint with 4 KB of random bytes in its weights, or of NaN weights, was accepted by
predict, eval, export-onnx and average with exit 0. Checkpoints now carry a digest of their weights, checked
on every load, and non-finite weights are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from corpus import good_image

from segcore.cli import main
from segcore.io.images import write_image
from segcore.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

DAMAGE = 4096


def _damaged_copy(checkpoint: Path, out: Path) -> Path:
    """The checkpoint with DAMAGE random bytes written over the middle of its largest weight tensor."""
    weights = load_checkpoint(checkpoint).state_dict
    name = max(weights, key=lambda k: weights[k].numel())
    raw = weights[name].contiguous().numpy().tobytes()
    data = bytearray(checkpoint.read_bytes())
    start = data.find(raw)
    assert start >= 0 and len(raw) > DAMAGE  # the tensor is stored as is inside the zip
    middle = start + (len(raw) - DAMAGE) // 2
    data[middle : middle + DAMAGE] = np.random.default_rng(0).bytes(DAMAGE)
    out.write_bytes(bytes(data))
    return out


def _nan_copy(checkpoint: Path, out: Path) -> Path:
    ckpt = load_checkpoint(checkpoint)
    ckpt.state_dict = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                       for k, v in ckpt.state_dict.items()}
    return save_checkpoint(out, ckpt)  # a fresh digest: the weights are what was written, and still unusable


def test_damaged_weights_do_not_match_their_digest(checkpoint, tmp_path):
    damaged = _damaged_copy(checkpoint, tmp_path / "damaged.pt")
    torch.load(damaged, weights_only=True)  # torch itself reads it without a word
    with pytest.raises(CheckpointError, match=r"damaged\.pt is damaged: its weights do not match the digest"):
        load_checkpoint(damaged)


def test_nan_weights_are_refused_though_their_digest_matches(checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match=r"nan\.pt holds \d+ NaN or infinite weight\(s\) \(e\.g\. in "):
        load_checkpoint(_nan_copy(checkpoint, tmp_path / "nan.pt"))


def test_a_checkpoint_written_before_digests_still_loads(checkpoint, tmp_path):
    payload = torch.load(checkpoint, weights_only=True)
    assert payload.pop("weights_digest")
    torch.save(payload, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt").state_dict.keys() == load_checkpoint(checkpoint).state_dict.keys()


@pytest.mark.parametrize("make", [_damaged_copy, _nan_copy], ids=["damaged", "nan"])
def test_every_command_that_loads_it_refuses_it_in_one_line(checkpoint, tmp_path, capsys, make):
    bad = make(checkpoint, tmp_path / "bad.pt")
    write_image(tmp_path / "in" / "a.png", good_image())
    for argv in (
        ["predict", "--checkpoint", str(bad), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "p"),
         "--device", "cpu"],
        ["export-onnx", "--checkpoint", str(bad), "--out", str(tmp_path / "m.onnx")],
        ["average", "--out", str(tmp_path / "avg.pt"), str(bad), str(checkpoint)],
    ):
        assert main(argv) == 1, argv
        errors = capsys.readouterr().err.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith(f"segcore {argv[0]}: error: checkpoint ") and "bad.pt" in errors[0]
    assert not (tmp_path / "p").exists() and not (tmp_path / "avg.pt").exists()
