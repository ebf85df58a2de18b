"""Decode an image and turn it into a paintable QImage (window/level, optional CLAHE); runs in a Worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QImage

from segcore.display import Window, apply_clahe, auto_window, intensity_histogram, to_display_rgb


@dataclass(frozen=True)
class Rendered:
    """An image as decoded, the window it was shown with, and the display pixels."""

    image: np.ndarray
    window: Window
    qimage: QImage
    histogram: tuple[np.ndarray, Window]
    """The image's value counts and their range (`intensity_histogram`), for the window/level control."""


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage sharing the memory of a contiguous H x W x 3 (RGB) or x 4 (RGBA) uint8 array.

    The caller keeps `rgb` alive as long as the QImage is used.
    """
    height, width, channels = rgb.shape
    fmt = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(rgb.data, width, height, rgb.strides[0], fmt)


def render(image: np.ndarray, window: Window | None, clahe: bool) -> Rendered:
    """Display pixels of `image` through `window` (None: auto from percentiles), CLAHE-equalised if asked."""
    window = auto_window(image) if window is None else window
    rgb = to_display_rgb(image, window)
    if clahe:
        rgb = apply_clahe(rgb)
    # RGB32 is what the raster paint engine draws without converting; the conversion also copies,
    # so the QImage owns its pixels and can cross to the GUI thread.
    return Rendered(image, window, rgb_to_qimage(rgb).convertToFormat(QImage.Format.Format_RGB32),
                    intensity_histogram(image))


def decode_and_render(load: Callable[[], np.ndarray], window: Window | None, clahe: bool) -> Rendered:
    """Decode the image `load()` reads (e.g. a project's `store.read_image`) and render it (see `render`)."""
    return render(load(), window, clahe)
