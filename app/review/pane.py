"""One pane of the review triptych: the image, an optional class overlay and error overlay, and a region rubber band."""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPen, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsView, QWidget

from app.canvas.image_view import ZOOM_STEP, zoom_view
from app.canvas.overlay import MaskOverlayItem
from segcore.data.editing import Region

ERROR_OPACITY = 0.85


class ReviewPane(QGraphicsView):
    """Shows an image with overlays; wheel zooms and drag pans (the triptych links the panes).

    In region mode a left-button drag draws a rectangle and emits `region_drawn` instead of panning.
    """

    zoomed = Signal()
    """The user zoomed this pane (its transform changed)."""
    resized = Signal()
    region_drawn = Signal(object)
    """A `Region` of image pixels the user dragged out in region mode."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.image_item = QGraphicsPixmapItem()
        self.overlay_item = MaskOverlayItem()
        self.errors_item = MaskOverlayItem()
        self.errors_item.setOpacity(ERROR_OPACITY)
        self._frame = QGraphicsRectItem()
        pen = QPen(QColor(255, 220, 0), 0, Qt.PenStyle.DashLine)  # width 0: one screen pixel at any zoom
        self._frame.setPen(pen)
        self._frame.setVisible(False)
        for z, item in enumerate((self.image_item, self.overlay_item, self.errors_item, self._frame)):
            item.setZValue(z)
            self._scene.addItem(item)
        self._region_mode = False
        self._press: tuple[int, int] | None = None  # the pixel a region drag started at

        self.setBackgroundBrush(QBrush(QColor(40, 40, 40)))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp pixels when zoomed in

    def set_pixmap(self, pixmap: QPixmap) -> None:
        """Show `pixmap` as the image (an empty one clears the pane)."""
        self.image_item.setPixmap(pixmap)
        self._scene.setSceneRect(QRectF(pixmap.rect()))

    def clear(self) -> None:
        self.set_pixmap(QPixmap())
        self.overlay_item.clear()
        self.errors_item.clear()

    @property
    def region_mode(self) -> bool:
        return self._region_mode

    def set_region_mode(self, enabled: bool) -> None:
        """Left drags draw a region (True) or pan (False)."""
        self._region_mode = enabled
        self._press = None
        self._frame.setVisible(False)
        if enabled:
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            self.viewport().unsetCursor()

    def _pixel(self, position: QPoint) -> tuple[int, int]:
        point = self.mapToScene(position)
        return math.floor(point.x()), math.floor(point.y())

    def _dragged(self, end: tuple[int, int]) -> Region:
        """The pixels from the press to `end`, both included, clipped to the image."""
        (x0, y0), (x1, y1) = self._press, end
        region = Region(min(x0, x1), min(y0, y1), abs(x1 - x0) + 1, abs(y1 - y0) + 1)
        size = self.image_item.pixmap().size()
        return region.clipped((size.height(), size.width()))

    def _show_frame(self, region: Region) -> None:
        self._frame.setRect(QRectF(QPointF(region.x, region.y), QPointF(region.x + region.w, region.y + region.h)))
        self._frame.setVisible(not region.is_empty)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._region_mode and event.button() == Qt.MouseButton.LeftButton and not self.image_item.pixmap().isNull():
            self._press = self._pixel(event.position().toPoint())
            self._show_frame(self._dragged(self._press))
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is not None:
            self._show_frame(self._dragged(self._pixel(event.position().toPoint())))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is not None and event.button() == Qt.MouseButton.LeftButton:
            region = self._dragged(self._pixel(event.position().toPoint()))
            self._press = None
            self._frame.setVisible(False)
            event.accept()
            if not region.is_empty:
                self.region_drawn.emit(region)
            return
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            zoom_view(self, ZOOM_STEP**steps, event.position().toPoint())
            self.zoomed.emit()
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.resized.emit()
