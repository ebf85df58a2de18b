"""A lock file saying which segdesk window has a project open, so a second window can warn first.

Advisory, as office suites do it: the store itself is safe with several writers (SQLite
serialises them), but two people labelling one image in two windows overwrite each other's
work. The command line never looks at it. A lock left by a process that is gone (on this host)
is stale and taken over silently; one held by a live process, or from another host, is
reported by `holder` so the app can ask.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from segcore.errors import SegcoreError
from segcore.io.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

LOCK_NAME = ".segdesk.lock"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a project open: process, host, user and since when (local time, ISO 8601)."""

    pid: int
    host: str
    user: str
    since: str

    def describe(self) -> str:
        return f"{self.user} on {self.host} (process {self.pid}, since {self.since.replace('T', ' ')})"

    @property
    def is_this_process(self) -> bool:
        return self.pid == os.getpid() and self.host == socket.gethostname()

    @property
    def is_stale(self) -> bool:
        """Left by a process of this host that no longer runs (a crash or a kill)."""
        return self.host == socket.gethostname() and not _alive(self.pid)


def holder(root: str | Path) -> LockHolder | None:
    """Who else has the project at `root` open: None when nobody, this process, or a stale lock."""
    found = _read(Path(root) / LOCK_NAME)
    if found is None or found.is_this_process or found.is_stale:
        return None
    return found


class ProjectLock:
    """This process's lock on one project; `release` removes the file, if it is still this process's."""

    def __init__(self, path: Path, mine: LockHolder):
        self.path = path
        self.mine = mine

    @classmethod
    def acquire(cls, root: str | Path, *, take_over: bool = False) -> ProjectLock | None:
        """Write this process's lock; None where it cannot be written, or another window holds it.

        `take_over`: replace another window's lock (the user chose to open anyway).
        """
        if not take_over and holder(root) is not None:
            return None  # opened without asking (a resumed session): the other window keeps its lock
        mine = LockHolder(os.getpid(), socket.gethostname(), _user(), datetime.now().isoformat(timespec="seconds"))
        path = Path(root) / LOCK_NAME
        try:
            atomic_write_bytes(path, json.dumps(asdict(mine)).encode())
        except (OSError, SegcoreError) as exc:  # a read-only folder or a full disk: open without a lock
            log.info("no lock file for %s: %s", root, exc)
            return None
        return cls(path, mine)

    def release(self) -> None:
        # A window that opened anyway after this one may have put its own lock here: that one stays.
        if _read(self.path) == self.mine:
            try:
                self.path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove the lock file %s: %s", self.path, exc)


def _read(path: Path) -> LockHolder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["user"]), str(data["since"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # half-written by a crash, or not ours: nobody holds it
        log.info("ignoring the unreadable lock file %s: %s", path, exc)
        return None


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # no safe probe here (os.kill would end the process): assume it runs, the user decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "someone"
