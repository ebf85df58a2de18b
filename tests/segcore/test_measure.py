"""Measurements of predicted regions (`segcore predict --measure`) against shapes and fringes drawn with known values."""

from __future__ import annotations

import csv
import math

import cv2
import numpy as np
import pytest
from synthetic import square_frame

from segcore.inference.measure import (
    CHECK,
    COLUMNS,
    JUMP,
    RegionShape,
    flag_jumps,
    jumps,
    measure_frame,
    write_measurements,
)

NAMES = ["background", "sample", "dust"]


def _ellipse(angle_on_screen: float) -> np.ndarray:
    """Labels: class 1 an ellipse of semi-axes 60 and 25 px centred at (150, 110), turned counterclockwise as shown."""
    labels = np.zeros((240, 320), np.uint8)
    cv2.ellipse(labels, (150, 110), (60, 25), -angle_on_screen, 0, 360, 1, -1)  # OpenCV turns clockwise as shown
    return labels


@pytest.mark.parametrize("angle", [0.0, 30.0, -55.0, 90.0])
def test_area_centroid_box_diameter_and_orientation_of_an_ellipse(angle):
    labels = _ellipse(angle)
    image = np.where(labels == 1, 200, 40).astype(np.uint8)
    [m] = measure_frame("f.png", labels, image, NAMES)
    assert m.class_name == "sample" and m.area_px == int(labels.sum())
    assert abs(m.area_px - math.pi * 60 * 25) < 0.04 * math.pi * 60 * 25  # OpenCV draws the rim pixels in
    assert (abs(m.centroid_x - 150) < 0.5) and (abs(m.centroid_y - 110) < 0.5)
    x, y, w, h = m.bbox
    assert labels[y:y + h, x:x + w].sum() == labels.sum() and labels[y, x:x + w].any() and labels[y + h - 1].any()
    assert abs(m.equivalent_diameter_px - 2 * math.sqrt(m.area_px / math.pi)) < 1e-9
    assert abs((m.orientation_deg - angle + 90) % 180 - 90) < 1.0  # an axis: 90 and -90 are one
    assert m.mean_intensity == 200.0


@pytest.mark.parametrize(("period", "angle"), [(12.0, 0.0), (20.0, 35.0), (9.0, -60.0)])
def test_the_fringe_period_and_direction_under_the_region(period, angle):
    # Fringes whose wave vector points at `angle` counterclockwise as shown run at angle + 90, inside a disc only.
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float64)
    theta = math.radians(angle)
    wave = np.cos(2 * math.pi * (xx * math.cos(theta) - yy * math.sin(theta)) / period)  # y down: -sin
    labels = (np.hypot(yy - 120, xx - 130) < 70).astype(np.uint8)
    rng = np.random.default_rng(0)
    image = np.clip(120 + 60 * wave * labels + rng.normal(0, 3, labels.shape), 0, 255).astype(np.uint8)
    [m] = measure_frame("f.png", labels, image, NAMES)
    assert abs(m.fringe_period_px - period) < 0.06 * period
    assert abs((m.fringe_orientation_deg - (angle + 90) + 90) % 180 - 90) < 4.0


def test_each_class_present_gets_a_row_the_background_none_and_a_bad_estimate_is_flagged(tmp_path):
    labels = np.zeros((64, 64), np.uint8)
    labels[10:30, 10:40] = 1
    labels[50:54, 50:60] = 2
    labels[0, :] = 255  # ignore
    image = np.dstack([np.full((64, 64), v, np.uint8) for v in (10, 20, 30)])  # colour frames: the mean of channels
    rows = measure_frame("a.png", labels, image, NAMES, quality=0.42)
    assert [(m.class_name, m.area_px, m.flag) for m in rows] == [("sample", 600, CHECK), ("dust", 40, CHECK)]
    assert rows[0].mean_intensity == 20.0 and rows[0].fringe_period_px is None  # no fringe analysis of colour frames
    assert measure_frame("b.png", labels, image, NAMES, quality=0.95)[0].flag == ""
    assert [m.is_region for m in measure_frame("c.png", np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8),
                                                NAMES)] == [False]  # nothing found: one row saying so
    with pytest.raises(ValueError, match="differ in size"):
        measure_frame("d.png", labels, image[:32], NAMES)

    path = write_measurements(tmp_path / "measurements.csv", rows, pixel_size=2.5, unit="um")
    with path.open() as f:
        table = list(csv.DictReader(f))
    assert list(table[0])[:len(COLUMNS)] == list(COLUMNS)
    assert table[0]["area_um2"] == str(600 * 2.5**2) and float(table[0]["centroid_x_um"]) == 2.5 * 24.5
    assert table[1]["flag"] == CHECK and table[1]["fringe_period_px"] == ""
    assert list(csv.DictReader(write_measurements(tmp_path / "px.csv", rows).open()))[0].keys() == set(COLUMNS)


