"""Fringe analysis as the network's input: what an interferometrist reads off a frame, as channels.

A sample in an interferogram shows as fringes that bend, close into rings, change contrast or
stop. A small network trained on a handful of frames does not learn to see that from the raw
gray level alone; the Fourier-transform method of fringe analysis (Takeda, Ina and Kobayashi,
JOSA 72, 1982) shows it directly. `FringeFeatures` turns a gray frame into six channels:

  0 the gray level itself;
  1 the local mean and 2 the local contrast (standard deviation), over one fringe period;
  3 the fringe amplitude: the envelope of the carrier's band (where fringes are, how strong);
  4, 5 the cosine and sine of the phase left when the carrier is removed: flat or slowly
       curving over the background, rings and steps over a sample.

The carrier is the strongest peak of the frame's spectrum (away from zero frequency); its band
is a Gaussian of half the carrier's frequency around it. Frames without fringes give a weak,
meaningless carrier: the first three channels still carry the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segcore.data.transforms.base import Mask, check_pair

FRINGE_CHANNELS = 6
_DC_RADIUS = 4
"""Spectrum bins around zero frequency that are never the carrier (illumination, the sample's own blur)."""


@dataclass(frozen=True)
class FringeFeatures:
    """Gray frame (H x W or H x W x 1, any dtype) -> H x W x 6 float32 fringe-analysis channels."""

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        if image.ndim == 3 and image.shape[2] != 1:
            raise ValueError(f"fringe analysis needs grayscale frames, got {image.shape[2]} channels")
        return fringe_features(image.reshape(image.shape[:2])), mask


def fringe_features(gray: np.ndarray) -> np.ndarray:
    """The six channels of `FringeFeatures` for an H x W frame."""
    x = gray.astype(np.float32)
    height, width = x.shape
    centred = x - np.float32(x.mean())
    ky, kx = _carrier(centred) or (0, 1)  # a flat frame: any carrier will do, it has no fringes
    spectrum = np.fft.fftshift(np.fft.fft2(centred))
    yy = np.arange(height, dtype=np.float32)[:, None] - height // 2
    xx = np.arange(width, dtype=np.float32)[None, :] - width // 2
    sigma = max(1.0, 0.5 * float(np.hypot(ky, kx)))
    band = np.exp(-((yy - ky) ** 2 + (xx - kx) ** 2) / np.float32(2 * sigma**2))
    analytic = np.fft.ifft2(np.fft.ifftshift(spectrum * band))
    # Removing the carrier's linear phase leaves what the optics and the sample add to it.
    carrier = np.exp(-2j * np.pi * (kx * np.arange(width)[None, :] / width + ky * np.arange(height)[:, None] / height))
    residual = np.angle(analytic * carrier)
    amplitude = np.abs(analytic).astype(np.float32)
    period = int(np.clip(round(max(height, width) / max(float(np.hypot(ky, kx)), 1.0)), 3, max(3, min(height, width) // 4)))
    mean = cv2.blur(x, (period, period))
    contrast = np.sqrt(np.maximum(cv2.blur(x * x, (period, period)) - mean * mean, 0.0))
    channels = (x, mean, contrast, amplitude * np.float32(2.0), np.cos(residual), np.sin(residual))
    return np.stack([np.asarray(c, dtype=np.float32) for c in channels], axis=2)


def _carrier(centred: np.ndarray) -> tuple[int, int] | None:
    """(ky, kx): the spectrum's strongest peak in one half-plane, away from zero frequency (bins from the centre).

    None for a frame without any variation (all of its power at zero frequency).
    """
    height, width = centred.shape
    power = windowed_spectrum(centred)
    cy, cx = height // 2, width // 2
    yy, xx = np.ogrid[0:height, 0:width]
    power[np.hypot(yy - cy, xx - cx) < _DC_RADIUS] = 0
    power[:cy] = 0  # the spectrum of a real image is symmetric: one half-plane holds every peak once
    power[cy, :cx] = 0
    if not power.max() > 0:
        return None
    peak_y, peak_x = np.unravel_index(int(np.argmax(power)), power.shape)
    return int(peak_y - cy), int(peak_x - cx)


def windowed_spectrum(gray: np.ndarray) -> np.ndarray:
    """|FFT| of the frame less its mean under a Hann window (no edge leakage), zero frequency at the centre."""
    height, width = gray.shape
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    return np.abs(np.fft.fftshift(np.fft.fft2((gray - np.float32(gray.mean())) * window)))


def fringe_period(gray: np.ndarray) -> float | None:
    """The carrier's period as a share of the frame's long side (0.03: 30 px on a 1000 px frame); None if flat."""
    height, width = gray.shape[:2]
    x = gray.reshape(height, width).astype(np.float32)
    carrier = _carrier(x - np.float32(x.mean()))
    if carrier is None:
        return None
    ky, kx = carrier
    cycles_per_pixel = float(np.hypot(ky / height, kx / width))
    return 1.0 / (max(cycles_per_pixel, 1e-6) * max(height, width))
