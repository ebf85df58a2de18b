"""Cooperative pause / resume / cancel, checked by the trainer between batches."""

from __future__ import annotations

import threading


class TrainingCancelled(Exception):
    """Raised inside the trainer when a cancel was requested; the run ends cleanly."""


class TrainingControl:
    """Thread-safe flags another thread (the GUI) sets and the training loop polls."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # a paused run must wake up to notice the cancel

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def check(self) -> None:
        """Block while paused; raise `TrainingCancelled` if cancelled."""
        self._running.wait()
        if self._cancel.is_set():
            raise TrainingCancelled()
