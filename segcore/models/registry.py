"""Models by name, in the style of torchvision's `register_model` / `get_model` / `list_models`.

Every registered builder takes keyword-only `num_classes`, `in_channels` and
`pretrained_backbone` (plus its own options) and returns a module whose forward returns
`{"out": N x C x H x W logits at the input's H x W}` and, in training mode for models with
auxiliary heads, `"aux": tuple of N x C x H x W logits`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model without building it."""

    name: str
    builder: Builder
    paper: str
    """Citation of the architecture (authors, title, venue, year)."""
    divisor: int
    """H and W are padded to a multiple of this internally; tiles of such sizes avoid the padding."""
    aux_heads: int
    """Number of auxiliary outputs returned under "aux" in training mode (0: none)."""
    description: str


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str, *, paper: str, divisor: int, aux_heads: int = 0, description: str = ""
) -> Callable[[Builder], Builder]:
    """Register a builder under `name`; a duplicate name raises ValueError."""

    def wrap(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"a model named {name!r} is already registered; registered: {', '.join(sorted(_REGISTRY))}")
        _REGISTRY[name] = ModelInfo(name, builder, paper, divisor, aux_heads, description)
        return builder

    return wrap


def list_models() -> list[str]:
    """The names of every registered model, sorted."""
    _load_builtin_models()
    return sorted(_REGISTRY)


def get_model_info(name: str) -> ModelInfo:
    _load_builtin_models()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}") from None


def get_model(
    name: str, *, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False, **kwargs
) -> nn.Module:
    """Build a registered model. Unknown names raise ValueError listing the valid ones."""
    info = get_model_info(name)
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {in_channels}")
    model = info.builder(num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone, **kwargs)
    model.segcore_name = name
    return model


def _load_builtin_models() -> None:
    # Importing the family modules runs their @register_model decorators.
    from segcore.models import (  # noqa: F401
        deeplab,
        deeplab_v1,
        fcn,
        fcn_resnet,
        icnet,
        pspnet,
        tv,
        unet,
    )
