"""The import-dataset dialog: a format, a folder and the reader options that format needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.dialogs.parts import ok_cancel_buttons, path_row, problem_label
from segcore.data.classes import BUILTIN_TABLES, read_labels_file
from segcore.errors import SegcoreError

DATASET_FORMATS: dict[str, str] = {
    "voc": "PASCAL VOC (JPEGImages/, SegmentationClass/)",
    "camvid": "CamVid (SegNet layout)",
    "folder": "Folder pairs (images/, masks/ with class indices)",
    "colormask": "Colour masks (images/, masks/ coloured by class)",
    "labelme": "labelme JSON files",
}
FROM_DATASET = "from the dataset"
LABELS_FILE = "labels file…"


class ImportDatasetDialog(QDialog):
    """Asks for a dataset to import; `format_name`, `dataset_folder` and `options` hold the answer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a labelled dataset")
        self.format = QComboBox()
        for fmt, description in DATASET_FORMATS.items():
            self.format.addItem(description, fmt)
        self.folder = QLineEdit(placeholderText="The dataset's root folder")
        self.browse_folder = QPushButton("Browse…")
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

        folder_row = path_row(self.folder, self.browse_folder)
        self._labels_row = QWidget()
        labels_row = QHBoxLayout(self._labels_row)
        labels_row.setContentsMargins(0, 0, 0, 0)
        labels_row.addWidget(self.labels_file, 1)
        labels_row.addWidget(self.browse_labels)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Folder", folder_row)
        form.addRow("Classes", self.classes)
        form.addRow("", self._labels_row)
        form.addRow("", self.unknown_as_ignore)
        form.addRow("", self.copy)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self.resize(560, 0)

        self.browse_folder.clicked.connect(self._choose_folder)
        self.browse_labels.clicked.connect(self._choose_labels_file)
        for edit in (self.folder, self.labels_file):
            edit.textChanged.connect(self._validate)
        for combo in (self.format, self.classes):
            combo.currentIndexChanged.connect(self._validate)
        self._validate()

    def format_name(self) -> str:
        """The segcore reader name (voc, camvid, folder, colormask, labelme)."""
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

    def _validate(self) -> None:
        self._labels_row.setVisible(self.classes.currentText() == LABELS_FILE)
        self.unknown_as_ignore.setVisible(self.format_name() == "colormask")
        problem = self._problem()
        self.problem.setText(problem)
        self.ok_button.setEnabled(not problem)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _choose_labels_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Labels file", self.folder.text(), "Labels (*.txt);;All files (*)")
        if path:
            self.labels_file.setText(path)
