"""The new-project dialog: a folder, a name and the classes (a preset or typed names)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from app.dialogs.parts import ok_cancel_buttons, path_row, problem_label
from app.widgets.wheel_guard import guard_wheel
from segcore.data.classes import ClassTable, builtin_table
from segcore.errors import SegcoreError
from segcore.project.store import ProjectStore

CUSTOM = "custom (one name per line)"
CLASS_PRESETS: dict[str, Callable[[], ClassTable]] = {
    "binary (background, sample)": lambda: ClassTable.from_names(["background", "sample"]),
    "VOC (21 classes)": lambda: builtin_table("voc"),
    "CamVid (11 classes)": lambda: builtin_table("camvid"),
    "landcover (7 classes)": lambda: builtin_table("landcover"),
}


class NewProjectDialog(QDialog):
    """Asks where to create a project, its name and its class table; OK is enabled only when all are valid."""

    def __init__(self, parent: QWidget | None = None, folder: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.folder = QLineEdit(folder, placeholderText="Folder for the new project (created if missing)")
        self.browse = QPushButton("Browse…")
        self.name = QLineEdit(placeholderText="Defaults to the folder's name")
        self.preset = QComboBox()
        self.preset.addItems([*CLASS_PRESETS, CUSTOM])
        self.custom_names = QPlainTextEdit(placeholderText="background\ncell\n…")
        self.problem = problem_label()
        self.buttons, self.ok_button = ok_cancel_buttons(self, "Create")

        folder_row = path_row(self.folder, self.browse)
        form = QFormLayout(self)
        form.addRow("Folder", folder_row)
        form.addRow("Name", self.name)
        form.addRow("Classes", self.preset)
        form.addRow("", self.custom_names)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self.resize(520, 0)

        self.browse.clicked.connect(self._choose_folder)
        for edit in (self.folder, self.name):
            edit.textChanged.connect(self._validate)
        self.custom_names.textChanged.connect(self._validate)
        self.preset.currentIndexChanged.connect(self._validate)
        guard_wheel(self)
        self._validate()

    def project_folder(self) -> Path:
        return Path(self.folder.text().strip()).expanduser()

    def project_name(self) -> str:
        """The typed name, else the folder's name."""
        return self.name.text().strip() or self.project_folder().name

    def class_table(self) -> ClassTable:
        """The chosen preset, or a table of the typed names; raises `DatasetError` for bad names."""
        preset = self.preset.currentText()
        if preset in CLASS_PRESETS:
            return CLASS_PRESETS[preset]()
        names = [line.strip() for line in self.custom_names.toPlainText().splitlines() if line.strip()]
        return ClassTable.from_names(names)

    def _problem(self) -> str:
        """Why the input cannot be used yet ('' when it can)."""
        if not self.folder.text().strip():
            return "Choose a folder for the project."
        if ProjectStore.is_project(self.project_folder()):
            return "That folder already holds a project: open it instead."
        if not self.project_name():
            return "Give the project a name."
        try:
            self.class_table()
        except SegcoreError as exc:
            return f"Classes: {exc}"
        return ""

    def _validate(self) -> None:
        self.custom_names.setVisible(self.preset.currentText() == CUSTOM)
        problem = self._problem()
        self.problem.setText(problem)
        self.ok_button.setEnabled(not problem)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the new project", self.folder.text())
        if folder:
            self.folder.setText(folder)
