"""The frame scrubber: shown under the canvas while the current image is a frame of an acquisition.

Play/pause, a slider over the frames, the frame number (typed or stepped) and the frame's time where the
file gave one. Moving it selects that frame as the current image, so labelling, review and prediction work
on it as on any image; the image list selects it too.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QSlider, QSpinBox, QStyle, QToolBar, QToolButton, QWidget

from app.state.project_state import NO_IMAGE, ProjectState
from segcore.project.records import SequenceRecord

DEFAULT_INTERVAL_MS = 100
"""Playback steps this often when the file gives no frame rate (10 frames a second)."""
FASTEST_INTERVAL_MS = 40
"""Playback never asks for more than 25 frames a second: each frame is read and drawn."""


class SequenceBar(QToolBar):
    """Subscribes to the project state; hidden unless the current image is a frame."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__("Sequence", parent)
        self.setObjectName("sequence_bar")
        self._state = state
        self._frames: dict[int, list[int]] = {}
        """Image ids of each sequence's frames in frame order, by sequence id (rebuilt when the images change)."""
        self._sequence: SequenceRecord | None = None
        self.play_button = QToolButton(self)
        self.play_button.setCheckable(True)
        self.play_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._show_playing(True)
        self.play_button.setMinimumWidth(self.play_button.sizeHint().width())  # the slider stays put on Play/Pause
        self._show_playing(False)
        self.play_button.setToolTip("Play the acquisition from this frame (stops at its end)")
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setMinimumWidth(240)
        self.frame_box = QSpinBox(self)
        self.frame_box.setKeyboardTracking(False)  # a typed number jumps once, when it is complete
        self.frame_box.setToolTip("Frame number (from 0)")
        self.caption = QLabel(self)
        self.addWidget(self.play_button)
        self.addWidget(self.slider)
        self.addWidget(self.frame_box)
        self.addWidget(self.caption)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._advance)

        self.play_button.toggled.connect(self._set_playing)
        self.slider.valueChanged.connect(self._go_to)
        self.frame_box.valueChanged.connect(self._go_to)
        state.images_changed.connect(self._rebuild)
        state.current_image_changed.connect(self._show_frame_of)
        state.project_closed.connect(self._rebuild)
        self.setVisible(False)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _rebuild(self) -> None:
        self._frames = {}
        if self._state.is_open:
            for record in self._state.images:
                if record.sequence_id is not None:
                    self._frames.setdefault(record.sequence_id, []).append(record.id)
        self._show_frame_of(self._state.current_id if self._state.is_open else NO_IMAGE)

    def _show_frame_of(self, image_id: int) -> None:
        record = None if image_id == NO_IMAGE or not self._state.is_open else self._state.record(image_id)
        if record is None or record.sequence_id not in self._frames:
            self._sequence = None
            self.play_button.setChecked(False)
            self.setVisible(False)
            return
        if self._sequence is None or self._sequence.id != record.sequence_id:
            self._sequence = self._state.store.sequence(record.sequence_id)
        frames = self._frames[record.sequence_id]
        position = frames.index(image_id)
        for widget in (self.slider, self.frame_box):
            widget.blockSignals(True)  # showing the frame must not select it again
            widget.setRange(0, len(frames) - 1)
            widget.setValue(position)
            widget.blockSignals(False)
        interval = self._sequence.frame_interval_s
        time = f" · {record.frame * interval:.3f} s" if interval else ""
        self.caption.setText(f" of {len(frames) - 1}  ({self._sequence.name}{time})")
        self.setVisible(True)

    def _go_to(self, position: int) -> None:
        if self._sequence is None:
            return
        frames = self._frames[self._sequence.id]
        if 0 <= position < len(frames) and frames[position] != self._state.current_id:
            self._state.select(frames[position])

    def _show_playing(self, playing: bool) -> None:
        # The style's own icons: not every font has the pause sign.
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")

    def _set_playing(self, playing: bool) -> None:
        self._show_playing(playing)
        if not playing:
            self._timer.stop()
            return
        interval = self._sequence.frame_interval_s if self._sequence is not None else None
        self._timer.start(max(FASTEST_INTERVAL_MS, round(1000 * interval)) if interval else DEFAULT_INTERVAL_MS)

    def _advance(self) -> None:
        if self._sequence is None or self.slider.value() >= self.slider.maximum():
            self.play_button.setChecked(False)  # the end of the acquisition (or no acquisition): stop there
            return
        self._go_to(self.slider.value() + 1)
