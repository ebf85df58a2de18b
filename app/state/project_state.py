"""The open project and the current image: what every panel shows, in one place."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from segcore.data.classes import ClassTable
from segcore.project.store import ImageRecord, ProjectStore

log = logging.getLogger(__name__)

NO_IMAGE = -1
"""`current_image_changed` carries this id when no image is selected (empty or closed project)."""


class ProjectState(QObject):
    """Holds the open `ProjectStore` and the current image; widgets subscribe to its signals."""

    project_opened = Signal()
    images_changed = Signal()
    current_image_changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store: ProjectStore | None = None
        self._images: list[ImageRecord] = []
        self._class_table: ClassTable | None = None
        self._current_id = NO_IMAGE

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
    def current_id(self) -> int:
        """The id of the selected image, or `NO_IMAGE`."""
        return self._current_id

    def open(self, root: str | Path) -> None:
        """Open the project at `root` (closing any open one) and select its first image."""
        store = ProjectStore.open(root)
        self.close()
        self._store = store
        self._class_table = store.class_table()
        self._images = store.images()
        log.info("opened project %r at %s (%d images)", store.name, store.root, len(self._images))
        self.project_opened.emit()
        self.images_changed.emit()
        # Always announce, even NO_IMAGE: the previous project's image must leave the screen.
        self._current_id = self._images[0].id if self._images else NO_IMAGE
        self.current_image_changed.emit(self._current_id)

    def close(self) -> None:
        """Close the open project, if any."""
        if self._store is None:
            return
        self._store.close()
        self._store = None
        self._images = []
        self._class_table = None
        self._current_id = NO_IMAGE

    def refresh(self) -> None:
        """Re-read the image list (after statuses or images changed) and tell the subscribers."""
        self._images = self.store.images()
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

    def _ids(self) -> list[int]:
        return [record.id for record in self._images]

    def _set_current(self, image_id: int) -> None:
        if image_id == self._current_id:
            return
        self._current_id = image_id
        self.current_image_changed.emit(image_id)
