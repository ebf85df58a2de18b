"""What the project store hands out: plain records of its rows (images, annotations, revisions, runs)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


class ImageStatus(str, Enum):
    UNLABELLED = "unlabelled"
    LABELLED = "labelled"
    PREDICTED = "predicted"
    REVIEWED = "reviewed"


@dataclass(frozen=True)
class ImageRecord:
    id: int
    name: str
    path: str
    """Relative to the project root, with forward slashes."""
    width: int
    height: int
    channels: int
    bit_depth: int
    status: ImageStatus
    split: str | None
    sequence_id: int | None = None
    """The acquisition this image is a frame of (`SequenceRecord`), None for an image file of its own."""
    frame: int | None = None
    """Its frame index in that acquisition, from 0."""

    @property
    def file(self) -> str:
        """The file holding the pixels, relative to the project root: `path` less a frame's "#<index>"."""
        return self.path.rsplit("#", 1)[0] if self.frame is not None else self.path


@dataclass(frozen=True)
class SequenceRecord:
    """An acquisition the project references where it lies: its frames are images of the project."""

    id: int
    name: str
    path: str
    """Relative to the project root (with forward slashes) where a relative path exists, else absolute."""
    kind: str
    frames: int
    frame_interval_s: float | None
    size: int
    mtime_ns: int
    fingerprint: str


@dataclass(frozen=True)
class Annotation:
    id: int
    image_id: int
    kind: str
    class_index: int
    geometry: dict


@dataclass(frozen=True)
class MaskRevision:
    image_id: int
    revision: int
    file: str
    source: str
    created_at: str


@dataclass(frozen=True)
class StoredPrediction:
    image_id: int
    labels: np.ndarray
    """H x W uint8 class indices."""
    uncertainty: np.ndarray | None
    """H x W float32 in [0, 1] (0 = certain), or None."""
    score: float | None
    checkpoint: str
    run_id: int | None
    created_at: str
    method: tuple[str, ...] | None = ()
    """What the predictor added to the network ("flips", "one region"); None: made before this was recorded."""
    quality: float | None = None
    """Estimated IoU of the prediction (`segcore.inference.quality`); None: made before it was estimated."""


@dataclass(frozen=True)
class PredictionRecord:
    """Where an image's stored prediction came from (the row, without its pixel files)."""

    image_id: int
    score: float | None
    checkpoint: str
    run_id: int | None
    created_at: str
    method: tuple[str, ...] | None = ()
    """As `StoredPrediction.method`."""
    quality: float | None = None
    """As `StoredPrediction.quality`."""


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    config: dict
    status: str
    checkpoint_dir: str | None
    best_score: float | None
    created_at: str
    finished_at: str | None
    split: dict[str, list[str]] | None = None
    """{"train": [...], "val": [...]}: the sample names the run trained on and held out."""
