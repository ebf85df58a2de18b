"""Fringe analysis as input channels, and the boundary band the loss ignores, on real small frames."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from synthetic import write_squares_dataset

import segcore.data.transforms.fringes as fringes_module
import segcore.data.transforms.memo as memo_module
from segcore.data.classes import IGNORE_INDEX
from segcore.data.readers import open_dataset
from segcore.data.transforms import AugmentConfig, build_transforms
from segcore.data.transforms.fringes import (
    FRINGE_CHANNELS,
    SINE_CHANNEL,
    FringeFeatures,
    RandomFringeIntensity,
    RandomPhaseSign,
    find_carrier,
    fringe_features,
    gaussian_blur,
)
from segcore.data.transforms.labels import IgnoreBoundary
from segcore.inference.predictor import Predictor
from segcore.training import TrainConfig, Trainer, load_checkpoint, prepare

SIDE = 128


def _fringes(ky: int, kx: int, step_inside: float = 0.0, optics: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Carrier fringes of (ky, kx) cycles per frame, and a disc whose phase is shifted by `step_inside`.

    `optics`: radians of defocus and astigmatism at the frame's corners, as a real interferometer adds.
    """
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    disc = np.hypot(yy - 64, xx - 64) < 24
    u, v = (xx - SIDE / 2) / (SIDE / 2), (yy - SIDE / 2) / (SIDE / 2)
    curvature = optics * (0.6 * (u**2 + v**2) + 0.4 * u * v) / 1.6
    phase = 2 * math.pi * (ky * yy + kx * xx) / SIDE + curvature + step_inside * disc
    return (0.5 + 0.4 * np.cos(phase)).astype(np.float32), disc


def _background_and_step(features: np.ndarray) -> tuple[float, float]:
    """Spread of the demodulated phase over a ring around the disc, and the disc's step against the ring."""
    phase = np.arctan2(features[..., 5], features[..., 4])
    radius = np.hypot(*np.mgrid[-64:64, -64:64])
    outside, inside = phase[(radius > 34) & (radius < 60)], phase[radius < 14]
    reference = np.angle(np.mean(np.exp(1j * outside)))
    spread = float(np.std(np.angle(np.exp(1j * (outside - reference)))))
    return spread, float(np.angle(np.exp(1j * (np.median(inside) - reference))))


@pytest.mark.parametrize("ky, kx", [(0, 12), (9, 5), (14, -7)])
def test_the_carrier_is_the_strongest_peak_of_the_spectrum(ky, kx):
    image, _ = _fringes(ky, kx)
    assert find_carrier(image - image.mean()) == (ky, kx)  # the half-plane of positive ky (and of positive kx at ky 0)


def test_the_demodulated_phase_is_flat_outside_a_sample_and_steps_inside_it():
    image, disc = _fringes(6, 10, step_inside=2.0)
    features = fringe_features(image)
    assert features.shape == (SIDE, SIDE, FRINGE_CHANNELS) and features.dtype == np.float32
    spread, step = _background_and_step(features)
    assert spread < 0.2  # the carrier is gone: the background's phase is one value
    assert abs(step - 2.0) < 0.3  # the sample's phase step is read back
    np.testing.assert_array_equal(features[..., 0], image)  # the gray level itself is kept


def test_the_quadratic_background_takes_the_optics_curvature_away_and_keeps_the_sample():
    image, _ = _fringes(6, 10, step_inside=2.0, optics=12.0)
    carrier_spread, _ = _background_and_step(fringe_features(image, "carrier"))
    features = fringe_features(image, "quadratic")
    spread, step = _background_and_step(features)
    assert carrier_spread > 1.0  # the carrier alone leaves the defocus rings a network takes for samples
    assert spread < 0.2 and abs(step - 2.0) < 0.3  # flat background, the sample's step still read back
    phase = np.arctan2(features[..., 5], features[..., 4])
    assert abs(float(np.median(phase[np.hypot(*np.mgrid[-64:64, -64:64]) > 34]))) < 0.2  # background at zero phase


