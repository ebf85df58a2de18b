"""Add image files to a project step by step: generators that yield progress.

    steps = iter_import_images(store, image_files(folder))
    for progress in steps: ...          # stop early by simply not asking for more
    # the generator's return value (StopIteration.value) is the `ImportReport`

Each image is added in its own transaction, so stopping early keeps what was added so far.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from segcore.errors import DatasetError, SegcoreError
from segcore.io.images import listed_image
from segcore.project.store import ProjectStore
from segcore.project.transfer import (
    ImportProgress,
    ImportReport,
    ImportSteps,
    Progress,
    iter_import_dataset,
    run_import,
)

log = logging.getLogger(__name__)


def image_files(folder: str | Path) -> list[Path]:
    """The image files directly in `folder` (hidden ones skipped), sorted by name.

    Symbolic links that loop or dangle and folders named like images are included, so that the import
    reports them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    return sorted(
        p for p in folder.iterdir() if listed_image(p) and not p.name.startswith(".")
    )


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
            error = report.skip(path.name, exc)
        yield ImportProgress(done, len(paths), path.name, error)
    return report


def iter_import_sequence(store: ProjectStore, path: str | Path) -> ImportSteps:
    """Reference the acquisition at `path` (`ProjectStore.add_sequence`): one step; its error, if any, is raised."""
    record = store.add_sequence(path)
    yield ImportProgress(1, 1, record.name, None)
    return ImportReport(added=record.frames)


def import_images(
    store: ProjectStore, paths: Iterable[str | Path], *, copy: bool = True, progress: Progress | None = None
) -> ImportReport:
    """`iter_import_images` run to the end, with an optional `progress(done, total)` callback.

    A folder among `paths` stands for its image files (`image_files`).
    """
    files = [f for p in map(Path, paths) for f in (image_files(p) if p.is_dir() else [p])]
    return run_import(iter_import_images(store, files, copy=copy), progress)


def iter_import_folder(store: ProjectStore, folder: str | Path, *, copy: bool = True) -> ImportSteps:
    """Add every image file directly in `folder` (see `image_files`)."""
    return (yield from iter_import_images(store, image_files(folder), copy=copy))


__all__ = ["ImportProgress", "ImportReport", "ImportSteps", "image_files", "import_images", "iter_import_dataset",
           "iter_import_folder", "iter_import_images", "iter_import_sequence"]
