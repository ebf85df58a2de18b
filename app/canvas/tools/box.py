"""Box / ROI, the `cv2.selectROI` habit: drag a rectangle, adjust it with its 8 handles, Enter or Space accepts, Esc cancels.

An accepted box fills with the current class (or, with "refine" on, the object segcore's
`refine_box` finds inside it, computed in a Worker) and is stored as a box label for training.
"""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from app.canvas.tools.base import Tool, ToolSettings
from app.workers import Worker
from segcore.data.boxes import Box
from segcore.data.editing import Region, fill_rect, paste_where
from segcore.data.refine import Refinement, refine

log = logging.getLogger(__name__)

ACCEPT_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)
HANDLE_PX = 8
"""Handle size on screen; grabbing tolerates a pixel or two more."""
CLICK_PX = 3
"""A press and release closer than this (screen pixels) is a click, not a box."""

Edges = tuple[int, int, int, int]
"""left, top, right, bottom on the pixel grid (right and bottom exclusive)."""

# Which edges each handle moves (left, top, right, bottom), clockwise from the top-left corner.
_HANDLE_EDGES = (
    (True, True, False, False), (False, True, False, False), (False, True, True, False), (False, False, True, False),
    (False, False, True, True), (False, False, False, True), (True, False, False, True), (True, False, False, False),
)


def _handle_points(edges: Edges) -> list[QPointF]:
    left, top, right, bottom = edges
    cx, cy = (left + right) / 2, (top + bottom) / 2
    return [QPointF(x, y) for x, y in (
        (left, top), (cx, top), (right, top), (right, cy), (right, bottom), (cx, bottom), (left, bottom), (left, cy),
    )]


