"""Fringe analysis as the network's input: what an interferometrist reads off a frame, as channels.

A sample in an interferogram shows as fringes that bend, close into rings, change contrast or
stop. A small network trained on a handful of frames does not learn to see that from the raw
gray level alone; the Fourier-transform method of fringe analysis (Takeda, Ina and Kobayashi,
JOSA 72, 1982) shows it directly. `FringeFeatures` turns a gray frame into six channels:

  0 the gray level itself;
  1 the local mean and 2 the local contrast (standard deviation), over one fringe period;
  3 the fringe amplitude: the envelope of the carrier's band (where fringes are, how strong);
  4, 5 the cosine and sine of the phase left when the background is removed: flat over the
       background, rings and steps over a sample. Its sign is the analysis's choice of one of the
       carrier's two mirror peaks (a cosine is even: one frame cannot tell a bump from a dip), so
       training flips it in half the samples (`RandomPhaseSign`).

The carrier is the strongest peak of the frame's spectrum (away from zero frequency); its band
is a Gaussian of half the carrier's frequency around it. Frames without fringes give a weak,
meaningless carrier: the first three channels still carry the image.

What counts as background (`BACKGROUNDS`): the carrier alone (a tilt; the phase then still curves
over the frame where the optics add defocus or astigmatism, and those rings look like a sample to
a network that saw a few frames), or, as an interferometrist removes tilt and power before reading
a sample, the best-fitting quadratic phase too. The quadratic is fitted to the phase gradient,
weighted by the fringe amplitude and refitted without the worst-fitting pixels (a sample is a small
part of the frame), and the frame is demodulated again along it; the phase left is then set to
zero over the background on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segcore.data.transforms.base import Mask, check_pair, check_probability, require_rng

FRINGE_CHANNELS = 6
SINE_CHANNEL = 5
"""The phase's sine: the one channel whose sign depends on which of the carrier's two mirror peaks was taken."""
BACKGROUNDS = ("carrier", "quadratic")
"""Phase removed before channels 4 and 5. "carrier" is what runs trained before "quadratic" existed saw."""
_FIT_SAMPLES = 128
"""The quadratic is fitted on about this many pixels a side (a grid over the frame): plenty for 5 numbers."""
_FIT_ROUNDS = 3
_FIT_OUTLIER = 3.0
"""Refits drop pixels whose gradient misfit is above this many times the median misfit (the sample's own)."""
_DC_RADIUS = 4
"""Spectrum bins around zero frequency that are never the carrier (illumination, the sample's own blur)."""


@dataclass(frozen=True)
class FringeFeatures:
    """Gray frame (H x W or H x W x 1, any dtype) -> H x W x 6 float32 fringe-analysis channels."""

    background: str = "carrier"

    def __post_init__(self) -> None:
        _check_background(self.background)

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        if image.ndim == 3 and image.shape[2] != 1:
            raise ValueError(f"fringe analysis needs grayscale frames, got {image.shape[2]} channels")
        return fringe_features(image.reshape(image.shape[:2]), self.background), mask


@dataclass(frozen=True)
class RandomPhaseSign:
    """With probability `p`, the phase of `FringeFeatures` negated (its sine channel), training only.

    The phase's sign is not the sample's: the carrier is either of two mirror peaks of the spectrum,
    and which one the analysis takes (one half-plane) flips with the fringes' direction; fringes are
    a cosine, which is even, so no rule could tell a bump from a dip in one frame. A network trained
    on a few frames learns the signs they happened to get and misses samples whose phase comes out
    the other way (docs/results.md). The other channels are what the other peak gives too.
    """

    p: float

    def __post_init__(self) -> None:
        check_probability(self.p, "phase sign")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        rng = require_rng(rng, self)
        if image.ndim != 3 or image.shape[2] != FRINGE_CHANNELS:
            raise ValueError(f"the phase sign needs the {FRINGE_CHANNELS} fringe-analysis channels, got shape {image.shape}")
        if rng.random() >= self.p:
            return image, mask
        flipped = image.copy()
        flipped[:, :, SINE_CHANNEL] *= -1
        return flipped, mask


def _check_background(background: str) -> None:
    if background not in BACKGROUNDS:
        raise ValueError(f"fringe background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")


def fringe_features(gray: np.ndarray, background: str = "carrier") -> np.ndarray:
    """The six channels of `FringeFeatures` for an H x W frame, less the `background` phase (`BACKGROUNDS`)."""
    _check_background(background)
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
    carrier_phase = 2 * np.pi * (kx * np.arange(width)[None, :] / width + ky * np.arange(height)[:, None] / height)
    demodulated = analytic * np.exp(-1j * carrier_phase)
    if background == "quadratic":
        # Demodulating again along carrier + quadratic follows fringes the optics curve away from the carrier's band.
        along = np.exp(-1j * (carrier_phase + _quadratic_phase(demodulated)))
        low_pass = np.exp(-(yy**2 + xx**2) / np.float32(2 * sigma**2))
        demodulated = np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(centred * along)) * low_pass))
        total = demodulated.sum()
        demodulated *= np.conj(total) / max(abs(total), 1e-12)  # the background's phase to zero on average
    residual = np.angle(demodulated)
    amplitude = np.abs(demodulated).astype(np.float32)
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


