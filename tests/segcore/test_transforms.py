"""Paired augmentations: alignment, ignore padding, 16-bit handling, determinism, CLAHE, mean image."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from segcore.data.classes import IGNORE_INDEX
from segcore.data.transforms import (
    CLAHE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    CenterCrop,
    Compose,
    MeanImageSubtraction,
    Normalize,
    PadToMultiple,
    PhotometricJitter,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomScale,
    RandomScaleRotateCrop,
    RandomVerticalFlip,
    Resize,
    ToTensor,
    build_transforms,
    compute_mean_image,
    dataset_statistics,
)
from segcore.errors import DatasetError

POS = 256  # position encoding: channel value = coordinate * POS (fits uint16 for images < 256 px)
MARK = 60000  # constant third channel; any other value means the pixel was blended with the border


def position_pair(h: int = 80, w: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """uint16 image whose channels are (y * POS, x * POS, MARK), and a mask whose class changes
    at every pixel step, so any misalignment by one pixel shows."""
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([y * POS, x * POS, np.full_like(y, MARK)], axis=2).astype(np.uint16)
    return image, position_class(y, x)


def position_class(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return ((y + 2 * x) % 5).astype(np.uint8)


def assert_aligned(image: np.ndarray, mask: np.ndarray, min_checked: float = 0.3, tol: float = 0.25) -> None:
    """Every labelled pixel's mask class is the class of the source pixel its image value came
    from: the image decodes to a source position (exact under bilinear resampling of a linear
    ramp), and nearest-neighbour resampling of the mask must have taken a pixel within half a
    pixel (+ tol, for ties and area averaging) of it. A one-pixel shift fails. Pixels blended
    with the border (third channel != MARK) or padded (ignore) are skipped."""
    assert image.shape[:2] == mask.shape
    ys, xs = image[..., 0] / POS, image[..., 1] / POS
    check = (mask != IGNORE_INDEX) & (image[..., 2] == MARK)
    assert check.mean() >= min_checked, f"only {check.mean():.0%} of pixels could be checked"
    ok = np.zeros(mask.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            cy, cx = np.rint(ys).astype(int) + dy, np.rint(xs).astype(int) + dx
            near = (np.abs(cy - ys) <= 0.5 + tol) & (np.abs(cx - xs) <= 0.5 + tol)
            ok |= near & (mask == position_class(cy, cx))
    wrong = check & ~ok
    assert not wrong.any(), f"{wrong.sum()} of {check.sum()} pixels misaligned"


GEOMETRIC = [
    (RandomScale(0.5, 2.0), 0.25),
    (RandomScale(0.4, 0.6), 0.25),
    (RandomCrop(48), 0.0),
    (RandomCrop((100, 120)), 0.0),
    (CenterCrop((40, 50)), 0.0),
    (PadToMultiple(32), 0.0),
    (RandomHorizontalFlip(1.0), 0.0),
    (RandomVerticalFlip(1.0), 0.0),
    (RandomRotation(30), 0.25),
    (Resize(long_side=32), 0.25),
    (Resize(size=(50, 70)), 0.25),
    (Compose([RandomRotation(20), RandomCrop(64), RandomHorizontalFlip(), RandomVerticalFlip()]), 0.25),
    # Two resamplings in a row: the mask's nearest-neighbour rounding errors add up (half a pixel
    # of the intermediate grid each), so the tolerance grows; gross misalignment still fails.
    (Compose([RandomScale(0.8, 1.5), RandomRotation(20), RandomCrop(64), RandomHorizontalFlip()]), 0.75),
    # The same three as one warp: one resampling, so one resampling's tolerance.
    (RandomScaleRotateCrop(64, (0.8, 1.5), 20), 0.25),
    (RandomScaleRotateCrop((100, 120), (0.5, 0.9), 30), 0.25),  # smaller than the crop: padded
]


@pytest.mark.parametrize(("transform", "tol"), GEOMETRIC, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mask_stays_aligned_with_image(transform, tol, seed):
    image, mask = position_pair()
    out_image, out_mask = transform(image, mask, np.random.default_rng(seed))
    assert out_image.dtype == np.uint16
    assert_aligned(out_image, out_mask, min_checked=0.2, tol=tol)


@pytest.mark.parametrize(("crop", "scales"), [(64, (0.8, 1.5)), ((100, 120), (0.5, 0.9)), (48, (1.0, 1.0))])
def test_one_warp_gives_the_three_steps_samples(crop, scales):
    # The same draws in the same order: a seed gives the sample the three steps gave (one resampling, not two).
    image, _ = position_pair()
    y, x = np.mgrid[0:80, 0:96]
    mask = (np.hypot(y - 40, x - 50) < 25).astype(np.uint8)  # regions, not a class a pixel: ties are rare
    fused = RandomScaleRotateCrop(crop, scales, 25)
    chain = Compose([RandomScale(*scales), RandomRotation(25), RandomCrop(crop)])
    for seed in range(6):
        one, one_mask = fused(image, mask, np.random.default_rng(seed))
        three, three_mask = chain(image, mask, np.random.default_rng(seed))
        assert one.shape == three.shape and one_mask.shape == three_mask.shape
        assert np.mean(one_mask == three_mask) > 0.97
        both = (one[..., 2] == MARK) & (three[..., 2] == MARK)  # neither blended with the border
        assert both.mean() > 0.15  # (the padded case: the scaled frame fills a third of the crop)
        assert np.abs(one[..., :2][both].astype(float) - three[..., :2][both]).max() <= POS  # within a source pixel


def test_alignment_check_catches_a_one_pixel_shift():
    image, mask = position_pair()
    with pytest.raises(AssertionError, match="misaligned"):
        assert_aligned(image[:, 1:], mask[:, :-1])


def test_flips_and_integer_downscale_are_exact():
    image, mask = position_pair(60, 90)
    rng = np.random.default_rng(0)
    flipped, fmask = RandomHorizontalFlip(1.0)(image, mask, rng)
    np.testing.assert_array_equal(flipped, image[:, ::-1])
    np.testing.assert_array_equal(fmask, mask[:, ::-1])
    # 3x down (3072 -> 1024 in miniature): the area average of a linear ramp is its centre pixel,
    # and the mask must take that same centre pixel (y = 3i + 1), not the top-left one.
    small, smask = Resize(scale=1 / 3)(image, mask)
    assert small.shape == (20, 30, 3) and smask.shape == (20, 30)
    np.testing.assert_array_equal(small[..., 0] // POS, np.arange(20)[:, None] * 3 + 1 + np.zeros((1, 30), int))
    np.testing.assert_array_equal(smask, mask[1::3, 1::3])


@pytest.mark.parametrize("seed", range(5))
def test_masks_keep_only_class_values_and_ignore(seed):
    rng = np.random.default_rng(100 + seed)
    mask = rng.choice(np.array([0, 3, 7, IGNORE_INDEX], np.uint8), size=(64, 64))
    mask[16:48, 16:48] = 7
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    tf = build_transforms(True, crop=80, scale_range=(0.6, 1.7), rotation=35, vflip=0.5, jitter=(0.3, 0.3, 0.3))
    _, out = tf(image, mask, np.random.default_rng(seed))
    assert out.dtype == torch.int64
    assert set(out.unique().tolist()) <= {0, 3, 7, IGNORE_INDEX}


def test_random_crop_pads_mask_with_ignore_and_image_with_zero():
    image = np.full((40, 30), 1000, np.uint16)
    mask = np.ones((40, 30), np.uint8)
    out, omask = RandomCrop((50, 60))(image, mask, np.random.default_rng(0))
    assert out.shape == (50, 60) and out.dtype == np.uint16
    np.testing.assert_array_equal(out[:40, :30], 1000)
    np.testing.assert_array_equal(omask[:40, :30], 1)
    assert (out[40:] == 0).all() and (out[:, 30:] == 0).all()
    assert (omask[40:] == IGNORE_INDEX).all() and (omask[:, 30:] == IGNORE_INDEX).all()


def test_center_crop_pads_evenly_and_pad_to_multiple_pads_bottom_right():
    mask = np.zeros((10, 20), np.uint8)
    _, out = CenterCrop((14, 16))(np.zeros((10, 20), np.uint8), mask)
    assert out.shape == (14, 16)
    assert (out[:2] == IGNORE_INDEX).all() and (out[12:] == IGNORE_INDEX).all() and (out[2:12] == 0).all()
    image, mask = position_pair(33, 65)
    padded, pmask = PadToMultiple(16)(image, mask)
    assert padded.shape == (48, 80, 3) and pmask.shape == (48, 80)
    np.testing.assert_array_equal(padded[:33, :65], image)
    assert (pmask[33:] == IGNORE_INDEX).all() and (pmask[:, 65:] == IGNORE_INDEX).all()
    assert (padded[33:] == 0).all()


def test_rotation_corners_are_ignore_not_background():
    mask = np.zeros((64, 64), np.uint8)  # all background
    image = np.full((64, 64), 50000, np.uint16)
    # Find a draw with a large angle so the corners certainly rotate in.
    seed = next(s for s in range(100) if abs(np.random.default_rng(s).uniform(-45, 45)) > 30)
    out, omask = RandomRotation(45)(image, mask, np.random.default_rng(seed))
    for corner in (omask[0, 0], omask[0, -1], omask[-1, 0], omask[-1, -1]):
        assert corner == IGNORE_INDEX
    assert omask[32, 32] == 0 and out[32, 32] == 50000
    assert out[0, 0] == 0 and out.dtype == np.uint16
    assert set(np.unique(omask).tolist()) == {0, IGNORE_INDEX}


def test_16_bit_survives_geometry_and_normalises_to_unit_range():
    x = np.mgrid[0:64, 0:64][1]
    image = (x * 1040).astype(np.uint16)  # 0 .. 65520, far beyond 8 bits
    mask = np.zeros((64, 64), np.uint8)
    tf = Compose([RandomScale(0.8, 1.2), RandomRotation(10), RandomCrop(48), RandomHorizontalFlip()])
    out, _ = tf(image, mask, np.random.default_rng(3))
    assert out.dtype == np.uint16 and out.max() > 40000
    normed, _ = Normalize((0.0,), (1.0,))(np.array([[0, 65535, 32768]], np.uint16), None)
    np.testing.assert_allclose(normed, [[0.0, 1.0, 32768 / 65535]], rtol=1e-6)
    assert normed.dtype == np.float32
    normed8, _ = Normalize((0.5,), (0.25,))(np.array([[0, 255]], np.uint8), None)
    np.testing.assert_allclose(normed8, [[-2.0, 2.0]], rtol=1e-6)


def test_normalize_rgb_per_channel_and_to_tensor_layout():
    image = np.zeros((4, 5, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 255, 0, 51
    out, _ = Normalize(IMAGENET_MEAN, IMAGENET_STD)(image, None)
    expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]
    np.testing.assert_allclose(out[2, 3], expected, rtol=1e-5)
    tensor, target = ToTensor()(out, np.full((4, 5), 2, np.uint8))
    assert tensor.shape == (3, 4, 5) and tensor.dtype == torch.float32 and tensor.is_contiguous()
    assert torch.allclose(tensor[:, 1, 1], torch.tensor(expected), rtol=1e-5)
    assert target.dtype == torch.int64 and target.shape == (4, 5)
    gray, _ = ToTensor()(np.array([[0, 65535]], np.uint16), None)
    assert gray.shape == (1, 1, 2) and gray.tolist() == [[[0.0, 1.0]]]
    with pytest.raises(ValueError, match="channel"):
        Normalize((0.1, 0.2), (1.0, 1.0))(image, None)


def test_same_seed_same_output_different_seed_differs():
    rng = np.random.default_rng(7)
    image = rng.integers(0, 65536, (64, 64), dtype=np.uint16)
    mask = rng.integers(0, 3, (64, 64), dtype=np.uint8)
    tf = build_transforms(True, crop=40, scale_range=(0.5, 2.0), rotation=15, vflip=0.5, jitter=(0.2, 0.2, 0.2))
    a = tf(image, mask, np.random.default_rng([1, 2, 3]))
    b = tf(image, mask, np.random.default_rng([1, 2, 3]))
    c = tf(image, mask, np.random.default_rng([1, 2, 4]))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_random_transforms_refuse_to_run_without_rng():
    with pytest.raises(ValueError, match="Generator"):
        RandomCrop(8)(np.zeros((16, 16), np.uint8), None)


def test_jitter_on_16_bit_is_not_clipped_to_8_bits_and_matches_hand_computation():
    image = np.linspace(1000, 50000, 64 * 64).reshape(64, 64).astype(np.uint16)
    mask = np.zeros((64, 64), np.uint8)
    out, omask = PhotometricJitter(brightness=0.2)(image, mask, np.random.default_rng(5))
    b = np.random.default_rng(5).uniform(0.8, 1.2)  # the first draw is the brightness factor
    expected = np.clip(np.rint(image / 65535.0 * b * 65535.0), 0, 65535)
    assert out.dtype == np.uint16 and omask is mask
    np.testing.assert_allclose(out, expected, atol=2)  # float32 arithmetic
    assert out.max() > 255
    # Strong jitter on a bright image saturates at 65535, not at 255.
    bright, _ = PhotometricJitter(brightness=0.5)(np.full((8, 8), 60000, np.uint16), None, np.random.default_rng(0))
    assert bright.max() <= 65535 and bright.max() > 255


def test_jitter_on_float_keeps_sign_and_skips_gamma():
    image = np.array([[-0.1, 0.0, 0.1]], np.float32)
    out, _ = PhotometricJitter(gamma=0.5)(image, None, np.random.default_rng(0))
    np.testing.assert_array_equal(out, image)


def low_contrast_16bit() -> np.ndarray:
    y, x = np.mgrid[0:128, 0:128]
    texture = 150 * np.sin(x / 5.0) * np.cos(y / 7.0) + 2 * x
    return (30000 + texture).astype(np.uint16)


def test_clahe_on_16_bit_grayscale_raises_contrast_at_16_bit_precision():
    image = low_contrast_16bit()
    out, mask = CLAHE(clip_limit=2.0, tile_grid=(4, 4))(image, np.zeros(image.shape, np.uint8))
    assert out.dtype == np.uint16 and out.shape == image.shape
    assert out.astype(float).std() > 5 * image.astype(float).std()
    assert len(np.unique(out)) > 256  # not squeezed through 8 bits
    assert mask.shape == image.shape


# OpenCV's clip limit is per bin (scaled by tile pixels / bins): with 65536 bins a small tile
# clips at one count per bin and most of the histogram is redistributed evenly, so 16-bit CLAHE
# on small images is much gentler than 8-bit. Hence the different gain thresholds.
@pytest.mark.parametrize(("dtype", "gain"), [(np.uint8, 2.0), (np.uint16, 1.15)])
def test_clahe_on_rgb_equalises_lightness_and_keeps_hue(dtype, gain):
    scale = 255 if dtype == np.uint8 else 65535
    level = (low_contrast_16bit().astype(float) - 29700) / 900  # about 0.1 .. 0.9
    gray = np.clip(level * 0.2 + 0.4, 0, 1)
    rgb = np.repeat((gray * scale).astype(dtype)[..., None], 3, axis=2)
    out, _ = CLAHE(clip_limit=3.0, tile_grid=(4, 4))(rgb, None)
    assert out.dtype == dtype and out.shape == rgb.shape
    # Gray in, gray out: only L changed, a and b stayed neutral.
    spread = out.astype(float).max(axis=2) - out.astype(float).min(axis=2)
    assert spread.max() <= 0.01 * scale
    assert out[..., 1].astype(float).std() > gain * rgb[..., 1].astype(float).std()
    if dtype == np.uint16:
        assert len(np.unique(out[..., 1])) > 256  # the Lab round trip did not drop to 8 bits


def fringe_sequence(frames: int = 24, size: int = 64, seed: int = 0):
    """Frames of fixed fringes (the same in every frame) plus a blob that moves along a circle, plus noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    fringes = 20000 + 12000 * np.cos(2 * np.pi * x / 9.0 + 0.3 * y)
    sequence, centres = [], []
    for k in range(frames):
        cy = size / 2 + 18 * math.sin(2 * math.pi * k / frames)
        cx = size / 2 + 18 * math.cos(2 * math.pi * k / frames)
        blob = 9000.0 * (((y - cy) ** 2 + (x - cx) ** 2) < 5**2)
        frame = fringes + blob + rng.normal(0, 30, fringes.shape)
        sequence.append(np.clip(np.rint(frame), 0, 65535).astype(np.uint16))
        centres.append((round(cy), round(cx)))
    return sequence, centres


