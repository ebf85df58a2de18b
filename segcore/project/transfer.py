"""Move labelled data between a project and dataset folders (any reader in, any writer out)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segcore.data.boxes import Box
from segcore.data.classes import ClassTable
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.writers import write_dataset
from segcore.errors import DuplicateImageError, ProjectError, SegcoreError
from segcore.io.header import read_file_header
from segcore.project.store import ImageStatus, ProjectStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
LABELLED_STATUSES = (ImageStatus.LABELLED, ImageStatus.REVIEWED)


@dataclass
class ImportReport:
    """What an import did: images added, the samples skipped with the reason, and those already in the project."""

    added: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    new_classes: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(file or sample name, the project image with the same pixels): skipped, not failed."""

    def skip(self, name: str, error: SegcoreError) -> str:
        """Record a sample that was not imported; returns the reason."""
        if isinstance(error, DuplicateImageError):
            self.duplicates.append((name, error.existing))
        else:
            self.failed.append((name, str(error)))
        return str(error)


def merge_class_tables(project: ClassTable, incoming: ClassTable) -> tuple[ClassTable, np.ndarray]:
    """Match classes by name: (project table extended by unseen names, 256-entry remap of incoming indices)."""
    names = project.names
    colors = project.colors
    for info in incoming.classes:
        if info.name not in names:
            names.append(info.name)
            colors.append(info.color)
    merged = ClassTable(ClassTable.from_names(names, colors).classes, project.ignore_index, project.ignore_color)
    remap = np.full(256, merged.ignore_index, dtype=np.uint8)
    for info in incoming.classes:
        remap[info.index] = names.index(info.name)
    return merged, remap


@dataclass(frozen=True)
class ImportProgress:
    """One file or sample handled: `done` of `total`, its name, and why it was skipped (None if added)."""

    done: int
    total: int
    name: str
    error: str | None = None


ImportSteps = Generator[ImportProgress, None, ImportReport]


def iter_import_dataset(store: ProjectStore, dataset: LabelledDataset, *, copy: bool = True) -> ImportSteps:
    """Add every sample (image, mask and boxes) of `dataset` to the project, one step per sample.

    Classes are matched by name and unseen ones appended to the project's table. Each sample is
    one transaction: a sample that cannot be read, or an import killed half-way, leaves no part
    of it behind. Skipped samples are reported (also those already in the project, so running an
    interrupted import again resumes it); stopping early keeps what was added. The generator's
    return value is the `ImportReport`.
    """
    report = ImportReport()
    with store.transaction():  # read and replace the table in one step: another import may be merging too
        current = store.class_table()
        has_images = bool(store.images())
        # An empty project takes the dataset's table as it is, colours included.
        base = current if has_images else ClassTable(dataset.class_table.classes, current.ignore_index,
                                                     dataset.class_table.ignore_color)
        merged, _ = merge_class_tables(base, dataset.class_table)
        if has_images:
            report.new_classes = [n for n in merged.names if n not in current.names]
        if merged != current:
            store.set_class_table(merged)
    for done, sample in enumerate(dataset, start=1):
        error = None
        try:
            _import_sample(store, sample, dataset.class_table, copy)
            report.added += 1
        except SegcoreError as exc:
            log.warning("skipped %s: %s", sample.name, exc)
            error = report.skip(sample.name, exc)
        yield ImportProgress(done, len(dataset), sample.name, error)
    return report


def import_dataset(
    store: ProjectStore,
    dataset: LabelledDataset,
    *,
    copy: bool = True,
    progress: Progress | None = None,
) -> ImportReport:
    """`iter_import_dataset` run to the end, with an optional `progress(done, total)` callback."""
    return run_import(iter_import_dataset(store, dataset, copy=copy), progress)


def run_import(steps: ImportSteps, progress: Progress | None = None) -> ImportReport:
    """Run import `steps` to the end, telling `progress(done, total)` after each; returns the report."""
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(step.done, step.total)


def _import_sample(store: ProjectStore, sample: LabelledSample, table: ClassTable, copy: bool) -> None:
    """Image, boxes and mask of one sample in one transaction: all of them land, or none."""
    image, mask = sample.load(table)  # validates both before anything is written
    with store.transaction():
        # Matched again inside the transaction: another process may have added classes since the start.
        current = store.class_table()
        merged, remap = merge_class_tables(current, table)
        if merged != current:
            store.set_class_table(merged)
        if sample.image_path is not None and sample.image_loader is None:
            record = store.add_image(sample.image_path, copy=copy, split=sample.split)
        else:
            record = store.add_image_array(sample.name, image, split=sample.split)
        for box in sample.boxes:
            store.add_box(record.id, Box(box.x, box.y, box.w, box.h, int(remap[box.label])))
        store.save_mask(record.id, remap[mask], source="import")


def project_dataset(store: ProjectStore, statuses: Iterable[ImageStatus] = LABELLED_STATUSES) -> LabelledDataset:
    """The project's labelled images as a dataset that any writer (or trainer) can consume."""
    wanted = {ImageStatus(s) for s in statuses}
    ids = [r.id for r in store.images() if r.status in wanted and store.has_mask(r.id)]
    return masks_dataset(store, ids, lambda image_id: _stored_mask(store, image_id), with_boxes=True)


def masks_dataset(
    store: ProjectStore, image_ids: Iterable[int], load: Callable[[int], np.ndarray], *, with_boxes: bool = False
) -> LabelledDataset:
    """The images `image_ids` with the masks `load(image_id)` gives (and their box labels), as a dataset."""
    samples = []
    for image_id in image_ids:
        record = store.image(image_id)
        path = store.image_path(image_id)
        samples.append(
            LabelledSample(
                name=record.name,
                image_path=path,
                # The store's orientation rule (or a sequence's frame), where it differs from reading the file;
                # without a loader a writer may copy the file's bytes (a JPEG stays the JPEG it was).
                image_loader=None if record.frame is None and _reads_as_stored(path)
                else functools.partial(store.read_image, image_id),
                mask_loader=functools.partial(load, image_id),
                split=record.split,
                boxes=tuple(store.boxes(image_id)) if with_boxes else (),
            )
        )
    return LabelledDataset(store.class_table(), samples, source=store.root, format="project")


def _reads_as_stored(path: Path) -> bool:
    """Whether the file decodes upright as it is (no EXIF rotation): then the store reads it as the file is."""
    try:
        return read_file_header(path).orientation == 1
    except SegcoreError:  # unreadable: the store's loader says why, when the sample loads
        return False


def _stored_mask(store: ProjectStore, image_id: int) -> np.ndarray:
    mask = store.load_mask(image_id)
    assert mask is not None, "project_dataset only lists images that have a mask"
    return mask


def export_project(
    store: ProjectStore,
    out: str | Path,
    fmt: str,
    *,
    statuses: Iterable[ImageStatus] = LABELLED_STATUSES,
    progress: Progress | None = None,
) -> Path:
    """Write the project's labelled images as a `fmt` dataset folder (voc, folder, colormask)."""
    dataset = project_dataset(store, statuses)
    if not dataset.samples:
        raise ProjectError(f"project {store.root} has no images with the requested statuses to export")
    return write_dataset(dataset, Path(out), fmt, progress=progress)
