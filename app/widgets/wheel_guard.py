"""Spin boxes and combo boxes take the mouse wheel only when they have the focus.

Scrolling a long form must scroll the form, not change whichever value passes under the
pointer (a U-Net width of 16 becoming 4). A guarded field lets an unfocused wheel event go on to
its parent (the scroll area), and gets the focus by click or Tab only, not by the wheel.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QWidget

GUARDED = (QAbstractSpinBox, QComboBox)


class _WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            event.ignore()  # ignored and filtered: Qt hands the wheel to the parent, which scrolls
            return True
        return False


def guard_wheel(root: QWidget) -> None:
    """Guard every spin box and combo box inside `root` (those added later need another call)."""
    guard = root.findChild(_WheelGuard) or _WheelGuard(root)
    for kind in GUARDED:
        for widget in root.findChildren(kind):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not WheelFocus: the wheel must not grab focus
            widget.installEventFilter(guard)
