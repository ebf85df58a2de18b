"""The label-efficient loop, simulated: box K frames, train with the project's defaults, score frames never labelled.

    python benchmarks/bench_loop.py [--seeds 1 2] [--small 24] [--large 6] [--held-out 12 4]
        [--curve 2 4 8 16] [--orders random,label_next] [--plain 8] [--peer 8] [--carrier 8] [--pseudo 2 8]
        [--generator varied|demo] [--out benchmarks/out/bench_loop.json]

A project of generated interferograms with known truth (`segcore.demo.varied`: ellipses,
rectangles and blobs, fringes everywhere or inside the sample only, a wide range of fringe
periods, contrasts and noise, 1024x1024 8-bit and 3072x3072 16-bit frames) is split once into a
pool the simulated annotator may box and `--held-out` frames (small, large) nobody ever labels.

For each K of `--curve` and each order of `--orders`, the annotator boxes K frames of the pool
and refines the boxes as *Refine boxes* does; the project's default configuration trains
(what the GUI's Train button runs, time budget included); the held-out frames are predicted
and scored against their truth: IoU mean, worst, per frame size, and the training time.

  random      the frames in a seeded random order;
  label_next  the app's suggestion (`segcore.project.suggest`): K frames are labelled in rounds
              (2, then the next suggestions up to 4, 8, 16), each round training on what is
              labelled and predicting the pool, as a user of *Label next* would (once a model
              has predicted the pool, the frames it estimates worst);
  at_once     the largest K of the curve by *Label next* before any model (its cold start alone).

The last K of each order trains once per `--train-seeds` seed (`--peer-train-seeds N`: the orders
but label_next train with the first N only): the spread between seeds is the run-to-run spread a
user pressing Train twice would see. Every run also scores the quality estimate each prediction
carries (`segcore.inference.quality`) against the true IoU: Spearman's rank correlation, and how
many of the worst 10 % of the frames stand in the first quarter of the queue it orders.

`--generator inside|everywhere|phase` draws one project of that family per seed
(`segcore.demo.families`: the fringe period over a 10-14x range within the project, contrast,
sample size 1-40 %, five shapes, five kinds of camera noise; the phase object among them).

`--plain K` adds a run on the same random K frames with the plain boxes (no refinement);
`--peer K` adds a run with the earlier grayscale defaults (`one_factor`: every frame resized by
one factor, flips only, intensities by bit depth), measured on the same frames and labels;
`--carrier K` adds a run whose fringe analysis removes the carrier only (`fringe_background`, the
analysis before the quadratic background became the default);
`--epochs K:EPOCHS ...` trains exactly EPOCHS epochs with K labelled frames instead of the time budget (what the
budget buys on an idle machine), so runs that share the machine compare. Every run also reports its labelled frames
predicted back (`segcore.project.label_fit`: "labels back", and how many fall below 0.5).
`--pseudo K...` runs with pseudo-labels on (`TrainConfig.pseudo_labels`: half-way, the model labels the
project's unlabelled frames, held-out ones included, as in a user's project, and trains on them too).
Every run scores the network's own labels and the same labels tidied to one region per class,
holes filled (`segcore.inference.regions.keep_one_region`, the *One region per class* option of
Predict), and, as a peer, tidied to the region largest by its area alone (the rule before the
network's certainty counted); the main score is what the defaults predict: tidied when the defaults
say the frames hold one object per class (`TrainConfig.one_region`, on for every project here).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from _common import sample_iou as iou
from _common import write_report

from segcore.data.boxes import boxes_to_mask  # noqa: E402
from segcore.data.classes import ClassTable  # noqa: E402
from segcore.data.refine import refine_box  # noqa: E402
from segcore.demo import demo_samples  # noqa: E402
from segcore.demo.families import FAMILIES, family_samples  # noqa: E402
from segcore.demo.varied import varied_samples  # noqa: E402
from segcore.inference.regions import confident_pixels, keep_one_region  # noqa: E402
from segcore.project.defaults import default_config, project_profile  # noqa: E402
from segcore.project.predict import predict_project, project_predictor  # noqa: E402
from segcore.project.runs import train_project  # noqa: E402
from segcore.project.store import ProjectStore  # noqa: E402
from segcore.training import TrainConfig  # noqa: E402
from segcore.training.events import LabelsChecked  # noqa: E402

ONE_FACTOR_SIDE = 1024
GENERATORS = {"varied": varied_samples, "demo": demo_samples,
              **{family: functools.partial(family_samples, family) for family in FAMILIES}}


@dataclass(frozen=True)
class Frame:
    image_id: int
    name: str
    size: int
    truth: np.ndarray
    box: object
    image: np.ndarray


def build_project(root: Path, args: argparse.Namespace, seed: int) -> tuple[ProjectStore, list[Frame]]:
    store = ProjectStore.create(root, ClassTable.from_names(["background", "sample"]))
    frames = []
    for sample in GENERATORS[args.generator](seed, small=args.small, large=args.large):
        record = store.add_image_array(sample.name, sample.image)
        frames.append(Frame(record.id, sample.name, sample.image.shape[0], sample.true_mask, sample.box, sample.image))
    return store, frames


def split(frames: list[Frame], held_out: tuple[int, int], seed: int) -> tuple[list[Frame], list[Frame]]:
    """(pool, held-out): the held-out frames are the last ones of each size (never labelled)."""
    rng = np.random.default_rng(seed)
    small = [f for f in frames if f.size == min(f.size for f in frames)]
    large = [f for f in frames if f not in small]
    evaluation = small[-held_out[0]:] + (large[-held_out[1]:] if held_out[1] else [])
    pool = [f for f in frames if f not in evaluation]
    return [pool[i] for i in rng.permutation(len(pool))], evaluation


LABEL_IOU: dict[str, float] = {}
"""IoU of each frame's label (refined or plain box) against its truth, as labelled (reported with each run)."""


