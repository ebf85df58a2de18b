"""After training, the frames a run was trained on, predicted back as the app predicts them.

A network that cannot reproduce its own labels has failed as a whole, and its estimate of other frames cannot say
so: a BatchNorm network once called the background the sample on every frame of a project, its labelled frames
included, and rated each of those predictions 0.93-0.99 (docs/results.md). The predictions are not stored: a
run leaves the project's predictions as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segcore.errors import SegcoreError
from segcore.project.comparison import compare
from segcore.project.predict import project_predictor
from segcore.project.store import ProjectStore
from segcore.training.data import spread
from segcore.training.events import LabelsChecked, fails_as_a_whole

log = logging.getLogger(__name__)

MAX_FRAMES = 32
"""At most this many labelled frames (spread over them) are predicted back: seconds, not minutes, on a CPU."""
FLOOR = 0.5
"""A labelled frame predicted back below this mean IoU is one the model does not reproduce."""


def check_labels(store: ProjectStore, checkpoint: str | Path, names: Iterable[str], *,
                 floor: float = FLOOR) -> LabelsChecked:
    """Predict the labelled frames `names` (at most MAX_FRAMES of them) with `checkpoint` and score each against its
    label. Nothing is stored: the project is as the run left it."""
    ids = {record.name: record.id for record in store.images()}
    chosen = spread([(name, ids[name]) for name in names if name in ids and store.has_mask(ids[name])], MAX_FRAMES)
    table = store.class_table()
    predictor = project_predictor(store, checkpoint, quality=False)
    scores: dict[str, float] = {}
    for name, image_id in chosen:
        try:
            labels = predictor.predict(store.read_image(image_id)).labels
        except SegcoreError as exc:
            log.warning("labelled image %d not predicted back: %s", image_id, exc)
            continue
        label = store.load_mask(image_id)
        if label is None or label.shape != labels.shape:
            continue
        miou = compare(label, labels, table.num_classes, table.ignore_index).miou
        if miou is not None:
            scores[name] = miou
    failing = tuple(sorted((name for name, value in scores.items() if value < floor), key=scores.__getitem__))
    result = LabelsChecked(len(scores), float(np.mean(list(scores.values()))) if scores else None, failing, floor)
    log.info("%s", result.describe())  # the event carries it to the user; a warning here would say it twice
    return result


@dataclass(frozen=True)
class RunLabelCheck:
    """What a run's `LabelsChecked` left in its metrics: how many labelled frames came back, how many below the floor."""

    run_id: int
    images: int
    failing: int
    mean_iou: float | None

    @property
    def failed(self) -> bool:
        return self.failing > 0

    def describe(self) -> str:
        """'run 3 does not reproduce 6 of its 8 labelled frames (mean IoU 0.13): ...' (for a failed check)."""
        mean = "" if self.mean_iou is None else f" (mean IoU {self.mean_iou:.2f})"
        if not fails_as_a_whole(self.failing, self.images):
            return (f"run {self.run_id} did not learn {self.failing} of its {self.images} labelled frames{mean}: "
                    f"frames like them are likely wrong too")
        return (f"run {self.run_id} does not reproduce {self.failing} of its {self.images} labelled frames{mean}: "
                f"its predictions and their estimates are not to be trusted")


def run_label_check(store: ProjectStore, run_id: int) -> RunLabelCheck | None:
    """The label check a run recorded (`train_project` logs it with the run's last epoch); None: it has none."""
    for values in reversed(store.run_metrics(run_id).values()):
        if "labels_checked" in values:
            return RunLabelCheck(run_id, int(values["labels_checked"]), int(values.get("labels_failing", 0)),
                                 values.get("labels_miou"))
    return None
