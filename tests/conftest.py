"""Session-wide isolation: no test reads or writes the user's settings, data folder or config.

Set at import time, before any test (or Qt, or segcore) looks at the environment: the XDG
folders (where Qt keeps QSettings on Linux and segdesk its demo project and logs) and
`SEGDESK_DATA_DIR` point into one temporary folder for the whole session. The GUI tests add
Qt's own redirection on top (tests/app/conftest.py). Torch's cache is left alone on purpose:
it holds pretrained weights, which tests only read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

SESSION_HOME = Path(tempfile.mkdtemp(prefix="segdesk-tests-"))
"""Everything a test run would write into the user's folders goes here instead."""

ISOLATED_DIRS = {
    "XDG_CONFIG_HOME": SESSION_HOME / "config",
    "XDG_DATA_HOME": SESSION_HOME / "data",
    "XDG_STATE_HOME": SESSION_HOME / "state",
    "SEGDESK_DATA_DIR": SESSION_HOME / "segdesk-data",
}
os.environ["SEGDESK_TEST_HOME"] = str(SESSION_HOME)
for _name, _path in ISOLATED_DIRS.items():
    _path.mkdir(parents=True, exist_ok=True)
    os.environ[_name] = str(_path)


@pytest.fixture(scope="session", autouse=True)
def _remove_session_home():
    yield
    shutil.rmtree(SESSION_HOME, ignore_errors=True)
