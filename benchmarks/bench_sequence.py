"""Sequences: what referencing an acquisition costs, against copying its frames in as images.

    python benchmarks/bench_sequence.py --frames 3000 --side 1024 --out benchmarks/out/bench_sequence.json

Writes a `--frames`-page 8-bit TIFF stack of `--side`^2 frames (uncompressed, as cameras write them), then
imports it into a fresh project with `segcore project import P STACK --from sequence` (a real process, as a
user runs it) and reports the wall time, the project's size before and after, and the time to read one frame
back through the project. The peer, measured in the same run on the first `--peer-frames` frames: exploding
the stack into PNG files and adding them as images (`project add-images`), the only way before sequences;
its per-frame cost is scaled to the whole stack.
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--peer-frames", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "bench_sequence.json")
    args = parser.parse_args()

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
