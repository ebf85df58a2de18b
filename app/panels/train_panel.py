"""The train panel dock: the run's settings (pre-filled per project), Train / Pause / Resume / Cancel, live curves."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import errors
from app.state.project_state import ProjectState
from app.state.training_session import SessionState, TrainingSession
from app.widgets.curves import TrainingCurves
from app.widgets.wheel_guard import guard_wheel
from app.workers import Worker, WorkerGroup
from segcore.data.readers.base import LabelledSample
from segcore.errors import SegcoreError
from segcore.models import get_model_info, list_models
from segcore.project.defaults import (
    FRINGE_BACKGROUND,
    GRAY_AUGMENT,
    Pretrained,
    default_config,
    mean_image_path,
    pretrained_status,
)
from segcore.project.store import ProjectStore
from segcore.project.transfer import project_dataset
from segcore.training import TrainConfig
from segcore.training.budget import format_duration
from segcore.training.config import OPTIMIZERS, SCHEDULES, ConfigError
from segcore.training.data import split_samples
from segcore.training.events import BatchProgress, EpochMetrics, Finished, LabelsChecked, RunStarted, SchedulePlanned

LOSSES = (
    ("Cross-entropy", "ce"),
    ("Cross-entropy + Dice", "ce+dice"),
    ("Dice", "dice"),
    ("Focal", "focal"),
    ("Asymmetric (ASL)", "asl"),
)
CLASS_WEIGHTS = (("None", "none"), ("Median frequency", "median_freq"),
                 ("Median frequency, square root", "sqrt_median_freq"))
FLIP_PROBABILITY = 0.5
DEFAULT_CLAHE_CLIP = 2.0
FORM_AUGMENT_KEYS = ("hflip", "vflip", "rotation", "invert", "resize", "crop", "clahe", "mean_image",
                     "fringe_features", "fringe_background", "fringe_normalise", "fringe_robust", "fringe_refit",
                     "fringe_side", "phase_sign")
"""The augmentation options the form edits; any other option of a set config is kept as it was."""
COUNTS_DELAY_MS = 500
"""Label edits come in bursts; the train/val counts are re-read once they settle."""
PROGRESS_STEPS = 1000
UNTIL_FLAT, BY_EPOCHS = "flat", "epochs"
TRAIN_FOR = (("1 min", "time:60"), ("2 min", "time:120"), ("5 min", "time:300"), ("20 min", "time:1200"),
             ("until it stops improving", UNTIL_FLAT), ("a number of epochs", BY_EPOCHS))
"""The "Train for" choices: (text, value); a time budget is "time:SECONDS" (another budget is added as it comes)."""
STOPPING = "Stopping after the current batch…"
IOU_TABLE_HEIGHT = 120


@dataclass(frozen=True)
class _ProjectFacts:
    """What the panel reads from the project in the background."""

    store: ProjectStore
    samples: list[LabelledSample]
    """The labelled images (for the train/val counts)."""
    config: TrainConfig | None
    """The project's default settings, when asked for."""


def _project_facts(store: ProjectStore, with_defaults: bool) -> _ProjectFacts:
    return _ProjectFacts(store, list(project_dataset(store).samples), default_config(store) if with_defaults else None)


def _probe_pretrained(model: str) -> tuple[str, Pretrained, str]:
    return (model, *pretrained_status(model))


def device_choices() -> list[tuple[str, str]]:
    """(label, TrainConfig.device) pairs: automatic (naming what it picks), the CPU, each CUDA GPU by name."""
    gpus = [(f"GPU {i}: {torch.cuda.get_device_name(i)}", f"cuda:{i}") for i in range(torch.cuda.device_count())]
    if gpus:
        auto = gpus[0][0].split(": ", 1)[1]
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        auto = "Apple GPU (MPS)"
    else:
        auto = "CPU"
    return [(f"Automatic ({auto})", "auto"), ("CPU", "cpu"), *gpus]


