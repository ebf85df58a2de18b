"""`Memoised`: deterministic steps run once per frame, their result kept for the next epochs.

A grayscale run's frames go through the same steps every epoch before anything random touches them
(to the fringe analysis's side, intensities by percentiles, the fringe analysis, to the network's
side: `build_transforms`' `fringe_side`). Run once per frame and kept, they cost a hash and a lookup;
run every epoch they took two thirds of a sample's time (docs/results.md, "Twice the epochs in the same
four minutes").
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from segcore.data.transforms.base import Compose, Mask, Pair, Transform

MEMO_BYTES = 1 << 30
"""Results kept in memory per process (a 1024 x 1024 frame's fringe analysis at 384 px takes 3.4 MiB)."""


class FrameMemo:
    """Results by key, the least recently used dropped past `max_bytes`; safe across threads (predictions run in
    worker threads). What it hands out is read-only: shared by every caller."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, Pair] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, compute: Callable[[], Pair]) -> Pair:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        image, mask = compute()
        for array in (image, mask):
            if isinstance(array, np.ndarray):
                array.setflags(write=False)  # a step that changed it in place would change every epoch's
        size = sum(a.nbytes for a in (image, mask) if isinstance(a, np.ndarray))
        with self._lock:
            if key not in self._entries and size <= self.max_bytes:
                self._entries[key] = (image, mask)
                self._bytes += size
                while self._bytes > self.max_bytes:
                    _, (old_image, old_mask) = self._entries.popitem(last=False)
                    self._bytes -= sum(a.nbytes for a in (old_image, old_mask) if isinstance(a, np.ndarray))
        return image, mask

    @property
    def bytes_held(self) -> int:
        """The size of the results kept now."""
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


MEMO = FrameMemo(MEMO_BYTES)


def _digest(array: Mask) -> tuple:
    if array is None:
        return (None,)
    data = np.ascontiguousarray(array)
    return data.shape, str(data.dtype), hashlib.blake2b(data.data, digest_size=16).digest()


@dataclass(frozen=True)
class Memoised:
    """Deterministic steps (no randomness, nothing read from outside) whose result is kept by the frame's and the mask's
    content: the same pair again gets the same, shared, read-only result without running them."""

    steps: tuple[Transform, ...]

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> Pair:
        # The steps' repr holds every parameter (they are dataclasses): two pipelines share a result only when equal.
        key = (repr(self.steps), _digest(image), _digest(mask))
        return MEMO.get(key, lambda: Compose(self.steps)(image, mask))


def plain_steps(steps: Sequence[Transform]) -> list[Transform]:
    """`steps` with each `Memoised` group written out in its place: what another program repeats, step by step."""
    return [inner for step in steps for inner in (step.steps if isinstance(step, Memoised) else (step,))]
