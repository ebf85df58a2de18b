"""Fringe analysis as the network's input: what an interferometrist reads off a frame, as channels.

A sample in an interferogram shows as fringes that bend, close into rings, change contrast or
stop. A small network trained on a handful of frames does not learn to see that from the raw
gray level alone; the Fourier-transform method of fringe analysis (Takeda, Ina and Kobayashi,
JOSA 72, 1982) shows it directly. `FringeFeatures` turns a gray frame into six channels:

  0 the gray level itself (normalised: without its fringes);
  1 the local mean and 2 the local contrast (standard deviation), over one fringe period;
  3 the fringe amplitude: the envelope of the carrier's band (where fringes are, how strong);
  4, 5 the cosine and sine of the phase left when the background is removed: flat over the
       background, rings and steps over a sample. Its sign is the analysis's choice of one of the
       carrier's two mirror peaks (a cosine is even: one frame cannot tell a bump from a dip), so
       training flips it in half the samples (`RandomPhaseSign`).

The carrier is the strongest peak of the frame's spectrum (away from zero frequency); its band
is a Gaussian of half the carrier's frequency around it. Frames without fringes give a weak,
meaningless carrier: the first three channels still carry the image.

Normalised (`normalise=True`, today's default), for frames whose light and fringe contrast vary:

- the illumination is removed before the analysis. A beam's falloff, a gradient, a sample brighter
  than its surroundings are low frequencies far stronger than faint fringes, and they leak into the
  carrier's band: the carrier is found on the frame less its large-scale blur (`ILLUMINATION_SIDE`),
  and the analysis runs on the frame less its local mean (a blur of half the carrier's period), which
  holds the illumination and none of the fringes (the phase over the background of half the frames of
  a project with a beam's falloff was not flat before, docs/results.md);
- the local contrast and the fringe amplitude are divided by their median over the frame: a sample
  shows as contrast unlike its surroundings', whatever the frame's own fringe visibility (0.2 to 0.9
  within one project);
- the gray level is given without its fringes (blurred by half a period): fringes 10x finer or
  coarser than the labelled frames' look alike, where a network trained on coarse fringes took
  fringe texture in the gray level for the sample and missed every one under fine fringes.
- (`robust_carrier`) the carrier is sought past what outshines faint fringes over a small sample:
  hot pixels, a sensor's row and column pattern, the sample's own brighter or darker outline
  (`find_carrier`). Where fringes lie inside the sample only, the plain strongest peak was one of those
  on a third of the frames, and the amplitude channel then showed nothing (docs/results.md).

Runs saved before this option analysed the frame less its global mean, contrasts as they were.

What counts as background (`BACKGROUNDS`): the carrier alone (a tilt; the phase then still curves
over the frame where the optics add defocus or astigmatism, and those rings look like a sample to
a network that saw a few frames), or, as an interferometrist removes tilt and power before reading
a sample, the best-fitting quadratic phase too, or the best-fitting quartic (coma and spherical
aberration as well, the Zernike terms up to the fourth order an interferometer's optics add). The
polynomial is fitted to the phase gradient, weighted by the fringe amplitude and refitted without
the worst-fitting pixels (a sample is a small part of the frame), and the frame is demodulated
again along it; the phase left is then set to zero over the background on average.

(`refit`) The polynomial is fitted on the demodulated field smoothed over the fit's sampling grid, then fitted
once more to what the first fit leaves. The fit reads the phase's gradient every `_FIT_SAMPLES`-th of the
frame; unsmoothed, those samples alias the noise of the carrier's band, and under laser speckle or a sensor's
row pattern the fit missed by a fringe or more across the frame, so the phase over the background was not flat
on 6 of 48 phase-object frames (docs/results.md, "The background fit under speckle").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from segcore.data.transforms.base import Mask, check_pair, check_probability, require_rng

FRINGE_CHANNELS = 6
INTENSITY_CHANNELS = 2
"""The gray level and its local mean: the channels a gamma or a bright-dark swap changes (they lead the six)."""
COSINE_CHANNEL = 4
"""The phase's cosine: 1 where the phase is flat (the background, once the optics are fitted away)."""
SINE_CHANNEL = 5
"""The phase's sine: the one channel whose sign depends on which of the carrier's two mirror peaks was taken."""
BACKGROUNDS = ("carrier", "quadratic", "quartic")
"""Phase removed before channels 4 and 5. "carrier" is what runs trained before "quadratic" existed saw."""
_DEGREES = {"quadratic": 2, "quartic": 4}
_FIT_SAMPLES = 128
"""The polynomial is fitted on about this many pixels a side (a grid over the frame): plenty for 14 numbers."""
_FIT_ROUNDS = 3
_FIT_OUTLIER = 3.0
"""Refits drop pixels whose gradient misfit is above this many times the median misfit (the sample's own)."""
ILLUMINATION_SIDE = 0.04
"""With `normalise`, the carrier is sought in the frame less its blur by this share of the long side (a
Gaussian's sigma): a period up to ~10 % of the side passes, a beam's falloff and gradients do not."""
FRINGE_FREE_SIGMA = 0.5
"""With `normalise`, the gray channel is blurred by this many periods (a Gaussian's sigma): the fringes are gone
(their contrast times 0.007), the light and a sample's brightness stay."""
WIDE_SIGMA = 32.0
"""`gaussian_blur` blurs exactly up to this sigma (pixels) and through a smaller copy above it."""
_DC_RADIUS = 4
MIN_CARRIER_BINS = 8
"""`find_carrier`'s robust search: the coarsest carrier sought, in cycles over the frame (ILLUMINATION_SIDE passes ~10)."""
PATTERN_LINE = 3.0
FREQUENCY_WEIGHT = 0.5
"""`find_carrier`'s robust search weighs the power by the frequency to this power: an outline's spectrum falls off as its
square, a carrier's stands as a peak (0 let the sample's outline win, 1 the noise near the finest periods)."""
FINEST_PERIOD = 3.0
"""`find_carrier`'s robust search: the finest period sought, in pixels (noise fills the bins towards 2 px)."""
AXIS_PEAK = 100.0
"""A white line's strongest bin is a few times its median (~7 over 100 bins); a carrier's, thousands."""
_LINE_BESIDE = (-4, -3, 3, 4)
"""Spectrum bins around zero frequency that are never the carrier (illumination, the sample's own blur)."""


