"""The project's SQLite file: connecting (read-write or read-only), checking it is intact, creating it
in one step, and turning SQLite's failures into the errors a user can act on."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path

from segcore.data.classes import ClassTable
from segcore.errors import DiskFullError, ProjectDamagedError, ProjectError, ProjectReadOnlyError, SegcoreError
from segcore.io.atomic import free_bytes, is_disk_full
from segcore.project.schema import migrate

log = logging.getLogger(__name__)

DB_NAME = "project.segdesk"
BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's transaction on the same project before giving up."""
LOW_SPACE_BYTES = 1 << 20
"""Below this much free space, an SQLite I/O error is taken for a full disk."""


def writable(root: Path) -> bool:
    # The folder too: SQLite writes its -wal and -shm files, and the store its images and masks, beside the database.
    return os.access(root, os.W_OK) and os.access(root / DB_NAME, os.W_OK)


def sqlite_connect(db: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        uri = f"{db.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL database in a folder nobody may write has no shared-memory file to read through;
            # read it as immutable (commits still in an un-checkpointed -wal file are then not seen).
            conn.close()
            conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    conn.row_factory = sqlite3.Row
    return conn


def use_wal(conn: sqlite3.Connection, root: Path) -> None:
    """Switch to the WAL journal (readers never wait for the writer), waiting for other openers if need be."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            # SQLite does not wait (no busy handler) while another connection holds the file open to read.
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        if mode.lower() != "wal":
            log.warning("project %s: WAL journal not available (%s); using it anyway", root, mode)
            return


def check_intact(conn: sqlite3.Connection, root: Path) -> None:
    """Refuse a damaged database (PRAGMA quick_check: the page structure, in one fast pass)."""
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)") if row[0] != "ok"]
    if problems:
        raise ProjectDamagedError(root, one_line("; ".join(problems)))


def project_error(exc: sqlite3.DatabaseError, root: Path) -> SegcoreError | None:
    """The typed error for an SQLite failure the user can act on, or None for a programming error."""
    code = getattr(exc, "sqlite_errorname", "") or ""  # Python 3.11+; the messages below for 3.10
    text = str(exc)
    db = root / DB_NAME
    free = free_bytes(db)
    # A full disk may also surface as an I/O error (growing the -shm file when the project opens).
    if code.startswith("SQLITE_FULL") or is_disk_full(exc) or (
            code.startswith("SQLITE_IOERR") and free is not None and free < LOW_SPACE_BYTES):
        return DiskFullError(db, free)
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return ProjectDamagedError(root, one_line(text))
    if code.startswith("SQLITE_READONLY") or "readonly database" in text:
        return ProjectReadOnlyError(root)
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return ProjectError(f"project {root} stayed locked by another program for {BUSY_TIMEOUT_S:.0f} s; try again")
    return None


def one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_new_database(path: Path, class_table: ClassTable, name: str) -> None:
    """A complete project database at `path`: the schema, its name and its class table."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")  # set before anyone opens it: two openers cannot race to switch
        migrate(conn)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO meta(key, value) VALUES ('name', ?)", (name,))
        conn.execute("INSERT INTO meta(key, value) VALUES ('class_table', ?)", (json.dumps(class_table.to_dict()),))
        conn.execute("COMMIT")
    finally:
        conn.close()


def publish(draft: Path, db: Path) -> None:
    """Put the finished `draft` database at `db` in one step, unless a project appeared there meanwhile."""
    try:
        os.link(draft, db)  # atomic, and it fails when the name exists
    except FileExistsError as exc:
        raise ProjectError(f"a project already exists in {db.parent}") from exc
    except OSError:
        # No hard links on this file system (FAT, some shares): a rename, which races only another create.
        if db.exists():
            raise ProjectError(f"a project already exists in {db.parent}") from None
        os.replace(draft, db)
