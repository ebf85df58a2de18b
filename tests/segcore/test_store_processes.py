"""Several processes on one project file: no acknowledged edit lost, no import crossed or half-done."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from segcore.cli import main
from segcore.data.classes import ClassTable
from segcore.io.images import write_image
from segcore.project import schema
from segcore.project.store import ProjectStore, content_hash

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
TABLE = ClassTable.from_names(["background", "a", "b", "c"])
SIZE = 40  # 1,600 pixels: room for one distinct pixel per edit

pytestmark = pytest.mark.skipif(os.name != "posix", reason="real processes and SIGKILL: POSIX only")


def _spawn(script: str, *args: object) -> subprocess.Popen:
    """A Python child that prints 'ready' once imported, then waits for a line on stdin before its work."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], env=ENV, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run_together(procs: list[subprocess.Popen], timeout: float = 60) -> list[str]:
    """Start the children's work at the same moment; their stderr, each asserted to have exited 0."""
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    errors = []
    for proc in procs:
        _out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        errors.append(err)
    return errors


# -- two writers journalling into one image, each compacting ----------------------------------------
JOURNALLER = """
    import sys
    import numpy as np
    from segcore.project.store import ProjectStore

    root, who, edits, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    store = ProjectStore.open(root)
    image_id = store.images()[0].id
    print("ready", flush=True)
    sys.stdin.readline()
    for k in range(edits):
        pixel = 2 * k + who  # writer 0 owns the even pixels, writer 1 the odd ones
        store.save_mask_patch(image_id, pixel % 40, pixel // 40, np.full((1, 1), 1 + who, np.uint8))
        if (k + 1) % every == 0:
            store.compact_mask(image_id)
    store.close()
"""


def test_two_writers_compacting_one_image_lose_no_acknowledged_edit(tmp_path):
    root = tmp_path / "proj"
    with ProjectStore.create(root, TABLE) as store:
        image_id = store.add_image_array("shared", np.zeros((SIZE, SIZE), np.uint8)).id
    edits = 300
    _run_together([_spawn(JOURNALLER, root, 0, edits, 3), _spawn(JOURNALLER, root, 1, edits, 5)])
    with ProjectStore.open(root) as store:
        mask = store.load_mask(image_id).ravel()
        revisions = [r.revision for r in store.mask_revisions(image_id)]
        store.compact_mask(image_id)
        np.testing.assert_array_equal(store.load_mask(image_id).ravel(), mask)  # folding changes nothing
    expected = np.zeros(SIZE * SIZE, np.uint8)
    expected[0 : 2 * edits : 2], expected[1 : 2 * edits : 2] = 1, 2
    lost = int((mask != expected).sum())
    assert lost == 0, f"{lost} of {2 * edits} acknowledged edits are missing from the mask"
    assert revisions == list(range(1, len(revisions) + 1))  # no revision number taken twice


# -- two imports of same-named files at once ------------------------------------------------------------
CLI = """
    import sys
    from segcore.cli import main
    print("ready", flush=True)
    sys.stdin.readline()
    sys.exit(main(sys.argv[1:]))
"""


def _same_named_dataset(folder: Path, seed: int, count: int = 12) -> dict[str, np.ndarray]:
    """`count` images f00.. with their masks; {content hash of an image: its mask}. Pixels differ per seed."""
    rng = np.random.default_rng(seed)
    masks = {}
    for i in range(count):
        image = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        mask = rng.integers(0, 4, (12, 16), dtype=np.uint8)
        write_image(folder / "images" / f"f{i:02d}.png", image)
        write_image(folder / "masks" / f"f{i:02d}.png", mask)
        masks[content_hash(image)] = mask
    (folder / "classes.txt").write_text("background\na\nb\nc\n")
    return masks


