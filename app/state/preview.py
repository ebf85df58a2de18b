"""The live preview: the newest checkpoint's prediction of the image in view, kept in memory only.

A preview is a view. It never enters the project store and never changes an image's status;
the canvas and the review view draw it in the prediction layer, titled as a preview, until the
image changes, the project closes or a newer preview replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.state.project_state import ProjectState


@dataclass(frozen=True)
class Preview:
    image_id: int
    labels: np.ndarray
    """H x W uint8 class indices."""
    checkpoint: str
    epoch: int | None

    def describe(self) -> str:
        epoch = f"epoch {self.epoch} · " if self.epoch is not None else ""
        return f"live preview · {epoch}{PurePath(self.checkpoint).name} (not saved)"


class PreviewState(QObject):
    """Holds at most one `Preview`, of the current image."""

    changed = Signal(int)
    """The preview of this image id appeared, changed or went."""

    def __init__(self, state: ProjectState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._preview: Preview | None = None
        state.current_image_changed.connect(lambda _image_id: self.clear())
        state.project_closed.connect(self.clear)

    @property
    def preview(self) -> Preview | None:
        return self._preview

    def of(self, image_id: int) -> Preview | None:
        """The preview of `image_id`, if that is the one held."""
        preview = self._preview
        return preview if preview is not None and preview.image_id == image_id else None

    def show(self, preview: Preview) -> None:
        """Hold `preview` if its image is still the current one (a slow preview may arrive late)."""
        if not self._state.is_open or preview.image_id != self._state.current_id:
            return
        self._preview = preview
        self.changed.emit(preview.image_id)

    def drop(self, image_id: int) -> None:
        """Forget the preview of `image_id` (a prediction of it was just stored: that one is newer)."""
        if self.of(image_id) is not None:
            self.clear()

    def clear(self) -> None:
        if self._preview is None:
            return
        image_id, self._preview = self._preview.image_id, None
        self.changed.emit(image_id)
