"""The canvas toolbar: fit, 1:1, overlay on/off and overlay opacity."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider, QToolBar, QWidget

from app.canvas.image_view import ImageView


class ViewToolBar(QToolBar):
    """Controls of an `ImageView`'s zoom and overlay."""

    def __init__(self, view: ImageView, parent: QWidget | None = None) -> None:
        super().__init__("View", parent)
        self.setObjectName("ViewToolBar")
        self.fit_action = QAction("Fit", self, shortcut=QKeySequence(Qt.Key.Key_F), toolTip="Fit to window (F)")
        self.actual_size_action = QAction("1:1", self, shortcut=QKeySequence(Qt.Key.Key_1), toolTip="Actual size (1)")
        self.overlay_action = QAction("Labels", self, shortcut=QKeySequence(Qt.Key.Key_O), checkable=True, checked=True)
        self.overlay_action.setToolTip("Show the label overlay (O)")
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, maximumWidth=140)
        self.opacity.setValue(round(view.overlay_opacity() * 100))
        self.opacity.setToolTip("Label overlay opacity")

        self.addAction(self.fit_action)
        self.addAction(self.actual_size_action)
        self.addSeparator()
        self.addAction(self.overlay_action)
        self.addWidget(QLabel(" Opacity "))
        self.addWidget(self.opacity)

        self.fit_action.triggered.connect(view.fit_to_window)
        self.actual_size_action.triggered.connect(view.actual_size)
        self.overlay_action.toggled.connect(view.set_overlay_visible)
        self.opacity.valueChanged.connect(lambda value: view.set_overlay_opacity(value / 100))
