"""Frames of an acquisition whose stored prediction jumps against the frames beside it: the review queue's "jump".

    jumping = jumping_frames(store)      # {image id, ...}

Each sequence's predicted frames are taken in frame order and compared as `segcore.inference.measure.jumps`
compares them (area, centroid). A prediction's region shapes are kept per process, keyed by when it was stored,
so the queue recomputed after an edit reads only the predictions that changed.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from segcore.errors import SegcoreError
from segcore.inference.measure import RegionShape, jumps, region_shapes
from segcore.project.store import ProjectStore

log = logging.getLogger(__name__)

KEPT_SHAPES = 50_000
"""Predictions whose shapes stay known (a few hundred bytes each); past it the oldest are read again."""
_shapes: OrderedDict[tuple[str, int, str, tuple[str, ...]], tuple[RegionShape, ...]] = OrderedDict()
_shapes_lock = threading.Lock()  # the review queue is computed in worker threads


def jumping_frames(store: ProjectStore) -> set[int]:
    """The ids of the frames whose stored prediction jumps against its neighbours' in the same sequence."""
    records = store.prediction_records()
    by_sequence: dict[int, list[tuple[int, int]]] = {}
    for image in store.images():
        if image.sequence_id is not None and image.id in records:
            by_sequence.setdefault(image.sequence_id, []).append((image.frame or 0, image.id))
    names = store.class_table().names
    jumping: set[int] = set()
    for frames in by_sequence.values():
        shapes, owners = [], []
        for _, image_id in sorted(frames):
            for shape in _prediction_shapes(store, image_id, records[image_id].created_at, names):
                shapes.append(shape)
                owners.append(image_id)
        jumping.update(owners[index] for index in jumps(shapes))
    return jumping


def _prediction_shapes(store: ProjectStore, image_id: int, created_at: str,
                       names: list[str]) -> tuple[RegionShape, ...]:
    key = (str(store.root), image_id, created_at, tuple(names))
    with _shapes_lock:
        if key in _shapes:
            _shapes.move_to_end(key)
            return _shapes[key]
    try:
        prediction = store.load_prediction(image_id)
    except SegcoreError as exc:  # one unreadable prediction: named, the others still compared
        log.warning("image %d: %s", image_id, exc)
        return ()
    shapes = () if prediction is None else tuple(region_shapes(prediction.labels, names))
    with _shapes_lock:
        _shapes[key] = shapes
        if len(_shapes) > KEPT_SHAPES:
            _shapes.popitem(last=False)
    return shapes
