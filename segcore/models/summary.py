"""Facts about registered models (parameter counts, divisors, papers) without allocating weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from segcore.models.registry import get_model, get_model_info, list_models


@dataclass(frozen=True)
class ModelSummary:
    name: str
    parameters: int
    divisor: int
    aux_heads: int
    paper: str
    description: str


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def summarize(name: str, *, num_classes: int = 21, in_channels: int = 3) -> ModelSummary:
    """A model's summary; it is built on the meta device, so even 130 M-parameter nets cost no memory."""
    info = get_model_info(name)
    with torch.device("meta"):
        model = get_model(name, num_classes=num_classes, in_channels=in_channels)
    return ModelSummary(name, count_parameters(model), info.divisor, info.aux_heads, info.paper, info.description)


def summarize_all(*, num_classes: int = 21, in_channels: int = 3) -> list[ModelSummary]:
    return [summarize(n, num_classes=num_classes, in_channels=in_channels) for n in list_models()]
