"""The prediction layer: a prediction drawn as class-coloured outlines with a hatch, never like a label.

A label is a solid fill; a prediction is an outline (with an optional diagonal hatch or a light
fill) in the class colours, with its own opacity, so an erased label under a prediction never
looks labelled. Outlines and hatch are cosmetic: the same screen width and spacing at any zoom.
The geometry (`prediction_shapes`) is built off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.state.preview import Preview
from segcore.data.classes import ClassTable
from segcore.display import class_outlines
from segcore.project.review import prediction_origins
from segcore.project.store import ProjectStore

DEFAULT_OPACITY = 0.9
OUTLINE_WIDTH = 2
"""Screen pixels."""
FILL_ALPHA = 90
HALO = QColor(0, 0, 0, 140)
MIN_LIGHTNESS = 120
"""Darker class colours (VOC's dark red 128, 0, 0) are lightened for outlines: a thin dark line vanishes on fringes."""


class PredictionStyle(str, Enum):
    OUTLINE = "outline"
    HATCHED = "hatched"
    FILLED = "filled"


@dataclass(frozen=True)
class ClassShape:
    color: tuple[int, int, int]
    path: QPainterPath
    """The class's regions and holes (odd-even fill), in image coordinates."""


def prediction_shapes(labels: np.ndarray, table: ClassTable) -> list[ClassShape]:
    """The outline paths of every drawable class in `labels` (black classes and ignore are left out, as on labels)."""
    drawable = {info.index: tuple(int(c) for c in info.color) for info in table.classes
                if tuple(info.color) != (0, 0, 0) and info.index != table.ignore_index}
    shapes = []
    for index, loops in class_outlines(labels, sorted(drawable)).items():
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.OddEvenFill)
        for loop in loops:
            path.addPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in loop]))
            path.closeSubpath()
        shapes.append(ClassShape(drawable[index], path))
    return shapes


def visible_color(rgb: tuple[int, int, int]) -> QColor:
    """The class colour, lightened until an outline of it stands out (same hue)."""
    color = QColor(*rgb)
    while color.lightness() < MIN_LIGHTNESS and color.value() < 255:
        color = color.lighter(130)
    return color


class PredictionOverlayItem(QGraphicsItem):
    """Paints `ClassShape`s in the chosen `PredictionStyle`."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setOpacity(DEFAULT_OPACITY)
        self._shapes: list[ClassShape] = []
        self._size = QRectF()
        self._style = PredictionStyle.HATCHED

    @property
    def is_empty(self) -> bool:
        return self._size.isEmpty()

    @property
    def style(self) -> PredictionStyle:
        return self._style

    def set_style(self, style: PredictionStyle) -> None:
        self._style = PredictionStyle(style)
        self.update()

    def set_shapes(self, shapes: list[ClassShape], width: int, height: int) -> None:
        """Show `shapes` of an image of `width` x `height` pixels."""
        self.prepareGeometryChange()
        self._shapes, self._size = shapes, QRectF(0, 0, width, height)
        self.update()

    def clear(self) -> None:
        self.prepareGeometryChange()
        self._shapes, self._size = [], QRectF()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(self._size)

    def image(self, scale: float = 1.0) -> QImage:
        """The layer as drawn at `scale` screen pixels per image pixel, on transparent (ARGB32, opacity 1)."""
        size = self._size.size() * scale
        image = QImage(max(1, round(size.width())), max(1, round(size.height())), QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.scale(scale, scale)
        self.paint(painter, QStyleOptionGraphicsItem())
        painter.end()
        return image

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        halo = QPen(HALO, OUTLINE_WIDTH + 2)
        halo.setCosmetic(True)
        for shape in self._shapes:
            color = visible_color(shape.color)
            pen = QPen(color, OUTLINE_WIDTH)
            pen.setCosmetic(True)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(halo)  # a dark rim under the colour: the outline reads on bright and on dark fringes
            painter.drawPath(shape.path)
            painter.setPen(pen)
            painter.setBrush(self._brush(color))
            painter.drawPath(shape.path)

    def _brush(self, color: QColor) -> QBrush:
        if self._style is PredictionStyle.HATCHED:
            return QBrush(color, Qt.BrushStyle.BDiagPattern)  # pattern brushes are cosmetic in Qt 6
        if self._style is PredictionStyle.FILLED:
            return QBrush(QColor(color.red(), color.green(), color.blue(), FILL_ALPHA))
        return QBrush(Qt.BrushStyle.NoBrush)


@dataclass(frozen=True)
class PredictionLayer:
    """What the prediction layer shows for one image: its shapes and where the prediction came from."""

    image_id: int
    shapes: list[ClassShape]
    width: int
    height: int
    caption: str


def load_prediction_layer(store: ProjectStore, image_id: int, table: ClassTable,
                          preview: Preview | None) -> PredictionLayer | None:
    """Worker body: the live preview if there is one, else the stored prediction (None: the image has none)."""
    if preview is not None:
        labels, caption = preview.labels, preview.describe()
    else:
        stored = store.load_prediction(image_id)
        if stored is None:
            return None
        origin = prediction_origins(store).get(image_id)
        labels, caption = stored.labels, "prediction · " + (origin.describe() if origin else stored.checkpoint)
    height, width = labels.shape
    return PredictionLayer(image_id, prediction_shapes(labels, table), width, height, caption)
