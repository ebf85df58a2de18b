"""segcore.display: window/level and conversion to 8-bit RGB for display."""

from __future__ import annotations

import numpy as np
import pytest

from segcore.display import apply_clahe, auto_window, to_display_rgb, window_lut


def test_16bit_window_maps_the_percentiles_to_black_and_white():
    rng = np.random.default_rng(0)
    image = rng.integers(1000, 5000, size=(200, 300), dtype=np.uint16)
    low, high = auto_window(image, 1.0, 99.0)
    assert low == pytest.approx(np.percentile(image, 1.0), abs=20)
    assert high == pytest.approx(np.percentile(image, 99.0), abs=20)
    shown = to_display_rgb(image, (low, high))
    assert shown.shape == (200, 300, 3) and shown.dtype == np.uint8
    assert (shown[image <= low] == 0).all()
    assert (shown[image >= high] == 255).all()
    assert (shown[:, :, 0] == shown[:, :, 1]).all() and (shown[:, :, 1] == shown[:, :, 2]).all()  # gray
    middle = to_display_rgb(np.array([[int((low + high) / 2)]], np.uint16), (low, high))
    assert 125 <= middle[0, 0, 0] <= 130


def test_8bit_gray_is_stretched_too():
    image = np.tile(np.arange(100, 150, dtype=np.uint8), (10, 1))
    low, high = auto_window(image, 0, 100)
    assert (low, high) == (100.0, 149.0)
    shown = to_display_rgb(image, (low, high))
    assert shown[0, 0, 0] == 0 and shown[0, -1, 0] == 255


def test_8bit_rgb_passes_through_unchanged():
    rgb = np.random.default_rng(1).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    assert auto_window(rgb) == (0.0, 255.0)
    np.testing.assert_array_equal(to_display_rgb(rgb, auto_window(rgb)), rgb)


def test_rgba_drops_alpha_and_16bit_rgb_is_windowed_jointly():
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 90, 7
    shown = to_display_rgb(rgba, auto_window(rgba))
    assert shown.shape == (4, 5, 3) and (shown[..., 0] == 90).all() and (shown[..., 1:] == 0).all()
    rgb16 = np.zeros((10, 10, 3), np.uint16)
    rgb16[..., 0] = 60000  # red stays brighter than green and blue: one window for all channels
    shown16 = to_display_rgb(rgb16, auto_window(rgb16, 0, 100))
    assert (shown16[..., 0] == 255).all() and (shown16[..., 1:] == 0).all()


def test_constant_image_does_not_divide_by_zero():
    image = np.full((16, 16), 1234, np.uint16)
    window = auto_window(image)
    assert window == (1234.0, 1234.0)
    with np.errstate(all="raise"):
        shown = to_display_rgb(image, window)
    assert shown.shape == (16, 16, 3) and len(np.unique(shown)) == 1


def test_large_16bit_image_is_windowed_through_the_lut():
    image = np.random.default_rng(2).integers(0, 4096, size=(3072, 3072), dtype=np.uint16)
    window = auto_window(image)
    shown = to_display_rgb(image, window)
    assert shown.shape == (3072, 3072, 3)
    np.testing.assert_array_equal(shown[:, :, 0], window_lut(np.uint16, window)[image])


def test_unsupported_dtype_is_refused():
    with pytest.raises(ValueError, match="uint8 or uint16"):
        to_display_rgb(np.zeros((4, 4), np.float32), (0.0, 1.0))


def test_clahe_stretches_a_low_contrast_gray_image_and_keeps_colour_hues():
    yy, xx = np.mgrid[0:64, 0:64]
    flat = np.repeat((100 + (xx + yy) % 8)[:, :, None], 3, axis=2).astype(np.uint8)  # 8 gray levels only
    equalised = apply_clahe(flat)
    assert equalised.shape == flat.shape and (equalised[:, :, 0] == equalised[:, :, 2]).all()  # still gray
    assert np.ptp(equalised) > 4 * np.ptp(flat)
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = np.linspace(80, 120, 32).astype(np.uint8)[None, :]
    out = apply_clahe(red)
    assert (out[..., 0] >= out[..., 1]).all() and (out[..., 0] >= out[..., 2]).all()  # red stays red
    with pytest.raises(ValueError, match="8-bit"):
        apply_clahe(flat.astype(np.uint16))
