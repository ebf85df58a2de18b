"""Measure a project's stored predictions: the app's Measure action (the CLI's `predict --measure` on a project).

    steps = iter_measure_project(store, image_ids)      # yields MeasureProgress; returns list[Measurement]
    write_measurements(path, measurements, pixel_size=2.5)

Each image with a stored prediction gives one `Measurement` per class present (`segcore.inference.measure`),
with the prediction's estimated IoU; images without one are passed over. Frames of an acquisition are measured
in frame order and flagged where they jump against their neighbours (`flag_jumps`), sequence by sequence.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable
from dataclasses import dataclass

from segcore.errors import SegcoreError
from segcore.inference.measure import Measurement, flag_jumps, measure_frame
from segcore.project.store import ProjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeasureProgress:
    done: int
    total: int
    name: str


MeasureSteps = Generator[MeasureProgress, None, list[Measurement]]


def iter_measure_project(store: ProjectStore, image_ids: Iterable[int]) -> MeasureSteps:
    """Measure the stored predictions of `image_ids` (frames in frame order); one progress step per image."""
    records = [store.image(i) for i in image_ids]
    # Frames of a sequence together and in order, so that jumps are judged against the frames beside them.
    records.sort(key=lambda r: (r.sequence_id is None, r.sequence_id or 0, r.frame or 0, r.id))
    names = store.class_table().names
    by_sequence: dict[int | None, list[Measurement]] = {}
    for done, record in enumerate(records, start=1):
        try:
            prediction = store.load_prediction(record.id)
            if prediction is not None:
                measured = measure_frame(record.name, prediction.labels, store.read_image(record.id), names,
                                         quality=store.prediction_quality(record.id))
                by_sequence.setdefault(record.sequence_id, []).extend(measured)
        except SegcoreError as exc:  # a frame whose file or prediction cannot be read: named, the others measured
            log.warning("%s not measured: %s", record.name, exc)
        yield MeasureProgress(done, len(records), record.name)
    return [m for sequence, found in by_sequence.items() for m in (found if sequence is None else flag_jumps(found))]

