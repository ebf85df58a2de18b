"""Self-describing checkpoints: enough to rebuild the model, normalise inputs and resume exactly.

Saved with `torch.save` (atomically) as plain dicts of tensors and built-in types only, and
loaded with `torch.load(weights_only=True)`: nothing is ever unpickled.
"""

from __future__ import annotations

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

    def preprocessing(self) -> AugmentConfig:
        """The deterministic preprocessing the model was trained with (mean image, resize, CLAHE, normalise).

        `.build(train=False)` gives the pipeline; inference overrides fields with `dataclasses.replace`.
        """
        norm = self.normalization
        return AugmentConfig.from_dict({**norm.get("augment", {}), "mean": norm["mean"], "std": norm["std"]})

    def build_model(self) -> nn.Module:
        """The model, rebuilt through the registry and loaded with these weights."""
        from segcore.models import get_model

        model = get_model(self.model_name, num_classes=self.num_classes, in_channels=self.in_channels, **self.model_kwargs)
        model.load_state_dict(self.state_dict)
        return model

    def to_payload(self) -> dict[str, Any]:
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
            "state_dict": self.state_dict,
            "config": self.config,
            "metrics": self.metrics,
            "label_set_hash": self.label_set_hash,
            "epoch": self.epoch,
            "training_state": self.training_state,
            "extra": self.extra,
        }


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write atomically: a killed process leaves the previous file intact."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(checkpoint.to_payload(), tmp)
    return path


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated / foreign / pickled files
        raise CheckpointError(f"cannot load checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a segcore checkpoint")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was written by a newer segcore (version {payload['version']})")
    model = payload["model"]
    return Checkpoint(
        model_name=model["name"],
        model_kwargs=model["kwargs"],
        num_classes=model["num_classes"],
        in_channels=model["in_channels"],
        class_table=ClassTable.from_dict(payload["class_table"]),
        normalization=payload["normalization"],
        state_dict=payload["state_dict"],
        config=payload.get("config", {}),
        metrics=payload.get("metrics", {}),
        label_set_hash=payload.get("label_set_hash", ""),
        epoch=payload.get("epoch", 0),
        training_state=payload.get("training_state", {}),
        extra=payload.get("extra", {}),
    )


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
    from the first. Metadata comes from the first checkpoint; `extra["averaged_from"]` lists all.
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
        extra={"averaged_from": [str(p) for p in paths]},
    )
