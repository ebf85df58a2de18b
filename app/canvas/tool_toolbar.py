"""The tools toolbar: one checkable action per canvas tool, brush size, and the box "refine" option."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QCheckBox, QLabel, QSpinBox, QToolBar, QWidget

from app.canvas.image_view import ImageView
from app.canvas.tools.base import MAX_BRUSH, MIN_BRUSH, Tool, ToolSettings
from app.canvas.tools.box import BoxTool
from app.canvas.tools.brush import BrushTool, EraserTool
from app.canvas.tools.fill import FillTool
from app.canvas.tools.pan import PanTool
from app.canvas.tools.polygon import PolygonTool

# name, label, shortcut, tool class, tip
_TOOLS = (
    ("pan", "Pan", Qt.Key.Key_H, PanTool, "Drag the image"),
    ("box", "Box", Qt.Key.Key_R, BoxTool, "Drag a box; adjust its handles; Enter or Space accepts, Esc cancels"),
    ("polygon", "Polygon", Qt.Key.Key_P, PolygonTool,
     "Click vertices; Enter or double-click fills, Backspace removes a vertex, Esc cancels"),
    ("brush", "Brush", Qt.Key.Key_B, BrushTool, "Paint the current class; [ and ] change the size"),
    ("eraser", "Eraser", Qt.Key.Key_E, EraserTool, "Paint background; [ and ] change the size"),
    ("fill", "Fill", Qt.Key.Key_G, FillTool, "Fill the clicked region with the current class"),
)


class ToolBar(QToolBar):
    """Picks the `ImageView`'s tool (exclusive, checkable actions with shortcuts) and edits `ToolSettings`."""

    def __init__(self, view: ImageView, parent: QWidget | None = None) -> None:
        super().__init__("Tools", parent)
        self.setObjectName("ToolBar")
        self._view = view
        self.settings = ToolSettings(self)
        self.tools: dict[str, Tool] = {}
        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for name, label, key, tool_class, tip in _TOOLS:
            tool = tool_class(view, self.settings)
            action = QAction(label, self, checkable=True, shortcut=QKeySequence(key))
            action.setToolTip(f"{tip} ({QKeySequence(key).toString()})")
            action.toggled.connect(partial(self._toggled, tool))
            group.addAction(action)
            self.addAction(action)
            self.tools[name], self.tool_actions[name] = tool, action

        self.addSeparator()
        self.brush_size = QSpinBox(minimum=MIN_BRUSH, maximum=MAX_BRUSH, value=self.settings.brush_size, suffix=" px")
        self.brush_size.setToolTip("Brush and eraser diameter ([ smaller, ] larger)")
        self.smaller_action = QAction("Smaller brush", self, shortcut=QKeySequence(Qt.Key.Key_BracketLeft))
        self.larger_action = QAction("Larger brush", self, shortcut=QKeySequence(Qt.Key.Key_BracketRight))
        self.refine = QCheckBox("Refine boxes")
        self.refine.setToolTip("Accepted boxes become the object inside them instead of the whole box")
        self.addWidget(QLabel(" Size "))
        self.addWidget(self.brush_size)
        self.addWidget(self.refine)
        view.addActions([self.smaller_action, self.larger_action])  # keys only, live while the canvas's window is

        self.brush_size.valueChanged.connect(self.settings.set_brush_size)
        self.settings.brush_size_changed.connect(self.brush_size.setValue)
        self.smaller_action.triggered.connect(self.settings.shrink_brush)
        self.larger_action.triggered.connect(self.settings.grow_brush)
        self.refine.toggled.connect(self.settings.set_refine_boxes)
        self.settings.refine_boxes_changed.connect(self.refine.setChecked)
        self.tool_actions["pan"].setChecked(True)
        view.state.project_opened.connect(self._follow_project)
        view.state.project_closed.connect(self._follow_project)

    def _follow_project(self) -> None:
        """A read-only project can be looked at, not labelled: only the pan tool is offered."""
        editable = self._view.state.editable or not self._view.state.is_open
        if not editable:
            self.tool_actions["pan"].setChecked(True)
        for name, action in self.tool_actions.items():
            action.setEnabled(editable or name == "pan")

    def _toggled(self, tool: Tool, checked: bool) -> None:
        if checked:
            self._view.set_tool(tool)
