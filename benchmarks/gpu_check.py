"""The GPU check's steps, each in its own process under its own timeout, results in ONE JSON file.

    benchmarks/gpu_check.sh [--dry-run] [--out FILE]   # the entry point: installs, then runs this
    python benchmarks/gpu_check.py [--dry-run] [--out FILE] [--install STATUS] [--deadline EPOCH_S]

Steps: the CUDA-only tests (files whose tests skip with "needs CUDA"), an AMP training step,
folder prediction with 2 workers against the pure forward (target >= 90 %), ICNet and
DeepLabV3+ frames/s at 1024x1024. A step that fails or runs past its timeout is recorded and the
next one runs; the JSON is rewritten after every step, so even a killed check leaves one. The
whole check ends by `--deadline` (the shell script gives it 8 minutes from its start).
`--dry-run`: the same steps at tiny sizes on the CPU (the CUDA-only tests skip themselves).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TIMEOUTS_S = {"cuda_tests": 90, "amp_train_step": 60, "folder_predict": 120, "model_fps": 60}
DRY_TIMEOUT_S = 40
WRITE_MARGIN_S = 5
"""Kept back from the deadline to write the JSON."""
FOLDER_TARGET = 0.9
FPS_MODELS = ("icnet", "deeplabv3plus_resnet50")


def run_step(command: list[str], timeout_s: float) -> dict:
    """Run one step's process (in its own process group, so a timeout also ends what it started); its record."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=max(timeout_s, 1))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        return {"status": "timeout", "seconds": round(time.perf_counter() - start, 1),
                "error": f"still running after {timeout_s:.0f} s", "tail": output[-2000:]}
    record: dict = {"seconds": round(time.perf_counter() - start, 1)}
    lines = output.strip().splitlines()
    try:
        record["result"] = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        record["result"] = None
    if proc.returncode == 0 and record["result"] is not None:
        record["status"] = "ok"
    else:
        record.update(status="failed", error=f"exit code {proc.returncode}", tail=output[-2000:])
    return record


