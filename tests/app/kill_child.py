"""Child process of test_app_kill: the real main window paints brush strokes, then is killed mid-stroke.

    python kill_child.py PROJECT_DIR STROKES

Prints `stroke N` after each finished stroke (mouse released), then `in-progress` once the
next stroke has been pressed and moved but not released, and waits to be killed.
"""

from __future__ import annotations

import os
import sys

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from app.state.project_state import ProjectState  # noqa: E402
from app.workers import wait_until  # noqa: E402


def main() -> None:
    root, strokes = sys.argv[1], int(sys.argv[2])
    app = QApplication([])
    state = ProjectState()
    window = MainWindow(state)
    window.show()
    state.open(root)
    view = window.view
    wait_until(view.is_settled, timeout_s=20)
    window.tool_bar.tool_actions["brush"].trigger()
    window.tool_bar.settings.set_brush_size(3)
    viewport = view.viewport()

    def at(x: int, y: int):
        return view.mapFromScene(QPointF(x + 0.5, y + 0.5))

    for i in range(strokes + 1):
        y = 4 + 6 * i  # one horizontal stroke per row band
        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(4, y))
        for x in range(8, 41, 4):
            QTest.mouseMove(viewport, at(x, y))
        if i == strokes:
            print("in-progress", flush=True)
            app.exec()  # killed here
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(40, y))
        print(f"stroke {i + 1}", flush=True)


if __name__ == "__main__":
    main()
