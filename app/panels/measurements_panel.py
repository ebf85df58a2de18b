"""The measurements dock: what the predictions measure, frame by frame, as a plot; a click opens the frame.

*Measure* measures the stored predictions (of the current image's acquisition, or of every predicted image
when it is not a frame) in the background (`segcore.project.measure`); the plot shows the chosen column
against the frame, flagged frames (estimated bad, or jumping against their neighbours) in red; *Save CSV…*
writes `measurements.csv` as `segcore predict --measure` does.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.state.project_state import NO_IMAGE, ProjectState
from app.workers import Worker
from segcore.inference.measure import COLUMNS, Measurement, write_measurements
from segcore.project.measure import MeasureProgress, iter_measure_project

PLOTTED = tuple(c for c in COLUMNS if c not in ("frame", "class", "flag"))
"""The numeric columns the plot can show."""
FLAGGED, PLAIN = (220, 30, 30), (40, 90, 200)


class MeasurementsPanel(QDockWidget):
    """Subscribes to the project state; holds the last measurements until the project closes."""

    measured = Signal(int)
    """A measuring ended (done, or failed: then nothing new is shown); carries the number of regions shown."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__("Measurements", parent)
        self.setObjectName("measurements_panel")
        self._state = state
        self._worker: Worker | None = None
        self.measurements: list[Measurement] = []
        self._ids: dict[str, int] = {}
        self._x: dict[str, int] = {}
        self._frames: dict[str, int | None] = {}

        self.measure_action = QAction("&Measure predictions", self)
        self.measure_action.setToolTip("Measure the predicted frames of this acquisition (or every predicted image): "
                                       "area, centroid, size, orientation, fringe period, estimated IoU")
        self.measure_action.triggered.connect(self.measure)
        measure_button = QPushButton("Measure", self)
        measure_button.clicked.connect(self.measure_action.trigger)
        self.column_box = QComboBox(self)
        self.column_box.addItems(PLOTTED)
        self.column_box.currentTextChanged.connect(self._draw)
        self.save_button = QPushButton("Save CSV…", self)
        self.save_button.clicked.connect(self._ask_save)
        self.summary = QLabel("Predict frames, then Measure.", self)
        self.summary.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setLabel("bottom", "frame")
        self.plot.setMinimumHeight(160)
        self.points = pg.ScatterPlotItem(size=7, hoverable=True)
        self.points.sigClicked.connect(self._clicked)
        self.line = self.plot.plot(pen=pg.mkPen((150, 170, 220), width=1))
        self.plot.addItem(self.points)

        bar = QHBoxLayout()
        bar.addWidget(measure_button)
        bar.addWidget(self.column_box, 1)
        bar.addWidget(self.save_button)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot, 1)
        self.setWidget(body)

        state.project_opened.connect(self._clear)
        state.project_closed.connect(self._clear)
        self._clear()

    def _clear(self) -> None:
        self.measurements, self._ids, self._frames, self._x = [], {}, {}, {}
        self.summary.setText("Predict frames, then Measure.")
        self._update_enabled()
        self._draw()

    def _update_enabled(self) -> None:
        idle = self._worker is None
        self.measure_action.setEnabled(self._state.is_open and idle)
        self.save_button.setEnabled(bool(self.measurements) and idle)

    # -- measuring -----------------------------------------------------------------------------------
    def measure(self) -> Worker | None:
        """Measure in the background the predicted frames of the current acquisition (or every predicted image)."""
        if not self._state.is_open or self._worker is not None:
            return None
        self.show()
        self.raise_()
        predicted = self._state.store.prediction_qualities()  # the images with a stored prediction
        records = [r for r in self._state.images if r.id in predicted]
        current = None if self._state.current_id == NO_IMAGE else self._state.record(self._state.current_id)
        if current is not None and current.sequence_id is not None:
            records = [r for r in records if r.sequence_id == current.sequence_id]
        self._ids = {r.name: r.id for r in records}
        self._frames = {r.name: r.frame for r in records}
        worker = Worker(iter_measure_project, self._state.store, [r.id for r in records])
        worker.yielded.connect(self._progress)
        worker.returned.connect(self._show)
        worker.finished.connect(self._finished)
        self._worker = worker
        self.summary.setText(f"Measuring {len(records)} predicted image(s)…")
        self._update_enabled()
        return worker.start()

    def _progress(self, progress: MeasureProgress) -> None:
        self.summary.setText(f"Measuring {progress.name} ({progress.done}/{progress.total})…")

    def _show(self, measurements: list[Measurement]) -> None:
        self.measurements = measurements
        order = list(dict.fromkeys(m.frame for m in measurements))
        # Frames by their frame number, other images in the order measured (dict lookups: thousands of frames).
        self._x = {name: k if self._frames.get(name) is None else self._frames[name] for k, name in enumerate(order)}
        flagged = sorted({m.frame for m in measurements if m.flag})
        regions = sum(m.is_region for m in measurements)
        self.summary.setText(f"{regions} region(s) in {len(order)} image(s); {len(flagged)} flagged (red: estimated "
                             "bad, nothing found, or jumping against their neighbours). Click a point to open it.")
        self._draw()

    def _finished(self) -> None:
        self._worker = None
        self._update_enabled()
        self.measured.emit(len(self.measurements))

    # -- the plot ------------------------------------------------------------------------------------
    def _draw(self) -> None:
        column = self.column_box.currentText()
        self.plot.setLabel("left", column)
        rows = [(self._x[m.frame], _value(m, column), m) for m in self.measurements if m.frame in self._x]
        rows = [(x, y, m) for x, y, m in rows if y is not None and math.isfinite(y)]
        rows.sort(key=lambda row: row[0])
        self.points.setData([{"pos": (x, y), "data": m.frame, "brush": pg.mkBrush(FLAGGED if m.flag else PLAIN)}
                             for x, y, m in rows])
        self.line.setData(np.array([r[0] for r in rows], float), np.array([r[1] for r in rows], float))

    def point_names(self) -> list[str]:
        """The frames the plot shows, left to right (for tests and for the status bar)."""
        return [point.data() for point in sorted(self.points.points(), key=lambda p: p.pos().x())]

    def open_frame(self, name: str) -> None:
        """Make the frame `name` the current image (what clicking its point does)."""
        if name in self._ids:
            self._state.select(self._ids[name])

    def _clicked(self, _item: pg.ScatterPlotItem, points: list, _event: object = None) -> None:
        if len(points):
            self.open_frame(points[0].data())

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the measurements", "measurements.csv", "CSV (*.csv)")
        if path:
            write_measurements(Path(path), self.measurements)
            self.summary.setText(f"Saved {len(self.measurements)} region(s) to {path}.")


def _value(measurement: Measurement, column: str) -> float | None:
    row = measurement.row()
    value = row.get(column)
    return None if value is None or value == "" else float(value)

