"""Prediction ensembles: several models (any architectures, same classes) averaged in logit space."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class LogitEnsemble(nn.Module):
    """Averages the "out" logits of its members (optionally weighted); same output contract."""

    def __init__(self, models: Sequence[nn.Module], weights: Sequence[float] | None = None):
        super().__init__()
        if not models:
            raise ValueError("an ensemble needs at least one model")
        if weights is not None and len(weights) != len(models):
            raise ValueError(f"{len(models)} models but {len(weights)} weights")
        self.members = nn.ModuleList(models)
        w = torch.tensor(weights if weights is not None else [1.0] * len(models), dtype=torch.float32)
        self.register_buffer("weights", w / w.sum())

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        total = None
        for weight, model in zip(self.weights, self.members):
            logits = model(x)["out"].float() * weight
            total = logits if total is None else total + logits
        return {"out": total}
