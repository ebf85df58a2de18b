"""What pressing Train gives on an RGB scene project: CamVid imported, the project's defaults, val at native resolution.

    python benchmarks/bench_camvid.py [--data ../shared/datasets/camvid] [--set '{"epochs": 40}']
        [--out benchmarks/out/bench_camvid.json]

The CamVid train and val splits are imported into a fresh project (the split of each image is
kept, so validation is CamVid's val); `default_config` picks model, crops, schedule and the
time budget for this machine, exactly as the Train panel does; `--set` overrides options of it
(a JSON object; "augment" keys merge) for tuning on val. The best checkpoint is scored on val at
the labels' own resolution (480x360, `segcore eval`'s default) and at the training resolution.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, write_report

from segcore.data.readers import open_dataset  # noqa: E402
from segcore.project.defaults import default_config  # noqa: E402
from segcore.project.runs import train_project  # noqa: E402
from segcore.project.store import ProjectStore  # noqa: E402
from segcore.project.transfer import iter_import_dataset, run_import  # noqa: E402
from segcore.training import load_checkpoint  # noqa: E402
from segcore.training.evaluate import evaluate  # noqa: E402
from segcore.training.events import EpochMetrics, Finished  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    parser.add_argument("--set", default="{}", help="JSON overrides of the default config")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "bench_camvid.json")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no CamVid at {args.data} (SegNet layout: train/, trainannot/, val/, valannot/); --data names it")
        return 2
    dataset = open_dataset("camvid", args.data)
    with tempfile.TemporaryDirectory(prefix="bench_camvid_") as tmp:
        with ProjectStore.create(Path(tmp) / "camvid", dataset.class_table) as store:
            run_import(iter_import_dataset(store, dataset, copy=False))
            config = default_config(store)
            overrides = json.loads(args.set)
            config.augment.update(overrides.pop("augment", {}))
            for key, value in overrides.items():
                setattr(config, key, value)
            print(f"config: {config}", flush=True)
            start = time.perf_counter()
            finished = None
            for event in train_project(store, config, name="bench_camvid"):
                if isinstance(event, EpochMetrics):
                    print(f"epoch {event.epoch}: val mIoU {event.val_miou}  {time.perf_counter() - start:.0f} s",
                          flush=True)
                elif isinstance(event, Finished):
                    finished = event
            train_s = time.perf_counter() - start
            checkpoint = load_checkpoint(finished.best_checkpoint)
        val = [s for s in dataset.samples if s.split == "val"]
        native = evaluate(checkpoint, val).to_dict()
        training = evaluate(checkpoint, val, at_training_resolution=True).to_dict()
    names = dataset.class_table.names
    result = {
        "config": {"model": config.model, "pretrained_backbone": config.pretrained_backbone, "loss": config.loss,
                   "class_weights": config.class_weights, "augment": config.augment, "epochs": config.epochs,
                   "batch_size": config.batch_size, "lr": config.lr, "time_budget_s": config.time_budget_s},
        "train_s": round(train_s), "epochs_run": finished.epochs, "val_images": len(val),
        "native": {k: native[k] for k in ("miou", "pixel_acc", "mean_class_acc")},
        "training_resolution_miou": training["miou"],
        "per_class_iou_native": dict(zip(names, native["per_class_iou"])),
    }
    print(json.dumps(result, indent=1))
    write_report(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
