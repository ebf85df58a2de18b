"""One training run described by one dataclass, saved as config.json beside its checkpoints."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from segcore.errors import SegcoreError
from segcore.io.atomic import atomic_write_bytes

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("poly", "step", "cosine", "constant")
CLASS_WEIGHTS = ("none", "median_freq", "sqrt_median_freq")


class ConfigError(SegcoreError):
    """A training configuration is invalid."""


_RENAMED = {"num_workers": "workers"}
"""Old option names -> today's, so runs and checkpoints saved before a rename still load."""
_NUMBERS = ("aux_weight", "lr", "weight_decay", "momentum", "poly_power", "step_gamma", "warmup_epochs",
            "val_fraction", "grad_clip", "time_budget_s", "pseudo_confidence", "pseudo_after")
"""The options that are real numbers: each must be finite (None where the option allows none)."""


@dataclass
class TrainConfig:
    model: str = "unet"
    model_kwargs: dict = field(default_factory=dict)
    pretrained_backbone: bool = False
    loss: str = "ce"
    loss_kwargs: dict = field(default_factory=dict)
    class_weights: str = "none"
    """'none', 'median_freq' (weights from the training labels' class frequencies) or 'sqrt_median_freq'
    (their square roots: rare classes still lifted, but less often predicted where they are not)."""
    aux_weight: float = 0.4
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    schedule: str = "poly"
    poly_power: float = 0.9
    step_epochs: int = 10
    """'step' schedule: the learning rate is multiplied by `step_gamma` every this many epochs."""
    step_gamma: float = 0.5
    warmup_epochs: float = 0.0
    epochs: int = 20
    batch_size: int = 8
    augment: dict = field(default_factory=dict)
    """Options of `segcore.data.transforms.AugmentConfig` (crop, flips, rotation, CLAHE, ...)."""
    val_fraction: float = 0.2
    """Held out for validation when the data has no 'val' split."""
    device: str = "auto"
    amp: str = "auto"
    cpu_bf16: bool = False
    grad_clip: float | None = None
    seed: int = 0
    deterministic: bool = False
    workers: int = 0
    """Data-loading processes (0: load in the training process); the CLI's --workers."""
    sync_bn: bool = False
    keep_top_k: int = 3
    """Also keep the k best epochs (top_k/) for weight averaging; 0 keeps only best.pt and last.pt."""
    time_budget_s: float | None = None
    """Train for this long (seconds): the first epochs are timed, the run gets the epochs that fit
    (at most `epochs`; the schedule spans them) and ends at the last epoch boundary in the budget."""
    until_flat: bool = False
    """Stop once validation mIoU (training loss without validation) is no better for `patience` epochs."""
    patience: int = 5
    pseudo_labels: bool = False
    """Half-way (`pseudo_after`), the model labels the project's unlabelled images and their confident
    pixels train the rest of the run beside the user's labels (`segcore.training.pseudo`); never saved as labels."""
    pseudo_confidence: float = 0.75
    """A pseudo-labelled pixel trains only where its class probability reaches this. Half-way through a
    short run the softmax rarely passes 0.9 (median ~0.88 on the benchmark's frames): at 0.9 mostly sample
    interiors stay, and the network learnt to grow samples; at 0.75, 97 % of pixels stay, 99.8 % right
    on frames it finds."""
    pseudo_after: float = 0.5
    """The share of the run's epochs trained on the user's labels alone before pseudo-labelling."""
    one_region: bool = False
    """The frames hold one object of each class: the checkpoint's predictions keep each class's largest
    region, holes filled (`segcore.inference.regions.keep_one_region`), unless a prediction asks otherwise."""

    def validate(self) -> None:
        from segcore.data.transforms import AugmentConfig
        from segcore.models import list_models

        try:
            AugmentConfig.from_dict(self.augment)
        except ValueError as exc:  # said as what it is, before the first step that reads it
            raise ConfigError(f"augmentation: {exc}") from exc
        for name in _NUMBERS:  # NaN passes every comparison below: said here, not as a NaN loss later
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if self.weight_decay < 0 or self.aux_weight < 0 or self.warmup_epochs < 0 or (self.grad_clip or 1) <= 0:
            raise ConfigError("weight_decay, aux_weight and warmup_epochs must be 0 or more and grad_clip positive")
        if self.model not in list_models():
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(list_models())}")
        for name, value, allowed in (
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("schedule", self.schedule, SCHEDULES),
            ("class_weights", self.class_weights, CLASS_WEIGHTS),
        ):
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("epochs and batch_size must be at least 1 and lr positive")
        if self.step_epochs < 1 or not 0 < self.step_gamma <= 1:
            raise ConfigError(f"step_epochs must be at least 1 and step_gamma in (0, 1], "
                              f"got {self.step_epochs} and {self.step_gamma}")
        if self.poly_power <= 0 or not 0 <= self.momentum < 1:
            raise ConfigError(f"poly_power must be positive and momentum in [0, 1), "
                              f"got {self.poly_power} and {self.momentum}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.time_budget_s is not None and not (math.isfinite(self.time_budget_s) and self.time_budget_s > 0):
            raise ConfigError(f"time_budget_s must be a positive number of seconds, got {self.time_budget_s}")
        if self.patience < 1:
            raise ConfigError(f"patience must be at least 1 epoch, got {self.patience}")
        if not (0.5 <= self.pseudo_confidence <= 1 and 0 < self.pseudo_after < 1):
            raise ConfigError(f"pseudo_confidence must be in [0.5, 1] and pseudo_after in (0, 1), "
                              f"got {self.pseudo_confidence} and {self.pseudo_after}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = {_RENAMED.get(key, key): value for key, value in data.items()}  # configs saved before a rename
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training options: {', '.join(unknown)}")
        return cls(**data)

    def save(self, path: str | Path) -> None:
        atomic_write_bytes(path, json.dumps(self.to_dict(), indent=2).encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read training config {path}: {exc}") from exc
