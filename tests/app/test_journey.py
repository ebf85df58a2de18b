"""The physicist's whole loop in the real main window, driven by real mouse and key events.

Box + Enter, refine, brush, undo, train a few epochs (the live preview shows, nothing is stored),
the review queue (every labelled image, one click predicts them), accept, edit, predict the
unlabelled frames, export — asserting at each step what the user sees and what the project holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.dialogs.export_dialog import ExportDialog
from app.dialogs.predict_dialog import PredictDialog
from app.main_window import MainWindow
from app.state.project_state import ProjectState
from segcore.data.masks import read_index_mask
from segcore.demo import create_demo_project, demo_samples
from segcore.project.review import compare
from segcore.project.store import ImageStatus

SIDE, FRAMES = 128, 6
RUN_TIMEOUT_MS = 180_000


class User:
    """Mouse and keys on the real window; waits for what loads in the background."""

    def __init__(self, qtbot, window: MainWindow) -> None:
        self.qtbot, self.window, self.view = qtbot, window, window.view

    def wait_shown(self) -> None:
        state = self.window.state
        self.qtbot.waitUntil(lambda: self.view.is_settled() and self.view.document.image_id == state.current_id,
                             timeout=10_000)

    def key(self, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        if QApplication.activeWindow() is not self.window:  # a dialog just closed: the window comes back first
            self.window.activateWindow()
            self.qtbot.waitUntil(lambda: QApplication.activeWindow() is self.window)
        self.qtbot.keyClick(self.view, key, modifier)

    def point(self, x: float, y: float):
        return self.view.mapFromScene(QPointF(x + 0.5, y + 0.5))

    def drag(self, *points: tuple[float, float]) -> None:
        viewport = self.view.viewport()
        self.qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=self.point(*points[0]))
        for point in points[1:]:
            self.qtbot.mouseMove(viewport, self.point(*point))
        self.qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=self.point(*points[-1]))

    def box(self, x: int, y: int, w: int, h: int) -> None:
        self.key(Qt.Key.Key_R)
        self.drag((x, y), (x + w // 2, y + h // 2), (x + w - 1, y + h - 1))
        self.key(Qt.Key.Key_Return)

    def next_image(self) -> None:
        self.key(Qt.Key.Key_D)
        self.wait_shown()

    def answer_modal(self, answer) -> None:  # noqa: ANN001 - a callable taking the dialog
        """Run `answer(dialog)` on the modal dialog the next action opens (exec() blocks until it closes)."""
        def find() -> None:
            dialog = QApplication.activeModalWidget()
            if dialog is None:
                QTimer.singleShot(50, find)
                return
            answer(dialog)
        QTimer.singleShot(50, find)


@pytest.fixture()
def journey(qtbot, tmp_path: Path):
    root = create_demo_project(tmp_path / "frames", small=FRAMES, large=0, labelled=0, small_size=SIDE)
    state = ProjectState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    state.open(root)
    user = User(qtbot, window)
    user.wait_shown()
    window.view.setFocus()
    yield user
    state.close()


def test_the_physicists_loop(qtbot, journey, tmp_path):
    user, window = journey, journey.window
    state, store = window.state, window.state.store
    samples = {s.name: s for s in demo_samples(0, small=FRAMES, large=0, small_size=SIDE)}

    def truth_iou(image_id: int) -> float:
        name = state.record(image_id).name
        return compare(samples[name].true_mask, store.load_mask(image_id), 2).miou

    # 1. A box, Enter: the box becomes the label, the browser says labelled.
    first = state.current_id
    box = samples[state.record(first).name].box
    user.box(box.x, box.y, box.w, box.h)
    labelled = store.load_mask(first)
    assert (labelled == 1).sum() == box.w * box.h and state.record(first).status is ImageStatus.LABELLED
    assert window.browser.view.model().index(0, 3).data() == "labelled"

    # 2. Refine boxes on: the next boxes become the sample inside them (GrabCut, in the background).
    QTest.mouseClick(window.tool_bar.refine, Qt.MouseButton.LeftButton)
    assert window.tool_bar.settings.refine_boxes
    refined = []
    for _ in range(2):
        user.next_image()
        image_id, box = state.current_id, samples[state.record(state.current_id).name].box
        user.box(box.x, box.y, box.w, box.h)
        qtbot.waitUntil(lambda image_id=image_id: store.has_mask(image_id), timeout=20_000)
        assert truth_iou(image_id) > 0.9 and (store.load_mask(image_id) == 1).sum() < box.w * box.h
        refined.append(image_id)

    # 3. A brush stroke, undone (the frame is unlabelled again), redone, then a refined box on top.
    user.next_image()
    brushed = state.current_id
    user.key(Qt.Key.Key_B)
    user.drag((10, 10), (40, 12), (60, 14))
    assert state.record(brushed).status is ImageStatus.LABELLED
    user.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert state.record(brushed).status is ImageStatus.UNLABELLED and not window.view.document.mask.any()
    user.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert state.record(brushed).status is ImageStatus.LABELLED and window.view.document.mask[12, 30] == 1
    user.key(Qt.Key.Key_E)
    user.drag((10, 10), (40, 12), (60, 14))  # erased again: this frame gets a box like the others
    box = samples[state.record(brushed).name].box
    before = store.load_mask(brushed).copy()
    user.box(box.x, box.y, box.w, box.h)
    qtbot.waitUntil(lambda: not np.array_equal(store.load_mask(brushed), before), timeout=20_000)
    labelled_ids = [first, *refined, brushed]

    # 4. Train a few epochs from the panel; the live preview shows on the canvas and stores nothing.
    panel = window.train_panel
    qtbot.waitUntil(lambda: panel.split_label.text() == "4 training / 0 validation images", timeout=10_000)
    panel.epochs_spin.setValue(3)
    panel.width_spin.setValue(8)
    window.view_toolbar.prediction_action.setChecked(True)
    with qtbot.waitSignal(window.training.finished, timeout=RUN_TIMEOUT_MS) as finished:
        QTest.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert not finished.args[0].cancelled and panel.status_label.text().startswith("Finished 3 epochs")
    qtbot.waitUntil(lambda: not window.live_preview.is_running and window.previews.of(brushed) is not None,
                    timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: "live preview" in window.view.prediction_caption.text(), timeout=10_000)
    assert store.prediction_scores() == {}  # a preview is a view
    assert {r.status for r in store.images() if r.id not in labelled_ids} == {ImageStatus.UNLABELLED}

    # 5. The review queue (its worst-IoU view) lists every labelled frame, none predicted yet; one click predicts them.
    user.key(Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.review_view
    queue = window.review_panel
    queue.raise_()
    assert queue.kind == "estimated_iou"  # the default: predictions of unlabelled frames, estimated worst first
    queue.set_kind("worst_iou")
    qtbot.waitUntil(lambda: not queue.is_computing and len(queue.queue) == 4, timeout=10_000)
    assert sorted(queue.missing()) == sorted(labelled_ids) and queue.predict_button.isEnabled()
    with qtbot.waitSignal(window.predictions.finished, timeout=RUN_TIMEOUT_MS):
        QTest.mouseClick(queue.predict_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not queue.is_computing and queue.missing() == [], timeout=10_000)
    assert all(entry.value is not None and entry.origin.run_id == store.runs()[0].id for entry in queue.queue)
    assert not queue.predict_button.isVisible()

    # 6. N opens the worst frame; Ctrl+Return accepts its prediction; the queue says IoU 1.000.
    worst = queue.queue[0].image_id
    user.key(Qt.Key.Key_N)
    assert state.current_id == worst
    qtbot.waitUntil(lambda: window.review_view.is_settled() and window.review_view.has_prediction
                    and window.review_accept.accept_action.isEnabled(), timeout=10_000)
    with qtbot.waitSignal(window.review_accept.accepted, timeout=10_000):
        user.key(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert state.record(worst).status is ImageStatus.REVIEWED
    qtbot.waitUntil(lambda: {e.image_id: e.value for e in queue.queue}.get(worst) == 1.0, timeout=10_000)

    # 7. Correct it with the eraser on the canvas: the queue's IoU follows the edit.
    QTest.mouseClick(window.tabs.tabBar(), Qt.MouseButton.LeftButton,
                     pos=window.tabs.tabBar().tabRect(window.tabs.indexOf(window.view)).center())
    assert window.tabs.currentWidget() is window.view
    user.wait_shown()
    user.key(Qt.Key.Key_E)
    mask = window.view.document.mask
    ys, xs = np.nonzero(mask == 1)
    centre = (int(xs.mean()), int(ys.mean()))
    user.drag((centre[0] - 15, centre[1]), (centre[0] + 15, centre[1]))
    qtbot.waitUntil(lambda: (v := {e.image_id: e.value for e in queue.queue}.get(worst)) is not None and v < 1.0,
                    timeout=10_000)

    # 8. Predict the frames never labelled (Ctrl+P, the dialog's own choice: unlabelled).
    def predict(dialog: PredictDialog) -> None:
        assert dialog.unlabelled.isChecked() and Path(dialog.checkpoint.text()).is_file()
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    user.answer_modal(predict)
    with qtbot.waitSignal(window.predictions.finished, timeout=RUN_TIMEOUT_MS) as predicted:
        user.key(Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    never_labelled = [r.id for r in store.images() if r.id not in labelled_ids]
    assert predicted.args == [len(never_labelled), []]
    assert all(state.record(i).status is ImageStatus.PREDICTED for i in never_labelled)

    # 9. Export the labels as palette PNGs; segcore reads back exactly what the project holds.
    out = tmp_path / "export"
    exported: list[tuple[int, int]] = []

    def export(dialog: ExportDialog) -> None:
        dialog.folder.setText(str(out))
        for button in (dialog.by_status, dialog.statuses[ImageStatus.PREDICTED]):  # labelled and reviewed ones
            QTest.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(8, button.height() // 2))
        dialog.export_finished.connect(lambda files, skipped: (exported.append((files, skipped)), dialog.accept()))
        QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)

    user.answer_modal(export)
    user.key(Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert exported == [(len(labelled_ids), 0)]
    for image_id in labelled_ids:
        written = read_index_mask(out / "palette" / f"{state.record(image_id).name}.png")
        np.testing.assert_array_equal(written, store.load_mask(image_id))
