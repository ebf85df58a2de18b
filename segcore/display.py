"""Turn decoded images (8/16-bit, gray/RGB/RGBA) into 8-bit RGB for display, with a window/level.

No GUI code here: the app converts the returned array to whatever its toolkit needs.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Window = tuple[float, float]

# Percentiles from ~1M samples are indistinguishable from the full image's and cost ~10 ms.
_MAX_SAMPLES = 1 << 20


def _subsample(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    step = max(1, math.ceil(math.sqrt(height * width / _MAX_SAMPLES)))
    return image[::step, ::step]


def _color_channels(image: np.ndarray) -> np.ndarray:
    """The RGB part of a colour image (alpha dropped), or the gray image itself."""
    return image[:, :, :3] if image.ndim == 3 else image


HISTOGRAM_BINS = 64


def intensity_histogram(image: np.ndarray, bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, Window]:
    """Counts of the image's values (all channels, from ~1M samples) in `bins` bins over their own range,
    and that (low, high) range: what a window/level control draws beside its two numbers."""
    sample = _subsample(_color_channels(image)).ravel()
    low, high = float(sample.min()), float(sample.max())
    if high <= low:
        high = low + 1.0
    counts, _ = np.histogram(sample, bins=bins, range=(low, high))
    return counts, (low, high)


def auto_window(image: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> Window:
    """A (low, high) display window from intensity percentiles; 8-bit colour images get the full range.

    Gray images of any depth and 16-bit colour images are stretched; 8-bit colour is shown as is.
    """
    if image.ndim == 3 and image.dtype == np.uint8:
        return 0.0, 255.0
    sample = _subsample(_color_channels(image))
    low, high = np.percentile(sample, (low_pct, high_pct))
    return float(low), float(high)


def window_lut(dtype: np.dtype, window: Window) -> np.ndarray:
    """A uint8 lookup table over every value of `dtype` mapping `window` linearly onto 0..255."""
    low, high = window
    if high <= low:  # a constant image: anything above `low` is white, no division by zero
        high = low + 1.0
    values = np.arange(np.iinfo(dtype).max + 1, dtype=np.float32)
    scaled = (values - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def to_display_rgb(image: np.ndarray, window: Window) -> np.ndarray:
    """An H x W x 3 uint8 RGB array for display: `window` maps onto 0..255, alpha is dropped."""
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"display needs a uint8 or uint16 image, got {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"display needs an H x W or H x W x C image, got shape {image.shape}")
    channels = _color_channels(image)
    if image.dtype == np.uint8 and window == (0.0, 255.0):
        mapped = channels
    else:
        # A lookup table beats float arithmetic on large 16-bit images by ~5x.
        mapped = window_lut(image.dtype, window)[channels]
    if mapped.ndim == 2:
        return np.repeat(mapped[:, :, None], 3, axis=2)
    if mapped.shape[2] == 3:
        return np.ascontiguousarray(mapped)
    # Two-channel (gray + alpha) or other odd layouts: show the first channel as gray.
    return np.repeat(mapped[:, :, :1], 3, axis=2)


def apply_clahe(rgb: np.ndarray, clip_limit: float = 2.0, tile_grid: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of a display image (OpenCV's CLAHE).

    Gray-looking images are equalised directly; colour ones on the L channel of Lab, so hues stay.
    """
    if rgb.dtype != np.uint8:
        raise ValueError(f"CLAHE works on the 8-bit display image, got {rgb.dtype}")
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tile_grid, tile_grid))
    if rgb.ndim == 2:
        return clahe.apply(rgb)
    if _is_gray(rgb):
        return np.repeat(clahe.apply(np.ascontiguousarray(rgb[:, :, 0]))[:, :, None], 3, axis=2)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _is_gray(rgb: np.ndarray) -> bool:
    sample = _subsample(rgb)
    return bool((sample[:, :, 0] == sample[:, :, 1]).all() and (sample[:, :, 1] == sample[:, :, 2]).all())


def thumbnail(image: np.ndarray, max_side: int = 96) -> np.ndarray:
    """A small H x W x 3 uint8 RGB preview (auto window/level), its longer side `max_side`."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Shrink first (area averaging keeps fringes from aliasing), then window: both cheaper small.
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image
    return to_display_rgb(small, auto_window(small))


def class_outlines(labels: np.ndarray, classes: list[int]) -> dict[int, list[np.ndarray]]:
    """{class: [N x 2 float32 (x, y) loops]} tracing each class's regions and holes, for drawing as outlines.

    Points run through the boundary pixels' centres (x + 0.5, y + 0.5 in image coordinates, where
    pixel (x, y) covers [x, x + 1]); filled with the even-odd rule, the loops give the regions with
    their holes. Classes absent from `labels` get no entry.
    """
    outlines: dict[int, list[np.ndarray]] = {}
    for index in classes:
        binary = (labels == index).astype(np.uint8)
        if not binary.any():
            continue
        contours, _ = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        outlines[index] = [contour.reshape(-1, 2).astype(np.float32) + 0.5 for contour in contours]
    return outlines
