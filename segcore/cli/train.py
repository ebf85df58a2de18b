"""`segcore train`, `segcore eval`, `segcore average`: the training engine on the command line.

    python -m segcore train --data CamVid --format camvid --model unet --epochs 30 --crop 256 --out runs/unet
    torchrun --nproc_per_node=2 -m segcore train ...      # DistributedDataParallel, one process per GPU
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from segcore.cli.exit_codes import ExitCode, UsageError, options_checked
from segcore.cli.numbers import integer, real
from segcore.cli.source_args import reader_options
from segcore.data.readers import list_readers, open_dataset

if TYPE_CHECKING:
    from segcore.project.store import ProjectStore
    from segcore.training import TrainConfig
    from segcore.training.events import Finished

log = logging.getLogger(__name__)

DATASET_WORKERS = min(4, os.cpu_count() or 1)
DATASET_AUG = "hflip"
"""How a dataset run loads and augments where the command line is silent (a project run: the project's defaults)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train a segmentation model on a dataset or project",
        description="Train a segmentation model. The defaults below are a dataset's; with --format project, every "
        "option left out takes the project's own default (what Train in the app starts from: for interferograms a "
        "small U-Net, frames resized and cropped, a time budget), and only the options given replace it.")
    _data_arguments(train)
    train.add_argument("--out", type=Path, metavar="RUN_DIR", help="checkpoints, config.json, metrics.jsonl; "
                       "required unless --format project (default there: PROJECT/runs/NNNN)")
    train.add_argument("--model", default=None, help="a name from `segcore models` (default unet)")
    train.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="model option, e.g. base_channels=32 or output_stride=16 (repeatable)")
    train.add_argument("--pretrained", action="store_true", help="ImageNet backbone weights from torch's cache")
    train.add_argument("--epochs", type=integer(1), default=None,
                       help="epochs (default 20); with --time or --until-flat, the most the run may take (a project: "
                       "--epochs alone trains that many, without the project's time budget)")
    train.add_argument("--time", type=_duration, metavar="DURATION",
                       help="train for this long (90s, 5m, 1h30m): the first epochs are timed and the run gets the "
                       "epochs that fit (the schedule spans them), ending at the last epoch boundary in the budget")
    train.add_argument("--until-flat", action="store_true",
                       help="stop once validation mIoU (training loss without validation) is no better for "
                       "--patience epochs")
    train.add_argument("--patience", type=integer(1), default=None, metavar="EPOCHS", help="for --until-flat (default 5)")
    train.add_argument("--pseudo-labels", action="store_true",
                       help="--format project: half-way, the model labels the unlabelled images and their confident "
                       "pixels train the rest of the run (kept in the run folder, never as the project's labels)")
    train.add_argument("--pseudo-confidence", type=real(0.5, 1), default=None, metavar="P",
                       help="a pseudo-labelled pixel trains where its class probability is at least P (default 0.75)")
    train.add_argument("--one-region", action="store_true",
                       help="frames hold one object per class: the checkpoint's predictions keep each class's "
                       "largest region, holes filled (predict --no-one-region declines it)")
    train.add_argument("--batch-size", type=integer(1), default=None, help="images per step (default 8)")
    train.add_argument("--crop", type=parse_size, metavar="N|HxW",
                       help="random training crop: N square, or HxW (height x width); default: whole images")
    train.add_argument("--resize", help="resize first: N = long side, or a factor like 0.333")
    train.add_argument("--lr", type=real(0, above=True), default=None, help="learning rate (default 0.001)")
    train.add_argument("--weight-decay", type=real(0), default=None, help="(default 0.0001)")
    train.add_argument("--loss", default=None, help="ce, asl, dice, focal, or a sum like ce+dice")
    train.add_argument("--class-weights", choices=("none", "median_freq", "sqrt_median_freq"), default=None,
                       help="median_freq weighs rare classes up; sqrt_median_freq by the square root (less over-predicted)")
    train.add_argument("--aux-weight", type=real(0), default=None,
                       help="weight of the auxiliary head's loss, for models that have one (default 0.4)")
    train.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), default=None, help="(default adamw)")
    train.add_argument("--momentum", type=real(0, 1, below=True), default=None, help="SGD momentum (default 0.9)")
    train.add_argument("--schedule", choices=("poly", "step", "cosine", "constant"), default=None,
                       help="learning-rate schedule (default poly)")
    train.add_argument("--poly-power", type=real(0, above=True), default=None,
                       help="poly schedule: (1 - progress) ** POWER (default 0.9)")
    train.add_argument("--step-size", type=integer(1), default=None, metavar="EPOCHS",
                       help="step schedule: multiply the learning rate by --step-gamma every EPOCHS (default 10)")
    train.add_argument("--step-gamma", type=real(0, 1, above=True), default=None, help="step schedule factor (default 0.5)")
    train.add_argument("--warmup", type=real(0), default=None, metavar="EPOCHS",
                       help="learning rate ramped up from zero over these epochs (default 0)")
    train.add_argument("--aug", default=None, help="comma list: hflip, vflip, rot=DEG, scale=MIN:MAX, "
                       "jitter=B:C:G, invert (bright and dark mirrored in half the samples; invert=P), clahe=CLIP, "
                       "mean-image=PATH (`segcore mean-image`; with clahe, frame and mean are equalised alike before "
                       "subtracting) (default hflip; 'none' for nothing)")
    train.add_argument("--val-fraction", type=real(0, 1, below=True), default=None,
                       help="held out when the data has no val split (default 0.2)")
    train.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, ...")
    train.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"), default=None, help="(default auto)")
    train.add_argument("--cpu-bf16", action="store_true", help="bf16 autocast on CPUs with native bf16")
    train.add_argument("--grad-clip", type=real(0, above=True), metavar="NORM",
                       help="clip the gradients' norm to NORM (default: no clipping)")
    train.add_argument("--seed", type=integer(0), default=None, help="random seed (default 0)")
    train.add_argument("--deterministic", action="store_true")
    train.add_argument("--workers", type=integer(0), default=None,
                       help="data loading processes; 0 loads in the training process (default: up to 4)")
    train.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm under torchrun")
    train.add_argument("--resume", action="store_true", help="continue RUN_DIR from its last.pt (a project's run: "
                       "--out names its folder)")
    train.add_argument("--init-from", type=Path, metavar="CKPT", help="start from these weights (e.g. after new labels)")
    train.add_argument("--keep-top-k", type=integer(0), default=None,
                       help="keep the k best epochs for `segcore average --run` (default 3)")
    train.set_defaults(func=run_train)

    ev = subparsers.add_parser("eval", help="evaluate a checkpoint; prints one JSON object")
    ev.add_argument("--checkpoint", type=Path, required=True)
    _data_arguments(ev)
    ev.add_argument("--split", help="val / train: the images the run held out / trained on (as its checkpoint "
                    "records them, else the data's split); test: the data's split; all: everything "
                    "(default: the data's val split, or all of it when it has no splits)")
    ev.add_argument("--device", default="auto")
    ev.add_argument("--at-training-resolution", action="store_true",
                    help="score at the resolution the model was trained at (labels resized as in training); "
                    "default: predict as trained, upsample the logits and score at the labels' own resolution")
    ev.set_defaults(func=run_eval)

    avg = subparsers.add_parser("average", help="average the weights of checkpoints of one model")
    avg.add_argument("--out", type=Path, required=True)
    avg.add_argument("checkpoints", type=Path, nargs="*", help="checkpoint files")
    avg.add_argument("--run", type=Path, help="average the k best epochs this run kept (its top_k/)")
    avg.add_argument("--k", type=integer(1), help="with --run: only the k best of them (default: all it kept)")
    avg.set_defaults(func=run_average)


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="dataset folder or project folder")
    parser.add_argument("--format", required=True, choices=list_readers())
    parser.add_argument("--labels", help="labels file or built-in table (voc, camvid, landcover) for formats that need one")


