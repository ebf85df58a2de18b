"""The generated acquisition: one instrument, a sample that drifts, turns and changes size, frames from (seed, i)."""

from __future__ import annotations

import numpy as np
import pytest

from segcore.demo.acquisition import acquisition_frames


def test_frames_depend_on_the_seed_and_their_index_only():
    whole = list(acquisition_frames(6, size=128, seed=4))
    tail = list(acquisition_frames(6, size=128, seed=4, start=4))
    assert [f.index for f in tail] == [4, 5]
    assert all(np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask) for a, b in zip(whole[4:], tail))
    other = next(acquisition_frames(6, size=128, seed=5))
    assert not np.array_equal(other.image, whole[0].image)


def test_the_sample_moves_and_changes_while_the_instrument_stays():
    frames = list(acquisition_frames(40, size=128, seed=1))
    areas = np.array([f.mask.sum() for f in frames], float)
    centres = np.array([np.argwhere(f.mask).mean(axis=0) for f in frames])
    assert areas.min() > 0 and areas.max() / areas.min() > 1.1  # it grows or shrinks
    assert np.abs(centres - centres[0]).max() > 3  # it drifts
    steps = np.hypot(*np.diff(centres, axis=0).T)
    assert steps.max() < 0.05 * 128  # smoothly: never a jump across the frame between two frames
    assert all(f.image.dtype == np.uint8 and f.image.shape == (128, 128) for f in frames)
    sixteen = next(acquisition_frames(2, size=128, seed=1, bit_depth=16))
    assert sixteen.image.dtype == np.uint16 and np.array_equal(sixteen.mask, frames[0].mask)


def test_glitched_frames_are_spoiled_and_the_others_stay_as_they_were():
    plain = list(acquisition_frames(60, size=128, seed=2))
    spoiled = list(acquisition_frames(60, size=128, seed=2, glitches=0.2))
    glitched = [f for f in spoiled if f.glitch]
    assert 4 <= len(glitched) <= 24 and {f.glitch for f in glitched} == {"washed out", "dark"}
    for before, after in zip(plain, spoiled):
        assert (before.mask == after.mask).all()
        if after.glitch is None:
            assert (before.image == after.image).all()
        else:  # a washed-out frame keeps little of its fringes' contrast, a dark one little of its light
            assert after.image.std() < 0.5 * before.image.std()
    with pytest.raises(ValueError, match="share of the frames"):
        next(acquisition_frames(2, size=64, glitches=1.5))
