"""Training runs of a project: the trainer's events, recorded in the store as they happen.

    for event in train_project(store, TrainConfig(model="unet", epochs=20), control=control):
        ...  # BatchProgress, EpochMetrics, CheckpointSaved, Finished (a GUI shows them)

A run lives in `<project>/runs/<id>/` (config.json, best.pt, last.pt, top_k/, tensorboard/ when
tensorboard is installed); the store keeps
its config, per-epoch metrics, status (running, finished, cancelled, failed) and best mIoU, so
a run history survives restarts. A run can be resumed, or a new one started from a checkpoint
after new labels (`init_from`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from pathlib import Path

from segcore.errors import ProjectError
from segcore.project.label_fit import check_labels
from segcore.project.predict import select_images
from segcore.project.records import RunRecord
from segcore.project.store import ProjectStore
from segcore.project.transfer import project_dataset
from segcore.training import TrainConfig, Trainer, TrainingControl, average_checkpoints, prepare, save_checkpoint
from segcore.training.checkpoint import TopK
from segcore.training.events import (
    EpochMetrics,
    Event,
    Failed,
    Finished,
    LabelsChecked,
    PseudoLabelled,
    SchedulePlanned,
)
from segcore.training.pseudo import UnlabelledImage
from segcore.training.trainer import BEST

log = logging.getLogger(__name__)

RUNS_DIR = "runs"


def run_dir(store: ProjectStore, run: RunRecord | int) -> Path:
    """The folder of a run's checkpoints."""
    record = store.run(run) if isinstance(run, int) else run
    if not record.checkpoint_dir:
        raise ProjectError(f"run {record.id} has no checkpoint folder")
    return store.root / record.checkpoint_dir


def default_run_name(config: TrainConfig, labelled: int) -> str:
    """'unet · 8 labelled · 4 min': what a run unnamed by the user is called (runs were all named after the model)."""
    length = (f"{config.time_budget_s / 60:g} min" if config.time_budget_s is not None
              else f"{config.epochs} epochs")
    return f"{config.model} · {labelled} labelled · {length}"


def train_project(
    store: ProjectStore,
    config: TrainConfig,
    *,
    name: str | None = None,
    control: TrainingControl | None = None,
    init_from: str | Path | None = None,
    resume_run: int | None = None,
    folder: str | Path | None = None,
) -> Iterator[Event]:
    """Train on the project's labelled images; yields the trainer's events and records the run.

    A run that finishes predicts its training frames back with its best checkpoint before its `Finished`
    (`LabelsChecked`; `segcore.project.label_fit`); those predictions are not stored.

    `resume_run` continues that run from its last checkpoint (same config); `init_from` starts
    a new run from a checkpoint's weights (e.g. after labelling more images). A new run's
    checkpoints go to `folder`, or to `<project>/runs/<id>` by default; the record names either.
    """
    config.validate()
    data = prepare(project_dataset(store), config.val_fraction, config.seed)
    if config.pseudo_labels:
        data.unlabelled = unlabelled_images(store)
    if resume_run is not None:
        record = store.run(resume_run)
        config = TrainConfig.from_dict(record.config)
        run_id, folder = record.id, run_dir(store, record)
        store.reopen_run(run_id)
    else:
        run_id = store.add_run(name or default_run_name(config, len(data.train)), config.to_dict())
        # Named after the id the insert gave; a folder of the user's choice is kept relative when inside.
        rel = f"{RUNS_DIR}/{run_id:04d}" if folder is None else _recorded_folder(store, Path(folder))
        store.set_run_checkpoint_dir(run_id, rel)
        folder = store.root / rel
    store.set_run_split(run_id, data.split_names())
    trainer = Trainer(config, data, folder, control=control, resume=resume_run is not None, init_from=init_from)
    status, best, recorded = "failed", None, False
    try:
        for event in trainer.run():  # the trainer writes TensorBoard logs too, when tensorboard is installed
            if isinstance(event, EpochMetrics):
                store.log_metrics(run_id, event.epoch, _epoch_values(event))
            elif isinstance(event, SchedulePlanned):  # what a time budget chose, kept with the epoch it followed
                store.log_metrics(run_id, event.after_epoch, {"planned_epochs": event.epochs,
                                                               "planned_epoch_seconds": event.epoch_seconds})
            elif isinstance(event, PseudoLabelled):
                store.log_metrics(run_id, event.after_epoch, {"pseudo_images": event.images,
                                                               "pseudo_confident": event.confident})
            elif isinstance(event, Finished):
                status, best = ("cancelled" if event.cancelled else "finished"), event.best_miou
                if not event.cancelled and event.best_checkpoint and trainer.ctx.is_main:
                    # Recorded first: the check takes seconds, and the run is finished whatever it finds.
                    _finish(store, run_id, status, best, trainer)
                    recorded = True
                    checked = check_labels(store, event.best_checkpoint, data.split_names()["train"])
                    _log_labels_checked(store, run_id, event.epochs, checked)
                    yield checked
            elif isinstance(event, Failed):
                status = "failed"
            yield event
    except GeneratorExit:  # the consumer stopped listening (a GUI worker quitting): not a failure
        status = "cancelled"
        raise
    finally:
        if not recorded:
            _finish(store, run_id, status, best, trainer)


