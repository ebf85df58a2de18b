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
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from segcore.data.writers import write_dataset
from segcore.errors import DatasetError, ProjectError, SegcoreError
from segcore.export.writer import check_formats, export_prediction
from segcore.project.export_manifest import ManifestRow, read_manifest, write_manifest
from segcore.project.store import ProjectStore
from segcore.project.transfer import LABELLED_STATUSES, masks_dataset

log = logging.getLogger(__name__)

SOURCES = ("labels", "predictions", "labels_else_predictions")
"""What an export writes: labels, predictions, or each image's label where it has one, else its prediction."""
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
    replaced: str | None = None
    """An earlier export into the folder wrote this image's other source ('label' or 'prediction'): its files
    of the same name now hold this one's (the manifest says which)."""


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
    per dataset folder (`voc`, `coco`) among the formats. `manifest.csv` in `out_dir` records each
    image's source, run, checkpoint and time (merged with an earlier export's; written even when the
    caller stops early, for what was written).
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
    kinds = _kinds(store, source)
    load = _loader(store, kinds)
    table = store.class_table()
    total = len(ids) + len(folders)
    exported: list[int] = []
    manifest = _Manifest(store, out, formats)
    try:
        for done, image_id in enumerate(ids, start=1):
            if image_id not in kinds:
                yield ExportProgress(done, total, image_id, error=f"no {_WANTED[source]}")
                continue
            files: list[Path] = []
            record = store.image(image_id)
            if per_image:
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
            replaced = manifest.add(record.name, image_id, kinds[image_id])
            yield ExportProgress(done, total, image_id, tuple(files), replaced=replaced)

        for done, (fmt, folder) in enumerate(folders.items(), start=len(ids) + 1):
            if not exported:
                reason = f"no image has a {_WANTED[source]}: no {fmt.upper()} folder written"
                yield ExportProgress(done, total, None, error=reason)
                continue
            dataset = masks_dataset(store, exported, load)
            yield ExportProgress(done, total, None, (write_dataset(dataset, folder, fmt),))
    finally:
        manifest.write()


_WANTED = {"labels": "label", "predictions": "prediction", "labels_else_predictions": "label or prediction"}


def _kinds(store: ProjectStore, source: str) -> dict[int, str]:
    """{image id: 'label' or 'prediction'}: what each image that has what `source` asks for exports.

    A label counts where training counts it: a labelled or reviewed image with a mask. An image
    whose edits were all undone keeps an empty mask in its history, but it is not labelled.
    """
    kinds: dict[int, str] = {}
    if source != "labels":
        kinds.update(dict.fromkeys(store.prediction_scores(), "prediction"))
    if source != "predictions":
        kinds.update({r.id: "label" for r in store.images()
                      if r.status in LABELLED_STATUSES and store.has_mask(r.id)})
    return kinds


def _loader(store: ProjectStore, kinds: dict[int, str]) -> Callable[[int], np.ndarray]:
    def load(image_id: int) -> np.ndarray:
        if kinds[image_id] == "prediction":
            prediction = store.load_prediction(image_id)
            mask = None if prediction is None else prediction.labels
        else:
            mask = store.load_mask(image_id)
        if mask is None:  # removed between listing and loading
            raise ProjectError(f"image {image_id} has no {kinds[image_id]}")
        return mask

    return load


class _Manifest:
    """The export's `manifest.csv` rows, merged into the folder's earlier ones."""

    def __init__(self, store: ProjectStore, out: Path, formats: Sequence[str]) -> None:
        self._store, self._out, self._formats = store, out, ";".join(formats)
        self._rows = read_manifest(out)
        self._added = False
        self._predictions = store.prediction_records()
        self._runs = {run.id: run.name for run in store.runs()}
        self._now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add(self, name: str, image_id: int, kind: str) -> str | None:
        """Record the image's export; returns the source it replaced ('label' or 'prediction'), or None."""
        before = self._rows.get(name)
        if kind == "prediction":
            record = self._predictions[image_id]
            run = "" if record.run_id is None else f"{record.run_id} {self._runs.get(record.run_id, '')}".strip()
            row = ManifestRow(name, kind, run, record.checkpoint, record.created_at, self._now, self._formats)
        else:
            revisions = self._store.mask_revisions(image_id)
            made = revisions[-1].created_at if revisions else ""
            row = ManifestRow(name, kind, made_at=made, exported_at=self._now, formats=self._formats)
        self._rows[name] = row
        self._added = True
        return before.source if before is not None and before.source != kind else None

    def write(self) -> None:
        if self._added:
            write_manifest(self._out, self._rows)
