"""'Accept confident predictions…': every unlabelled prediction estimated at or above a threshold becomes its label."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from app.state.project_state import ProjectState
from segcore.inference.quality import CHECK_BELOW
from segcore.project.store import ImageStatus

DEFAULT_AT_LEAST = 0.95
"""High enough that a user need not look at what it accepts; the check-this line (0.80) is far below."""


class ConfidentDialog(QDialog):
    """Ask for the estimated IoU above which predictions are accepted, saying how many that is as it changes."""

    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Accept confident predictions")
        self._qualities = [quality for record in state.images if record.status is ImageStatus.PREDICTED
                           and (quality := state.quality(record.id)) is not None]
        self.at_least = QDoubleSpinBox(minimum=CHECK_BELOW, maximum=1.0, singleStep=0.01, decimals=2,
                                       value=DEFAULT_AT_LEAST)
        self.at_least.setToolTip("Each prediction's estimated IoU: how far the network's mirrored views agree")
        self.count = QLabel(wordWrap=True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow("Estimated IoU at least", self.at_least)
        layout.addRow(self.count)
        layout.addRow(self.buttons)
        self.at_least.valueChanged.connect(self._show_count)
        self._show_count()

    @property
    def chosen(self) -> int:
        """How many unlabelled predictions the threshold takes."""
        return sum(quality >= self.at_least.value() for quality in self._qualities)

    def _show_count(self) -> None:
        n = self.chosen
        self.count.setText(f"{n} of the {len(self._qualities)} estimated unlabelled predictions become labels "
                           "(reviewed); the labels they replace stay as earlier mask revisions.")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(n > 0)
