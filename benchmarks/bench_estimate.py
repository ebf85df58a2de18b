"""Which views the quality estimate should compare: flips, scales, or both, on checkpoints bench_loop kept.

    python benchmarks/bench_loop.py --generator inside --seeds 3 ... --keep benchmarks/out/keep/inside
    python benchmarks/bench_estimate.py --generator inside --seed 3 --small 40 --large 6 --held-out 24 4 \\
        --keep benchmarks/out/keep/inside --out benchmarks/out/bench_estimate_inside.json

For each checkpoint under `--keep` (bench_loop's `--keep` folders, one a run), the frames that run never
labelled (the same project and split, rebuilt from the seed) are predicted as the app predicts them, and the
estimate of that prediction (`segcore.inference.quality.estimate_quality`, the agreement of other views with
it) is computed from several sets of views: the three mirrors the predictor ran before this comparison
(left-right, up-down, both; the phase negated where the mirror flips it up-down), one of them (`hvflip`, the
predictor's since), the frame at other working scales (the checkpoint's own resize times 0.6, 0.75 or 1.33:
the fringes finer or coarser, as the network would see another frame of the project; a smaller one costs its
share of pixels; `t0.75`: the preprocessed frame resized instead of analysed again at that scale), and mixes.
Each set reports Spearman's rank correlation with the true IoU, how many of the worst 10 % of the frames stand
in the first quarter of the queue it orders, and its cost in forwards at the working side.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _common import sample_iou as iou
from _common import write_report
from bench_loop import GENERATORS, build_project, quality_report, split

from segcore.inference.predictor import Predictor
from segcore.inference.quality import View, takes_fringe_channels

SCALES = (0.6, 0.75, 1.33)
FLIPS = ("hflip", "vflip", "hvflip")
SETS = {
    "three mirrors": FLIPS,
    "flips + x0.75 + x1.33": (*FLIPS, "x0.75", "x1.33"),
    "x0.75 + x1.33": ("x0.75", "x1.33"),
    "hvflip": ("hvflip",),
    "hvflip + x0.75": ("hvflip", "x0.75"),
    "x0.75": ("x0.75",),
    "x0.6": ("x0.6",),
    "x0.6 + x0.75": ("x0.6", "x0.75"),
    "t0.75": ("t0.75",),
    "hvflip + t0.75": ("hvflip", "t0.75"),
}
COST = {"hflip": 1.0, "vflip": 1.0, "hvflip": 1.0, "t0.75": 0.5625, **{f"x{s}": s * s for s in SCALES}}
"""The view sets compared (the prediction itself is always the first view)."""


def _scaled(resize: int | float | None, factor: float, long_side: int) -> int:
    """The long side in pixels of the working scale `factor` times the checkpoint's own."""
    if resize is None:
        return round(long_side * factor)
    if isinstance(resize, float) and resize <= 1:
        return round(long_side * resize * factor)
    return round(float(resize if not isinstance(resize, (tuple, list)) else max(resize)) * factor)


def view_logits(predictor: Predictor, scaled: dict[float, Predictor], image: np.ndarray) -> dict[str, torch.Tensor]:
    """Each view's logits (1 x C x h x w, the frame's orientation, the working size) of `image`."""
    x = predictor.preprocess(image)[None]
    mode = predictor._mode_for(x)
    fringe = takes_fringe_channels(predictor.checkpoint.in_channels, predictor.checkpoint.preprocessing_options())
    # The mirrored views the predictor ran before this comparison (the last two with the phase negated).
    mirrors = {"hflip": View(hflip=True), "vflip": View(vflip=True, negate_phase=fringe),
               "hvflip": View(True, True, negate_phase=fringe)}
    outputs = [predictor._logits(x, mode)]
    views = {"frame": outputs[0], **{name: view.undo(predictor._logits(view.apply(x), mode))
                                     for name, view in mirrors.items()}}
    # The preprocessed frame itself resized (not analysed again at that scale): what a predictor holding only the
    # tensor could show the network.
    small = F.interpolate(x, scale_factor=0.75, mode="area")
    logits = predictor._logits(small, predictor._mode_for(small))
    views["t0.75"] = F.interpolate(logits, size=outputs[0].shape[-2:], mode="bilinear", align_corners=False)
    for factor, other in scaled.items():
        y = other.preprocess(image)[None]
        logits = other._logits(y, other._mode_for(y))
        views[f"x{factor}"] = F.interpolate(logits, size=outputs[0].shape[-2:], mode="bilinear", align_corners=False)
    return views


@torch.inference_mode()
def score_checkpoint(checkpoint: Path, frames: list, store) -> dict:  # noqa: ANN001 - a ProjectStore
    predictor = Predictor(checkpoint, mode="auto", quality=True)
    options = predictor.checkpoint.preprocessing_options()
    true, estimates = {}, {name: {} for name in SETS}
    predictors: dict[int, Predictor] = {}  # one a working side
    for frame in frames:
        image = store.read_image(frame.image_id)
        result = predictor.predict(image)
        true[frame.name] = iou(result.labels, frame.truth)
        sides = {s: _scaled(options.get("resize"), s, max(image.shape[:2])) for s in SCALES}
        for side in sides.values():
            if side not in predictors:
                predictors[side] = Predictor(predictor.checkpoint, mode="whole", resize=side)
        scaled = {s: predictors[side] for s, side in sides.items()}
        views = view_logits(predictor, scaled, image)
        for name, chosen in SETS.items():
            estimates[name][frame.name] = predictor._estimate([views["frame"], *(views[v] for v in chosen)],
                                                              views["frame"][0]).iou
    no_entropy = {name: 0.0 for name in true}  # quality_report's other columns: not compared here
    return {"true": true, "sets": {name: {"report": quality_report(true, values, values, no_entropy)["estimated"],
                                          "values": values} for name, values in estimates.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=sorted(GENERATORS), required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--small", type=int, default=40)
    parser.add_argument("--large", type=int, default=6)
    parser.add_argument("--held-out", type=int, nargs=2, default=[24, 4])
    parser.add_argument("--keep", type=Path, required=True, help="bench_loop's --keep folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, frames = build_project(Path(tmp) / "p", args, args.seed)
        _, evaluation = split(frames, tuple(args.held_out), args.seed)
        runs = {}
        for checkpoint in sorted(args.keep.glob("*/*.pt")):
            runs[checkpoint.parent.name] = score_checkpoint(checkpoint, evaluation, store)
            print(checkpoint.parent.name, "  ".join(
                f"{name}: rho {r['report']['spearman']:.2f} {r['report']['worst_in_first_quarter']}/"
                f"{r['report']['worst']}" for name, r in runs[checkpoint.parent.name]["sets"].items()))
        store.close()
    summary = {name: {"extra_forwards": round(sum(COST[v] for v in SETS[name]), 2), "spearman": statistics.fmean(r["sets"][name]["report"]["spearman"] for r in runs.values()),
                      "worst_in_first_quarter": sum(r["sets"][name]["report"]["worst_in_first_quarter"]
                                                    for r in runs.values()),
                      "worst": sum(r["sets"][name]["report"]["worst"] for r in runs.values())}
               for name in SETS}
    for name, s in summary.items():
        print(f"{args.generator} {name:<24} +{s['extra_forwards']:.2f} forwards  rho {s['spearman']:.3f}  worst in first quarter "
              f"{s['worst_in_first_quarter']}/{s['worst']}")
    write_report(args.out, {"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
