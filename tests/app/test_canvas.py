"""The canvas on a real project: background loading, stale loads, window/level, CLAHE, 1:1, a 3072 x 3072 frame.

Also home of the `workspace` fixture (canvas + tool and view toolbars in a main window) that the
tool and undo tests import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication, QMainWindow

from app.canvas.image_view import ImageView
from app.canvas.overlay import MaskOverlayItem
from app.canvas.prediction_overlay import PredictionStyle
from app.canvas.tool_toolbar import ToolBar
from app.canvas.view_toolbar import ViewToolBar
from app.state.project_state import ProjectState
from segcore.data.classes import ClassTable
from segcore.project.store import ProjectStore


@dataclass
class Workspace:
    """The canvas with both toolbars in a shown, active main window, on an open project."""

    qtbot: object
    win: QMainWindow
    state: ProjectState
    view: ImageView
    tools: ToolBar
    view_bar: ViewToolBar

    @property
    def mask(self) -> np.ndarray:
        return self.view.document.mask

    def select(self, name: str) -> int:
        """Make `name` current and wait until its image and mask are on the canvas; returns its id."""
        image_id = self.state.find(name).id
        if self.state.current_id != image_id:
            with self.qtbot.waitSignal(self.view.image_shown, timeout=5000):
                self.state.select(image_id)
        self.wait_loaded()
        return image_id

    def wait_loaded(self) -> None:
        view = self.view
        self.qtbot.waitUntil(lambda: view.has_mask and view.document.image_id == self.state.current_id, timeout=5000)

    def point(self, x: float, y: float) -> QPoint:
        """The viewport position of the centre of image pixel (x, y)."""
        return self.view.mapFromScene(QPointF(x + 0.5, y + 0.5))

    def press(self, x: float, y: float) -> None:
        self.qtbot.mousePress(self.view.viewport(), Qt.MouseButton.LeftButton, pos=self.point(x, y))

    def move(self, x: float, y: float) -> None:
        self.qtbot.mouseMove(self.view.viewport(), self.point(x, y))

    def release(self, x: float, y: float) -> None:
        self.qtbot.mouseRelease(self.view.viewport(), Qt.MouseButton.LeftButton, pos=self.point(x, y))

    def drag(self, *points: tuple[float, float]) -> None:
        """Press at the first pixel, move through the others, release at the last."""
        self.press(*points[0])
        for point in points[1:]:
            self.move(*point)
        self.release(*points[-1])

    def click(self, x: float, y: float) -> None:
        self.qtbot.mouseClick(self.view.viewport(), Qt.MouseButton.LeftButton, pos=self.point(x, y))

    def key(self, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        self.qtbot.keyClick(self.view, key, modifier)

    def stored_mask(self, image_id: int) -> np.ndarray | None:
        """The mask as a fresh connection to the project reads it (what a restarted app would see)."""
        with ProjectStore.open(self.state.store.root) as store:
            return store.load_mask(image_id)


def open_workspace(qtbot, root: Path) -> Workspace:
    state = ProjectState()
    win = QMainWindow()
    qtbot.addWidget(win)
    view = ImageView(state, win)
    win.setCentralWidget(view)
    tools, view_bar = ToolBar(view, win), ViewToolBar(view, win)
    win.addToolBar(tools)
    win.addToolBar(view_bar)
    win.resize(900, 700)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    view.setFocus()
    state.open(root)
    workspace = Workspace(qtbot, win, state, view, tools, view_bar)
    workspace.wait_loaded()
    return workspace


@pytest.fixture()
def workspace(qtbot, tiny_project):
    ws = open_workspace(qtbot, tiny_project.root)
    yield ws
    ws.state.close()


def _pixel(view: ImageView, x: int, y: int) -> tuple[int, int, int]:
    color = view.image_item.pixmap().toImage().pixelColor(x, y)
    return color.red(), color.green(), color.blue()


def test_the_image_arrives_from_a_worker_and_stale_loads_are_dropped(qtbot, workspace):
    view, state = workspace.view, workspace.state
    shown: list[int] = []
    view.image_shown.connect(shown.append)
    gamma = state.find("gamma_rgb").id
    with qtbot.waitSignal(view.image_shown, check_params_cb=lambda image_id: image_id == gamma, timeout=5000):
        state.select(state.find("beta_gray16").id)
        state.select(state.find("delta_gray16").id)
        state.select(gamma)
    qtbot.wait(100)  # time for any straggler to (wrongly) land
    assert shown == [gamma]
    assert view.image_item.pixmap().size().toTuple() == (36, 32)
    assert _pixel(view, 3, 3) == (200, 0, 50)


def test_window_level_spin_boxes_and_auto(qtbot, workspace, tiny_project):
    workspace.select("beta_gray16")
    view, bar = workspace.view, workspace.view_bar
    auto = view.display_window()
    assert (bar.window_low.value(), bar.window_high.value()) == (round(auto[0]), round(auto[1]))
    assert _pixel(view, 0, 20)[0] == 0 and _pixel(view, 63, 20)[0] == 255
    with qtbot.waitSignal(view.image_shown):
        bar.window_high.setValue(120_000 // 4)  # x * 1000: columns from 30 on are white
    with qtbot.waitSignal(view.image_shown):
        bar.window_low.setValue(10_000)
    assert view.display_window() == (10_000.0, 30_000.0)
    assert _pixel(view, 5, 20)[0] == 0 and _pixel(view, 40, 20)[0] == 255
    assert 0 < _pixel(view, 20, 20)[0] < 255
    # A fixed window stays for the next image; Auto goes back to each image's own.
    workspace.select("delta_gray16")
    assert view.display_window() == (10_000.0, 30_000.0)
    with qtbot.waitSignal(view.image_shown):
        bar.auto_window_action.trigger()
    assert view.display_window()[0] == 3000.0
    assert bar.window_low.value() == 3000


def test_clahe_toggle_changes_the_displayed_pixels(qtbot, workspace):
    workspace.select("alpha_gray8")
    view = workspace.view
    before = view.image_item.pixmap().toImage()
    with qtbot.waitSignal(view.image_shown):
        workspace.view_bar.clahe_action.trigger()
    assert view.clahe
    after = view.image_item.pixmap().toImage()
    assert after != before
    with qtbot.waitSignal(view.image_shown):
        workspace.view_bar.clahe_action.trigger()
    assert view.image_item.pixmap().toImage() == before


def test_actual_size_is_ctrl_1_and_plain_1_is_free(workspace):
    view = workspace.view
    fitted = view.scale_factor()
    workspace.key(Qt.Key.Key_1)
    assert view.scale_factor() == fitted
    workspace.key(Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert view.scale_factor() == 1.0


def test_a_3072_frame_is_shown_whole_and_brush_strokes_on_it_are_stored(qtbot, tmp_path):
    """Correctness on a full-size frame; its speed is measured by benchmarks/bench_gui.py, not here."""
    side = 3072
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 4096, (side, side), dtype=np.uint16)
    root = tmp_path / "big"
    with ProjectStore.create(root, ClassTable.from_names(["background", "sample"])) as store:
        image_id = store.add_image_array("frame", frame).id
    state = ProjectState()
    view = ImageView(state)
    qtbot.addWidget(view)
    view.resize(1000, 800)
    view.show()
    qtbot.waitExposed(view)
    with qtbot.waitSignal(view.image_shown, timeout=10_000):
        state.open(root)
    assert view.image_item.pixmap().size().toTuple() == (side, side)
    qtbot.waitUntil(lambda: view.has_mask, timeout=5000)

    workspace = Workspace(qtbot, None, state, view, ToolBar(view), None)
    workspace.tools.tool_actions["brush"].trigger()
    workspace.tools.settings.set_brush_size(41)
    view.zoom_by(4)  # labelling zoom: a stroke across the visible part
    centre = view.mapToScene(view.viewport().rect().center())
    cx, cy = int(centre.x()), int(centre.y())
    workspace.press(cx - 100, cy)
    moves = [(cx - 100 + 4 * i, cy + (i % 7)) for i in range(50)]
    for x, y in moves:
        workspace.move(x, y)
    workspace.release(*moves[-1])
    assert view.document.mask[cy, cx] == 1
    np.testing.assert_array_equal(workspace.stored_mask(image_id), view.document.mask)
    state.close()


def test_middle_button_pans_in_any_tool(qtbot, workspace):
    workspace.select("beta_gray16")
    workspace.view.zoom_by(8)
    workspace.tools.tool_actions["brush"].trigger()
    before = workspace.mask.copy()
    bars = workspace.view.horizontalScrollBar(), workspace.view.verticalScrollBar()
    start = [bar.value() for bar in bars]
    viewport = workspace.view.viewport()
    centre = viewport.rect().center()
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=centre)
    qtbot.mouseMove(viewport, centre + QPoint(-40, -30))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=centre + QPoint(-40, -30))
    assert [bar.value() for bar in bars] == [start[0] + 40, start[1] + 30]
    np.testing.assert_array_equal(workspace.mask, before)  # panning painted nothing


def test_prediction_overlay_shows_the_stored_prediction_and_follows_new_ones(qtbot, workspace):
    image_id = workspace.select("beta_gray16")
    view = workspace.view
    prediction = np.zeros((48, 64), np.uint8)
    prediction[5:15, 5:25] = 1
    workspace.state.store.save_prediction(image_id, prediction, None, checkpoint="runs/0001/best.pt")
    view.set_prediction_visible(True)
    qtbot.waitUntil(lambda: not view.prediction_item.is_empty, timeout=5000)
    drawn = view.prediction_item.image()
    assert drawn.pixelColor(5, 10).red() == 255 and drawn.pixelColor(40, 40).alpha() == 0  # the outline, outside
    assert view.prediction_caption.isVisible() and "best.pt" in view.prediction_caption.text()
    prediction[30:40, 40:60] = 1
    workspace.state.store.save_prediction(image_id, prediction, None, checkpoint="runs/0001/best.pt")
    view.refresh_prediction(image_id)
    qtbot.waitUntil(lambda: view.prediction_item.image().pixelColor(40, 35).red() == 255, timeout=5000)
    view.set_prediction_visible(False)
    assert view.prediction_item.is_empty and not view.prediction_item.isVisible()
    assert not view.prediction_caption.isVisible()


def _coloured_fraction(image, x0: int, y0: int, x1: int, y1: int) -> float:
    """Share of the pixels in [x0, x1) x [y0, y1) that are drawn (not transparent)."""
    drawn = sum(image.pixelColor(x, y).alpha() > 0 for y in range(y0, y1) for x in range(x0, x1))
    return drawn / ((x1 - x0) * (y1 - y0))


def test_a_prediction_over_an_erased_label_does_not_look_labelled(qtbot, workspace):
    image_id = workspace.select("beta_gray16")
    view = workspace.view
    workspace.state.store.save_mask(image_id, np.zeros((48, 64), np.uint8))  # erased: nothing labelled
    prediction = np.zeros((48, 64), np.uint8)
    prediction[10:40, 10:50] = 1
    workspace.state.store.save_prediction(image_id, prediction, None, checkpoint="test")
    view.set_prediction_visible(True)
    qtbot.waitUntil(lambda: not view.prediction_item.is_empty, timeout=5000)

    scale = 4  # as zoomed in on screen
    drawn = view.prediction_item.image(scale)
    label_like = MaskOverlayItem()
    label_like.set_mask(prediction, workspace.state.class_table)
    solid = label_like.image().scaled(drawn.size())
    inside = (15 * scale, 15 * scale, 45 * scale, 35 * scale)
    assert _coloured_fraction(solid, *inside) == 1.0  # a label is a solid fill...
    assert 0.05 < _coloured_fraction(drawn, *inside) < 0.5  # ...a prediction an outline and a hatch
    assert drawn.pixelColor(10 * scale + 1, 25 * scale).red() == 255  # the outline on its left edge

    view.set_prediction_style(PredictionStyle.OUTLINE)
    assert _coloured_fraction(view.prediction_item.image(scale), *inside) == 0.0
    view.set_prediction_opacity(0.3)
    assert view.prediction_item.opacity() == pytest.approx(0.3) and view.overlay_opacity() != pytest.approx(0.3)


def test_a_slow_image_shows_a_loading_notice_and_dims_the_one_it_replaces(qtbot, workspace, monkeypatch):
    import threading

    from app.canvas import image_view

    workspace.select("alpha_gray8")
    release = threading.Event()
    real = image_view.decode_and_render

    def slow(*args, **kwargs):
        release.wait(10)  # a 3072 x 3072 frame on a busy machine
        return real(*args, **kwargs)

    monkeypatch.setattr(image_view, "decode_and_render", slow)
    view = workspace.view
    workspace.state.select(workspace.state.find("beta_gray16").id)
    qtbot.waitUntil(view.loading_notice.isVisible, timeout=5000)
    assert "beta_gray16" in view.loading_notice.text() and "16-bit" in view.loading_notice.text()
    assert view.image_item.opacity() < 0.5  # the previous image is not taken for the new one
    release.set()
    workspace.wait_loaded()
    qtbot.waitUntil(lambda: not view.loading_notice.isVisible(), timeout=5000)
    assert view.image_item.opacity() == 1.0
    # A fast load shows nothing.
    workspace.select("alpha_gray8")
    assert not view.loading_notice.isVisible()


def test_closing_the_project_with_a_live_preview_on_screen_is_quiet(qtbot, workspace):
    from app.state.preview import Preview

    image_id = workspace.select("beta_gray16")
    view = workspace.view
    view.set_prediction_visible(True)
    labels = np.zeros((48, 64), np.uint8)
    labels[5:20, 5:30] = 1
    view.previews.show(Preview(image_id, labels, "runs/0001/last.pt", 3))
    qtbot.waitUntil(lambda: "live preview" in view.prediction_caption.text() and view.prediction_caption.isVisible(),
                    timeout=5000)
    workspace.state.close()  # the preview goes with the project: nothing may reach for the closed store
    assert view.prediction_item.is_empty and not view.prediction_caption.isVisible()


def test_a_live_preview_with_the_prediction_layer_hidden_still_says_so(qtbot, workspace):
    """Issue 27, item 6: the live preview's caption was missing from the canvas (the layer is off by default)."""
    from app.state.preview import Preview

    image_id = workspace.select("beta_gray16")
    view = workspace.view
    assert not view.prediction_item.isVisible() and not view.prediction_caption.isVisible()
    view.previews.show(Preview(image_id, np.zeros((48, 64), np.uint8), "runs/0001/last.pt", 3))
    qtbot.waitUntil(view.prediction_caption.isVisible, timeout=5000)
    assert view.prediction_caption.text() == "live preview · epoch 3 · last.pt (not saved) — hidden: Shift+O shows it"
    view.set_prediction_visible(True)  # Shift+O: the preview itself, captioned as before
    qtbot.waitUntil(lambda: view.prediction_caption.text() == "live preview · epoch 3 · last.pt (not saved)",
                    timeout=5000)

