"""The import-dataset dialog: a format (guessed from the folder), a folder and the reader options that format needs.

OK does not close it: it asks for the import (`import_requested`) and stays open, OK disabled,
until the controller answers `import_done` (the dialog closes) or `import_failed` (the reason
goes in the problem line, everything else stays as entered, OK is enabled again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.dialogs.parts import hint_label, ok_cancel_buttons, path_row, problem_label
from app.widgets.wheel_guard import guard_wheel
from segcore.data.classes import BUILTIN_TABLES, read_labels_file
from segcore.data.readers import detect_format
from segcore.errors import SegcoreError

DATASET_FORMATS: dict[str, str] = {
    "voc": "PASCAL VOC (JPEGImages/, SegmentationClass/)",
    "camvid": "CamVid (SegNet layout)",
    "folder": "Folder pairs (images/, masks/ with class indices)",
    "colormask": "Colour masks (images/, masks/ coloured by class)",
    "labelme": "labelme JSON files",
    "voc_boxes": "PASCAL VOC boxes (JPEGImages/, Annotations/*.xml)",
    "boxes": "Frames with boxes.json (selectROI boxes per image)",
    "coco": "COCO JSON (annotations + images/)",
}
FROM_DATASET = "from the dataset"
LABELS_FILE = "labels file…"


class ImportDatasetDialog(QDialog):
    """Asks for a dataset to import; `format_name`, `dataset_folder` and `options` hold the answer."""

    import_requested = Signal(str, object, object)
    """OK with usable input: (format name, folder `Path`, `options()`); answer with `import_done` or `import_failed`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a labelled dataset")
        self.format = QComboBox()
        for fmt, description in DATASET_FORMATS.items():
            self.format.addItem(description, fmt)
        self.folder = QLineEdit(placeholderText="The dataset's root folder")
        self.browse_folder = QPushButton("Browse…")
        self.detected = hint_label()
        self.classes = QComboBox()
        self.classes.addItems([FROM_DATASET, *BUILTIN_TABLES, LABELS_FILE])
        self.classes.setToolTip(
            "The dataset's class table. 'from the dataset' lets the reader find it "
            "(class_names.txt, classes.txt, labels.txt, or the format's own classes)."
        )
        self.labels_file = QLineEdit(placeholderText="labels.txt: one class per line, optionally `name r g b`")
        self.browse_labels = QPushButton("Browse…")
        self.unknown_as_ignore = QCheckBox("Colours not in the class table become 'ignore' (else the import stops)")
        self.copy = QCheckBox("Copy the images into the project", checked=True)
        self.problem = problem_label()
        self.buttons, self.ok_button = ok_cancel_buttons(self, "Import")
        self._busy = False

        folder_row = path_row(self.folder, self.browse_folder)
        self._labels_row = QWidget()
        labels_row = QHBoxLayout(self._labels_row)
        labels_row.setContentsMargins(0, 0, 0, 0)
        labels_row.addWidget(self.labels_file, 1)
        labels_row.addWidget(self.browse_labels)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Folder", folder_row)
        form.addRow("", self.detected)
        form.addRow("Classes", self.classes)
        form.addRow("", self._labels_row)
        form.addRow("", self.unknown_as_ignore)
        form.addRow("", self.copy)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self.resize(560, 0)

        self.browse_folder.clicked.connect(self._choose_folder)
        self.browse_labels.clicked.connect(self._choose_labels_file)
        self.folder.textChanged.connect(self._detect_format)
        for edit in (self.folder, self.labels_file):
            edit.textChanged.connect(self._validate)
        for combo in (self.format, self.classes):
            combo.currentIndexChanged.connect(self._validate)
        guard_wheel(self)
        self._validate()

    def format_name(self) -> str:
        """The segcore reader name (a key of `DATASET_FORMATS`)."""
        return self.format.currentData()

    def dataset_folder(self) -> Path:
        return Path(self.folder.text().strip()).expanduser()

    def options(self) -> dict[str, Any]:
        """Keyword options for `ProjectController.import_dataset`: `copy` and the reader's options.

        Raises `DatasetError` when the chosen labels file cannot be read.
        """
        options: dict[str, Any] = {"copy": self.copy.isChecked()}
        classes = self.classes.currentText()
        if classes == LABELS_FILE:
            options["class_table"] = read_labels_file(Path(self.labels_file.text().strip()).expanduser())
        elif classes != FROM_DATASET:
            options["class_table"] = BUILTIN_TABLES[classes]()
        if self.format_name() == "colormask":
            options["unknown"] = "ignore" if self.unknown_as_ignore.isChecked() else "error"
        return options

    def _problem(self) -> str:
        """Why the input cannot be used yet ('' when it can)."""
        if not self.folder.text().strip():
            return "Choose the dataset's folder."
        if not self.dataset_folder().is_dir():
            return f"{self.dataset_folder()} is not a folder."
        if self.classes.currentText() == LABELS_FILE and not self.labels_file.text().strip():
            return "Choose the labels file."
        try:
            self.options()
        except SegcoreError as exc:
            return str(exc)
        return ""

    def accept(self) -> None:
        """OK: ask for the import and stay open until `import_done` or `import_failed` answers."""
        try:
            options = self.options()
        except SegcoreError as exc:  # the labels file changed since it was checked
            self.problem.setText(str(exc))
            return
        self._set_busy(True)
        self.import_requested.emit(self.format_name(), self.dataset_folder(), options)

    def reject(self) -> None:
        """Cancel, Escape or the close button; ignored while the import runs (its progress window stops it)."""
        if not self._busy:
            super().reject()

    def import_done(self) -> None:
        """The import ended (or the user stopped it): close the dialog."""
        self._set_busy(False)
        super().accept()

    def import_failed(self, message: str) -> None:
        """The import failed: show `message` and let the user fix the input and try again."""
        self._set_busy(False)
        self.problem.setText(message)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        inputs = (self.format, self.folder, self.browse_folder, self.classes, self._labels_row, self.unknown_as_ignore, self.copy)
        for widget in (*inputs, cancel):
            widget.setEnabled(not busy)
        self._validate()

    def _detect_format(self) -> None:
        """Preselect the format the folder's layout shows; a hand-picked one stays until the folder changes."""
        if not self.folder.text().strip() or not self.dataset_folder().is_dir():
            self.detected.clear()
            return
        found = detect_format(self.dataset_folder())
        if found is None:
            self.detected.setText("No known dataset layout recognised here; choose the format.")
            return
        self.format.setCurrentIndex(self.format.findData(found.format))
        self.detected.setText(f"Looks like {DATASET_FORMATS[found.format]}: {found.reason}.")

    def _validate(self) -> None:
        self._labels_row.setVisible(self.classes.currentText() == LABELS_FILE)
        self.unknown_as_ignore.setVisible(self.format_name() == "colormask")
        problem = self._problem()
        self.problem.setText(problem)
        self.ok_button.setEnabled(not problem and not self._busy)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _choose_labels_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Labels file", self.folder.text(), "Labels (*.txt);;All files (*)")
        if path:
            self.labels_file.setText(path)
