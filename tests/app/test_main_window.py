"""The main window on a real project, driven by real mouse and keyboard events."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.canvas.image_view import ImageView
from app.panels.image_browser import ImageBrowser
from app.state.project_state import NO_IMAGE
from segcore.data.classes import IGNORE_INDEX, ClassTable


def _current_name(win) -> str:
    return win.state.record(win.state.current_id).name


def _view_point(view: ImageView, x: int, y: int) -> QPoint:
    """The viewport position of the centre of image pixel (x, y)."""
    return view.mapFromScene(QPointF(x + 0.5, y + 0.5))


def _wait_shown(qtbot, win) -> None:
    """Wait until the current image and its mask are on the canvas (both load in workers)."""
    view = win.view
    qtbot.waitUntil(lambda: view.has_mask and view.document.image_id == win.state.current_id)


def _select(qtbot, win, name: str) -> None:
    with qtbot.waitSignal(win.view.image_shown):
        win.state.select(win.state.find(name).id)
    _wait_shown(qtbot, win)


def _click_row(qtbot, browser: ImageBrowser, name: str) -> None:
    row = browser.visible_names().index(name)
    rect = browser.view.visualRect(browser.view.model().index(row, 0))
    qtbot.mouseClick(browser.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_window_lists_all_images_with_statuses(window, tiny_project):
    assert "Tiny project" in window.windowTitle()
    browser = window.browser
    assert browser.visible_names() == list(tiny_project.names)
    model = browser.view.model()
    statuses = {model.index(row, 0).data(): model.index(row, 3).data() for row in range(model.rowCount())}
    assert statuses == {name: status.value for name, status in tiny_project.names.items()}
    assert statuses["beta_gray16"] == "labelled" and statuses["gamma_rgb"] == "predicted"
    assert model.index(1, 1).data() == "64 × 48" and model.index(1, 2).data() == "16"
    assert model.index(1, 3).data(Qt.ItemDataRole.DecorationRole) is not None  # the status icon


def test_first_image_is_shown_on_open(qtbot, window):
    _wait_shown(qtbot, window)
    assert _current_name(window) == "alpha_gray8"
    assert window.view.image_item.pixmap().size().toTuple() == (40, 30)


def test_clicking_an_image_shows_it(qtbot, window):
    with qtbot.waitSignal(window.view.image_shown):
        _click_row(qtbot, window.browser, "gamma_rgb")
    assert _current_name(window) == "gamma_rgb"
    assert window.view.image_item.pixmap().size().toTuple() == (36, 32)
    color = window.view.image_item.pixmap().toImage().pixelColor(3, 3)
    assert (color.red(), color.green(), color.blue()) == (200, 0, 50)  # 8-bit RGB shown as is


def test_keys_move_to_next_and_previous_image(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    target = window.browser.view
    target.setFocus()
    qtbot.keyClick(target, Qt.Key.Key_D)
    assert _current_name(window) == "beta_gray16"
    qtbot.keyClick(target, Qt.Key.Key_PageDown)
    assert _current_name(window) == "gamma_rgb"
    qtbot.keyClick(window.view, Qt.Key.Key_A)
    assert _current_name(window) == "beta_gray16"
    qtbot.keyClick(window.view, Qt.Key.Key_PageUp)
    qtbot.keyClick(window.view, Qt.Key.Key_PageUp)  # stays on the first image
    assert _current_name(window) == "alpha_gray8"
    # The browser's selection follows keyboard navigation.
    assert target.currentIndex().data() == "alpha_gray8"


def test_typing_in_the_filter_box_narrows_the_list_and_keeps_letters(qtbot, window):
    browser = window.browser
    qtbot.keyClicks(browser.search, "gray16")
    assert browser.visible_names() == ["beta_gray16", "delta_gray16"]
    assert browser.search.text() == "gray16"  # 'a'/'d' typed into the box are text, not navigation
    assert _current_name(window) == "alpha_gray8"


def test_status_filter_narrows_the_list(window):
    combo = window.browser.status_filter
    combo.setCurrentIndex(combo.findData("labelled"))
    assert window.browser.visible_names() == ["beta_gray16"]
    assert combo.currentText() == "labelled (1)"
    combo.setCurrentIndex(combo.findData(None))
    assert len(window.browser.visible_names()) == 4


def test_overlay_appears_only_for_the_labelled_image(qtbot, window, tiny_project):
    view = window.view
    _wait_shown(qtbot, window)
    unlabelled = view.overlay_item.image()  # alpha_gray8 has no mask: an all-background, invisible overlay
    assert all(unlabelled.pixelColor(x, y).alpha() == 0 for x in range(0, 40, 7) for y in range(0, 30, 7))
    _select(qtbot, window, "beta_gray16")
    overlay = view.overlay_item.image()
    assert overlay.size().toTuple() == (64, 48)
    cell = overlay.pixelColor(25, 15)
    assert (cell.red(), cell.green(), cell.blue(), cell.alpha()) == (255, 0, 0, 255)
    assert tiny_project.mask[0, 0] == IGNORE_INDEX and overlay.pixelColor(0, 0).alpha() == 0
    assert tiny_project.mask[40, 50] == 0 and overlay.pixelColor(50, 40).alpha() == 0  # black background: not drawn
    assert view.overlay_opacity() == 0.5
    window.view_toolbar.opacity.setValue(80)
    assert view.overlay_opacity() == 0.8


def test_16bit_image_is_window_levelled(qtbot, window):
    _select(qtbot, window, "beta_gray16")
    image = window.view.image_item.pixmap().toImage()
    left, right = image.pixelColor(0, 20).red(), image.pixelColor(63, 20).red()
    assert left == 0 and right == 255  # x*1000 ramp: the percentiles land at the ends


def test_a_histogram_beside_the_window_shows_the_image_values_and_the_window(qtbot, window, tiny_project):
    """Issue 27, item 9: no histogram beside window/level."""
    _select(qtbot, window, "beta_gray16")
    histogram = window.view_toolbar.histogram
    values = tiny_project.gray16
    assert histogram.counts.sum() == values.size and histogram.value_range == (values.min(), values.max())
    assert histogram.window == window.view.display_window()
    window.view.set_display_window(float(values.min()), (float(values.min()) + float(values.max())) / 2)
    qtbot.waitUntil(lambda: histogram.window_span() is not None and abs(histogram.window_span()[1] - 0.5) < 0.01,
                    timeout=5000)
    assert histogram.window_span()[0] == 0.0 and not histogram.grab().isNull()


def test_mouse_move_reports_pixel_value_and_class(qtbot, window, tiny_project):
    _select(qtbot, window, "beta_gray16")
    view = window.view
    qtbot.mouseMove(view.viewport(), _view_point(view, 25, 15))
    message = window.statusBar().currentMessage()
    assert f"value {tiny_project.gray16[15, 25]}" in message
    assert "x 25" in message and "y 15" in message and "class: cell" in message
    qtbot.mouseMove(view.viewport(), _view_point(view, 2, 2))
    assert "class: ignore" in window.statusBar().currentMessage()


def test_the_readout_follows_the_image_under_a_still_cursor(qtbot, window):
    """Issue 27, item 8: moving to another image with the keys kept the previous image's class in the status bar."""
    _select(qtbot, window, "beta_gray16")
    view = window.view
    qtbot.mouseMove(view.viewport(), _view_point(view, 25, 15))
    assert "class: cell" in window.statusBar().currentMessage()
    _select(qtbot, window, "alpha_gray8")  # the cursor has not moved
    qtbot.waitUntil(lambda: "class: cell" not in window.statusBar().currentMessage(), timeout=5000)
    message = window.statusBar().currentMessage()
    assert message == "" or "class: — (not labelled)" in message


