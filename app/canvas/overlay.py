"""The label overlay: class colours of the mask, painted from a buffer that edits update region by region."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from segcore.data.classes import ClassTable
from segcore.data.editing import Region

DEFAULT_OPACITY = 0.5


def overlay_lut(table: ClassTable) -> np.ndarray:
    """256 premultiplied ARGB32 colours (native uint32), one per class index; ignore and black are transparent.

    Black is the usual background colour (VOC): drawn, it would only dim the whole image.
    """
    lut = np.zeros(256, np.uint32)
    for info in table.classes:
        r, g, b = (int(c) for c in info.color)
        if (r, g, b) != (0, 0, 0) and info.index != table.ignore_index:
            lut[info.index] = (0xFF << 24) | (r << 16) | (g << 8) | b
    return lut


class MaskOverlayItem(QGraphicsItem):
    """Paints a mask's class colours; `update_region` re-colours and repaints only what an edit touched."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)  # gives paint() the exposed rect
        self.setOpacity(DEFAULT_OPACITY)
        self._lut = np.zeros(256, np.uint32)
        self._pixels: np.ndarray | None = None  # H x W uint32; the QImage below reads this memory
        self._qimage: QImage | None = None

    @property
    def is_empty(self) -> bool:
        return self._pixels is None

    def set_mask(self, mask: np.ndarray, table: ClassTable) -> None:
        """Show a whole new mask with the colours of `table`."""
        self.prepareGeometryChange()
        self._lut = overlay_lut(table)
        self._pixels = np.ascontiguousarray(self._lut[mask])
        height, width = mask.shape
        self._qimage = QImage(self._pixels.data, width, height, self._pixels.strides[0],
                              QImage.Format.Format_ARGB32_Premultiplied)
        self.update()

    def clear(self) -> None:
        self.prepareGeometryChange()
        self._pixels = self._qimage = None
        self.update()

    def update_region(self, mask: np.ndarray, region: Region | None) -> None:
        """Re-colour `region` of `mask` (None: all of it) and repaint just that rectangle."""
        if self._pixels is None or mask.shape != self._pixels.shape:
            return
        if region is None:
            region = Region(0, 0, mask.shape[1], mask.shape[0])
        rows, cols = region.slices()
        self._pixels[rows, cols] = self._lut[mask[rows, cols]]
        self.update(QRectF(region.x, region.y, region.w, region.h))

    def image(self) -> QImage:
        """A copy of the overlay's pixels (premultiplied ARGB32)."""
        return QImage() if self._qimage is None else self._qimage.copy()

    def boundingRect(self) -> QRectF:  # noqa: N802
        if self._pixels is None:
            return QRectF()
        return QRectF(0, 0, self._pixels.shape[1], self._pixels.shape[0])

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._qimage is None:
            return
        exposed = option.exposedRect.toAlignedRect().intersected(self._qimage.rect())
        if not exposed.isEmpty():
            painter.drawImage(QRectF(exposed), self._qimage, QRectF(exposed))
