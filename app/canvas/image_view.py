"""The canvas: the current image with its label-mask overlay; zoom, fit, 1:1, pan, pixel read-out."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from app.state.project_state import NO_IMAGE, ProjectState
from segcore.data.classes import ClassTable
from segcore.data.masks import index_to_rgb
from segcore.display import auto_window, to_display_rgb
from segcore.errors import SegcoreError

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 1 / 64, 64.0
DEFAULT_OPACITY = 0.5


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage sharing the memory of a contiguous H x W x 3 (RGB) or x 4 (RGBA) uint8 array.

    The caller keeps `rgb` alive as long as the QImage is used.
    """
    height, width, channels = rgb.shape
    fmt = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(rgb.data, width, height, rgb.strides[0], fmt)


def overlay_rgba(mask: np.ndarray, table: ClassTable) -> np.ndarray:
    """Class colours of an index mask as RGBA; ignore pixels and black classes fully transparent.

    Black is the usual background colour (VOC): drawn, it would only dim the whole image.
    """
    rgba = np.empty((*mask.shape, 4), dtype=np.uint8)
    rgba[:, :, :3] = index_to_rgb(mask, table)
    black = ~rgba[:, :, :3].any(axis=2)
    rgba[:, :, 3] = np.where((mask == table.ignore_index) | black, 0, 255)
    return rgba


class ImageView(QGraphicsView):
    """Shows `ProjectState`'s current image and mask; reports the pixel under the cursor."""

    hover_changed = Signal(str)
    """Text describing the pixel under the cursor; empty when the cursor is off the image."""
    image_shown = Signal(int)
    """An image's pixels are on the canvas (its id)."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.image_item = QGraphicsPixmapItem()
        self.overlay_item = QGraphicsPixmapItem()
        self.overlay_item.setOpacity(DEFAULT_OPACITY)
        for z, item in enumerate((self.image_item, self.overlay_item)):
            item.setZValue(z)
            self._scene.addItem(item)
        self._image: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        # QImage does not own numpy memory: these keep the arrays alive while Qt may read them.
        self._buffers: tuple[np.ndarray, ...] = ()
        self._fit_mode = True

        self.setBackgroundBrush(QBrush(QColor(40, 40, 40)))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp pixels when zoomed in
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        state.current_image_changed.connect(self._show_image)

    # -- public controls ---------------------------------------------------------------------------

    @property
    def has_mask(self) -> bool:
        return self._mask is not None

    def scale_factor(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def overlay_opacity(self) -> float:
        return self.overlay_item.opacity()

    def set_overlay_opacity(self, opacity: float) -> None:
        """Opacity of the label overlay, 0 (hidden) to 1 (opaque)."""
        self.overlay_item.setOpacity(min(max(opacity, 0.0), 1.0))

    def set_overlay_visible(self, visible: bool) -> None:
        self.overlay_item.setVisible(visible)

    def fit_to_window(self) -> None:
        """Scale the whole image into the view, and keep it fitted when the view resizes."""
        self._fit_mode = True
        if not self.image_item.pixmap().isNull():
            self.fitInView(self.image_item, Qt.AspectRatioMode.KeepAspectRatio)

    def actual_size(self) -> None:
        """One image pixel per screen pixel."""
        self._fit_mode = False
        self.resetTransform()

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom by `factor`, keeping the image point under `anchor` (viewport pixels; default: centre) in place."""
        anchor = self.viewport().rect().center() if anchor is None else anchor
        target = min(max(self.scale_factor() * factor, MIN_SCALE), MAX_SCALE)
        self._fit_mode = False
        fixed = self.mapToScene(anchor)
        step = target / self.scale_factor()
        self.scale(step, step)
        # Qt's AnchorUnderMouse uses the last mouse *move*, not the wheel event's position: scroll ourselves.
        drift = self.mapFromScene(fixed) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + drift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + drift.y())

    # -- state -> canvas ---------------------------------------------------------------------------

    def _show_image(self, image_id: int) -> None:
        if image_id == NO_IMAGE:
            self._clear()
            return
        try:
            image = self._state.store.read_image(image_id)
            mask = self._state.store.load_mask(image_id)
        except SegcoreError:
            self._clear()  # never leave the previous image on screen under the new name
            raise
        previous_size = self.image_item.pixmap().size()
        rgb = to_display_rgb(image, auto_window(image))
        buffers = [rgb]
        self.image_item.setPixmap(QPixmap.fromImage(rgb_to_qimage(rgb)))
        if mask is not None:
            rgba = overlay_rgba(mask, self._state.class_table)
            buffers.append(rgba)
            self.overlay_item.setPixmap(QPixmap.fromImage(rgb_to_qimage(rgba)))
        else:
            self.overlay_item.setPixmap(QPixmap())
        self._image, self._mask, self._buffers = image, mask, tuple(buffers)
        self._scene.setSceneRect(QRectF(self.image_item.pixmap().rect()))
        # Same-size images keep the zoom and position, so neighbours can be compared in place.
        if self._fit_mode or previous_size != self.image_item.pixmap().size():
            self.fit_to_window()
        self.image_shown.emit(image_id)

    def _clear(self) -> None:
        self.image_item.setPixmap(QPixmap())
        self.overlay_item.setPixmap(QPixmap())
        self._image = self._mask = None
        self._buffers = ()
        self.hover_changed.emit("")

    # -- pixel read-out ----------------------------------------------------------------------------

    def describe_pixel(self, x: int, y: int) -> str:
        """'x, y, raw value, class' of an image pixel, or '' outside the image."""
        if self._image is None or not (0 <= y < self._image.shape[0] and 0 <= x < self._image.shape[1]):
            return ""
        value = self._image[y, x]
        shown = str(int(value)) if np.ndim(value) == 0 else "(" + ", ".join(str(int(v)) for v in value) + ")"
        return f"x {x}  y {y}   value {shown}   class: {self._class_at(x, y)}"

    def _class_at(self, x: int, y: int) -> str:
        if self._mask is None:
            return "— (not labelled)"
        index = int(self._mask[y, x])
        table = self._state.class_table
        if index == table.ignore_index:
            return "ignore"
        return table.classes[index].name if index < table.num_classes else f"unknown ({index})"

    # -- Qt events ---------------------------------------------------------------------------------

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        super().mouseMoveEvent(event)
        point = self.mapToScene(event.position().toPoint())
        self.hover_changed.emit(self.describe_pixel(int(np.floor(point.x())), int(np.floor(point.y()))))

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        super().leaveEvent(event)
        self.hover_changed.emit("")

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP**steps, event.position().toPoint())
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit_to_window()
