"""The canvas toolbar: fit, 1:1 and the zoom, overlay on/off and opacity, window/level (with its histogram and Auto)
and the CLAHE view."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QSpinBox, QToolBar, QWidget

from app.canvas.image_view import ImageView
from app.canvas.prediction_overlay import PredictionStyle
from app.widgets.histogram import WindowHistogram
from segcore.display import Window

MAX_LEVEL = 65535


class ViewToolBar(QToolBar):
    """Controls of an `ImageView`'s zoom, overlay and display window."""

    def __init__(self, view: ImageView, parent: QWidget | None = None) -> None:
        super().__init__("View", parent)
        self.setObjectName("ViewToolBar")
        self._view = view
        self.fit_action = QAction("Fit", self, shortcut=QKeySequence(Qt.Key.Key_F), toolTip="Fit to window (F)")
        # Plain number keys pick classes: 1:1 lives on Ctrl+1.
        self.actual_size_action = QAction("1:1", self, shortcut=QKeySequence("Ctrl+1"), toolTip="Actual size (Ctrl+1)")
        self.zoom_label = QLabel(" 100 % ", toolTip="Zoom: screen pixels per image pixel")
        self.overlay_action = QAction("Labels", self, shortcut=QKeySequence(Qt.Key.Key_O), checkable=True, checked=True)
        self.overlay_action.setToolTip("Show the label overlay (O)")
        self.prediction_action = QAction("Prediction", self, shortcut=QKeySequence("Shift+O"), checkable=True)
        self.prediction_action.setToolTip("Show the image's prediction (and the live preview while training) "
                                          "over it (Shift+O)")
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, maximumWidth=140)
        self.opacity.setValue(round(view.overlay_opacity() * 100))
        self.opacity.setToolTip("Label overlay opacity")
        self.prediction_style = QComboBox(toolTip="How the prediction is drawn: always outlined, never like a label")
        for style, text in ((PredictionStyle.HATCHED, "Outline + hatch"), (PredictionStyle.OUTLINE, "Outline"),
                            (PredictionStyle.FILLED, "Outline + fill")):
            self.prediction_style.addItem(text, style)
        self.prediction_opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, maximumWidth=90)
        self.prediction_opacity.setValue(round(view.prediction_item.opacity() * 100))
        self.prediction_opacity.setToolTip("Prediction opacity")
        self.window_low = QSpinBox(minimum=0, maximum=MAX_LEVEL, keyboardTracking=False)
        self.window_high = QSpinBox(minimum=0, maximum=MAX_LEVEL, keyboardTracking=False)
        self.histogram = WindowHistogram()
        self.window_low.setToolTip("Display window: the value shown black")
        self.window_high.setToolTip("Display window: the value shown white")
        self.auto_window_action = QAction("Auto", self, toolTip="Window from each image's percentiles")
        self.clahe_action = QAction("CLAHE", self, checkable=True, toolTip="Contrast-equalised view (CLAHE)")

        self.addAction(self.fit_action)
        self.addAction(self.actual_size_action)
        self.addWidget(self.zoom_label)
        self.addSeparator()
        self.addAction(self.overlay_action)
        self.addWidget(QLabel(" Opacity "))
        self.addWidget(self.opacity)
        self.addSeparator()
        self.addAction(self.prediction_action)
        self.addWidget(self.prediction_style)
        self.addWidget(self.prediction_opacity)
        self.addSeparator()
        self.addWidget(QLabel(" Window "))
        self.addWidget(self.window_low)
        self.addWidget(self.window_high)
        self.addWidget(self.histogram)
        self.addAction(self.auto_window_action)
        self.addAction(self.clahe_action)

        self.fit_action.triggered.connect(view.fit_to_window)
        self.actual_size_action.triggered.connect(view.actual_size)
        self.overlay_action.toggled.connect(view.set_overlay_visible)
        self.prediction_action.toggled.connect(view.set_prediction_visible)
        self.opacity.valueChanged.connect(lambda value: view.set_overlay_opacity(value / 100))
        self.prediction_style.currentIndexChanged.connect(
            lambda _index: view.set_prediction_style(self.prediction_style.currentData()))
        self.prediction_opacity.valueChanged.connect(lambda value: view.set_prediction_opacity(value / 100))
        self.window_low.valueChanged.connect(self._window_edited)
        self.window_high.valueChanged.connect(self._window_edited)
        self.auto_window_action.triggered.connect(view.auto_display_window)
        self.clahe_action.toggled.connect(view.set_clahe)
        view.window_changed.connect(self._show_window)
        view.window_changed.connect(self.histogram.set_window)
        view.histogram_changed.connect(self.histogram.set_histogram)
        view.zoom_changed.connect(lambda scale: self.zoom_label.setText(f" {scale * 100:.0f} % "))

    def _window_edited(self) -> None:
        self._view.set_display_window(self.window_low.value(), self.window_high.value())

    def _show_window(self, window: Window) -> None:
        for box, value in zip((self.window_low, self.window_high), window, strict=True):
            box.blockSignals(True)  # showing the image's window is not the user editing it
            box.setValue(round(value))
            box.blockSignals(False)