def test_runs_saved_before_the_background_option_keep_their_carrier_analysis():
    image, _ = _fringes(6, 10, step_inside=2.0, optics=12.0)
    saved = AugmentConfig.from_dict({"fringe_features": True})  # a config.json written before the option
    assert saved.fringe_background == "carrier"
    np.testing.assert_array_equal(saved.build(train=False)(image, None)[0].numpy(),
                                  fringe_features(image, "carrier").transpose(2, 0, 1))
    with pytest.raises(ValueError, match="fringe background must be one of carrier, quadratic"):
        AugmentConfig(fringe_features=True, fringe_background="zernike")


def test_the_phase_sign_is_the_carrier_peak_taken_not_the_sample():
    # One sample (a +2 rad step), fringes tilted one way and the other: the analysis takes the mirror
    # peak of the second, so the same sample reads -2. A network must not learn the sign.
    _, step = _background_and_step(fringe_features(_fringes(6, 10, step_inside=2.0)[0], "quadratic"))
    _, mirrored_step = _background_and_step(fringe_features(_fringes(-6, 10, step_inside=2.0)[0], "quadratic"))
    assert abs(step - 2.0) < 0.3 and abs(mirrored_step + 2.0) < 0.3


def test_random_phase_sign_negates_the_phase_sine_only_and_leaves_the_mask():
    image, disc = _fringes(6, 10, step_inside=2.0)
    features = fringe_features(image, "quadratic")
    mask = disc.astype(np.uint8)
    rng = np.random.default_rng(0)
    negated, kept = RandomPhaseSign(1.0)(features, mask, rng)
    assert kept is mask and negated.dtype == np.float32
    np.testing.assert_array_equal(negated[..., SINE_CHANNEL], -features[..., SINE_CHANNEL])
    others = [c for c in range(FRINGE_CHANNELS) if c != SINE_CHANNEL]
    np.testing.assert_array_equal(negated[..., others], features[..., others])
    assert abs(_background_and_step(negated)[1] + 2.0) < 0.3  # the sample now reads as the mirrored carrier gives it
    assert RandomPhaseSign(0.0)(features, mask, rng)[0] is features
    negations = [RandomPhaseSign(0.5)(features, mask, np.random.default_rng(seed))[0] is not features
                 for seed in range(200)]
    assert 70 < sum(negations) < 130
    with pytest.raises(ValueError, match="phase sign probability"):
        RandomPhaseSign(1.5)
    with pytest.raises(ValueError, match="fringe-analysis channels"):
        RandomPhaseSign(1.0)(image, mask, rng)  # the gray frame, not its analysis


def test_the_phase_sign_is_a_training_step_after_the_fringe_analysis_and_needs_it():
    train = build_transforms(True, intensity="percentile", fringe_features=True, phase_sign=0.5)
    val = build_transforms(False, intensity="percentile", fringe_features=True, phase_sign=0.5)
    kinds = [type(t) for t in train.transforms]
    assert kinds.index(RandomPhaseSign) == kinds.index(FringeFeatures) + 1  # on the whole frame, before crops
    assert RandomPhaseSign not in [type(t) for t in val.transforms]
    with pytest.raises(ValueError, match="phase_sign .* needs fringe_features"):
        AugmentConfig(phase_sign=0.5)


def test_fringe_features_take_grayscale_frames_only():
    with pytest.raises(ValueError, match="grayscale"):
        FringeFeatures()(np.zeros((8, 8, 3), np.uint8), None)


