"""Review on a real project: the linked triptych, error overlay and scores, the review queue, accepting a prediction.

Predictions are stored directly with `ProjectStore.save_prediction` (no training needed); the
window mirrors the main window's layout: canvas and review view as tabs, the queue as a dock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QTabWidget

from app.canvas.image_view import ImageView
from app.canvas.render import render
from app.predictions import PredictionController
from app.quality_marks import CHECK_COLOR
from app.review.accept import AcceptController
from app.review.pane import ReviewPane
from app.review.queue import ReviewPanel
from app.review.triptych import ReviewView
from app.state.project_state import ProjectState
from segcore.data.classes import ClassTable
from segcore.data.editing import fill_rect
from segcore.project.review import compare
from segcore.project.runs import train_project
from segcore.project.store import ImageStatus, ProjectStore
from segcore.training import TrainConfig

CLASSES = ClassTable.from_names(["background", "cell", "nucleus"], [(0, 0, 0), (255, 0, 0), (0, 255, 0)])
H, W = 32, 48
RED, GREEN = 0xFFFF0000, 0xFF00FF00
MAGENTA, CYAN = 0xFFFF00FF, 0xFF00FFFF


def _mask(*blocks: tuple[slice, slice, int]) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    for rows, cols, value in blocks:
        mask[rows, cols] = value
    return mask


# name -> (label or None, prediction or None, uncertainty score)
CASES: dict[str, tuple[np.ndarray | None, np.ndarray | None, float | None]] = {
    # The prediction is the label shifted 4 px right: false negatives left, false positives right.
    "a_fair": (_mask((slice(8, 24), slice(8, 24), 1)), _mask((slice(8, 24), slice(12, 28), 1)), 0.2),
    "b_perfect": (_mask((slice(4, 20), slice(20, 40), 1)), _mask((slice(4, 20), slice(20, 40), 1)), 0.1),
    "c_poor": (_mask((slice(0, 16), slice(0, 24), 1)), _mask((slice(16, 32), slice(24, 48), 2)), 0.3),
    "d_unsure": (None, _mask((slice(0, 10), slice(0, 10), 1)), 0.4),
    "e_very_unsure": (None, _mask((slice(20, 30), slice(30, 40), 2)), 0.8),
    "f_plain": (None, None, None),
}
ESTIMATED = {"d_unsure": 0.35, "e_very_unsure": 0.92}
"""The estimated IoU of the unlabelled images' predictions: not the order their uncertainty gives."""


@pytest.fixture()
def review_project(tmp_path: Path) -> Path:
    root = tmp_path / "review"
    with ProjectStore.create(root, CLASSES, name="Review project") as store:
        for offset, (name, (label, prediction, score)) in enumerate(CASES.items()):
            yy, xx = np.mgrid[0:H, 0:W]
            record = store.add_image_array(name, ((xx * 5 + yy * 3 + offset * 20) % 256).astype(np.uint8))
            if label is not None:
                store.save_mask(record.id, label)
            if prediction is not None:
                uncertainty = np.full((H, W), score, np.float32)
                store.save_prediction(record.id, prediction, uncertainty, score=score, checkpoint="test",
                                      quality=ESTIMATED.get(name))
    return root


@dataclass
class Review:
    """Canvas and review view as tabs of a shown main window, the queue dock and the accept controller."""

    qtbot: object
    win: QMainWindow
    state: ProjectState
    canvas: ImageView
    view: ReviewView
    tabs: QTabWidget
    panel: ReviewPanel
    accept: AcceptController

    def id(self, name: str) -> int:
        return self.state.find(name).id

    def select(self, name: str) -> int:
        """Make `name` current and wait until the review view and the canvas's mask show it."""
        image_id = self.id(name)
        self.state.select(image_id)
        self.wait_settled()
        return image_id

    def wait_settled(self) -> None:
        document, current = self.canvas.document, self.state.current_id
        self.qtbot.waitUntil(lambda: self.view.is_settled() and self.view.image_id == current
                             and document.image_id == current and document.mask is not None, timeout=5000)

    def wait_queue(self) -> None:
        self.qtbot.waitUntil(lambda: not self.panel.is_computing, timeout=5000)

    def stored(self, name: str) -> tuple[np.ndarray | None, ImageStatus]:
        """The label and status as a fresh connection reads them (what a restarted app would see)."""
        with ProjectStore.open(self.state.store.root) as store:
            image_id = store.image_by_name(name).id
            return store.load_mask(image_id), store.image(image_id).status


