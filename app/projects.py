"""Projects: new, open, open recent, and imports of images and datasets (in the background).

Each command has two halves: `ask_*` asks the user (a file or custom dialog) and calls the
matching do-it method (`new_project`, `open_project`, `import_images`, `import_folder`,
`import_dataset`), which tests and scripts call directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox, QProgressDialog, QWidget

from app.dialogs.import_dataset import ImportDatasetDialog
from app.dialogs.new_project import NewProjectDialog
from app.project_lock import LockHolder, holder
from app.state.project_state import ProjectState
from app.workers import Worker
from segcore.data.classes import ClassTable
from segcore.data.readers import open_dataset
from segcore.errors import DatasetError, SegcoreError
from segcore.io.images import IMAGE_SUFFIXES
from segcore.io.sequences import TIFF_SUFFIXES, VIDEO_SUFFIXES
from segcore.project.image_import import (
    ImportProgress,
    ImportSteps,
    iter_import_dataset,
    iter_import_folder,
    iter_import_images,
    iter_import_sequence,
)
from segcore.project.store import ProjectStore
from segcore.project.transfer import ImportReport

log = logging.getLogger(__name__)

RECENT_KEY = "recentProjects"
MAX_RECENT = 10
STOP_IMPORT_TIMEOUT_S = 30.0
_IMAGE_FILTER = f"Images ({' '.join('*' + s for s in IMAGE_SUFFIXES)});;All files (*)"
_SEQUENCE_FILTER = (f"TIFF stacks and videos ({' '.join('*' + s for s in TIFF_SUFFIXES + VIDEO_SUFFIXES)});;"
                    "All files (*)")

ImportEnded = Callable[[ImportReport | None, BaseException | None], None]
"""Told how an import ended: (its report, or None if stopped or failed; the error if it failed)."""


def _dataset_import_steps(store: ProjectStore, fmt: str, root: Path, copy: bool, options: dict[str, Any]) -> ImportSteps:
    """Worker body: read the dataset (which may scan every mask), then import it sample by sample."""
    dataset = open_dataset(fmt, root, **options)
    report = yield from iter_import_dataset(store, dataset, copy=copy)
    if report.failed and not report.added:
        # Every sample skipped (wrong mask sizes, unknown colours...): the dataset as a whole does not fit.
        name, reason = report.failed[0]
        raise DatasetError(f"none of the {len(report.failed)} labelled image(s) could be imported; {name}: {reason}")
    return report


def _failure_message(error: BaseException) -> str:
    """One sentence for the import dialog's problem line; unexpected errors are logged with their traceback."""
    if isinstance(error, SegcoreError):
        return f"The import failed: {error}"
    log.error("the dataset import failed", exc_info=error)
    return f"The import failed with an unexpected error: {type(error).__name__}: {error}"


