"""An acquisition in the window: imported by reference, its frames in order in the list, scrubbed and played."""

from __future__ import annotations

import numpy as np
import tifffile

from app.projects import ProjectController

IMPORT_TIMEOUT_MS = 30_000


def _acquisition(path, frames: int = 12) -> np.ndarray:
    stack = np.stack([np.full((30, 40), 10 * i, np.uint8) for i in range(frames)])
    tifffile.imwrite(path, stack, photometric="minisblack", imagej=True, metadata={"axes": "TYX", "finterval": 0.04})
    return stack


def _import(qtbot, window, path) -> None:
    controller = ProjectController(window.state, window)
    with qtbot.waitSignal(controller.import_finished, timeout=IMPORT_TIMEOUT_MS) as finished:
        controller.import_sequence(path)
    assert finished.args[0].added == 12


def test_the_scrubber_shows_only_on_frames_and_selects_the_frame_it_is_moved_to(qtbot, window, tmp_path):
    stack = _acquisition(tmp_path / "acq.tif")
    _import(qtbot, window, tmp_path / "acq.tif")
    bar, state = window.sequence_bar, window.state
    assert window.browser.visible_names()[-12:] == [f"acq_{i:04d}" for i in range(12)]  # the list in frame order
    assert not bar.isVisible()  # the current image is no frame
    state.select(state.find("acq_0003").id)
    assert bar.isVisible() and bar.slider.value() == 3 and bar.frame_box.value() == 3
    assert "0.120 s" in bar.caption.text() and "of 11" in bar.caption.text()
    bar.slider.setValue(7)
    assert state.record(state.current_id).name == "acq_0007"
    qtbot.waitUntil(lambda: window.view.document.image_id == state.current_id)
    assert np.array_equal(window.state.store.read_image(state.current_id), stack[7])
    bar.frame_box.setValue(2)
    assert state.record(state.current_id).name == "acq_0002"
    state.select(state.find("alpha_gray8").id)
    assert not bar.isVisible()


def test_play_steps_through_the_frames_and_stops_at_the_end(qtbot, window, tmp_path):
    _acquisition(tmp_path / "acq.tif")
    _import(qtbot, window, tmp_path / "acq.tif")
    bar, state = window.sequence_bar, window.state
    state.select(state.find("acq_0008").id)
    bar.play_button.click()
    assert bar.playing and "Pause" in bar.play_button.text()
    qtbot.waitUntil(lambda: not bar.playing, timeout=5_000)
    assert state.record(state.current_id).name == "acq_0011" and "Play" in bar.play_button.text()