@pytest.fixture()
def review(qtbot, review_project: Path) -> Review:
    result = _review_window(qtbot, review_project)
    yield result
    result.state.close()


def _review_window(qtbot, project: Path) -> Review:
    """The window of `Review`, shown, with `project` open and its queue computed."""
    state = ProjectState()
    win = QMainWindow()
    qtbot.addWidget(win)
    canvas = ImageView(state, win)
    view = ReviewView(state, win, document=canvas.document)
    tabs = QTabWidget()
    tabs.addTab(canvas, "Label")
    tabs.addTab(view, "Review")
    tabs.setCurrentWidget(view)
    view.reveal_requested.connect(lambda: tabs.setCurrentWidget(view))
    win.setCentralWidget(tabs)
    panel = ReviewPanel(state, view, win)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, panel)
    accept = AcceptController(state, view, canvas.document, win)
    accept.accepted.connect(panel.refresh)
    win.resize(1300, 600)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    state.open(project)
    result = Review(qtbot, win, state, canvas, view, tabs, panel, accept)
    result.wait_settled()
    result.wait_queue()
    return result


def _values(panel: ReviewPanel) -> dict[int, float | None]:
    return {entry.image_id: entry.value for entry in panel.queue}


def _argb(pane_item, x: int, y: int) -> int:
    return pane_item.image().pixel(x, y)


def _on_screen(pane: ReviewPane, x: int, y: int) -> QColor:
    """The colour the pane paints at the centre of image pixel (x, y)."""
    return pane.grab().toImage().pixelColor(pane.mapFromScene(QPointF(x + 0.5, y + 0.5)))