def label(store: ProjectStore, frames: list[Frame], refined: bool) -> None:
    for frame in frames:
        if store.has_mask(frame.image_id):
            continue
        mask = refine_box(frame.image, frame.box) if refined else boxes_to_mask(frame.truth.shape, [frame.box])
        store.add_box(frame.image_id, frame.box)
        store.save_mask(frame.image_id, mask.astype(np.uint8), source="refined box" if refined else "boxes")
        LABEL_IOU[frame.name] = iou(mask, frame.truth)


def policy_config(store: ProjectStore, policy: str, overrides: dict | None = None, seed: int = 0) -> TrainConfig:
    config = default_config(store)
    config.seed = seed
    for key, value in (overrides or {}).items():  # --set: "augment.x" sets an augmentation option
        if key.startswith("augment."):
            config.augment[key.split(".", 1)[1]] = value
        else:
            setattr(config, key, value)
    config.pseudo_labels = policy == "pseudo_labels"
    if policy == "carrier":
        config.augment["fringe_background"] = "carrier"
    if policy == "one_factor":
        profile = project_profile(store)
        config.augment = {"hflip": 0.5, "vflip": 0.5, "crop": 256}
        if profile.long_side > ONE_FACTOR_SIDE:
            config.augment["resize"] = round(ONE_FACTOR_SIDE / profile.long_side, 4)
    return config


