"""The canvas: the current image with its label-mask overlay; zoom, fit, 1:1, pan, window/level, pixel read-out.

Decoding and display conversion run in a `Worker`; results of a load the user has already moved
past are dropped. Mouse and key events go to the active tool first (see `app.canvas.tools`).
"""

from __future__ import annotations

import functools

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QCursor, QKeyEvent, QMouseEvent, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QLabel, QWidget

from app.canvas.overlay import MaskOverlayItem
from app.canvas.prediction_overlay import (
    PredictionLayer,
    PredictionOverlayItem,
    PredictionStyle,
    load_prediction_layer,
)
from app.canvas.render import Rendered, decode_and_render, render
from app.canvas.tools.base import Tool
from app.errors import report_worker_error
from app.state.mask_document import MaskDocument
from app.state.preview import PreviewState
from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import Worker, WorkerGroup
from segcore.data.editing import Region
from segcore.display import Window

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 1 / 64, 64.0
LOADING_NOTICE_MS = 150
"""A load slower than this (a 3072x3072 frame on a busy machine) shows a notice and dims the image it replaces."""
NOTICE_MS = 8_000
"""How long a tool's notice stays over the canvas: long enough to read two lines while boxing on."""
STALE_IMAGE_OPACITY = 0.3


def zoom_view(view: QGraphicsView, factor: float, anchor: QPoint | None = None) -> None:
    """Zoom `view` by `factor` (kept within MIN_SCALE..MAX_SCALE), the scene point under `anchor` staying put.

    `anchor` is in viewport pixels (default: the centre); the view should use `NoAnchor` transformations.
    """
    anchor = view.viewport().rect().center() if anchor is None else anchor
    current = view.transform().m11()
    target = min(max(current * factor, MIN_SCALE), MAX_SCALE)
    fixed = view.mapToScene(anchor)
    step = target / current
    view.scale(step, step)
    # Qt's AnchorUnderMouse uses the last mouse *move*, not the wheel event's position: scroll ourselves.
    drift = view.mapFromScene(fixed) - anchor
    view.horizontalScrollBar().setValue(view.horizontalScrollBar().value() + drift.x())
    view.verticalScrollBar().setValue(view.verticalScrollBar().value() + drift.y())


