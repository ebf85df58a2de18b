"""The label-efficient loop, simulated: box a few frames, train with the project's defaults, score the rest.

    python benchmarks/bench_loop.py [--seeds 1 2] [--small 10] [--large 4] [--labelled 5 2]
                                    [--policies defaults,one_factor] [--out benchmarks/out/bench_loop.json]

A simulated annotator boxes `labelled` frames (small, large) of a project of generated
interferograms with known truth and refines the boxes as *Refine boxes* does; the project's
default configuration trains (the engine the GUI's Train button runs); every frame never
labelled is predicted and scored against its truth: IoU mean, worst, and per frame size.

Policies, measured in the same run on the same frames and labels:
  defaults     what `segcore.project.defaults.default_config` gives now;
  one_factor   the earlier grayscale defaults, the peer: every frame resized by one factor (the
               largest frame's long side -> 1024), flips only, intensities by bit depth.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import write_report

from segcore.data.classes import ClassTable  # noqa: E402
from segcore.data.refine import refine_box  # noqa: E402
from segcore.demo import demo_samples  # noqa: E402
from segcore.project.defaults import default_config, project_profile  # noqa: E402
from segcore.project.predict import predict_project  # noqa: E402
from segcore.project.runs import train_project  # noqa: E402
from segcore.project.store import ProjectStore  # noqa: E402
from segcore.training import TrainConfig  # noqa: E402
from segcore.training.events import Finished  # noqa: E402

POLICIES = ("defaults", "one_factor")
ONE_FACTOR_SIDE = 1024


@dataclass(frozen=True)
class Frame:
    name: str
    size: int
    truth: np.ndarray


def iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    union = np.logical_or(prediction == 1, truth == 1).sum()
    return float(np.logical_and(prediction == 1, truth == 1).sum() / union) if union else 1.0


def build_project(root: Path, seed: int, small: int, large: int, labelled: tuple[int, int]) -> tuple[ProjectStore, dict]:
    """The frames in a new project; the first `labelled` small and large ones boxed and refined (the annotator)."""
    store = ProjectStore.create(root, ClassTable.from_names(["background", "sample"]))
    frames = {}
    for sample in demo_samples(seed, small=small, large=large):
        record = store.add_image_array(sample.name, sample.image)
        frames[record.id] = Frame(sample.name, sample.image.shape[0], sample.true_mask)
        large_frame = sample.name.startswith("interferogram_large")
        index = int(sample.name.rsplit("_", 1)[1])
        if index < labelled[1 if large_frame else 0]:
            store.add_box(record.id, sample.box)
            store.save_mask(record.id, refine_box(sample.image, sample.box).astype(np.uint8), source="refined box")
    return store, frames


def policy_config(store: ProjectStore, policy: str) -> TrainConfig:
    config = default_config(store)
    if policy == "one_factor":
        profile = project_profile(store)
        augment = {"hflip": 0.5, "vflip": 0.5, "crop": 256}
        if profile.long_side > ONE_FACTOR_SIDE:
            augment["resize"] = round(ONE_FACTOR_SIDE / profile.long_side, 4)
        config.augment = augment
    return config


def run(seed: int, policy: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_loop_") as tmp:
        store, frames = build_project(Path(tmp) / "project", seed, args.small, args.large, tuple(args.labelled))
        with store:
            config = policy_config(store, policy)
            start = time.perf_counter()
            finished = next(e for e in train_project(store, config, name=policy) if isinstance(e, Finished))
            train_s = time.perf_counter() - start
            labelled = {r.id for r in store.images() if store.has_mask(r.id)}
            unseen = [image_id for image_id in frames if image_id not in labelled]
            list(predict_project(store, Path(finished.best_checkpoint), unseen))
            scores = {frames[i].name: iou(store.load_prediction(i).labels, frames[i].truth) for i in unseen}
    by_size: dict[str, list[float]] = {}
    for image_id in unseen:
        by_size.setdefault(str(frames[image_id].size), []).append(scores[frames[image_id].name])
    return {
        "seed": seed, "policy": policy, "train_s": round(train_s, 1), "epochs": config.epochs,
        "augment": config.augment, "val_miou": finished.best_miou,
        "mean_iou": statistics.fmean(scores.values()), "worst_iou": min(scores.values()),
        "by_size": {size: {"mean": statistics.fmean(v), "worst": min(v), "n": len(v)} for size, v in by_size.items()},
        "per_frame": scores,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--small", type=int, default=10, help="1024x1024 8-bit frames")
    parser.add_argument("--large", type=int, default=4, help="3072x3072 16-bit frames")
    parser.add_argument("--labelled", type=int, nargs=2, default=[5, 2], metavar=("SMALL", "LARGE"))
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "bench_loop.json")
    args = parser.parse_args()
    policies = args.policies.split(",")
    rows = [run(seed, policy, args) for seed in args.seeds for policy in policies]

    sizes = sorted({size for row in rows for size in row["by_size"]}, key=int)
    print(f"{'seed':>4} {'policy':<11} {'train s':>8} {'mean IoU':>9} {'worst':>6} "
          + " ".join(f"{size + ' mean':>10} {size + ' worst':>11}" for size in sizes))
    for row in rows:
        cells = " ".join(f"{row['by_size'][s]['mean']:>10.3f} {row['by_size'][s]['worst']:>11.3f}" for s in sizes)
        print(f"{row['seed']:>4} {row['policy']:<11} {row['train_s']:>8.0f} {row['mean_iou']:>9.3f} "
              f"{row['worst_iou']:>6.3f} {cells}")
    summary = {}
    for policy in policies:
        mine = [row for row in rows if row["policy"] == policy]
        summary[policy] = {"mean_iou": statistics.fmean(r["mean_iou"] for r in mine),
                           **{f"{s}_mean": statistics.fmean(r["by_size"][s]["mean"] for r in mine) for s in sizes}}
        print(f"{policy}: mean IoU over seeds {summary[policy]['mean_iou']:.3f} · "
              + " · ".join(f"{s}: {summary[policy][f'{s}_mean']:.3f}" for s in sizes))
    write_report(args.out, {"args": {k: v for k, v in vars(args).items() if k != "out"}, "runs": rows,
                            "summary": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