def _open(args: argparse.Namespace):  # noqa: ANN202 - a LabelledDataset
    return open_dataset(args.format, args.data, **reader_options(args.format, args.labels))


def _duration(text: str) -> float:
    from segcore.training.budget import DurationError, parse_duration

    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_size(text: str) -> int | list[int]:
    """`512` -> 512 (square), `512x3072` -> [512, 3072] (height, width)."""
    try:
        sides = [int(v) for v in text.lower().split("x")]
    except ValueError:
        sides = []
    if len(sides) not in (1, 2) or min(sides) < 1:
        raise argparse.ArgumentTypeError(f"expected N or HxW (positive integers), got {text!r}")
    return sides[0] if len(sides) == 1 else sides


AUG_LIST_KEYS = frozenset({"hflip", "vflip", "invert", "rotation", "scale_range", "jitter", "clahe", "mean_image"})
"""The AugmentConfig options `--aug` sets."""


def parse_aug(spec: str) -> dict:
    """`--aug hflip,rot=15,scale=0.5:2` -> AugmentConfig options (hflip 0 unless the list names it)."""
    options: dict = {"hflip": 0.0}
    for token in filter(None, (t.strip() for t in spec.split(","))):
        key, _, value = token.partition("=")
        if key == "none":
            continue
        if key in ("hflip", "vflip", "invert"):
            options[key] = float(value) if value else 0.5
        elif key == "rot":
            options["rotation"] = float(value)
        elif key == "scale":
            low, high = value.split(":")
            options["scale_range"] = [float(low), float(high)]
        elif key == "jitter":
            options["jitter"] = [float(v) for v in value.split(":")] if value else [0.2, 0.2, 0.2]
        elif key == "clahe":
            options["clahe"] = float(value) if value else 2.0
        elif key == "mean-image":
            options["mean_image"] = value
        else:
            raise argparse.ArgumentTypeError(f"unknown augmentation {key!r} in --aug {spec!r}")
    return options