def budget_text(seconds: float) -> str:
    """'5 min', '90 s', '1 h 30 min': a time budget as the "Train for" list shows it."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes) + [f"{secs} s"] * bool(secs)
    return " ".join(parts) or "0 s"


def train_for_value(config: TrainConfig) -> str:
    """The "Train for" choice a config stands for."""
    if config.time_budget_s is not None:
        return f"time:{config.time_budget_s:g}"
    return UNTIL_FLAT if config.until_flat else BY_EPOCHS


def _combo(items: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> QComboBox:
    combo = QComboBox()
    for text, value in items:
        combo.addItem(text, value)
    return combo


def _select(combo: QComboBox, value: str) -> None:
    """Select the item whose data is `value`, adding it (shown as is) when the list lacks it."""
    index = combo.findData(value)
    if index < 0:
        combo.addItem(value, value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


class TrainPanel(QDockWidget):
    """Edit a TrainConfig, start the run through the TrainingSession, watch it learn."""

    defaults_loaded = Signal()
    """The form holds the open project's default settings (they are read in the background)."""

    def __init__(self, state: ProjectState, session: TrainingSession, parent: QWidget | None = None) -> None:
        super().__init__("Train", parent)
        self.setObjectName("TrainPanel")
        self._state = state
        self._session = session
        self._workers = WorkerGroup()
        state.about_to_close.connect(self._workers.wait)  # background reads of the store end first
        self._base = TrainConfig()
        self._samples: list[LabelledSample] = []
        self._epochs_total = 0
        self._budget_s: float | None = None
        self._planned = True
        """False while a run with a time budget times its first epoch (its epochs are not known yet)."""
        self._pretrained_available = False
        self._defaults_shown: TrainConfig | None = None

        settings = self._build_settings()
        monitor = self._build_monitor()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(settings)
        splitter.addWidget(monitor)
        # Both halves grow with the dock: the form (it scrolls) and the curves (they have a readable minimum).
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(1, False)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.setWidget(body)
        guard_wheel(body)  # scrolling the form must not change the values under the pointer

        self._counts_timer = QTimer(self, singleShot=True, interval=COUNTS_DELAY_MS)
        self._counts_timer.timeout.connect(self._reload_samples)

        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.val_spin.valueChanged.connect(self._show_split)
        self.train_for_combo.currentIndexChanged.connect(self._show_train_for)
        self.init_check.toggled.connect(self._update_enabled)
        self.browse_button.clicked.connect(self._browse_checkpoint)
        self.defaults_button.clicked.connect(self._load_defaults)
        self.train_button.clicked.connect(self.train)
        self.pause_button.clicked.connect(session.pause)
        self.resume_button.clicked.connect(session.resume)
        self.cancel_button.clicked.connect(session.cancel)

        session.started.connect(self._on_started)
        session.run_started.connect(self._on_run_started)
        session.progress.connect(self._on_progress)
        session.planned.connect(self._on_planned)
        session.epoch.connect(self._on_epoch)
        session.notice.connect(self._show_notice)
        self._labels_checked: LabelsChecked | None = None
        session.labels_checked.connect(self._on_labels_checked)
        session.finished.connect(self._on_finished)
        session.failed.connect(self._on_failed)
        session.state_changed.connect(self._update_enabled)
        state.project_opened.connect(self._load_defaults)
        state.project_closed.connect(self._on_project_closed)
        state.images_changed.connect(self._counts_timer.start)
        state.record_changed.connect(self._counts_timer.start)
        state.class_table_changed.connect(self._reset_iou_table)

        self.set_form(self._base)
        if state.is_open:
            self._load_defaults()
        self._update_enabled()

    # -- building ------------------------------------------------------------------------------------------
    def _build_settings(self) -> QScrollArea:
        self.model_combo = QComboBox()
        for name in list_models():
            self.model_combo.addItem(name, name)
            self.model_combo.setItemData(self.model_combo.count() - 1, get_model_info(name).description,
                                         Qt.ItemDataRole.ToolTipRole)
        self.model_description = QLabel(wordWrap=True)
        self.width_spin = QSpinBox(minimum=4, maximum=256, singleStep=8,
                                   toolTip="U-Net base channels: 16 or 32 for few images, 64 as in the paper")
        self.pretrained_check = QCheckBox("Pretrained backbone (ImageNet)")
        self.pretrained_label = QLabel(wordWrap=True)

        self.loss_combo = _combo(LOSSES)
        self.weights_combo = _combo(CLASS_WEIGHTS)
        self.weights_combo.setToolTip("Median frequency weighs rare classes up (strong class imbalance); its square root "
                                      "lifts them less, so they are less often predicted where they are not "
                                      "(the default for scenes: docs/results.md)")
        self.optimizer_combo = _combo([(name, name) for name in OPTIMIZERS])
        self.lr_spin = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-4)
        self.schedule_combo = _combo([(name, name) for name in SCHEDULES])
        self.train_for_combo = _combo(TRAIN_FOR)
        self.train_for_combo.setToolTip("A time budget: the first epochs are timed and the run gets the epochs that "
                                        "fit (the learning-rate schedule spans them). Until it stops improving: "
                                        "validation mIoU (training loss without validation) no better for a while")
        self.epochs_spin = QSpinBox(minimum=1, maximum=100_000)
        self.epochs_label = QLabel("Epochs")
        self.batch_spin = QSpinBox(minimum=1, maximum=1024)

        self.resize_spin = QSpinBox(minimum=0, maximum=65_536, singleStep=64, specialValueText="off",
                                    suffix=" px", toolTip="Resize every image so its long side is this (train and val)")
        self.crop_spin = QSpinBox(minimum=0, maximum=65_536, singleStep=32, specialValueText="off",
                                  suffix=" px", toolTip="Train on random square crops of this side (off: whole images)")
        self._side_spins = {"resize": self.resize_spin, "crop": self.crop_spin}
        self.hflip_check = QCheckBox("Horizontal flips")
        self.vflip_check = QCheckBox("Vertical flips")
        self.rotation_spin = QSpinBox(minimum=0, maximum=180, specialValueText="off", suffix="°",
                                      toolTip="Random rotation up to this many degrees")
        self.invert_check = QCheckBox("Bright and dark swapped in half the samples")
        self.invert_check.setToolTip("Half the training samples have their intensities mirrored, so a network "
                                     "trained on samples darker than their surroundings also finds brighter ones, "
                                     "and the other way round. On by default for grayscale projects.")
        self.clahe_check = QCheckBox("CLAHE (local contrast)")
        self.fringe_check = QCheckBox("Fringe analysis channels (interferograms)")
        self.fringe_check.setToolTip("The network also sees the fringes' local contrast and amplitude (relative to the "
                                     "frame's) and the demodulated phase (Fourier fringe analysis at up to 1024 px, "
                                     "without the illumination, less the optics' tilt, defocus, astigmatism, coma and "
                                     "spherical aberration; the phase's sign varied in training, as it is the "
                                     "analysis's choice): samples stand out from far fewer labels. Grayscale only.")
        self.pseudo_check = QCheckBox("Learn from unlabelled frames (pseudo-labels)")
        self.pseudo_check.setToolTip("Half-way through the run the model labels the project's unlabelled frames; its "
                                     "confident pixels train the rest of the run beside your labels. They are kept in "
                                     "the run's folder and never change a label of the project.")
        self.one_region_check = QCheckBox("Predict one region per class, holes filled")
        self.one_region_check.setToolTip("For frames that hold one object of each class (a sample in an interferogram): "
                                         "the run's predictions keep each class's largest region and fill its holes. "
                                         "On by default when every labelled frame read holds one region per class; "
                                         "Predict can still turn it off.")
        self.mean_check = QCheckBox("Subtract the mean image",
                                    toolTip="Removes the fringe pattern common to all frames (images of one size); "
                                    "with CLAHE, frames and mean image are equalised alike before the subtraction")

        self.val_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.9, singleStep=0.05)
        self.split_label = QLabel()
        self.device_combo = _combo(device_choices())
        self.name_edit = QLineEdit(placeholderText="unnamed: after the model, labels and length")
        self.init_check = QCheckBox("Continue from checkpoint")
        self.init_edit = QLineEdit(placeholderText="checkpoint (.pt) whose weights the run starts from")
        self.browse_button = QPushButton("…", toolTip="Choose a checkpoint")
        self.defaults_button = QPushButton("Defaults", toolTip="The settings suggested for this project")

        model_box = QGroupBox("Model")
        form = QFormLayout(model_box)
        form.addRow("Model", self.model_combo)
        form.addRow(self.model_description)
        form.addRow("U-Net width", self.width_spin)
        form.addRow(self.pretrained_check)
        form.addRow(self.pretrained_label)

        optim_box = QGroupBox("Loss and optimisation")
        form = QFormLayout(optim_box)
        form.addRow("Loss", self.loss_combo)
        form.addRow("Class weights", self.weights_combo)
        form.addRow("Optimiser", self.optimizer_combo)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Schedule", self.schedule_combo)
        form.addRow("Batch", self.batch_spin)

        data_box = QGroupBox("Data")
        form = QFormLayout(data_box)
        form.addRow("Resize", self.resize_spin)
        form.addRow("Crop", self.crop_spin)
        form.addRow(self.hflip_check)
        form.addRow(self.vflip_check)
        form.addRow("Rotation", self.rotation_spin)
        form.addRow(self.invert_check)
        form.addRow(self.clahe_check)
        form.addRow(self.fringe_check)
        form.addRow(self.mean_check)
        form.addRow(self.pseudo_check)
        form.addRow(self.one_region_check)
        form.addRow("Validation", self.val_spin)
        form.addRow(self.split_label)

        run_box = QGroupBox("Run")
        form = QFormLayout(run_box)
        form.addRow("Device", self.device_combo)
        form.addRow("Name", self.name_edit)
        init_row = QHBoxLayout()
        init_row.addWidget(self.init_edit)
        init_row.addWidget(self.browse_button)
        form.addRow(self.init_check)
        form.addRow(init_row)
        form.addRow(self.defaults_button)

        self.settings = QWidget()
        layout = QVBoxLayout(self.settings)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (model_box, optim_box, data_box, run_box):
            layout.addWidget(box)
        layout.addStretch(1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.settings)
        return scroll

    def _build_monitor(self) -> QWidget:
        self.train_button = QPushButton("Train")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.progress_bar = QProgressBar(minimum=0, maximum=PROGRESS_STEPS, value=0)
        self.eta_label = _HiddenWhenEmpty()
        self.status_label = _HiddenWhenEmpty(wordWrap=True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes_label = _HiddenWhenEmpty(wordWrap=True)
        """What the run said about its data (conversions, padding, pseudo-labels): kept after it ends."""
        self.notes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.curves = TrainingCurves()
        self.iou_table = QTableWidget(0, 2)
        self.iou_table.setHorizontalHeaderLabels(["Class", "IoU"])
        self.iou_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.iou_table.verticalHeader().setVisible(False)
        self.iou_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.iou_table.setMaximumHeight(IOU_TABLE_HEIGHT)  # it scrolls: the form above needs the room more

        buttons = QHBoxLayout()
        for button in (self.train_button, self.pause_button, self.resume_button, self.cancel_button):
            buttons.addWidget(button)
        length = QFormLayout()  # the setting changed most, beside the button: never scrolled out of sight
        length.addRow("Train for", self.train_for_combo)
        length.addRow(self.epochs_label, self.epochs_spin)
        monitor = QWidget()
        layout = QVBoxLayout(monitor)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(length)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.eta_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.curves, stretch=3)
        layout.addWidget(self.iou_table, stretch=1)
        return monitor

    # -- the form <-> TrainConfig ----------------------------------------------------------------------------
    def set_form(self, config: TrainConfig) -> None:
        """Show `config`; options the form has no control for are kept for `config_from_form`."""
        self._base = dataclasses.replace(config, model_kwargs=dict(config.model_kwargs),
                                         augment=dict(config.augment), loss_kwargs=dict(config.loss_kwargs))
        augment = config.augment
        with QSignalBlocker(self.model_combo):  # one pretrained-weights check, below
            _select(self.model_combo, config.model)
        self.width_spin.setValue(int(config.model_kwargs.get("base_channels", 64)))
        self.pretrained_check.setChecked(config.pretrained_backbone)
        _select(self.loss_combo, config.loss)
        _select(self.weights_combo, config.class_weights)
        _select(self.optimizer_combo, config.optimizer)
        self.lr_spin.setValue(config.lr)
        _select(self.schedule_combo, config.schedule)
        self.epochs_spin.setValue(config.epochs)
        value = train_for_value(config)
        if value.startswith("time:") and self.train_for_combo.findData(value) < 0:  # e.g. the defaults' 4 min
            self.train_for_combo.insertItem(_budget_position(self.train_for_combo, config.time_budget_s),
                                            budget_text(config.time_budget_s), value)
        _select(self.train_for_combo, value)
        self._show_train_for()
        self.batch_spin.setValue(config.batch_size)
        for key, spin in self._side_spins.items():
            value = augment.get(key)
            custom = value is not None and not _side(value)  # a scale or an (h, w): kept as set
            spin.setSpecialValueText(f"{value} (as set)" if custom else "off")
            spin.setValue(_side(value))
        self.hflip_check.setChecked(bool(augment.get("hflip", FLIP_PROBABILITY)))  # AugmentConfig's own default
        self.vflip_check.setChecked(bool(augment.get("vflip", 0.0)))
        self.rotation_spin.setValue(int(augment.get("rotation", 0)))
        self.invert_check.setChecked(bool(augment.get("invert", 0.0)))
        self.clahe_check.setChecked(augment.get("clahe") is not None)
        self.fringe_check.setChecked(bool(augment.get("fringe_features")))
        gray = self._state.is_open and all(record.channels == 1 for record in self._state.images)
        self.fringe_check.setEnabled(gray or self.fringe_check.isChecked())  # colour frames have no fringe analysis
        self.mean_check.setChecked(augment.get("mean_image") is not None)
        self.pseudo_check.setChecked(config.pseudo_labels)
        self.one_region_check.setChecked(config.one_region)
        self.val_spin.setValue(config.val_fraction)
        _select(self.device_combo, config.device)
        self._on_model_changed()
        self.mean_check.setEnabled(self._can_subtract_mean())
        self._show_split()

    def config_from_form(self) -> TrainConfig:
        """The TrainConfig the form describes."""
        base = self._base
        model = self.model_combo.currentData()
        kwargs = dict(base.model_kwargs) if model == base.model else {}
        if model == "unet":
            kwargs["base_channels"] = self.width_spin.value()
        augment = {key: value for key, value in base.augment.items() if key not in FORM_AUGMENT_KEYS}
        augment["hflip"] = FLIP_PROBABILITY if self.hflip_check.isChecked() else 0.0
        augment["vflip"] = FLIP_PROBABILITY if self.vflip_check.isChecked() else 0.0
        if self.rotation_spin.value():
            augment["rotation"] = float(self.rotation_spin.value())
        if self.invert_check.isChecked():
            augment["invert"] = base.augment.get("invert") or GRAY_AUGMENT["invert"]  # a share set by hand is kept
        for key, spin in self._side_spins.items():
            if spin.value():
                augment[key] = spin.value()
            elif base.augment.get(key) is not None and not _side(base.augment[key]):
                augment[key] = base.augment[key]
        if self.fringe_check.isChecked():
            augment["fringe_features"] = True
            augment["fringe_background"] = base.augment.get("fringe_background", FRINGE_BACKGROUND)
            # Today's analysis, unless the base config says otherwise.
            for key in ("fringe_normalise", "fringe_robust", "fringe_refit", "fringe_side"):
                augment[key] = base.augment.get(key, GRAY_AUGMENT[key])
            augment["phase_sign"] = base.augment.get("phase_sign", GRAY_AUGMENT["phase_sign"])  # part of today's analysis
        if self.clahe_check.isChecked():
            augment["clahe"] = base.augment.get("clahe") or DEFAULT_CLAHE_CLIP
        if self.mean_check.isChecked() and self._state.is_open:
            augment["mean_image"] = str(mean_image_path(self._state.store))
        return dataclasses.replace(
            base,
            model=model,
            model_kwargs=kwargs,
            pretrained_backbone=self.pretrained_check.isChecked() and self._pretrained_available,
            loss=self.loss_combo.currentData(),
            loss_kwargs=dict(base.loss_kwargs),
            class_weights=self.weights_combo.currentData(),
            optimizer=self.optimizer_combo.currentData(),
            lr=self.lr_spin.value(),
            schedule=self.schedule_combo.currentData(),
            epochs=self.epochs_spin.value(),
            **self._train_for(base),
            batch_size=self.batch_spin.value(),
            augment=augment,
            val_fraction=self.val_spin.value(),
            pseudo_labels=self.pseudo_check.isChecked(),
            one_region=self.one_region_check.isChecked(),
            device=self.device_combo.currentData(),
        )

    def _train_for(self, base: TrainConfig) -> dict:
        """The "Train for" choice as TrainConfig options (a budget keeps "until flat" only if it came with it)."""
        value = self.train_for_combo.currentData()
        if value.startswith("time:"):
            return {"time_budget_s": float(value.split(":", 1)[1]),
                    "until_flat": base.until_flat and base.time_budget_s is not None}
        return {"time_budget_s": None, "until_flat": value == UNTIL_FLAT}

    def _show_train_for(self) -> None:
        by_epochs = self.train_for_combo.currentData() == BY_EPOCHS
        self.epochs_label.setText("Epochs" if by_epochs else "At most (epochs)")
        self.epochs_spin.setToolTip("" if by_epochs else "The most epochs the run may take")

    def set_init_from(self, path: str | None) -> None:
        """Start the next run from this checkpoint's weights (None: from scratch)."""
        self.init_check.setChecked(path is not None)
        self.init_edit.setText(path or "")

    # -- actions -------------------------------------------------------------------------------------------
    def train(self) -> None:
        """Start a run with the form's settings (the Train button)."""
        config = self.config_from_form()
        init_from = self.init_edit.text().strip() if self.init_check.isChecked() else None
        try:
            config.validate()
            if self.init_check.isChecked() and not init_from:
                raise ConfigError("choose the checkpoint to continue from, or untick 'Continue from checkpoint'")
        except SegcoreError as exc:
            errors.show_error(str(exc), parent=self)
            return
        self._session.start(config, name=self.name_edit.text().strip() or None, init_from=init_from)

    # -- project -------------------------------------------------------------------------------------------
    def _load_defaults(self) -> None:
        if not self._state.is_open:
            return
        self._run(Worker(_project_facts, self._state.store, True), self._apply_facts)

    def _reload_samples(self) -> None:
        # A form the user has not touched follows the project: labelling the first frames changes the
        # defaults (a validation split once there are enough labels, epochs for the number of images).
        if self._state.is_open:
            self._run(Worker(_project_facts, self._state.store, self.shows_defaults()), self._apply_facts)

    def shows_defaults(self) -> bool:
        """True while the form holds the project's defaults as loaded (the user changed nothing)."""
        if self._defaults_shown is None:
            return False
        # Whether pretrained weights are in the cache is checked after the form is filled: not an edit.
        return _ignoring_weights(self.config_from_form()) == _ignoring_weights(self._defaults_shown)

    def _apply_facts(self, facts: _ProjectFacts) -> None:
        if not self._state.is_open or self._state.store is not facts.store:
            return  # the project closed (or changed) while its facts were read
        self._samples = facts.samples
        if facts.config is None:
            self._show_split()
            return
        self.set_form(facts.config)
        self._defaults_shown = self.config_from_form()
        self._reset_iou_table()
        self._update_enabled()
        self.defaults_loaded.emit()

    def _on_project_closed(self) -> None:
        self._samples = []
        self._defaults_shown = None
        self._show_split()
        self.iou_table.setRowCount(0)
        if not self._session.is_running:  # the last run's curves and words belong to the project that closed
            self.curves.clear()
            self.progress_bar.setValue(0)
            self.status_label.clear()
        self._update_enabled()

    def _run(self, worker: Worker, on_return: Callable[[Any], None]) -> None:
        """Start a background read whose result goes to `on_return` (a method: disconnected if the panel goes)."""
        worker.returned.connect(on_return)
        self._workers.start(worker)

    # -- form behaviour ------------------------------------------------------------------------------------
    def _on_model_changed(self) -> None:
        model = self.model_combo.currentData()
        self.model_description.setText(get_model_info(model).description)
        self.width_spin.setEnabled(model == "unet")
        self._pretrained_available = False  # until the cache is checked (builds the model, off the GUI thread)
        self.pretrained_check.setEnabled(False)
        self.pretrained_label.setText("Checking for pretrained weights…")
        self._run(Worker(_probe_pretrained, model), self._show_pretrained)

    def _show_pretrained(self, result: tuple[str, Pretrained, str]) -> None:
        model, status, message = result
        if model != self.model_combo.currentData():
            return  # the model changed again since this check started
        self._pretrained_available = status is Pretrained.CACHED
        self.pretrained_check.setEnabled(self._pretrained_available)
        if not self._pretrained_available:
            self.pretrained_check.setChecked(False)
        self.pretrained_label.setText({
            Pretrained.UNSUPPORTED: "This model trains from scratch (no pretrained backbone).",
            Pretrained.MISSING: f"No pretrained weights in the cache; training from scratch. {message}",
            Pretrained.CACHED: message,
        }[status])

    def _show_split(self) -> None:
        train, val = split_samples(self._samples, self.val_spin.value(), self._base.seed)
        self.split_label.setText(f"{len(train)} training / {len(val)} validation images")

    def _can_subtract_mean(self) -> bool:
        return self._state.is_open and len({(r.width, r.height, r.channels) for r in self._state.images}) == 1

    def _browse_checkpoint(self) -> None:
        start = str(self._state.store.root) if self._state.is_open else ""
        path, _ = QFileDialog.getOpenFileName(self, "Continue from checkpoint", start, "Checkpoints (*.pt)")
        if path:
            self.set_init_from(path)

    def _update_enabled(self) -> None:
        state = self._session.state
        is_open = self._state.is_open
        idle = state is SessionState.IDLE
        self.settings.setEnabled(is_open and idle)
        self.init_edit.setEnabled(self.init_check.isChecked())
        self.browse_button.setEnabled(self.init_check.isChecked())
        self.train_button.setEnabled(self._state.editable and idle)  # a run is recorded in the project
        self.pause_button.setEnabled(state is SessionState.RUNNING)
        self.resume_button.setEnabled(state is SessionState.PAUSED)
        self.cancel_button.setEnabled(state in (SessionState.RUNNING, SessionState.PAUSED))
        self.cancel_button.setText("Stopping…" if state is SessionState.CANCELLING else "Cancel")
        if state is SessionState.PAUSED:
            self.eta_label.setText("Paused (before the next batch)")
        elif state is SessionState.CANCELLING:
            self.eta_label.setText(STOPPING)

    # -- session events --------------------------------------------------------------------------------------
    def _on_started(self) -> None:
        self.curves.clear()
        self._reset_iou_table()
        self.progress_bar.setValue(0)
        self.status_label.setText("Preparing the data…")
        self._labels_checked = None
        self.notes_label.clear()
        self.eta_label.clear()
        self.eta_label.setToolTip("")

    def _on_run_started(self, event: RunStarted) -> None:
        self._epochs_total = event.epochs
        resumed = f", resumed at epoch {event.start_epoch}" if event.start_epoch > 1 else ""
        # A resumed budgeted run keeps the epochs it planned: RunStarted already says them.
        self._budget_s = event.time_budget_s if event.start_epoch == 1 else None
        self._planned = self._budget_s is None
        if self._budget_s is not None:
            length = f"for {format_duration(self._budget_s)} (at most {event.epochs} epochs)"
        elif event.until_flat:
            length = f"until it stops improving (at most {event.epochs} epochs)"
        else:
            length = f"{event.epochs} epochs"
        self.status_label.setText(
            f"Training {event.model} on {event.device}: {event.train_images} training / "
            f"{event.val_images} validation images, {length}{resumed}"
        )

    def _on_planned(self, event: SchedulePlanned) -> None:
        self._epochs_total, self._planned = event.epochs, True
        self.eta_label.setToolTip(event.message)

    def _on_progress(self, event: BatchProgress) -> None:
        position = event.epoch - 1 + event.batch / event.batches
        self.curves.add_batch(position, event.loss)
        total = max(self._epochs_total, event.epoch)
        if self._planned:
            fraction, epoch = position / total, f"Epoch {event.epoch}/{total}"
        else:  # timing the first epoch: the budget is the measure (the trainer's ETA is at most what is left of it)
            fraction = 1.0 - event.eta_s / self._budget_s
            epoch = f"Epoch {event.epoch} (timing it to plan {format_duration(self._budget_s)})"
        self.progress_bar.setValue(round(PROGRESS_STEPS * min(max(fraction, 0.0), 1.0)))
        if self._session.state is SessionState.RUNNING:
            self.eta_label.setText(
                f"{epoch} · batch {event.batch}/{event.batches} · "
                f"{event.images_per_s:.1f} images/s · ETA {format_duration(event.eta_s)}"
            )

    def _on_epoch(self, event: EpochMetrics) -> None:
        self.curves.add_epoch(event.epoch, {"train_loss": event.train_loss, "val_loss": event.val_loss,
                                            "val_miou": event.val_miou})
        self._reset_iou_table()
        for row, iou in enumerate(event.per_class_iou[: self.iou_table.rowCount()]):
            self.iou_table.setItem(row, 1, QTableWidgetItem("—" if iou is None else f"{iou:.3f}"))

    def _on_finished(self, event: Finished) -> None:
        # Few labels all train (no validation): say so rather than show an empty score.
        best = ("no validation images, so no mIoU (review the predictions)" if event.best_miou is None
                else f"best validation mIoU {event.best_miou:.3f}")
        if event.cancelled:
            self.status_label.setText(f"Cancelled after epoch {event.epochs}; {best}")
        else:
            self.progress_bar.setValue(PROGRESS_STEPS)
            reason = f" ({event.reason})" if event.reason else ""
            checked = self._labels_checked
            if checked is not None:  # what the user should read: did the model learn its own labels?
                best = checked.describe()
                best = f"<span style='color:#b00020'>{best}</span>" if checked.failed else best
            epochs = f"{event.epochs} epoch{'' if event.epochs == 1 else 's'}"  # a minute on a busy CPU buys one
            self.status_label.setText(f"Finished {epochs}{reason}; {best}")
        self.eta_label.clear()

    def _on_labels_checked(self, event: LabelsChecked) -> None:
        self._labels_checked = event

    def _on_failed(self, message: str) -> None:
        self.status_label.setText(f"<span style='color:#b00020'>{message.splitlines()[0]}</span>")
        self.eta_label.clear()
        errors.show_error(message, parent=self)

    def _show_notice(self, text: str) -> None:
        self.notes_label.setText(f"{self.notes_label.text()}\n{text}".strip())

    def _reset_iou_table(self) -> None:
        names = self._state.class_table.names if self._state.is_open else []
        self.iou_table.setRowCount(len(names))
        for row, name in enumerate(names):
            self.iou_table.setItem(row, 0, QTableWidgetItem(name))
            self.iou_table.setItem(row, 1, QTableWidgetItem(""))


def _ignoring_weights(config: TrainConfig) -> TrainConfig:
    return dataclasses.replace(config, pretrained_backbone=False)


def _side(value: object) -> int:
    """The form's single number for a crop or resize option: an int, or 0 for none or another form."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


class _HiddenWhenEmpty(QLabel):
    """A line of the monitor that takes no room while it says nothing (the form above is short of rows)."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.hide()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self.setVisible(bool(text))

    def clear(self) -> None:
        super().clear()
        self.hide()


def _budget_position(combo: QComboBox, seconds: float) -> int:
    """Where a time budget goes among the "Train for" choices: after the shorter budgets, before the longer."""
    for index in range(combo.count()):
        data = str(combo.itemData(index))
        if not data.startswith("time:") or float(data.split(":", 1)[1]) > seconds:
            return index
    return combo.count()