@dataclass(frozen=True)
class FringeFeatures:
    """Gray frame (H x W or H x W x 1, any dtype) -> H x W x 6 float32 fringe-analysis channels."""

    background: str = "carrier"
    normalise: bool = False
    """Illumination removed before the analysis, contrasts relative after (the module's docstring); runs saved
    before: False."""
    robust_carrier: bool = False
    """With `normalise`, the carrier sought past hot pixels, a sensor's row and column pattern and the sample's own
    outline (`find_carrier`); runs saved before the option: False."""
    refit: bool = False
    """With a polynomial background, fitted on the smoothed field and once more (the module's docstring); runs saved
    before the option: False."""

    def __post_init__(self) -> None:
        _check_background(self.background)

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        if image.ndim == 3 and image.shape[2] != 1:
            raise ValueError(f"fringe analysis needs grayscale frames, got {image.shape[2]} channels")
        gray = image.reshape(image.shape[:2])
        return fringe_features(gray, self.background, normalise=self.normalise, robust_carrier=self.robust_carrier,
                               refit=self.refit), mask


@dataclass(frozen=True)
class RandomFringeIntensity:
    """Training only, on the fringe-analysis channels: the gray level and its local mean given a random gamma and,
    with probability `invert`, mirrored bright to dark.

    What `PhotometricJitter`'s gamma and `RandomInvert` do to a frame before the analysis, done after it, so that
    the analysis sees each frame the same every epoch and runs once (`memo.Memoised`): the contrast and
    the fringe amplitude are relative and the phase is zero over the background whatever the gamma or the
    polarity, so only these two channels change (brightness and contrast jitter are undone by `PercentileScale`).
    """

    gamma: float = 0.0
    invert: float = 0.0

    def __post_init__(self) -> None:
        check_probability(self.invert, "invert")
        if self.gamma < 0:
            raise ValueError(f"gamma strength must be >= 0, got {self.gamma}")

    def __call__(self, image: np.ndarray, mask: Mask, rng: np.random.Generator | None = None) -> tuple[np.ndarray, Mask]:
        check_pair(image, mask)
        rng = require_rng(rng, self)
        if image.ndim != 3 or image.shape[2] != FRINGE_CHANNELS:
            raise ValueError(f"the intensity jitter needs the {FRINGE_CHANNELS} fringe-analysis channels, "
                             f"got shape {image.shape}")
        # Both drawn always, so one option's setting does not shift the other's random stream.
        gamma = float(np.exp(rng.uniform(-np.log1p(self.gamma), np.log1p(self.gamma))))
        mirrored = rng.random() < self.invert
        if gamma == 1.0 and not mirrored:
            return image, mask
        out = image.copy()
        levels = np.clip(out[:, :, :INTENSITY_CHANNELS], 0.0, None)
        if gamma != 1.0:
            levels = np.power(levels, np.float32(gamma))
        out[:, :, :INTENSITY_CHANNELS] = np.float32(1.0) - levels if mirrored else levels
        return out, mask


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


