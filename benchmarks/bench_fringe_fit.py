"""The fringe analysis's background fit on generated interferograms: plain against `refit`, by noise kind.

    python benchmarks/bench_fringe_fit.py --generator phase --seeds 1 2 3 4 --small 12
    python benchmarks/bench_fringe_fit.py --generator everywhere --seeds 1 2 3 4 --small 6

Each frame is analysed as training does (its own percentile range, `PercentileScale`; the normalised analysis with
the robust carrier and the quartic background, at up to 1024 px) twice: with the plain fit (a peer in the same run) and with
`refit` (the polynomial fitted on the smoothed field, twice). Printed per noise kind of the generator: the phase's
mean 1 - cos over the background (0: flat, as it should be; 1: no better than random), the frames above 0.1, and the
object's better Fisher separation in the phase's cosine or sine. Only families with fringes over the background
(phase, everywhere) say anything about the background.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from _common import machine_info, write_report

from segcore.data import refine
from segcore.data.transforms.fringes import COSINE_CHANNEL, SINE_CHANNEL, fringe_features
from segcore.data.transforms.photometric import PercentileScale
from segcore.demo.families import FAMILIES, family_samples

ANALYSIS_SIDE = 1024
FLAT = 0.1
"""A background whose mean 1 - cos is above this is counted as not flat (a fringe's worth of the optics left)."""


def _measure(gray: np.ndarray, mask: np.ndarray, refit: bool) -> tuple[float, float]:
    features = fringe_features(gray, "quartic", normalise=True, robust_carrier=True, refit=refit)
    cosine, sine = features[..., COSINE_CHANNEL], features[..., SINE_CHANNEL]
    background = float(np.mean(1 - cosine[~mask]))
    return background, refine._separation(mask, [cosine, sine])  # the Fisher ratio refinement uses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=FAMILIES, default="phase")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--small", type=int, default=12, help="1024² frames per seed")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bench_fringe_fit.json"))
    args = parser.parse_args()
    rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for seed in args.seeds:
        for sample in family_samples(args.generator, seed, small=args.small, large=0):
            gray = sample.image.astype(np.float32)
            scale = min(1.0, ANALYSIS_SIDE / max(gray.shape))
            mask = sample.true_mask.astype(bool)
            if scale < 1:
                gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                mask = cv2.resize(mask.astype(np.uint8), gray.shape[::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
            gray, _ = PercentileScale()(gray, None)
            for arm, refit in (("plain", False), ("refit", True)):
                for kind in (sample.params["noise"], "all"):
                    rows[arm][kind].append(_measure(gray, mask, refit))
    summary: dict = {}
    for kind in sorted(rows["plain"], key=lambda k: (k == "all", k)):
        line = [f"{kind:10s} n={len(rows['plain'][kind]):3d}"]
        for arm in ("plain", "refit"):
            values = np.array(rows[arm][kind])
            summary.setdefault(arm, {})[kind] = {"frames": len(values), "background_1_minus_cos": float(values[:, 0].mean()),
                                                 "not_flat": int((values[:, 0] > FLAT).sum()),
                                                 "separation": float(values[:, 1].mean())}
            line.append(f"{arm}: background {values[:, 0].mean():.3f} ({int((values[:, 0] > FLAT).sum())} not flat) "
                        f"separation {values[:, 1].mean():.2f}")
        print("  ".join(line))
    write_report(args.out, {"machine": machine_info(), "args": {k: str(v) for k, v in vars(args).items()},
                            "summary": summary})


if __name__ == "__main__":
    main()
