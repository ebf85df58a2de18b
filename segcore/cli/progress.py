"""Training events on a terminal: a tqdm bar per epoch, one line per epoch, TensorBoard if installed."""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm import tqdm

from segcore.training.events import (
    BatchProgress,
    BatchSizeReduced,
    CheckpointSaved,
    EpochMetrics,
    Event,
    RunStarted,
)

log = logging.getLogger(__name__)


class ConsoleReporter:
    """A callable for `Trainer.fit`; use as a context manager so the bar and writer close."""

    def __init__(self, run_dir: Path, *, enabled: bool = True):
        self.enabled = enabled
        self.run_dir = run_dir
        self.bar: tqdm | None = None
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import (
                    SummaryWriter,  # needs the optional tensorboard package
                )

                self.writer = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                log.info("tensorboard is not installed; metrics go to %s only", run_dir / "metrics.jsonl")

    def __enter__(self) -> ConsoleReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        if isinstance(event, RunStarted):
            print(f"training {event.model} on {event.device}: {event.train_images} train / {event.val_images} val images, "
                  f"epochs {event.start_epoch}..{event.epochs} -> {event.run_dir}")
            for note in event.notes:
                print(f"  note: {note}")
        elif isinstance(event, BatchProgress):
            if self.bar is None or event.batch == 1:
                if self.bar is not None:
                    self.bar.close()
                # Start at the finished batch: a bar created now and updated at once shows a bogus rate.
                # disable=None: no bar when stderr is not a terminal (logs, pipes get no \r redraws).
                self.bar = tqdm(total=event.batches, initial=event.batch, desc=f"epoch {event.epoch}", unit="batch",
                                leave=False, disable=None)
            else:
                self.bar.update(1)
            self.bar.set_postfix(loss=f"{event.loss:.4f}", img_s=f"{event.images_per_s:.1f}", eta=f"{event.eta_s / 60:.1f}min")
        elif isinstance(event, EpochMetrics):
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            miou = "-" if event.val_miou is None else f"{event.val_miou:.4f}"
            acc = "-" if event.pixel_acc is None else f"{event.pixel_acc:.4f}"
            print(f"epoch {event.epoch}: train loss {event.train_loss:.4f}  val mIoU {miou}  pixel acc {acc}  "
                  f"({event.seconds:.0f} s)")
            if self.writer is not None:
                for key in ("train_loss", "val_loss", "val_miou", "pixel_acc", "lr"):
                    value = getattr(event, key)
                    if value is not None:
                        self.writer.add_scalar(key, value, event.epoch)
        elif isinstance(event, CheckpointSaved) and event.best:
            print(f"  best so far -> {event.path}")
        elif isinstance(event, BatchSizeReduced):
            print(f"  out of memory: batch size {event.old} -> {event.new}")
        # `Failed` is not printed: the error is raised next and `segcore` shows it once, on stderr.