def test_wheel_zooms_around_the_cursor(qtbot, window):
    _wait_shown(qtbot, window)
    view = window.view
    before = view.scale_factor()
    cursor = _view_point(view, 10, 10)
    scene_before = view.mapToScene(cursor)
    event = QWheelEvent(
        QPointF(cursor), QPointF(view.viewport().mapToGlobal(cursor)), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert view.scale_factor() > before * 1.2
    after = view.mapToScene(cursor)
    assert abs(after.x() - scene_before.x()) < 1 and abs(after.y() - scene_before.y()) < 1


def test_fit_and_actual_size(qtbot, window):
    _wait_shown(qtbot, window)
    view = window.view
    window.view_toolbar.actual_size_action.trigger()
    assert view.scale_factor() == 1.0
    assert window.view_toolbar.zoom_label.text().strip() == "100 %"  # issue 27, item 9: no zoom readout
    window.view_toolbar.fit_action.trigger()
    assert view.scale_factor() > 5  # a 40 x 30 image fitted into a ~1000 px canvas
    assert window.view_toolbar.zoom_label.text().strip() == f"{view.scale_factor() * 100:.0f} %"
    view.zoom_by(0.5)
    assert window.view_toolbar.zoom_label.text().strip() == f"{view.scale_factor() * 100:.0f} %"


def test_a_new_project_leaves_nothing_of_the_old_one_on_the_canvas(qtbot, window, tmp_path):
    _select(qtbot, window, "beta_gray16")
    prediction = np.zeros((48, 64), np.uint8)
    prediction[10:30, 10:40] = 1
    window.state.store.save_prediction(window.state.current_id, prediction, None, checkpoint="old.pt")
    window.view_toolbar.prediction_action.setChecked(True)  # Shift+O: the prediction is on screen
    qtbot.waitUntil(lambda: not window.view.prediction_item.is_empty, timeout=5000)

    window.projects.new_project(tmp_path / "fresh", "Fresh", ClassTable.from_names(["background", "sample"]))
    view = window.view
    assert window.state.images == []
    assert view.image_item.pixmap().isNull() and not view.has_mask
    assert view.prediction_item.is_empty and not view.prediction_caption.isVisible()
    assert view.prediction_item.image().pixelColor(0, 0).alpha() == 0
    assert window.review_view.image_id == NO_IMAGE and not window.review_view.has_prediction


def test_a_read_only_project_can_be_viewed_and_exported_but_not_changed(qtbot, window, tiny_project):
    state = window.state
    state.close()
    state.open(tiny_project.root, read_only=True)
    qtbot.waitUntil(lambda: window.view.is_settled(), timeout=5000)
    assert "(read-only)" in window.windowTitle()
    enabled = {name for name, action in window.tool_bar.tool_actions.items() if action.isEnabled()}
    assert enabled == {"pan"} and window.view.tool is window.tool_bar.tools["pan"]
    qtbot.keyClick(window.view, Qt.Key.Key_B)
    assert window.view.tool is window.tool_bar.tools["pan"]  # the brush key does nothing here
    assert not window.train_panel.train_button.isEnabled() and not window.predict_action.isEnabled()
    assert not window.class_panel.add_action.isEnabled()
    assert window.export_action.isEnabled()
    state.close()
    state.open(tiny_project.root)  # writable again: everything is back
    assert all(action.isEnabled() for action in window.tool_bar.tool_actions.values())
    assert window.predict_action.isEnabled() and window.class_panel.add_action.isEnabled()


def test_single_key_shortcuts_reach_the_window_after_editing_a_toolbar_field(qtbot, window):
    qtbot.waitUntil(lambda: window.view.is_settled(), timeout=5000)
    assert QApplication.focusWidget() is window.view  # a project opens with the canvas ready for keys
    for widget in (window.tool_bar.brush_size, window.view_toolbar.window_low, window.view_toolbar.prediction_style):
        assert widget.focusPolicy() == Qt.FocusPolicy.ClickFocus  # never caught by a window activation
    window.tool_bar.brush_size.setFocus()
    qtbot.keyClicks(window.tool_bar.brush_size.lineEdit(), "2")
    qtbot.keyClick(window.tool_bar.brush_size, Qt.Key.Key_Return)  # the value typed, the keys go back
    assert QApplication.focusWidget() is window.view
    first = window.state.current_id
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_D)
    assert window.state.current_id != first


def test_an_empty_project_says_how_to_add_images(qtbot, window, tmp_path):
    """Issue 27, item 8: a new project showed a dark canvas with no hint to import."""
    placeholder = window.view.placeholder
    assert not placeholder.isVisible()  # the tiny project has images
    window.projects.new_project(tmp_path / "fresh", "Fresh", ClassTable.from_names(["background", "sample"]))
    assert placeholder.isVisible() and "no images yet" in placeholder.text() and "Import images…" in placeholder.text()
    window.state.store.add_image_array("first", np.zeros((20, 20), np.uint8))
    window.state.refresh()
    qtbot.waitUntil(lambda: not placeholder.isVisible(), timeout=5000)