class ProjectController(QObject):
    """Owns the project commands; the main window puts its actions and `recent_menu` in the File menu."""

    import_finished = Signal(object)
    """An import ended and the image list was refreshed; carries its `ImportReport`, or None if stopped or failed."""

    def __init__(self, state: ProjectState, parent_widget: QWidget, settings: QSettings | None = None) -> None:
        super().__init__(parent_widget)
        self._state = state
        self._parent = parent_widget
        self._settings = settings if settings is not None else QSettings()
        self._import_worker: Worker | None = None
        # A pool of its own: a long import must not hold the threads that load the current image.
        self._import_pool = QThreadPool(self)
        self._import_pool.setMaxThreadCount(1)
        self._import_report: ImportReport | None = None
        self._import_stopped = False
        self._import_error: BaseException | None = None
        self._import_ended: ImportEnded | None = None
        self.progress_dialog: QProgressDialog | None = None
        self.report_box: QMessageBox | None = None
        """The skipped-files message of the last import, if it had any."""
        self.in_use_box: QMessageBox | None = None
        """The question asked when the project to open is open in another window (open anyway, read-only, cancel)."""
        self.read_only_box: QMessageBox | None = None
        """The notice that a project opened read-only because it cannot be written."""
        self.dialog: NewProjectDialog | ImportDatasetDialog | None = None
        """The custom dialog now open, if any (they are non-blocking)."""

        self.new_action = self._action("&New project…", self.ask_new_project, QKeySequence.StandardKey.New)
        self.open_action = self._action("&Open project…", self.ask_open_project, QKeySequence.StandardKey.Open)
        self.recent_menu = QMenu("Open &Recent", parent_widget)
        self.import_images_action = self._action("Import &images…", self.ask_import_images)
        self.import_folder_action = self._action("Import a &folder of images…", self.ask_import_folder)
        self.import_dataset_action = self._action("Import a labelled &dataset…", self.ask_import_dataset)
        self.import_sequence_action = self._action("Import an &acquisition (TIFF stack, video)…", self.ask_import_sequence)
        self.import_sequence_action.setToolTip("Reference a multi-page TIFF or a video where it lies: one image per "
                                               "frame, nothing copied")
        self.import_actions = (self.import_images_action, self.import_folder_action, self.import_dataset_action,
                               self.import_sequence_action)

        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        state.project_opened.connect(self._on_project_opened)
        state.project_closed.connect(self._update_enabled)
        state.about_to_close.connect(self._stop_import)
        self._fill_recent_menu()
        self._update_enabled()

    def _action(self, text: str, slot: Callable[[], None], shortcut: QKeySequence.StandardKey | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        return action

    # -- new / open ----------------------------------------------------------------------------------
    def ask_new_project(self) -> None:
        """Show the new-project dialog; OK creates and opens the project."""
        dialog = NewProjectDialog(self._parent)
        dialog.accepted.connect(lambda: self.new_project(dialog.project_folder(), dialog.project_name(), dialog.class_table()))
        self._show_dialog(dialog)

    def new_project(self, folder: str | Path, name: str, table: ClassTable) -> None:
        """Create a project in `folder` (made if missing) and open it."""
        ProjectStore.create(folder, table, name=name).close()
        log.info("created project %r in %s with classes %s", name, folder, ", ".join(table.names))
        self._state.open(folder)

    def ask_open_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Open a segdesk project")
        if folder:
            self.open_project(folder)

    def open_project(self, folder: str | Path) -> None:
        """Open the project in `folder`; it becomes the most recent one.

        When another window (of any user, on any host) has it open, ask first: open anyway,
        open read-only, or cancel.
        """
        other = holder(folder)
        if other is None:
            self._open(folder, read_only=False)
        else:
            self._ask_in_use(Path(folder), other)

    def _ask_in_use(self, folder: Path, other: LockHolder) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Project already open",
                          f"The project in {folder} is already open in another window: {other.describe()}.",
                          QMessageBox.StandardButton.NoButton, self._parent)
        box.setInformativeText("Edits made in two windows at once overwrite each other. Open it read-only "
                               "to view, export and predict, or open it anyway if that window is gone.")
        anyway = box.addButton("Open anyway", QMessageBox.ButtonRole.AcceptRole)
        read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(read_only)

        def chosen(button: object) -> None:
            if button is anyway:
                self._open(folder, read_only=False, take_over_lock=True)
            elif button is read_only:
                self._open(folder, read_only=True)

        box.buttonClicked.connect(chosen)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "in_use_box", None))
        self.in_use_box = box
        box.open()  # not exec(): nothing may wait on the answer

    def _open(self, folder: str | Path, *, read_only: bool, take_over_lock: bool = False) -> None:
        self._state.open(folder, read_only=read_only, take_over_lock=take_over_lock)
        if not self._state.read_only:
            return
        if read_only:
            self._show_status(f"Opened {folder} read-only: changes cannot be saved.")
            return
        # Not asked for: the folder or its database cannot be written (a read-only share, a finished project).
        message = (f"The project in {folder} cannot be written, so it opened read-only: you can view it, export "
                   "it and predict into another folder, but edits cannot be saved.")
        self._show_status("Opened read-only: the project cannot be written.")
        box = QMessageBox(QMessageBox.Icon.Information, "Read-only project", message,
                          QMessageBox.StandardButton.Ok, self._parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "read_only_box", None))
        self.read_only_box = box
        box.open()

    # -- recent projects -----------------------------------------------------------------------------
    def recent_projects(self) -> list[str]:
        """Recently opened project folders, most recent first; folders that no longer hold a project are dropped."""
        stored = self._settings.value(RECENT_KEY, [])
        entries = [stored] if isinstance(stored, str) else list(stored or [])
        kept = [entry for entry in entries if ProjectStore.is_project(entry)][:MAX_RECENT]
        if kept != entries:
            self._set_recent(kept)
        return kept

    def clear_recent(self) -> None:
        self._set_recent([])
        self._fill_recent_menu()

    def _set_recent(self, entries: list[str]) -> None:
        self._settings.setValue(RECENT_KEY, entries)
        self._settings.sync()

    def _on_project_opened(self) -> None:
        root = str(Path(self._state.store.root).resolve())
        self._set_recent([root, *(entry for entry in self.recent_projects() if entry != root)][:MAX_RECENT])
        self._fill_recent_menu()
        self._update_enabled()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        entries = self.recent_projects()
        for entry in entries:
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _checked=False, folder=entry: self.open_project(folder))
        if entries:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list", self.clear_recent)
        self.recent_menu.setEnabled(bool(entries))

    # -- imports -------------------------------------------------------------------------------------
    def ask_import_images(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self._parent, "Import images", "", _IMAGE_FILTER)
        if paths:
            self.import_images(paths)

    def ask_import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Import every image of a folder")
        if folder:
            self.import_folder(folder)

    def ask_import_sequence(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._parent, "Import an acquisition", "", _SEQUENCE_FILTER)
        if path:
            self.import_sequence(path)

    def ask_import_dataset(self) -> None:
        """Show the import-dataset dialog; OK starts the import, which closes it on success or shows why it failed."""
        dialog = ImportDatasetDialog(self._parent)
        dialog.import_requested.connect(lambda fmt, folder, options: self._import_for_dialog(dialog, fmt, folder, options))
        self._show_dialog(dialog)

    def _import_for_dialog(self, dialog: ImportDatasetDialog, fmt: str, folder: Path, options: dict[str, Any]) -> None:
        """The dialog's import: its progress window sits over the dialog, its failure goes back to the dialog."""

        def ended(_report: ImportReport | None, error: BaseException | None) -> None:
            if error is None:
                dialog.import_done()
            else:
                dialog.import_failed(_failure_message(error))

        reader_options = dict(options)
        copy = reader_options.pop("copy")
        self._start_dataset_import(fmt, folder, copy, reader_options, owner=dialog, ended=ended)

    def import_images(self, paths: list[str | Path], *, copy: bool = True) -> Worker:
        """Add image files to the open project in the background; unreadable ones are skipped and reported."""
        return self._start_import("Importing images", iter_import_images, self._state.store, paths, copy=copy)

    def import_folder(self, folder: str | Path, *, copy: bool = True) -> Worker:
        """Add every image file directly in `folder`, as `import_images` does."""
        return self._start_import("Importing images", iter_import_folder, self._state.store, folder, copy=copy)

    def import_sequence(self, path: str | Path) -> Worker:
        """Reference an acquisition (a multi-page TIFF, a video, a folder of numbered frames) in the background."""
        return self._start_import("Importing an acquisition", iter_import_sequence, self._state.store, path)

    def import_dataset(self, fmt: str, path: str | Path, *, copy: bool = True, **reader_options: Any) -> Worker:
        """Import a labelled dataset (`fmt`: a segcore reader name) with its masks; new classes join the project's.

        Errors (also: no sample could be imported) go to the app's error dialog.
        """
        return self._start_dataset_import(fmt, Path(path), copy, reader_options)

    def _start_dataset_import(
        self,
        fmt: str,
        path: Path,
        copy: bool,
        reader_options: dict[str, Any],
        owner: QWidget | None = None,
        ended: ImportEnded | None = None,
    ) -> Worker:
        store = self._state.store
        args = (store, fmt, path, copy, reader_options)
        return self._start_import("Importing a dataset", _dataset_import_steps, *args, owner=owner, ended=ended)

    @property
    def import_running(self) -> bool:
        return self._import_worker is not None

    def _start_import(
        self,
        title: str,
        steps: Callable[..., ImportSteps],
        *args: Any,
        owner: QWidget | None = None,
        ended: ImportEnded | None = None,
        **kwargs: Any,
    ) -> Worker:
        """Run `steps` with a progress window (over `owner`, a modal dialog that would block it, else the window).

        With `ended`, errors go to it, not to the app's error dialog.
        """
        if self._import_worker is not None:
            raise RuntimeError("an import is already running")
        store = self._state.store
        worker = Worker(steps, *args, **kwargs)
        dialog = QProgressDialog(f"{title}…", "Cancel", 0, 0, owner or self._parent)
        dialog.setWindowTitle(title)
        # Not modal: a modal progress dialog spins a nested event loop in setValue; the user may keep labelling.
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setMinimumDuration(300)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(worker.quit)
        worker.yielded.connect(lambda progress: self._on_import_progress(title, progress))
        worker.returned.connect(self._on_import_returned)
        worker.aborted.connect(self._on_import_stopped)
        if ended is not None:
            worker.errored.connect(self._on_import_errored)  # a receiver: the worker no longer uses the error dialog
        worker.finished.connect(lambda: self._on_import_finished(store))
        self._import_worker, self._import_report, self._import_stopped = worker, None, False
        self._import_error, self._import_ended = None, ended
        self.progress_dialog = dialog
        self._update_enabled()
        return worker.start(self._import_pool)

    def _on_import_progress(self, title: str, progress: ImportProgress) -> None:
        if self.progress_dialog is None:
            return
        self.progress_dialog.setMaximum(progress.total)
        self.progress_dialog.setValue(progress.done)
        self.progress_dialog.setLabelText(f"{title}: {progress.name} ({progress.done}/{progress.total})")

    def _on_import_returned(self, report: ImportReport) -> None:
        self._import_report = report

    def _on_import_stopped(self) -> None:
        self._import_stopped = True

    def _on_import_errored(self, error: BaseException) -> None:
        self._import_error = error

    def _on_import_finished(self, store: ProjectStore) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect()  # closing a progress dialog emits `canceled`
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None
        self._import_worker = None
        report = self._import_report
        # The project may have been closed (or another opened) meanwhile: refresh only the one imported into.
        if self._state.is_open and self._state.store is store:
            self._state.refresh()  # also picks up classes a dataset brought
            if report is not None:
                self._announce(report)
            elif self._import_stopped:
                self._show_status("Import stopped; the images added so far are in the project.")
        self._update_enabled()
        ended, self._import_ended = self._import_ended, None
        if ended is not None:
            ended(report, self._import_error)
        self.import_finished.emit(report)

    def _announce(self, report: ImportReport) -> None:
        summary = f"Imported {report.added} image(s)."
        if report.new_classes:
            summary += f" New classes: {', '.join(report.new_classes)}."
        if report.duplicates:
            summary += f" {len(report.duplicates)} already in the project (same pixels), not added again."
        self._show_status(summary)
        if report.failed or report.duplicates:
            unreadable = f" {len(report.failed)} file(s) could not be read and were skipped." if report.failed else ""
            box = QMessageBox(QMessageBox.Icon.Warning if report.failed else QMessageBox.Icon.Information, "Import",
                              summary + unreadable, QMessageBox.StandardButton.Ok, self._parent)
            details = [f"{name}: {reason}" for name, reason in report.failed]
            details += [f"{name}: already in the project as {existing}" for name, existing in report.duplicates]
            box.setDetailedText("\n".join(details))
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.finished.connect(lambda _result: setattr(self, "report_box", None))
            self.report_box = box
            box.open()  # not exec(): the report must not block whatever the user does next

    def _stop_import(self) -> None:
        """Before the store closes: stop a running import at its next file and wait for it."""
        if self._import_worker is not None:
            self._import_worker.quit()
            if not self._import_worker.wait(STOP_IMPORT_TIMEOUT_S):
                log.warning("the import did not stop within %.0f s", STOP_IMPORT_TIMEOUT_S)

    # -- helpers ---------------------------------------------------------------------------------------
    def _show_dialog(self, dialog: NewProjectDialog | ImportDatasetDialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()

    def _show_status(self, message: str) -> None:
        log.info("%s", message)
        if isinstance(self._parent, QMainWindow):
            self._parent.statusBar().showMessage(message, 10_000)

    def _update_enabled(self) -> None:
        writable = self._state.is_open and not self._state.read_only
        for action in self.import_actions:
            action.setEnabled(writable and self._import_worker is None)
