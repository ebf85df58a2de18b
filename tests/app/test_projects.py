"""Project commands on real projects and files: new (through its dialog), open, recent, imports in the background."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMainWindow, QPushButton

from app.dialogs.import_dataset import ImportDatasetDialog
from app.dialogs.new_project import CUSTOM, NewProjectDialog
from app.projects import MAX_RECENT, RECENT_KEY, ProjectController
from app.state.project_state import ProjectState
from segcore.data.classes import VOC_CLASS_NAMES, ClassTable
from segcore.io.images import write_image
from segcore.project.store import ImageStatus, ProjectStore

IMPORT_TIMEOUT_MS = 20_000


@pytest.fixture(autouse=True)
def errors(monkeypatch) -> list[str]:
    """Errors that would reach the user's error dialog (which would block the test): recorded instead."""
    shown: list[str] = []
    monkeypatch.setattr("app.errors.show_error", lambda message, details=None, parent=None: shown.append(message))
    return shown


@pytest.fixture()
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture()
def window(qtbot) -> QMainWindow:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture()
def controller(state, window, settings) -> ProjectController:
    return ProjectController(state, window, settings)


def _make_project(root: Path, names=("background", "cell")) -> Path:
    ProjectStore.create(root, ClassTable.from_names(list(names))).close()
    return root


