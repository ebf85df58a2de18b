"""What every canvas tool is: mouse and key handlers the view forwards to the active tool, and shared settings."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QGraphicsView

from app.state.mask_document import MaskDocument

if TYPE_CHECKING:
    from app.canvas.image_view import ImageView

MIN_BRUSH, MAX_BRUSH = 1, 501
DEFAULT_BRUSH = 15


class ToolSettings(QObject):
    """Options shared by the tools (brush size, box refinement); the tool toolbar edits them."""

    brush_size_changed = Signal(int)
    refine_boxes_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._brush_size = DEFAULT_BRUSH
        self._refine_boxes = False

    @property
    def refine_boxes(self) -> bool:
        """Accepted boxes become the object inside them (segcore's refine_box) instead of the whole box."""
        return self._refine_boxes

    def set_refine_boxes(self, refine: bool) -> None:
        if bool(refine) != self._refine_boxes:
            self._refine_boxes = bool(refine)
            self.refine_boxes_changed.emit(self._refine_boxes)

    @property
    def brush_size(self) -> int:
        """Brush diameter in image pixels."""
        return self._brush_size

    def set_brush_size(self, size: int) -> None:
        size = min(max(int(size), MIN_BRUSH), MAX_BRUSH)
        if size != self._brush_size:
            self._brush_size = size
            self.brush_size_changed.emit(size)

    def grow_brush(self) -> None:
        """One step larger: +2 px while small (the disc stays symmetric), then ~20%."""
        self.set_brush_size(self._brush_size + max(2, round(self._brush_size * 0.2)))

    def shrink_brush(self) -> None:
        self.set_brush_size(self._brush_size - max(2, round(self._brush_size * 0.2)))


class Tool(QObject):
    """A canvas tool. Handlers return True when they consumed the event (else the view's default runs)."""

    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, view: ImageView, settings: ToolSettings) -> None:
        super().__init__(view)
        self.view = view
        self.settings = settings

    @property
    def document(self) -> MaskDocument:
        return self.view.document

    def activate(self) -> None:
        """The tool became the view's active tool."""
        self.view.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.view.viewport().setCursor(self.cursor)

    def deactivate(self) -> None:
        """Another tool takes over: drop whatever is in progress."""
        self.cancel()

    def cancel(self) -> None:
        """Drop an edit in progress (also called when the mask is replaced under the tool)."""

    def pending(self) -> str | None:
        """What `cancel` would throw away that the user drew ("box", "polygon"), or None."""
        return None

    def pixel(self, event: QMouseEvent) -> tuple[int, int]:
        """The image pixel (x, y) under a mouse event (may lie outside the image)."""
        point = self.view.mapToScene(event.position().toPoint())
        return math.floor(point.x()), math.floor(point.y())

    def mouse_press(self, event: QMouseEvent) -> bool:
        return False

    def mouse_move(self, event: QMouseEvent) -> bool:
        return False

    def mouse_release(self, event: QMouseEvent) -> bool:
        return False

    def mouse_double_click(self, event: QMouseEvent) -> bool:
        return False

    def wants_key(self, event: QKeyEvent) -> bool:
        """Claim a key before the window's shortcuts see it (e.g. Space while a box waits for acceptance)."""
        return False

    def key_press(self, event: QKeyEvent) -> bool:
        return False

    def leave(self) -> None:
        """The mouse left the canvas."""