def train_and_score(store: ProjectStore, evaluation: list[Frame], policy: str, name: str,
                    overrides: dict | None = None, seed: int = 0, keep: Path | None = None) -> dict:
    """Train, predict the frames never labelled as the app does, and score them; `keep`: a folder the
    checkpoint and the predicted labels (one PNG a frame, 255 the sample) are copied to, to look at where it failed."""
    config = policy_config(store, policy, overrides, seed)
    config.validate()
    start = time.perf_counter()
    events = list(train_project(store, config, name=name))
    finished = events[-1]
    checked = next((e for e in events if isinstance(e, LabelsChecked)), None)
    train_s = time.perf_counter() - start
    checkpoint = Path(finished.best_checkpoint)
    # As the app predicts (the checkpoint's one-region default, the quality estimate); the network's own labels
    # are the same prediction before the tidy-up, scored too.
    predictor = project_predictor(store, checkpoint, quality=True, keep_probabilities=True)
    folder = None if keep is None else keep / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(checkpoint, folder / checkpoint.name)
    scores, network_scores, tidied_scores, by_area_scores, estimates, agreements, entropies = {}, {}, {}, {}, {}, {}, {}
    for frame in evaluation:
        result = predictor.predict(store.read_image(frame.image_id))
        network = result.probabilities.argmax(0).astype(np.uint8)
        if folder is not None:
            cv2.imwrite(str(folder / f"{frame.name}.png"), (result.labels > 0).astype(np.uint8) * 255)
        scores[frame.name] = iou(result.labels, frame.truth)
        network_scores[frame.name] = iou(network, frame.truth)
        tidied_scores[frame.name] = iou(keep_one_region(network, confident_pixels(result.probabilities)), frame.truth)
        by_area_scores[frame.name] = iou(keep_one_region(network), frame.truth)
        estimates[frame.name], agreements[frame.name] = result.quality.iou, result.quality.agreement
        entropies[frame.name] = result.score
    by_size: dict[str, list[float]] = {}
    for frame in evaluation:
        by_size.setdefault(str(frame.size), []).append(scores[frame.name])
    return {
        "train_seed": seed, "train_s": round(train_s, 1), "epochs": finished.epochs, "checkpoint": str(checkpoint),
        "one_region_default": config.one_region,
        "mean_iou": statistics.fmean(scores.values()), "worst_iou": min(scores.values()),
        "by_size": {size: {"mean": statistics.fmean(v), "worst": min(v), "n": len(v)} for size, v in by_size.items()},
        "per_frame": scores,
        "estimated": estimates, "agreement": agreements, "entropy": entropies,
        "quality": quality_report(scores, estimates, agreements, entropies),
        "network": {"mean": statistics.fmean(network_scores.values()), "worst": min(network_scores.values())},
        "one_region": {"mean": statistics.fmean(tidied_scores.values()), "worst": min(tidied_scores.values())},
        "by_area": {"mean": statistics.fmean(by_area_scores.values()), "worst": min(by_area_scores.values()),
                    "per_frame": by_area_scores},
        "labels_back": None if checked is None else {"mean": checked.mean_iou, "failing": list(checked.failing)},
    }


