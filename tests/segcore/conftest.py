"""Shared fixtures for engine tests: small real datasets written to disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic import write_squares_dataset


@pytest.fixture()
def squares(tmp_path: Path) -> Path:
    return write_squares_dataset(tmp_path / "squares")
