"""Progress bars for the CLI's long loops: drawn on a terminal only (stderr), silent in logs and pipes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

_quiet = False
"""Set by `segcore -q`: no bars at all."""


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def bars_disabled() -> bool | None:
    """tqdm's `disable`: True under -q; else None, no bar when stderr is not a terminal (logs, pipes)."""
    return True if _quiet else None


@contextlib.contextmanager
def progress_bar(unit: str, desc: str | None = None) -> Iterator[Callable[[int, int], None]]:
    """A `progress(done, total)` callback, as the engine's functions take, drawing one bar."""
    with tqdm(unit=unit, desc=desc, leave=False, disable=bars_disabled()) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield progress


def bar_over(items: Iterable[T], unit: str, desc: str | None = None) -> Iterator[T]:
    """`items`, drawing a bar as they are consumed."""
    yield from tqdm(items, unit=unit, desc=desc, leave=False, disable=bars_disabled())