def _check_every_row_shows_its_own_files(root: Path, masks: dict[str, np.ndarray]) -> None:
    with ProjectStore.open(root) as store:
        records = store.images()
        assert store.integrity_check() == []
        assert sorted({content_hash(store.read_image(r.id)) for r in records}) == sorted(masks)  # none lost or doubled
        for record in records:
            pixels = content_hash(store.read_image(record.id))
            np.testing.assert_array_equal(store.load_mask(record.id), masks[pixels], err_msg=record.name)
        files = sorted(p.name for p in (root / "images").iterdir() if not p.name.startswith("."))
        assert files == sorted(Path(r.path).name for r in records)  # one file per row: nothing overwritten
        assert len(records) == len(masks)


@pytest.mark.parametrize("existing", [False, True], ids=["project-created-by-both", "existing-project"])
def test_two_imports_of_same_named_files_at_once(tmp_path, existing):
    root = tmp_path / "proj"
    if existing:
        ProjectStore.create(root, TABLE).close()
    masks = {}
    procs = []
    for seed in (1, 2):
        src = tmp_path / f"src{seed}"
        masks |= _same_named_dataset(src, seed)
        procs.append(_spawn(CLI, "project", "import", root, src, "--from", "folder"))
    for err in _run_together(procs):
        assert "Error" not in err
    _check_every_row_shows_its_own_files(root, masks)


# -- an import killed half-way, then run again ------------------------------------------------------------
KILLED_IMPORT = """
    import importlib, os, signal, sys
    from segcore.cli import main

    module_name, attr = sys.argv[1].rsplit(".", 1)
    module, countdown = importlib.import_module(module_name), [int(sys.argv[2])]
    real = getattr(module, attr)

    def dies_on_the_nth_call(*args, **kwargs):
        real(*args, **kwargs)  # the file lands ...
        countdown[0] -= 1
        if countdown[0] == 0:
            os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies before its row commits

    setattr(module, attr, dies_on_the_nth_call)
    print("ready", flush=True)
    sys.stdin.readline()
    sys.exit(main(sys.argv[3:]))
"""


# Each sample lands two files (image, then mask): the 5th rename is the third image, the 3rd mask the third mask.
@pytest.mark.parametrize("victim, nth", [("os.replace", 5), ("segcore.project.store.write_palette_png", 3)],
                         ids=["killed-after-image-file", "killed-after-mask-file"])
def test_an_import_killed_half_way_resumes_without_duplicates(tmp_path, capsys, victim, nth):
    root, src = tmp_path / "proj", tmp_path / "src"
    masks = _same_named_dataset(src, seed=3, count=6)
    ProjectStore.create(root, TABLE).close()
    args = ["project", "import", str(root), str(src), "--from", "folder"]
    proc = _spawn(KILLED_IMPORT, victim, nth, *args)
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert (root / "images" / "f02.png").is_file()  # the killed import left its file behind

    assert main(args) == 0
    with ProjectStore.open(root) as store:
        assert sorted(r.name for r in store.images()) == [f"f{i:02d}" for i in range(6)]  # no f02_1
        assert all(store.has_mask(r.id) for r in store.images())  # no half-imported row
    _check_every_row_shows_its_own_files(root, masks)
    out = capsys.readouterr().out
    assert "imported 4 of 6 images" in out  # f02, the one killed half-way, is imported now
    assert "not added again: f00, f01" in out  # the report names what it skipped


# -- an older project opened by several processes at once ------------------------------------------------
OPENER = """
    import sys
    from segcore.project.store import ProjectStore
    print("ready", flush=True)
    sys.stdin.readline()
    ProjectStore.open(sys.argv[1]).close()
"""


def test_several_processes_upgrading_one_older_project_at_once(tmp_path):
    for attempt in range(3):
        root = tmp_path / f"old{attempt}"
        root.mkdir()
        conn = sqlite3.connect(root / "project.segdesk", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")  # as every segdesk project is
        schema.migrate(conn, target=1)  # a project of the first segdesk: every later step is still to come
        conn.execute("INSERT INTO meta VALUES ('name', 'old'), ('class_table', ?)", (json.dumps(TABLE.to_dict()),))
        conn.close()
        _run_together([_spawn(OPENER, root) for _ in range(3)])
        with ProjectStore.open(root) as store:
            assert store.class_table() == TABLE
