"""The one path by which errors reach the user: `show_error`, and an excepthook that uses it."""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from segcore.errors import SegcoreError

log = logging.getLogger(__name__)


def show_error(message: str, details: str | None = None, parent: QWidget | None = None) -> None:
    """Show an error message in a modal dialog; `details` (a traceback) goes behind 'Show Details'."""
    box = QMessageBox(parent or QApplication.activeWindow())
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("segdesk: error")
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.exec()


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        QApplication.quit()
        return
    if isinstance(exc, SegcoreError):
        # Expected failures (bad files, bad projects) are the user's to fix: the message is enough.
        log.error("%s", exc)
        message, details = str(exc), None
    else:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error:\n%s", details)
        message = f"Unexpected error: {exc_type.__name__}: {exc}"
    if QApplication.instance() is None:
        sys.__excepthook__(exc_type, exc, tb)
        return
    try:
        show_error(message, details)
    except Exception:  # noqa: BLE001 - the dialog itself failed; never loop back into this hook
        sys.__excepthook__(exc_type, exc, tb)


def install_excepthook() -> None:
    """Route uncaught exceptions (also those raised in Qt slots) to a log record and an error dialog."""
    sys.excepthook = _excepthook


def report_worker_error(exc: BaseException) -> None:
    """The default receiver of a background worker's error: the same path as the excepthook."""
    _excepthook(type(exc), exc, exc.__traceback__)
