"""Losses by name: `get_loss("ce", weight=w)`, `get_loss("ce+dice")`, `get_loss("ce+0.5*dice")`."""

from __future__ import annotations

import inspect
import re
from typing import Any

from torch import nn

from segcore.losses.asl import AsymmetricLoss
from segcore.losses.combined import SumLoss
from segcore.losses.cross_entropy import CrossEntropyLoss
from segcore.losses.dice import DiceLoss
from segcore.losses.focal import FocalLoss

LOSSES: dict[str, type[nn.Module]] = {
    "ce": CrossEntropyLoss,
    "asl": AsymmetricLoss,
    "dice": DiceLoss,
    "focal": FocalLoss,
}

_TERM = re.compile(r"^(?:(?P<weight>\d+(?:\.\d*)?|\.\d+)\s*\*\s*)?(?P<name>[a-z_]+)$")


def list_losses() -> list[str]:
    """The names `get_loss` accepts as terms, sorted."""
    return sorted(LOSSES)


def get_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build a loss by name; "a+b" sums terms and "0.5*b" weighs one.

    For a single name every keyword goes to that loss. For a sum, each keyword goes to the
    terms whose constructor takes it (`ignore_index` to all, `weight` to "ce", ...); a keyword
    no term takes raises TypeError. An unknown name raises ValueError listing the names.
    """
    terms: list[tuple[float, type[nn.Module]]] = []
    for raw in name.split("+"):
        match = _TERM.match(raw.strip().lower())
        if match is None or match["name"] not in LOSSES:
            raise ValueError(f"unknown loss {raw.strip()!r} in {name!r}; choose from: {', '.join(list_losses())} (combine with '+', e.g. 'ce+dice')")
        terms.append((float(match["weight"] or 1.0), LOSSES[match["name"]]))
    if len(terms) == 1 and terms[0][0] == 1.0:
        return terms[0][1](**kwargs)
    accepted = [set(inspect.signature(cls.__init__).parameters) - {"self"} for _, cls in terms]
    unused = set(kwargs) - set().union(*accepted)
    if unused:
        raise TypeError(f"no term of {name!r} takes the argument(s) {sorted(unused)}")
    modules = [cls(**{k: v for k, v in kwargs.items() if k in params}) for (_, cls), params in zip(terms, accepted)]
    return SumLoss(modules, [w for w, _ in terms])
