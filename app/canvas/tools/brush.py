"""Brush and eraser: paint the current class (or background) live along the mouse; one stroke = one undo step."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem

from app.canvas.tools.base import Tool, ToolSettings
from segcore.data.editing import Region, paint_stroke

BACKGROUND = 0


class BrushTool(Tool):
    """Paints `state.current_class` with a round brush of the settings' size; the cursor shows the brush."""

    label = "Brush stroke"

    def __init__(self, view, settings: ToolSettings) -> None:
        super().__init__(view, settings)
        self._last: tuple[int, int] | None = None  # the stroke's last point while the button is down
        self._region: Region | None = None  # everything this stroke painted so far
        self._outline = QGraphicsEllipseItem()
        pen = QPen(QColor(255, 255, 255), 0, Qt.PenStyle.DashLine)  # width 0: cosmetic, 1 screen pixel
        self._outline.setPen(pen)
        self._outline.setZValue(10)
        self._outline.setVisible(False)
        view.scene().addItem(self._outline)
        settings.brush_size_changed.connect(lambda _size: self._resize_outline())

    def value(self) -> int:
        """The class index this tool paints."""
        return self.view.state.current_class

    @property
    def radius(self) -> int:
        return self.settings.brush_size // 2

    def deactivate(self) -> None:
        super().deactivate()
        self._outline.setVisible(False)

    def cancel(self) -> None:
        if self._region is not None:
            self.document.revert(self._region)
        self._last = self._region = None

    def mouse_press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        mask = self.document.mask
        if mask is not None:
            self._last = self.pixel(event)
            self._paint(self._last, self._last)
        return True

    def mouse_move(self, event: QMouseEvent) -> bool:
        point = self.pixel(event)
        self._place_outline(point)
        if self._last is None:
            return False
        self._paint(self._last, point)
        self._last = point
        return True

    def mouse_release(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or self._last is None:
            return False
        self.document.commit(self._region, self.label)
        self._last = self._region = None
        return True

    def leave(self) -> None:
        self._outline.setVisible(False)

    def _paint(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        mask = self.document.mask
        if mask is None:
            return
        touched = paint_stroke(mask, [start, end], self.radius, self.value())
        if touched is not None:
            self._region = touched.union(self._region)
            self.document.notify(touched)

    def _place_outline(self, point: tuple[int, int]) -> None:
        x, y = point
        self._set_outline(x + 0.5, y + 0.5)
        self._outline.setVisible(True)

    def _resize_outline(self) -> None:
        center = self._outline.rect().center()
        self._set_outline(center.x(), center.y())

    def _set_outline(self, cx: float, cy: float) -> None:
        r = self.radius + 0.5  # the disc covers pixel centres within `radius`: its edge is half a pixel out
        self._outline.setRect(QRectF(cx - r, cy - r, 2 * r, 2 * r))


class EraserTool(BrushTool):
    """A brush that paints background (class 0)."""

    label = "Eraser stroke"

    def value(self) -> int:
        return BACKGROUND
