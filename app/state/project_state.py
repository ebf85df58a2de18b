"""The open project and the current image: what every panel shows, in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.project_lock import ProjectLock
from segcore.data.classes import ClassTable
from segcore.project.store import ImageRecord, ProjectStore

log = logging.getLogger(__name__)

NO_IMAGE = -1
"""`current_image_changed` carries this id when no image is selected (empty or closed project)."""


class ProjectState(QObject):
    """Holds the open `ProjectStore` and the current image; widgets subscribe to its signals."""

    project_opened = Signal()
    about_to_close = Signal()
    project_closed = Signal()
    images_changed = Signal()
    """The image list changed (images added or removed, or the project reopened)."""
    record_changed = Signal(int)
    """One image's record (its status, split) changed; carries its id."""
    current_image_changed = Signal(int)
    class_table_changed = Signal()
    current_class_changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store: ProjectStore | None = None
        self._lock: ProjectLock | None = None
        self._images: list[ImageRecord] = []
        self._qualities: dict[int, float | None] = {}
        self._class_table: ClassTable | None = None
        self._current_id = NO_IMAGE
        self._current_class = 0
        self.resume_image: Callable[[Path], str | None] | None = None
        """Names the image to select when a project opens (given its root; the session memory's); else the first."""

    @property
    def store(self) -> ProjectStore:
        """The open store; raises when no project is open (a programming error, not a user one)."""
        if self._store is None:
            raise RuntimeError("no project is open")
        return self._store

    @property
    def is_open(self) -> bool:
        return self._store is not None

    @property
    def images(self) -> list[ImageRecord]:
        """The project's images in store order (a cached snapshot; `refresh` re-reads it)."""
        return list(self._images)

    @property
    def class_table(self) -> ClassTable:
        if self._class_table is None:
            raise RuntimeError("no project is open")
        return self._class_table

    @property
    def current_class(self) -> int:
        """The class index new labels get (a class of the table, or its ignore index)."""
        return self._current_class

    def set_current_class(self, index: int) -> None:
        table = self.class_table
        if not (0 <= index < table.num_classes or index == table.ignore_index):
            raise ValueError(f"class {index} is not in the class table (0..{table.num_classes - 1} or ignore)")
        if index != self._current_class:
            self._current_class = index
            self.current_class_changed.emit(index)

    def set_class_table(self, table: ClassTable, remap: np.ndarray | None = None) -> None:
        """Replace the project's classes; `remap` (a 256-entry LUT, old index -> new) rewrites stored masks."""
        self.store.replace_class_table(table, remap)
        self._class_table = table
        if remap is not None and self._current_class != table.ignore_index:
            self._current_class = int(remap[self._current_class])
        if not (self._current_class < table.num_classes or self._current_class == table.ignore_index):
            self._current_class = table.num_classes - 1
        self.class_table_changed.emit()
        self.current_class_changed.emit(self._current_class)

    def reload_record(self, image_id: int) -> None:
        """Re-read one image's record and its prediction's estimate from the store (after its status or prediction
        changed) and announce it."""
        fresh = self.store.image(image_id)
        self._images = [fresh if record.id == image_id else record for record in self._images]
        self._qualities[image_id] = self.store.prediction_quality(image_id)
        self.record_changed.emit(image_id)

    def quality(self, image_id: int) -> float | None:
        """The estimated IoU of the image's stored prediction (None: no prediction, or one not estimated)."""
        return self._qualities.get(image_id)

    @property
    def current_id(self) -> int:
        """The id of the selected image, or `NO_IMAGE`."""
        return self._current_id

    @property
    def read_only(self) -> bool:
        """The open project can be viewed, exported and predicted from, but not changed."""
        return self.store.read_only

    @property
    def editable(self) -> bool:
        """A project is open and can be changed (labels, classes, runs, predictions)."""
        return self._store is not None and not self._store.read_only

    def open(self, root: str | Path, *, read_only: bool = False, take_over_lock: bool = False) -> None:
        """Open the project at `root` (closing any open one) and select its first image, or the one to resume at.

        Read-only when asked or when it cannot be written; otherwise this window's lock file goes
        in it, unless another window holds one (`take_over_lock`: replace it).
        """
        store = ProjectStore.open(root, read_only=read_only)
        self.close()
        self._store = store
        self._lock = None if store.read_only else ProjectLock.acquire(store.root, take_over=take_over_lock)
        self._class_table = store.class_table()
        self._current_class = 1 if self._class_table.num_classes > 1 else 0  # the first non-background class
        self._images = store.images()
        self._qualities = store.prediction_qualities()
        log.info("opened project %r at %s (%d images)", store.name, store.root, len(self._images))
        self.project_opened.emit()
        self.images_changed.emit()
        # Always announce, even NO_IMAGE: the previous project's image must leave the screen.
        self._current_id = self._first_image(Path(store.root))
        self.current_image_changed.emit(self._current_id)

    def close(self) -> None:
        """Close the open project, if any."""
        if self._store is None:
            return
        self.about_to_close.emit()  # last chance for subscribers to flush work to the store
        self._store.close()
        self._store = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self._images = []
        self._qualities = {}
        self._class_table = None
        self._current_id = NO_IMAGE
        self.project_closed.emit()

    def refresh(self) -> None:
        """Re-read the image list and the class table (after an import) and tell the subscribers."""
        table = self.store.class_table()
        if table != self._class_table:
            self._class_table = table
            self.class_table_changed.emit()
        self._images = self.store.images()
        self._qualities = self.store.prediction_qualities()
        self.images_changed.emit()
        if self._current_id not in self._ids():
            self._set_current(self._images[0].id if self._images else NO_IMAGE)

    def find(self, name: str) -> ImageRecord | None:
        """The image called `name` (its name, file name or project-relative path), or None."""
        for record in self._images:
            if name in (record.name, Path(record.path).name, record.path):
                return record
        return None

    def record(self, image_id: int) -> ImageRecord:
        """The cached record of an image of this project."""
        for record in self._images:
            if record.id == image_id:
                return record
        raise KeyError(f"no image with id {image_id} in this project")

    def select(self, image_id: int) -> None:
        """Make `image_id` the current image."""
        if image_id not in self._ids():
            raise KeyError(f"no image with id {image_id} in this project")
        self._set_current(image_id)

    def next(self) -> None:
        """Select the next image in project order; stays on the last one."""
        self._step(+1)

    def previous(self) -> None:
        """Select the previous image in project order; stays on the first one."""
        self._step(-1)

    def _step(self, delta: int) -> None:
        ids = self._ids()
        if not ids:
            return
        if self._current_id not in ids:
            self._set_current(ids[0])
            return
        index = min(max(ids.index(self._current_id) + delta, 0), len(ids) - 1)
        self._set_current(ids[index])

    def _first_image(self, root: Path) -> int:
        # Chosen before the first announcement, so the first image is never loaded only to be replaced.
        name = self.resume_image(root) if self.resume_image is not None else None
        record = self.find(name) if name else None
        if record is not None:
            return record.id
        return self._images[0].id if self._images else NO_IMAGE

    def _ids(self) -> list[int]:
        return [record.id for record in self._images]

    def _set_current(self, image_id: int) -> None:
        if image_id == self._current_id:
            return
        self._current_id = image_id
        self.current_image_changed.emit(image_id)
