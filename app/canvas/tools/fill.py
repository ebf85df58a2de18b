"""Fill: a click gives the clicked pixel's 4-connected region the current class."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QMouseEvent

from app.canvas.tools.base import Tool
from segcore.data.editing import flood_fill


class FillTool(Tool):
    """Flood fill of the clicked region (same class, 4-connected) with `state.current_class`."""

    cursor = Qt.CursorShape.PointingHandCursor

    def mouse_press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        x, y = self.pixel(event)
        self.document.edit("Fill", flood_fill, x, y, self.view.state.current_class)
        return True
