"""Box refinement on generated interferograms: IoU against the true masks, plain box vs refined.

    python benchmarks/bench_refine.py [--seed 0] [--small 12] [--large 1] [--out benchmarks/out/bench_refine.json]
    python benchmarks/bench_refine.py --generator varied --seeds 1 2 3 4 5 6 7 8 9 10 11 12 --small 10 --large 2 \
        --out benchmarks/out/bench_refine_varied.json
    python benchmarks/bench_refine.py --generator phase --seeds 11 12 13 14 --small 16 --large 1 [--slack 0.15]

A third column, "intensity", runs the texture pipeline with GrabCut fed the plain gray level
instead of the texture features, to show what the feature image buys; a fourth, "previous", the
refinement before the cut had to reach the box's sides (the best-separated cut kept whatever its reach:
`refine.MAX_BOX_GAP` 1), a peer measured in the same run. `--slack S` widens each side of every box by a
random share of its side up to S, as a hasty drag would. `--generator varied` draws one instrument per seed (`segcore.demo.varied`:
fringes everywhere or inside the sample only, rectangles, ellipses and blobs); `--generator inside`,
`everywhere` or `phase` one project of that family per seed (`segcore.demo.families`: period,
contrast, size and shape varying from frame to frame). The last line times
building the default demo project (8 + 2 frames, two 3072 x 3072 16-bit PNGs included).
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
from _common import sample_iou as iou
from _common import write_report

from segcore.data import refine  # noqa: E402
from segcore.data.boxes import Box, boxes_to_mask  # noqa: E402
from segcore.demo import create_demo_project, demo_samples  # noqa: E402
from segcore.demo.families import FAMILIES, family_samples  # noqa: E402
from segcore.demo.varied import varied_samples  # noqa: E402

GENERATORS = {"demo": demo_samples, "varied": varied_samples,
              **{family: functools.partial(family_samples, family) for family in FAMILIES}}


def _intensity_features(gray: np.ndarray, period: float) -> np.ndarray:
    """The ablation: GrabCut sees the gray level in all three channels."""
    return np.repeat((gray * 255).astype(np.uint8)[:, :, None], 3, axis=2)


def _previous_refinement(image: np.ndarray, box: Box) -> np.ndarray:
    """The peer: the refinement as it was before the reach rule (the best-separated cut, whatever its reach)."""
    with mock.patch.object(refine, "MAX_BOX_GAP", 1.0):
        return refine.refine_box(image, box)


def _loosened(box: Box, slack: float, shape: tuple[int, ...], rng: np.random.Generator) -> Box:
    """`box` with each side moved out by a random share (up to `slack`) of its length, within the frame."""
    left, right = (rng.uniform(0, slack) * box.w for _ in range(2))
    top, bottom = (rng.uniform(0, slack) * box.h for _ in range(2))
    loose = Box(round(box.x - left), round(box.y - top), round(box.w + left + right), round(box.h + top + bottom), box.label)
    return loose.clipped(shape[1], shape[0])


def measure(generator: str, seed: int, small: int, large: int, slack: float = 0.0) -> list[dict]:
    rows = []
    rng = np.random.default_rng([seed, 77])
    for sample in GENERATORS[generator](seed, small=small, large=large):
        truth = sample.true_mask
        box = _loosened(sample.box, slack, truth.shape, rng) if slack else sample.box
        start = time.perf_counter()
        refined = refine.refine_box(sample.image, box)
        seconds = time.perf_counter() - start
        with mock.patch.object(refine, "_features", _intensity_features), \
                mock.patch.object(refine, "FEATURE_KINDS", ("texture",)):
            intensity = refine.refine_box(sample.image, box)
        rows.append(
            {
                "seed": seed,
                "name": sample.name,
                "size": f"{sample.image.shape[1]}x{sample.image.shape[0]}",
                "bit_depth": sample.image.dtype.itemsize * 8,
                "object_fraction": float(truth.mean()),
                "box_iou": iou(boxes_to_mask(truth.shape, [box]), truth),
                "intensity_iou": iou(intensity, truth),
                "previous_iou": iou(_previous_refinement(sample.image, box), truth),
                "refined_iou": iou(refined, truth),
                "refine_s": seconds,
            }
        )
    return rows


def summarise(rows: list[dict]) -> dict[str, dict]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(f"{row['size']} {row['bit_depth']}-bit", []).append(row)
    groups["all"] = rows
    keys = ("box_iou", "intensity_iou", "previous_iou", "refined_iou", "refine_s")
    return {
        name: {"n": len(g), **{k: float(np.mean([r[k] for r in g])) for k in keys},
               "previous_p5": float(np.percentile([r["previous_iou"] for r in g], 5)),
               "refined_p5": float(np.percentile([r["refined_iou"] for r in g], 5))}
        for name, g in groups.items()
    }


def time_demo_build() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        create_demo_project(Path(tmp) / "demo")
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=sorted(GENERATORS), default="demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", help="several seeds (instruments, for --generator varied)")
    parser.add_argument("--small", type=int, default=12, help="1024x1024 8-bit frames")
    parser.add_argument("--large", type=int, default=1, help="3072x3072 16-bit frames")
    parser.add_argument("--slack", type=float, default=0.0, help="widen each box side by up to this share of it")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bench_refine.json"))
    args = parser.parse_args()

    seeds = args.seeds or [args.seed]
    rows = [row for seed in seeds for row in measure(args.generator, seed, args.small, args.large, args.slack)]
    summary = summarise(rows)
    build_s = time_demo_build()

    print(f"{'seed frame':<28}{'size':>11}{'object':>8}{'box IoU':>9}{'intensity':>11}{'previous':>10}{'refined':>9}{'time s':>8}")
    for r in rows:
        print(
            f"{r['seed']:<4}{r['name']:<24}{r['size']:>11}{r['object_fraction']:>8.1%}{r['box_iou']:>9.3f}"
            f"{r['intensity_iou']:>11.3f}{r['previous_iou']:>10.3f}{r['refined_iou']:>9.3f}{r['refine_s']:>8.2f}"
        )
    print()
    print(f"{'mean over':<24}{'n':>4}{'box IoU':>9}{'intensity':>11}{'previous':>10}{'refined':>9}{'5th pct':>9}{'time s':>8}")
    for name, s in summary.items():
        print(f"{name:<24}{s['n']:>4}{s['box_iou']:>9.3f}{s['intensity_iou']:>11.3f}{s['previous_iou']:>10.3f}"
              f"{s['refined_iou']:>9.3f}{s['refined_p5']:>9.3f}{s['refine_s']:>8.2f}")
    print(f"\ndemo project build (8 x 1024 8-bit + 2 x 3072 16-bit, seed 0): {build_s:.1f} s")

    write_report(args.out, {"generator": args.generator, "seeds": seeds, "slack": args.slack, "samples": rows, "summary": summary,
                            "demo_build_s": build_s})
    return 0


if __name__ == "__main__":
    sys.exit(main())
