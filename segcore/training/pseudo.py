"""Pseudo-labels: the run's own model labels the unlabelled images, and its confident pixels train on.

    labeller = PseudoLabeller(images, run_dir / PSEUDO_DIR, confidence=0.9)
    samples, summary = labeller.label(checkpoint, device)    # masks written beside the run, never to the labels
    samples = labeller.reload()                              # a resumed run: the same masks again

Half-way through a run (`TrainConfig.pseudo_after`) the model predicts each unlabelled image;
pixels whose class probability reaches `confidence` get that class, the others IGNORE_INDEX, so
they count neither way. The masks are files in the run's folder (a user can look at them); they
are never a project's labels: a pseudo-label trains one run and that is all.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segcore.data.classes import IGNORE_INDEX
from segcore.data.readers.base import LabelledSample
from segcore.errors import SegcoreError
from segcore.io.atomic import atomic_write_bytes
from segcore.io.images import read_image, write_image
from segcore.training.checkpoint import Checkpoint

log = logging.getLogger(__name__)

PSEUDO_DIR = "pseudo_labels"
MANIFEST = "manifest.json"
MAX_IMAGES = 64
"""At most this many unlabelled images (spread over the project, `training.data.spread`) are pseudo-labelled: more would
cost the run more prediction time than its training gains, and disk beside it."""
PSEUDO_SHARE = 0.5
"""Once pseudo-labels train, this share of each epoch's samples is pseudo-labelled, the rest the user's."""
NAME_PREFIX = "pseudo:"
"""Pseudo-labelled samples are named `pseudo:<image name>`: never mistaken for a user's label."""


@dataclass(frozen=True)
class UnlabelledImage:
    """An image of the project that has no label: its name and how to read its pixels."""

    name: str
    load_image: Callable[[], np.ndarray]


@dataclass(frozen=True)
class PseudoSummary:
    images: int
    """Unlabelled images with at least one confident pixel: those that train."""
    tried: int
    """Unlabelled images the model predicted."""
    confident: float
    """Share of the predicted pixels confident enough to train on."""
    confidence: float
    seconds: float
    folder: str

    def message(self, next_epoch: int) -> str:
        """What the run tells the user (a log line, the train panel's notes)."""
        if not self.images:
            return (f"pseudo-labels: the model is not yet sure of any pixel of the {self.tried} unlabelled images "
                    f"(none reaches {self.confidence:g}): the run goes on with your labels only")
        return (f"pseudo-labels: the model labelled {self.images} of {self.tried} unlabelled images in "
                f"{self.seconds:.0f} s; {100 * self.confident:.0f}% of their pixels are sure enough "
                f"(>= {self.confidence:g}) to train from epoch {next_epoch} on (kept in {self.folder}, never as the "
                f"project's labels)")


class PseudoLabeller:
    """Labels a fixed list of unlabelled images with a checkpoint and keeps the masks in `folder`."""

    def __init__(self, images: Sequence[UnlabelledImage], folder: str | Path, confidence: float):
        self.images = list(images)
        self.folder = Path(folder)
        self.confidence = float(confidence)

    def label(self, checkpoint: Checkpoint, device: str, between: Callable[[], None] = lambda: None,
              ) -> tuple[list[LabelledSample], PseudoSummary]:
        """Predict every image with `checkpoint`; write its confident pixels as a mask; the samples to train on.

        `between` is called before each image (the trainer's pause and cancel check)."""
        from segcore.inference.predictor import Predictor  # inference builds on training, not the other way

        started = time.perf_counter()
        predictor = Predictor(checkpoint, device=device, keep_probabilities=True, uncertainty=False, one_region=False)
        self.folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        confident = total = tried = 0
        for index, image in enumerate(self.images):
            between()
            try:
                pixels = image.load_image()
            except SegcoreError as exc:  # an unreadable frame is left out, the run goes on
                log.warning("no pseudo-label for %s: %s", image.name, exc)
                continue
            mask = confident_mask(predictor.predict(pixels).probabilities, self.confidence)
            sure = int((mask != IGNORE_INDEX).sum())
            confident, total, tried = confident + sure, total + mask.size, tried + 1
            if sure:  # a mask of nothing but IGNORE_INDEX would only take an epoch's place
                file = f"{index:04d}_{_safe(image.name)}.png"
                write_image(self.folder / file, mask)
                files[image.name] = file
        atomic_write_bytes(self.folder / MANIFEST, json.dumps({"confidence": self.confidence, "masks": files},
                                                               indent=1).encode("utf-8"))
        summary = PseudoSummary(len(files), tried, confident / max(total, 1), self.confidence,
                                time.perf_counter() - started, str(self.folder))
        return self._samples(files), summary

    def reload(self) -> list[LabelledSample]:
        """The samples of masks written earlier (a resumed run); none when there is no manifest."""
        path = self.folder / MANIFEST
        if not path.is_file():
            return []
        try:
            files = json.loads(path.read_text(encoding="utf-8"))["masks"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cannot read the pseudo-labels of %s (%s): the run goes on without them", self.folder, exc)
            return []
        return self._samples(files)

    def _samples(self, files: dict[str, str]) -> list[LabelledSample]:
        by_name = {image.name: image for image in self.images}
        return [
            LabelledSample(
                name=NAME_PREFIX + name,
                image_path=None,
                image_loader=by_name[name].load_image,
                mask_loader=functools.partial(read_image, self.folder / file),
            )
            for name, file in files.items()
            if name in by_name
        ]


def epoch_indices(labelled: int, pseudo: int, seed: int, epoch: int) -> list[int]:
    """The samples of one epoch once pseudo-labels train (labelled first, then pseudo-labelled indices).

    As many as the labels alone gave, so an epoch keeps its length and a time budget its plan;
    PSEUDO_SHARE of them pseudo-labelled, drawn afresh (seeded by epoch: a resumed run draws the same).
    """
    rng = np.random.default_rng([seed, epoch, 1])
    n_pseudo = min(pseudo, max(1, round(labelled * PSEUDO_SHARE)))
    n_labelled = max(1, labelled - n_pseudo)
    chosen = rng.choice(labelled, n_labelled, replace=False).tolist()
    chosen += (labelled + rng.choice(pseudo, n_pseudo, replace=False)).tolist()
    return sorted(chosen)


def confident_mask(probabilities: np.ndarray, confidence: float) -> np.ndarray:
    """H x W uint8: the most probable class where its probability reaches `confidence`, else IGNORE_INDEX."""
    labels = probabilities.argmax(0).astype(np.uint8)
    labels[probabilities.max(0) < confidence] = IGNORE_INDEX
    return labels


def _safe(name: str) -> str:
    """A file-name-safe form of an image name (which may hold folders)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]
