"""A full disk and a read-only project: one clear error, nothing committed half-way, reading still works.

Tests run as root here, where chmod stops no write: read-only is tested by asking for it
(`read_only=True`), by detection with `os.access` patched to deny writes, and, where this
machine lets a test mount file systems, on a real read-only bind mount and a real full tmpfs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from segcore.data.boxes import Box
from segcore.data.classes import ClassTable
from segcore.data.readers import open_dataset
from segcore.errors import DiskFullError, ProjectReadOnlyError
from segcore.project import store as store_module
from segcore.project.store import DB_NAME, ImageStatus, ProjectStore
from segcore.project.thumbnails import thumbnail_for
from segcore.project.transfer import export_project

TABLE = ClassTable.from_names(["background", "cell", "dust"])


def _project(root: Path) -> tuple[int, np.ndarray]:
    mask = np.zeros((48, 64), np.uint8)
    mask[5:20, 10:30] = 1
    with ProjectStore.create(root, TABLE) as store:
        image_id = store.add_image_array("cells", np.arange(48 * 64, dtype=np.uint16).reshape(48, 64)).id
        store.save_mask(image_id, mask)
        store.save_mask_patch(image_id, 0, 0, np.full((2, 2), 2, np.uint8))  # an edit not folded yet
    mask[:2, :2] = 2
    return image_id, mask


@contextlib.contextmanager
def _mounted(*commands: list[str], target: Path) -> Iterator[None]:
    """Run mount `commands` (skipping the test where this machine does not allow it); unmount after."""
    target.mkdir(parents=True, exist_ok=True)
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", str(target)], capture_output=True)
            pytest.skip(f"cannot mount here ({' '.join(command)}: {done.stderr.strip()})")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=True)


def _fill(filler: Path) -> None:
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as fh:
        while True:
            fh.write(b"\0" * 4096)


# -- a full disk ----------------------------------------------------------------------------------------
def test_sqlite_saying_the_disk_is_full_is_one_disk_full_error_and_commits_nothing(tmp_path):
    image_id, _mask = _project(tmp_path / "proj")
    with ProjectStore.open(tmp_path / "proj") as store:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own 'database or disk is full'
        rng = np.random.default_rng(0)
        saved = 0
        with pytest.raises(DiskFullError, match=f"{DB_NAME} is full") as caught:
            for _ in range(100):  # random patches compress badly: the database must grow
                store.save_mask_patch(image_id, 0, 0, rng.integers(0, 3, (48, 64), dtype=np.uint8))
                saved += 1
        assert "\n" not in str(caught.value) and "MiB free" in str(caught.value)
        assert store.pending_patches(image_id) == 1 + saved  # every acknowledged edit, nothing of the failed one
        store._conn.execute(f"PRAGMA max_page_count = {10 * pages + 100}")  # space again: the store works on
        assert store.compact_mask(image_id) == 2


@pytest.mark.skipif(os.name != "posix", reason="mounts a tmpfs")
def test_a_really_full_disk_leaves_no_half_written_mask_or_prediction(tmp_path):
    disk = tmp_path / "small"
    with _mounted(["mount", "-t", "tmpfs", "-o", "size=384k", "tmpfs", str(disk)], target=disk):
        image_id, mask = _project(disk / "proj")
        filler = disk / "filler"
        with ProjectStore.open(disk / "proj") as store:
            _fill(filler)
            big = np.random.default_rng(1).integers(0, 3, (48, 64), dtype=np.uint8)
            for write in (lambda: store.save_mask(image_id, big),
                          lambda: store.save_mask_patch(image_id, 0, 0, big),
                          lambda: store.save_prediction(image_id, big, np.random.default_rng(2).random((48, 64)),
                                                        checkpoint="c")):
                with pytest.raises(DiskFullError, match=f"the disk holding {disk}.* is full"):
                    write()
        _fill(filler)  # what closing freed (the -wal and -shm files)
        # Opening to write cannot make SQLite's shared-memory file; the project still opens to read (issue 27:
        # even `project info` was refused), and writing stays refused.
        with ProjectStore.open(disk / "proj") as store:
            assert store.read_only
            np.testing.assert_array_equal(store.load_mask(image_id), mask)
            with pytest.raises(ProjectReadOnlyError):
                store.save_mask(image_id, big)
        filler.unlink()
        with ProjectStore.open(disk / "proj") as store:
            assert [r.revision for r in store.mask_revisions(image_id)] == [1]
            np.testing.assert_array_equal(store.load_mask(image_id), mask)
            assert store.load_prediction(image_id) is None
            assert store.integrity_check() == []
        leftovers = [p.name for p in (disk / "proj").rglob("*") if p.is_file() and p.parent.name != "images"]
        assert sorted(leftovers) == sorted([DB_NAME, "000001.png"])  # no revision 2, no prediction, no temporary file


# -- read-only projects ---------------------------------------------------------------------------------
def _check_reads_work_and_writes_are_refused(root: Path, image_id: int, mask: np.ndarray, out: Path) -> None:
    with ProjectStore.open(root) as store:
        assert store.read_only
        assert [r.name for r in store.images()] == ["cells"]
        np.testing.assert_array_equal(store.load_mask(image_id), mask)
        assert thumbnail_for(store, image_id).shape[2] == 3  # shown even where it cannot be cached
        assert store.compact_mask(image_id) is None  # the app's image switch: no write attempted
        np.testing.assert_array_equal(store.load_mask(image_id), mask)  # the journal still applies
        export_project(store, out, "voc")  # export (and predict) to elsewhere
        writes = [
            lambda: store.save_mask_patch(image_id, 0, 0, np.ones((2, 2), np.uint8)),
            lambda: store.save_mask(image_id, mask),
            lambda: store.add_image_array("more", np.ones((4, 4), np.uint8)),
            lambda: store.add_box(image_id, Box(0, 0, 2, 2, 1)),
            lambda: store.set_status(image_id, ImageStatus.REVIEWED),
            lambda: store.save_prediction(image_id, mask, checkpoint="c"),
            lambda: store.set_class_table(TABLE.with_class("new")),
        ]
        for write in writes:
            with pytest.raises(ProjectReadOnlyError, match=f"project {root} is read-only"):
                write()
    assert len(open_dataset("voc", out)) == 1


def test_open_read_only_when_asked(tmp_path):
    root = tmp_path / "proj"
    image_id, mask = _project(root)
    before = (root / DB_NAME).read_bytes()
    with ProjectStore.open(root, read_only=True) as store:
        assert store.read_only
        with pytest.raises(ProjectReadOnlyError):
            store.save_mask(image_id, mask)
    assert (root / DB_NAME).read_bytes() == before


def test_an_unwritable_project_opens_read_only_by_itself(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    image_id, mask = _project(root)
    # Root may write anywhere, so the folder's permission is what `os.access` is made to answer.
    real = os.access
    monkeypatch.setattr(store_module.os, "access",
                        lambda path, mode: False if mode & os.W_OK and Path(path).is_relative_to(root) else real(path, mode))
    _check_reads_work_and_writes_are_refused(root, image_id, mask, tmp_path / "export")


@pytest.mark.skipif(os.name != "posix", reason="bind mounts")
def test_a_project_on_a_read_only_file_system(tmp_path):
    source, view = tmp_path / "proj", tmp_path / "readonly"
    image_id, mask = _project(source)
    assert not Path(f"{source / DB_NAME}-shm").exists()  # closed cleanly: SQLite needs -shm to read WAL, or immutable
    commands = (["mount", "--bind", str(source), str(view)], ["mount", "-o", "remount,bind,ro", str(view)])
    with _mounted(*commands, target=view):
        _check_reads_work_and_writes_are_refused(view, image_id, mask, tmp_path / "export")