def geometry_options(crop: int | list[int] | None, resize: str | None) -> dict:
    """`--crop` and `--resize` as AugmentConfig options (those left out are absent)."""
    options: dict = {}
    if crop:
        options["crop"] = crop
    if resize:
        options["resize"] = float(resize) if "." in resize else int(resize)
    return options


def _model_kwargs(pairs: list[str]) -> dict:
    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--model-arg expects KEY=VALUE, got {pair!r}")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    return kwargs


def run_train(args: argparse.Namespace) -> int:
    from segcore.models import PretrainedWeightsMissing

    try:
        finished = _train_project(args) if args.format == "project" else _train(args)
    except PretrainedWeightsMissing as exc:  # worded for any front end: say how it is done here
        from segcore.training import ConfigError

        raise ConfigError(f"{exc}; or train from scratch: leave out --pretrained") from exc
    return ExitCode.INTERRUPTED if finished.cancelled else ExitCode.DONE


def given_settings(args: argparse.Namespace) -> dict:
    """The TrainConfig fields the command line set; an option left out is absent (the data's defaults fill it)."""
    settings = {
        "model": args.model, "model_kwargs": _model_kwargs(args.model_arg) if args.model_arg else None,
        "pretrained_backbone": args.pretrained or None, "loss": args.loss, "class_weights": args.class_weights,
        "aux_weight": args.aux_weight, "optimizer": args.optimizer, "lr": args.lr, "weight_decay": args.weight_decay,
        "momentum": args.momentum, "schedule": args.schedule, "poly_power": args.poly_power,
        "step_epochs": args.step_size, "step_gamma": args.step_gamma, "warmup_epochs": args.warmup,
        "epochs": args.epochs, "batch_size": args.batch_size, "val_fraction": args.val_fraction, "amp": args.amp,
        "cpu_bf16": args.cpu_bf16 or None, "grad_clip": args.grad_clip, "seed": args.seed,
        "deterministic": args.deterministic or None, "workers": args.workers, "sync_bn": args.sync_bn or None,
        "keep_top_k": args.keep_top_k, "time_budget_s": args.time, "until_flat": args.until_flat or None,
        "patience": args.patience, "pseudo_labels": args.pseudo_labels or None,
        "pseudo_confidence": args.pseudo_confidence, "one_region": args.one_region or None,
    }
    return {key: value for key, value in settings.items() if value is not None}


def _train(args: argparse.Namespace) -> Finished:
    """A dataset folder: what the command line leaves out is TrainConfig's default."""
    from segcore.cli.progress import ConsoleReporter
    from segcore.training import TrainConfig, Trainer, prepare

    if args.out is None:
        raise UsageError("--out RUN_DIR is needed (only --format project has a default)")
    if args.pseudo_labels:
        raise UsageError("--pseudo-labels needs --format project: the unlabelled images are a project's")
    config = TrainConfig(**{"workers": DATASET_WORKERS, **given_settings(args), "device": args.device,
                            "augment": {**parse_aug(args.aug or DATASET_AUG), **geometry_options(args.crop, args.resize)}})
    with options_checked():
        config.validate()
    data = prepare(_open(args), config.val_fraction, config.seed)
    trainer = Trainer(config, data, args.out, resume=args.resume, init_from=args.init_from)
    with ConsoleReporter(enabled=int(os.environ.get("RANK", "0")) == 0) as reporter:
        return trainer.fit(reporter)


