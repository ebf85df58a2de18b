"""Training events on a terminal: a tqdm bar per epoch, one line per epoch (the trainer writes TensorBoard logs)."""

from __future__ import annotations

from tqdm import tqdm

from segcore.cli.bars import bars_disabled
from segcore.training.events import (
    BatchProgress,
    BatchSizeReduced,
    CheckpointSaved,
    EpochMetrics,
    Event,
    Finished,
    LabelsChecked,
    PseudoLabelled,
    RunStarted,
    SchedulePlanned,
)


class ConsoleReporter:
    """A callable for `Trainer.fit`; use as a context manager so the bar and writer close."""

    def __init__(self, *, enabled: bool = True):
        self.enabled = enabled
        self.bar: tqdm | None = None

    def __enter__(self) -> ConsoleReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

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
                self.bar = tqdm(total=event.batches, initial=event.batch, desc=f"epoch {event.epoch}", unit="batch",
                                leave=False, disable=bars_disabled())
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
        elif isinstance(event, CheckpointSaved) and event.best:
            print(f"  best so far -> {event.path}")
        elif isinstance(event, BatchSizeReduced):
            print(f"  out of memory: batch size {event.old} -> {event.new}")
        elif isinstance(event, SchedulePlanned | PseudoLabelled):
            print(f"  {event.message}")
        elif isinstance(event, LabelsChecked):
            print(f"{'WARNING: ' if event.failed else ''}{event.describe()}")
        elif isinstance(event, Finished) and event.reason:
            print(f"  {event.reason}")
        # `Failed` is not printed: the error is raised next and `segcore` shows it once, on stderr.
