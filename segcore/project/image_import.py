"""Add image files or a labelled dataset to a project step by step: generators that yield progress.

    steps = iter_import_images(store, image_files(folder))
    for progress in steps: ...          # stop early by simply not asking for more
    # the generator's return value (StopIteration.value) is the `ImportReport`

Each image is added in its own transaction, so stopping early keeps what was added so far.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

from segcore.data.classes import ClassTable
from segcore.data.readers.base import LabelledDataset
from segcore.errors import DatasetError, SegcoreError
from segcore.io.images import is_image_file
from segcore.project.store import ProjectStore
from segcore.project.transfer import ImportReport, _import_sample, merge_class_tables

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportProgress:
    """One file or sample handled: `done` of `total`, its name, and why it was skipped (None if added)."""

    done: int
    total: int
    name: str
    error: str | None = None


ImportSteps = Generator[ImportProgress, None, ImportReport]


def image_files(folder: str | Path) -> list[Path]:
    """The image files directly in `folder` (hidden ones skipped), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def iter_import_images(store: ProjectStore, paths: Iterable[str | Path], *, copy: bool = True) -> ImportSteps:
    """Add each image file; one that cannot be read is skipped and named in the report."""
    paths = [Path(p) for p in paths]
    report = ImportReport()
    for done, path in enumerate(paths, start=1):
        error = None
        try:
            store.add_image(path, copy=copy)
            report.added += 1
        except SegcoreError as exc:
            log.warning("skipped %s: %s", path, exc)
            error = str(exc)
            report.failed.append((path.name, error))
        yield ImportProgress(done, len(paths), path.name, error)
    return report


def iter_import_folder(store: ProjectStore, folder: str | Path, *, copy: bool = True) -> ImportSteps:
    """Add every image file directly in `folder` (see `image_files`)."""
    return (yield from iter_import_images(store, image_files(folder), copy=copy))


def iter_import_dataset(store: ProjectStore, dataset: LabelledDataset, *, copy: bool = True) -> ImportSteps:
    """Add every sample (image, mask, boxes) of `dataset`; classes are matched by name as in `import_dataset`."""
    report = ImportReport()
    current = store.class_table()
    has_images = bool(store.images())
    # An empty project takes the dataset's table as it is, colours included.
    base = current if has_images else ClassTable(dataset.class_table.classes, current.ignore_index, dataset.class_table.ignore_color)
    merged, remap = merge_class_tables(base, dataset.class_table)
    if has_images:
        report.new_classes = [n for n in merged.names if n not in current.names]
    if merged != current:
        store.set_class_table(merged)
    for done, sample in enumerate(dataset, start=1):
        error = None
        try:
            _import_sample(store, sample, remap, dataset.class_table, copy)
            report.added += 1
        except SegcoreError as exc:
            log.warning("skipped %s: %s", sample.name, exc)
            error = str(exc)
            report.failed.append((sample.name, error))
        yield ImportProgress(done, len(dataset), sample.name, error)
    return report