def test_a_network_trained_on_fringe_features_takes_six_channels_and_predicts(tmp_path):
    root = write_squares_dataset(tmp_path / "squares", n=12, size=48)
    config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=2, batch_size=4,
                         augment={"fringe_features": True, "intensity": "percentile"})
    Trainer(config, prepare(open_dataset("folder", root), 0.25, 0), tmp_path / "run").fit()
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    assert checkpoint.in_channels == FRINGE_CHANNELS and checkpoint.preprocessing().fringe_features
    result = Predictor(checkpoint, precision="fp32").predict(np.full((48, 48), 90, np.uint8))
    assert result.labels.shape == (48, 48)
    assert AugmentConfig(fringe_features=True).model_channels(1) == FRINGE_CHANNELS == 6


def test_the_boundary_band_is_ignored_and_nothing_else():
    mask = np.zeros((12, 12), np.uint8)
    mask[3:9, 3:9] = 1
    mask[0, :] = IGNORE_INDEX
    _, banded = IgnoreBoundary(1)(np.zeros((12, 12), np.uint8), mask)
    assert banded[5, 5] == 1 and banded[11, 11] == 0  # inside and outside: trusted
    assert banded[3, 5] == IGNORE_INDEX and banded[2, 5] == IGNORE_INDEX  # both sides of the edge
    assert (banded[1, 5], banded[0, 5]) == (0, IGNORE_INDEX)  # next to ignore only: not a class boundary
    assert (banded == 1).sum() == 4 * 4 and mask[3, 5] == 1  # the input is left as it was
    assert AugmentConfig(ignore_boundary=1).build(train=False)(np.zeros((12, 12), np.uint8), mask)[1][3, 5] == 1


def _under_a_beam(visibility: float = 0.2) -> np.ndarray:
    """`_fringes` with defocus, faint (`visibility`) and lit by a beam whose light falls off to a tenth at the edge."""
    phase_image, _ = _fringes(6, 10, step_inside=2.0, optics=12.0)
    fringe = (phase_image - 0.5) / 0.4  # the cosine again
    radius = np.hypot(*np.mgrid[-64:64, -64:64]) / 64
    beam = np.exp(-(radius / 0.6) ** 2 * 1.2).astype(np.float32)
    return (beam * (1 + visibility * fringe)).astype(np.float32)


def test_the_illumination_is_removed_before_the_analysis():
    # A beam's falloff is far stronger than faint fringes; analysed less its global mean alone it leaks into the
    # carrier's band and the phase over the background is not flat (half the frames of a project with a beam).
    image = _under_a_beam()
    before, _ = _background_and_step(fringe_features(image, "quadratic"))
    spread, step = _background_and_step(fringe_features(image, "quadratic", normalise=True))
    assert before > 0.5
    assert spread < 0.25 and abs(step - 2.0) < 0.5  # flat, and the sample's step still read (faint: 1.6 rad)


def test_runs_saved_before_the_normalised_analysis_keep_theirs():
    image = _under_a_beam()
    saved = AugmentConfig.from_dict({"fringe_features": True, "fringe_background": "quadratic"})
    assert saved.fringe_normalise is False
    np.testing.assert_array_equal(saved.build(train=False)(image, None)[0].numpy(),
                                  fringe_features(image, "quadratic").transpose(2, 0, 1))
    today = AugmentConfig.from_dict({"fringe_features": True, "fringe_background": "quadratic",
                                     "fringe_normalise": True})
    np.testing.assert_array_equal(today.build(train=False)(image, None)[0].numpy(),
                                  fringe_features(image, "quadratic", normalise=True).transpose(2, 0, 1))


