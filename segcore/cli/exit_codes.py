"""What a segcore command's exit status says (docs/reliability.md), the same for every subcommand.

0 done; 1 failed: refused with one line saying why, nothing half-written (bad input, a missing file, a
full disk); 2 a usage error, argparse's (an unknown option, a value out of its range); 3 done, but some
inputs were skipped, each named on stdout (an unreadable image among many); 130 interrupted (Ctrl+C).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

from segcore.errors import SegcoreError


class ExitCode(IntEnum):
    DONE = 0
    FAILED = 1
    USAGE = 2
    SKIPPED = 3
    INTERRUPTED = 130


def done_or_skipped(skipped: int | bool) -> ExitCode:
    """DONE, or SKIPPED when the command named inputs it skipped."""
    return ExitCode.SKIPPED if skipped else ExitCode.DONE


class UsageError(SegcoreError):
    """Options that cannot go together, or a value the engine refuses: exit USAGE, as argparse's own are."""


@contextmanager
def options_checked() -> Iterator[None]:
    """A `ConfigError` raised inside is about the options the command line gave: a usage error."""
    from segcore.training.config import ConfigError  # here: the command line starts without torch

    try:
        yield
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
