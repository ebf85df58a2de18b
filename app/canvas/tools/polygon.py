"""Polygon: click vertices; Enter or a double-click fills it, Backspace drops the last vertex, Esc cancels."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from app.canvas.tools.base import Tool, ToolSettings
from segcore.data.editing import fill_polygon

CLOSE_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
MIN_VERTICES = 3


class PolygonTool(Tool):
    """Fills the clicked polygon (vertices are pixels, included) with `state.current_class`."""

    def __init__(self, view, settings: ToolSettings) -> None:
        super().__init__(view, settings)
        self.vertices: list[tuple[int, int]] = []
        self._hover: tuple[int, int] | None = None
        self._outline = QGraphicsPathItem()
        self._outline.setPen(QPen(QColor(255, 255, 0), 0))  # cosmetic: one screen pixel at any zoom
        self._outline.setZValue(10)
        view.scene().addItem(self._outline)

    def cancel(self) -> None:
        self.vertices = []
        self._redraw()

    def pending(self) -> str | None:
        return "polygon" if self.vertices else None

    def mouse_press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self._add_vertex(self.pixel(event))
        return True

    def mouse_move(self, event: QMouseEvent) -> bool:
        self._hover = self.pixel(event)
        if self.vertices:
            self._redraw()
        return False

    def mouse_double_click(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self._add_vertex(self.pixel(event))  # usually the vertex its first click just added
        self.close_polygon()
        return True

    def wants_key(self, event: QKeyEvent) -> bool:
        return bool(self.vertices) and event.key() in (*CLOSE_KEYS, Qt.Key.Key_Backspace, Qt.Key.Key_Escape)

    def key_press(self, event: QKeyEvent) -> bool:
        if not self.wants_key(event):
            return False
        if event.key() in CLOSE_KEYS:
            self.close_polygon()
        elif event.key() == Qt.Key.Key_Backspace:
            self.vertices.pop()
            self._redraw()
        else:
            self.cancel()
        return True

    def close_polygon(self) -> None:
        """Fill the polygon drawn so far (at least three vertices) and start a new one."""
        if len(self.vertices) >= MIN_VERTICES:
            self.document.edit("Polygon", fill_polygon, self.vertices, self.view.state.current_class)
        self.cancel()

    def _add_vertex(self, point: tuple[int, int]) -> None:
        if not self.vertices or self.vertices[-1] != point:
            self.vertices.append(point)
        self._redraw()

    def _redraw(self) -> None:
        path = QPainterPath()
        if self.vertices:
            centres = [QPointF(x + 0.5, y + 0.5) for x, y in self.vertices]
            path.moveTo(centres[0])
            for point in centres[1:]:
                path.lineTo(point)
            if self._hover is not None:
                path.lineTo(QPointF(self._hover[0] + 0.5, self._hover[1] + 0.5))
        self._outline.setPath(path)
