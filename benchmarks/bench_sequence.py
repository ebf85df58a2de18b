"""Sequences: what referencing an acquisition costs, against copying its frames in as images.

    python benchmarks/bench_sequence.py --frames 3000 --side 1024 --out benchmarks/out/bench_sequence.json

Writes a `--frames`-page 8-bit TIFF stack of `--side`^2 frames (uncompressed, as cameras write them), then
imports it into a fresh project with `segcore project import P STACK --from sequence` (a real process, as a
user runs it) and reports the wall time, the project's size before and after, and the time to read one frame
back through the project. The peer, measured in the same run on the first `--peer-frames` frames: exploding
the stack into PNG files and adding them as images (`project add-images`), the only way before sequences;
its per-frame cost is scaled to the whole stack.

    python benchmarks/bench_sequence.py --acquisition 120 --out benchmarks/out/bench_sequence_120.json

`--acquisition N` measures the promise end to end on a generated acquisition (`segcore.demo.acquisition`: the
sample drifting, turning and changing size, the fringes drifting in phase, the light flickering), N frames of
`--side`^2 (1024) of `--bit-depth` (8) bits, `--glitches` of them spoiled (`--pass-over-glitches`: the annotator
declines those Label next suggests): the stack is referenced by a new project, *Label next* picks `--boxes`
frames, each gets a box refined as *Refine boxes* does, the project's defaults train (the 4-minute CPU budget),
and `segcore predict --input STACK --measure --export tiff-stack` (a real process) predicts every frame. Over
the frames never labelled: IoU against the truth, the area and centroid errors of the measurements, and whether
every frame below 0.5 is flagged. Throughput, whole process, in the same run on the same stack: `segcore
predict` (labels only, and with `--measure`) against a plain PyTorch script doing the same work (tifffile reads
each frame, the same preprocessing, an fp32 forward, argmax, a PNG written); peak memory of each process
(`--skip-throughput`: the `--measure` run only).
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, write_report


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _write_stack(path: Path, frames: int, side: int) -> None:
    import tifffile

    rng = np.random.default_rng(0)
    base = (rng.random((side, side)) * 200).astype(np.uint8)
    with tifffile.TiffWriter(path, bigtiff=frames * side * side > 2**31) as tif:
        for i in range(frames):
            tif.write(np.roll(base, i, axis=1), photometric="minisblack", contiguous=True)


def _segcore(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "segcore", *args], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - start


PLAIN_SCRIPT = """
import sys, cv2, numpy as np, torch, tifffile
from segcore.inference.predictor import Predictor
checkpoint, stack, out = sys.argv[1:4]
torch.set_num_threads(int(sys.argv[4]))
predictor = Predictor(checkpoint, mode="whole", precision="fp32", device="cpu", uncertainty=False)
model = predictor.checkpoint.build_model().eval()  # the plain model: no folding, no channels_last
with tifffile.TiffFile(stack) as tif, torch.inference_mode():
    for index, page in enumerate(tif.pages):
        frame = page.asarray()
        x = predictor.preprocess(frame)[None]
        logits = model(x)["out"]
        labels = logits.argmax(1)[0].numpy().astype(np.uint8)
        labels = cv2.resize(labels, frame.shape[::-1], interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(f"{out}/{index:05d}.png", labels)
"""
"""The peer of the throughput figures: what a user writes around the same checkpoint."""


def _peak_run(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak resident bytes) of a process, its memory sampled every 50 ms."""
    import psutil

    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty process must not stall on a full pipe
        process = psutil.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0
        while process.poll() is None:
            try:
                peak = max(peak, process.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.05)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command[:4])}... failed: {errors.read().decode()[-2000:]}")
    return time.perf_counter() - start, peak