class ImageView(QGraphicsView):
    """Shows `ProjectState`'s current image and its `MaskDocument`; forwards input to the active tool."""

    hover_changed = Signal(str)
    """Text describing the pixel under the cursor; empty when the cursor is off the image."""
    image_shown = Signal(int)
    """An image's pixels are on the canvas (its id); also after a window/level or CLAHE change."""
    zoom_changed = Signal(float)
    """Screen pixels per image pixel, after every fit, 1:1 and zoom."""
    window_changed = Signal(object)
    """The (low, high) display window of the shown image."""
    histogram_changed = Signal(object)
    """(counts, (low, high)): the shown image's value histogram, for the window/level control."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None, *,
                 document: MaskDocument | None = None, previews: PreviewState | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.document = document if document is not None else MaskDocument(state, self)
        self.previews = previews if previews is not None else PreviewState(state, self)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.image_item = QGraphicsPixmapItem()
        self.overlay_item = MaskOverlayItem()
        self.prediction_item = PredictionOverlayItem()
        """The live preview, else the stored prediction, drawn as outlines; hidden unless asked for."""
        self.prediction_item.setVisible(False)
        self.prediction_caption = QLabel(self.viewport())
        """Says where the prediction on screen came from (run, checkpoint, or a live preview)."""
        self.prediction_caption.setStyleSheet(
            "QLabel { background: rgba(20, 20, 20, 180); color: white; padding: 2px 6px; }")
        self.prediction_caption.move(6, 6)
        self.prediction_caption.hide()
        self.loading_notice = QLabel(self.viewport())
        """'Loading <name>…' over the canvas while a slow image decodes."""
        self.loading_notice.setStyleSheet(
            "QLabel { background: rgba(20, 20, 20, 200); color: white; padding: 8px 14px; font-size: 14px; }")
        self.loading_notice.hide()
        self._loading_timer = QTimer(self, singleShot=True, interval=LOADING_NOTICE_MS)
        self._loading_timer.timeout.connect(self._show_loading)
        self._reading_out = False
        """The status bar shows this view's pixel readout (the cursor moved over the image)."""
        self.notice = QLabel(self.viewport(), wordWrap=True)
        """A tool's word to the user over the canvas (e.g. a box that could not be refined), for NOTICE_MS."""
        self.notice.setStyleSheet(
            "QLabel { background: rgba(120, 70, 0, 220); color: white; padding: 6px 12px; font-size: 13px; }")
        self.notice.hide()
        self._notice_timer = QTimer(self, singleShot=True, interval=NOTICE_MS)
        self._notice_timer.timeout.connect(self.notice.hide)
        for z, item in enumerate((self.image_item, self.overlay_item, self.prediction_item)):
            item.setZValue(z)
            self._scene.addItem(item)
        self._prediction_serial = 0
        self._workers = WorkerGroup()
        self._pan_from: QPointF | None = None  # middle-button panning, in any tool
        self._image: np.ndarray | None = None  # the decoded image on screen
        self._image_id = NO_IMAGE  # whose pixels are on screen
        self._loading_id = NO_IMAGE  # the image a worker is decoding, if any
        self._serial = 0  # bumped per load/render; an older result is stale
        self._fixed_window: Window | None = None  # None: each image gets its auto window
        self._window: Window | None = None
        self._clahe = False
        self._fit_mode = True
        self._tool: Tool | None = None

        self.setBackgroundBrush(QBrush(QColor(40, 40, 40)))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp pixels when zoomed in
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.placeholder = QLabel(self.viewport(), alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        """What to do on an empty canvas: open a project, or import images into an empty one."""
        self.placeholder.setStyleSheet("QLabel { color: rgb(210, 210, 210); font-size: 15px; padding: 20px; }")
        self.placeholder.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        state.current_image_changed.connect(self._load)
        state.about_to_close.connect(self._workers.wait)
        state.project_closed.connect(self._clear)
        for signal in (state.project_opened, state.project_closed, state.images_changed):
            signal.connect(self._update_placeholder)
        self._update_placeholder()
        self.document.mask_replaced.connect(self._show_mask)
        self.document.mask_replaced.connect(self._cancel_tool)
        self.document.mask_changed.connect(self._mask_edited)
        self.previews.changed.connect(self.refresh_prediction)

    # -- public controls ---------------------------------------------------------------------------

    @property
    def image(self) -> np.ndarray | None:
        """The decoded image on screen (as stored: 8/16-bit, gray or colour)."""
        return self._image

    @property
    def has_mask(self) -> bool:
        return not self.overlay_item.is_empty

    @property
    def tool(self) -> Tool | None:
        return self._tool

    def set_tool(self, tool: Tool | None) -> None:
        """Make `tool` the one that gets mouse and key events (None: plain pan)."""
        if self._tool is not None:
            self._tool.deactivate()
        self._tool = tool
        if tool is None:
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            self.viewport().unsetCursor()
        else:
            tool.activate()

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

    def set_prediction_opacity(self, opacity: float) -> None:
        """Opacity of the prediction layer, independent of the labels'."""
        self.prediction_item.setOpacity(min(max(opacity, 0.0), 1.0))

    def set_prediction_style(self, style: PredictionStyle) -> None:
        """Outline, outline + hatch, or outline + light fill."""
        self.prediction_item.set_style(style)

    def fit_to_window(self) -> None:
        """Scale the whole image into the view, and keep it fitted when the view resizes."""
        self._fit_mode = True
        if not self.image_item.pixmap().isNull():
            self.fitInView(self.image_item, Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom_changed.emit(self.scale_factor())

    def actual_size(self) -> None:
        """One image pixel per screen pixel."""
        self._fit_mode = False
        self.resetTransform()
        self.zoom_changed.emit(self.scale_factor())

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom by `factor`, keeping the image point under `anchor` (viewport pixels; default: centre) in place."""
        self._fit_mode = False
        zoom_view(self, factor, anchor)
        self.zoom_changed.emit(self.scale_factor())

    def display_window(self) -> Window | None:
        """The (low, high) window the shown image is displayed with."""
        return self._window

    def set_display_window(self, low: float, high: float) -> None:
        """Show this and the following images through a fixed (low, high) window."""
        self._fixed_window = self._window = (float(low), float(high))
        self._rerender()

    def auto_display_window(self) -> None:
        """Back to each image's automatic window (percentiles)."""
        self._fixed_window = self._window = None
        self._rerender()

    @property
    def clahe(self) -> bool:
        return self._clahe

    def set_clahe(self, enabled: bool) -> None:
        """Show the image contrast-equalised (CLAHE) or plain."""
        if enabled != self._clahe:
            self._clahe = enabled
            self._rerender()

    def is_settled(self) -> bool:
        """The current image and its mask are on screen (nothing left loading): safe to grab or measure."""
        current = self.state.current_id if self.state.is_open else NO_IMAGE
        if current == NO_IMAGE:
            return True
        return (self._loading_id == NO_IMAGE and self._image_id == current
                and self.document.image_id == current and self.document.mask is not None)

    def set_prediction_visible(self, visible: bool) -> None:
        """Show the current image's live preview or stored prediction over it (loaded in the background)."""
        self.prediction_item.setVisible(visible)
        if visible:
            self.refresh_prediction()
        else:
            self._clear_prediction()

    def refresh_prediction(self, image_id: int | None = None) -> None:
        """Re-read the shown image's prediction (after a prediction or live preview of `image_id`)."""
        if self._image_id == NO_IMAGE or not self.state.is_open:
            return
        if image_id is not None and image_id != self._image_id:
            return
        if not self.prediction_item.isVisible():
            self._caption_hidden_preview()
            return
        self._prediction_serial += 1
        serial, shown = self._prediction_serial, self._image_id
        worker = Worker(load_prediction_layer, self.state.store, shown, self.state.class_table,
                        self.previews.of(shown))
        worker.returned.connect(lambda layer: self._prediction_loaded(serial, shown, layer))
        self._workers.start(worker)  # reads the store: done before it closes

    def _caption_hidden_preview(self) -> None:
        """With the prediction layer hidden, a live preview of the image still says it is there (it went unseen)."""
        preview = self.previews.of(self._image_id)
        if preview is None:
            self.prediction_caption.hide()
            return
        self.prediction_caption.setText(f"{preview.describe()} — hidden: Shift+O shows it")
        self.prediction_caption.adjustSize()
        self.prediction_caption.show()

    def _prediction_loaded(self, serial: int, image_id: int, layer: PredictionLayer | None) -> None:
        if serial != self._prediction_serial or image_id != self._image_id or not self.prediction_item.isVisible():
            return
        if layer is None or self._image is None or (layer.height, layer.width) != self._image.shape[:2]:
            self._clear_prediction()
            return
        self.prediction_item.set_shapes(layer.shapes, layer.width, layer.height)
        self.prediction_caption.setText(layer.caption)
        self.prediction_caption.adjustSize()
        self.prediction_caption.show()

    def _clear_prediction(self) -> None:
        self._prediction_serial += 1  # a load in flight is for what was on screen before
        self.prediction_item.clear()
        self.prediction_caption.hide()

    # -- state -> canvas ---------------------------------------------------------------------------

    def _load(self, image_id: int) -> None:
        self._serial += 1
        if image_id == NO_IMAGE:
            self._clear()
            return
        serial = self._serial
        self._loading_id = image_id
        self._loading_timer.start()
        load = functools.partial(self.state.store.read_image, image_id)
        worker = Worker(decode_and_render, load, self._fixed_window, self._clahe)
        worker.returned.connect(lambda rendered: self._rendered(serial, image_id, rendered))
        worker.errored.connect(lambda exc: self._failed(serial, exc))
        self._workers.start(worker)  # reads the store: done before it closes

    def _rerender(self) -> None:
        if self._loading_id != NO_IMAGE:
            self._load(self._loading_id)  # a load in flight used the old settings: start it again
            return
        if self._image is None:
            return
        self._serial += 1
        serial, image_id = self._serial, self._image_id
        worker = Worker(render, self._image, self._fixed_window, self._clahe)
        worker.returned.connect(lambda rendered: self._rendered(serial, image_id, rendered))
        worker.errored.connect(lambda exc: self._failed(serial, exc))
        worker.start()

    def _rendered(self, serial: int, image_id: int, rendered: Rendered) -> None:
        if serial != self._serial:
            return  # the user moved on (or changed the window) while this was made
        new_image = image_id != self._image_id
        previous_size = self.image_item.pixmap().size()
        self.image_item.setPixmap(QPixmap.fromImage(rendered.qimage))
        self._image, self._image_id, self._window = rendered.image, image_id, rendered.window
        self._loading_id = NO_IMAGE
        self._hide_loading()
        self._scene.setSceneRect(QRectF(self.image_item.pixmap().rect()))
        # Same-size images keep the zoom and position, so neighbours can be compared in place.
        if self._fit_mode or previous_size != self.image_item.pixmap().size():
            self.fit_to_window()
        if new_image:
            self._show_mask()
            self._clear_prediction()
            self.refresh_prediction()
        self.histogram_changed.emit(rendered.histogram)
        self.window_changed.emit(rendered.window)
        self.image_shown.emit(image_id)

    def _failed(self, serial: int, exc: BaseException) -> None:
        if serial == self._serial:
            self._clear()  # never leave the previous image on screen under the new name
        report_worker_error(exc)

    def _update_placeholder(self) -> None:
        if not self.state.is_open:
            text = "No project is open.\nFile ▸ Open project… (Ctrl+O) or File ▸ New project… (Ctrl+N)"
        elif not self.state.images:
            text = ("This project has no images yet.\nFile ▸ Import images…, Import a folder of images… or "
                    "Import a labelled dataset… adds them.")
        else:
            self.placeholder.hide()
            return
        self.placeholder.setText(text)
        self.placeholder.setGeometry(self.viewport().rect())
        self.placeholder.show()

    def show_notice(self, text: str) -> None:
        """Say `text` over the bottom of the canvas for NOTICE_MS (a newer notice replaces it)."""
        self.notice.setText(text)
        self.notice.setFixedWidth(min(560, self.viewport().width() - 24))
        self.notice.adjustSize()
        self._place_notice()
        self.notice.show()
        self.notice.raise_()
        self._notice_timer.start()

    def _place_notice(self) -> None:
        area = self.viewport().rect()
        self.notice.move(area.center().x() - self.notice.width() // 2, area.bottom() - self.notice.height() - 12)

    def _show_loading(self) -> None:
        """The load is slow: say so, and dim the previous image so it is not taken for the new one."""
        if self._loading_id == NO_IMAGE or not self.state.is_open:
            return
        record = self.state.record(self._loading_id)
        self.loading_notice.setText(f"Loading {record.name} ({record.width} × {record.height}, {record.bit_depth}-bit)…")
        self.loading_notice.adjustSize()
        centre = self.viewport().rect().center()
        self.loading_notice.move(centre.x() - self.loading_notice.width() // 2,
                                 centre.y() - self.loading_notice.height() // 2)
        self.loading_notice.show()
        self.image_item.setOpacity(STALE_IMAGE_OPACITY)

    def _hide_loading(self) -> None:
        self._loading_timer.stop()
        self.loading_notice.hide()
        self.image_item.setOpacity(1.0)

    def _show_mask(self) -> None:
        """Draw the document's mask once it belongs to the image on screen."""
        mask = self.document.mask
        image = self._image
        if mask is None or image is None or self.document.image_id != self._image_id or mask.shape != image.shape[:2]:
            self.overlay_item.clear()
            return
        self.overlay_item.set_mask(mask, self.state.class_table)
        self._describe_under_cursor()

    def _describe_under_cursor(self) -> None:
        """Read out the pixel under a cursor that did not move: the image (or its label) under it changed.

        Only while a readout is showing: otherwise the status bar holds another message, which it keeps."""
        if not self._reading_out:
            return
        cursor = self.viewport().mapFromGlobal(QCursor.pos())
        point = self.mapToScene(cursor)
        readout = self.describe_pixel(int(np.floor(point.x())), int(np.floor(point.y())))
        if not self.viewport().rect().contains(cursor):
            readout = ""
        self._reading_out = bool(readout)
        self.hover_changed.emit(readout)

    def _cancel_tool(self) -> None:
        """The mask under the tool was replaced (another image, an accepted prediction): drop what is in
        progress, and say so when the user drew it (it used to vanish without a word)."""
        if self._tool is not None:
            dropped = self._tool.pending()
            self._tool.cancel()
            if dropped:
                self.show_notice(f"The {dropped} you drew was not accepted, so it is dropped: "
                                 "Enter or Space accepts it before you move on.")

    def _mask_edited(self, region: Region | None) -> None:
        if self.document.mask is not None and self.document.image_id == self._image_id:
            self.overlay_item.update_region(self.document.mask, region)

    def _clear(self) -> None:
        self._serial += 1
        self._hide_loading()
        self.image_item.setPixmap(QPixmap())
        self.overlay_item.clear()
        self._clear_prediction()
        self._image, self._image_id, self._loading_id = None, NO_IMAGE, NO_IMAGE
        self._reading_out = False
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
        mask = self.document.mask
        if mask is None or self.document.image_id != self._image_id or not self.document.labelled:
            return "— (not labelled)"
        index = int(mask[y, x])
        table = self.state.class_table
        if index == table.ignore_index:
            return "ignore"
        return table.classes[index].name if index < table.num_classes else f"unknown ({index})"

    # -- Qt events ---------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:  # pan with the middle button whatever the tool
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if self._tool is None or not self._tool.mouse_press(event):
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
        elif self._tool is None or not self._tool.mouse_move(event):
            super().mouseMoveEvent(event)
        point = self.mapToScene(event.position().toPoint())
        readout = self.describe_pixel(int(np.floor(point.x())), int(np.floor(point.y())))
        self._reading_out = bool(readout)
        self.hover_changed.emit(readout)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            if self._tool is not None:
                self._tool.activate()  # the tool's own cursor back
            event.accept()
            return
        if self._tool is None or not self._tool.mouse_release(event):
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._tool is None or not self._tool.mouse_double_click(event):
            super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if self._tool is None or not self._tool.key_press(event):
            super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        # Accepting a ShortcutOverride hands the key to keyPressEvent instead of a window shortcut.
        if event.type() == QEvent.Type.ShortcutOverride and self._tool is not None and self._tool.wants_key(event):
            event.accept()
            return True
        return super().event(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        super().leaveEvent(event)
        if self._tool is not None:
            self._tool.leave()
        self._reading_out = False
        self.hover_changed.emit("")

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP**steps, event.position().toPoint())
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_notice()
        self.placeholder.setGeometry(self.viewport().rect())
        if self._fit_mode:
            self.fit_to_window()
