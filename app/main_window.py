"""The main window: a composition root that builds the panels and wires them to the app state."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QTabWidget,
    QWidget,
)

from app.canvas.image_view import ImageView
from app.canvas.tool_toolbar import ToolBar
from app.canvas.view_toolbar import ViewToolBar
from app.dialogs.export_dialog import ExportDialog
from app.dialogs.help import HelpMenu
from app.dialogs.predict_dialog import PredictDialog
from app.label_next import LabelNext, LabelNextBar
from app.live_preview import LivePreview
from app.panels.class_panel import ClassPanel
from app.panels.image_browser import ImageBrowser
from app.panels.measurements_panel import MeasurementsPanel
from app.panels.runs_panel import RunsPanel
from app.panels.sequence_bar import SequenceBar
from app.panels.train_panel import TrainPanel
from app.predictions import PredictionController
from app.projects import ProjectController
from app.review.accept import AcceptController
from app.review.queue import ReviewPanel
from app.review.triptych import ReviewView
from app.state.preview import PreviewState
from app.state.project_state import ProjectState
from app.state.training_session import TrainingSession
from app.widgets.task_progress import TaskProgress

APP_NAME = "segdesk"


class MainWindow(QMainWindow):
    """Canvas in the middle, images on the left, classes on the right, toolbars on top."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._quitting = False
        """The user chose to stop the running training and quit: the window closes once the run has ended."""
        self.setWindowTitle(APP_NAME)
        self.resize(1400, 860)

        self.previews = PreviewState(state, self)
        self.view = ImageView(state, self, previews=self.previews)
        self.review_view = ReviewView(state, self, document=self.view.document, previews=self.previews)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.view, "Label")
        self.tabs.addTab(self.review_view, "Review")
        self.setCentralWidget(self.tabs)
        self.review_view.reveal_requested.connect(lambda: self.tabs.setCurrentWidget(self.review_view))
        self.browser = ImageBrowser(state, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser)
        self.class_panel = ClassPanel(state, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.class_panel)
        self.training = TrainingSession(state, self)
        self.train_panel = TrainPanel(state, self.training, self)
        self.runs_panel = RunsPanel(state, self.training, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.train_panel)
        self.tabifyDockWidget(self.train_panel, self.runs_panel)
        self.review_panel = ReviewPanel(state, self.review_view, self)
        self.tabifyDockWidget(self.runs_panel, self.review_panel)
        self.measurements_panel = MeasurementsPanel(state, self)
        self.tabifyDockWidget(self.review_panel, self.measurements_panel)
        self.train_panel.raise_()
        self.resizeDocks([self.browser, self.class_panel], [340, 380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.class_panel, self.train_panel], [160, 640], Qt.Orientation.Vertical)
        self.tool_bar = ToolBar(self.view, self)
        self.addToolBar(self.tool_bar)
        self.view_toolbar = ViewToolBar(self.view, self)
        self.addToolBar(self.view_toolbar)
        self.sequence_bar = SequenceBar(state, self)
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, self.sequence_bar)
        self._keep_keys_on_the_canvas()
        undo_group = self.view.document.undo_group
        self.undo_action = undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.projects = ProjectController(state, self)
        self.predictions = PredictionController(state, self)
        self.live_preview = LivePreview(state, self.training, self.previews, self)
        self.review_accept = AcceptController(state, self.review_view, self.view.document, self)
        self.review_accept.next_wanted.connect(self.review_panel.open_next_after)
        self.label_next = LabelNext(state, self)
        self.review_panel.add_footer(LabelNextBar(self.label_next))
        self.predict_action = QAction("&Predict…", self, shortcut=QKeySequence("Ctrl+P"))
        self.predict_action.setToolTip("Run a checkpoint on the current, unlabelled or all images (Ctrl+P)")
        self.predict_action.triggered.connect(lambda: self.ask_predict())
        self.export_action = QAction("&Export…", self, shortcut=QKeySequence("Ctrl+E"))
        self.export_action.setToolTip("Export labels or predictions as masks, overlays, labelme JSON or VOC (Ctrl+E)")
        self.export_action.triggered.connect(self.ask_export)
        self._build_menus()
        self.statusBar()

        self.view.hover_changed.connect(self.statusBar().showMessage)
        self.label_next.selected.connect(lambda _suggestion: self.tabs.setCurrentWidget(self.view))  # to label it
        # A permanent label: the pointer's position, shown as the bar's message, must not hide why.
        self.label_next_status = QLabel()
        self.label_next_status.setMinimumWidth(1)  # its text never widens the window; it is clipped instead
        self.statusBar().addPermanentWidget(self.label_next_status)
        self.label_next.message.connect(self.label_next_status.setText)
        self.label_next.message.connect(self.label_next_status.setToolTip)
        self.live_preview.failed.connect(lambda message: self.statusBar().showMessage(message, 10_000))
        self.prediction_progress = TaskProgress(self)
        self.statusBar().addPermanentWidget(self.prediction_progress)
        self.predictions.started.connect(lambda total: self.prediction_progress.begin("Predicting", total))
        self.predictions.progress.connect(self.prediction_progress.advance)
        self.prediction_progress.cancel_requested.connect(self.predictions.cancel)
        self.predictions.finished.connect(self._predictions_finished)
        self.runs_panel.checkpoint_chosen.connect(self.ask_predict)
        self.predictions.image_predicted.connect(self.previews.drop)  # a stored prediction is newer than a preview
        self.predictions.image_predicted.connect(self.review_view.refresh)
        self.predictions.image_predicted.connect(self.view.refresh_prediction)
        self.predictions.finished.connect(lambda *_: self.review_panel.refresh())
        self.review_accept.accepted.connect(lambda *_: self.review_panel.refresh())
        self.review_panel.predict_requested.connect(self._predict_for_review)
        self.training.finished.connect(lambda _event: self.review_panel.refresh())  # predictions may now be stale
        for action, allowed in ((self.predict_action, lambda: state.editable), (self.export_action, lambda: True)):
            action.setEnabled(False)
            state.project_opened.connect(lambda a=action, ok=allowed: a.setEnabled(ok()))  # predictions are stored
            state.project_closed.connect(lambda a=action: a.setEnabled(False))
        state.project_opened.connect(lambda: self.setWindowTitle(
            f"{state.store.name}{' (read-only)' if state.read_only else ''} — {APP_NAME}"))
        # After the image list has filled the browser (same signal, later receivers): widen it to show whole names.
        state.images_changed.connect(self._fit_browser)
        state.project_closed.connect(lambda: self.setWindowTitle(APP_NAME))

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.projects.new_action, self.projects.open_action])
        file_menu.addMenu(self.projects.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions(list(self.projects.import_actions))
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])

        tools_menu = self.menuBar().addMenu("&Tools")
        tools_menu.addActions(list(self.tool_bar.tool_actions.values()))
        tools_menu.addSeparator()
        tools_menu.addActions([self.tool_bar.smaller_action, self.tool_bar.larger_action])

        image_menu = self.menuBar().addMenu("&Image")
        image_menu.addActions([self.browser.next_action, self.browser.previous_action])
        image_menu.addSeparator()
        image_menu.addAction(self.label_next.action)

        classes_menu = self.menuBar().addMenu("&Classes")
        classes_menu.addActions(self.class_panel.edit_actions)
        classes_menu.addSeparator()
        classes_menu.addActions(self.class_panel.select_actions)

        model_menu = self.menuBar().addMenu("&Model")
        model_menu.addActions([self.train_panel.toggleViewAction(), self.runs_panel.toggleViewAction()])
        model_menu.addSeparator()
        model_menu.addActions([self.live_preview.enabled_action, self.live_preview.now_action])
        model_menu.addSeparator()
        model_menu.addAction(self.predict_action)
        model_menu.addAction(self.measurements_panel.measure_action)

        review_menu = self.menuBar().addMenu("&Review")
        show_review = QAction("Show the review view", self, shortcut=QKeySequence("Ctrl+R"))
        show_review.triggered.connect(self.review_view.reveal)
        review_menu.addActions([show_review, self.review_panel.next_action, *self.review_accept.actions,
                                self.review_accept.confident_action, self.review_view.errors_action,
                                self.review_panel.toggleViewAction()])

        view_menu = self.menuBar().addMenu("&View")
        toolbar = self.view_toolbar
        view_menu.addActions([toolbar.fit_action, toolbar.actual_size_action, toolbar.overlay_action,
                              toolbar.prediction_action])
        view_menu.addActions([toolbar.auto_window_action, toolbar.clahe_action])
        view_menu.addAction(self.browser.large_thumbnails_action)
        view_menu.addSeparator()
        view_menu.addActions([self.browser.toggleViewAction(), self.class_panel.toggleViewAction(),
                              self.measurements_panel.toggleViewAction(), self.sequence_bar.toggleViewAction()])

        self.help_menu = HelpMenu(self)
        self.menuBar().addMenu(self.help_menu)

    def _keep_keys_on_the_canvas(self) -> None:
        """Toolbar fields take the focus only when clicked, and give it back to the canvas when done.

        Otherwise the first of them catches the focus whenever the window is activated (after any
        dialog) and swallows the single-key shortcuts (D, N, R, B, Ctrl+E: a spin box's line edit
        wants them) until the user clicks the canvas.
        """
        for toolbar in (self.tool_bar, self.view_toolbar):
            for kind in (QAbstractSpinBox, QComboBox, QSlider):
                for widget in toolbar.findChildren(kind):
                    widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
                    if isinstance(widget, QAbstractSpinBox):
                        widget.editingFinished.connect(self.view.setFocus)
        self.state.project_opened.connect(self.view.setFocus)

    def _fit_browser(self) -> None:
        wanted = self.browser.preferred_width()
        if wanted > self.browser.width():
            self.resizeDocks([self.browser], [wanted], Qt.Orientation.Horizontal)

    def ask_export(self) -> None:
        """The export dialog; the keys go back to the canvas afterwards."""
        ExportDialog(self.state, self).exec()
        self.view.setFocus()

    def ask_predict(self, checkpoint: str | None = None) -> None:
        """Ask what to predict (with `checkpoint` pre-filled, e.g. one double-clicked in the runs panel)."""
        if self.predictions.is_running:
            self.statusBar().showMessage("A prediction is already running", 3000)
            return
        dialog = PredictDialog(self.state, self)
        if checkpoint:
            dialog.checkpoint.setText(str(checkpoint))
        if dialog.exec():
            choice = dialog.values()
            self.predictions.predict(choice.checkpoint, choice.which, tile=choice.tile, tta=choice.tta,
                                     one_region=choice.one_region)
        self.view.setFocus()

    def _predict_for_review(self, checkpoint: str, ids: list[int]) -> None:
        if self.predictions.is_running:
            self.statusBar().showMessage("A prediction is already running", 3000)
            return
        self.predictions.predict_images(checkpoint, ids)

    def _predictions_finished(self, count: int, errors: list) -> None:
        self.prediction_progress.end()
        message = f"Predicted {count} image(s)" + (f"; {len(errors)} failed: {errors[0]}" if errors else "")
        self.statusBar().showMessage(message, 10000)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.training.is_running:
            # Quitting mid-run used to close at once; now the user chooses, and the run ends as cancelled
            # (its last finished epoch kept) before the window goes.
            if not self._quitting and confirm_quit_during_training(self):
                self._quitting = True
                self.training.state_changed.connect(self._close_when_stopped)
                self.training.cancel()
                self.statusBar().showMessage("Stopping the training run after its current batch, then quitting…")
            event.ignore()
            return
        self.state.close()  # flushes pending edits to the store before the window goes
        super().closeEvent(event)

    def _close_when_stopped(self, _state: str) -> None:
        if not self.training.is_running:
            self.close()


def confirm_quit_during_training(parent: QWidget) -> bool:
    """Ask before quitting while a run trains: True to stop it (its last finished epoch is kept) and quit."""
    box = QMessageBox(QMessageBox.Icon.Question, "Training in progress",
                      "A training run is in progress. Stop it and quit?", parent=parent)
    box.setInformativeText("The run ends as cancelled; its last finished epoch's checkpoint is kept, and "
                           "Resume in the Runs panel continues it.")
    stop = box.addButton("Stop training and quit", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Keep training", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is stop
