"""Atomic file writes: write a temporary file beside the target, fsync, then rename over it."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from segcore.errors import DiskFullError

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask, read when a file is finished (not at import: reading it means setting it)."""
    with _umask_lock:
        # The most restrictive mask meanwhile: a file another thread creates in between is private, not open.
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError saying the disk or the quota is full (also as raised by torch and SQLite wrappers)."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    text = str(exc).lower()
    if "no space left on device" in text or "disk quota exceeded" in text or "database or disk is full" in text:
        return True
    # torch.save's zip writer on a full disk: "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"
    # (or "... failed writing file data/3: file write failed"); it never names the cause.
    return "inline_container.cc" in text and ("unexpected pos" in text or "file write failed" in text)


def free_bytes(path: str | Path) -> int | None:
    """Free space on the disk holding `path` (its nearest existing folder), or None if unknown."""
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


@contextlib.contextmanager
def disk_full_guard(path: str | Path) -> Iterator[None]:
    """Turn a 'disk full' failure of the writes inside into one `DiskFullError` naming `path` and the free space."""
    try:
        yield
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFullError(path, free_bytes(path)) from exc
        raise


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one rename.

    A crash at any point leaves either the old file or the new one, never a half-written file;
    a full disk raises `DiskFullError` and leaves the old file.
    """
    target = Path(target)
    with disk_full_guard(target):
        with _atomic_path(target) as tmp:
            yield tmp


STALE_TEMPORARY_S = 600
"""A temporary file untouched this long was left by a killed write (a live write takes seconds)."""
_TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
"""`atomic_path`'s temporaries: mkstemp's `.NAME.XXXXXXXX.tmp`."""


def remove_stale_temporaries(folder: Path) -> int:
    """Remove the temporaries that killed writes left in `folder` and below it; returns how many."""
    cutoff, removed = time.time() - STALE_TEMPORARY_S, 0
    for leftover in folder.rglob(".*.tmp"):
        try:
            if _TEMPORARY_NAME.fullmatch(leftover.name) and leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                removed += 1
        except OSError:  # gone meanwhile, or not ours to remove: the next open tries again
            continue
    return removed


@contextlib.contextmanager
def _atomic_path(target: Path) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates files readable by the owner only; finished files get the usual umask-based mode.
        os.chmod(tmp, 0o666 & ~current_umask())
        # The caller wrote through its own handle, now closed; fsync needs one open for writing on Windows.
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_save_npy(target: str | Path, array: np.ndarray) -> None:
    """`np.save` `array` to `target` atomically (through a file object: np.save would append .npy to a temp name)."""
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


def _fsync_dir(directory: Path) -> None:
    # The rename itself is durable only once the directory entry is flushed (POSIX only).
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
