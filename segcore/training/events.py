"""What a training run reports, as small dataclasses (a GUI, a CLI or a test consumes them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Event:
    def to_dict(self) -> dict:
        return {"event": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    run_dir: str
    device: str
    model: str
    train_images: int
    val_images: int
    start_epoch: int
    epochs: int
    notes: tuple[str, ...] = ()
    """Things the user should know (no pretrained weights found, mixed precision off, ...)."""
    time_budget_s: float | None = None
    """The run's time budget; `epochs` is then the cap until a `SchedulePlanned` says what fits."""
    until_flat: bool = False
    """The run stops early once it stops improving (`epochs` is the cap)."""


@dataclass(frozen=True)
class BatchProgress(Event):
    epoch: int
    batch: int
    """1-based index of the batch just finished."""
    batches: int
    loss: float
    images_per_s: float
    eta_s: float
    """Estimated seconds to the end of the run."""
    lr: float


@dataclass(frozen=True)
class EpochMetrics(Event):
    epoch: int
    train_loss: float
    val_loss: float | None
    val_miou: float | None
    pixel_acc: float | None
    mean_class_acc: float | None
    per_class_iou: list[float | None] = field(default_factory=list)
    lr: float = 0.0
    seconds: float = 0.0


@dataclass(frozen=True)
class SchedulePlanned(Event):
    """A run with a time budget timed its first epoch(s) and chose its number of epochs."""

    after_epoch: int
    epochs: int
    """The run's epochs from now on: the learning-rate schedule spans them."""
    epoch_seconds: float
    budget_s: float
    message: str
    """e.g. 'budget 5:00: ~37 epochs of 8.1 s'."""


@dataclass(frozen=True)
class PseudoLabelled(Event):
    """The model labelled the unlabelled images; their confident pixels train from the next epoch on."""

    after_epoch: int
    images: int
    confident: float
    """Share of their pixels confident enough to train on."""
    seconds: float
    folder: str
    """Where the pseudo-label masks are (the run's folder; never the project's labels)."""
    message: str


@dataclass(frozen=True)
class CheckpointSaved(Event):
    path: str
    epoch: int
    best: bool
    val_miou: float | None


@dataclass(frozen=True)
class BatchSizeReduced(Event):
    """The GPU ran out of memory; the run continues with a smaller batch."""

    old: int
    new: int
    reason: str


@dataclass(frozen=True)
class Finished(Event):
    epochs: int
    best_miou: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    cancelled: bool = False
    reason: str = ""
    """Why the run ended before its epochs were done ("time budget 5:00 reached ...", "stopped improving ..."); "" otherwise."""


def fails_as_a_whole(failing: int, images: int) -> bool:
    """Half or more of a run's labelled frames not reproduced: the run, not a few frames, has failed."""
    return 2 * failing >= images


@dataclass(frozen=True)
class LabelsChecked(Event):
    """After a finished run: its best checkpoint, predicting the frames it was trained on as the app predicts.

    A network that cannot reproduce its own labels has failed as a whole (a collapse, a run too short, a label it
    refused to learn), whatever it estimates of other frames: the project-level "check this"."""

    images: int
    mean_iou: float | None
    """Mean over those frames of their mean IoU over the classes present (None: none could be scored)."""
    failing: tuple[str, ...] = ()
    """The frames below `floor`, worst first."""
    floor: float = 0.5

    @property
    def failed(self) -> bool:
        return bool(self.failing)

    def describe(self) -> str:
        """One sentence for the user: how well the labelled frames came back, and what to do when they did not."""
        if self.mean_iou is None:
            return "the labelled frames could not be predicted back"
        text = f"labelled frames predicted back: mean IoU {self.mean_iou:.2f} over {self.images}"
        if not self.failing:
            return text
        names = ", ".join(self.failing[:3]) + (", ..." if len(self.failing) > 3 else "")
        text = f"{text}; {len(self.failing)} below {self.floor:.2f} ({names})"
        if not fails_as_a_whole(len(self.failing), self.images):  # a few: frames like them are likely missed too
            return (f"{text}: the model did not learn these, and frames like them are likely wrong too. Check those "
                    f"labels, or train longer")
        return (f"{text}: this model does not reproduce its own labels, so its other predictions are not to be "
                f"trusted. Train longer or again (another seed), or check those labels")


@dataclass(frozen=True)
class Failed(Event):
    error: str
    error_type: str