def _quadratic_phase(field: np.ndarray) -> np.ndarray:
    """The quadratic phase (tilt, defocus, astigmatism) that best fits the phase of complex `field`, H x W radians.

    phi = c1 x + c2 y + c3 x^2 + c4 xy + c5 y^2 is fitted to the phase gradient, Im(conj(f) grad f) / |f|^2
    (no unwrapping), on a grid of pixels weighted by the amplitude; each refit drops the pixels it fits worst.
    """
    height, width = field.shape
    half = max(height, width) / 2  # x, y within about -1..1: the normal equations stay well conditioned
    step = max(1, min(height, width) // _FIT_SAMPLES)
    grad_y, grad_x = np.gradient(field)
    rows, cols = slice(None, None, step), slice(None, None, step)
    power = np.abs(field[rows, cols]) ** 2 + 1e-12
    slope_x = (np.imag(np.conj(field[rows, cols]) * grad_x[rows, cols]) / power * half).ravel()
    slope_y = (np.imag(np.conj(field[rows, cols]) * grad_y[rows, cols]) / power * half).ravel()
    y, x = np.mgrid[0:height:step, 0:width:step]
    x = ((x - width / 2) / half).ravel()
    y = ((y - height / 2) / half).ravel()
    one, zero = np.ones_like(x), np.zeros_like(x)
    # d phi / dx = c1 + 2 c3 x + c4 y and d phi / dy = c2 + c4 x + 2 c5 y, one row each per pixel.
    design = np.concatenate([np.stack([one, zero, 2 * x, y, zero], 1), np.stack([zero, one, zero, x, 2 * y], 1)])
    slopes = np.concatenate([slope_x, slope_y])
    weight = np.tile(np.sqrt(power).ravel(), 2)
    keep = np.ones(slopes.shape, bool)
    for _ in range(_FIT_ROUNDS):
        # Normal equations by einsum, not lstsq: BLAS threads would fight the training's own for the cores.
        weighted = design * (weight * keep)[:, None]
        normal = np.einsum("ni,nj->ij", weighted, design) + 1e-9 * np.eye(5)
        coef = np.linalg.solve(normal, np.einsum("ni,n->i", weighted, slopes))
        misfit = np.abs(np.einsum("ni,i->n", design, coef) - slopes)
        keep = misfit <= _FIT_OUTLIER * np.median(misfit[keep]) + 1e-9
    x_row = (np.arange(width) - width / 2) / half
    y_col = ((np.arange(height) - height / 2) / half)[:, None]
    return (coef[0] * x_row + coef[2] * x_row**2) + (coef[1] * y_col + coef[4] * y_col**2) + coef[3] * y_col * x_row


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