def _faint_sample(trouble: str, visibility: float, radius: int, n: int = 256) -> np.ndarray:
    """Fringes of carrier (9, 21) inside a small disc only, on a flat noisy frame, plus one kind of `trouble`."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    disc = np.hypot(yy - 100, xx - 150) < radius
    image = 0.5 + visibility * np.cos(2 * math.pi * (9 * yy + 21 * xx) / n) * disc + rng.normal(0, 0.01, (n, n))
    if trouble == "hot pixels":
        image.flat[rng.integers(0, n * n, 1000)] = 1.0
    if trouble == "row and column pattern":
        image += rng.normal(0, 0.03, (n, 1)) + rng.normal(0, 0.03, (1, n))
    if trouble == "a brighter sample":
        image += 0.25 * disc
    return image.astype(np.float32)


@pytest.mark.parametrize(("trouble", "visibility", "radius"), [("hot pixels", 0.05, 12), ("row and column pattern", 0.1, 20),
                                                               ("a brighter sample", 0.1, 20)])
def test_the_robust_carrier_is_found_past_what_outshines_faint_fringes_in_a_small_sample(trouble, visibility, radius):
    # The inside family's misses: fringes over 1-4 % of the frame lost to hot pixels, a sensor's row and column
    # pattern or the sample's own outline; the amplitude channel then showed nothing (docs/results.md).
    high_passed = fringes_module._high_pass(_faint_sample(trouble, visibility, radius))
    assert math.dist(find_carrier(high_passed), (9, 21)) > 10  # the strongest peak is the trouble's
    assert math.dist(find_carrier(high_passed, robust=True), (9, 21)) <= 2.5


def test_the_robust_carrier_keeps_fringes_along_an_axis_and_clean_frames_as_they_were():
    yy, xx = np.mgrid[0:256, 0:256]
    rng = np.random.default_rng(1)
    for ky, kx in ((0, 17), (17, 0), (9, 21)):  # fringes along an axis put their power on it, as a pattern does
        image = (0.5 + 0.3 * np.cos(2 * math.pi * (ky * yy + kx * xx) / 256) + rng.normal(0, 0.01, (256, 256)))
        high_passed = fringes_module._high_pass(image.astype(np.float32))
        assert find_carrier(high_passed, robust=True) == find_carrier(high_passed) == (ky, kx)
    options = {"fringe_features": True, "fringe_normalise": True, "fringe_robust": True, "fringe_side": 256}
    image = _faint_sample("row and column pattern", 0.1, 20)
    built = AugmentConfig.from_dict(options).build(train=False)(image, None)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(built, fringe_features(image, "carrier", normalise=True, robust_carrier=True), atol=1e-5)
    disc = np.hypot(*np.mgrid[-100:156, -150:106]) < 20
    assert np.median(built[..., 3][disc]) > 5 * np.median(built[..., 3][~disc])  # the amplitude shows the sample
    with pytest.raises(ValueError, match="fringe_robust"):
        AugmentConfig.from_dict({"fringe_features": True, "fringe_robust": True})


def test_the_quartic_background_takes_coma_and_spherical_aberration_away_too():
    # `_fringes`' frame with coma and spherical aberration added to its phase (5 and 6 rad at the corners).
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    disc = np.hypot(yy - 64, xx - 64) < 24
    u, v = (xx - SIDE / 2) / (SIDE / 2), (yy - SIDE / 2) / (SIDE / 2)
    rho2 = (u**2 + v**2) / 2
    phase = 2 * math.pi * (6 * yy + 10 * xx) / SIDE + 5.0 * rho2 * u + 6.0 * rho2**2 + 2.0 * disc
    image = (0.5 + 0.4 * np.cos(phase)).astype(np.float32)
    quadratic_spread, _ = _background_and_step(fringe_features(image, "quadratic", normalise=True))
    spread, step = _background_and_step(fringe_features(image, "quartic", normalise=True))
    assert quadratic_spread > 0.3  # the quadratic leaves the coma and the spherical aberration
    assert spread < 0.15 and abs(step - 2.0) < 0.4


def _speckled_phase_object(period: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 256 px phase object under fringes `period` px apart, the optics' aberrations to the fourth order and laser
    speckle: a grain of 1 px multiplying the light by 30 % (as `segcore.demo.families` draws it)."""
    side = 256
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    disc = np.hypot(yy - 100, xx - 140) < 46
    u, v = (xx - side / 2) / (side / 2), (yy - side / 2) / (side / 2)
    rho2 = (u**2 + v**2) / 2
    optics = 8 * rho2 + 3 * (u * u - v * v) + 4 * rho2 * u + 5 * rho2**2
    phase = 2 * math.pi * (0.6 * xx + 0.8 * yy) / period + optics + 2.5 * disc
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.standard_normal((side, side)).astype(np.float32), (0, 0), 1.0)
    image = (0.5 + 0.25 * np.cos(phase)).astype(np.float32) * (1 + 0.3 * grain / grain.std())
    return image + rng.normal(0, 0.01, image.shape).astype(np.float32), disc