def project_config(store: ProjectStore, args: argparse.Namespace) -> TrainConfig:
    """The project's own defaults (what Train in the app starts from), with the options the command line gave.

    A project of 3072-px interferograms trained on the dataset defaults (whole frames, no time budget) runs out of
    memory; the project's defaults resize, crop and budget it.
    """
    from segcore.project.defaults import default_config

    config = default_config(store, device=args.device)
    config.device = args.device
    settings = given_settings(args)
    if "model" in settings and settings["model"] != config.model:  # another network: the defaults' options are not its
        config.model_kwargs, config.pretrained_backbone = {}, False
    if "epochs" in settings and "time_budget_s" not in settings:
        config.time_budget_s = None  # --epochs alone: that many, not the defaults' time budget
    for key, value in settings.items():
        setattr(config, key, value)
    if args.aug is not None:  # the list is the run's augmentation; the project's resize, intensities and analysis stay
        kept = {key: value for key, value in config.augment.items() if key not in AUG_LIST_KEYS}
        config.augment = {**kept, **parse_aug(args.aug)}
    config.augment.update(geometry_options(args.crop, args.resize))
    with options_checked():
        config.validate()
    return config


def _train_project(args: argparse.Namespace) -> Finished:
    """Train through the project, which records the run (config, metrics, split) as the app does."""
    from segcore.cli.progress import ConsoleReporter
    from segcore.project.runs import run_in_folder, train_project
    from segcore.project.store import ProjectStore
    from segcore.training.events import Finished, RunStarted

    if args.labels:
        raise UsageError("a project has its own class table; --labels does not apply to --format project")
    with ProjectStore.open(args.data) as store:
        config = project_config(store, args)
        resume_run = None
        if args.resume:
            record = run_in_folder(store, args.out) if args.out is not None else None
            if record is None:
                raise UsageError(f"--resume continues a run of {args.data}: name its folder with --out "
                                  "(see `segcore project info`)")
            resume_run = record.id
        events = train_project(store, config, init_from=args.init_from, resume_run=resume_run, folder=args.out)
        with ConsoleReporter() as reporter:
            for event in events:
                reporter(event)
                if isinstance(event, RunStarted):
                    record = run_in_folder(store, event.run_dir)
        assert isinstance(event, Finished)
        print(f"recorded as run {record.id} of project {store.root}")
        return event


def run_eval(args: argparse.Namespace) -> int:
    from segcore.training import load_checkpoint
    from segcore.training.evaluate import evaluate, select_samples

    checkpoint = load_checkpoint(args.checkpoint)
    samples = select_samples(_open(args).samples, args.split, checkpoint.extra.get("split"))
    metrics = evaluate(checkpoint, samples, device=args.device,
                       at_training_resolution=args.at_training_resolution).to_dict()
    names = checkpoint.class_table.names
    result = {
        "checkpoint": str(args.checkpoint),
        "images": len(samples),
        "resolution": "training" if args.at_training_resolution else "labels",
        "miou": metrics["miou"],
        "pixel_acc": metrics["pixel_acc"],
        "mean_class_acc": metrics["mean_class_acc"],
        "per_class_iou": dict(zip(names, metrics["per_class_iou"])),
    }
    print(json.dumps(result))
    return 0


def run_average(args: argparse.Namespace) -> int:
    from segcore.training import average_checkpoints, save_checkpoint
    from segcore.training.checkpoint import CheckpointError, TopK

    paths = list(args.checkpoints)
    if args.run is not None:
        paths += TopK(args.run, k=0).paths()[: args.k]
    if not paths:
        raise CheckpointError("nothing to average: name checkpoint files, or a run with --run that kept its best epochs")
    path = save_checkpoint(args.out, average_checkpoints(paths))
    print(f"averaged {len(paths)} checkpoints into {path}")
    return 0
