"""Export a project's labels or predictions as per-image files (palette, colour, overlay, labelme, binary) or datasets.

    for step in export_project_masks(store, "out", ["palette", "voc"], source="predictions"):
        ...  # ExportProgress(done, total, image_id, files, error)

Per-image files go to `<out_dir>/<format>/` as `segcore.export.writer.export_prediction` lays
them out; a dataset folder (VOC, COCO) is `<out_dir>/<format>`, written in one step at the end
(atomically, by the dataset writer). A generator, so the caller can stop between images.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segcore.data.writers import write_dataset
from segcore.errors import DatasetError, ProjectError, SegcoreError
from segcore.export.writer import check_formats, export_prediction
from segcore.project.store import ProjectStore
from segcore.project.transfer import LABELLED_STATUSES, masks_dataset

log = logging.getLogger(__name__)

SOURCES = ("labels", "predictions")
DATASET_FOLDER_FORMATS = ("voc", "coco")
PROJECT_EXPORT_FORMATS = ("palette", "color", "overlay", "labelme", "binary", *DATASET_FOLDER_FORMATS)


@dataclass(frozen=True)
class ExportProgress:
    done: int
    total: int
    image_id: int | None
    """The image this step exported; None for a dataset folder's step."""
    files: tuple[Path, ...] = ()
    error: str | None = None
    """Why the image was skipped (no label or prediction, unreadable image), or None."""


def export_project_masks(
    store: ProjectStore,
    out_dir: str | Path,
    formats: Sequence[str],
    *,
    source: str = "labels",
    image_ids: Iterable[int] | None = None,
) -> Iterator[ExportProgress]:
    """Write each image's label (or prediction) in `formats`; images without one are skipped and reported.

    `image_ids` defaults to every image of the project. One progress step per image, plus one
    per dataset folder (`voc`, `coco`) among the formats.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    unknown = [f for f in formats if f not in PROJECT_EXPORT_FORMATS]
    if unknown or not formats:
        raise ValueError(f"choose export formats from {', '.join(PROJECT_EXPORT_FORMATS)}, got {list(formats)}")
    per_image = check_formats([f for f in formats if f not in DATASET_FOLDER_FORMATS])
    out = Path(out_dir)
    folders = {fmt: out / fmt for fmt in DATASET_FOLDER_FORMATS if fmt in formats}
    for folder in folders.values():
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            # Checked before any file is written: the dataset writer only fills new or empty folders.
            raise DatasetError(f"{folder} already exists and is not empty; choose another output folder")

    ids = [r.id for r in store.images()] if image_ids is None else list(image_ids)
    load = _loader(store, source)
    available = _ids_with(store, source)
    table = store.class_table()
    total = len(ids) + len(folders)
    exported: list[int] = []
    for done, image_id in enumerate(ids, start=1):
        if image_id not in available:
            yield ExportProgress(done, total, image_id, error=f"no {source[:-1]}")
            continue
        files: list[Path] = []
        if per_image:
            record = store.image(image_id)
            try:
                files = export_prediction(
                    out, record.name, labels=load(image_id), table=table,
                    image_path=store.image_path(image_id), formats=per_image,
                )
            except SegcoreError as exc:
                log.warning("image %d not exported: %s", image_id, exc)
                yield ExportProgress(done, total, image_id, error=str(exc))
                continue
        exported.append(image_id)
        yield ExportProgress(done, total, image_id, tuple(files))

    for done, (fmt, folder) in enumerate(folders.items(), start=len(ids) + 1):
        if not exported:
            reason = f"no image has a {source[:-1]}: no {fmt.upper()} folder written"
            yield ExportProgress(done, total, None, error=reason)
            continue
        dataset = masks_dataset(store, exported, load)
        yield ExportProgress(done, total, None, (write_dataset(dataset, folder, fmt),))


def _ids_with(store: ProjectStore, source: str) -> set[int]:
    """The images that have a label (or a prediction).

    A label counts where training counts it: a labelled or reviewed image with a mask. An image
    whose edits were all undone keeps an empty mask in its history, but it is not labelled.
    """
    if source == "predictions":
        return set(store.prediction_scores())
    return {r.id for r in store.images() if r.status in LABELLED_STATUSES and store.has_mask(r.id)}


def _loader(store: ProjectStore, source: str) -> Callable[[int], np.ndarray]:
    def load(image_id: int) -> np.ndarray:
        if source == "predictions":
            prediction = store.load_prediction(image_id)
            mask = None if prediction is None else prediction.labels
        else:
            mask = store.load_mask(image_id)
        if mask is None:  # removed between listing and loading
            raise ProjectError(f"image {image_id} has no {source[:-1]}")
        return mask

    return load
