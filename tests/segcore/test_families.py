"""The benchmark's interferogram families: frames that vary within a project, and the phase object."""

from __future__ import annotations

import numpy as np
import pytest

from segcore.data.transforms.fringes import fringe_period
from segcore.demo.families import AREA_RANGE, FAMILIES, VISIBILITY_RANGE, family_samples, sample_mask

SMALL = dict(small=12, large=1, small_size=256, large_size=384)


def test_a_seed_reproduces_its_project_and_more_frames_keep_the_first_ones():
    first = list(family_samples("phase", 3, small=3, large=0, small_size=128))
    again = list(family_samples("phase", 3, small=4, large=0, small_size=128))
    other = list(family_samples("phase", 4, small=3, large=0, small_size=128))
    for a, b, c in zip(first, again, other):
        assert a.name == b.name and a.box == b.box and a.params == b.params
        np.testing.assert_array_equal(a.image, b.image)
        assert not np.array_equal(a.image, c.image)
    with pytest.raises(ValueError, match="family must be one of"):
        next(family_samples("holograms", 0))


@pytest.mark.parametrize("family", FAMILIES)
def test_frames_of_one_project_vary_in_period_contrast_and_size(family):
    samples = list(family_samples(family, 1, **SMALL))
    assert [s.name for s in samples][-1] == f"{family}_large_00"
    assert {s.image.dtype for s in samples} == {np.dtype(np.uint8), np.dtype(np.uint16)}
    periods = [s.params["period"] for s in samples]
    # Drawn over the project's range, 10-14x wide: a dozen frames already span several times.
    assert max(periods) / min(periods) > 3
    assert all(VISIBILITY_RANGE[0] <= s.params["visibility"] <= VISIBILITY_RANGE[1] for s in samples)
    areas = [s.true_mask.mean() for s in samples]
    assert 0.5 * AREA_RANGE[0] < min(areas) and max(areas) < 1.1 * AREA_RANGE[1] and max(areas) / min(areas) > 3
    assert len({s.params["shape"] for s in samples}) >= 3 and len({s.params["noise"] for s in samples}) >= 3
    for sample in samples:  # one sample, wholly inside its box
        ys, xs = np.nonzero(sample.true_mask)
        box = sample.box
        assert box.x <= xs.min() and xs.max() < box.x + box.w and box.y <= ys.min() and ys.max() < box.y + box.h


def test_a_phase_object_is_transparent_and_the_fringes_run_through_it():
    # Fringes everywhere, of one contrast inside and out: the sample shows only in how it bends them.
    for sample in family_samples("phase", 2, small=6, large=0, small_size=256):
        image = sample.image.astype(np.float32)
        inside, outside = image[sample.true_mask == 1], image[sample.true_mask == 0]
        assert inside.std() == pytest.approx(outside.std(), rel=0.5)
        assert fringe_period(image) == pytest.approx(sample.params["period"], rel=0.35)


def test_inside_the_sample_only_fringes_leave_the_background_flat():
    for sample in family_samples("inside", 2, small=4, large=0, small_size=256):
        image = sample.image.astype(np.float32)
        inside, outside = image[sample.true_mask == 1], image[sample.true_mask == 0]
        # The background holds illumination and noise; the fringes are the sample's own.
        high_pass = image - np.convolve(image.ravel(), np.ones(9) / 9, mode="same").reshape(image.shape)
        assert high_pass[sample.true_mask == 1].std() > high_pass[sample.true_mask == 0].std()
        assert inside.size and outside.size


def test_a_sample_mask_keeps_its_area_and_fits_the_frame():
    rng = np.random.default_rng(0)
    for shape in ("ellipse", "rectangle", "blob", "lobed", "polygon"):
        for area in (0.01, 0.4):
            mask = sample_mask(shape, 200, 300, area, rng)
            assert mask.dtype == np.uint8 and mask.shape == (200, 300)
            assert 0.3 * area < mask.mean() <= 1.2 * area  # a large, long sample is shrunk to fit the frame
            assert not mask[0].any() and not mask[-1].any() and not mask[:, 0].any() and not mask[:, -1].any()
    with pytest.raises(ValueError):
        sample_mask("star", 10, 10, 0.1, rng)
