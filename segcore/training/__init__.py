"""Training: one config, a generator of events, self-describing checkpoints, torchrun-ready."""

from segcore.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    average_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from segcore.training.config import ConfigError, TrainConfig
from segcore.training.control import TrainingCancelled, TrainingControl
from segcore.training.data import TrainingData, prepare
from segcore.training.trainer import Trainer, TrainingError

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "TrainConfig",
    "Trainer",
    "TrainingCancelled",
    "TrainingControl",
    "TrainingData",
    "TrainingError",
    "average_checkpoints",
    "load_checkpoint",
    "prepare",
    "save_checkpoint",
]
