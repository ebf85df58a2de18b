"""Optimizers and learning-rate schedules.

The schedule is a pure function of progress measured in epochs (e.g. 3.25 = a quarter into the
fourth epoch), set before every step: it survives a batch-size change after an out-of-memory
error and needs no state of its own to resume exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from segcore.training.config import TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on biases and normalisation weights (standard practice; decaying them hurts).
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    return torch.optim.AdamW(groups, lr=config.lr)


def lr_factor(config: TrainConfig, progress: float, total_epochs: int | None = None) -> float:
    """Multiplier of the base learning rate after `progress` epochs of training.

    The schedule spans `total_epochs` (default `config.epochs`): a run with a time budget passes
    the epochs that fit it, so poly and cosine reach their end when the budget does.
    """
    if progress < config.warmup_epochs:
        return max(progress / config.warmup_epochs, 1e-3)
    total = config.epochs if total_epochs is None else total_epochs
    span = max(total - config.warmup_epochs, 1e-9)
    done = min((progress - config.warmup_epochs) / span, 1.0)
    if config.schedule == "poly":
        return (1.0 - done) ** config.poly_power
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * done))
    if config.schedule == "step":
        return config.step_gamma ** int(progress // config.step_epochs)
    return 1.0


def set_learning_rate(optimizer: torch.optim.Optimizer, config: TrainConfig, progress: float,
                      total_epochs: int | None = None) -> float:
    lr = config.lr * lr_factor(config, progress, total_epochs)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
