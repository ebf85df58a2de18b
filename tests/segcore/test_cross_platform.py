"""What differs between Linux, macOS and Windows: free memory through psutil, atomic writes that Windows accepts."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
import torch

from segcore.inference import memory
from segcore.io import atomic

ROOT = Path(__file__).resolve().parents[2]


def test_free_memory_comes_from_psutil_without_proc(monkeypatch):
    def no_proc(*args, **kwargs):
        raise AssertionError("free_memory read a file (macOS and Windows have no /proc)")

    monkeypatch.setattr("builtins.open", no_proc)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=3 << 30, total=8 << 30))
    assert memory.free_memory(torch.device("cpu")) == 3 << 30


def test_tiling_budget_follows_the_available_memory(monkeypatch):
    net = torch.nn.Conv2d(1, 8, 3, padding=1).eval()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=64 << 20))
    small = memory.choose_tiling(net, 1, 1, torch.device("cpu"))
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=64 << 30))
    large = memory.choose_tiling(net, 1, 1, torch.device("cpu"))
    assert small[0] < large[0]


def test_atomic_write_fsyncs_through_a_writable_handle(monkeypatch, tmp_path):
    fcntl = pytest.importorskip("fcntl")

    # Windows' fsync (_commit) fails with EBADF on a read-only handle; POSIX accepts it, so check the mode here.
    # Directories are fsynced on POSIX only, read-only as they must be.
    def windows_like_fsync(fd: int) -> None:
        if not stat.S_ISDIR(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(atomic.os, "fsync", windows_like_fsync)
    atomic.atomic_write_bytes(tmp_path / "a.bin", b"new")
    assert (tmp_path / "a.bin").read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_atomic_finishes_files_with_the_umask_of_the_moment(tmp_path):
    old = os.umask(0o027)
    try:
        atomic.atomic_write_bytes(tmp_path / "b.bin", b"x")
        assert os.umask(0o027) == 0o027  # reading the umask put it back
    finally:
        os.umask(old)
    if os.name == "posix":
        assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o640


def test_importing_atomic_leaves_the_umask_alone():
    code = (
        "import os\n"
        "calls = []\n"
        "real = os.umask\n"
        "os.umask = lambda mask: calls.append(mask) or real(mask)\n"
        "import segcore.io.atomic\n"
        "assert not calls, calls\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