def acquisition_run(args: argparse.Namespace) -> dict:
    """The end-to-end figures on a generated acquisition of `args.acquisition` frames (the module's docstring)."""
    import csv

    import tifffile
    import torch

    from segcore.data.classes import ClassTable
    from segcore.data.refine import refine_box
    from segcore.demo.acquisition import acquisition_frames
    from segcore.demo.interferogram import demo_box
    from segcore.project.defaults import default_config
    from segcore.project.runs import train_project
    from segcore.project.store import ProjectStore
    from segcore.project.suggest import suggest_next
    from segcore.training.events import Finished

    frames, threads = args.acquisition, torch.get_num_threads()
    tmp = Path(tempfile.mkdtemp(dir=ROOT / "benchmarks" / "out"))
    stack = tmp / "acquisition.tif"
    truth, glitches = [], {}
    with tifffile.TiffWriter(stack, bigtiff=args.side * args.side * frames * args.bit_depth // 8 > 2**31) as tif:
        for frame in acquisition_frames(frames, size=args.side, seed=args.seed, bit_depth=args.bit_depth,
                                        glitches=args.glitches):
            tif.write(frame.image, photometric="minisblack", contiguous=True)
            truth.append(np.packbits(frame.mask))
            if frame.glitch:
                glitches[frame.index] = frame.glitch
    shape = (args.side, args.side)
    store = ProjectStore.create(tmp / "project", ClassTable.from_names(["background", "sample"]))
    store.add_sequence(stack)
    chosen: list[int] = []
    passed_over: list[int] = []  # --pass-over-glitches: suggestions the annotator declines
    while len(chosen) < args.boxes:
        suggestion = suggest_next(store, exclude=chosen + passed_over).image_id
        spoiled = args.pass_over_glitches and store.image(suggestion).frame in glitches
        (passed_over if spoiled else chosen).append(suggestion)
    labelled = sorted(store.image(i).frame for i in chosen)
    declined = sorted(store.image(i).frame for i in passed_over)
    rng = np.random.default_rng(args.seed)
    for image_id in chosen:
        record = store.image(image_id)
        mask = np.unpackbits(truth[record.frame])[: args.side**2].reshape(shape)
        box = demo_box(mask, rng)
        store.add_box(image_id, box)
        store.save_mask(image_id, refine_box(store.read_image(image_id), box).astype(np.uint8), source="refined box")
    start = time.perf_counter()
    config = default_config(store)
    if args.train_s is not None:  # a smoke run of this script; the figures use the defaults' budget
        config.time_budget_s = args.train_s
    finished = next(e for e in train_project(store, config, name="bench") if isinstance(e, Finished))
    train_s = time.perf_counter() - start
    checkpoint = str(finished.best_checkpoint)
    store.close()

    out = tmp / "predicted"
    predict = [sys.executable, "-m", "segcore", "predict", "--checkpoint", checkpoint, "--input", str(stack)]
    measure_s, measure_peak = _peak_run([*predict, "--out", str(out), "--measure", "--export", "tiff-stack"])
    throughput = {"predict --measure": (measure_s, measure_peak)}
    if not args.skip_throughput:
        throughput["predict labels"] = _peak_run([*predict, "--out", str(tmp / "labels"), "--no-uncertainty", "--whole"])
        (tmp / "plain").mkdir()
        (tmp / "plain.py").write_text(PLAIN_SCRIPT)
        throughput["plain script"] = _peak_run([sys.executable, str(tmp / "plain.py"), checkpoint, str(stack),
                                                str(tmp / "plain"), str(threads)])

    predicted = tifffile.imread(out / "labels.tif")
    with open(out / "measurements.csv", newline="", encoding="utf-8") as handle:
        rows = {row["frame"]: row for row in csv.DictReader(handle)}
    per_frame = {}
    for index in range(frames):
        if index in labelled:
            continue
        true = np.unpackbits(truth[index])[: args.side**2].reshape(shape).astype(bool)
        pred = predicted[index] == 1
        union = np.logical_or(true, pred).sum()
        ys, xs = np.nonzero(true)
        row = rows.get(f"acquisition_{index:04d}")
        area_error = abs(float(row["area_px"]) - true.sum()) / true.sum() if row else 1.0
        shift = math.hypot(float(row["centroid_x"]) - xs.mean(), float(row["centroid_y"]) - ys.mean()) if row else math.inf
        per_frame[index] = {"iou": float(np.logical_and(true, pred).sum() / union), "area_error": area_error,
                            "centroid_error_px": shift, "flag": row["flag"] if row else "no row",
                            "glitch": glitches.get(index),
                            "estimated": float(row["estimated_quality"]) if row and row["estimated_quality"] else None}
    ious = [f["iou"] for f in per_frame.values()]
    clean = [f["iou"] for f in per_frame.values() if f["glitch"] is None]
    bad = [i for i, f in per_frame.items() if f["iou"] < 0.5]
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "frames": frames, "side": args.side, "bit_depth": args.bit_depth, "seed": args.seed, "boxes": args.boxes,
        "labelled_frames": labelled, "glitched_frames": glitches,
        "passed_over": declined,
        "train_s": round(train_s, 1), "epochs": finished.epochs,
        "mean_iou": round(statistics.fmean(ious), 4), "worst_iou": round(min(ious), 4),
        "mean_iou_unspoiled": round(statistics.fmean(clean), 4), "worst_iou_unspoiled": round(min(clean), 4),
        "frames_below_0.5": len(bad), "flagged_below_0.5": sum(1 for i in bad if per_frame[i]["flag"] not in ("", "no row")),
        "flagged": sum(1 for f in per_frame.values() if f["flag"]),
        "median_area_error": round(statistics.median(f["area_error"] for f in per_frame.values()), 4),
        "median_centroid_error_px": round(statistics.median(f["centroid_error_px"] for f in per_frame.values()), 2),
        "throughput_fps": {name: round(frames / seconds, 3) for name, (seconds, _) in throughput.items()},
        "peak_rss_mb": {name: round(peak / 2**20) for name, (_, peak) in throughput.items()},
        "per_frame": per_frame,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--peer-frames", type=int, default=50)
    parser.add_argument("--acquisition", type=int, metavar="N", help="the end-to-end run on N generated frames instead")
    parser.add_argument("--boxes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), default=8, help="of the acquisition's frames")
    parser.add_argument("--glitches", type=float, default=0.0,
                        help="the share of the acquisition's frames spoiled (washed out or dark, segcore.demo.acquisition)")
    parser.add_argument("--pass-over-glitches", action="store_true",
                        help="the annotator declines the spoiled frames Label next suggests, and takes the next")
    parser.add_argument("--skip-throughput", action="store_true", help="the acquisition's --measure run only")
    parser.add_argument("--train-s", type=float, help="training time budget (default: the project's defaults')")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "bench_sequence.json")
    args = parser.parse_args()
    if args.acquisition:
        report = acquisition_run(args)
        print(f"{report['frames']} frames, {report['boxes']} refined boxes (frames {report['labelled_frames']}), trained "
              f"{report['train_s']:.0f} s ({report['epochs']} epochs): frames never labelled mean IoU "
              f"{report['mean_iou']:.3f}, worst {report['worst_iou']:.3f} (unspoiled frames: mean "
              f"{report['mean_iou_unspoiled']:.3f}, worst {report['worst_iou_unspoiled']:.3f}), "
              f"{report['frames_below_0.5']} below 0.5 "
              f"({report['flagged_below_0.5']} of them flagged; {report['flagged']} flagged in all); median area error "
              f"{100 * report['median_area_error']:.1f} %, median centroid error {report['median_centroid_error_px']:.2f} px")
        fps, peak = report["throughput_fps"], report["peak_rss_mb"]
        ratios = "".join(f"; {name} / plain = {fps[name] / fps['plain script']:.2f}x" for name in fps
                         if "plain script" in fps and name != "plain script")
        print("frames/s (whole process): " + ", ".join(f"{k} {v:.2f}" for k, v in fps.items()) + ratios
              + "; peak MB: " + ", ".join(f"{k} {v}" for k, v in peak.items()))
        write_report(args.out, report)
        return 0

    from segcore.data.classes import ClassTable
    from segcore.project.store import ProjectStore

    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks" / "out") as tmp:
        tmp = Path(tmp)
        stack = tmp / "acquisition.tif"
        _write_stack(stack, args.frames, args.side)
        table = ClassTable.from_names(["background", "sample"])
        ProjectStore.create(tmp / "ref", table).close()
        ProjectStore.create(tmp / "copy", table).close()
        empty = _folder_bytes(tmp / "ref")
        seconds = _segcore("project", "import", str(tmp / "ref"), str(stack), "--from", "sequence")
        with ProjectStore.open(tmp / "ref") as store:
            images = store.images()
            start = time.perf_counter()
            store.read_image(images[len(images) // 2].id)
            first_read = time.perf_counter() - start
        referenced = _folder_bytes(tmp / "ref")

        from segcore.io.images import write_image
        from segcore.io.sequences import open_sequence

        frames_dir = tmp / "frames"
        start = time.perf_counter()
        with open_sequence(stack) as sequence:
            for index, frame in sequence.iter_frames(stop=args.peer_frames):
                write_image(frames_dir / f"f{index:05d}.png", frame)
        explode = time.perf_counter() - start
        add = _segcore("project", "add-images", str(tmp / "copy"), str(frames_dir))
        copied = _folder_bytes(tmp / "copy")
        scale = args.frames / args.peer_frames

    report = {
        "frames": args.frames, "side": args.side, "stack_bytes": args.frames * args.side**2,
        "sequence_import_s": round(seconds, 2), "project_bytes_before": empty, "project_bytes_after": referenced,
        "bytes_per_frame": round((referenced - empty) / args.frames, 1), "read_one_frame_s": round(first_read, 4),
        "peer_frames": args.peer_frames, "peer_s_measured": round(explode + add, 2),
        "peer_s_for_all_frames": round((explode + add) * scale, 1),
        "peer_bytes_for_all_frames": int((copied - empty) * scale),
    }
    print(f"{args.frames} frames of {args.side}x{args.side} ({report['stack_bytes'] / 2**30:.1f} GiB): "
          f"referenced in {seconds:.1f} s (the whole process), the project {empty / 1024:.0f} -> "
          f"{referenced / 1024:.0f} KiB ({report['bytes_per_frame']:.0f} bytes a frame); one frame read back in "
          f"{first_read * 1000:.0f} ms")
    print(f"peer (explode to PNG + add-images), {args.peer_frames} frames measured: "
          f"{report['peer_s_for_all_frames']:.0f} s and {report['peer_bytes_for_all_frames'] / 2**30:.1f} GiB "
          f"for all {args.frames} ({report['peer_s_for_all_frames'] / max(seconds, 1e-9):.0f}x the time)")
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
