"""A SIGKILLed app loses at most the stroke in progress: every finished stroke is in the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from segcore.data.classes import ClassTable
from segcore.project.store import ImageStatus, ProjectStore

ROOT = Path(__file__).resolve().parents[2]
STROKES = 4


def test_killed_app_keeps_every_finished_stroke(tmp_path):
    root = tmp_path / "proj"
    with ProjectStore.create(root, ClassTable.from_names(["background", "cell"])) as store:
        image_id = store.add_image_array("frame", np.zeros((40, 48), np.uint8)).id
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "app" / "kill_child.py"), str(root), str(STROKES)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"},
    )
    try:
        lines = []
        while (line := proc.stdout.readline().strip()) and line != "in-progress":
            lines.append(line)
        assert line == "in-progress", f"the child stopped early after {lines}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert lines == [f"stroke {i}" for i in range(1, STROKES + 1)]

    with ProjectStore.open(root) as store:
        assert store.integrity_check() == []
        mask = store.load_mask(image_id)
        assert store.image(image_id).status is ImageStatus.LABELLED
    for i in range(STROKES):  # each finished stroke: a 3 px band along its row from x=4 to x=40
        y = 4 + 6 * i
        assert (mask[y - 1 : y + 2, 4:41] == 1).all(), f"stroke {i + 1} was lost"
    in_progress = 4 + 6 * STROKES
    assert (mask[in_progress - 1 : in_progress + 2] == 0).all()  # the unfinished stroke is gone, nothing else
    assert mask.sum() == STROKES * 3 * (41 - 4 + 2)  # round caps reach one pixel beyond each end
