"""How the window marks a prediction's estimated IoU: its words and the red of "check this", in one place."""

from __future__ import annotations

from PySide6.QtGui import QColor

from segcore.inference.quality import to_check

CHECK_COLOR = QColor(215, 50, 40)
"""The red of a prediction estimated below `segcore.inference.quality.CHECK_BELOW` (image list, review queue)."""


def describe_quality(quality: float) -> str:
    """'estimated IoU 0.93', or 'estimated IoU 0.41 — check this' below `CHECK_BELOW`."""
    return f"estimated IoU {quality:.2f}" + (" — check this" if to_check(quality) else "")
