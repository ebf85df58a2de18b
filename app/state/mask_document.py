"""The current image's label mask: live edits, undo/redo per image, and autosave of every finished edit.

Tools paint into `mask` (live, for display) and `commit` the touched region when an edit is done;
the commit becomes a `MaskEdit` on the image's undo stack, and every redo/undo writes its patch to
the store's edit journal before returning, so a killed app loses at most the stroke in progress.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from app import errors
from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import Worker, WorkerGroup
from segcore.data.boxes import Box
from segcore.data.editing import Region
from segcore.errors import SegcoreError
from segcore.project.store import ImageStatus

log = logging.getLogger(__name__)

UNDO_LIMIT = 100
"""Commands kept per image; a whole-frame edit of 3072 x 3072 holds ~19 MB of patches."""


class MaskDocument(QObject):
    """Holds the current image's mask (uint8 H x W) and turns finished edits into undoable, stored commands."""

    mask_changed = Signal(object)
    """Pixels changed: the `Region`, or None for the whole mask."""
    mask_replaced = Signal()
    """Another mask is current (image switch, reload, or none while loading): redraw from scratch."""
    mask_saved = Signal(int)
    """An edit, undo or redo of this image id is in the store (scores computed from its label are out of date)."""

    def __init__(self, state: ProjectState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._image_id = NO_IMAGE
        self._mask: np.ndarray | None = None
        # The mask as stored: an edit's "before" patch comes from here, whatever was painted live since.
        self._committed: np.ndarray | None = None
        self._labelled = False
        self._serial = 0  # bumped on every switch; a load finishing under an older serial is stale
        self._workers = WorkerGroup()
        self._stacks: dict[int, QUndoStack] = {}
        # Each image's status before its first edit here: undoing every edit gives it back.
        self._status_before_edits: dict[int, ImageStatus] = {}
        self.undo_group = QUndoGroup(self)
        """Create the Undo/Redo actions from this (`createUndoAction`/`createRedoAction`); it follows the image."""
        state.current_image_changed.connect(self._switch)
        state.about_to_close.connect(self._flush)
        state.class_table_changed.connect(self._reload_after_class_change)

    # -- reading -------------------------------------------------------------------------------------

    @property
    def image_id(self) -> int:
        return self._image_id

    @property
    def mask(self) -> np.ndarray | None:
        """The live mask of the current image; None while it loads or when there is no image."""
        return self._mask

    @property
    def labelled(self) -> bool:
        """Whether the image has labels (stored before, or edited now); False for a fresh all-zero mask."""
        return self._labelled

    def undo_stack(self) -> QUndoStack | None:
        """The current image's undo stack (None while its mask loads)."""
        return self.undo_group.activeStack()

    # -- editing -------------------------------------------------------------------------------------

    def notify(self, region: Region | None) -> None:
        """Announce live pixels painted into `mask` (not yet an undoable edit)."""
        if region is not None and not region.is_empty:
            self.mask_changed.emit(region)

    def commit(self, region: Region | None, text: str, *, box: Box | None = None) -> bool:
        """Make the pixels painted in `region` since the last commit one undoable, stored edit.

        `box` is also recorded as a box annotation (undone with the edit). False when nothing changed.
        """
        if self._mask is None or self._committed is None or region is None:
            return False
        region = region.clipped(self._mask.shape)
        if region.is_empty:
            return False
        before = self._committed[region.slices()].copy()
        after = self._mask[region.slices()].copy()
        if box is None and np.array_equal(before, after):
            return False
        self._stacks[self._image_id].push(MaskEdit(self, self._image_id, region, before, after, text, box))
        return True

    def edit(self, text: str, operation: Callable[..., Region | None], *args: object, box: Box | None = None) -> bool:
        """Run a one-shot `operation(mask, *args) -> Region | None` from `segcore.data.editing` and commit it."""
        if self._mask is None:
            return False
        region = operation(self._mask, *args)
        self.notify(region)
        return self.commit(region, text, box=box)

    def revert(self, region: Region | None) -> None:
        """Drop live pixels painted in `region` since the last commit (a cancelled stroke)."""
        if self._mask is None or self._committed is None or region is None:
            return
        region = region.clipped(self._mask.shape)
        self._mask[region.slices()] = self._committed[region.slices()]
        self.notify(region)

    def _apply(self, image_id: int, region: Region, patch: np.ndarray, *, live: bool, back_to_start: bool = False) -> None:
        """Store `patch` at `region` of an image (and show it when that image is current).

        `back_to_start`: this undoes the image's first edit, so it gets back the status it had
        before (an image whose edits are all undone is not 'labelled').
        """
        store = self._state.store
        previous = store.image(image_id).status
        self._status_before_edits.setdefault(image_id, previous)
        if back_to_start:
            status = self._status_before_edits[image_id]
        else:
            status = ImageStatus.REVIEWED if previous is ImageStatus.REVIEWED else ImageStatus.LABELLED
        store.save_mask_patch(image_id, region.x, region.y, patch, status=status)
        if image_id == self._image_id and self._mask is not None and self._committed is not None:
            self._committed[region.slices()] = patch
            self._labelled = status in (ImageStatus.LABELLED, ImageStatus.REVIEWED)
            if live:
                self._mask[region.slices()] = patch
                self.mask_changed.emit(region)
        if status is not previous:
            self._state.reload_record(image_id)
        self.mask_saved.emit(image_id)

    # -- image switches ------------------------------------------------------------------------------

    def _switch(self, image_id: int) -> None:
        previous = self._image_id
        self._set_current(image_id)
        if previous != NO_IMAGE:
            # Fold the journal into a revision off the GUI thread; the store serialises it with any patches.
            self._workers.start(Worker(self._state.store.compact_mask, previous))
        self._load()

    def _set_current(self, image_id: int) -> None:
        self._serial += 1
        self._image_id = image_id
        self._mask = self._committed = None
        self._labelled = False
        self.undo_group.setActiveStack(None)  # no undo into a mask that is not loaded yet
        self.mask_replaced.emit()

    def _load(self) -> None:
        if self._image_id == NO_IMAGE:
            return
        serial, image_id = self._serial, self._image_id
        worker = Worker(self._state.store.load_mask, image_id)
        worker.returned.connect(lambda mask: self._loaded(serial, image_id, mask))
        self._workers.start(worker)

    def _loaded(self, serial: int, image_id: int, mask: np.ndarray | None) -> None:
        if serial != self._serial:
            return  # the user moved on while it loaded
        self._labelled = mask is not None
        if mask is None:
            record = self._state.record(image_id)
            mask = np.zeros((record.height, record.width), np.uint8)
        self._mask, self._committed = mask, mask.copy()
        if image_id not in self._stacks:
            stack = QUndoStack(self.undo_group)
            stack.setUndoLimit(UNDO_LIMIT)
            self._stacks[image_id] = stack
        self.undo_group.setActiveStack(self._stacks[image_id])
        self.mask_replaced.emit()

    def reload(self) -> None:
        """Re-read the current image's mask after the store changed under it (an accepted prediction).

        That image's undo history goes: its patches would paint the old pixels back over the new mask.
        """
        stack = self._stacks.pop(self._image_id, None)
        self._status_before_edits.pop(self._image_id, None)
        if stack is not None:
            self.undo_group.removeStack(stack)
            stack.deleteLater()
        self._set_current(self._image_id)
        self._load()

    def _reload_after_class_change(self) -> None:
        # A remap rewrote every stored mask: the undo history holds old class indices, so it goes.
        self._clear_history()
        image_id = self._image_id
        self._set_current(image_id)
        self._load()

    def _flush(self) -> None:
        """Before the store closes: finish background work and fold the current image's journal."""
        self._workers.wait()
        current = self._image_id
        self._set_current(NO_IMAGE)
        if current != NO_IMAGE:
            self._state.store.compact_mask(current)
        self._clear_history()

    def _clear_history(self) -> None:
        self.undo_group.setActiveStack(None)
        for stack in self._stacks.values():
            self.undo_group.removeStack(stack)
            stack.deleteLater()
        self._stacks.clear()
        self._status_before_edits.clear()


class MaskEdit(QUndoCommand):
    """One finished edit of one image: the region's pixels before and after (and an optional box label)."""

    def __init__(
        self, document: MaskDocument, image_id: int, region: Region, before: np.ndarray, after: np.ndarray,
        text: str, box: Box | None = None,
    ) -> None:
        super().__init__(text)
        self._document, self._image_id, self._region = document, image_id, region
        self._before, self._after = before, after
        self._box = box
        self._annotation_id: int | None = None
        self._first = True  # the first redo (on push) finds the pixels already painted live

    def redo(self) -> None:
        first, self._first = self._first, False
        try:
            self._document._apply(self._image_id, self._region, self._after, live=not first)
            if self._box is not None:
                self._annotation_id = self._document._state.store.add_box(self._image_id, self._box)
        except (SegcoreError, OSError, sqlite3.Error) as exc:
            if first:  # the live pixels were never stored: take them back
                self._document.revert(self._region)
            self._not_stored(exc)

    def undo(self) -> None:
        stack = self._document._stacks.get(self._image_id)
        # Qt moves the stack's index after this returns: index - 1 is where the undo lands.
        back_to_start = stack is not None and stack.index() - 1 == stack.cleanIndex() == 0
        try:
            self._document._apply(self._image_id, self._region, self._before, live=True, back_to_start=back_to_start)
            if self._annotation_id is not None:
                self._document._state.store.delete_annotation(self._annotation_id)
                self._annotation_id = None
        except (SegcoreError, OSError, sqlite3.Error) as exc:
            self._not_stored(exc)

    def _not_stored(self, exc: BaseException) -> None:
        # Qt deletes an obsolete command from the stack: the history never claims an edit the store lacks.
        self.setObsolete(True)
        log.error("edit %r not stored: %s", self.text(), exc)
        errors.show_error(f"This edit could not be saved to the project and was dropped: {exc}")
