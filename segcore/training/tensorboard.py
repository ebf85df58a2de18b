"""Epoch metrics as TensorBoard scalars in `<run_dir>/tensorboard`, when the optional tensorboard package is installed."""

from __future__ import annotations

import logging
from pathlib import Path

from segcore.training.events import EpochMetrics, Event

log = logging.getLogger(__name__)

SCALARS = ("train_loss", "val_loss", "val_miou", "pixel_acc", "lr")
SUBDIR = "tensorboard"


class TensorBoardLog:
    """A sink for the trainer's events; does nothing without tensorboard. Use as a context manager so it closes."""

    def __init__(self, run_dir: str | Path) -> None:
        self.writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter  # needs the optional tensorboard package
        except ImportError:
            log.info("tensorboard is not installed; metrics go to %s only", Path(run_dir) / "metrics.jsonl")
            return
        self.writer = SummaryWriter(str(Path(run_dir) / SUBDIR))

    def __enter__(self) -> TensorBoardLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, event: Event) -> None:
        if self.writer is None or not isinstance(event, EpochMetrics):
            return
        for key in SCALARS:
            value = getattr(event, key)
            if value is not None:
                self.writer.add_scalar(key, value, event.epoch)
        self.writer.flush()  # a run watched live, or killed, still shows every finished epoch

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