def test_mean_image_subtraction_removes_static_fringes():
    sequence, centres = fringe_sequence()
    mean = compute_mean_image(sequence)
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, np.stack(sequence).astype(np.float64).mean(axis=0), atol=0.01)
    k = 5
    out, _ = MeanImageSubtraction(mean)(sequence[k], None)
    assert out.dtype == np.float32
    y, x = np.mgrid[0:64, 0:64]
    background = ((y - 32) ** 2 + (x - 32) ** 2) < 10**2  # the blob's circle never reaches here
    raw_spread = (sequence[k][background] / 65535.0).std()
    assert raw_spread > 0.05  # strong fringes before
    assert np.abs(out[background]).max() < 0.005  # noise only after (30 counts ~ 0.0005)
    assert out[background].std() < 0.02 * raw_spread
    cy, cx = centres[k]
    assert out[cy, cx] > 0.1  # the blob survives: ~9000/65535 minus its share of the mean


def test_mean_image_shape_mismatch_is_a_typed_error():
    with pytest.raises(DatasetError, match="mean image"):
        MeanImageSubtraction(np.zeros((8, 8), np.float32))(np.zeros((8, 9), np.uint16), None)


def test_dataset_statistics_match_an_independent_computation():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 65536, (16 + i, 20), dtype=np.uint16) for i in range(3)]
    mean, std = dataset_statistics(images)
    allpix = np.concatenate([im.ravel() for im in images]) / 65535.0
    assert mean == pytest.approx((allpix.mean(),), rel=1e-9)
    assert std == pytest.approx((allpix.std(),), rel=1e-9)
    rgb = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(2)]
    m3, s3 = dataset_statistics(rgb)
    flat = np.concatenate([im.reshape(-1, 3) for im in rgb]) / 255.0
    assert m3 == pytest.approx(tuple(flat.mean(axis=0))) and s3 == pytest.approx(tuple(flat.std(axis=0)))


