"""`segcore predict --input STACK`: every frame of a TIFF stack or a video, measured, and resumed after a kill."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from segcore.cli import main
from segcore.cli.exit_codes import ExitCode
from segcore.inference.journal import JOURNAL_NAME
from segcore.training import save_checkpoint
from tests.segcore.synthetic import squares_scene

REPO = Path(__file__).resolve().parents[2]


def _stack(path, frames: int, size=(64, 56)) -> np.ndarray:
    stack = np.stack([squares_scene(*size, seed=i)[0] for i in range(frames)])
    tifffile.imwrite(path, stack, photometric="minisblack")
    return stack


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_tiff_stack_is_predicted_frame_by_frame_and_measured_in_frame_order(squares_checkpoint, tmp_path, capsys):
    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    _stack(tmp_path / "acq.tif", 5)
    rc = main(["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "acq.tif"),
               "--out", str(tmp_path / "out"), "--whole", "--workers", "0", "--measure", "--export", "palette,overlay"])
    assert rc == ExitCode.DONE
    names = [f"acq_{i:04d}" for i in range(5)]
    assert sorted(p.stem for p in (tmp_path / "out" / "palette").iterdir()) == names
    assert sorted(p.stem for p in (tmp_path / "out" / "overlay").iterdir()) == names
    rows = _rows(tmp_path / "out" / "measurements.csv")
    assert [row["frame"] for row in rows] == names and all(int(row["area_px"]) > 0 for row in rows)
    assert not (tmp_path / "out" / JOURNAL_NAME).exists()  # finished: nothing left to resume
    assert "predicted 5 of 5 images" in capsys.readouterr().out


def test_a_video_is_predicted_frame_by_frame(squares_checkpoint, tmp_path):
    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    writer = cv2.VideoWriter(str(tmp_path / "acq.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (56, 64))
    for i in range(4):
        writer.write(cv2.cvtColor(squares_scene(64, 56, seed=i)[0], cv2.COLOR_GRAY2BGR))
    writer.release()
    rc = main(["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "acq.avi"),
               "--out", str(tmp_path / "out"), "--whole", "--workers", "0", "--no-uncertainty"])
    assert rc == ExitCode.DONE
    assert sorted(p.name for p in (tmp_path / "out" / "palette").iterdir()) == [f"acq_{i:04d}.png" for i in range(4)]


def test_labelme_export_of_a_stack_is_refused_before_predicting(squares_checkpoint, tmp_path, capsys):
    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    _stack(tmp_path / "acq.tif", 2)
    rc = main(["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "acq.tif"),
               "--out", str(tmp_path / "out"), "--export", "labelme"])
    assert rc == ExitCode.USAGE and "a frame of a stack or video has none" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX-only")
def test_a_killed_sequence_predict_resumes_without_predicting_a_frame_twice(squares_checkpoint, tmp_path, capsys):
    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    frames = 100
    _stack(tmp_path / "acq.tif", frames, size=(48, 48))
    out = tmp_path / "out"
    argv = ["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "acq.tif"),
            "--out", str(out), "--whole", "--workers", "0", "--measure"]
    proc = subprocess.Popen([sys.executable, "-m", "segcore", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, )
    journal = out / JOURNAL_NAME
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file() and journal.read_text().count("\n") > 10:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = [line for line in journal.read_text().splitlines() if '"name"' in line]
    assert 10 <= len(finished) < frames, "the run must be killed part-way"
    first_run = {p.name: p.stat().st_mtime_ns for p in (out / "palette").iterdir()}

    assert main(argv) == ExitCode.DONE
    assert f"resuming: {len(finished)} of {frames} frames" in capsys.readouterr().out
    for i in range(len(finished)):  # the frames the first run finished were not predicted again
        name = f"acq_{i:04d}.png"
        assert (out / "palette" / name).stat().st_mtime_ns == first_run[name], name
    rows = _rows(out / "measurements.csv")
    assert [row["frame"] for row in rows] == [f"acq_{i:04d}" for i in range(frames)]  # complete, in frame order
    assert not journal.exists()


def test_the_masks_of_a_stack_come_out_as_one_tiff_in_frame_order_and_an_overlay_video(squares_checkpoint, tmp_path):
    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    _stack(tmp_path / "acq.tif", 6)
    rc = main(["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "acq.tif"),
               "--out", str(tmp_path / "out"), "--whole", "--workers", "0", "--no-uncertainty",
               "--export", "color,tiff-stack,overlay-video"])
    assert rc == ExitCode.DONE
    labels = tifffile.imread(tmp_path / "out" / "labels.tif")
    assert labels.shape == (6, 64, 56) and labels.dtype == np.uint8 and set(np.unique(labels)) <= {0, 1}
    from segcore.io.images import read_image

    for i in (0, 5):  # page i is frame i: the colour mask of frame i shows the same classes
        assert np.array_equal(labels[i] == 1, read_image(tmp_path / "out" / "color" / f"acq_{i:04d}.png")[..., 0] > 0)
    video = cv2.VideoCapture(str(tmp_path / "out" / "overlay.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    video.release()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["color", "labels.tif", "overlay.mp4"]


def test_two_processes_under_torchrun_write_what_one_process_writes(squares_checkpoint, tmp_path):
    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    _stack(tmp_path / "acq.tif", 9)
    argv = ["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "acq.tif"), "--whole",
            "--workers", "0", "--device", "cpu", "--precision", "fp32", "--measure", "--export", "palette,tiff-stack"]
    assert main([*argv, "--out", str(tmp_path / "one")]) == ExitCode.DONE
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
                          "segcore", "-v", *argv, "--out", str(tmp_path / "two")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == ExitCode.DONE, two.stdout[-3000:] + two.stderr[-3000:]
    log = two.stdout + two.stderr
    assert "rank 1/2 joined the gloo process group" in log and log.count("predicted 9 of 9 images") == 1
    for name in ("measurements.csv", "quality.json", "scores.json"):
        assert (tmp_path / "two" / name).read_text() == (tmp_path / "one" / name).read_text(), name
    assert np.array_equal(tifffile.imread(tmp_path / "two" / "labels.tif"), tifffile.imread(tmp_path / "one" / "labels.tif"))
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


def test_the_predictor_keeps_no_frame_analysis_in_memory(tmp_path):
    """A prediction sees each frame once: the training's per-frame memo of the fringe analysis grew a long sequence's
    prediction by up to 1 GiB (bench_sequence.py)."""
    from segcore.data.classes import ClassTable
    from segcore.data.readers import open_dataset
    from segcore.data.transforms.memo import MEMO
    from segcore.demo.families import family_samples
    from segcore.inference.predictor import Predictor
    from segcore.io.images import write_image
    from segcore.training import TrainConfig, Trainer, load_checkpoint, prepare

    frames = list(family_samples("phase", 2, small=8, large=0, small_size=96))
    for frame in frames[:4]:
        write_image(tmp_path / "data" / "images" / f"{frame.name}.png", frame.image)
        write_image(tmp_path / "data" / "masks" / f"{frame.name}.png", frame.true_mask.astype(np.uint8))
    ClassTable.from_names(["background", "sample"]).write(tmp_path / "data" / "classes.txt")
    augment = {"intensity": "percentile", "fringe_features": True, "fringe_normalise": True, "fringe_side": 96,
               "resize": 64}
    config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=1, batch_size=2, workers=0,
                         augment=augment)
    Trainer(config, prepare(open_dataset("folder", tmp_path / "data"), 0.0, 0), tmp_path / "run").fit()
    MEMO.clear()
    predictor = Predictor(load_checkpoint(tmp_path / "run" / "last.pt"), precision="fp32")
    for frame in frames[4:]:
        assert predictor.predict(frame.image).labels.shape == (96, 96)
    assert MEMO.bytes_held == 0
