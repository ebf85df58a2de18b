"""The app's log file: rotating, in the user's log folder, so a report can include what happened before a crash.

Pure Python (no Qt): the launcher installs it before Qt starts.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from logging.handlers import RotatingFileHandler
from pathlib import Path

log = logging.getLogger(__name__)

LOG_NAME = "segdesk.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
"""segdesk.log plus segdesk.log.1..3: at most ~4 MB of history."""
HANDLER_NAME = "segdesk-log-file"


def log_dir(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> Path:
    """The per-user log folder: XDG state on Linux, ~/Library/Logs on macOS, %LOCALAPPDATA% on Windows."""
    if platform == "win32":
        return Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "segdesk" / "Logs"
    if platform == "darwin":
        return Path.home() / "Library" / "Logs" / "segdesk"
    state = env.get("XDG_STATE_HOME", "")
    # The XDG spec says to ignore a relative XDG_STATE_HOME.
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "segdesk" / "log"


def install_log_file(level: int = logging.INFO, folder: Path | None = None) -> Path | None:
    """Add the rotating log file to the root logger (once); returns its path, or None if it cannot be written."""
    active = active_log_file()
    if active is not None:
        return active
    path = (folder or log_dir()) / LOG_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError as exc:  # a read-only home must not stop the app: stderr still gets everything
        log.warning("cannot write the log file %s: %s", path, exc)
        return None
    handler.set_name(HANDLER_NAME)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)  # the root logger's level (set by the launcher) still applies
    return path


def active_log_file() -> Path | None:
    """The log file this process writes, if `install_log_file` installed one."""
    for handler in logging.getLogger().handlers:
        if handler.get_name() == HANDLER_NAME and isinstance(handler, RotatingFileHandler):
            return Path(handler.baseFilename)
    return None