def test_a_frame_whose_region_jumps_against_its_neighbours_is_flagged_and_the_drift_is_not():
    # A sample drifting 2 px and growing 1 % a frame; frame 4's mask doubles, frame 7's jumps 30 px aside.
    rows = []
    for i in range(10):
        labels = np.zeros((200, 300), np.uint8)
        radius = 30 * (1.005**i) * (math.sqrt(2) if i == 4 else 1)
        cv2.circle(labels, (80 + 2 * i + (30 if i == 7 else 0), 100), round(radius), 1, -1)
        rows += measure_frame(f"f{i:02d}.png", labels, labels, NAMES, quality=0.9)
    flagged = flag_jumps(rows)
    assert [m.frame for m in flagged if m.jump] == ["f04.png", "f07.png"]
    assert [m.flag for m in flagged][3:8] == ["", JUMP, "", "", JUMP]
    assert flag_jumps(rows[:1]) == rows[:1]  # one frame: nothing to compare with
    assert replace_quality(flagged[4], 0.5).flag == f"{CHECK} {JUMP}"


def test_a_jump_beside_the_first_frame_flags_that_frame_only():
    """Frame 1 jumps; frame 0, whose two neighbours' median the jump pulls, is judged again without it."""
    shapes = [RegionShape("sample", 1200 if i == 1 else 300, 50.0 + i, 50.0, 20.0) for i in range(7)]
    assert jumps(shapes) == {1}
    assert jumps(shapes[::-1]) == {5}


def replace_quality(measurement, quality):
    from dataclasses import replace

    return replace(measurement, estimated_quality=quality)


def test_predict_cli_measures_every_frame_with_its_estimate(squares_checkpoint, tmp_path, capsys):
    from segcore.cli import main
    from segcore.io.images import write_image
    from segcore.training import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    rng = np.random.default_rng(11)
    truths = {}
    for name in ("a.png", "b.png"):
        image, truths[name] = square_frame(rng, 48)
        write_image(tmp_path / "seq" / name, image)
    base = ["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "seq"), "--whole",
            "--workers", "0"]
    assert main([*base, "--out", str(tmp_path / "out"), "--measure", "--pixel-size", "0.5"]) == 0  # unrelated images
    assert "measured 2 regions in" in capsys.readouterr().out
    with (tmp_path / "out" / "measurements.csv").open() as f:
        table = {row["frame"]: row for row in csv.DictReader(f)}
    for name, truth in truths.items():
        ys, xs = np.nonzero(truth)
        assert abs(int(table[name]["area_px"]) - truth.sum()) <= 0.1 * truth.sum()  # the network's square
        assert abs(float(table[name]["centroid_x"]) - xs.mean()) < 1.5 and abs(float(table[name]["centroid_y"]) - ys.mean()) < 1.5
        assert float(table[name]["estimated_quality"]) > 0.8 and table[name]["flag"] == ""
        assert float(table[name]["area_um2"]) == int(table[name]["area_px"]) * 0.25
    assert main([*base, "--out", str(tmp_path / "out2"), "--pixel-size", "0.5"]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "out2").exists()
    # Frames of one acquisition (--sequence): the square moving from one frame to the next is a jump in both.
    assert main([*base, "--out", str(tmp_path / "out3"), "--measure", "--sequence"]) == 0
    with (tmp_path / "out3" / "measurements.csv").open() as f:
        assert [row["flag"] for row in csv.DictReader(f)] == [JUMP, JUMP]
    # A frame where the network finds nothing still has its row: area 0, flagged, its other sizes empty.
    write_image(tmp_path / "seq" / "c.png", (rng.random((48, 48)) * 60).astype(np.uint8))  # noise, no square
    assert main([*base, "--out", str(tmp_path / "out4"), "--measure"]) == 0
    assert "measured 2 regions in" in capsys.readouterr().out.replace("; nothing found in 1 image(s)", "")
    with (tmp_path / "out4" / "measurements.csv").open() as f:
        blank = {row["frame"]: row for row in csv.DictReader(f)}["c.png"]
    assert (blank["class"], blank["area_px"], blank["centroid_x"], blank["bbox_w"]) == ("", "0", "", "")
    assert blank["flag"] == CHECK and float(blank["estimated_quality"]) == 0.0


def test_a_frame_with_nothing_found_is_a_flagged_row_not_a_gap():
    [row] = measure_frame("empty.png", np.zeros((40, 50), np.uint8), np.zeros((40, 50), np.uint8), NAMES)
    assert not row.is_region and row.area_px == 0 and row.flag == CHECK  # no estimate given: flagged all the same
    assert row.row()["bbox_x"] is None and row.row(pixel_size=2.0)["centroid_x_um"] is None
    sample = measure_frame("f.png", _ellipse(0.0), _ellipse(0.0), NAMES)[0]
    assert flag_jumps([sample, row, sample]) == [sample, row, sample]  # compared with nothing: no jump to find
