"""A small histogram of the shown image's values with its display window marked, beside the window numbers."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from segcore.display import Window

BAR_COLOR = QColor(150, 150, 150)
WINDOW_COLOR = QColor(255, 200, 0)


class WindowHistogram(QWidget):
    """Log-scaled counts over the image's own value range; the (low, high) window drawn as two lines and a band."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("The image's values (log counts) and the display window")
        self.counts = np.zeros(0)
        self.value_range: Window = (0.0, 1.0)
        self.window: Window | None = None

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(120, 24)

    def set_histogram(self, histogram: tuple[np.ndarray, Window]) -> None:
        self.counts, self.value_range = np.asarray(histogram[0], float), histogram[1]
        self.update()

    def set_window(self, window: Window) -> None:
        self.window = window
        self.update()

    def window_span(self) -> tuple[float, float] | None:
        """Where the window's ends fall across the widget, as fractions of its width (None: no window yet)."""
        if self.window is None:
            return None
        low, high = self.value_range
        return tuple(float(np.clip((v - low) / (high - low), 0.0, 1.0)) for v in self.window)  # type: ignore[return-value]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        width, height = self.width(), self.height()
        painter.fillRect(self.rect(), QColor(40, 40, 40))
        if self.counts.size:
            heights = np.log1p(self.counts)
            heights = heights / max(heights.max(), 1e-9) * (height - 2)
            step = width / self.counts.size
            for i, bar in enumerate(heights):
                painter.fillRect(QRectF(i * step, height - bar, max(step - 0.5, 0.5), bar), BAR_COLOR)
        span = self.window_span()
        if span is not None:
            left, right = span[0] * width, span[1] * width
            band = QColor(WINDOW_COLOR)
            band.setAlpha(50)
            painter.fillRect(QRectF(left, 0, max(right - left, 1.0), height), band)
            painter.setPen(WINDOW_COLOR)
            painter.drawLine(round(left), 0, round(left), height)
            painter.drawLine(round(right), 0, round(right), height)
        painter.end()
