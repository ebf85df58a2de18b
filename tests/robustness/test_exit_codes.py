"""One exit-code convention for every command (issue 27, item 18: runtime errors exited 2 like usage errors).

0 done, 1 failed (one line says why), 2 a usage error, 3 done with inputs skipped and named.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from segcore.io.images import write_image

REPO = Path(__file__).resolve().parents[2]


def segcore(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "segcore", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def error_lines(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in run.stderr.splitlines() if "error:" in line]


def test_a_runtime_failure_is_not_a_usage_error(tmp_path):
    missing = segcore("project", "info", str(tmp_path / "no-such-project"), cwd=tmp_path)
    assert missing.returncode == 1, missing.stderr
    assert len(error_lines(missing)) == 1 and "usage:" not in missing.stderr

    usage = segcore("predict", "--checkpoint", "c.pt", "--input", "in", "--out", "out", "--tile", "0", cwd=tmp_path)
    assert usage.returncode == 2 and "usage:" in usage.stderr  # argparse's own


def test_options_that_cannot_go_together_are_a_usage_error(tmp_path):
    run = segcore("train", "--data", str(tmp_path), "--format", "folder", cwd=tmp_path)  # no --out for a dataset
    assert run.returncode == 2, run.stderr
    assert error_lines(run) == ["segcore train: error: --out RUN_DIR is needed (only --format project has a default)"]


def test_an_import_that_skips_a_file_says_so_in_its_exit_code(tmp_path):
    (tmp_path / "labels.txt").write_text("background\nsample\n")
    created = segcore("project", "create", str(tmp_path / "p"), "--labels", str(tmp_path / "labels.txt"), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    frames = tmp_path / "frames"
    frames.mkdir()
    write_image(frames / "good.png", np.full((16, 16), 100, np.uint8))
    (frames / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    run = segcore("project", "add-images", str(tmp_path / "p"), str(frames), cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "added 1 of 2" in run.stdout and "skipped broken.png" in run.stdout and error_lines(run) == []
