"""The main window: a composition root that builds the panels and wires them to the app state."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QWidget

from app.canvas.image_view import ImageView
from app.canvas.view_toolbar import ViewToolBar
from app.panels.image_browser import ImageBrowser
from app.state.project_state import ProjectState

APP_NAME = "segdesk"


class MainWindow(QMainWindow):
    """Canvas in the middle, image browser on the left, view toolbar on top, read-out below."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 800)

        self.view = ImageView(state, self)
        self.setCentralWidget(self.view)
        self.browser = ImageBrowser(state, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser)
        self.resizeDocks([self.browser], [380], Qt.Orientation.Horizontal)
        self.view_toolbar = ViewToolBar(self.view, self)
        self.addToolBar(self.view_toolbar)
        self._build_menus()
        self.statusBar()

        self.view.hover_changed.connect(self.statusBar().showMessage)
        state.project_opened.connect(lambda: self.setWindowTitle(f"{state.store.name} — {APP_NAME}"))

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open project…", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_project)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addActions([open_action, quit_action])

        image_menu = self.menuBar().addMenu("&Image")
        image_menu.addActions([self.browser.next_action, self.browser.previous_action])

        view_menu = self.menuBar().addMenu("&View")
        toolbar = self.view_toolbar
        view_menu.addActions([toolbar.fit_action, toolbar.actual_size_action, toolbar.overlay_action])
        view_menu.addSeparator()
        view_menu.addAction(self.browser.toggleViewAction())

    def _choose_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a segdesk project")
        if folder:
            self.state.open(folder)
