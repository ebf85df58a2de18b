"""Pan: drag the image with the mouse (Qt's scroll-hand drag); the default tool."""

from __future__ import annotations

from PySide6.QtWidgets import QGraphicsView

from app.canvas.tools.base import Tool


class PanTool(Tool):
    """Leaves every event to the view, whose scroll-hand drag pans."""

    def activate(self) -> None:
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.view.viewport().unsetCursor()