def _click_ok(qtbot, button) -> None:
    qtbot.waitUntil(button.isEnabled)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _write_images(folder: Path) -> list[Path]:
    """Two good images and one corrupt one."""
    write_image(folder / "one.png", np.full((20, 30), 9, np.uint8))
    write_image(folder / "two.png", np.full((16, 16, 3), 200, np.uint8))
    (folder / "three.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return [folder / "one.png", folder / "two.png", folder / "three.png"]


# -- new / open ----------------------------------------------------------------------------------------
def test_new_project_through_the_dialog_with_typed_classes(qtbot, controller, state, tmp_path):
    controller.new_action.trigger()
    dialog = controller.dialog
    assert isinstance(dialog, NewProjectDialog) and dialog.isVisible()
    assert not dialog.ok_button.isEnabled()  # nothing filled in yet
    folder = tmp_path / "cells"
    qtbot.keyClicks(dialog.folder, str(folder))
    qtbot.keyClicks(dialog.name, "Cell study")
    dialog.preset.setCurrentIndex(dialog.preset.findText(CUSTOM))
    assert dialog.custom_names.isVisible()
    for line in ("background", "cell", "nucleus"):
        qtbot.keyClicks(dialog.custom_names, line)
        qtbot.keyClick(dialog.custom_names, Qt.Key.Key_Return)
    with qtbot.waitSignal(state.project_opened):
        _click_ok(qtbot, dialog.ok_button)
    assert (folder / "project.segdesk").is_file()
    assert state.store.name == "Cell study"
    assert state.class_table.names == ["background", "cell", "nucleus"]
    assert controller.recent_projects() == [str(folder.resolve())]


def test_new_project_presets_and_default_name(qtbot, controller, state, tmp_path):
    dialog = NewProjectDialog(folder=str(tmp_path / "voc_project"))
    qtbot.addWidget(dialog)
    dialog.preset.setCurrentIndex(dialog.preset.findText("VOC (21 classes)"))
    assert dialog.ok_button.isEnabled() and dialog.project_name() == "voc_project"
    controller.new_project(dialog.project_folder(), dialog.project_name(), dialog.class_table())
    assert state.class_table.names == list(VOC_CLASS_NAMES) and state.store.name == "voc_project"
    binary = NewProjectDialog(folder=str(tmp_path / "b"))
    qtbot.addWidget(binary)
    assert binary.class_table().names == ["background", "sample"]  # the first preset


def test_new_project_dialog_refuses_bad_input(qtbot, tmp_path):
    existing = _make_project(tmp_path / "existing")
    dialog = NewProjectDialog(folder=str(existing))
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled() and "already holds a project" in dialog.problem.text()
    dialog.folder.setText(str(tmp_path / "fresh"))
    assert dialog.ok_button.isEnabled()
    dialog.preset.setCurrentIndex(dialog.preset.findText(CUSTOM))
    assert not dialog.ok_button.isEnabled()  # no names typed
    dialog.custom_names.setPlainText("cell\ncell")
    assert not dialog.ok_button.isEnabled() and "duplicate" in dialog.problem.text()


def test_open_project(controller, state, tmp_path):
    root = _make_project(tmp_path / "p")
    controller.open_project(root)
    assert state.is_open and state.store.root == root
    assert all(action.isEnabled() for action in controller.import_actions)
    state.close()
    assert not any(action.isEnabled() for action in controller.import_actions)


# -- recent projects -------------------------------------------------------------------------------------
def test_recent_projects_most_recent_first_capped_and_pruned(controller, state, settings, tmp_path):
    roots = [_make_project(tmp_path / f"p{i:02d}") for i in range(MAX_RECENT + 2)]
    for root in roots:
        controller.open_project(root)
    expected = [str(r.resolve()) for r in reversed(roots)][:MAX_RECENT]
    assert controller.recent_projects() == expected
    controller.open_project(roots[5])  # reopening moves it to the front without duplicating it
    assert controller.recent_projects()[:2] == [str(roots[5].resolve()), expected[0]]
    assert len(controller.recent_projects()) == MAX_RECENT
    state.close()
    shutil.rmtree(roots[-1])
    assert str(roots[-1].resolve()) not in controller.recent_projects()
    assert settings.value(RECENT_KEY) == controller.recent_projects()  # the pruned list is saved


def test_recent_menu_opens_a_project_and_survives_a_restart(qtbot, state, window, settings, tmp_path):
    first, second = _make_project(tmp_path / "first"), _make_project(tmp_path / "second")
    controller = ProjectController(state, window, settings)
    assert not controller.recent_menu.isEnabled()  # nothing opened yet
    controller.open_project(first)
    controller.open_project(second)
    state.close()
    restarted = ProjectController(ProjectState(), window, QSettings(settings.fileName(), QSettings.Format.IniFormat))
    entries = [a for a in restarted.recent_menu.actions() if not a.isSeparator()]
    assert [a.text() for a in entries[:2]] == [str(second.resolve()), str(first.resolve())]
    controller._fill_recent_menu()
    with qtbot.waitSignal(state.project_opened):
        next(a for a in controller.recent_menu.actions() if a.text() == str(first.resolve())).trigger()
    assert state.store.root.resolve() == first.resolve()
    next(a for a in controller.recent_menu.actions() if a.text() == "Clear the list").trigger()
    assert controller.recent_projects() == [] and not controller.recent_menu.isEnabled()


# -- imports ----------------------------------------------------------------------------------------------
def test_import_image_files_skips_and_reports_a_corrupt_one(qtbot, controller, state, tmp_path, errors):
    controller.open_project(_make_project(tmp_path / "p"))
    paths = _write_images(tmp_path / "src")
    with qtbot.waitSignal(state.images_changed, timeout=IMPORT_TIMEOUT_MS):
        with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS) as finished:
            controller.import_images(paths)
            assert not controller.import_images_action.isEnabled()  # one import at a time
    report = finished.args[0]
    assert report.added == 2 and [name for name, _ in report.failed] == ["three.png"]
    assert [(r.name, r.width, r.height, r.status) for r in state.images] == [
        ("one", 30, 20, ImageStatus.UNLABELLED),
        ("two", 16, 16, ImageStatus.UNLABELLED),
    ]
    assert (state.store.root / state.images[0].path).is_file()  # copied into the project
    box = controller.report_box
    assert box is not None and box.isVisible() and "1 file(s) could not be read" in box.text()
    assert "three.png" in box.detailedText()
    box.close()
    assert controller.report_box is None and controller.progress_dialog is None and controller.import_images_action.isEnabled()
    assert errors == []


def test_import_folder_of_images(qtbot, controller, state, tmp_path):
    controller.open_project(_make_project(tmp_path / "p"))
    _write_images(tmp_path / "src")
    (tmp_path / "src" / "readme.txt").write_text("not an image")
    with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS) as finished:
        controller.import_folder(tmp_path / "src")
    assert finished.args[0].added == 2
    assert [r.name for r in state.images] == ["one", "two"]


def test_cancel_button_stops_the_import_worker(qtbot, controller, state, tmp_path):
    controller.open_project(_make_project(tmp_path / "p"))
    paths = []
    for i in range(30):
        paths.append(tmp_path / "src" / f"img{i:02d}.png")
        write_image(paths[-1], np.full((64, 64), i, np.uint8))
    with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS):
        worker = controller.import_images(paths)
        controller.progress_dialog.findChild(QPushButton).click()  # the dialog's Cancel button
        assert worker.abort_requested
    assert len(state.images) == len(ProjectStore.open(state.store.root).images())  # the list shows what was added


