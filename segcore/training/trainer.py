"""The training loop: a generator of events, no Qt, no prints; cancel/pause between batches.

    trainer = Trainer(config, data, run_dir)
    for event in trainer.run():
        ...  # BatchProgress, EpochMetrics, CheckpointSaved, BatchSizeReduced, Finished, Failed

Reproducible: the data order comes from (seed, epoch), each sample's augmentation from
(seed, epoch, index), dropout from torch's RNG saved in every checkpoint. A run resumed from its
last checkpoint therefore ends with the same weights as one that was never interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset

from segcore.data.transforms import AugmentConfig
from segcore.errors import SegcoreError
from segcore.io.atomic import atomic_write_bytes
from segcore.metrics import ConfusionMatrix
from segcore.models import get_model, get_model_info
from segcore.training.budget import PLAN_EPOCHS, EpochBudget, Plateau
from segcore.training.checkpoint import (
    Checkpoint,
    TopK,
    load_checkpoint,
    save_checkpoint,
)
from segcore.training.config import ConfigError, TrainConfig
from segcore.training.control import TrainingCancelled, TrainingControl
from segcore.training.data import TrainingData, spread
from segcore.training.device import setup_device
from segcore.training.distributed import (
    DistContext,
    all_reduce_mean,
    barrier,
    init_from_env,
    shutdown,
)
from segcore.training.events import (
    BatchProgress,
    BatchSizeReduced,
    CheckpointSaved,
    EpochMetrics,
    Event,
    Failed,
    Finished,
    PseudoLabelled,
    RunStarted,
    SchedulePlanned,
)
from segcore.training.optim import build_optimizer, set_learning_rate
from segcore.training.pipeline import CACHE_BYTES, DataPipeline, build_pipeline, loader_kwargs
from segcore.training.pseudo import MAX_IMAGES, PSEUDO_DIR, PseudoLabeller, epoch_indices
from segcore.training.tensorboard import TensorBoardLog

log = logging.getLogger(__name__)

LAST, BEST = "last.pt", "best.pt"
SPLIT = "split.json"
"""The run's train / val sample names, also in every checkpoint's `extra["split"]`."""


class TrainingError(SegcoreError):
    """Training cannot go on (e.g. out of memory on the CPU)."""


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        data: TrainingData,
        run_dir: str | Path,
        *,
        control: TrainingControl | None = None,
        resume: bool = False,
        init_from: str | Path | None = None,
    ):
        """`resume` continues this run from run_dir/last.pt; `init_from` starts a new run from a checkpoint's weights."""
        config.validate()
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.control = control or TrainingControl()
        self.resume = resume
        self.init_from = Path(init_from) if init_from else None
        self.epoch = 0
        self.best_miou: float | None = None
        self.planned_epochs = config.epochs
        """The run's epochs: `config.epochs`, or what fits `config.time_budget_s` once the first epochs are timed."""
        self.budget: EpochBudget | None = None
        self.plateau: Plateau | None = None
        self.ctx = DistContext()
        """Single process until the run joins the process group torchrun describes."""
        self.pseudo = None
        if config.pseudo_labels and data.unlabelled:
            self.pseudo = PseudoLabeller(spread(data.unlabelled, MAX_IMAGES), self.run_dir / PSEUDO_DIR,
                                         config.pseudo_confidence)
        self._pseudo_done = False
        self._pseudo_samples = 0
        """Pseudo-labelled samples at the end of the training set (0 until pseudo-labelling)."""

    # -- public ----------------------------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        """Train; yields events. Errors are yielded as `Failed` and then raised.

        The main process also writes the epochs' metrics as TensorBoard scalars to `<run_dir>/tensorboard` when
        tensorboard is installed: the CLI, the app and a Trainer run from Python alike.
        """
        tensorboard = TensorBoardLog(self.run_dir) if self.ctx.is_main else None
        try:
            for event in self._run():
                if tensorboard is not None:
                    tensorboard(event)
                yield event
        except TrainingCancelled:
            yield self._finished(cancelled=True)
        except Exception as exc:
            if isinstance(exc, SegcoreError):  # expected (full disk, bad data): one line, no traceback
                log.info("training failed: %s", exc)
            else:
                log.exception("training failed")
            yield Failed(str(exc), type(exc).__name__)
            raise
        finally:
            if tensorboard is not None:
                tensorboard.close()
            # Leave the process group before the interpreter exits: gloo's threads, still joinable
            # then, abort the process ("terminate called without an active exception").
            shutdown(self.ctx)

    def fit(self, callback=None) -> Finished:  # noqa: ANN001 - any callable taking an Event
        """Run to the end, passing every event to `callback`; returns the `Finished` event."""
        last = None
        for event in self.run():
            if callback is not None:
                callback(event)
            last = event
        assert isinstance(last, Finished)
        return last

    # -- the run -------------------------------------------------------------------------------------
    def _run(self) -> Iterator[Event]:
        cfg = self.config
        self._clock = time.perf_counter()  # a time budget counts from here: setup is part of the wait
        self._paused_s = 0.0  # ...but time paused is not
        torch.manual_seed(cfg.seed)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.setup = setup_device(cfg.device, cfg.amp, cfg.cpu_bf16)
        self.ctx = init_from_env(self.setup.device.type)
        if self.ctx.enabled and self.setup.device.type == "cuda":
            self.setup = setup_device(f"cuda:{self.ctx.local_rank}", cfg.amp)
        device = self.setup.device
        self.run_dir.mkdir(parents=True, exist_ok=True)
        notes: list[str] = []

        self.model = self._build_model(notes).to(device)
        if self.setup.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net: nn.Module = self.model
        if self.ctx.enabled:
            if cfg.sync_bn:
                self.net = nn.SyncBatchNorm.convert_sync_batchnorm(self.net)
            self.net = DistributedDataParallel(self.net, device_ids=[self.ctx.local_rank] if device.type == "cuda" else None)
        self.pipeline: DataPipeline = build_pipeline(cfg, self.data, self.ctx)
        notes.extend(self.pipeline.notes)
        self.loss_fn = self.pipeline.loss.to(device)
        self.optimizer = build_optimizer(self.model, cfg)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.setup.uses_grad_scaler)
        self.batch_size = cfg.batch_size
        if cfg.time_budget_s is not None:
            self.budget = EpochBudget(cfg.time_budget_s, cfg.epochs)
        if cfg.until_flat:
            self.plateau = Plateau(cfg.patience, "max" if self.data.val else "min")
        start_epoch = 1
        if self.resume and (self.run_dir / LAST).is_file():
            start_epoch = self._restore(load_checkpoint(self.run_dir / LAST, map_location=device)) + 1
            if self.pseudo is not None and (samples := self.pseudo.reload()):  # labelled before the interruption
                self._use_pseudo_labels(samples)
        if self.ctx.is_main:
            cfg.save(self.run_dir / "config.json")
            atomic_write_bytes(self.run_dir / SPLIT, json.dumps(self.data.split_names(), indent=1).encode("utf-8"))
        yield RunStarted(str(self.run_dir), self.setup.description, cfg.model, len(self.data.train),
                         len(self.data.val), start_epoch, self.planned_epochs, tuple(notes),
                         cfg.time_budget_s, cfg.until_flat)

        self._session_epochs, self._save_seconds = 0, 0.0
        reason, epoch = "", start_epoch
        while epoch <= self.planned_epochs:  # the plan may change after the first epochs
            self.epoch = epoch
            started, paused_before = time.perf_counter(), self._paused_s
            train_loss = yield from self._train_epoch(epoch)
            metrics = self._validate()
            miou = metrics.get("miou")
            improved = miou is not None and (self.best_miou is None or miou > self.best_miou)
            if improved:
                self.best_miou = miou
            event = EpochMetrics(
                epoch=epoch,
                train_loss=train_loss,
                val_loss=metrics.get("val_loss"),
                val_miou=miou,
                pixel_acc=metrics.get("pixel_acc"),
                mean_class_acc=metrics.get("mean_class_acc"),
                per_class_iou=metrics.get("per_class_iou", []),
                lr=self.optimizer.param_groups[0]["lr"],
                seconds=time.perf_counter() - started,
            )
            if self.ctx.is_main:
                append_line(self.run_dir / "metrics.jsonl", json.dumps(event.to_dict()))
            yield event
            self._session_epochs += 1
            planned = self._plan(epoch, time.perf_counter() - started - (self._paused_s - paused_before))
            if planned is not None:
                yield planned
            score = miou if self.data.val else train_loss
            if self.plateau is not None and score is not None:
                self.plateau.update(epoch, score)
            saving = time.perf_counter()
            yield from self._save(epoch, metrics, best=improved or not self.data.val)
            barrier(self.ctx)
            self._save_seconds = time.perf_counter() - saving
            if self._pseudo_due(epoch):
                yield from self._pseudo_label(epoch)
            reason = self._stop_reason(epoch, time.perf_counter() - started - (self._paused_s - paused_before))
            if reason:
                break
            epoch += 1
        yield self._finished(cancelled=False, reason=reason)

    # -- time budget and early stopping ----------------------------------------------------------------
    def _plan(self, epoch: int, epoch_s: float) -> SchedulePlanned | None:
        """After the first (and second) epoch of a budgeted run: the epochs that fit, for the schedule too."""
        if self.budget is None or self._session_epochs > PLAN_EPOCHS:
            return None
        # The epoch as a whole: training, validation, and saving (the previous epoch's save time).
        epoch_s = self._agreed(epoch_s + self._save_seconds)
        plan = self.budget.plan(epoch, self._agreed(self._elapsed()) + self._save_seconds, epoch_s)
        if self._session_epochs > 1 and plan.epochs == self.planned_epochs:
            return None
        self.planned_epochs = plan.epochs
        message = self.budget.describe(plan)
        log.info("%s", message)
        return SchedulePlanned(epoch, plan.epochs, plan.epoch_seconds, self.budget.budget_s, message)

    # -- pseudo-labels ---------------------------------------------------------------------------------
    def _pseudo_due(self, epoch: int) -> bool:
        """Pseudo-label after this epoch? Once, when `pseudo_after` of the planned epochs are done."""
        if self.pseudo is None or self._pseudo_done or epoch >= self.planned_epochs:
            return False
        return epoch >= max(1, math.ceil(self.planned_epochs * self.config.pseudo_after))

    def _pseudo_label(self, epoch: int) -> Iterator[Event]:
        """The model as it is now labels the unlabelled images (the main process writes, the others read)."""
        assert self.pseudo is not None
        self._pseudo_done = True
        if self.ctx.is_main:
            checkpoint = self._checkpoint(epoch, {}).without_training_state()
            samples, summary = self.pseudo.label(checkpoint, str(self.setup.device), between=self._check_control)
        barrier(self.ctx)
        if not self.ctx.is_main:
            samples = self.pseudo.reload()
        if samples:
            self._use_pseudo_labels(samples)
        if self.ctx.is_main:
            message = summary.message(epoch + 1)
            log.info("%s", message)
            yield PseudoLabelled(epoch, summary.images, summary.confident, summary.seconds, summary.folder, message)
        if self.budget is not None and self.budget.epoch_seconds is not None:
            # The labelling took time from the budget: fewer epochs fit, and the schedule should end with them.
            plan = self.budget.plan(epoch, self._agreed(self._elapsed()), self.budget.epoch_seconds)
            if plan.epochs != self.planned_epochs:
                self.planned_epochs = plan.epochs
                yield SchedulePlanned(epoch, plan.epochs, plan.epoch_seconds, self.budget.budget_s,
                                      self.budget.describe(plan))

    def _use_pseudo_labels(self, samples: list) -> None:
        """Append the pseudo-labelled samples to the training set (each epoch then draws from both)."""
        total = len(self.data.train) + len(self.data.val) + len(samples)
        grown = self.pipeline.train_set.extended(samples, cache=self.data.image_bytes * total <= CACHE_BYTES)
        self.pipeline = dataclasses.replace(self.pipeline, train_set=grown)
        self._pseudo_samples, self._pseudo_done = len(samples), True

    def _stop_reason(self, epoch: int, epoch_s: float) -> str:
        """Why the run ends after `epoch` before its planned epochs ("" to go on)."""
        if epoch >= self.planned_epochs:
            return ""
        if self.plateau is not None and self.plateau.flat:
            return self.plateau.reason()
        if self.budget is not None:
            reason = self.budget.stop_reason(epoch, self._agreed(self._elapsed()), self._agreed(epoch_s))
            if reason:
                return reason
        return ""

    def _elapsed(self) -> float:
        """Seconds since the run started, time paused left out."""
        return time.perf_counter() - self._clock - self._paused_s

    def _check_control(self) -> None:
        """`control.check()` (blocks while paused, raises on cancel), keeping count of the time paused."""
        waiting = time.perf_counter()
        self.control.check()
        self._paused_s += time.perf_counter() - waiting

    def _agreed(self, seconds: float) -> float:
        """A time every rank agrees on (their mean), so all of them plan and stop alike."""
        return all_reduce_mean(seconds, self.ctx, self.setup.device)

    def _model_channels(self) -> int:
        """The network's input channels: the images' (after conversion), or the fringe analysis's."""
        return AugmentConfig.from_dict(self.config.augment).model_channels(self.data.in_channels)

    def _build_model(self, notes: list[str]) -> nn.Module:
        cfg = self.config
        kwargs = dict(cfg.model_kwargs)
        pretrained = cfg.pretrained_backbone
        ckpt = load_checkpoint(self.init_from) if self.init_from is not None else None
        if ckpt is not None and ckpt.in_channels != self._model_channels():
            if AugmentConfig.from_dict(cfg.augment).fringe_features or ckpt.in_channels not in (1, 3):
                raise ConfigError(f"the weights of {self.init_from} take {ckpt.in_channels} channel(s), but this "
                                  f"run gives the network {self._model_channels()}")
            # The weights fix the input: convert the images to what the earlier model took.
            notes.append(f"the weights of {self.init_from} take {ckpt.in_channels} channel(s), "
                         f"not the {self.data.in_channels} of most images")
            self.data = dataclasses.replace(self.data, in_channels=ckpt.in_channels)
        try:
            model = get_model(cfg.model, num_classes=self.data.class_table.num_classes,
                              in_channels=self._model_channels(),
                              pretrained_backbone=pretrained, **kwargs)
        except (TypeError, ValueError) as exc:  # the builder refuses an option: the user's to fix, one line
            raise ConfigError(f"cannot build model {cfg.model!r}: {exc}") from exc
        if ckpt is not None:
            model.load_state_dict(ckpt.state_dict)
            notes.append(f"weights initialised from {self.init_from}")
        return model

    def _train_epoch(self, epoch: int) -> Iterator[Event]:
        """One pass over the training data; returns the mean loss. Halves the batch on GPU OOM."""
        while True:
            try:
                return (yield from self._train_batches(epoch))
            except torch.OutOfMemoryError as exc:
                if self.batch_size == 1:
                    raise TrainingError("out of GPU memory even with batch size 1: use a smaller crop or model") from exc
                old, self.batch_size = self.batch_size, self.batch_size // 2
                self.optimizer.zero_grad(set_to_none=True)
                if self.setup.device.type == "cuda":
                    torch.cuda.empty_cache()
                log.warning("out of memory with batch %d; restarting epoch %d with batch %d", old, epoch, self.batch_size)
                yield BatchSizeReduced(old, self.batch_size, f"out of memory in epoch {epoch}")

    def _train_batches(self, epoch: int) -> Iterator[Event]:
        cfg, device = self.config, self.setup.device
        loader = self._train_loader(epoch)
        batches = len(loader)
        self.net.train()
        total_loss, seen = 0.0, 0
        started = time.perf_counter()
        for i, (images, masks) in enumerate(loader, 1):
            self._check_control()
            lr = set_learning_rate(self.optimizer, cfg, epoch - 1 + (i - 1) / batches, self.planned_epochs)
            images = images.to(device, non_blocking=True)
            masks = masks.to(device, non_blocking=True)
            if self.setup.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            try:
                with torch.autocast(device.type, dtype=self.setup.amp_dtype or torch.float32,
                                    enabled=self.setup.amp_dtype is not None):
                    outputs = self.net(images)
                    loss = self.loss_fn(outputs, masks)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
            except RuntimeError as exc:
                if device.type == "cpu" and ("not enough memory" in str(exc) or "can't allocate" in str(exc)):
                    raise TrainingError(
                        f"out of memory on the CPU with batch {self.batch_size}: reduce the batch size or the crop"
                    ) from exc
                raise
            if cfg.grad_clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            batch_loss = float(loss.detach())
            if not math.isfinite(batch_loss):
                raise TrainingError(f"the loss became {batch_loss} in epoch {epoch}: lower the learning rate")
            total_loss += batch_loss * images.shape[0]
            seen += images.shape[0]
            elapsed = time.perf_counter() - started
            remaining = (batches - i) + (self.planned_epochs - epoch) * batches
            eta = remaining * elapsed / i
            if self.budget is not None:  # the budget ends the run: never more than what is left of it
                eta = min(eta, max(self.budget.budget_s - self._elapsed(), 0.0))
            yield BatchProgress(epoch, i, batches, batch_loss, seen * self.ctx.world_size / max(elapsed, 1e-9), eta, lr)
        return all_reduce_mean(total_loss / max(seen, 1), self.ctx, device)

    def _train_loader(self, epoch: int) -> DataLoader:
        dataset = self.pipeline.train_set
        dataset.set_epoch(epoch)
        if self._pseudo_samples:  # an epoch as long as before: some of the user's labels, some pseudo-labels
            dataset = Subset(dataset, epoch_indices(len(self.data.train), self._pseudo_samples, self.config.seed, epoch))
        if self.ctx.enabled:
            sampler = DistributedSampler(dataset, self.ctx.world_size, self.ctx.rank, shuffle=True, seed=self.config.seed)
            sampler.set_epoch(epoch)
        else:
            generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
            sampler = RandomSampler(dataset, generator=generator)
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, drop_last=len(dataset) > self.batch_size,
                          **loader_kwargs(self.pipeline, self.setup.device))

    @torch.no_grad()
    def _validate(self) -> dict:
        """Validation loss and metrics (confusion matrix reduced over ranks)."""
        if not self.pipeline.val_set:
            return {}
        device = self.setup.device
        self.net.eval()
        matrix = ConfusionMatrix(self.data.class_table.num_classes, device=device)
        total, count = 0.0, 0
        for images, masks in self.pipeline.val_loader(self.ctx):
            images, masks = images.to(device), masks.to(device)
            with torch.autocast(device.type, dtype=self.setup.amp_dtype or torch.float32,
                                enabled=self.setup.amp_dtype is not None):
                outputs = self.net(images)
                loss = self.loss_fn(outputs, masks)
            if torch.isfinite(loss):
                total += float(loss) * images.shape[0]
                count += images.shape[0]
            matrix.update(outputs["out"].argmax(1), masks)
        matrix.reduce_from_all_processes()
        metrics = matrix.compute().to_dict()
        metrics["val_loss"] = all_reduce_mean(total / max(count, 1), self.ctx, device)
        return metrics

    # -- checkpoints -------------------------------------------------------------------------------
    def _checkpoint(self, epoch: int, metrics: dict) -> Checkpoint:
        cfg = self.config
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "best_miou": self.best_miou,
            "batch_size": self.batch_size,
            "planned_epochs": self.planned_epochs,
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
        }
        return Checkpoint(
            model_name=cfg.model,
            model_kwargs=dict(cfg.model_kwargs),
            num_classes=self.data.class_table.num_classes,
            in_channels=self._model_channels(),
            class_table=self.data.class_table,
            normalization=self.pipeline.normalization,
            state_dict={k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            config=cfg.to_dict(),
            metrics=metrics,
            label_set_hash=self.data.label_hash,
            epoch=epoch,
            training_state=state,
            extra={"divisor": get_model_info(cfg.model).divisor, "split": self.data.split_names()},
            mean_image=None if self.pipeline.mean_image is None else torch.from_numpy(self.pipeline.mean_image),
        )

    def _save(self, epoch: int, metrics: dict, best: bool) -> Iterator[Event]:
        if not self.ctx.is_main:
            return
        ckpt = self._checkpoint(epoch, metrics)
        path = save_checkpoint(self.run_dir / LAST, ckpt)
        yield CheckpointSaved(str(path), epoch, False, metrics.get("miou"))
        # Only last.pt resumes: the others leave out the optimiser state (Adam's doubles the size).
        weights_only = ckpt.without_training_state()
        if best:
            path = save_checkpoint(self.run_dir / BEST, weights_only)
            yield CheckpointSaved(str(path), epoch, True, metrics.get("miou"))
        if self.config.keep_top_k and metrics.get("miou") is not None:
            TopK(self.run_dir, self.config.keep_top_k).offer(weights_only, metrics["miou"])

    def _restore(self, ckpt: Checkpoint) -> int:
        """Load everything exact resume needs; returns the epoch the checkpoint ended."""
        if ckpt.label_set_hash != self.data.label_hash:
            log.warning("resuming on different labels than the run started with (label set changed)")
        self.model.load_state_dict(ckpt.state_dict)
        state = ckpt.training_state
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.best_miou = state.get("best_miou")
        self.batch_size = state.get("batch_size", self.batch_size)
        if self.budget is not None and state.get("planned_epochs"):
            # A resumed run keeps the epochs it planned (its schedule): no new timing, no new plan.
            self.planned_epochs = min(int(state["planned_epochs"]), self.config.epochs)
            self.budget = None
        if self.plateau is not None and state.get("plateau"):
            self.plateau.load_state_dict(state["plateau"])
        log.info("resumed %s from epoch %d", self.run_dir, ckpt.epoch)
        return ckpt.epoch

    def _finished(self, cancelled: bool, reason: str = "") -> Finished:
        best = self.run_dir / BEST
        last = self.run_dir / LAST
        if reason:
            log.info("training ended after epoch %d: %s", self.epoch, reason)
        return Finished(self.epoch, self.best_miou, str(best) if best.is_file() else None,
                        str(last) if last.is_file() else None, cancelled, reason)


def append_line(path: Path, line: str) -> None:
    """Append one line by rewriting the (small) file atomically: a full disk raises `DiskFullError`
    and leaves the earlier lines whole, never a half-written last line."""
    old = path.read_bytes() if path.is_file() else b""
    atomic_write_bytes(path, old + line.encode("utf-8") + b"\n")