def fringe_features(gray: np.ndarray, background: str = "carrier", *, normalise: bool = False,
                    robust_carrier: bool = False, refit: bool = False) -> np.ndarray:
    """The six channels of `FringeFeatures` for an H x W frame, less the `background` phase (`BACKGROUNDS`).

    normalise: the carrier found without the frame's large-scale light, the analysis run without its local mean,
    the contrast and the amplitude divided by their median over the frame. robust_carrier (with normalise): the
    carrier found by `find_carrier`'s robust search. refit: a polynomial background fitted on the smoothed field,
    twice.
    """
    _check_background(background)
    x = gray.astype(np.float32)
    height, width = x.shape
    if normalise:
        ky, kx = find_carrier(_high_pass(x), robust=robust_carrier) or (0, 1)
        centred = x - gaussian_blur(x, 0.5 * _period_pixels(ky, kx, height, width, limit=False))
    else:
        centred = x - np.float32(x.mean())
        ky, kx = find_carrier(centred) or (0, 1)  # a flat frame: any carrier will do, it has no fringes
    spectrum = np.fft.fftshift(np.fft.fft2(centred))
    yy = np.arange(height, dtype=np.float32)[:, None] - height // 2
    xx = np.arange(width, dtype=np.float32)[None, :] - width // 2
    sigma = max(1.0, 0.5 * float(np.hypot(ky, kx)))
    band = np.exp(-((yy - ky) ** 2 + (xx - kx) ** 2) / np.float32(2 * sigma**2))
    analytic = np.fft.ifft2(np.fft.ifftshift(spectrum * band))
    # Removing the carrier's linear phase leaves what the optics and the sample add to it.
    carrier_phase = 2 * np.pi * (kx * np.arange(width)[None, :] / width + ky * np.arange(height)[:, None] / height)
    demodulated = analytic * np.exp(-1j * carrier_phase)
    if background in _DEGREES:
        # Demodulating again along carrier + polynomial follows fringes the optics curve away from the carrier's band.
        along = np.exp(-1j * carrier_phase)
        low_pass = np.exp(-(yy**2 + xx**2) / np.float32(2 * sigma**2))
        for _ in range(2 if refit else 1):  # a refit follows what the first fit left, a narrower band than the carrier's
            along *= np.exp(-1j * _polynomial_phase(demodulated, _DEGREES[background], smooth=refit))
            demodulated = np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(centred * along)) * low_pass))
        total = demodulated.sum()
        demodulated *= np.conj(total) / max(abs(total), 1e-12)  # the background's phase to zero on average
    residual = np.angle(demodulated)
    amplitude = np.abs(demodulated).astype(np.float32)
    period = _period_pixels(ky, kx, height, width)
    mean = cv2.blur(x, (period, period))
    contrast = np.sqrt(np.maximum(cv2.blur(x * x, (period, period)) - mean * mean, 0.0))
    amplitude = amplitude * np.float32(2.0)
    level = x
    if normalise:
        contrast, amplitude = _relative(contrast), _relative(amplitude)
        # The fringes themselves out of the gray level: a frame with fringes 10x finer must look alike.
        level = gaussian_blur(x, FRINGE_FREE_SIGMA * period)
    channels = (level, mean, contrast, amplitude, np.cos(residual), np.sin(residual))
    return np.stack([np.asarray(c, dtype=np.float32) for c in channels], axis=2)