def _wheel(pane: ReviewPane, at: QPoint, clicks: int = 1) -> None:
    event = QWheelEvent(
        QPointF(at), QPointF(pane.viewport().mapToGlobal(at)), QPoint(0, 0), QPoint(0, 120 * clicks),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(pane.viewport(), event)


def _scrolls(pane: ReviewPane) -> tuple[int, int]:
    return pane.horizontalScrollBar().value(), pane.verticalScrollBar().value()


# -- the triptych ----------------------------------------------------------------------------------


def test_the_three_panes_show_image_label_and_prediction(review):
    image_id = review.select("a_fair")
    view = review.view
    expected = render(review.state.store.read_image(image_id), None, False).qimage
    for pane in view.panes:
        assert pane.image_item.pixmap().toImage() == expected
    assert view.image_pane.overlay_item.is_empty and view.image_pane.errors_item.is_empty
    label, prediction = view.label_pane.overlay_item, view.prediction_pane.overlay_item
    assert _argb(label, 10, 10) == RED and _argb(label, 26, 10) == 0  # the label's cell starts at column 8
    assert _argb(prediction, 10, 10) == 0 and _argb(prediction, 26, 10) == RED  # the prediction's at 12
    review.select("c_poor")
    assert _argb(view.prediction_pane.overlay_item, 30, 20) == GREEN  # a nucleus in the class colour


def test_error_overlay_marks_false_positives_and_negatives_in_two_colours(review):
    review.select("a_fair")
    view = review.view
    errors = view.prediction_pane.errors_item
    assert _argb(errors, 26, 10) == MAGENTA  # predicted cell, labelled background
    assert _argb(errors, 9, 10) == CYAN  # labelled cell, predicted background
    assert _argb(errors, 15, 10) == 0 and _argb(errors, 40, 28) == 0  # right, both ways
    fp, fn = _on_screen(view.prediction_pane, 26, 10), _on_screen(view.prediction_pane, 9, 10)
    assert fp.red() > fp.green() + 100 and fp.blue() > fp.green() + 100
    assert fn.green() > fn.red() + 100 and fn.blue() > fn.red() + 100
    view.errors_action.trigger()
    assert not errors.isVisible()
    assert _on_screen(view.prediction_pane, 9, 10).blue() < 100  # image and prediction only
    view.errors_action.trigger()
    assert errors.isVisible()


@pytest.mark.parametrize("name", ["a_fair", "b_perfect", "c_poor"])
def test_scores_are_segcores_iou_and_pixel_accuracy(review, name):
    review.select(name)
    label, prediction, _ = CASES[name]
    expected = compare(label, prediction, CLASSES.num_classes, CLASSES.ignore_index)
    scores = f"IoU {expected.miou:.3f} · pixel accuracy {expected.pixel_acc:.1%}"
    assert review.view.scores_label.text().startswith(scores + " — prediction: checkpoint · test · ")


def test_scores_say_what_is_missing(review):
    review.select("d_unsure")  # the header carries the prediction's estimate, and says when to check it
    assert review.view.scores_label.text().startswith("no label · estimated IoU 0.35 — check this — prediction: ")
    assert review.view.prediction_pane.errors_item.is_empty
    review.select("e_very_unsure")
    assert review.view.scores_label.text().startswith("no label · estimated IoU 0.92 — prediction: ")
    review.select("f_plain")
    assert review.view.scores_label.text() == "no label · no prediction"
    assert review.view.label_pane.overlay_item.is_empty and review.view.prediction_pane.overlay_item.is_empty


def test_zoom_and_pan_are_linked_across_the_panes(qtbot, review):
    review.select("a_fair")
    view = review.view
    image, label, prediction = view.panes
    fitted = view.scale_factor()
    assert fitted > 4  # a 48 x 32 image fitted into a ~400 px pane
    _wheel(label, label.mapFromScene(QPointF(20, 12)), clicks=3)
    assert label.transform().m11() > fitted * 1.9
    assert image.transform() == label.transform() == prediction.transform()
    assert _scrolls(image) == _scrolls(label) == _scrolls(prediction) != (0, 0)

    before = _scrolls(prediction)
    start = image.viewport().rect().center()
    qtbot.mousePress(image.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(image.viewport(), start + QPoint(-60, -40))
    qtbot.mouseRelease(image.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(-60, -40))
    assert _scrolls(image) != before
    assert _scrolls(image) == _scrolls(label) == _scrolls(prediction)

    view.actual_size_action.trigger()
    assert image.transform().m11() == label.transform().m11() == prediction.transform().m11() == 1.0
    view.fit_action.trigger()
    assert prediction.transform().m11() == pytest.approx(fitted)


def test_a_hidden_view_loads_only_when_shown_and_stale_loads_are_dropped(qtbot, review):
    view, state = review.view, review.state
    review.select("a_fair")
    review.tabs.setCurrentWidget(review.canvas)
    state.select(review.id("c_poor"))
    qtbot.wait(100)
    assert view.image_id == review.id("a_fair")  # nothing decoded for a view nobody sees
    shown: list[int] = []
    view.shown.connect(shown.append)
    review.tabs.setCurrentWidget(view)
    state.select(review.id("b_perfect"))
    state.select(review.id("d_unsure"))
    review.wait_settled()
    qtbot.wait(100)  # time for any straggler to (wrongly) land
    assert view.image_id == review.id("d_unsure")
    assert set(shown) == {review.id("d_unsure")}


def test_a_label_edit_on_the_canvas_updates_the_comparison(qtbot, review):
    review.select("a_fair")
    document = review.canvas.document
    document.edit("fill", fill_rect, 24, 8, 4, 16, 1)  # label the false-positive strip as cell too
    qtbot.waitUntil(lambda: review.view.data.label[10, 26] == 1, timeout=5000)
    label, prediction, _ = CASES["a_fair"]
    label = label.copy()
    label[8:24, 24:28] = 1
    expected = compare(label, prediction, CLASSES.num_classes)
    assert review.view.scores_label.text().startswith(f"IoU {expected.miou:.3f}")
    assert review.view.prediction_pane.errors_item.image().pixel(26, 10) == 0


# -- the queue -------------------------------------------------------------------------------------


def test_the_default_queue_lists_predictions_lowest_estimated_iou_first_and_flags_those_to_check(qtbot, review):
    panel, state = review.panel, review.state
    assert panel.kind == "estimated_iou" and panel.mode.currentIndex() == 0
    review.wait_queue()
    assert [(state.record(e.image_id).name, e.value) for e in panel.queue] == [("d_unsure", 0.35),
                                                                                ("e_very_unsure", 0.92)]
    assert panel.list.headerItem().text(1) == "Est. IoU"
    first, second = panel.list.topLevelItem(0), panel.list.topLevelItem(1)
    assert first.foreground(1).color() == CHECK_COLOR and "check this" in first.toolTip(0)
    assert second.foreground(1).color() != CHECK_COLOR and "check this" not in second.toolTip(0)
    assert "1 to check" in panel.summary.text()
    qtbot.keyClick(review.win, Qt.Key.Key_N)
    assert state.current_id == review.id("d_unsure")
    review.wait_settled()
    assert "estimated IoU 0.35 — check this" in review.view.scores_label.text()  # the review header says it too


def test_a_frame_that_jumps_against_its_neighbours_is_flagged_in_the_queue(qtbot, tmp_path):
    """An acquisition whose frame 2's prediction is twice as wide as its neighbours', with a good estimate: the
    queue shows it first, in red, says why, and counts it."""
    tifffile.imwrite(tmp_path / "acq.tif", np.zeros((5, H, W), np.uint8))
    yy, xx = np.mgrid[0:H, 0:W]
    with ProjectStore.create(tmp_path / "acq", CLASSES) as store:
        store.add_sequence(tmp_path / "acq.tif")
        for record in store.images():
            radius = 12 if record.frame == 2 else 6
            disc = ((xx - 20 - record.frame) ** 2 + (yy - H / 2) ** 2 <= radius**2).astype(np.uint8)
            store.save_prediction(record.id, disc, checkpoint="test", quality=0.95 if record.frame == 2 else 0.9)
    review = _review_window(qtbot, tmp_path / "acq")
    try:
        first = review.panel.list.topLevelItem(0)
        assert review.state.record(review.panel.queue[0].image_id).frame == 2
        assert first.foreground(1).color() == CHECK_COLOR and first.text(1) == "0.950 jump"
        assert "jumps against the frames beside it" in first.toolTip(0) and "check this" not in first.toolTip(0)
        second = review.panel.list.topLevelItem(1)
        assert second.foreground(1).color() != CHECK_COLOR and "jump" not in second.text(1)
        assert "1 jump against the frames beside them" in review.panel.summary.text()
    finally:
        review.state.close()


def test_the_queue_orders_by_worst_iou_and_n_opens_the_next(qtbot, review):
    panel, state = review.panel, review.state
    panel.set_kind("worst_iou")
    review.wait_queue()
    names = [state.record(entry.image_id).name for entry in panel.queue]
    assert names == ["c_poor", "a_fair", "b_perfect"]
    label, prediction, _ = CASES["a_fair"]
    assert _values(panel)[review.id("a_fair")] == pytest.approx(compare(label, prediction, 3).miou)
    assert panel.list.topLevelItemCount() == 3 and panel.list.topLevelItem(0).text(0) == "c_poor"

    review.tabs.setCurrentWidget(review.canvas)
    for name in ("c_poor", "a_fair", "b_perfect", "c_poor"):  # after the last it starts over
        qtbot.keyClick(review.win, Qt.Key.Key_N)
        assert state.current_id == review.id(name)
        assert review.tabs.currentWidget() is review.view  # opening from the queue reveals the review
        review.wait_settled()

    item = panel.list.topLevelItem(2)
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=panel.list.visualItemRect(item).center())
    assert state.current_id == review.id("b_perfect")


def test_the_uncertain_queue_lists_unlabelled_images_most_uncertain_first(qtbot, review):
    panel, state = review.panel, review.state
    panel.set_kind("uncertain")
    review.wait_queue()
    assert [(state.record(e.image_id).name, e.value) for e in panel.queue] == [("e_very_unsure", 0.8), ("d_unsure", 0.4)]
    qtbot.keyClick(review.win, Qt.Key.Key_N)
    assert state.current_id == review.id("e_very_unsure")
    qtbot.keyClick(review.win, Qt.Key.Key_N)
    assert state.current_id == review.id("d_unsure")


# -- accepting a prediction ------------------------------------------------------------------------


def test_accept_prediction_makes_it_the_label_and_the_image_reviewed(qtbot, review):
    review.panel.set_kind("worst_iou")  # the labelled images' IoU, which an accept makes 1
    image_id = review.select("a_fair")
    _, prediction, _ = CASES["a_fair"]
    assert review.accept.accept_action.isEnabled()
    with qtbot.waitSignal(review.accept.accepted, timeout=5000):
        qtbot.keyClick(review.win, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    stored, status = review.stored("a_fair")
    np.testing.assert_array_equal(stored, prediction)
    assert status is ImageStatus.REVIEWED and review.state.record(image_id).status is ImageStatus.REVIEWED
    document = review.canvas.document
    qtbot.waitUntil(lambda: document.mask is not None and np.array_equal(document.mask, prediction), timeout=5000)
    qtbot.waitUntil(lambda: review.view.scores_label.text().startswith("IoU 1.000"), timeout=5000)
    assert review.view.prediction_pane.errors_item.image().pixel(26, 10) == 0
    review.wait_queue()
    assert _values(review.panel)[image_id] == 1.0  # the queue was recomputed

    # The accepted label is edited with the labelling tools like any other, and stays 'reviewed'.
    assert document.edit("fill", fill_rect, 0, 0, 4, 4, 2)
    stored, status = review.stored("a_fair")
    assert stored[0, 0] == 2 and stored[10, 26] == 1 and status is ImageStatus.REVIEWED
    # The queue follows the edit by itself: the IoU is recomputed against the edited label.
    expected = compare(stored, prediction, CLASSES.num_classes).miou
    qtbot.waitUntil(lambda: _values(review.panel).get(image_id) == pytest.approx(expected), timeout=5000)
    assert expected < 1.0


def test_accept_prediction_inside_a_dragged_region(qtbot, review):
    review.select("c_poor")
    old, prediction, _ = CASES["c_poor"]
    pane = review.view.prediction_pane
    review.accept.accept_region_action.trigger()
    assert pane.region_mode
    scroll_before = _scrolls(pane)

    def at(x: int, y: int) -> QPoint:
        return pane.mapFromScene(QPointF(x + 0.5, y + 0.5))

    with qtbot.waitSignal(review.accept.accepted, timeout=5000):
        qtbot.mousePress(pane.viewport(), Qt.MouseButton.LeftButton, pos=at(40, 28))
        qtbot.mouseMove(pane.viewport(), at(35, 24))
        qtbot.mouseMove(pane.viewport(), at(30, 20))
        qtbot.mouseRelease(pane.viewport(), Qt.MouseButton.LeftButton, pos=at(30, 20))
    assert _scrolls(pane) == scroll_before  # the drag drew a region, it did not pan
    assert not pane.region_mode and not review.accept.accept_region_action.isChecked()  # one region per command
    expected = old.copy()
    expected[20:29, 30:41] = prediction[20:29, 30:41]
    stored, status = review.stored("c_poor")
    np.testing.assert_array_equal(stored, expected)
    assert status is ImageStatus.REVIEWED
    document = review.canvas.document
    qtbot.waitUntil(lambda: document.mask is not None and np.array_equal(document.mask, expected), timeout=5000)
    qtbot.waitUntil(lambda: review.view.data.label is not None and np.array_equal(review.view.data.label, expected),
                    timeout=5000)


def test_accept_is_disabled_without_a_prediction(review):
    review.select("f_plain")
    assert not review.accept.accept_action.isEnabled()
    assert not review.accept.accept_region_action.isEnabled()
    review.select("d_unsure")
    assert review.accept.accept_action.isEnabled()


def test_the_queue_lists_every_labelled_image_says_where_predictions_came_from_and_predicts_the_missing(
        qtbot, review):
    panel, state = review.panel, review.state
    panel.set_kind("worst_iou")
    store = state.store
    unpredicted = review.id("f_plain")
    store.save_mask(unpredicted, _mask((slice(2, 12), slice(2, 12), 1)))
    state.reload_record(unpredicted)
    review.wait_queue()
    qtbot.waitUntil(lambda: unpredicted in {entry.image_id for entry in panel.queue}, timeout=5000)
    [entry] = [entry for entry in panel.queue if entry.image_id == unpredicted]
    assert entry.value is None and entry.origin is None and entry.needs_prediction
    row = panel.list.topLevelItem(panel.list.topLevelItemCount() - 1)  # unscored images come last
    assert (row.text(0), row.text(1), row.text(2)) == ("f_plain", "—", "not predicted")
    assert not panel.predict_button.isEnabled() and "Train" in panel.predict_button.text()  # no model yet

    # A run finishes: the predictions made before it are now marked as older.
    config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=1, batch_size=2,
                         augment={"hflip": 0.5}, val_fraction=0.25)
    for _event in train_project(store, config, name="newer"):
        pass
    [run] = store.runs()
    panel.refresh()
    review.wait_queue()
    labelled = {review.id(name) for name in ("a_fair", "b_perfect", "c_poor")} | {unpredicted}
    assert {entry.image_id for entry in panel.queue} == labelled
    assert set(panel.missing()) == labelled
    fair = next(row for row in _rows(panel) if row[0] == "a_fair")
    assert "older than the newest run" in fair[2] and "test" in fair[2]
    assert panel.predict_button.isVisible() and panel.predict_button.isEnabled()
    assert f"Predict 4 image(s) with run {run.id} · best.pt" == panel.predict_button.text()

    # One click predicts exactly those, with the newest run's checkpoint; then nothing is stale.
    predictions = PredictionController(state)
    panel.predict_requested.connect(lambda checkpoint, ids: predictions.predict_images(checkpoint, ids))
    with qtbot.waitSignal(predictions.finished, timeout=60_000) as done:
        qtbot.mouseClick(panel.predict_button, Qt.MouseButton.LeftButton)
    assert done.args[0] == len(labelled)
    panel.refresh()
    review.wait_queue()
    assert panel.missing() == [] and not panel.predict_button.isVisible()
    assert all(entry.origin.run_id == run.id and entry.value is not None for entry in panel.queue)
    assert all(row[2].startswith(f"run {run.id} · best.pt") for row in _rows(panel))


def _rows(panel: ReviewPanel) -> list[tuple[str, str, str]]:
    return [tuple(panel.list.topLevelItem(row).text(column) for column in range(3))
            for row in range(panel.list.topLevelItemCount())]


def test_accept_confident_predictions_takes_those_estimated_at_the_threshold_or_more(qtbot, review, monkeypatch):
    """Issue 27, item 9: bulk accept of the predictions above an estimated quality, as peers offer."""
    from app.review import accept_confident

    dialog = accept_confident.ConfidentDialog(review.state)
    assert dialog.at_least.value() == 0.95 and dialog.chosen == 0 and "0 of the 2 estimated" in dialog.count.text()
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    dialog.at_least.setValue(0.9)
    assert dialog.chosen == 1 and "1 of the 2 estimated" in dialog.count.text()  # e_very_unsure (0.92)

    assert review.accept.confident_action.isEnabled()
    with qtbot.waitSignal(review.accept.accepted, timeout=10_000) as accepted:
        review.accept.accept_confident(0.9)
    assert accepted.args == [review.id("e_very_unsure")]
    qtbot.waitUntil(lambda: not review.accept.is_running, timeout=10_000)
    label, status = review.stored("e_very_unsure")
    assert status is ImageStatus.REVIEWED and np.array_equal(label, CASES["e_very_unsure"][1])
    assert review.stored("d_unsure")[1] is ImageStatus.PREDICTED  # 0.35: left for the user to check
    assert review.state.record(review.id("e_very_unsure")).status is ImageStatus.REVIEWED  # the window knows


def test_accept_and_next_is_one_key(qtbot, review):
    """Issue 27, item 9: accept the prediction and open the queue's next image on one key (Shift+N)."""
    review.accept.next_wanted.connect(review.panel.open_next_after)  # as the main window wires it
    review.select("d_unsure")
    assert review.accept.accept_next_action.isEnabled()
    assert review.accept.accept_next_action.shortcut().toString() == "Shift+N"
    with qtbot.waitSignal(review.accept.accepted, timeout=10_000):
        qtbot.keyClick(review.win, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: review.state.current_id == review.id("e_very_unsure"), timeout=5000)
    assert review.stored("d_unsure")[1] is ImageStatus.REVIEWED


def test_without_a_label_the_ground_truth_pane_gives_its_width_to_the_others(qtbot, review):
    """Issue 27, item 8: the three panes were ~190 px wide in the default window, the empty one included."""
    view = review.view
    review.select("d_unsure")  # predicted, no label
    qtbot.waitUntil(lambda: not view.label_pane.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: view.prediction_pane.width() > 0.4 * view.width(), timeout=5000)
    assert abs(view.image_pane.width() - view.prediction_pane.width()) <= 2
    review.select("a_fair")  # labelled: all three
    qtbot.waitUntil(lambda: view.label_pane.isVisible() and view.prediction_pane.width() < 0.4 * view.width(),
                    timeout=5000)


def test_a_run_that_did_not_reproduce_its_labels_heads_the_queue_in_red(qtbot, tmp_path):
    with ProjectStore.create(tmp_path / "p", CLASSES) as store:
        image = store.add_image_array("frame", np.zeros((H, W), np.uint8)).id
        run = store.add_run("collapsed", {})
        store.log_metrics(run, 250, {"labels_checked": 8, "labels_failing": 6, "labels_miou": 0.13})
        store.finish_run(run, "finished")
        store.add_image_array("unpredicted", np.full((H, W), 7, np.uint8))
    review = _review_window(qtbot, tmp_path / "p")
    try:
        # Before the run's first prediction of an unlabelled frame, and after it.
        text = review.panel.summary.text()
        assert "run 1 does not reproduce 6 of its 8 labelled frames (mean IoU 0.13)" in text
        assert f"color:{CHECK_COLOR.name()}" in text and "No unlabelled image has a prediction yet" in text
        review.state.store.save_prediction(image, np.ones((H, W), np.uint8), checkpoint="test", run_id=run,
                                           quality=0.97)
        review.panel.refresh()
        review.wait_queue()
        text = review.panel.summary.text()
        assert "does not reproduce 6 of its 8" in text and "0 to check" in text
    finally:
        review.state.close()
