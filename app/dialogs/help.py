"""The Help menu: the keyboard shortcuts (read from the window's own actions, so never stale) and About."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QSettings, Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.log_file import active_log_file
from segcore import __version__

CANVAS_GROUP = "Canvas"
# What the canvas and its tools handle in their own event handlers (app/canvas/image_view.py, tools/): no QAction.
CANVAS_KEYS = (
    ("Enter / Space", "Box: accept the drawn box"),
    ("Esc", "Box, Polygon: cancel the box or polygon in progress"),
    ("Enter / double-click", "Polygon: close and fill the polygon"),
    ("Backspace", "Polygon: remove the last vertex"),
    ("Drag a handle / inside", "Box: resize / move the box before accepting it"),
    ("Middle-drag", "Pan the image, whatever the tool"),
    ("Wheel", "Zoom at the cursor"),
)

Row = tuple[str, str, str]
"""(group, command, keys)."""


def _plain(text: str) -> str:
    """Menu text without its mnemonic ampersands and ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def _keys(action: QAction) -> str:
    return ", ".join(seq.toString(QKeySequence.SequenceFormat.NativeText) for seq in action.shortcuts())


def shortcut_rows(window: QMainWindow) -> list[Row]:
    """Every action of `window` with a shortcut, by menu (then those in no menu), then the canvas keys."""
    rows: list[Row] = []
    listed: set[QAction] = set()

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {_plain(action.text())}")
            elif action.shortcuts() and action not in listed:
                listed.add(action)
                rows.append((path, _plain(action.text()), _keys(action)))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.text()))
    rows += [("Other", _plain(action.text()), _keys(action))
             for action in window.findChildren(QAction) if action.shortcuts() and action not in listed]
    rows += [(CANVAS_GROUP, command, keys) for keys, command in CANVAS_KEYS]
    return rows


class ShortcutsDialog(QDialog):
    """A two-column list, grouped by menu: keys and the command they run."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Keys", "Command"])
        groups: dict[str, QTreeWidgetItem] = {}
        for group, command, keys in shortcut_rows(window):
            if group not in groups:
                groups[group] = QTreeWidgetItem(self.tree, [group])
                groups[group].setFirstColumnSpanned(True)
            QTreeWidgetItem(groups[group], [keys, command])
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.resize(560, 640)

    def rows(self) -> list[Row]:
        """What the dialog shows, as (group, command, keys)."""
        return [(group.text(0), group.child(i).text(1), group.child(i).text(0))
                for group in map(self.tree.topLevelItem, range(self.tree.topLevelItemCount()))
                for i in range(group.childCount())]


def about_facts() -> list[tuple[str, str]]:
    """(label, value) pairs for About and bug reports: versions, GPU, the training device, folders, the log file."""
    import torch

    from segcore.demo import default_demo_dir
    from segcore.training.device import describe, pick_device

    gpu = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})" if torch.cuda.is_available() else "CPU only"
    return [
        ("segdesk", __version__),
        ("Python", platform.python_version()),
        ("PySide6 / Qt", f"{pyside_version} / {qVersion()}"),
        ("torch", torch.__version__),
        ("GPU", gpu),
        ("Training device", describe(pick_device())),
        ("Settings", QSettings().fileName()),
        ("Data folder", str(default_demo_dir().parent)),
        ("Log file", str(log_file) if (log_file := active_log_file()) else "none (logging to the terminal only)"),
    ]


class AboutDialog(QDialog):
    """The facts of `about_facts`, selectable, with a button that copies them for a bug report."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About segdesk")
        self.facts = about_facts()
        form = QFormLayout()
        form.addRow(QLabel("Label images, train segmentation networks, review."))
        for label, value in self.facts:
            text = QLabel(value)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{label}:", text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def text(self) -> str:
        """The facts as plain lines."""
        return "\n".join(f"{label}: {value}" for label, value in self.facts)


class HelpMenu(QMenu):
    """Help ▸ Keyboard shortcuts (F1) and About; each opens its dialog window-modal, without a nested event loop."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__("&Help", window)
        self._window = window
        self.dialog: QDialog | None = None
        """The help dialog now open, if any."""
        self.shortcuts_action = self.addAction("&Keyboard shortcuts…", self.show_shortcuts)
        self.shortcuts_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.about_action = self.addAction("&About segdesk…", self.show_about)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Open the shortcuts dialog, built now so it lists every action the window has by then."""
        return self._open(ShortcutsDialog(self._window))

    def show_about(self) -> AboutDialog:
        """Open the About dialog."""
        return self._open(AboutDialog(self._window))

    def _open(self, dialog: QDialog) -> QDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog
