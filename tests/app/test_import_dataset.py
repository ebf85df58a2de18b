"""The import-dataset dialog on real folders: the format preselected from the layout, and imports
that fail keeping the dialog open with the reason, ready for another try."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QMainWindow

from app.dialogs.import_dataset import ImportDatasetDialog
from app.projects import ProjectController
from segcore.data.classes import ClassTable
from segcore.data.masks import write_palette_png
from segcore.io.images import write_image
from segcore.project.store import ProjectStore

IMPORT_TIMEOUT_MS = 20_000
SIZE = 16
TABLE = ClassTable.from_names(["background", "cell"], [(0, 0, 0), (0, 200, 0)])


def _mask(size: int = SIZE) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[3:9, 4:12] = 1
    return mask


def _folder_dataset(root: Path, mask_size: int = SIZE, names=("a", "b")) -> Path:
    """images/ + masks/ (gray class-index masks), `mask_size` square."""
    for value, name in enumerate(names):
        write_image(root / "images" / f"{name}.png", np.full((SIZE, SIZE), 80 + value, np.uint8))
        write_image(root / "masks" / f"{name}.png", _mask(mask_size))
    return root


def _unmatched_dataset(root: Path) -> Path:
    """Images and masks whose names do not match: no labelled image at all."""
    write_image(root / "images" / "a.png", np.full((SIZE, SIZE), 80, np.uint8))
    write_image(root / "masks" / "z.png", _mask())
    return root


def _colour_dataset(root: Path) -> Path:
    """Colour masks holding a colour (red) that classes.txt does not list."""
    write_image(root / "images" / "a.png", np.full((SIZE, SIZE), 80, np.uint8))
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[_mask() == 1] = (255, 0, 0)
    write_image(root / "masks" / "a.png", rgb)
    TABLE.write(root / "classes.txt")
    return root


def _camvid_dataset(root: Path) -> Path:
    write_image(root / "train" / "a.png", np.zeros((SIZE, SIZE, 3), np.uint8))
    write_image(root / "trainannot" / "a.png", _mask())
    return root


def _voc_dataset(root: Path) -> Path:
    write_image(root / "JPEGImages" / "a.png", np.zeros((SIZE, SIZE), np.uint8))
    write_palette_png(root / "SegmentationClass" / "a.png", _mask(), TABLE)
    return root


@pytest.fixture()
def controller(qtbot, state, tmp_path) -> ProjectController:
    """A controller over a plain window, with an empty project open."""
    parent = QMainWindow()
    qtbot.addWidget(parent)
    parent.show()
    controller = ProjectController(state, parent, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    ProjectStore.create(tmp_path / "project", TABLE).close()
    controller.open_project(tmp_path / "project")
    return controller


def _open_dialog(controller: ProjectController, folder: Path, fmt: str) -> ImportDatasetDialog:
    """The dialog from the menu, filled in (the format chosen by hand: detection has tests of its own)."""
    controller.import_dataset_action.trigger()
    dialog = controller.dialog
    assert isinstance(dialog, ImportDatasetDialog) and dialog.isVisible()
    dialog.folder.setText(str(folder))
    dialog.format.setCurrentIndex(dialog.format.findData(fmt))
    return dialog


def _click(qtbot, button) -> None:
    qtbot.waitUntil(button.isEnabled)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


# -- format detection -------------------------------------------------------------------------------------
def test_the_folder_preselects_its_format_and_a_hand_choice_stays(qtbot, tmp_path, monkeypatch):
    camvid, voc = _camvid_dataset(tmp_path / "camvid"), _voc_dataset(tmp_path / "voc")
    (tmp_path / "other").mkdir()
    dialog = ImportDatasetDialog()
    qtbot.addWidget(dialog)
    assert dialog.detected.text() == ""

    dialog.folder.setText(str(camvid))
    assert dialog.format_name() == "camvid"
    assert "train/ and trainannot/ found" in dialog.detected.text()

    dialog.format.setCurrentIndex(dialog.format.findData("folder"))  # the user knows better
    dialog.classes.setCurrentIndex(dialog.classes.findText("camvid"))
    assert dialog.format_name() == "folder"  # other edits leave the hand choice alone

    dialog.folder.setText(str(tmp_path / "other"))
    assert dialog.format_name() == "folder"  # nothing recognised: the user's choice stays
    assert "No known dataset layout" in dialog.detected.text()

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(voc))
    QTest.mouseClick(dialog.browse_folder, Qt.MouseButton.LeftButton)
    assert dialog.folder.text() == str(voc) and dialog.format_name() == "voc"
    assert "JPEGImages/ and SegmentationClass/ found" in dialog.detected.text()

    dialog.folder.setText(str(tmp_path / "missing"))
    assert dialog.detected.text() == "" and not dialog.ok_button.isEnabled()


def test_colour_masks_preselect_colormask_and_its_option(qtbot, tmp_path):
    dialog = ImportDatasetDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.folder.setText(str(_colour_dataset(tmp_path / "ds")))
    assert dialog.format_name() == "colormask" and dialog.unknown_as_ignore.isVisible()
    dialog.folder.setText(str(_folder_dataset(tmp_path / "gray")))
    assert dialog.format_name() == "folder" and not dialog.unknown_as_ignore.isVisible()


# -- imports through the dialog ---------------------------------------------------------------------------
FAILURES = {
    "masks of the wrong size": (lambda root: _folder_dataset(root, mask_size=12), "folder", "none of the 2 labelled image(s)"),
    "no image has a mask": (_unmatched_dataset, "folder", "no labelled images found"),
    "unknown colours": (_colour_dataset, "colormask", "not in the class table"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failed_import_keeps_the_dialog_open_with_the_reason(qtbot, controller, state, tmp_path, errors_shown, case):
    build, fmt, reason = FAILURES[case]
    root = build(tmp_path / "ds")
    dialog = _open_dialog(controller, root, fmt)
    dialog.copy.setChecked(False)
    with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS):
        _click(qtbot, dialog.ok_button)
        assert not dialog.ok_button.isEnabled() and not dialog.folder.isEnabled()  # no second submission
        assert controller.progress_dialog.parentWidget() is dialog  # over the modal dialog, so Cancel works
        QTest.keyClick(dialog, Qt.Key.Key_Escape)  # the dialog waits for its import
    assert dialog.isVisible() and controller.dialog is dialog
    assert dialog.problem.text().startswith("The import failed: ") and reason in dialog.problem.text()
    assert "\n" not in dialog.problem.text()
    assert dialog.folder.text() == str(root) and dialog.format_name() == fmt and not dialog.copy.isChecked()
    assert dialog.ok_button.isEnabled() and dialog.folder.isEnabled()
    assert state.images == [] and controller.report_box is None
    assert errors_shown == []  # the dialog says it; no error box on top


def test_after_a_failure_the_fixed_dataset_imports_and_the_dialog_closes(qtbot, controller, state, tmp_path):
    root = _folder_dataset(tmp_path / "ds", mask_size=12)
    dialog = _open_dialog(controller, root, "folder")
    with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS):
        _click(qtbot, dialog.ok_button)
    assert dialog.isVisible() and "mask size 12x12" in dialog.problem.text()

    _folder_dataset(root)  # the user fixes the masks and tries again
    with qtbot.waitSignal(dialog.accepted, timeout=IMPORT_TIMEOUT_MS):
        with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS) as finished:
            _click(qtbot, dialog.ok_button)
    assert finished.args[0].added == 2
    assert [record.name for record in state.images] == ["a", "b"]
    assert controller.dialog is None and controller.progress_dialog is None


def test_a_good_import_closes_the_dialog_and_adds_the_images(qtbot, controller, state, tmp_path):
    root = _camvid_dataset(tmp_path / "camvid")
    dialog = _open_dialog(controller, root, "camvid")
    with qtbot.waitSignal(dialog.accepted, timeout=IMPORT_TIMEOUT_MS):
        _click(qtbot, dialog.ok_button)
    assert [record.name for record in state.images] == ["a"]
    assert (state.store.load_mask(state.find("a").id) == _mask()).all()


def test_a_coco_folder_is_recognised_and_imports(qtbot, controller, state, tmp_path):
    from segcore.data.readers.base import LabelledDataset, LabelledSample
    from segcore.data.writers import write_dataset

    write_image(tmp_path / "a.png", np.full((SIZE, SIZE), 80, np.uint8))
    source = LabelledDataset(TABLE, [LabelledSample("a", tmp_path / "a.png", _mask)])
    root = write_dataset(source, tmp_path / "coco", "coco")
    controller.import_dataset_action.trigger()
    dialog = controller.dialog
    assert dialog.format.findData("coco") >= 0
    dialog.folder.setText(str(root))
    assert dialog.format_name() == "coco" and "annotations.json" in dialog.detected.text()
    with qtbot.waitSignal(dialog.accepted, timeout=IMPORT_TIMEOUT_MS):
        _click(qtbot, dialog.ok_button)
    assert [record.name for record in state.images] == ["a"]
    assert (state.store.load_mask(state.find("a").id) == _mask()).all()


def test_a_scripted_import_that_adds_nothing_is_an_error(qtbot, controller, state, tmp_path, errors_shown):
    root = _folder_dataset(tmp_path / "ds", mask_size=12)
    with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS) as finished:
        controller.import_dataset("folder", root)
    assert finished.args[0] is None and state.images == []
    assert len(errors_shown) == 1 and "none of the 2 labelled image(s) could be imported" in errors_shown[0]
    errors_shown.clear()  # expected here: scripts have no dialog, so the app's error box says it
