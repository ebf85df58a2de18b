"""benchmarks/gpu_check.sh: its CPU dry run gives one JSON with every step; a failing step is recorded, not fatal."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"cuda_tests", "amp_train_step", "folder_predict", "model_fps"}


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_writes_one_json_with_every_step(tmp_path):
    out = tmp_path / "gpu_check.json"
    start = time.perf_counter()
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
                            env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.perf_counter() - start < 90
    report = json.loads(out.read_text())
    assert report["dry_run"] and report["ok"] and report["install"] == "skipped (dry run)"
    assert set(report["steps"]) == STEPS
    assert all(step["status"] == "ok" for step in report["steps"].values()), report["steps"]
    steps = {name: step["result"] for name, step in report["steps"].items()}
    assert "test_update_does_not_synchronize_cuda" in steps["cuda_tests"]["skipped"]  # CUDA-only: skipped on the CPU
    assert steps["cuda_tests"]["passed"] > 0 and not steps["cuda_tests"]["failed"]
    assert all(run["device"].startswith("cpu") for run in steps["amp_train_step"]["runs"].values())
    assert steps["folder_predict"]["workers"] == 2 and steps["folder_predict"]["labels_only"]["ratio"] > 0
    assert set(steps["model_fps"]["models"]) == {"icnet/fp32", "deeplabv3plus_resnet50/fp32"}
    assert [p.name for p in tmp_path.iterdir()] == ["gpu_check.json"]  # written in one rename


def test_a_failing_or_hanging_step_is_recorded():
    gpu_check = _gpu_check()
    failed = gpu_check.run_step([sys.executable, "-c", "print('partial'); raise SystemExit(3)"], timeout_s=30)
    assert failed["status"] == "failed" and failed["error"] == "exit code 3" and "partial" in failed["tail"]
    # The step's own children go too: the whole process group is killed.
    hung = gpu_check.run_step(["bash", "-c", "sleep 60 & wait"], timeout_s=1)
    assert hung["status"] == "timeout" and hung["seconds"] < 10
    ok = gpu_check.run_step([sys.executable, "-c", "print('{\"fps\": 1}')"], timeout_s=30)
    assert ok["status"] == "ok" and ok["result"] == {"fps": 1}