def _period_pixels(ky: int, kx: int, height: int, width: int, *, limit: bool = True) -> int:
    """The carrier's period in pixels (at least 3; `limit`: at most a quarter of the short side)."""
    period = round(max(height, width) / max(float(np.hypot(ky, kx)), 1.0))
    return int(np.clip(period, 3, max(3, min(height, width) // 4))) if limit else max(3, period)


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of a float32 frame by `sigma` pixels, through a smaller copy where the kernel is wide.

    OpenCV's cost grows with the kernel (6 sigma wide): a frame without fringes, whose carrier is the frame's
    side, took 8 s a blur at 1024^2. Above WIDE_SIGMA the frame is averaged down by sigma / WIDE_SIGMA * 2 (the
    blur keeps nothing finer), blurred there and brought back: within 0.4 % of the frame's range of the exact
    blur, and 10-1000x faster.
    """
    factor = int(sigma // (WIDE_SIGMA / 2))
    if factor < 2:
        return cv2.GaussianBlur(x, (0, 0), sigma)
    height, width = x.shape[:2]
    small = cv2.resize(x, (max(1, round(width / factor)), max(1, round(height / factor))), interpolation=cv2.INTER_AREA)
    step = height / small.shape[0]
    # The box average of the shrink is a blur of variance step^2 / 12 already.
    blurred = cv2.GaussianBlur(small, (0, 0), math.sqrt(max(sigma**2 - step**2 / 12, 1e-6)) / step)
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)


def _relative(channel: np.ndarray) -> np.ndarray:
    """`channel` over its median (a tiny floor for a frame without fringes)."""
    return channel / np.float32(max(float(np.median(channel)), 1e-6 * (float(channel.max()) + 1e-12), 1e-12))


def _high_pass(x: np.ndarray) -> np.ndarray:
    """The frame less its blur by ILLUMINATION_SIDE of its long side: fringes without the light they lie on."""
    return x - gaussian_blur(x, ILLUMINATION_SIDE * max(x.shape))


def find_carrier(centred: np.ndarray, *, robust: bool = False) -> tuple[int, int] | None:
    """(ky, kx): the spectrum's strongest peak in one half-plane, away from zero frequency (bins from the centre).

    robust: three things that outshine faint fringes over a small part of the frame are set aside first: hot
    pixels (a flat spectrum whose strongest bin can beat the fringes: a 3x3 median takes them out), a sensor's row
    and column pattern (a whole axis of the spectrum raised: dropped when it stands well above its neighbours, which
    a carrier along an axis, one peak on it, does not do) and the sample's own outline, brighter or darker than its
    surroundings (low frequencies: the carrier is sought from MIN_CARRIER_BINS, a period of an eighth of the frame,
    and the power weighed by the frequency's FREQUENCY_WEIGHT power), up to FINEST_PERIOD.
    None for a frame without any variation (all of its power at zero frequency).
    """
    height, width = centred.shape
    power = windowed_spectrum(cv2.medianBlur(centred.astype(np.float32), 3) if robust else centred)
    cy, cx = height // 2, width // 2
    yy, xx = np.ogrid[0:height, 0:width]
    if robust and min(height, width) > 2 * _LINE_BESIDE[-1] + 2:
        _drop_pattern_axes(power, cy, cx)
    radius = np.hypot(yy - cy, xx - cx)
    power[radius < (MIN_CARRIER_BINS if robust else _DC_RADIUS)] = 0
    if robust:
        power *= radius**FREQUENCY_WEIGHT
        power[radius > min(height, width) / FINEST_PERIOD] = 0
    power[:cy] = 0  # the spectrum of a real image is symmetric: one half-plane holds every peak once
    power[cy, :cx] = 0
    if not power.max() > 0:
        return None
    peak_y, peak_x = np.unravel_index(int(np.argmax(power)), power.shape)
    return int(peak_y - cy), int(peak_x - cx)


def _drop_pattern_axes(power: np.ndarray, cy: int, cx: int) -> None:
    """Zero the spectrum's horizontal or vertical axis (and the bins beside it) where it stands as a line: a row or
    column pattern of the sensor raises the whole axis, white along it, so far from any carrier (beyond a sixth of
    the spectrum) its median power is PATTERN_LINE times that of the lines LINE_BESIDE away. Fringes along an axis
    put their power on it too, but as a peak AXIS_PEAK times that level or more: the axis is then kept."""
    floor = 1e-6 * float(power.max())  # a frame without noise: nothing beside the axis to compare with
    for axis_line, beside in ((power[cy - 1:cy + 2, :], power[[cy + d for d in _LINE_BESIDE], :]),
                              (power[:, cx - 1:cx + 2].T, power[:, [cx + d for d in _LINE_BESIDE]].T)):
        centre = axis_line.shape[1] // 2
        far = np.r_[: max(1, centre - centre // 3), min(axis_line.shape[1] - 1, centre + centre // 3):axis_line.shape[1]]
        level = float(np.median(axis_line[1, far]))
        if level > PATTERN_LINE * max(float(np.median(beside[:, far])), floor) and axis_line[1].max() < AXIS_PEAK * level:
            axis_line[...] = 0  # a view: the spectrum itself


def _polynomial_phase(field: np.ndarray, degree: int, *, smooth: bool = False) -> np.ndarray:
    """The polynomial phase of `degree` that best fits the phase of complex `field`, H x W radians (2: tilt,
    defocus, astigmatism; 4: coma and spherical aberration too).

    phi = sum of c_ij x^i y^j (1 <= i + j <= degree) is fitted to the phase gradient, Im(conj(f) grad f) / |f|^2
    (no unwrapping), on a grid of pixels weighted by the amplitude; each refit drops the pixels it fits worst.
    smooth: the field blurred by the grid's step first, so that each sample stands for its cell, not its pixel's noise.
    """
    height, width = field.shape
    half = max(height, width) / 2  # x, y within about -1..1: the normal equations stay well conditioned
    step = max(1, min(height, width) // _FIT_SAMPLES)
    if smooth:
        field = (cv2.GaussianBlur(field.real.astype(np.float32), (0, 0), step)
                 + 1j * cv2.GaussianBlur(field.imag.astype(np.float32), (0, 0), step))
    grad_y, grad_x = np.gradient(field)
    rows, cols = slice(None, None, step), slice(None, None, step)
    power = np.abs(field[rows, cols]) ** 2 + 1e-12
    slope_x = (np.imag(np.conj(field[rows, cols]) * grad_x[rows, cols]) / power * half).ravel()
    slope_y = (np.imag(np.conj(field[rows, cols]) * grad_y[rows, cols]) / power * half).ravel()
    y, x = np.mgrid[0:height:step, 0:width:step]
    x = ((x - width / 2) / half).ravel()
    y = ((y - height / 2) / half).ravel()
    terms = [(n - j, j) for n in range(1, degree + 1) for j in range(n + 1)]  # (power of x, power of y)
    # d phi / dx = sum i c_ij x^(i-1) y^j and d phi / dy = sum j c_ij x^i y^(j-1), one row each per pixel.
    d_dx = np.stack([i * x ** max(i - 1, 0) * y**j for i, j in terms], 1)
    d_dy = np.stack([j * x**i * y ** max(j - 1, 0) for i, j in terms], 1)
    design = np.concatenate([d_dx, d_dy])
    slopes = np.concatenate([slope_x, slope_y])
    weight = np.tile(np.sqrt(power).ravel(), 2)
    keep = np.ones(slopes.shape, bool)
    for _ in range(_FIT_ROUNDS):
        # Normal equations by einsum, not lstsq: BLAS threads would fight the training's own for the cores.
        weighted = design * (weight * keep)[:, None]
        normal = np.einsum("ni,nj->ij", weighted, design) + 1e-9 * np.eye(len(terms))
        coef = np.linalg.solve(normal, np.einsum("ni,n->i", weighted, slopes))
        misfit = np.abs(np.einsum("ni,i->n", design, coef) - slopes)
        keep = misfit <= _FIT_OUTLIER * np.median(misfit[keep]) + 1e-9
    x_row = ((np.arange(width) - width / 2) / half)[None, :]
    y_col = ((np.arange(height) - height / 2) / half)[:, None]
    phase = np.zeros((height, width))
    for power_y in range(degree + 1):  # one outer product per power of y: cheap at 3072 x 3072
        in_x = sum(c * x_row**i for c, (i, j) in zip(coef, terms) if j == power_y)
        if not np.isscalar(in_x):
            phase += y_col**power_y * in_x
    return phase


def windowed_spectrum(gray: np.ndarray) -> np.ndarray:
    """|FFT| of the frame less its mean under a Hann window (no edge leakage), zero frequency at the centre."""
    height, width = gray.shape
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    # OpenCV's real-input DFT in float32: ~10x numpy's complex fft2 on a 2048 px square (a region's padded crop
    # when measuring), the same magnitudes to 1e-7 of the peak.
    spectrum = cv2.dft(((gray - np.float32(gray.mean())) * window).astype(np.float32), flags=cv2.DFT_COMPLEX_OUTPUT)
    return np.fft.fftshift(cv2.magnitude(spectrum[..., 0], spectrum[..., 1]))


def fringe_period(gray: np.ndarray, *, illumination: bool = False) -> float | None:
    """The carrier's period as a share of the frame's long side (0.03: 30 px on a 1000 px frame); None if flat.

    illumination: sought without the frame's large-scale light, as `fringe_features` does with it.
    """
    height, width = gray.shape[:2]
    x = gray.reshape(height, width).astype(np.float32)
    carrier = find_carrier(_high_pass(x) if illumination else x - np.float32(x.mean()))
    if carrier is None:
        return None
    ky, kx = carrier
    cycles_per_pixel = float(np.hypot(ky / height, kx / width))
    return 1.0 / (max(cycles_per_pixel, 1e-6) * max(height, width))
