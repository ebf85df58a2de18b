"""Run every benchmark in turn (each prints its table and writes benchmarks/out/<name>.json).

    python benchmarks/run_all.py [--quick]

Run it on an otherwise idle machine: the figures are medians of wall-clock times, and every
speed figure is a ratio against a peer measured in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "bench_refine.py": [],
    "bench_fringe_fit.py": [],
    "bench_models.py": [],
    "bench_train.py": [],
    "bench_predict.py": [],
    "bench_gui.py": [],
    "bench_loop.py": ["--seeds", "1", "7", "--small", "28", "--large", "6", "--held-out", "12", "4", "--curve", "2", "4",
                      "8", "--pseudo", "2", "8"],
    "bench_camvid.py": [],
    "bench_sequence.py": [],
}
QUICK = {
    "bench_refine.py": ["--small", "2", "--large", "0"],
    "bench_fringe_fit.py": ["--seeds", "1", "--small", "2"],
    "bench_models.py": ["--models", "fcn_resnet18,deeplabv3_resnet50,tv_deeplabv3_resnet50", "--sizes", "256,512",
                        "--ratio-repeats", "3"],
    "bench_train.py": ["--batches", "3", "--pipeline-samples", "20"],
    "bench_predict.py": ["--folder-images", "8", "--repeats", "3"],
    "bench_gui.py": ["--rounds", "2", "--moves", "20", "--epochs", "2"],
    "bench_loop.py": ["--seeds", "1", "--small", "5", "--large", "0", "--held-out", "2", "0", "--curve", "2",
                      "--orders", "random", "--plain", "0", "--peer", "0", "--pseudo", "2"],
    "bench_camvid.py": ["--set", '{"epochs": 1, "time_budget_s": null}'],
    "bench_sequence.py": ["--frames", "60", "--side", "256", "--peer-frames", "10"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the scripts run, not the figures")
    args = parser.parse_args()
    failed = []
    for script, extra in SCRIPTS.items():
        options = QUICK[script] if args.quick else extra
        print(f"\n=== {script} {' '.join(options)}", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(HERE / script), *options], cwd=HERE.parent)
        print(f"=== {script}: exit {result.returncode} after {time.perf_counter() - start:.0f} s", flush=True)
        if result.returncode:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