def write_json(path: Path, report: dict) -> None:
    """Replace `path` in one rename: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, path)


def orchestrate(args: argparse.Namespace) -> int:
    """Every step in turn within the deadline; the JSON after each; exit 1 if any step did not pass."""
    from _common import machine_info

    started = time.time()
    report: dict = {"dry_run": args.dry_run, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_info(),
                    "install": args.install, "steps": {}}
    for name, timeout_s in TIMEOUTS_S.items():
        left = args.deadline - time.time() - WRITE_MARGIN_S
        if left < 1:
            report["steps"][name] = {"status": "timeout", "error": "no time left before the deadline"}
            continue
        limit = min(DRY_TIMEOUT_S if args.dry_run else timeout_s, left)
        print(f"gpu_check: {name} (at most {limit:.0f} s)", flush=True)
        command = [sys.executable, str(Path(__file__)), "--step", name, *(["--dry-run"] if args.dry_run else [])]
        report["steps"][name] = record = run_step(command, limit)
        print(f"gpu_check: {name}: {record['status']} after {record.get('seconds', 0)} s", flush=True)
        report["seconds"] = round(time.time() - started, 1)
        write_json(args.out, report)
    report["ok"] = all(step["status"] == "ok" for step in report["steps"].values())
    report["seconds"] = round(time.time() - started, 1)
    write_json(args.out, report)
    print(f"gpu_check: {'all steps ok' if report['ok'] else 'some steps failed'}; wrote {args.out}")
    return 0 if report["ok"] else 1


# -- the steps: each prints its result as the last line of JSON ---------------------------------
def cuda_tests(dry: bool) -> dict:
    """The test files that hold CUDA-only tests, run whole; on the CPU those tests skip."""
    import xml.etree.ElementTree as ET

    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py") if "needs CUDA" in p.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                               f"--junitxml={junit}", *files], cwd=ROOT, capture_output=True, text=True)
        cases = ET.parse(junit).getroot().iter("testcase") if junit.is_file() else []
        outcomes: dict[str, list[str]] = {"passed": [], "failed": [], "skipped": []}
        for case in cases:
            outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
            outcomes["failed" if outcome in ("failure", "error") else outcome].append(case.get("name"))
    if done.returncode != 0:
        raise SystemExit(f"pytest failed (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-1000:]}")
    return {"files": files, "passed": len(outcomes["passed"]), "failed": outcomes["failed"],
            "skipped": outcomes["skipped"]}


def amp_train_step(dry: bool) -> dict:
    """One short epoch of the real trainer per precision: bf16 and fp16 (grad scaler) on CUDA, the default on CPU."""
    import math

    import torch

    sys.path.insert(0, str(ROOT / "tests" / "segcore"))
    from synthetic import write_squares_dataset

    from segcore.data.readers import open_dataset
    from segcore.training import TrainConfig, Trainer, prepare
    from segcore.training.events import BatchProgress, EpochMetrics, RunStarted

    size, frames = (64, 8) if dry else (256, 32)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = write_squares_dataset(Path(tmp) / "squares", n=frames, size=size)
        for amp in ("bf16", "fp16") if torch.cuda.is_available() else ("auto",):
            config = TrainConfig(model="unet", model_kwargs={"base_channels": 8 if dry else 32}, epochs=1,
                                 batch_size=4, amp=amp, val_fraction=0.25, keep_top_k=0)
            trainer = Trainer(config, prepare(open_dataset("folder", root), config.val_fraction, config.seed),
                              Path(tmp) / f"run_{amp}")
            events = list(trainer.run())
            [epoch] = [e for e in events if isinstance(e, EpochMetrics)]
            if not math.isfinite(epoch.train_loss):
                raise SystemExit(f"amp {amp}: the training loss is {epoch.train_loss}")
            rates = [e.images_per_s for e in events if isinstance(e, BatchProgress)]
            runs[amp] = {"device": next(e.device for e in events if isinstance(e, RunStarted)),
                         "autocast": str(trainer.setup.amp_dtype), "grad_scaler": trainer.setup.uses_grad_scaler,
                         "train_loss": epoch.train_loss, "val_miou": epoch.val_miou, "images_per_s": rates[-1]}
    return {"size": size, "frames": frames, "runs": runs}


def folder_predict(dry: bool) -> dict:
    """bench_predict's folder prediction (decode, model, export) with 2 workers against the pure forward."""
    from bench_predict import folder_images, folder_vs_pure, make_checkpoint

    images, batch, repeats, size = (4, 2, 1, (128, 96)) if dry else (64, 8, 3, (480, 360))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = make_checkpoint(Path(tmp) / "folder.pt", "fcn_resnet18", 3, 21)
        # CamVid's size, synthetic: the machine has no shared data set (`--camvid` of bench_predict.py).
        paths = folder_images(Path(tmp) / "no-camvid", images, Path(tmp), size)
        result = folder_vs_pure(ckpt, paths, batch, workers=2, repeats=repeats)
    result["target_ratio"] = FOLDER_TARGET
    result["target_met"] = result["labels_only"]["ratio"] >= FOLDER_TARGET
    return result


def model_fps(dry: bool) -> dict:
    """Frames/s of ICNet and DeepLabV3+ at 1024x1024, batch 1: fp32, and bf16 channels_last on CUDA."""
    import torch
    from bench_models import build

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    size, warmup, repeats = (64, 1, 2) if dry else (1024, 5, 30)
    rows = {}
    for name in FPS_MODELS:
        model = build(name).to(device, memory_format=torch.channels_last)
        x = torch.randn(1, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
        for precision in ("fp32", "bf16") if cuda else ("fp32",):
            with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16"):
                for _ in range(warmup):
                    model(x)
                if cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
                for _ in range(repeats):
                    model(x)
                if cuda:
                    torch.cuda.synchronize()  # the kernels queued, not only launched
            rows[f"{name}/{precision}"] = {"fps": repeats / (time.perf_counter() - start)}
        del model
    return {"size": size, "batch": 1, "device": str(device), "models": rows}


STEPS = {"cuda_tests": cuda_tests, "amp_train_step": amp_train_step, "folder_predict": folder_predict,
         "model_fps": model_fps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU: checks the steps run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "gpu_check.json")
    parser.add_argument("--install", default="not run (gpu_check.py started directly)",
                        help="what the shell script's install step did, for the report")
    parser.add_argument("--deadline", type=float, default=time.time() + 480, help="end by this time (epoch seconds)")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # one step, in its own process
    args = parser.parse_args()
    if args.step is None:
        return orchestrate(args)
    if args.dry_run:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the CPU, even on a GPU machine
    print(json.dumps(STEPS[args.step](args.dry_run)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
