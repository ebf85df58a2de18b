"""The measurements dock: the stored predictions of an acquisition measured, plotted per frame, a click opens one."""

from __future__ import annotations

import csv

import numpy as np
import tifffile

from app.panels.measurements_panel import MeasurementsPanel
from segcore.data.classes import ClassTable
from segcore.project.store import ProjectStore


def _project(tmp_path):
    frames = 10
    tifffile.imwrite(tmp_path / "acq.tif", np.zeros((frames, 40, 50), np.uint8), photometric="minisblack")
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "sample"])) as store:
        store.add_sequence(tmp_path / "acq.tif")
        for record in store.images():
            labels = np.zeros((40, 50), np.uint8)
            side = 30 if record.frame == 6 else 10  # frame 6 jumps: nine times the area of its neighbours
            labels[5:5 + side, 2 * record.frame:2 * record.frame + side] = 1
            store.save_prediction(record.id, labels, checkpoint="m.pt", quality=0.4 if record.frame == 3 else 0.95)
    return tmp_path / "p"


def test_measure_plots_each_frame_flags_the_bad_ones_and_a_click_opens_the_frame(qtbot, state, tmp_path, monkeypatch):
    state.open(_project(tmp_path))
    panel = MeasurementsPanel(state)
    qtbot.addWidget(panel)
    state.select(state.find("acq_0004").id)
    with qtbot.waitSignal(panel.measured, timeout=30_000) as measured:
        panel.measure_action.trigger()
    assert measured.args == [10]
    assert panel.point_names() == [f"acq_{i:04d}" for i in range(10)]
    flags = {m.frame: m.flag for m in panel.measurements}
    assert flags["acq_0003"] == "check" and "jump" in flags["acq_0006"] and flags["acq_0000"] == ""
    red = [p.data() for p in panel.points.points() if p.brush().color().red() > 200]
    assert sorted(red) == ["acq_0003", "acq_0006"]
    panel.column_box.setCurrentText("centroid_x")
    xs = sorted(p.pos().y() for p in panel.points.points())
    assert xs[0] < xs[-1]  # the sample drifts right, frame by frame
    point = next(p for p in panel.points.points() if p.data() == "acq_0006")
    panel.points.sigClicked.emit(panel.points, [point], None)
    assert state.record(state.current_id).name == "acq_0006"
    monkeypatch.setattr("app.panels.measurements_panel.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "m.csv"), ""))
    panel.save_button.click()
    rows = list(csv.DictReader(open(tmp_path / "m.csv", encoding="utf-8")))
    assert [r["frame"] for r in rows] == [f"acq_{i:04d}" for i in range(10)] and rows[6]["flag"] == "jump"
