"""The export dialog on the tiny project: filled with real clicks and keys, files read back by segcore."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.dialogs.export_dialog import ExportDialog
from segcore.data.classes import IGNORE_INDEX
from segcore.data.masks import read_index_mask
from segcore.data.readers import open_dataset
from segcore.project.export import export_project_masks
from segcore.project.store import ImageStatus


@pytest.fixture()
def state(tiny_state):
    return tiny_state


@pytest.fixture()
def dialog(qtbot, state):
    dialog = ExportDialog(state)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _click(button) -> None:
    """Click a button on its left end: the indicator of a check box or radio button in a wide row."""
    QTest.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(8, button.height() // 2))


def test_export_labels_of_labelled_images_as_palette_voc_and_labelme(qtbot, dialog, state, tiny_project, tmp_path):
    out = tmp_path / "export"
    assert not dialog.export_button.isEnabled()  # no folder yet
    QTest.keyClicks(dialog.folder, str(out))
    _click(dialog.by_status)
    _click(dialog.statuses[ImageStatus.PREDICTED])
    assert {s for s, box in dialog.statuses.items() if box.isChecked()} == {ImageStatus.LABELLED, ImageStatus.REVIEWED}
    _click(dialog.formats["voc"])
    _click(dialog.formats["labelme"])
    assert dialog.chosen_formats() == ["palette", "labelme", "voc"]
    [labelled] = [r for r in state.images if r.status is ImageStatus.LABELLED]
    assert dialog.chosen_images() == [labelled.id]

    with qtbot.waitSignal(dialog.export_finished, timeout=20_000) as finished:
        QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert dialog.cancel_button.isEnabled() and not dialog.export_button.isEnabled()
    files = (out / "palette" / "beta_gray16.png", out / "labelme" / "beta_gray16.json", out / "labelme" / "labels.txt",
             out / "voc")
    assert finished.args == [len(files), 0]
    assert all(path.exists() for path in files)
    assert dialog.summary.text().startswith("Done: 4 file(s)") and dialog.progress.value() == dialog.progress.maximum()
    assert dialog.worker is None and dialog.export_button.isEnabled() and not dialog.cancel_button.isEnabled()

    np.testing.assert_array_equal(read_index_mask(out / "palette" / "beta_gray16.png"), tiny_project.mask)
    [voc_sample] = open_dataset("voc", out / "voc").samples
    image, mask = voc_sample.load()
    np.testing.assert_array_equal(mask, tiny_project.mask)
    np.testing.assert_array_equal(image, tiny_project.gray16)
    labelme = open_dataset("labelme", out / "labelme", labels=out / "labelme" / "labels.txt")
    np.testing.assert_array_equal(labelme[0].load_mask(), tiny_project.mask)


def test_export_labels_as_a_coco_folder(qtbot, dialog, tiny_project, tmp_path):
    from pycocotools.coco import COCO

    out = tmp_path / "export"
    QTest.keyClicks(dialog.folder, str(out))
    _click(dialog.formats["palette"])
    _click(dialog.formats["coco"])
    assert dialog.chosen_formats() == ["coco"]
    with qtbot.waitSignal(dialog.export_finished, timeout=20_000) as finished:
        QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert finished.args == [1, 3]  # one folder; the three images without a label are skipped
    COCO(str(out / "coco" / "annotations.json"))
    [sample] = open_dataset("coco", out / "coco").samples
    expected = np.where(tiny_project.mask == IGNORE_INDEX, 0, tiny_project.mask)  # COCO has no ignore label
    np.testing.assert_array_equal(sample.load_mask(), expected)


def test_export_predictions_skips_images_without_one(qtbot, dialog, state, tmp_path):
    gamma = state.find("gamma_rgb").id
    prediction = np.zeros((32, 36), np.uint8)
    prediction[8:20, 4:30] = 1
    state.store.save_prediction(gamma, prediction, checkpoint="test")
    out = tmp_path / "preds"
    QTest.keyClicks(dialog.folder, str(out))
    _click(dialog.predictions)
    _click(dialog.formats["color"])
    assert dialog.chosen_source() == "predictions" and len(dialog.chosen_images()) == 4

    with qtbot.waitSignal(dialog.export_finished, timeout=20_000) as finished:
        dialog.start_export()
    assert finished.args == [2, 3]
    np.testing.assert_array_equal(read_index_mask(out / "palette" / "gamma_rgb.png"), prediction)
    assert (out / "color" / "gamma_rgb.png").is_file()
    assert sorted(p.name for p in (out / "palette").iterdir()) == ["gamma_rgb.png"]
    assert "3 skipped" in dialog.summary.text() and "alpha_gray8: no prediction" in dialog.summary.text()


def test_labels_else_predictions_and_the_word_when_a_source_replaces_another(qtbot, dialog, state, tmp_path):
    """Issue 27, item 1: predictions exported over labels replaced them silently, with no 'label, else prediction'."""
    beta, gamma = state.find("beta_gray16").id, state.find("gamma_rgb").id
    for image_id, shape in ((beta, (48, 64)), (gamma, (32, 36))):
        prediction = np.zeros(shape, np.uint8)
        prediction[2:9, 3:12] = 1
        state.store.save_prediction(image_id, prediction, checkpoint="test")
    out = tmp_path / "out"
    QTest.keyClicks(dialog.folder, str(out))
    with qtbot.waitSignal(dialog.export_finished, timeout=20_000):
        dialog.start_export()  # labels: beta_gray16
    _click(dialog.predictions)
    with qtbot.waitSignal(dialog.export_finished, timeout=20_000):
        dialog.start_export()  # predictions: beta_gray16 (over its label) and gamma_rgb
    assert "1 image(s) exported there before from the other source now hold this export's files: beta_gray16" \
        in dialog.summary.text()
    assert "beta_gray16,prediction," in (out / "manifest.csv").read_text()

    either = tmp_path / "either"
    dialog.folder.clear()
    QTest.keyClicks(dialog.folder, str(either))
    _click(dialog.either)
    assert dialog.chosen_source() == "labels_else_predictions"
    with qtbot.waitSignal(dialog.export_finished, timeout=20_000):
        dialog.start_export()
    np.testing.assert_array_equal(read_index_mask(either / "palette" / "beta_gray16.png"),
                                  state.store.load_mask(beta))  # its label, not its prediction
    assert (either / "palette" / "gamma_rgb.png").is_file()  # no label: its prediction
    manifest = (either / "manifest.csv").read_text()
    assert "beta_gray16,label," in manifest and "gamma_rgb,prediction," in manifest


def test_cancel_stops_the_export(qtbot, dialog, state, tmp_path, monkeypatch):
    gate = threading.Event()  # holds the worker after its first image until the test has pressed Cancel

    def gated(*args, **kwargs):
        for step in export_project_masks(*args, **kwargs):
            yield step
            gate.wait(10)

    monkeypatch.setattr("app.dialogs.export_dialog.export_project_masks", gated)
    dialog.folder.setText(str(tmp_path / "out"))
    _click(dialog.current_image)
    assert dialog.chosen_images() == [state.current_id]
    _click(dialog.all_images)
    with qtbot.waitSignal(dialog.export_finished, timeout=20_000) as finished:
        dialog.start_export()
        qtbot.waitUntil(lambda: dialog.progress.value() == 1)
        QTest.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert finished.args == [1, 1]  # alpha (no label) skipped, beta written, then stopped: 2 of 4 images
    assert dialog.progress.value() == 2 and dialog.summary.text().startswith("Cancelled: 1 file(s)")
    assert [p.name for p in (tmp_path / "out" / "palette").iterdir()] == ["beta_gray16.png"]


def test_an_export_error_goes_to_the_one_error_path(qtbot, dialog, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("app.errors.show_error", lambda message, details=None, parent=None: shown.append(message))
    out = tmp_path / "out"
    (out / "voc").mkdir(parents=True)
    (out / "voc" / "old.txt").write_text("taken")
    dialog.folder.setText(str(out))
    _click(dialog.formats["voc"])
    with qtbot.waitSignal(dialog.export_finished, timeout=20_000):
        dialog.start_export()
    assert len(shown) == 1 and "not empty" in shown[0]
    assert dialog.summary.text().startswith("The export stopped on an error")


def test_inputs_are_checked_before_export(qtbot, dialog, tmp_path):
    dialog.folder.setText(str(tmp_path / "out"))
    assert dialog.export_button.isEnabled()
    _click(dialog.formats["palette"])
    assert not dialog.export_button.isEnabled() and "format" in dialog.summary.text()
    _click(dialog.formats["binary"])
    _click(dialog.by_status)
    for box in dialog.statuses.values():
        if box.isChecked():
            _click(box)
    assert not dialog.export_button.isEnabled() and "No image" in dialog.summary.text()
    with pytest.raises(ValueError, match="No image"):
        dialog.start_export()


def test_closing_during_an_export_cancels_it_then_closes(qtbot, dialog, tmp_path):
    dialog.folder.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.finished, timeout=20_000):  # QDialog.finished: the dialog closed
        dialog.start_export()
        QTest.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
        assert dialog.isVisible()  # still open until the worker has stopped
    assert dialog.worker is None and not dialog.isVisible()


def test_exporting_into_a_folder_that_is_not_empty_asks_first(qtbot, dialog, tmp_path):
    out = tmp_path / "busy"
    (out / "palette").mkdir(parents=True)
    earlier = out / "palette" / "beta_gray16.png"
    earlier.write_bytes(b"an earlier export the user may want to keep")
    QTest.keyClicks(dialog.folder, str(out))

    QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    box = dialog.overwrite_box
    assert box is not None and box.isVisible() and str(out) in box.text()
    assert dialog.worker is None  # nothing written while the question is open
    QTest.mouseClick(box.button(box.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert dialog.worker is None and earlier.read_bytes().startswith(b"an earlier export")

    QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    box = dialog.overwrite_box
    [anyway] = [b for b in box.buttons() if b.text() == "Export anyway"]
    with qtbot.waitSignal(dialog.export_finished, timeout=20_000):
        QTest.mouseClick(anyway, Qt.MouseButton.LeftButton)
    assert read_index_mask(earlier).shape == (48, 64)  # replaced, as the user agreed


def test_exporting_into_a_new_or_empty_folder_does_not_ask(qtbot, dialog, tmp_path):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new"):
        dialog.folder.setText(str(out))
        with qtbot.waitSignal(dialog.export_finished, timeout=20_000):
            QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert dialog.overwrite_box is None
