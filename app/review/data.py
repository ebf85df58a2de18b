"""What the review view shows for one image, loaded and compared off the GUI thread."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from app.canvas.render import Rendered, decode_and_render
from app.quality_marks import describe_quality
from app.state.preview import Preview
from segcore.data.classes import ClassTable
from segcore.project.review import Comparison, compare, prediction_origins
from segcore.project.store import ProjectStore

CORRECT, FALSE_POSITIVE, FALSE_NEGATIVE = 0, 1, 2
ERROR_TABLE = ClassTable.from_names(
    ["correct", "false positive", "false negative"], [(0, 0, 0), (255, 0, 255), (0, 255, 255)]
)
"""Colours of the error overlay: magenta false positives, cyan false negatives (black is drawn transparent)."""


@dataclass(frozen=True)
class ReviewData:
    """One image's pixels (None: keep those on screen), label, prediction and their comparison."""

    image_id: int
    rendered: Rendered | None
    label: np.ndarray | None
    prediction: np.ndarray | None
    comparison: Comparison | None
    """None unless the image has both a label and a prediction."""
    prediction_origin: str = ""
    """Where the prediction came from ('prediction · run 3 · best.pt · …' or a live preview's description)."""
    is_preview: bool = False
    """The prediction is the live preview (in memory only: nothing to accept)."""
    quality: float | None = None
    """The stored prediction's estimated IoU (`segcore.inference.quality`); None: none, or not estimated."""


def error_mask(comparison: Comparison) -> np.ndarray:
    """H x W uint8: FALSE_POSITIVE, FALSE_NEGATIVE or CORRECT per pixel (indices of ERROR_TABLE)."""
    errors = np.full(comparison.false_positive.shape, CORRECT, np.uint8)
    errors[comparison.false_positive] = FALSE_POSITIVE
    errors[comparison.false_negative] = FALSE_NEGATIVE
    return errors


def load_review(
    store: ProjectStore, image_id: int, table: ClassTable, *, with_image: bool, label: np.ndarray | None,
    preview: Preview | None = None,
) -> ReviewData:
    """Worker body: decode the image (unless `with_image` is False), read label and prediction, compare them.

    `label` is the live mask of an open editor; None reads the stored one. A `preview` (the live
    preview of this image) is shown instead of the stored prediction.
    """
    rendered = None if not with_image else decode_and_render(functools.partial(store.read_image, image_id), None, False)
    if label is None:
        label = store.load_mask(image_id)
    quality = None
    if preview is not None:
        prediction, origin = preview.labels, preview.describe()
    else:
        stored = store.load_prediction(image_id)
        prediction = None if stored is None else stored.labels
        quality = None if stored is None else stored.quality
        found = prediction_origins(store).get(image_id) if stored is not None else None
        origin = "" if stored is None else (found.describe() if found is not None else stored.checkpoint)
    comparison = None
    if label is not None and prediction is not None:
        comparison = compare(label, prediction, table.num_classes, table.ignore_index)
    return ReviewData(image_id, rendered, label, prediction, comparison, origin, is_preview=preview is not None,
                      quality=quality)


def describe_scores(data: ReviewData | None) -> str:
    """The line above the triptych: IoU and pixel accuracy (or what is missing), the prediction's estimated IoU
    ("check this" when low), and where the prediction came from."""
    if data is None:
        return ""
    origin = f" — prediction: {data.prediction_origin}" if data.prediction_origin else ""
    estimate = "" if data.quality is None else f" · {describe_quality(data.quality)}"
    missing = [what for what, value in (("no label", data.label), ("no prediction", data.prediction)) if value is None]
    if missing:
        return " · ".join(missing) + estimate + origin
    comparison = data.comparison
    if comparison is None or comparison.miou is None or comparison.pixel_acc is None:
        return "nothing to score (all pixels ignored)" + estimate + origin
    return f"IoU {comparison.miou:.3f} · pixel accuracy {comparison.pixel_acc:.1%}{estimate}{origin}"
