"""How good is a prediction, without its label: an estimated IoU per frame.

A network trained on a few frames is as sure of itself where it is wrong as where it is right: the
mean softmax entropy of a frame says little about its IoU (Spearman 0.22 on frames never labelled,
issue 26). What does tell is whether the prediction holds when the frame is shown otherwise, in
ways the training made no difference to: mirrored left-right and up-down at once, and, for a network on
the fringe analysis, with the analysed phase of the other sign (which of the carrier's two mirror
peaks the analysis takes is arbitrary). One such view ranks frames as well as three did
(benchmarks/bench_estimate.py), and costs one forward more than the prediction. A frame whose sample the network really found comes out
the same in every view; one it half-found or mistook comes out differently.

    views = quality_views(fringe=True)                   # the views a predictor runs
    estimate = estimate_quality(view_probabilities, labels)

`estimate_quality` takes the softmax of each view (mapped back to the frame), takes each view's
labels, tidied as the predictor tidies its own (one region per class, holes filled, when it does),
and gives, per class, the mean IoU of every pair among the views and the prediction being
estimated: 1 when all label the same pixels, lower when they disagree on the outline, on a region
one sees and another does not, or on which region is the sample, and lower too for a prediction
that is not what the network sees (a damaged or edited one). The estimate is the mean over the
classes any of them holds (background left out); a frame where nothing was found in any view is
estimated 0 (a frame that holds nothing is rarer than a sample the model missed: look at it). Measured against the true IoU on frames never labelled, it ranks them far better than the
mean entropy or the soft IoU of the views' mean probability, whose tail over the background
drags every frame down (docs/results.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from segcore.data.transforms.fringes import FRINGE_CHANNELS, SINE_CHANNEL
from segcore.inference.regions import confident_pixels

CHECK_BELOW = 0.8
"""A prediction estimated below this IoU is flagged for the user: "check this"."""


def to_check(estimated_iou: float | None) -> bool:
    """Whether a stored estimate is low enough that the user should look (None: no estimate, nothing to say)."""
    return estimated_iou is not None and estimated_iou < CHECK_BELOW


@dataclass(frozen=True)
class View:
    """One way of showing the network a frame: flipped, and (fringe analysis) with the phase of the other sign."""

    hflip: bool = False
    vflip: bool = False
    negate_phase: bool = False

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """The view of an N x C x H x W batch."""
        if self.negate_phase:
            x = x.clone()
            x[:, SINE_CHANNEL] = -x[:, SINE_CHANNEL]
        dims = [d for d, flip in ((-1, self.hflip), (-2, self.vflip)) if flip]
        return x.flip(dims) if dims else x

    def undo(self, y: torch.Tensor) -> torch.Tensor:
        """Outputs of the view (N x C x H x W) back in the frame's orientation."""
        dims = [d for d, flip in ((-1, self.hflip), (-2, self.vflip)) if flip]
        return y.flip(dims) if dims else y


def quality_views(fringe: bool) -> tuple[View, ...]:
    """The frame as it is, and mirrored both ways; with the fringe analysis, the mirror with the phase negated (its
    sign is the analysis's choice, as the training's `RandomPhaseSign` teaches).

    One mirror, not three: on bench_loop's three families (seed 3, benchmarks/bench_estimate.py) the estimate
    from it ranks the frames as well as from all three (Spearman 0.82 / 0.83 / 0.75 against 0.81 / 0.83 / 0.68),
    for a third of the forwards."""
    return (View(), View(True, True, negate_phase=fringe))


def takes_fringe_channels(in_channels: int, augment: dict) -> bool:
    """Whether a checkpoint's network sees the fringe analysis (so its phase's sign is a view)."""
    return bool(augment.get("fringe_features")) and in_channels == FRINGE_CHANNELS


@dataclass(frozen=True)
class QualityEstimate:
    """What a prediction's quality is estimated from, and the estimate."""

    iou: float
    """Estimated IoU of the prediction, 0..1: the mean pairwise IoU among it and the views, over their classes but
    background."""
    agreement: float
    """The lowest IoU of a view's labels with the prediction's (the view that disagrees most)."""

    @property
    def check(self) -> bool:
        """Estimated bad enough that the user should look: below CHECK_BELOW."""
        return to_check(self.iou)


def estimate_quality(probabilities: np.ndarray, labels: np.ndarray, *,
                     tidy: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                     background: int = 0) -> QualityEstimate:
    """The estimate for `labels` (H x W) from the views' softmax (V x C x H x W, each in the frame's orientation).

    tidy: what the predictor does to its labels (`keep_one_region`), done to each view's labels too, given them
    and where the view is confident (`regions.confident_pixels`).
    """
    if probabilities.ndim != 4 or probabilities.shape[-2:] != labels.shape or len(probabilities) < 2:
        raise ValueError(f"need V x C x H x W probabilities of two views or more over labels {labels.shape}, "
                         f"got {probabilities.shape}")
    views = [view.argmax(axis=0).astype(np.uint8) for view in probabilities]
    if tidy is not None:
        views = [tidy(view, confident_pixels(softmax)) for view, softmax in zip(views, probabilities)]
    classes = sorted({int(c) for view in (*views, labels) for c in np.unique(view)} - {background})
    if not classes:  # nothing found in any view: a frame that holds nothing is rare, one the model missed is not
        return QualityEstimate(0.0, 0.0)
    pairwise, agreement = [], []
    for c in classes:
        held = [view == c for view in views]
        pool = [labels == c, *held]
        pairwise.append(float(np.mean([_iou(a, b) for i, a in enumerate(pool) for b in pool[i + 1:]])))
        agreement.append(min(_iou(view, pool[0]) for view in held))
    return QualityEstimate(float(np.mean(pairwise)), float(np.mean(agreement)))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