def test_resize_long_side_keeps_aspect():
    image, mask = np.zeros((96, 64), np.uint16), np.zeros((96, 64), np.uint8)
    out, omask = Resize(long_side=32)(image, mask)
    assert out.shape == (32, 21) and omask.shape == (32, 21)
    with pytest.raises(ValueError):
        Resize(size=10, scale=0.5)


def test_augment_config_round_trips_through_json_and_builds(tmp_path):
    mean_path = tmp_path / "mean.npy"
    np.save(mean_path, np.full((64, 64), 1000, np.float32))
    config = AugmentConfig(
        crop=(32, 48), scale_range=(0.5, 1.5), vflip=0.5, rotation=10, jitter=(0.1, 0.2, 0.0),
        mean_image=str(mean_path), resize=0.5, mean=(0.0,), std=(0.01,), pad_divisor=16,
    )
    again = AugmentConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    image = np.full((64, 64), 1500, np.uint16)
    mask = np.zeros((64, 64), np.uint8)
    x, y = again.build(train=True)(image, mask, np.random.default_rng(0))
    assert x.shape == (1, 32, 48) and y.shape == (32, 48)
    xv, _ = again.build(train=False)(image, mask, None)
    assert xv.shape == (1, 32, 32)  # 64 * 0.5, already a multiple of 16
    np.testing.assert_allclose(xv.numpy(), 500 / 65535 / 0.01, rtol=1e-4)
    with pytest.raises(ValueError, match="unknown"):
        AugmentConfig.from_dict({"crop": 4, "colour": 1})
    for bad in ({"crop": "big"}, {"scale_range": [2.0, 1.0]}, {"jitter": [0.1]}, {"rotation": -5}):
        with pytest.raises(ValueError):
            AugmentConfig.from_dict(bad)  # rejected when the run config is read, not mid-epoch


