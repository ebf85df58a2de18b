"""The export dialog: labels or predictions of chosen images, in chosen formats, written in the background."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.parts import path_row
from app.state.project_state import NO_IMAGE, ProjectState
from app.widgets.wheel_guard import guard_wheel
from app.workers import Worker
from segcore.project.export import ExportProgress, export_project_masks
from segcore.project.store import ImageStatus

log = logging.getLogger(__name__)

FORMAT_LABELS: dict[str, str] = {
    "palette": "Palette PNG (value = class index)",
    "color": "Colour mask",
    "overlay": "Overlay on the image",
    "labelme": "labelme JSON",
    "voc": "VOC folder",
    "coco": "COCO folder (annotations.json)",
    "binary": "Binary mask per class",
}
SKIPPED_SHOWN = 5
"""How many skip reasons the summary lists before it only counts them."""


class ExportDialog(QDialog):
    """Asks what to export and runs `segcore.project.export.export_project_masks` in a `Worker`."""

    export_finished = Signal(int, int)
    """(files written, images skipped) when an export has ended, completed or cancelled."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self._state = state
        self._worker: Worker | None = None
        self._close_when_done = False
        self._files = 0
        self._skipped: list[str] = []
        self._replaced: list[str] = []
        """Images whose files from an earlier export into the folder held their other source."""
        self._completed = self._cancelled = False

        self.folder = QLineEdit(placeholderText="Output folder (one sub-folder per format)")
        self.browse = QPushButton("Browse…")
        self.labels = QRadioButton("Labels", checked=True)
        self.predictions = QRadioButton("Predictions")
        self.either = QRadioButton("Labels, else predictions")
        self.either.setToolTip("Each image's label where it has one, else its prediction (manifest.csv says which)")
        self.source = _group(self, {"labels": self.labels, "predictions": self.predictions,
                                    "labels_else_predictions": self.either})
        self.all_images = QRadioButton("All images", checked=True)
        self.current_image = QRadioButton("Current image")
        self.current_image.setEnabled(state.current_id != NO_IMAGE)
        self.by_status = QRadioButton("Images with status:")
        self.which = _group(self, {"all": self.all_images, "current": self.current_image, "status": self.by_status})
        self.statuses = {status: QCheckBox(status.value, checked=status is not ImageStatus.UNLABELLED)
                         for status in ImageStatus}
        self.formats = {fmt: QCheckBox(text, checked=fmt == "palette") for fmt, text in FORMAT_LABELS.items()}
        self.progress = QProgressBar(textVisible=True)
        self.summary = QLabel(wordWrap=True)
        self.export_button = QPushButton("Export", default=True)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.close_button = QPushButton("Close")

        self._inputs = QWidget()
        form = QFormLayout(self._inputs)
        form.setContentsMargins(0, 0, 0, 0)
        folder_row = path_row(self.folder, self.browse)
        form.addRow("Folder", folder_row)
        form.addRow("Export", _row(self.labels, self.predictions, self.either))
        status_row = _row(*self.statuses.values())
        form.addRow("Images", _column(self.all_images, self.current_image, self.by_status, status_row))
        format_grid = QGridLayout()
        for i, box in enumerate(self.formats.values()):
            format_grid.addWidget(box, i // 2, i % 2)
        form.addRow("Formats", format_grid)
        layout = QVBoxLayout(self)
        layout.addWidget(self._inputs)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addLayout(_row(self.export_button, self.cancel_button, self.close_button, stretch_first=True))
        self.resize(560, 0)

        self.browse.clicked.connect(self._choose_folder)
        self.export_button.clicked.connect(self.ask_and_export)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.folder.textChanged.connect(self._validate)
        for box in (*self.statuses.values(), *self.formats.values()):
            box.toggled.connect(self._validate)
        self.which.buttonToggled.connect(self._validate)
        guard_wheel(self)
        self._validate()

    @property
    def worker(self) -> Worker | None:
        """The running export, if any."""
        return self._worker

    overwrite_box: QMessageBox | None = None
    """The 'folder is not empty' question while it is open."""

    def output_folder(self) -> Path:
        return Path(self.folder.text().strip()).expanduser()

    def chosen_formats(self) -> list[str]:
        return [fmt for fmt, box in self.formats.items() if box.isChecked()]

    def chosen_source(self) -> str:
        """'labels', 'predictions' or 'labels_else_predictions'."""
        return self.source.checkedButton().objectName()

    def chosen_images(self) -> list[int]:
        """The ids of the images to export, in project order."""
        which = self.which.checkedButton().objectName()
        if which == "current":
            return [] if self._state.current_id == NO_IMAGE else [self._state.current_id]
        records = self._state.images
        if which == "status":
            wanted = {status for status, box in self.statuses.items() if box.isChecked()}
            records = [r for r in records if r.status in wanted]
        return [r.id for r in records]

    def ask_and_export(self) -> None:
        """The Export button: start at once into an empty or new folder; into a non-empty one, ask first."""
        folder = self.output_folder()
        existing = sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0
        if not existing:
            self.start_export()
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Export into a folder that is not empty",
                          f"{folder} already holds {existing} item(s). Files the export writes replace files of "
                          "the same name there; other files are left as they are.", QMessageBox.StandardButton.Cancel,
                          self)
        anyway = box.addButton("Export anyway", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: button is anyway and self.start_export())
        box.finished.connect(lambda _result: setattr(self, "overwrite_box", None))
        self.overwrite_box = box
        box.open()  # not exec(): nothing else waits on the answer

    def start_export(self) -> Worker:
        """Start exporting what the dialog shows; progress, Cancel and the summary follow the worker."""
        if self._worker is not None:
            raise RuntimeError("an export is already running")
        problem = self._problem()
        if problem:
            raise ValueError(problem)
        ids = self.chosen_images()
        worker = Worker(export_project_masks, self._state.store, self.output_folder(), self.chosen_formats(),
                        source=self.chosen_source(), image_ids=ids)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_returned)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker, self._files, self._skipped, self._replaced = worker, 0, [], []
        self._completed = self._cancelled = False
        self.progress.setRange(0, max(len(ids), 1))
        self.progress.setValue(0)
        self.summary.setText(f"Exporting {len(ids)} image(s)…")
        self._set_running(True)
        log.info("exporting %d image(s) to %s", len(ids), self.output_folder())
        return worker.start()

    def cancel(self) -> None:
        """Stop the export after the image being written now."""
        if self._worker is not None:
            self._worker.quit()

    def reject(self) -> None:
        """Close; a running export is cancelled first and the dialog closes when it has stopped."""
        if self._worker is not None:
            self._close_when_done = True
            self.cancel()
            return
        super().reject()

    def _on_progress(self, step: ExportProgress) -> None:
        self.progress.setRange(0, step.total)
        self.progress.setValue(step.done)
        self._files += len(step.files)
        if step.replaced is not None:
            self._replaced.append(self._state.record(step.image_id).name)
        if step.error is not None:
            name = "Dataset folder" if step.image_id is None else self._state.record(step.image_id).name
            self._skipped.append(f"{name}: {step.error}")

    def _on_returned(self) -> None:
        self._completed = True

    def _on_aborted(self) -> None:
        self._cancelled = True

    def _on_finished(self) -> None:
        self._worker = None
        self._set_running(False)
        if self._completed:
            head = f"Done: {self._files} file(s) written to {self.output_folder()}."
        elif self._cancelled:
            head = f"Cancelled: {self._files} file(s) written before stopping."
        else:
            head = f"The export stopped on an error after {self._files} file(s)."
        lines = [head]
        if self._replaced:
            shown = ", ".join(self._replaced[:SKIPPED_SHOWN]) + (" …" if len(self._replaced) > SKIPPED_SHOWN else "")
            lines.append(f"{len(self._replaced)} image(s) exported there before from the other source now hold "
                         f"this export's files: {shown}. manifest.csv says which file holds what.")
        if self._skipped:
            lines.append(f"{len(self._skipped)} skipped:")
            lines += self._skipped[:SKIPPED_SHOWN]
            if len(self._skipped) > SKIPPED_SHOWN:
                lines.append(f"… and {len(self._skipped) - SKIPPED_SHOWN} more")
        self.summary.setText("\n".join(lines))
        self.export_finished.emit(self._files, len(self._skipped))
        if self._close_when_done:
            super().reject()

    def _set_running(self, running: bool) -> None:
        self._inputs.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(not running and not self._problem())

    def _problem(self) -> str:
        """Why the export cannot start yet ('' when it can)."""
        if not self.folder.text().strip():
            return "Choose an output folder."
        if self.output_folder().exists() and not self.output_folder().is_dir():
            return f"{self.output_folder()} is not a folder."
        if not self.chosen_formats():
            return "Choose at least one format."
        if not self.chosen_images():
            return "No image matches the choice."
        return ""

    def _validate(self) -> None:
        for box in self.statuses.values():
            box.setEnabled(self.by_status.isChecked())
        if self._worker is None:
            problem = self._problem()
            self.summary.setText(problem)
            self.export_button.setEnabled(not problem)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.folder.text())
        if folder:
            self.folder.setText(folder)


def _group(parent: QWidget, buttons: dict[str, QRadioButton]) -> QButtonGroup:
    """An exclusive group of radio buttons, each named by its key (read back with `objectName`)."""
    group = QButtonGroup(parent)
    for key, button in buttons.items():
        button.setObjectName(key)
        group.addButton(button)
    return group


def _row(*widgets: QWidget, stretch_first: bool = False) -> QHBoxLayout:
    row = QHBoxLayout()
    if stretch_first:
        row.addStretch(1)
    for widget in widgets:
        row.addWidget(widget)
    return row


def _column(*items: QWidget | QHBoxLayout) -> QVBoxLayout:
    column = QVBoxLayout()
    for item in items:
        if isinstance(item, QWidget):
            column.addWidget(item)
        else:
            column.addLayout(item)
    return column
