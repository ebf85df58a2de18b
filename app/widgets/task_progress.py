"""A status-bar progress line for long background work: what runs, done / total, a bar and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

BAR_WIDTH = 160


class TaskProgress(QWidget):
    """Hidden until `begin`; shows progress from the first moment (0 of N), so a slow first step never looks idle."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar(maximumWidth=BAR_WIDTH, textVisible=False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)  # not a status-bar-wide bar
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._what = ""
        self.cancel_button.clicked.connect(self._cancel)
        self.hide()

    def begin(self, what: str, total: int) -> None:
        """Start showing `what` ('Predicting'), 0 of `total`."""
        self._what = what
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.advance(0, total)
        self.show()

    def advance(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.label.setText(f"{self._what}: {done} / {total} images")

    def end(self) -> None:
        self.hide()

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Stopping…")
        self.cancel_requested.emit()