class BoxTool(Tool):
    """Draw, adjust, then accept or cancel one box at a time."""

    def __init__(self, view, settings: ToolSettings) -> None:
        super().__init__(view, settings)
        self.edges: Edges | None = None
        """The pending box, waiting for Enter/Space or Esc."""
        self._drag: str | int | None = None  # "new", "move", or the index of the handle being dragged
        self._press: QPoint | None = None
        self._anchor: tuple[int, int] = (0, 0)  # the pixel a new box started at, or where a move started
        self._moved_from: Edges | None = None
        self._frame = QGraphicsRectItem()
        self._frame.setPen(QPen(QColor(255, 255, 0), 0, Qt.PenStyle.DashLine))
        self._frame.setZValue(10)
        self._handles = []
        for _ in _HANDLE_EDGES:
            handle = QGraphicsRectItem(-HANDLE_PX / 2, -HANDLE_PX / 2, HANDLE_PX, HANDLE_PX, self._frame)
            handle.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)  # same size at any zoom
            handle.setPen(QPen(QColor(0, 0, 0), 0))
            handle.setBrush(QBrush(QColor(255, 255, 0)))
            self._handles.append(handle)
        self._frame.setVisible(False)
        view.scene().addItem(self._frame)

    def cancel(self) -> None:
        self.edges = self._drag = None
        self._frame.setVisible(False)

    def pending(self) -> str | None:
        return "box" if self.edges is not None else None

    # -- mouse -------------------------------------------------------------------------------------

    def mouse_press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or self._image_size() is None:
            return False
        self._press = event.position().toPoint()
        pixel = self.pixel(event)
        handle = self._handle_at(self._press)
        if handle is not None:
            self._drag = handle
        elif self.edges is not None and self._inside(pixel):
            self._drag, self._anchor, self._moved_from = "move", pixel, self.edges
        else:
            self._drag, self._anchor = "new", self._clamp_pixel(pixel)
            self._show(self._new_edges(pixel))
        return True

    def mouse_move(self, event: QMouseEvent) -> bool:
        if self._drag is None:
            return False
        if self._drag == "new":
            self._show(self._new_edges(self.pixel(event)))
        elif self._drag == "move":
            self._show(self._moved_edges(self.pixel(event)))
        else:
            self._show(self._resized_edges(self._drag, self.view.mapToScene(event.position().toPoint())))
        return True

    def mouse_release(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or self._drag is None:
            return False
        travel = (event.position().toPoint() - self._press).manhattanLength() if self._press is not None else 0
        if self._drag == "new" and travel < CLICK_PX:
            self.cancel()  # a click is not a box
        self._drag = None
        return True

    # -- keys --------------------------------------------------------------------------------------

    def wants_key(self, event: QKeyEvent) -> bool:
        return self.edges is not None and event.key() in (*ACCEPT_KEYS, Qt.Key.Key_Escape)

    def key_press(self, event: QKeyEvent) -> bool:
        if not self.wants_key(event):
            return False
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
        else:
            self.accept()
        return True

    def accept(self) -> None:
        """Label the pending box with the current class (refined to its object when asked)."""
        if self.edges is None:
            return
        left, top, right, bottom = self.edges
        self.cancel()
        box = Box(left, top, right - left, bottom - top, self.view.state.current_class)
        image = self.view.image
        if self.settings.refine_boxes and image is not None:
            image_id = self.document.image_id
            worker = Worker(refine, image, box)
            worker.returned.connect(lambda refined: self._paste_refined(image_id, box, refined))
            worker.start()
        else:
            self.document.edit("Box", fill_rect, box.x, box.y, box.w, box.h, box.label, box=box)

    def _paste_refined(self, image_id: int, box: Box, refined: Refinement) -> None:
        if self.document.image_id != image_id:
            log.info("dropped a refined box: its image is no longer shown")
            return
        region = Region(box.x, box.y, box.w, box.h)
        self.document.edit("Refined box", paste_where, region, refined.mask[region.slices()], box.label, box=box)
        if refined.kept_box:  # a failed refinement used to become a plain rectangle without a word
            self.view.show_notice(f"Refine boxes: {refined.kept_box}, so the whole {box.w} × {box.h} box is "
                                  "labelled. Ctrl+Z undoes it; draw the box closer round the object, or paint it.")
        elif refined.doubt:
            self.view.show_notice(f"Refine boxes: {refined.doubt}, so it may have missed part of the object: "
                                  "check it. A box drawn close round the object refines best; Ctrl+Z undoes it.")

    # -- geometry ----------------------------------------------------------------------------------

    def _image_size(self) -> tuple[int, int] | None:
        """(width, height) of the image being labelled, or None while there is none."""
        mask = self.document.mask
        return None if mask is None else (mask.shape[1], mask.shape[0])

    def _clamp_pixel(self, pixel: tuple[int, int]) -> tuple[int, int]:
        width, height = self._image_size() or (1, 1)
        return min(max(pixel[0], 0), width - 1), min(max(pixel[1], 0), height - 1)

    def _inside(self, pixel: tuple[int, int]) -> bool:
        left, top, right, bottom = self.edges
        return left <= pixel[0] < right and top <= pixel[1] < bottom

    def _new_edges(self, pixel: tuple[int, int]) -> Edges:
        # Both the pixel pressed and the pixel under the cursor belong to the box.
        (ax, ay), (px, py) = self._anchor, self._clamp_pixel(pixel)
        return min(ax, px), min(ay, py), max(ax, px) + 1, max(ay, py) + 1

    def _moved_edges(self, pixel: tuple[int, int]) -> Edges:
        width, height = self._image_size()
        left, top, right, bottom = self._moved_from
        dx = min(max(pixel[0] - self._anchor[0], -left), width - right)
        dy = min(max(pixel[1] - self._anchor[1], -top), height - bottom)
        return left + dx, top + dy, right + dx, bottom + dy

    def _resized_edges(self, handle: int, point: QPointF) -> Edges:
        width, height = self._image_size()
        gx, gy = min(max(round(point.x()), 0), width), min(max(round(point.y()), 0), height)
        left, top, right, bottom = self.edges
        moves_left, moves_top, moves_right, moves_bottom = _HANDLE_EDGES[handle]
        left, right = (gx if moves_left else left), (gx if moves_right else right)
        top, bottom = (gy if moves_top else top), (gy if moves_bottom else bottom)
        # Dragged across the opposite edge: the box flips; it never gets thinner than one pixel.
        left, right = min(left, right), max(left, right)
        top, bottom = min(top, bottom), max(top, bottom)
        return left, top, max(right, left + 1), max(bottom, top + 1)

    def _handle_at(self, position: QPoint) -> int | None:
        if self.edges is None:
            return None
        reach = HANDLE_PX / 2 + 2
        for index, point in enumerate(_handle_points(self.edges)):
            offset = self.view.mapFromScene(point) - position
            if math.hypot(offset.x(), offset.y()) <= reach * math.sqrt(2):
                return index
        return None

    def _show(self, edges: Edges) -> None:
        self.edges = edges
        left, top, right, bottom = edges
        self._frame.setRect(QRectF(left, top, right - left, bottom - top))
        for handle, point in zip(self._handles, _handle_points(edges), strict=True):
            handle.setPos(point)
        self._frame.setVisible(True)
