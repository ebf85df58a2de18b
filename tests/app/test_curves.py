"""The training curves widget: what it plots, and a legend that never hides a curve."""

from __future__ import annotations

from app.widgets.curves import TrainingCurves


def test_the_legend_sits_outside_the_plotted_area(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(360, 220)  # as small as the train dock makes it
    curves.show()
    qtbot.waitExposed(curves)
    for batch in range(40):
        curves.add_batch(batch / 10, 2.0 / (1 + batch))
    curves.add_epoch(1, {"train_loss": 1.0, "val_loss": 0.9, "val_miou": 0.4})
    curves._redraw()
    legend = curves.legend.sceneBoundingRect()
    assert [label.text for _sample, label in curves.legend.items] == ["batch loss", "smoothed", "validation loss"]
    for plot in (curves.loss_plot, curves.miou_plot):
        area = plot.getViewBox().sceneBoundingRect()
        assert not legend.intersects(area)
        assert area.height() >= 40  # a plot one can read, not a line
    assert curves.batch_losses[0] == (0.0, 2.0) and curves.mious == [(1, 0.4)]