@pytest.mark.parametrize("seed", [0, 1])
def test_the_refit_background_stays_flat_under_speckle(seed):
    # The plain fit samples the phase gradient pixel by pixel on a coarse grid: the speckle in the carrier's band
    # aliased into it, and the fit missed by a fringe or more (docs/results.md, "The background fit under speckle").
    image, disc = _speckled_phase_object(6.0, seed)

    def background_and_step(features: np.ndarray) -> tuple[float, float]:
        phase = np.arctan2(features[..., 5], features[..., 4])
        away = ~cv2.dilate(disc.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        inner = cv2.erode(disc.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        step = np.angle(np.mean(np.exp(1j * phase[inner])) * np.conj(np.mean(np.exp(1j * phase[away]))))
        return float(np.mean(1 - np.cos(phase[away]))), abs(float(step))

    plain_background, _ = background_and_step(fringe_features(image, "quartic", normalise=True, robust_carrier=True))
    background, step = background_and_step(fringe_features(image, "quartic", normalise=True, robust_carrier=True,
                                                           refit=True))
    assert plain_background > 0.4  # a fringe's worth of the optics left over the background
    assert background < 0.2 and abs(step - 2.5) < 0.5


def test_the_refit_keeps_a_clean_frame_as_it_was_and_needs_the_analysis():
    image, disc = _fringes(9, 5, step_inside=2.0, optics=6.0)
    plain = fringe_features(image, "quartic", normalise=True)
    refit = fringe_features(image, "quartic", normalise=True, refit=True)
    assert np.mean(np.abs(refit[..., 3:] - plain[..., 3:])) < 0.02  # the amplitude and the phase: demodulated
    np.testing.assert_array_equal(refit[..., :3], plain[..., :3])  # the gray level, its mean and contrast: not
    options = {"fringe_features": True, "fringe_background": "quartic", "fringe_normalise": True, "fringe_refit": True,
               "fringe_side": 256}
    built, _ = AugmentConfig.from_dict(options).build(False)(image, disc.astype(np.uint8))
    np.testing.assert_allclose(built.numpy().transpose(1, 2, 0), refit, atol=1e-5)
    with pytest.raises(ValueError, match="fringe_refit"):
        AugmentConfig.from_dict({"fringe_refit": True})


def test_fine_fringes_are_analysed_before_the_resize_and_once_per_frame(monkeypatch):
    # Fringes 4 px apart on a 512 frame: at the network's 128 px side they alias into moire. Analysed at 512
    # (fringe_side) and resized after, the sample's phase step is read back; before the resize, it is lost.
    yy, xx = np.mgrid[0:512, 0:512].astype(np.float64)
    disc = np.hypot(yy - 256, xx - 256) < 96
    image = (0.5 + 0.4 * np.cos(2 * math.pi * (xx + yy) / 5.6 + 2.0 * disc)).astype(np.float32)
    options = {"fringe_features": True, "fringe_background": "quadratic", "fringe_normalise": True, "resize": 128}
    late = AugmentConfig.from_dict(options).build(train=False)(image, None)[0].numpy().transpose(1, 2, 0)
    first = AugmentConfig.from_dict({**options, "fringe_side": 512}).build(train=False)
    early = first(image, None)[0].numpy().transpose(1, 2, 0)
    assert early.shape == late.shape == (128, 128, FRINGE_CHANNELS)

    def step(features):
        phase = np.arctan2(features[..., 5], features[..., 4])
        radius = np.hypot(*np.mgrid[-64:64, -64:64])
        inside, ring = phase[radius < 16], phase[(radius > 34) & (radius < 56)]
        return abs(float(np.angle(np.exp(1j * (np.median(inside) - np.angle(np.mean(np.exp(1j * ring)))))))), \
            float(np.std(np.angle(np.exp(1j * (ring - np.angle(np.mean(np.exp(1j * ring))))))))
    early_step, early_spread = step(early)
    assert abs(early_step - 2.0) < 0.3 and early_spread < 0.3
    assert step(late)[1] > 2 * early_spread  # aliased: the background's phase is not flat

    # The analysis runs once: the same frame again comes from memory, the same channels.
    calls = []
    real = fringes_module.fringe_features
    monkeypatch.setattr(fringes_module, "fringe_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    memo_module.MEMO.clear()
    training = AugmentConfig.from_dict({**options, "fringe_side": 512, "invert": 0.5, "jitter": [0.2, 0.2, 0.3],
                                        "phase_sign": 0.5, "crop": 64}).build(train=True)
    for epoch in range(3):
        training(image, disc.astype(np.uint8), np.random.default_rng(epoch))
    assert len(calls) == 1


def test_the_gray_channels_jitter_after_the_analysis_as_before_it():
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 1, (8, 8, FRINGE_CHANNELS)).astype(np.float32)
    features.setflags(write=False)  # as the memo hands them out: never changed in place
    mirrored, _ = RandomFringeIntensity(gamma=0.0, invert=1.0)(features, None, rng)
    np.testing.assert_allclose(mirrored[..., :2], 1 - features[..., :2], atol=1e-6)
    np.testing.assert_array_equal(mirrored[..., 2:], features[..., 2:])  # contrast, amplitude and phase as they were
    same, _ = RandomFringeIntensity(gamma=0.0, invert=0.0)(features, None, rng)
    assert same is features
    gammas = {float(np.round(RandomFringeIntensity(gamma=0.5)(features, None, np.random.default_rng(s))[0][0, 0, 0], 4))
              for s in range(5)}
    assert len(gammas) > 1
    with pytest.raises(ValueError, match="six|6"):
        RandomFringeIntensity(invert=1.0)(features[..., :3], None, rng)
    with pytest.raises(ValueError, match="fringe_side"):
        AugmentConfig(fringe_side=512)  # the analysis's side without the analysis


@pytest.mark.parametrize("sigma", [40.0, 128.0, 512.0])
def test_a_wide_blur_through_a_smaller_copy_matches_the_exact_one(sigma):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:600, 0:700]
    frame = (120 + 100 * np.cos(2 * np.pi * (0.8 * xx + 0.6 * yy) / 60) + 50 * ((xx - 300) ** 2 + (yy - 280) ** 2 < 150**2)
             + 30 * xx / 700 + rng.normal(0, 10, xx.shape)).astype(np.float32)
    exact = cv2.GaussianBlur(frame, (0, 0), sigma)
    fast = gaussian_blur(frame, sigma)
    assert fast.shape == frame.shape and fast.dtype == np.float32
    assert float(np.abs(fast - exact).max()) < 0.004 * float(np.ptp(frame))


def test_a_frame_without_fringes_is_analysed_with_narrow_kernels_only(monkeypatch):
    # Its carrier is the frame's side: the exact blurs were 3000 px wide and took seconds each at 1024^2.
    widths, exact = [], cv2.GaussianBlur

    def recording(x, ksize, sigma, *args, **kwargs):
        widths.append(sigma)
        return exact(x, ksize, sigma, *args, **kwargs)

    monkeypatch.setattr(fringes_module.cv2, "GaussianBlur", recording)
    features = fringe_features(np.full((512, 512), 40, np.float32), "quartic", normalise=True, robust_carrier=True)
    assert np.isfinite(features).all() and widths
    assert max(widths) <= fringes_module.WIDE_SIGMA
