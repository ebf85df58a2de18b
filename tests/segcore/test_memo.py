"""`Memoised`: deterministic steps once per frame and mask, never a stale or another pipeline's result."""

from __future__ import annotations

import numpy as np
import pytest

from segcore.data.transforms.geometric import Resize
from segcore.data.transforms.memo import MEMO, Memoised
from segcore.data.transforms.photometric import PercentileScale


class Counting:
    """Resize that counts its calls (a dataclass-like repr, as the memo's key needs)."""

    def __init__(self, side: int):
        self.resize, self.calls = Resize(long_side=side), 0

    def __repr__(self) -> str:
        return f"Counting({self.resize!r})"

    def __call__(self, image, mask, rng=None):
        self.calls += 1
        return self.resize(image, mask, rng)


def test_steps_run_once_per_frame_and_mask():
    MEMO.clear()
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 4096, (64, 48), dtype=np.uint16)
    mask = np.zeros((64, 48), np.uint8)
    mask[10:30, 5:20] = 1
    counting = Counting(32)
    steps = Memoised((counting, PercentileScale()))
    first = steps(frame, mask)
    for _ in range(3):  # epochs
        again = steps(frame.copy(), mask.copy())  # the same content, other arrays
    assert counting.calls == 1 and again[0] is first[0]
    assert first[0].shape == (32, 24) and not first[0].flags.writeable  # shared: read-only
    with pytest.raises(ValueError):
        first[0][0, 0] = 1

    edited = mask.copy()
    edited[40:60, 30:40] = 1  # the label edited between runs: its own result, never the stale one
    result = steps(frame, edited)
    assert counting.calls == 2 and result[1][25, 17] == 1 and first[1][25, 17] == 0
    steps(frame, None)  # prediction: no mask
    assert counting.calls == 3


def test_pipelines_with_other_parameters_do_not_share():
    MEMO.clear()
    frame = np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8)
    small, large = Memoised((Resize(long_side=16),)), Memoised((Resize(long_side=32),))
    assert small(frame, None)[0].shape == (16, 16) and large(frame, None)[0].shape == (32, 32)
