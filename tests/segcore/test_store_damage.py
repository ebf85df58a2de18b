"""A damaged project database is refused with one line naming it, and `project recover` rebuilds the project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segcore.cli import main
from segcore.data.boxes import Box
from segcore.data.classes import ClassTable
from segcore.errors import ProjectDamagedError
from segcore.io.images import write_image
from segcore.project.store import DB_NAME, ImageStatus, ProjectStore

TABLE = ClassTable.from_names(["background", "vessel", "lesion"], [(0, 0, 0), (200, 30, 30), (30, 200, 30)])


def _labelled_project(root: Path, *, compact: bool) -> dict[str, tuple[np.ndarray, np.ndarray, list[Box], ImageStatus]]:
    """Eight small images with two mask revisions and journal edits each; {name: (pixels, mask, boxes, status)}."""
    rng = np.random.default_rng(0)
    expected = {}
    with ProjectStore.create(root, TABLE, name="Retina") as store:
        for i in range(8):
            pixels = rng.integers(0, 255, (24, 32), dtype=np.uint8)
            record = store.add_image_array(f"img{i}", pixels)
            store.add_box(record.id, Box(i, 2, 3, 4, 1 + i % 2))
            for _ in range(2):
                store.save_mask(record.id, rng.integers(0, 3, (24, 32), dtype=np.uint8))
            for k in range(6):
                store.save_mask_patch(record.id, k, k, rng.integers(0, 3, (8, 8), dtype=np.uint8))
            if i % 3 == 0:
                store.set_status(record.id, ImageStatus.REVIEWED)
            if compact:
                store.compact_mask(record.id)
        for record in store.images():
            expected[record.name] = (store.read_image(record.id), store.load_mask(record.id),
                                     store.boxes(record.id), store.image(record.id).status)
    return expected


def _damage(db: Path, offset: int | None = None, size: int = 3 * 1024) -> bytes:
    """Overwrite `size` bytes (mid-file by default) with noise, as a bad sector or a stray write would."""
    data = bytearray(db.read_bytes())
    start = len(data) // 2 if offset is None else offset
    data[start : start + size] = np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes()
    db.write_bytes(bytes(data))
    return bytes(data)


def _page_offset(db: Path, name: str) -> int:
    """Where the first page of table or index `name` starts in the file (SQLite's dbstat)."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        page = conn.execute("SELECT min(pageno) FROM dbstat WHERE name = ?", (name,)).fetchone()[0]
        return (page - 1) * conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()


def _error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_a_damaged_database_is_refused_by_every_command_and_left_as_it_is(tmp_path, capsys):
    root = tmp_path / "retina"
    _labelled_project(root, compact=False)
    damaged = _damage(root / DB_NAME)

    assert main(["project", "info", str(root)]) == 1
    line = _error_line(capsys)
    assert f"{root / DB_NAME} is damaged" in line and "segcore project recover" in line

    src = tmp_path / "more"
    write_image(src / "images" / "x.png", np.ones((24, 32), np.uint8))
    write_image(src / "masks" / "x.png", np.ones((24, 32), np.uint8))
    assert main(["project", "import", str(root), str(src), "--from", "folder"]) == 1
    assert "is damaged" in _error_line(capsys)
    assert main(["project", "export", str(root), str(tmp_path / "out"), "--to", "voc"]) == 1
    assert "is damaged" in _error_line(capsys)
    with pytest.raises(ProjectDamagedError):
        ProjectStore.open(root, read_only=True)
    assert (root / DB_NAME).read_bytes() == damaged  # nothing wrote into it, not even a migration


def test_recover_rebuilds_images_latest_masks_and_labels(tmp_path, capsys):
    root, out = tmp_path / "retina", tmp_path / "rebuilt"
    expected = _labelled_project(root, compact=False)
    # A bad page where no row the rebuild needs lies (mid-file hit the edit journal once the schema grew): an index,
    # which the quick check still finds damaged.
    _damage(root / DB_NAME, offset=_page_offset(root / DB_NAME, "images_content_hash"), size=4096)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))

    assert main(["project", "recover", str(root), str(out)]) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    assert "recovered 8 images and 8 masks" in printed and "class table: from the database" in printed
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # the damaged folder is only read
    with ProjectStore.open(out) as store:
        assert store.name == "Retina" and store.class_table() == TABLE
        assert store.integrity_check() == []
        assert sorted(r.name for r in store.images()) == sorted(expected)
        for record in store.images():
            pixels, mask, boxes, status = expected[record.name]
            np.testing.assert_array_equal(store.read_image(record.id), pixels)
            np.testing.assert_array_equal(store.load_mask(record.id), mask, err_msg=record.name)  # journal included
            assert store.boxes(record.id) == boxes and record.status is status


def test_recover_from_the_files_alone_when_the_database_is_gone(tmp_path, capsys):
    root, out = tmp_path / "retina", tmp_path / "rebuilt"
    expected = _labelled_project(root, compact=True)  # the journal lives in the database only
    _damage(root / DB_NAME, offset=0, size=8 * 1024)  # the header too: SQLite sees no database at all

    assert main(["project", "recover", str(root), str(out)]) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    assert "from the files in images/" in printed and "colours of the mask palettes" in printed
    with ProjectStore.open(out) as store:
        table = store.class_table()
        assert table.names == ["class_0", "class_1", "class_2"] and table.colors == TABLE.colors
        assert sorted(r.name for r in store.images()) == sorted(expected)
        for record in store.images():
            pixels, mask, _boxes, _status = expected[record.name]
            np.testing.assert_array_equal(store.read_image(record.id), pixels)
            np.testing.assert_array_equal(store.load_mask(record.id), mask, err_msg=record.name)


def test_recover_refuses_to_write_over_a_project(tmp_path, capsys):
    root = tmp_path / "retina"
    _labelled_project(root, compact=True)
    assert main(["project", "recover", str(root), str(root)]) == 1
    assert "recover into a new folder" in _error_line(capsys)
