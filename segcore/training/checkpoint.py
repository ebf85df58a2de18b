"""Self-describing checkpoints: enough to rebuild the model, normalise inputs and resume exactly.

Saved with `torch.save` (atomically) as plain dicts of tensors and built-in types only, and
loaded with `torch.load(weights_only=True)`: nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from segcore.data.classes import ClassTable
from segcore.data.transforms import AugmentConfig
from segcore.errors import SegcoreError
from segcore.io.atomic import atomic_path, atomic_write_bytes

FORMAT = "segcore-checkpoint"
VERSION = 1


class CheckpointError(SegcoreError):
    """A checkpoint is missing, corrupt, or not a segcore checkpoint."""


@dataclass
class Checkpoint:
    model_name: str
    model_kwargs: dict
    num_classes: int
    in_channels: int
    class_table: ClassTable
    normalization: dict
    """{"mean": [...], "std": [...]} on the 0..1 scale the data pipeline uses."""
    state_dict: dict[str, torch.Tensor]
    config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    label_set_hash: str = ""
    epoch: int = 0
    training_state: dict = field(default_factory=dict)
    """optimizer / scheduler / scaler / rng / best score: only what exact resume needs."""
    extra: dict = field(default_factory=dict)
    """divisor, split ({"train": [...], "val": [...]} sample names), averaged_from, ..."""
    mean_image: torch.Tensor | None = field(default=None, compare=False)
    """The mean image the model was trained to subtract (float32, raw units), so the checkpoint
    needs no file beside it; None when training subtracted none."""
    source: str = field(default="", compare=False)
    """The file it was loaded from ("" when built in memory): named in error messages."""

    def preprocessing(self) -> AugmentConfig:
        """The deterministic preprocessing the model was trained with (mean image, resize, CLAHE, normalise).

        `.build(train=False)` gives the pipeline; inference overrides fields with `dataclasses.replace`.
        Its `channels` is how training converted gray, colour and alpha to the model's input
        (`ToChannels`); None for checkpoints saved before runs recorded it.
        """
        norm = self.normalization
        return AugmentConfig.from_dict({**norm.get("augment", {}), "mean": norm["mean"], "std": norm["std"]})

    def preprocessing_options(self) -> dict[str, Any]:
        """`preprocessing()` as `build_transforms` options, with the mean image held in the checkpoint
        (not the file it was read from, which may have moved) when it has one."""
        options = dataclasses.asdict(self.preprocessing())
        if self.mean_image is not None:
            options["mean_image"] = self.mean_image.numpy()
        return options

    def without_training_state(self) -> Checkpoint:
        """A copy for predicting and averaging only: no optimiser state (often larger than the weights)."""
        return dataclasses.replace(self, training_state={})

    def build_model(self) -> nn.Module:
        """The model, rebuilt through the registry and loaded with these weights."""
        from segcore.models import get_model

        try:
            model = get_model(self.model_name, num_classes=self.num_classes, in_channels=self.in_channels, **self.model_kwargs)
        except (TypeError, ValueError) as exc:
            where = self.source or "the checkpoint"
            raise CheckpointError(f"cannot rebuild the model {self.model_name!r} of {where}: {exc}") from exc
        problem = _weights_problem(model.state_dict(), self.state_dict)
        if problem:
            where = self.source or "the checkpoint"
            raise CheckpointError(f"the weights in {where} do not fit its model {self.model_name!r}: {problem}")
        model.load_state_dict(self.state_dict)
        return model

    def to_payload(self) -> dict[str, Any]:
        # The standard layout, whatever the training's (channels_last): a file's weights do not depend on the device.
        weights = {name: value.contiguous() for name, value in self.state_dict.items()}
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": {
                "name": self.model_name,
                "kwargs": self.model_kwargs,
                "num_classes": self.num_classes,
                "in_channels": self.in_channels,
            },
            "class_table": self.class_table.to_dict(),
            "normalization": self.normalization,
            "state_dict": weights,
            "weights_digest": weights_digest(weights),
            "config": self.config,
            "metrics": self.metrics,
            "label_set_hash": self.label_set_hash,
            "epoch": self.epoch,
            "training_state": self.training_state,
            "extra": self.extra,
            "mean_image": self.mean_image,
        }


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write atomically: a killed process or a full disk (`DiskFullError`) leaves the previous file intact."""
    path = Path(path)
    # Through a Python file: on a full disk torch's own file writer says only "unexpected pos"
    # (wording varies by version); Python's write raises OSError(ENOSPC), a sure DiskFullError.
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(checkpoint.to_payload(), fh)
    return path


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated / foreign / pickled files
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(f"cannot load checkpoint {path}: {type(exc).__name__}: {reason}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a segcore checkpoint")
    version = payload.get("version", 0)
    if not isinstance(version, int):
        raise CheckpointError(f"checkpoint {path} is damaged (version {version!r})")
    if version > VERSION:
        raise CheckpointError(f"{path} was written by a newer segcore (version {version})")
    try:
        checkpoint = _from_payload(payload, str(path))
        checkpoint.preprocessing()  # its normalisation and preprocessing must make sense too
    except (KeyError, TypeError, ValueError, AttributeError, SegcoreError) as exc:
        what = f"lacks the field {exc}" if isinstance(exc, KeyError) else f"is damaged ({exc})"
        raise CheckpointError(f"checkpoint {path} {what}") from exc
    _check_weights(checkpoint, payload.get("weights_digest"), path)
    return checkpoint


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """A digest of the weights (names, dtypes, shapes and bytes), written with them and checked on every load."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(state_dict):
        tensor = state_dict[name]
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _check_weights(checkpoint: Checkpoint, digest: Any, path: Path) -> None:
    """Refuse weights that changed since they were written, or that are not finite (a diverged run or damage)."""
    odd = [name for name, value in checkpoint.state_dict.items() if not isinstance(value, torch.Tensor)]
    if odd:
        raise CheckpointError(f"checkpoint {path} is damaged: its weight {odd[0]} is not a tensor")
    if digest is not None and digest != weights_digest(checkpoint.state_dict):  # None: written before digests
        raise CheckpointError(f"checkpoint {path} is damaged: its weights do not match the digest written with "
                              "them (a disk or copy error); use another checkpoint of the run")
    for name, tensor in checkpoint.state_dict.items():
        if tensor.is_floating_point():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise CheckpointError(f"checkpoint {path} holds {bad} NaN or infinite weight(s) (e.g. in {name}): "
                                      "the training diverged or the file is damaged")


def checkpoint_config(path: str | Path) -> dict:
    """The training config a checkpoint was saved with, its weights left on disk; {} when it cannot be read.

    Memory-maps the file, so the weights are not read: ~50 ms for a 235 MB DeepLabV3-ResNet101 checkpoint
    on 2 CPU cores, cheap enough for a dialog to call when its path changes.
    """
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a (zip) checkpoint: nothing to say here; load_checkpoint reports it in full
        return {}
    config = payload.get("config") if isinstance(payload, dict) and payload.get("format") == FORMAT else None
    return config if isinstance(config, dict) else {}


def _from_payload(payload: dict, source: str) -> Checkpoint:
    model = payload["model"]
    checkpoint = Checkpoint(
        model_name=_typed(model["name"], str, "model.name"),
        model_kwargs=_typed(model["kwargs"], dict, "model.kwargs"),
        num_classes=_typed(model["num_classes"], int, "model.num_classes"),
        in_channels=_typed(model["in_channels"], int, "model.in_channels"),
        class_table=ClassTable.from_dict(_typed(payload["class_table"], dict, "class_table")),
        normalization=_typed(payload["normalization"], dict, "normalization"),
        state_dict=_typed(payload["state_dict"], dict, "state_dict"),
        config=payload.get("config", {}),
        metrics=payload.get("metrics", {}),
        label_set_hash=payload.get("label_set_hash", ""),
        epoch=payload.get("epoch", 0),
        training_state=payload.get("training_state", {}),
        extra=payload.get("extra", {}),
        mean_image=_typed_or_none(payload.get("mean_image"), torch.Tensor, "mean_image"),
        source=source,
    )
    if checkpoint.class_table.num_classes != checkpoint.num_classes:
        table = checkpoint.class_table.num_classes
        raise ValueError(f"its class table has {table} classes, its model {checkpoint.num_classes}")
    return checkpoint


def _typed(value: Any, kind: type, name: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name} should be {kind.__name__}, not {type(value).__name__}")
    return value


def _typed_or_none(value: Any, kind: type, name: str) -> Any:
    return None if value is None else _typed(value, kind, name)


def _weights_problem(expected: dict[str, torch.Tensor], found: dict[str, Any]) -> str:
    """What keeps `found` from loading into a model whose state dict is `expected` ("" if nothing)."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    wrong = [k for k in expected
             if k in found and (not isinstance(found[k], torch.Tensor) or found[k].shape != expected[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if wrong:
        k = wrong[0]
        shape = tuple(found[k].shape) if isinstance(found[k], torch.Tensor) else type(found[k]).__name__
        parts.append(f"{len(wrong)} of the wrong shape (e.g. {k}: {shape}, the model needs {tuple(expected[k].shape)})")
    return "; ".join(parts)


class TopK:
    """The k best epochs of a run by validation mIoU, kept as top_k/epoch_NNNN.pt with an index.

    Averaging their weights (`average_checkpoints`) gives the "ensemble" model users ask for.
    """

    def __init__(self, run_dir: str | Path, k: int):
        self.dir = Path(run_dir) / "top_k"
        self.k = k
        self.index_path = self.dir / "index.json"

    def entries(self) -> list[dict]:
        """[{"path", "epoch", "miou"}] best first."""
        if not self.index_path.is_file():
            return []
        return json.loads(self.index_path.read_text(encoding="utf-8"))

    def paths(self) -> list[Path]:
        return [self.dir / e["path"] for e in self.entries()]

    def offer(self, checkpoint: Checkpoint, miou: float) -> bool:
        """Keep `checkpoint` if it is among the k best so far; returns whether it was kept."""
        entries = [e for e in self.entries() if e["epoch"] != checkpoint.epoch]
        if len(entries) >= self.k and miou <= entries[-1]["miou"]:
            return False
        name = f"epoch_{checkpoint.epoch:04d}.pt"
        save_checkpoint(self.dir / name, checkpoint)
        entries.append({"path": name, "epoch": checkpoint.epoch, "miou": miou})
        entries.sort(key=lambda e: -e["miou"])
        for dropped in entries[self.k :]:
            (self.dir / dropped["path"]).unlink(missing_ok=True)
        atomic_write_bytes(self.index_path, json.dumps(entries[: self.k], indent=1).encode())
        return True


def mask_digest(mask: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(mask).tobytes()).hexdigest()


def label_set_hash(items: Iterable[tuple[str, str]]) -> str:
    """A fingerprint of the labels a model was trained on: (image name, mask digest) pairs, order-free."""
    lines = sorted(f"{name}:{digest}" for name, digest in items)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def average_checkpoints(paths: list[str | Path]) -> Checkpoint:
    """Average the weights of several checkpoints of the same model (e.g. the k best, or seeds).

    Floating-point tensors are averaged; integer buffers (BatchNorm's step counters) are taken
    from the first. Metadata and the mean image come from the first checkpoint;
    `extra["averaged_from"]` lists all, `extra["split"]` is kept when they all share it.
    """
    if len(paths) < 1:
        raise CheckpointError("averaging needs at least one checkpoint")
    checkpoints = [load_checkpoint(p) for p in paths]
    first = checkpoints[0]
    for path, ckpt in zip(paths, checkpoints):
        if (ckpt.model_name, ckpt.num_classes, ckpt.in_channels, ckpt.model_kwargs) != (
            first.model_name, first.num_classes, first.in_channels, first.model_kwargs
        ):
            raise CheckpointError(f"{path} is a different model ({ckpt.model_name}) from {paths[0]} ({first.model_name})")
        if ckpt.state_dict.keys() != first.state_dict.keys():
            raise CheckpointError(f"{path} has different weights from {paths[0]}")
    averaged: dict[str, torch.Tensor] = {}
    for key, tensor in first.state_dict.items():
        if tensor.is_floating_point():
            averaged[key] = torch.stack([c.state_dict[key].float() for c in checkpoints]).mean(0).to(tensor.dtype)
        else:
            averaged[key] = tensor.clone()
    return Checkpoint(
        model_name=first.model_name,
        model_kwargs=first.model_kwargs,
        num_classes=first.num_classes,
        in_channels=first.in_channels,
        class_table=first.class_table,
        normalization=first.normalization,
        state_dict=averaged,
        config=first.config,
        metrics={},
        label_set_hash=first.label_set_hash,
        epoch=max(c.epoch for c in checkpoints),
        extra=_averaged_extra(checkpoints, paths),
        mean_image=first.mean_image,
    )


def _averaged_extra(checkpoints: list[Checkpoint], paths: list[str | Path]) -> dict:
    extra = {k: v for k, v in checkpoints[0].extra.items() if k != "split"}
    extra["averaged_from"] = [str(p) for p in paths]
    split = checkpoints[0].extra.get("split")
    if split is not None and all(c.extra.get("split") == split for c in checkpoints):
        extra["split"] = split
    return extra