def unlabelled_images(store: ProjectStore) -> list[UnlabelledImage]:
    """The images a run may pseudo-label: those without a user's label (predicted ones included).

    The list is taken when the run starts; the pseudo-labels go to the run's folder, so a label the
    user draws meanwhile is never overwritten, only not trained on by this run."""
    ids = set(select_images(store, "unlabelled"))
    return [UnlabelledImage(r.name, functools.partial(store.read_image, r.id)) for r in store.images() if r.id in ids]


def _recorded_folder(store: ProjectStore, folder: Path) -> str:
    """`folder` as a run record names it: relative to the project when inside it (the project may move)."""
    folder, root = folder.resolve(), store.root.resolve()
    return folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)


def run_in_folder(store: ProjectStore, folder: str | Path) -> RunRecord | None:
    """The newest run whose checkpoints are in `folder`, if any."""
    folder = Path(folder).resolve()
    runs = [r for r in store.runs() if r.checkpoint_dir and run_dir(store, r).resolve() == folder]
    return runs[-1] if runs else None


def _finish(store: ProjectStore, run_id: int, status: str, best: float | None, trainer: Trainer) -> None:
    store.finish_run(run_id, status, best_score=best if best is not None else trainer.best_miou)


def _log_labels_checked(store: ProjectStore, run_id: int, epoch: int, checked: LabelsChecked) -> None:
    """Kept with the run's last epoch: the run history shows which runs did not reproduce their labels."""
    values = {"labels_checked": checked.images, "labels_failing": len(checked.failing)}
    if checked.mean_iou is not None:
        values["labels_miou"] = checked.mean_iou
    store.log_metrics(run_id, epoch, values)


def _epoch_values(event: EpochMetrics) -> dict[str, float]:
    values = {"train_loss": event.train_loss, "lr": event.lr, "seconds": event.seconds}
    for key in ("val_loss", "val_miou", "pixel_acc", "mean_class_acc"):
        value = getattr(event, key)
        if value is not None:
            values[key] = value
    for index, iou in enumerate(event.per_class_iou):
        if iou is not None:
            values[f"iou_{index}"] = iou
    return values


def newest_finished_run(store: ProjectStore) -> RunRecord | None:
    """The run that finished last (status 'finished'), or None."""
    finished = [run for run in store.runs() if run.status == "finished" and run.finished_at]
    return max(finished, key=lambda run: run.finished_at, default=None)


def run_checkpoint(store: ProjectStore, run: RunRecord) -> Path | None:
    """The checkpoint to predict with from a run: its best one (every epoch's, when it had no validation)."""
    if not run.checkpoint_dir:
        return None
    best = run_dir(store, run) / BEST
    return best if best.is_file() else None


def newest_best_checkpoint(store: ProjectStore) -> Path | None:
    """`run_checkpoint` of the newest finished run, if any."""
    run = newest_finished_run(store)
    return None if run is None else run_checkpoint(store, run)


def latest_checkpoint(store: ProjectStore) -> Path | None:
    """`run_checkpoint` of the most recent run that has one (a cancelled run's counts too)."""
    return next((path for run in reversed(store.runs()) if (path := run_checkpoint(store, run)) is not None), None)


def run_checkpoints(store: ProjectStore, run_id: int) -> dict[str, Path]:
    """The run's checkpoints that exist: best, last, averaged ones and its kept top-k epochs."""
    folder = run_dir(store, run_id)
    found = {p.stem: p for p in sorted(folder.glob("*.pt"))}
    for entry, path in zip(TopK(folder, k=0).entries(), TopK(folder, k=0).paths(), strict=True):
        if path.is_file():
            found[f"epoch {entry['epoch']} (mIoU {entry['miou']:.3f})"] = path
    return found


def average_run(store: ProjectStore, run_id: int, k: int | None = None) -> Path:
    """Average the weights of the run's k best kept epochs (all kept ones by default) into one checkpoint."""
    folder = run_dir(store, run_id)
    paths = TopK(folder, k=0).paths()[:k]
    if len(paths) < 2:
        raise ProjectError(f"run {run_id} kept {len(paths)} epoch checkpoint(s); averaging needs at least 2")
    return save_checkpoint(folder / f"averaged_top{len(paths)}.pt", average_checkpoints(paths))
