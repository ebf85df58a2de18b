"""Train for a time, or until the run stops improving: how many epochs, and when to stop.

    budget = EpochBudget(300, cap=100)         # "5 min", at most 100 epochs
    budget.plan(epoch, elapsed_s, epoch_s)      # after the first epochs: the epochs that fit
    budget.stop_reason(epoch, elapsed_s)        # before the next epoch: stop now?

The trainer measures its first epoch (and refines with the second, which has no warm-up), then
fixes the number of epochs that fit the budget, so the learning-rate schedule (poly, cosine)
spans the budget rather than a guessed epoch count; it stops at the last epoch boundary inside the
budget, never more than an epoch past it. `Plateau` is "until it stops improving": no better
validation mIoU (or training loss, without validation) for `patience` epochs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from segcore.errors import SegcoreError

PLAN_EPOCHS = 2
"""Epochs measured before the plan is fixed: the first (with its warm-up) and the second."""
OVERRUN_TOLERANCE = 0.1
"""A next epoch predicted to end within this fraction of an epoch past the budget still runs
(timing jitter must not drop the planned last epoch, where the learning rate is lowest)."""
MIOU_MIN_DELTA = 1e-3
"""A validation mIoU counts as better when it beats the best by this much (absolute)."""
LOSS_MIN_DELTA = 0.01
"""A training loss counts as better when it is this fraction below the best."""

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|hr|min|m|sec|s)", re.IGNORECASE)


class DurationError(SegcoreError, ValueError):
    """A duration such as '90s', '5m' or '1h30m' could not be read."""


def parse_duration(text: str) -> float:
    """'90s', '5m', '5 min', '1h', '1h30m', '4:00' (m:ss), '1:00:00' or a bare number of seconds -> seconds."""
    spec = text.strip().lower()
    try:
        if ":" in spec:
            seconds = 0.0
            for part in spec.split(":"):
                seconds = seconds * 60 + float(part)
        elif _is_number(spec):
            seconds = float(spec)
        else:
            parts = _PART.findall(spec)
            if not parts or _PART.sub("", spec).strip():
                raise ValueError(spec)
            seconds = sum(float(value) * _UNITS[unit.lower()] for value, unit in parts)
    except ValueError:
        raise DurationError(f"cannot read the duration {text!r}: use e.g. 90s, 5m, 20min, 1h or 1h30m") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise DurationError(f"a duration must be positive, got {text!r}")
    return seconds


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def format_duration(seconds: float) -> str:
    """'4:00', '20:00', '1:05:00' (h:mm:ss from an hour)."""
    seconds = int(round(max(seconds, 0)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@dataclass(frozen=True)
class Plan:
    epochs: int
    """The run's epoch count: the learning-rate schedule spans it."""
    epoch_seconds: float
    """The measured time of one epoch the plan is based on."""
    capped: bool
    """True when the budget would fit more epochs than the configured cap."""


class EpochBudget:
    """How many epochs fit `budget_s` seconds (at most `cap`), from the measured epochs."""

    def __init__(self, budget_s: float, cap: int):
        self.budget_s = float(budget_s)
        self.cap = int(cap)
        self.epoch_seconds: float | None = None
        self._measured: list[float] = []

    def plan(self, epoch: int, elapsed_s: float, epoch_s: float) -> Plan:
        """The epochs of the whole run after `epoch` ended at `elapsed_s`, having taken `epoch_s`.

        An epoch is taken to last as long as the quickest one measured so far: the first carries
        the warm-up, and a busy machine may slow any single one (the stop rule catches slow ones).
        """
        self._measured.append(max(epoch_s, 1e-6))
        self.epoch_seconds = min(self._measured)
        more = math.floor(max(self.budget_s - elapsed_s, 0.0) / self.epoch_seconds + OVERRUN_TOLERANCE)
        wanted = epoch + more
        return Plan(max(epoch, min(wanted, self.cap)), self.epoch_seconds, wanted > self.cap)

    def stop_reason(self, epoch: int, elapsed_s: float, epoch_s: float) -> str | None:
        """Why the run should end after `epoch`, which took `epoch_s`: the next one would end past
        the budget (an epoch like the last one, or like the planned ones if those were slower); or None."""
        if self.epoch_seconds is None:
            return None
        expected = max(epoch_s, self.epoch_seconds)
        if elapsed_s + expected * (1.0 - OVERRUN_TOLERANCE) > self.budget_s:
            return f"time budget {format_duration(self.budget_s)} reached after {epoch} epochs ({format_duration(elapsed_s)})"
        return None

    def describe(self, plan: Plan) -> str:
        """'budget 5:00: ~37 epochs of 8.1 s' (and when the cap binds, says so)."""
        text = f"budget {format_duration(self.budget_s)}: ~{plan.epochs} epochs of {plan.epoch_seconds:.1f} s"
        if plan.capped:
            text += f" (the cap of {self.cap} epochs; done in ~{format_duration(plan.epochs * plan.epoch_seconds)})"
        return text


class Plateau:
    """Early stopping: `flat` once `patience` epochs in a row brought no better score.

    mode 'max' (validation mIoU, better by MIOU_MIN_DELTA) or 'min' (training loss, better by
    LOSS_MIN_DELTA of itself). The state round-trips through `state_dict` for exact resume.
    """

    def __init__(self, patience: int, mode: str):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.patience = int(patience)
        self.mode = mode
        self.best: float | None = None
        self.best_epoch = 0
        self.waited = 0

    def update(self, epoch: int, value: float) -> bool:
        """Record an epoch's score; True if it is an improvement."""
        if self.best is None:
            better = True
        elif self.mode == "max":
            better = value > self.best + MIOU_MIN_DELTA
        else:
            better = value < self.best - LOSS_MIN_DELTA * abs(self.best)
        if better:
            self.best, self.best_epoch, self.waited = value, epoch, 0
        else:
            self.waited += 1
        return better

    @property
    def flat(self) -> bool:
        return self.waited >= self.patience

    def reason(self) -> str:
        what = "validation mIoU" if self.mode == "max" else "training loss"
        return f"stopped improving: {what} no better for {self.waited} epochs (best {self.best:.4f} at epoch {self.best_epoch})"

    def state_dict(self) -> dict:
        return {"mode": self.mode, "best": self.best, "best_epoch": self.best_epoch, "waited": self.waited}

    def load_state_dict(self, state: dict) -> None:
        if state.get("mode") == self.mode:  # a run that gained or lost its validation set starts over
            self.best, self.best_epoch, self.waited = state["best"], int(state["best_epoch"]), int(state["waited"])
