"""Box refinement on synthetic interferograms: tighter than the box, never outside it, safe fallbacks."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from segcore.data import refine
from segcore.data.boxes import Box, boxes_to_mask
from segcore.data.refine import refine_box, refine_boxes_to_mask
from segcore.demo import demo_samples, make_interferogram
from segcore.demo.families import family_samples
from segcore.demo.interferogram import demo_box
from segcore.demo.varied import varied_samples
from segcore.errors import MaskError


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return float((a & b).sum() / max((a | b).sum(), 1))


def _box_mask(shape: tuple[int, int], box: Box) -> np.ndarray:
    return boxes_to_mask(shape, [box]).astype(bool)


def _interferogram(size: int, bit_depth: int, seed: int) -> tuple[np.ndarray, np.ndarray, Box]:
    rng = np.random.default_rng(seed)
    image, mask = make_interferogram(size, bit_depth=bit_depth, rng=rng)
    return image, mask, demo_box(mask, rng)


def test_refined_mask_beats_the_box_on_demo_samples():
    box_ious, refined_ious = [], []
    for sample in demo_samples(seed=11, small=5, large=0, small_size=256):
        refined = refine_box(sample.image, sample.box)
        assert refined.shape == sample.image.shape and refined.dtype == bool
        box_ious.append(_iou(_box_mask(refined.shape, sample.box), sample.true_mask))
        refined_ious.append(_iou(refined, sample.true_mask))
    assert all(r > b for r, b in zip(refined_ious, box_ious)), (box_ious, refined_ious)
    assert np.mean(refined_ious) > np.mean(box_ious) + 0.1
    assert np.mean(refined_ious) > 0.8


def test_nothing_outside_the_box_even_when_the_box_cuts_the_object():
    image, truth, _ = _interferogram(256, 8, seed=5)
    x, y, w, h = cv2.boundingRect(truth)
    box = Box(x + w // 3, y, w - w // 3, h)  # a third of the object lies left of the box
    refined = refine_box(image, box)
    assert refined.any()
    assert not (refined & ~_box_mask(refined.shape, box)).any()


def test_sixteen_bit_input_with_downscaling(monkeypatch):
    image, truth, box = _interferogram(384, 16, seed=7)
    assert image.dtype == np.uint16
    # Force the downscale -> GrabCut -> upscale path that 3072 x 3072 frames take.
    monkeypatch.setattr(refine, "WORK_SIDE", 96)
    refined = refine_box(image, box)
    assert _iou(refined, truth) > _iou(_box_mask(truth.shape, box), truth) + 0.1
    assert not (refined & ~_box_mask(truth.shape, box)).any()


def test_rgb_and_rgba_input():
    gray, truth, box = _interferogram(256, 8, seed=3)
    tint = np.array([1.0, 0.8, 0.6])
    rgb = np.clip(gray[:, :, None] * tint, 0, 255).astype(np.uint8)
    rgba = np.dstack([rgb, np.full(gray.shape, 255, np.uint8)])
    box_iou = _iou(_box_mask(truth.shape, box), truth)
    for image in (rgb, rgba):
        assert _iou(refine_box(image, box), truth) > box_iou + 0.1


@pytest.mark.parametrize(
    "image, box",
    [
        (np.zeros((64, 64), np.uint8), Box(10, 10, 5, 30)),  # too narrow to model
        (np.full((64, 64), 90, np.uint8), Box(10, 10, 30, 30)),  # nothing to find
        (np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8), Box(0, 0, 64, 64)),  # no background
    ],
    ids=["tiny-box", "flat-image", "box-is-whole-image"],
)
def test_degenerate_cases_fall_back_to_the_box(image, box, caplog):
    with caplog.at_level(logging.WARNING, logger="segcore.data.refine"):
        refined = refine_box(image, box)
    np.testing.assert_array_equal(refined, _box_mask(image.shape[:2], box))
    assert "keeping the box" in caplog.text


def test_box_partly_outside_the_image_is_clipped():
    image, truth, box = _interferogram(256, 8, seed=2)
    shifted = Box(box.x - 1000, box.y, box.w + 1000, box.h)
    refined = refine_box(image, shifted)
    assert refined.shape == truth.shape
    assert not (refined & ~_box_mask(truth.shape, shifted)).any()


def test_refine_boxes_to_mask_paints_each_class():
    image, truth, box = _interferogram(256, 8, seed=4)
    other = Box(0, 0, 20, 20, label=2)
    assert not (truth[:20, :20]).any(), "the second box must not overlap the sample for this test"
    mask = refine_boxes_to_mask(image, [box, other], background=0)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1, 2}
    sample = mask == 1
    assert _iou(sample, truth) > _iou(_box_mask(truth.shape, box), truth) + 0.1
    assert (mask == 2).any() and not ((mask == 2) & ~_box_mask(truth.shape, other)).any()
    with pytest.raises(MaskError):
        refine_boxes_to_mask(image, [Box(0, 0, 20, 20, label=300)])


def test_a_box_refines_the_same_whatever_was_refined_before_on_that_thread():
    import threading

    samples = list(demo_samples(0, small=3, large=0, small_size=256))
    first = refine_box(samples[0].image, samples[0].box)
    results: list = []

    def other_thread() -> None:  # a pool thread that refined other boxes first
        for sample in samples[1:]:
            refine_box(sample.image, sample.box)
        results.append(refine_box(samples[0].image, samples[0].box))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    for sample in samples[1:]:
        refine_box(sample.image, sample.box)
    np.testing.assert_array_equal(results[0], first)
    np.testing.assert_array_equal(refine_box(samples[0].image, samples[0].box), first)


def test_a_sample_that_alone_carries_fringes_is_refined_without_a_rim():
    # Fringes inside the sample only, on flat noisy illumination (segcore.demo.varied, seed 1): the
    # blurred contrast channel let GrabCut's cut sit a blur width outside the sample (IoU 0.77).
    sample = next(s for s in varied_samples(1, small=2, large=0, small_size=384) if s.name == "varied_01")
    refined = refine_box(sample.image, sample.box)
    assert _iou(refined, sample.true_mask) > 0.9
    outside = refined & ~sample.true_mask.astype(bool)
    assert outside.sum() < 0.05 * sample.true_mask.sum(), "a rim of background is still labelled"


def test_a_phase_object_is_cut_whole_not_by_a_patch_of_fringes_in_its_box():
    # Phase family, seed 2: the texture cut took a patch of the box whose fringes stand apart (IoU 0.53) and,
    # separating the channels better, won over the phase cut of the whole object.
    sample = next(s for s in family_samples("phase", 2, small=2, large=0, small_size=384) if s.name == "phase_01")
    assert _iou(refine_box(sample.image, sample.box), sample.true_mask) > 0.9


def test_a_cut_that_falls_short_of_the_box_loses_to_one_that_reaches_it():
    rect = (10, 10, 80, 80)
    whole = np.zeros((100, 100), bool)
    whole[12:88, 12:88] = True  # 2 px inside every side
    corner = np.zeros((100, 100), bool)
    corner[10:50, 10:50] = True  # half the box's side short on the right and the bottom
    channel = np.where(corner, 200.0, 0.0) + np.where(whole & ~corner, 20.0, 0.0)  # the corner separates better
    channels = [channel.astype(np.float32)]
    assert refine._separation(corner, channels) > refine._separation(whole, channels)
    assert refine._box_gap(whole, rect) < refine.MAX_BOX_GAP < refine._box_gap(corner, rect)
    assert refine._best_cut([corner, whole], rect, channels)[0] is whole
    # When no cut reaches every side, the one that reaches furthest, with how far it stops short.
    most = np.zeros((100, 100), bool)
    most[10:70, 10:70] = True
    chosen, gap = refine._best_cut([corner, most], rect, channels)
    assert chosen is most and gap == pytest.approx(0.25)
    assert refine._best_cut([], rect, channels)[0] is None


def test_an_outline_that_stops_short_of_a_hasty_box_comes_with_a_doubt(caplog):
    sample = next(iter(demo_samples(seed=11, small=1, large=0, small_size=384)))
    b = sample.box
    assert refine.refine(sample.image, b).doubt is None  # drawn close round the sample
    hasty = Box(b.x - b.w * 3 // 10, b.y - b.h * 3 // 10, b.w * 16 // 10, b.h * 16 // 10, 1).clipped(384, 384)
    with caplog.at_level(logging.WARNING, logger="segcore.data.refine"):
        refined = refine.refine(sample.image, hasty)
    assert refined.kept_box is None and _iou(refined.mask, sample.true_mask) > 0.8
    assert refined.doubt is not None and "short of one side" in refined.doubt
    assert "check it" in caplog.text


def test_the_rim_trim_leaves_a_mask_alone_when_object_and_background_contrast_alike():
    rng = np.random.default_rng(0)
    contrast = rng.normal(120, 5, (96, 96)).clip(0, 255).astype(np.uint8)  # one contrast level everywhere
    mask = np.zeros((96, 96), bool)
    mask[20:76, 20:76] = True
    np.testing.assert_array_equal(refine._trim_rim(mask, contrast, period=12.0), mask)
    contrast[mask] = 220  # now the object stands out, and a rim of background contrast is labelled
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    np.testing.assert_array_equal(refine._trim_rim(grown, contrast, period=12.0), mask)


def test_refine_says_why_it_kept_the_whole_box():
    yy, xx = np.mgrid[0:96, 0:96]
    disc = np.where(np.hypot(xx - 48, yy - 48) < 20, 200, 40).astype(np.uint8)
    assert refine.refine(disc, Box(20, 20, 56, 56, 1)).kept_box is None
    assert refine.refine(np.full((96, 96), 90, np.uint8), Box(20, 20, 56, 56, 1)).kept_box == "no object found in it"
    small = refine.refine(disc, Box(40, 40, 8, 8, 1))
    assert small.kept_box.startswith("too small to refine") and small.mask.sum() == 64
