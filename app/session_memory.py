"""Resume where the user left off: the last project, each project's current image, the tool and its options.

Everything is written to QSettings the moment it changes, so a crash or a kill loses nothing.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QSettings

from app.canvas.tool_toolbar import ToolBar
from app.state.project_state import NO_IMAGE, ProjectState

LAST_PROJECT_KEY = "session/lastProject"
TOOL_KEY = "session/tool"
BRUSH_SIZE_KEY = "tools/brushSize"
REFINE_BOXES_KEY = "tools/refineBoxes"


def _image_key(root: str | Path) -> str:
    # A folder path is full of "/", QSettings' group separator: key each project by a digest of it.
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return f"session/projects/{digest}/image"


class SessionMemory(QObject):
    """Restores the tool and its options at once, each project's image when it opens; remembers all as they change."""

    def __init__(self, state: ProjectState, tool_bar: ToolBar, settings: QSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._settings = settings if settings is not None else QSettings()
        self._restore_tools(tool_bar)
        state.resume_image = self.last_image
        state.project_opened.connect(self._project_opened)
        state.current_image_changed.connect(self._image_changed)
        tool_bar.settings.brush_size_changed.connect(partial(self._store, BRUSH_SIZE_KEY))
        tool_bar.settings.refine_boxes_changed.connect(partial(self._store, REFINE_BOXES_KEY))
        for name, action in tool_bar.tool_actions.items():
            action.toggled.connect(partial(self._tool_toggled, name))

    def last_project(self) -> str | None:
        """The folder of the project that was open last (it may have been deleted since)."""
        return self._settings.value(LAST_PROJECT_KEY) or None

    def last_image(self, root: str | Path) -> str | None:
        """The name of the image that was current when the project in `root` was last open."""
        return self._settings.value(_image_key(root)) or None

    def _restore_tools(self, tool_bar: ToolBar) -> None:
        if self._settings.contains(BRUSH_SIZE_KEY):
            tool_bar.settings.set_brush_size(self._settings.value(BRUSH_SIZE_KEY, type=int))
        if self._settings.contains(REFINE_BOXES_KEY):
            tool_bar.settings.set_refine_boxes(self._settings.value(REFINE_BOXES_KEY, type=bool))
        action = tool_bar.tool_actions.get(self._settings.value(TOOL_KEY))
        if action is not None:  # a tool since renamed or removed keeps the default
            action.setChecked(True)

    def _project_opened(self) -> None:
        self._store(LAST_PROJECT_KEY, str(Path(self._state.store.root).resolve()))

    def _image_changed(self, image_id: int) -> None:
        if image_id != NO_IMAGE and self._state.is_open:
            self._store(_image_key(self._state.store.root), self._state.record(image_id).name)

    def _tool_toggled(self, name: str, checked: bool) -> None:
        if checked:
            self._store(TOOL_KEY, name)

    def _store(self, key: str, value: object) -> None:
        self._settings.setValue(key, value)
        self._settings.sync()