def test_closing_the_project_waits_for_the_import(qtbot, controller, state, tmp_path, errors):
    controller.open_project(_make_project(tmp_path / "p"))
    paths = []
    for i in range(30):
        paths.append(tmp_path / "src" / f"img{i:02d}.png")
        write_image(paths[-1], np.full((64, 64), i, np.uint8))
    with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS) as finished:
        worker = controller.import_images(paths)
        state.close()
        assert worker.wait(0)  # already over: it stopped before the store closed
    assert finished.args[0] is None or finished.args[0].added == 30
    assert errors == []


def _write_folder_dataset(root: Path) -> Path:
    for i in range(3):
        image = np.full((24, 32), 40 * i, np.uint8)
        mask = np.zeros((24, 32), np.uint8)
        mask[4:12, 5:20] = 1 + i % 2
        write_image(root / "images" / f"s{i}.png", image)
        write_image(root / "masks" / f"s{i}.png", mask)
    ClassTable.from_names(["background", "cell", "debris"]).write(root / "classes.txt")
    return root


def test_import_dataset_adds_masks_and_new_classes(qtbot, controller, state, tmp_path):
    controller.open_project(_make_project(tmp_path / "p"))
    state.store.add_image_array("existing", np.zeros((8, 8), np.uint8))
    state.refresh()
    dataset = _write_folder_dataset(tmp_path / "ds")
    with qtbot.waitSignal(state.class_table_changed, timeout=IMPORT_TIMEOUT_MS):
        with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS) as finished:
            controller.import_dataset("folder", dataset)
    report = finished.args[0]
    assert report.added == 3 and report.new_classes == ["debris"]
    assert state.class_table.names == ["background", "cell", "debris"]
    assert [r.name for r in state.images] == ["existing", "s0", "s1", "s2"]
    s1 = state.find("s1")
    assert s1.status == ImageStatus.LABELLED
    assert (state.store.load_mask(s1.id)[4:12, 5:20] == 2).all()


def test_import_dataset_dialog_drives_the_import(qtbot, controller, state, tmp_path):
    controller.open_project(_make_project(tmp_path / "p"))
    dataset = _write_folder_dataset(tmp_path / "ds")
    controller.import_dataset_action.trigger()
    dialog = controller.dialog
    assert isinstance(dialog, ImportDatasetDialog) and not dialog.ok_button.isEnabled()
    dialog.format.setCurrentIndex(dialog.format.findData("colormask"))
    assert dialog.unknown_as_ignore.isVisible()
    dialog.format.setCurrentIndex(dialog.format.findData("folder"))
    assert not dialog.unknown_as_ignore.isVisible()
    qtbot.keyClicks(dialog.folder, str(dataset))
    dialog.copy.setChecked(False)
    assert dialog.options() == {"copy": False}
    with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS) as finished:
        _click_ok(qtbot, dialog.ok_button)
    assert finished.args[0].added == 3
    record = state.find("s0")
    assert (state.store.root / record.path).resolve() == (dataset / "images" / "s0.png").resolve()  # linked, not copied


def test_import_dataset_dialog_options(qtbot, tmp_path):
    dialog = ImportDatasetDialog()
    qtbot.addWidget(dialog)
    dialog.folder.setText(str(tmp_path))
    dialog.classes.setCurrentIndex(dialog.classes.findText("camvid"))
    assert dialog.options()["class_table"].names[0] == "Sky"
    dialog.classes.setCurrentIndex(dialog.classes.findText("labels file…"))
    assert not dialog.ok_button.isEnabled()
    dialog.labels_file.setText(str(tmp_path / "missing.txt"))
    assert not dialog.ok_button.isEnabled() and "cannot read labels file" in dialog.problem.text()
    (tmp_path / "labels.txt").write_text("background\nleaf 0 200 0\n")
    dialog.labels_file.setText(str(tmp_path / "labels.txt"))
    dialog.format.setCurrentIndex(dialog.format.findData("colormask"))
    dialog.unknown_as_ignore.setChecked(True)
    options = dialog.options()
    assert options["class_table"].colors[1] == (0, 200, 0) and options["unknown"] == "ignore"
    assert dialog.ok_button.isEnabled()
