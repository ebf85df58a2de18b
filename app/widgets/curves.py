"""Training curves: loss per batch (raw and smoothed) and validation mIoU per epoch, drawn with pyqtgraph."""

from __future__ import annotations

from collections.abc import Mapping

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

SMOOTHING = 0.1
"""Weight of the newest batch in the exponential moving average of the loss."""
REDRAW_MS = 150
MIN_PLOT_HEIGHT = 80
MIN_HEIGHT = 220
"""Legend and two plots that can be read: the train dock gives the curves at least this."""
"""Curves redraw at most this often: a fast run's batches must not keep the event loop busy."""


class TrainingCurves(QWidget):
    """Two linked-x plots over (fractional) epochs: loss above, validation mIoU below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._batches: list[tuple[float, float]] = []
        self._smoothed: list[tuple[float, float]] = []
        self._ema: float | None = None
        self._epochs: dict[int, Mapping[str, float | None]] = {}

        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.view.setMinimumHeight(MIN_HEIGHT)
        # The legend gets a row of its own above the plots: inside a plot it hid the curves' start.
        self.legend = pg.LegendItem(colCount=3, labelTextColor=(60, 60, 60))
        self.view.addItem(self.legend, row=0, col=0)
        # Axis labels instead of titles: a title row costs a dock's worth of plot height.
        self.loss_plot = self.view.addPlot(row=1, col=0)
        self.miou_plot = self.view.addPlot(row=2, col=0)
        for plot, name in ((self.loss_plot, "loss"), (self.miou_plot, "val mIoU")):
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setLabel("left", name)
            plot.setMinimumHeight(MIN_PLOT_HEIGHT)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).enableAutoSIPrefix(False)  # "epoch (x0.001)" on an empty plot reads as a bug
        self.loss_plot.getAxis("bottom").setStyle(showValues=False)
        self.miou_plot.setLabel("bottom", "epoch")
        self.miou_plot.setXLink(self.loss_plot)
        self.miou_plot.setYRange(0, 1)
        self._raw_line = self.loss_plot.plot(pen=pg.mkPen((150, 150, 220), width=1), name="batch loss")
        self._smooth_line = self.loss_plot.plot(pen=pg.mkPen((30, 60, 200), width=2), name="smoothed")
        self._val_loss_line = self.loss_plot.plot(
            pen=pg.mkPen((220, 120, 0), width=2), symbol="o", symbolSize=5, name="validation loss"
        )
        for line in (self._raw_line, self._smooth_line, self._val_loss_line):
            self.legend.addItem(line, line.name())
        self._miou_line = self.miou_plot.plot(pen=pg.mkPen((0, 150, 60), width=2), symbol="o", symbolSize=5)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)

    # -- data ------------------------------------------------------------------------------------------
    @property
    def batch_losses(self) -> list[tuple[float, float]]:
        """(fractional epoch, loss) of every batch shown."""
        return list(self._batches)

    @property
    def smoothed_losses(self) -> list[tuple[float, float]]:
        return list(self._smoothed)

    @property
    def mious(self) -> list[tuple[int, float]]:
        """(epoch, validation mIoU) of every epoch that had a validation."""
        return [(e, m["val_miou"]) for e, m in sorted(self._epochs.items()) if m.get("val_miou") is not None]

    def clear(self) -> None:
        self._batches.clear()
        self._smoothed.clear()
        self._ema = None
        self._epochs.clear()
        self._redraw()

    def add_batch(self, position: float, loss: float) -> None:
        """One batch's loss at `position` (epochs, fractional: epoch 3, batch 2 of 4 -> 2.5)."""
        self._ema = loss if self._ema is None else SMOOTHING * loss + (1 - SMOOTHING) * self._ema
        self._batches.append((position, loss))
        self._smoothed.append((position, self._ema))
        self._schedule()

    def add_epoch(self, epoch: int, values: Mapping[str, float | None]) -> None:
        """An epoch's metrics (keys as in the store: train_loss, val_loss, val_miou)."""
        self._epochs[epoch] = dict(values)
        self._schedule()

    def show_history(self, metrics: Mapping[int, Mapping[str, float]]) -> None:
        """A finished run's curves from its per-epoch metrics: the epochs' train loss stands in for batches."""
        self.clear()
        for epoch, values in sorted(metrics.items()):
            if "train_loss" in values:
                self._batches.append((float(epoch), values["train_loss"]))
            self._epochs[epoch] = dict(values)
        self._redraw()

    # -- drawing ---------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _redraw(self) -> None:
        self._redraw_timer.stop()
        _set(self._raw_line, self._batches)
        _set(self._smooth_line, self._smoothed)
        val_loss = [(e, m["val_loss"]) for e, m in sorted(self._epochs.items()) if m.get("val_loss") is not None]
        _set(self._val_loss_line, val_loss)
        _set(self._miou_line, self.mious)


def _set(line: pg.PlotDataItem, points: list[tuple[float, float]]) -> None:
    line.setData([p[0] for p in points], [p[1] for p in points])
