"""The runs dock: the project's training history; a run's config, curves and checkpoints; resume, continue, average."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import errors
from app.state.project_state import ProjectState
from app.state.training_session import TrainingSession
from app.widgets.curves import TrainingCurves
from app.widgets.wheel_guard import guard_wheel
from app.workers import Worker, WorkerGroup
from segcore.errors import SegcoreError
from segcore.project.records import RunRecord
from segcore.project.runs import average_run, run_checkpoints
from segcore.training import TrainConfig

RUN_ID_ROLE = Qt.ItemDataRole.UserRole
PATH_ROLE = Qt.ItemDataRole.UserRole
_COLUMNS = ("Name", "Model", "Status", "Best mIoU", "Started")
RESUMABLE = ("cancelled", "failed")
"""A run in one of these states can go on from its last checkpoint."""
NO_RUN = -1


def _run_item(run: RunRecord) -> QTreeWidgetItem:
    best = "—" if run.best_score is None else f"{run.best_score:.3f}"
    item = QTreeWidgetItem([run.name, str(run.config.get("model", "?")), run.status, best, run.created_at[:16]])
    item.setData(0, RUN_ID_ROLE, run.id)
    item.setToolTip(0, f"run {run.id}; finished {run.finished_at or '—'}")
    return item


class RunsPanel(QDockWidget):
    """Lists the project's runs; the selected one's details; actions on it through the TrainingSession."""

    checkpoint_chosen = Signal(str)
    """A checkpoint was double-clicked (e.g. to predict with it); carries its path."""

    def __init__(self, state: ProjectState, session: TrainingSession, parent: QWidget | None = None) -> None:
        super().__init__("Runs", parent)
        self.setObjectName("RunsPanel")
        self._state = state
        self._session = session
        self._average_worker: Worker | None = None
        self._workers = WorkerGroup()
        state.about_to_close.connect(self._workers.wait)  # an averaging run reads the store

        self.runs_view = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True, alternatingRowColors=True)
        self.runs_view.setHeaderLabels(list(_COLUMNS))
        self.runs_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.config_view = QPlainTextEdit(readOnly=True)
        self.curves = TrainingCurves()
        self.checkpoints_view = QListWidget(toolTip="Double-click a checkpoint to use it (e.g. for predictions)")
        self.resume_button = QPushButton("Resume", toolTip="Go on with the run from its last checkpoint")
        self.continue_button = QPushButton(
            "Continue from best", toolTip="A new run with this run's settings, starting from its best weights"
        )
        self.k_spin = QSpinBox(minimum=2, maximum=100, value=3, prefix="k = ")
        self.average_button = QPushButton("Average k best", toolTip="Average the weights of the run's k best epochs")
        self.info_label = QLabel(wordWrap=True)

        details = QTabWidget()
        details.addTab(self.checkpoints_view, "Checkpoints")
        details.addTab(self.curves, "Curves")
        details.addTab(self.config_view, "Config")
        buttons = QHBoxLayout()
        for widget in (self.resume_button, self.continue_button, self.k_spin, self.average_button):
            buttons.addWidget(widget)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(buttons)
        lower_layout.addWidget(self.info_label)
        lower_layout.addWidget(details)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.runs_view)
        splitter.addWidget(lower)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.setWidget(body)
        guard_wheel(body)

        self.runs_view.currentItemChanged.connect(self._show_selected)
        self.checkpoints_view.itemDoubleClicked.connect(self._on_checkpoint_double_clicked)
        self.resume_button.clicked.connect(self.resume_selected)
        self.continue_button.clicked.connect(self.continue_selected)
        self.average_button.clicked.connect(self.average_selected)
        for signal in (state.project_opened, state.project_closed, session.run_started, session.finished,
                       session.failed):
            signal.connect(self.refresh)
        session.state_changed.connect(self._update_actions)
        session.checkpoint.connect(self._on_checkpoint_saved)
        self.refresh()

    # -- queries ---------------------------------------------------------------------------------------
    def selected_run(self) -> int:
        """The id of the selected run, or NO_RUN."""
        item = self.runs_view.currentItem()
        return NO_RUN if item is None else int(item.data(0, RUN_ID_ROLE))

    def selected_checkpoint(self) -> str | None:
        """The path of the selected checkpoint of the selected run, or None."""
        item = self.checkpoints_view.currentItem()
        return None if item is None else item.data(PATH_ROLE)

    def select_run(self, run_id: int) -> None:
        for row in range(self.runs_view.topLevelItemCount()):
            item = self.runs_view.topLevelItem(row)
            if item.data(0, RUN_ID_ROLE) == run_id:
                self.runs_view.setCurrentItem(item)
                return
        raise KeyError(f"no run {run_id} in this project")

    # -- actions ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the run history, keeping the selection (the newest run when none was selected)."""
        selected = self.selected_run()
        self.runs_view.clear()
        if self._state.is_open:
            runs = self._state.store.runs()
            self.runs_view.addTopLevelItems([_run_item(run) for run in reversed(runs)])  # newest first
            ids = {run.id for run in runs}
            if selected in ids:
                self.select_run(selected)
            elif runs:
                self.select_run(runs[-1].id)
        self._show_selected()

    def resume_selected(self) -> None:
        """Go on with the selected (cancelled or failed) run from its last checkpoint."""
        run = self._state.store.run(self.selected_run())
        self._session.start(TrainConfig.from_dict(run.config), resume_run=run.id)

    def continue_selected(self) -> None:
        """A new run with the selected run's settings, starting from its best checkpoint (after new labels)."""
        run = self._state.store.run(self.selected_run())
        best = self._checkpoints(run.id).get("best")
        if best is None:
            errors.show_error(f"Run {run.name!r} has no best checkpoint yet.", parent=self)
            return
        self._session.start(TrainConfig.from_dict(run.config), name=f"{run.name} (continued)", init_from=best)

    def average_selected(self) -> Worker:
        """Average the selected run's k best epochs in the background; the new checkpoint is then listed."""
        worker = Worker(average_run, self._state.store, self.selected_run(), self.k_spin.value())
        worker.returned.connect(self._on_averaged)
        worker.errored.connect(self._on_average_failed)
        worker.finished.connect(self._on_average_finished)
        self._average_worker = worker
        self.info_label.setText(f"Averaging the {self.k_spin.value()} best epochs…")
        self._update_actions()
        return self._workers.start(worker)

    # -- slots -------------------------------------------------------------------------------------------
    def _checkpoints(self, run_id: int) -> dict[str, Path]:
        try:
            return run_checkpoints(self._state.store, run_id)
        except SegcoreError:  # a run that failed before it had a folder
            return {}

    def _show_selected(self, *_: object) -> None:
        run_id = self.selected_run()
        chosen = self.selected_checkpoint()
        self.checkpoints_view.clear()
        if run_id == NO_RUN or not self._state.is_open:
            self.config_view.clear()
            self.curves.clear()
            self.info_label.clear()
        else:
            store = self._state.store
            run = store.run(run_id)
            self.config_view.setPlainText(json.dumps(run.config, indent=2))
            self.curves.show_history(store.run_metrics(run_id))
            for label, path in self._checkpoints(run_id).items():
                item = QListWidgetItem(label)
                item.setData(PATH_ROLE, str(path))
                item.setToolTip(str(path))
                self.checkpoints_view.addItem(item)
                if str(path) == chosen:  # a refresh (a run saving checkpoints) keeps the user's pick
                    self.checkpoints_view.setCurrentItem(item)
            self.info_label.setText(f"{run.name}: {run.status}, started {run.created_at}")
        self._update_actions()

    def _on_checkpoint_double_clicked(self, item: QListWidgetItem) -> None:
        self.checkpoint_chosen.emit(item.data(PATH_ROLE))

    def _on_checkpoint_saved(self, _event: object) -> None:
        # The running run is the newest one: keep its checkpoint list current while it trains.
        if self._state.is_open and self.selected_run() == max((r.id for r in self._state.store.runs()), default=NO_RUN):
            self._show_selected()

    def _on_averaged(self, path: Path) -> None:
        self._show_selected()  # lists the new checkpoint when its run is still the selected one
        for row in range(self.checkpoints_view.count()):
            if self.checkpoints_view.item(row).data(PATH_ROLE) == str(path):
                self.checkpoints_view.setCurrentRow(row)
        self.info_label.setText(f"Averaged weights saved as {path.name}")

    def _on_average_failed(self, exc: BaseException) -> None:
        self.info_label.clear()
        errors.show_error(str(exc), parent=self)

    def _on_average_finished(self) -> None:
        self._average_worker = None
        self._update_actions()

    def _update_actions(self, *_: object) -> None:
        run_id = self.selected_run()
        has_run = self._state.is_open and run_id != NO_RUN
        status = self.runs_view.currentItem().text(2) if has_run else ""
        idle = not self._session.is_running
        self.resume_button.setEnabled(has_run and idle and status in RESUMABLE)
        self.continue_button.setEnabled(has_run and idle and status != "running")
        self.average_button.setEnabled(has_run and status != "running" and self._average_worker is None)
        self.k_spin.setEnabled(self.average_button.isEnabled())
