"""The predict dialog: a checkpoint, which images, tiling and flip test-time augmentation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.parts import ok_cancel_buttons, path_row, problem_label
from app.state.project_state import NO_IMAGE, ProjectState
from app.widgets.wheel_guard import guard_wheel
from segcore.project.runs import latest_checkpoint
from segcore.training.checkpoint import checkpoint_config


@dataclass(frozen=True)
class PredictChoice:
    """What to predict, in `PredictionController.predict`'s terms."""

    checkpoint: Path
    which: str
    """One of `app.predictions.WHICH`."""
    tile: int | None
    """Tile size in pixels, or None for automatic (whole image, tiled only when it is too big)."""
    tta: bool
    one_region: bool = False
    """Each class keeps its largest region, holes filled (frames holding one object per class); the dialog
    starts from the checkpoint's own setting."""


class PredictDialog(QDialog):
    """Asks what to predict; `values()` holds the answer."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Predict")
        self.checkpoint = QLineEdit(placeholderText="A checkpoint (.pt) trained on this project's classes")
        self.browse = QPushButton("Browse…")
        self.selected = QRadioButton("Current image")
        self.sequence = QRadioButton("This acquisition's frames not yet predicted with this checkpoint")
        self.sequence.setToolTip("Every frame of the current image's acquisition, less those this checkpoint has "
                                 "predicted already: a prediction cancelled half-way goes on where it stopped.")
        self.unlabelled = QRadioButton("Unlabelled images", checked=True)
        self.all = QRadioButton("All images")
        self.which = QButtonGroup(self)
        buttons = ((self.selected, "selected"), (self.sequence, "sequence"), (self.unlabelled, "unlabelled"),
                   (self.all, "all"))
        for button, key in buttons:
            button.setObjectName(key)
            self.which.addButton(button)
        self.selected.setEnabled(state.current_id != NO_IMAGE)
        on_frame = state.current_id != NO_IMAGE and state.record(state.current_id).sequence_id is not None
        self.sequence.setEnabled(on_frame)
        self.sequence.setChecked(on_frame)
        self.fixed_tile = QCheckBox("Fixed tile size")
        self.fixed_tile.setToolTip("Unchecked: each image is predicted whole, tiled only when it does not fit in memory.")
        self.tile = QSpinBox(minimum=64, maximum=8192, singleStep=64, value=512, suffix=" px", enabled=False)
        self.tta = QCheckBox("Test-time augmentation: labels from the mean of the mirrored views")
        self.one_region = QCheckBox("One region per class, holes filled")
        self.one_region.setToolTip("For frames that hold one object of each class (a sample in an interferogram): "
                                   "each class but background keeps only its largest region, and the holes in it "
                                   "are filled. Do not use it for scenes with many objects of a class. Ticked "
                                   "when the checkpoint was trained so (the Train form's setting).")
        self.problem = problem_label()
        self.buttons, self.ok_button = ok_cancel_buttons(self, "Predict")

        checkpoint_row = path_row(self.checkpoint, self.browse)
        which_box = QVBoxLayout()
        for button, _key in buttons:
            which_box.addWidget(button)
        tile_row = QHBoxLayout()
        tile_row.addWidget(self.fixed_tile)
        tile_row.addWidget(self.tile, 1)
        form = QFormLayout(self)
        form.addRow("Checkpoint", checkpoint_row)
        form.addRow("Images", which_box)
        form.addRow("Tiling", tile_row)
        form.addRow("", self.tta)
        form.addRow("", self.one_region)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self.resize(520, 0)

        self.browse.clicked.connect(self._choose_checkpoint)
        self.fixed_tile.toggled.connect(self.tile.setEnabled)
        self.checkpoint.textChanged.connect(self._validate)
        self.checkpoint.textChanged.connect(self._follow_checkpoint)
        latest = latest_checkpoint(state.store) if state.is_open else None
        if latest is not None:
            self.checkpoint.setText(str(latest))
        guard_wheel(self)
        self._validate()

    def values(self) -> PredictChoice:
        """The choice as the dialog shows it now."""
        return PredictChoice(
            checkpoint=Path(self.checkpoint.text().strip()).expanduser(),
            which=self.which.checkedButton().objectName(),
            tile=self.tile.value() if self.fixed_tile.isChecked() else None,
            tta=self.tta.isChecked(),
            one_region=self.one_region.isChecked(),
        )

    def _validate(self) -> None:
        text = self.checkpoint.text().strip()
        problem = ""
        if not text:
            problem = "Choose a checkpoint (train a model first, or browse for one)."
        elif not Path(text).expanduser().is_file():
            problem = f"{text} is not a file."
        self.problem.setText(problem)
        self.ok_button.setEnabled(not problem)

    def _follow_checkpoint(self) -> None:
        """Tick "one region" as the checkpoint was trained to predict."""
        path = Path(self.checkpoint.text().strip()).expanduser()
        if path.is_file():
            self.one_region.setChecked(bool(checkpoint_config(path).get("one_region")))

    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Checkpoint", self.checkpoint.text(),
                                              "Checkpoints (*.pt);;All files (*)")
        if path:
            self.checkpoint.setText(path)
