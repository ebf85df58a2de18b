"""A full disk during an atomic write: one `DiskFullError` naming the place, and the old file intact."""

from __future__ import annotations

import errno

import pytest

from segcore.errors import DiskFullError
from segcore.io.atomic import atomic_path, atomic_write_bytes, disk_full_guard


def test_a_full_disk_keeps_the_old_file_and_says_which_disk(tmp_path):
    target = tmp_path / "scores.json"
    atomic_write_bytes(target, b'{"old": 1}')
    with pytest.raises(DiskFullError, match="scores.json is full") as caught:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b'{"new"')
            raise OSError(errno.ENOSPC, "No space left on device")  # what the kernel says half-way through
    assert caught.value.free_bytes is not None and "MiB free" in str(caught.value)
    assert target.read_bytes() == b'{"old": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]  # no temporary file left behind


@pytest.mark.parametrize("message", ["database or disk is full", "PytorchStreamWriter failed writing file: "
                                     "unexpected pos; inline_container.cc: No space left on device"])
def test_libraries_saying_disk_full_in_their_own_words(tmp_path, message):
    with pytest.raises(DiskFullError):
        with disk_full_guard(tmp_path / "x"):
            raise RuntimeError(message)


def test_other_errors_pass_through(tmp_path):
    with pytest.raises(PermissionError):
        with disk_full_guard(tmp_path / "x"):
            raise PermissionError(errno.EACCES, "Permission denied")
