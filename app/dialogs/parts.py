"""Pieces every dialog of the app builds the same way: the problem line, OK/Cancel, a path with Browse."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit, QPushButton


def problem_label() -> QLabel:
    """The red line that says why OK is disabled."""
    label = QLabel(wordWrap=True)
    label.setStyleSheet("color: #c0392b")
    return label


def hint_label() -> QLabel:
    """A small grey line that explains a field (e.g. what was found in a chosen folder)."""
    label = QLabel(wordWrap=True)
    label.setStyleSheet("color: gray")
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    return label


def ok_cancel_buttons(dialog: QDialog, ok_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    """OK (named `ok_text`) and Cancel, wired to the dialog's accept and reject; returns the box and OK."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok_button.setText(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons, ok_button


def path_row(edit: QLineEdit, browse: QPushButton) -> QHBoxLayout:
    """A path field that takes the width, its Browse button beside it."""
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row
