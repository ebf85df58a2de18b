"""Accept a prediction as the label (whole image, or a region drawn on the prediction pane), in the background."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from app.review.accept_confident import ConfidentDialog
from app.review.triptych import ReviewView
from app.state.mask_document import MaskDocument
from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import SHUTDOWN_WAIT_S, Worker
from segcore.data.editing import Region
from segcore.project.review import accept_confident, accept_prediction

log = logging.getLogger(__name__)

ACCEPT_TIP = "Make the prediction the label of this image; it becomes 'reviewed' (Ctrl+Return)"
ACCEPT_NEXT_TIP = "Accept the prediction, then open the next image of the review queue (Shift+N)"
ACCEPT_REGION_TIP = "Drag a rectangle on the prediction: only that part becomes the label (Ctrl+Shift+Return)"


class AcceptController(QObject):
    """"Accept prediction" (Ctrl+Return) and "Accept prediction inside region" (Ctrl+Shift+Return, then drag).

    The store's label changes under the canvas, so the `MaskDocument` reloads it; that image's undo
    history is dropped and the accept itself is not undoable (the previous label stays a mask revision).
    """

    accepted = Signal(int)
    """An image's prediction became its label (its id); it is now 'reviewed'."""
    next_wanted = Signal(int)
    """An "accept and next" was accepted (the image's id): the review queue opens its next image."""

    def __init__(self, state: ProjectState, review_view: ReviewView, document: MaskDocument | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._view = review_view
        self._document = document
        self._worker: Worker | None = None
        self.accept_action = QAction("Accept prediction", self, shortcut=QKeySequence("Ctrl+Return"))
        self.accept_action.setToolTip(ACCEPT_TIP)
        self.accept_region_action = QAction("Accept prediction inside region", self, checkable=True,
                                            shortcut=QKeySequence("Ctrl+Shift+Return"))
        self.accept_region_action.setToolTip(ACCEPT_REGION_TIP)
        self.accept_next_action = QAction("Accept and next", self, shortcut=QKeySequence("Shift+N"))
        self.accept_next_action.setToolTip(ACCEPT_NEXT_TIP)
        for action in self.actions:
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setEnabled(False)
        review_view.add_actions(self.actions)  # buttons by the prediction; their shortcuts work while it shows

        self.confident_action = QAction("Accept confident predictions…", self)
        self.confident_action.setToolTip("Every unlabelled prediction estimated at or above an IoU you choose "
                                         "becomes its label")
        self.confident_action.setEnabled(False)

        self.accept_action.triggered.connect(lambda: self.accept())
        self.accept_next_action.triggered.connect(lambda: self.accept(then_next=True))
        self.confident_action.triggered.connect(self.ask_accept_confident)
        self.accept_region_action.toggled.connect(review_view.set_region_mode)
        review_view.region_drawn.connect(self._region_drawn)
        review_view.shown.connect(self._update_enabled)
        state.current_image_changed.connect(self._update_enabled)
        state.about_to_close.connect(self._wait)
        state.project_closed.connect(self._update_enabled)

    @property
    def actions(self) -> list[QAction]:
        return [self.accept_action, self.accept_next_action, self.accept_region_action]

    @property
    def is_running(self) -> bool:
        return self._worker is not None

    def accept(self, region: Region | None = None, *, then_next: bool = False) -> Worker | None:
        """Accept the current image's prediction (only inside `region` if given), then ask for the queue's next
        image when `then_next`; None if there is nothing to do."""
        image_id = self._state.current_id if self._state.is_open else NO_IMAGE
        if image_id == NO_IMAGE or self._worker is not None:
            return None
        mask = None
        if region is not None:
            record = self._state.record(image_id)
            mask = np.zeros((record.height, record.width), bool)
            mask[region.clipped(mask.shape).slices()] = True
        log.info("accepting the prediction of image %d%s", image_id, "" if region is None else f" inside {region}")
        worker = Worker(accept_prediction, self._state.store, image_id, mask)
        worker.returned.connect(lambda _label: self._accepted(image_id, then_next))
        worker.finished.connect(self._finished)
        self._worker = worker
        self._update_enabled()
        return worker.start()

    def ask_accept_confident(self) -> Worker | None:
        """Ask for the threshold (`ConfidentDialog`), then accept in the background, one image at a time."""
        if not self._state.is_open or self._worker is not None:
            return None
        dialog = ConfidentDialog(self._state, self._view)
        if not dialog.exec():
            return None
        return self.accept_confident(dialog.at_least.value())

    def accept_confident(self, at_least: float) -> Worker | None:
        """Accept every unlabelled prediction estimated at `at_least` or more; each image refreshes as it goes."""
        if not self._state.is_open or self._worker is not None:
            return None
        log.info("accepting the predictions estimated at %.2f or more", at_least)
        worker = Worker(accept_confident, self._state.store, at_least)
        worker.yielded.connect(self._accepted)
        worker.finished.connect(self._finished)
        self._worker = worker
        self._update_enabled()
        return worker.start()

    def _wait(self) -> None:
        # The accept writes to the store that is about to close: let it finish.
        if self._worker is not None:
            self._worker.wait(SHUTDOWN_WAIT_S)

    def _region_drawn(self, region: Region) -> None:
        self.accept_region_action.setChecked(False)  # one region per command, as a dialog would be
        self.accept(region)

    def _accepted(self, image_id: int, then_next: bool = False) -> None:
        if not self._state.is_open:
            return
        self._state.reload_record(image_id)
        if self._document is not None and self._document.image_id == image_id:
            self._document.reload()
        self._view.refresh(image_id)
        self.accepted.emit(image_id)
        if then_next:
            self.next_wanted.emit(image_id)

    def _finished(self) -> None:
        self._worker = None
        self._update_enabled()

    def _update_enabled(self) -> None:
        view = self._view
        preview = view.data is not None and view.data.is_preview
        ready = (self._worker is None and self._state.editable and view.has_prediction and not preview
                 and view.image_id == self._state.current_id)
        self.confident_action.setEnabled(self._worker is None and self._state.editable)
        self.accept_action.setEnabled(ready)
        self.accept_next_action.setEnabled(ready)
        self.accept_region_action.setEnabled(ready)
        why = "A live preview is not saved: predict the image (Ctrl+P) to accept its prediction." if preview else ""
        for action, tip in ((self.accept_action, ACCEPT_TIP), (self.accept_next_action, ACCEPT_NEXT_TIP),
                            (self.accept_region_action, ACCEPT_REGION_TIP)):
            action.setToolTip(why or tip)
        if not ready and self.accept_region_action.isChecked():
            self.accept_region_action.setChecked(False)
