"""Argparse types for numeric options, checked where they are parsed.

A value out of range (or NaN, or infinite) becomes argparse's one usage line naming the option, exit 2,
instead of a traceback deep in the engine or a run that silently ignores it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high] (either bound may be left open with None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number{_range(low, high)}, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a whole number{_range(low, high)}, got {value}")
        return value

    return parse


def real(low: float | None = None, high: float | None = None, *, above: bool = False,
         below: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from `low` to `high`; `above`/`below` exclude the bound itself."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and _inside(value, low, high, above, below)):
            raise argparse.ArgumentTypeError(f"must be a finite number{_range(low, high, above, below)}, got {text!r}")
        return value

    return parse


def _inside(value: float, low: float | None, high: float | None, above: bool, below: bool) -> bool:
    if low is not None and (value <= low if above else value < low):
        return False
    return high is None or (value < high if below else value <= high)


def _range(low: float | None, high: float | None, above: bool = False, below: bool = False) -> str:
    """' in [0, 1)', ' above 0', ' of at least 1': the bounds as the message says them."""
    if low is not None and high is not None:
        return f" in {'(' if above else '['}{low:g}, {high:g}{')' if below else ']'}"
    if low is not None:
        return f" above {low:g}" if above else f" of at least {low:g}"
    if high is not None:
        return f" below {high:g}" if below else f" of at most {high:g}"
    return ""