def _k_epochs(text: str) -> tuple[int, int]:
    k, _, epochs = text.partition(":")
    return int(k), int(epochs)


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    def ranks(values: list[float]) -> np.ndarray:
        order = np.argsort(values, kind="stable")
        r = np.empty(len(values))
        r[order] = np.arange(len(values))
        for value in set(values):  # ties share their mean rank
            same = np.asarray(values) == value
            r[same] = r[same].mean()
        return r
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def quality_report(true: dict, estimated: dict, agreement: dict, entropy: dict) -> dict:
    """How well each per-frame estimate tracks the true IoU: Spearman, and whether the worst 10 % of the frames
    stand in the first quarter of the queue that sorts by it (lowest estimate first)."""
    names = sorted(true)
    worst = sorted(names, key=lambda n: true[n])[:max(1, round(0.1 * len(names)))]
    report = {}
    for key, values in (("estimated", estimated), ("agreement", agreement),
                        ("certainty", {n: -entropy[n] for n in names})):
        queue = sorted(names, key=lambda n: values[n])
        first = set(queue[:max(1, len(names) // 4)])
        report[key] = {"spearman": spearman([true[n] for n in names], [values[n] for n in names]),
                       "worst_in_first_quarter": sum(n in first for n in worst), "worst": len(worst)}
    report["mean_abs_error"] = statistics.fmean(abs(estimated[n] - true[n]) for n in names)
    return report


def next_frames(store: ProjectStore, pool: list[Frame], count: int, checkpoint: Path | None) -> list[Frame]:
    """The annotator follows *Label next*: predict the pool with the newest model, take the suggestions."""
    from segcore.project.suggest import suggest_next

    unlabelled = [f for f in pool if not store.has_mask(f.image_id)]
    if checkpoint is not None:
        list(predict_project(store, checkpoint, [f.image_id for f in unlabelled]))
    by_id = {f.image_id: f for f in pool}
    chosen = []
    for _ in range(count):  # among the pool: the held-out frames are never labelled, nor compared with
        suggestion = suggest_next(store, exclude=[f.image_id for f in chosen], among=by_id)
        if suggestion is None:
            break
        chosen.append(by_id[suggestion.image_id])
    return chosen


def run_seed(seed: int, args: argparse.Namespace) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_loop_") as tmp:
        base, frames = build_project(Path(tmp) / "base", args, seed)
        base.close()
        pool, evaluation = split(frames, tuple(args.held_out), seed)
        orders = args.orders.split(",")
        for index, order in enumerate(orders):
            with _fresh_copy(Path(tmp), index) as store:  # each annotator starts from the unlabelled project
                checkpoint = None
                curve = [max(args.curve)] if order == "at_once" else args.curve
                for k in curve:
                    if order == "random":
                        label(store, pool[:k], refined=True)
                    else:  # label_next in rounds; at_once: all K before any model (the cold start alone)
                        have = sum(store.has_mask(f.image_id) for f in pool)
                        label(store, next_frames(store, pool, k - have, checkpoint), refined=True)
                    labelled = [f.name for f in pool if store.has_mask(f.image_id)]
                    last_seeds = args.train_seeds if order == "label_next" or args.peer_train_seeds is None \
                        else args.train_seeds[:args.peer_train_seeds]
                    seeds = last_seeds if k == curve[-1] else args.train_seeds[:1]
                    for train_seed in seeds:
                        result = train_and_score(store, evaluation, "defaults", f"{order} K={k} seed {train_seed}",
                                                 _settings(args, k), train_seed, args.keep)
                        rows.append({"seed": seed, "order": order, "k": k, "labels": "refined", "policy": "defaults",
                                     "labelled": labelled, "label_iou": {n: LABEL_IOU[n] for n in labelled}, **result})
                        _print_row(rows[-1])
                        if train_seed == seeds[0]:
                            checkpoint = Path(result["checkpoint"])  # the next round's suggestions come from it
        extra = [(args.plain, "plain", "defaults"), (args.peer, "refined", "one_factor"), (args.carrier, "refined", "carrier"),
                 *((k, "refined", "pseudo_labels") for k in args.pseudo)]
        for index, (k, labels, policy) in enumerate(extra, start=len(orders)):
            if not k:
                continue
            with _fresh_copy(Path(tmp), index) as store:
                label(store, pool[:k], refined=labels == "refined")
                rows.append({"seed": seed, "order": "random", "k": k, "labels": labels, "policy": policy,
                             **train_and_score(store, evaluation, policy, f"{labels} {policy} K={k}",
                                               _settings(args, k), keep=args.keep)})
                _print_row(rows[-1])
    return rows


def _settings(args: argparse.Namespace, k: int) -> dict:
    """`--set`, and with `--epochs` the epochs of K labelled frames instead of the time budget."""
    epochs = dict(args.epochs)
    return {**args.set, "time_budget_s": None, "epochs": epochs[k]} if k in epochs else args.set


def _fresh_copy(tmp: Path, index: int) -> ProjectStore:
    """A copy of the unlabelled base project for one simulated annotator."""
    target = tmp / f"run{index}"
    shutil.copytree(tmp / "base", target)
    return ProjectStore.open(target)


def _print_row(row: dict) -> None:
    sizes = " ".join(f"{s}: {v['mean']:.3f} (worst {v['worst']:.3f})" for s, v in sorted(row["by_size"].items()))
    labels = statistics.fmean(row.get("label_iou", {}).values() or [1])
    quality = "  ".join(f"{kind} rho {v['spearman']:.2f} {v['worst_in_first_quarter']}/{v['worst']}"
                        for kind, v in row["quality"].items() if isinstance(v, dict))
    parts = [
        f"seed {row['seed']} {row['order']:<10} K={row['k']:<3} t{row['train_seed']} {row['labels']:<7} "
        f"{row['policy']:<10} train {row['train_s']:>6.0f} s ({row['epochs']} ep)",
        f"mean IoU {row['mean_iou']:.3f}", f"worst {row['worst_iou']:.3f}", f"labels {labels:.3f}", sizes,
        f"network's own: {row['network']['mean']:.3f} (worst {row['network']['worst']:.3f})",
        f"one region: {row['one_region']['mean']:.3f} (worst {row['one_region']['worst']:.3f})",
        *([f"by area: {row['by_area']['mean']:.3f} (worst {row['by_area']['worst']:.3f})"] if "by_area" in row else []),
        f"quality: {quality}", f"|est-true| {row['quality']['mean_abs_error']:.3f}",
        *([f"labels back {row['labels_back']['mean']:.3f} ({len(row['labels_back']['failing'])} below 0.5)"]
          if row.get("labels_back") and row["labels_back"]["mean"] is not None else []),
    ]
    print("  ".join(parts), flush=True)


def _spread(values: list[float]) -> float:
    return max(values) - min(values)


def summarise(rows: list[dict]) -> dict:
    """Mean over seeds of each (order, K, labels, policy); spread: the largest, over projects, of the difference
    between a project's best and worst training seed."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(f"{row['order']} K={row['k']} {row['labels']} {row['policy']}", []).append(row)
    summary = {}
    for key, group in groups.items():
        sizes = sorted({s for r in group for s in r["by_size"]})
        summary[key] = {
            "seeds": len(group),
            "mean_iou": statistics.fmean(r["mean_iou"] for r in group),
            "spread": max(_spread([r["mean_iou"] for r in group if r["seed"] == seed])
                          for seed in {r["seed"] for r in group}),
            "worst_iou": min(r["worst_iou"] for r in group),
            "train_s": statistics.fmean(r["train_s"] for r in group),
            "network_iou": statistics.fmean(r["network"]["mean"] for r in group),
            "one_region_iou": statistics.fmean(r["one_region"]["mean"] for r in group),
            **({"by_area_iou": statistics.fmean(r["by_area"]["mean"] for r in group)}
               if all("by_area" in r for r in group) else {}),
            "quality_spearman": statistics.fmean(r["quality"]["estimated"]["spearman"] for r in group),
            "worst_in_first_quarter": f"{sum(r['quality']['estimated']['worst_in_first_quarter'] for r in group)}/"
                                      f"{sum(r['quality']['estimated']['worst'] for r in group)}",
            **{f"{s}_mean": statistics.fmean(r["by_size"][s]["mean"] for r in group if s in r["by_size"]) for s in sizes},
        }
        print(f"{key:<32} " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                         for k, v in summary[key].items()))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--small", type=int, default=24, help="1024x1024 8-bit frames")
    parser.add_argument("--large", type=int, default=6, help="3072x3072 16-bit frames")
    parser.add_argument("--held-out", type=int, nargs=2, default=[12, 4], metavar=("SMALL", "LARGE"))
    parser.add_argument("--curve", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--orders", default="random,label_next")
    parser.add_argument("--plain", type=int, default=8, help="K for a run on plain boxes (0: none)")
    parser.add_argument("--peer", type=int, default=8, help="K for a run with the one-factor peer policy (0: none)")
    parser.add_argument("--carrier", type=int, default=8, help="K for a run with the carrier-only fringe analysis (0: none)")
    parser.add_argument("--pseudo", type=int, nargs="*", default=[8], help="K of runs with pseudo-labels on (none: none)")
    parser.add_argument("--generator", choices=sorted(GENERATORS), default="varied")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0],
                        help="training seeds of each order's last K (earlier rounds train with the first)")
    parser.add_argument("--peer-train-seeds", type=int, help="how many of --train-seeds the other orders' last K "
                        "train with (default: all)")
    parser.add_argument("--set", type=json.loads, default={},
                        help='JSON overrides of the defaults, e.g. \'{"time_budget_s": 120, "augment.invert": 0}\'')
    parser.add_argument("--epochs", type=_k_epochs, nargs="+", default=[], metavar="K:EPOCHS",
                        help="train exactly EPOCHS epochs (no time budget) with K labelled frames: what the budget "
                             "buys on an idle machine, so runs that share the machine compare")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "bench_loop.json")
    parser.add_argument("--keep", type=Path, help="keep every run's checkpoint and predicted labels here (a PNG a frame)")
    args = parser.parse_args()
    rows = [row for seed in args.seeds for row in run_seed(seed, args)]
    write_report(args.out, {"args": {k: v for k, v in vars(args).items() if k not in ("out", "keep")}, "runs": rows,
                            "summary": summarise(rows)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