def test_clahe_and_mean_image_together_equalise_frame_and_mean_alike():
    sequence, centres = fringe_sequence()
    mean = compute_mean_image(sequence)
    pipeline = build_transforms(False, clahe=2.0, mean_image=mean)
    equalise = CLAHE(2.0)
    frame = sequence[5]
    out = pipeline(frame, None)[0][0].numpy()
    expected = (equalise(frame, None)[0].astype(np.float32)
                - equalise(np.rint(mean).astype(np.uint16), None)[0].astype(np.float32)) / 65535
    np.testing.assert_allclose(out, expected, atol=1e-6)
    still = np.rint(mean).astype(np.uint16)  # a frame where nothing changed: no residual at all
    assert np.abs(pipeline(still, None)[0].numpy()).max() == 0
    cy, cx = centres[5]
    assert out[cy, cx] > 0.05  # the blob survives the equalisation
    assert AugmentConfig(clahe=2.0, mean_image="mean.npy").clahe == 2.0  # no longer refused


@pytest.mark.parametrize(("dtype", "shape", "mean", "std"), [
    (np.uint8, (9, 7, 3), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    (np.uint16, (9, 7), (0.3,), (0.1,)),
    (np.uint8, (9, 7, 3), (0.5,), (0.25,)),
])
def test_normalize_lookup_tables_equal_the_formula(dtype, shape, mean, std):
    from segcore.data.transforms import Normalize

    image = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    out, _ = Normalize(mean, std)(image, None)
    expected = (image.astype(np.float64) / np.iinfo(dtype).max - np.array(mean)) / np.array(std)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_random_noise_scales_with_the_frame_and_leaves_the_mask():
    from segcore.data.transforms.photometric import RandomNoise

    rng = np.random.default_rng(0)
    frame = np.tile(np.linspace(0, 40000, 64, dtype=np.float32), (64, 1)).astype(np.uint16)  # a 16-bit ramp
    mask = (np.arange(64 * 64).reshape(64, 64) % 3).astype(np.uint8)
    noisy, kept = RandomNoise(0.1)(frame, mask, rng)
    assert noisy.dtype == np.float32 and kept is mask
    residual = noisy - frame.astype(np.float32) / 65535
    spread = float(np.percentile(frame, 99) - np.percentile(frame, 1)) / 65535
    assert 0 < residual.std() <= 0.1 * spread * 1.05  # at most the asked share of the frame's range
    unchanged, _ = RandomNoise(0.0)(frame, mask, rng)
    np.testing.assert_allclose(unchanged, frame.astype(np.float32) / 65535)


def test_random_invert_mirrors_integer_and_scaled_frames_and_leaves_the_mask():
    from segcore.data.transforms.photometric import PercentileScale, RandomInvert

    frame = np.tile(np.linspace(1000, 40000, 64, dtype=np.float32), (64, 1)).astype(np.uint16)
    mask = (np.arange(64 * 64).reshape(64, 64) % 3).astype(np.uint8)
    rng = np.random.default_rng(0)
    inverted, kept = RandomInvert(1.0)(frame, mask, rng)
    assert inverted.dtype == np.uint16 and kept is mask
    np.testing.assert_array_equal(inverted, 65535 - frame)
    scaled, _ = PercentileScale()(frame, mask)
    mirrored, _ = RandomInvert(1.0)(scaled, mask, rng)
    np.testing.assert_allclose(mirrored, 1.0 - scaled, atol=1e-3)  # 0..1 becomes 1..0
    untouched, _ = RandomInvert(0.0)(frame, mask, rng)
    assert untouched is frame
    flips = [RandomInvert(0.5)(frame, mask, np.random.default_rng(seed))[0] is not frame for seed in range(200)]
    assert 70 < sum(flips) < 130
    with pytest.raises(ValueError, match="invert probability"):
        RandomInvert(1.5)


def test_invert_is_a_training_only_step_of_the_pipeline():
    from segcore.data.transforms import build_transforms
    from segcore.data.transforms.photometric import RandomInvert

    train = build_transforms(True, intensity="percentile", invert=0.5)
    val = build_transforms(False, intensity="percentile", invert=0.5)
    assert any(isinstance(t, RandomInvert) for t in train.transforms)
    assert not any(isinstance(t, RandomInvert) for t in val.transforms)
