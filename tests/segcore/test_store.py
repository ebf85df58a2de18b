"""The SQLite project store on real files: CRUD, revisions, migrations, corruption, concurrency."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from segcore.data.boxes import Box
from segcore.data.classes import ClassTable
from segcore.data.masks import write_palette_png
from segcore.errors import DuplicateImageError, ImageReadError, MaskError, ProjectError
from segcore.io.images import write_image
from segcore.project import schema
from segcore.project.review import prediction_origins
from segcore.project.store import DB_NAME, ImageStatus, ProjectStore

TABLE = ClassTable.from_names(["background", "sample", "dust"])


@pytest.fixture()
def store(tmp_path):
    with ProjectStore.create(tmp_path / "proj", TABLE, name="Test project") as s:
        yield s


def _gray16(h=40, w=60, seed=0):
    return np.random.default_rng(seed).integers(0, 65535, (h, w), dtype=np.uint16)


def test_create_and_reopen_keeps_everything(tmp_path):
    root = tmp_path / "proj"
    src = tmp_path / "src" / "frame_01.tif"
    write_image(src, _gray16())
    with ProjectStore.create(root, TABLE, name="Fringes") as s:
        rec = s.add_image(src, split="train")
        ann = s.add_box(rec.id, Box(3, 4, 10, 12, label=1))
        mask = np.zeros((40, 60), np.uint8)
        mask[4:16, 3:13] = 1
        rev = s.save_mask(rec.id, mask, source="boxes")
    with ProjectStore.open(root) as s:
        assert s.name == "Fringes"
        assert s.class_table() == TABLE
        [img] = s.images()
        assert (img.name, img.width, img.height, img.channels, img.bit_depth) == ("frame_01", 60, 40, 1, 16)
        assert img.status is ImageStatus.LABELLED and img.split == "train"
        assert img.path == "images/frame_01.tif"
        np.testing.assert_array_equal(s.read_image(img.id), _gray16())
        assert s.boxes(img.id) == [Box(3, 4, 10, 12, 1)]
        assert [a.id for a in s.annotations(img.id)] == [ann]
        np.testing.assert_array_equal(s.load_mask(img.id), mask)
        assert [r.revision for r in s.mask_revisions(img.id)] == [rev] == [1]
        assert s.integrity_check() == []


def test_mask_revisions_are_kept_and_latest_wins(store):
    rec = store.add_image_array("a", np.zeros((8, 8), np.uint8))
    first = np.zeros((8, 8), np.uint8)
    second = first.copy()
    second[2:5, 2:5] = 2
    assert store.save_mask(rec.id, first) == 1
    assert store.save_mask(rec.id, second, source="brush") == 2
    np.testing.assert_array_equal(store.load_mask(rec.id), second)
    np.testing.assert_array_equal(store.load_mask(rec.id, revision=1), first)
    assert [r.source for r in store.mask_revisions(rec.id)] == ["edit", "brush"]


def test_unlabelled_image_has_no_mask_and_status_changes(store):
    rec = store.add_image_array("u", np.zeros((5, 7, 3), np.uint8))
    assert store.load_mask(rec.id) is None
    assert store.images(ImageStatus.UNLABELLED) == [store.image(rec.id)]
    store.set_status(rec.id, ImageStatus.REVIEWED)
    assert store.image(rec.id).status is ImageStatus.REVIEWED
    assert store.images(ImageStatus.UNLABELLED) == []


def test_bad_writes_are_refused_and_change_nothing(store, tmp_path):
    rec = store.add_image_array("a", np.zeros((8, 8), np.uint8))
    with pytest.raises(MaskError, match="differs"):
        store.save_mask(rec.id, np.zeros((8, 9), np.uint8))
    bad = np.zeros((8, 8), np.uint8)
    bad[0, 0] = 7  # not a class of a 3-class table, not the ignore index
    with pytest.raises(MaskError, match=r"\[7\]"):
        store.save_mask(rec.id, bad)
    with pytest.raises(ProjectError, match="class index 9"):
        store.add_box(rec.id, Box(0, 0, 2, 2, label=9))
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(ImageReadError, match="broken.png"):
        store.add_image(corrupt)
    assert store.mask_revisions(rec.id) == [] and store.annotations(rec.id) == []
    assert [i.name for i in store.images()] == ["a"]
    assert store.integrity_check() == []


def test_duplicate_names_are_made_unique(store, tmp_path):
    for value, sub in enumerate(("x", "y")):
        write_image(tmp_path / sub / "img.png", np.full((4, 4), value, np.uint8))
    a = store.add_image(tmp_path / "x" / "img.png")
    b = store.add_image(tmp_path / "y" / "img.png")
    assert (a.name, b.name) == ("img", "img_1")
    assert (store.root / b.path).is_file()


def test_the_same_pixels_are_refused_whatever_the_file(store, tmp_path):
    pixels = np.arange(48, dtype=np.uint8).reshape(6, 8)
    write_image(tmp_path / "a.png", pixels)
    write_image(tmp_path / "copy of a.tif", pixels)  # another name, another format, the same picture
    first = store.add_image(tmp_path / "a.png")
    files = sorted((store.root / "images").iterdir())
    with pytest.raises(DuplicateImageError, match="already in the project as 'a'") as refused:
        store.add_image(tmp_path / "copy of a.tif")
    assert refused.value.existing == "a"
    with pytest.raises(DuplicateImageError):
        store.add_image_array("again", pixels)
    assert [r.id for r in store.images()] == [first.id]
    assert sorted((store.root / "images").iterdir()) == files  # nothing copied for the refused ones
    store.add_image_array("other", pixels + 1)  # one pixel value off is another image
    assert len(store.images()) == 2


def test_a_file_already_in_images_is_never_overwritten(store, tmp_path):
    leftover = store.root / "images" / "img.png"  # e.g. what a killed import copied before its row
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"not ours")
    write_image(tmp_path / "img.png", np.full((4, 4), 7, np.uint8))
    record = store.add_image(tmp_path / "img.png")
    assert record.path == "images/img_1.png" and record.name == "img_1"
    assert leftover.read_bytes() == b"not ours"


def test_image_inside_project_is_not_copied(store):
    inside = store.root / "raw" / "ünïcode frame.png"
    write_image(inside, np.full((6, 6), 9, np.uint8))
    rec = store.add_image(inside)
    assert rec.path == "raw/ünïcode frame.png"
    assert not (store.root / "images").exists()


def test_set_class_table_refuses_to_drop_used_classes(store):
    rec = store.add_image_array("a", np.zeros((4, 4), np.uint8))
    mask = np.zeros((4, 4), np.uint8)
    mask[0, 0] = 2
    store.save_mask(rec.id, mask)
    with pytest.raises(ProjectError, match="beyond"):
        store.set_class_table(ClassTable.from_names(["background", "sample"]))
    renamed = ClassTable.from_names(["bg", "specimen", "dust", "scratch"])
    store.set_class_table(renamed)
    assert store.class_table() == renamed


def test_runs_and_metrics(store):
    run = store.add_run("unet-1", {"model": "unet", "lr": 1e-3})
    store.log_metrics(run, 1, {"loss": 0.9, "miou": 0.4})
    store.log_metrics(run, 2, {"loss": 0.5, "miou": 0.6})
    store.finish_run(run, "finished", best_score=0.6)
    [rec] = store.runs()
    assert rec.config == {"model": "unet", "lr": 1e-3} and rec.status == "finished" and rec.best_score == 0.6
    assert rec.finished_at is not None
    assert store.run_metrics(run) == {1: {"loss": 0.9, "miou": 0.4}, 2: {"loss": 0.5, "miou": 0.6}}


def test_wal_mode_and_schema_version(store):
    conn = sqlite3.connect(store.root / DB_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()


def _old_project(root, version: int, *statements: str):
    """A project written at schema `version`: its class table, one 4x4 image 'f' (id 1), then `statements`."""
    root.mkdir()
    conn = sqlite3.connect(root / DB_NAME, isolation_level=None)
    schema.migrate(conn, target=version)
    conn.execute("INSERT INTO meta VALUES ('name', 'old'), ('class_table', ?)", (__import__("json").dumps(TABLE.to_dict()),))
    conn.execute(
        "INSERT INTO images(name, path, width, height, channels, bit_depth) VALUES ('f', 'images/f.png', 4, 4, 1, 8)"
    )
    for statement in statements:
        conn.execute(statement)
    conn.close()
    write_image(root / "images" / "f.png", np.full((4, 4), 5, np.uint8))
    return root


def test_old_schema_is_migrated_with_data_intact(tmp_path):
    root = _old_project(tmp_path / "old", 1)  # a project written by the first release
    with ProjectStore.open(root) as s:
        assert [i.name for i in s.images()] == ["f"]
        assert s.runs() == []  # the v2 tables exist now
        run = s.add_run("r", {})
        assert s.runs()[0].id == run
        # Images from before content hashes are hashed when needed: the same picture is still refused.
        with pytest.raises(DuplicateImageError):
            s.add_image_array("f again", np.full((4, 4), 5, np.uint8))


def test_a_prediction_records_how_it_was_made_and_older_ones_say_nothing(tmp_path):
    root = _old_project(  # a prediction made before its method was recorded
        tmp_path / "v6", 6,
        "INSERT INTO predictions(image_id, labels_file, checkpoint, run_id) VALUES (1, 'predictions/1.png', 'a.pt', NULL)")
    write_palette_png(root / "predictions" / "1.png", np.ones((4, 4), np.uint8), TABLE)
    with ProjectStore.open(root) as s:
        assert s.load_prediction(1).method is None and s.prediction_records()[1].method is None
        assert prediction_origins(s)[1].describe().startswith("checkpoint · a.pt · ")  # nothing claimed
        second = s.add_image_array("g", np.full((4, 4), 9, np.uint8)).id
        s.save_prediction(second, np.zeros((4, 4), np.uint8), checkpoint="b.pt", method=("flips", "one region"))
        s.save_prediction(1, np.zeros((4, 4), np.uint8), checkpoint="b.pt")
        assert s.load_prediction(second).method == ("flips", "one region")
        assert s.prediction_records()[1].method == ()  # predicted again, plainly: recorded as plain
        assert "b.pt · flips, one region · " in prediction_origins(s)[second].describe()


def test_newer_schema_is_refused(tmp_path):
    root = tmp_path / "future"
    ProjectStore.create(root, TABLE).close()
    conn = sqlite3.connect(root / DB_NAME)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(ProjectError, match="newer"):
        ProjectStore.open(root)


def test_not_a_project_and_existing_project_errors(tmp_path):
    with pytest.raises(ProjectError, match="not a segdesk project"):
        ProjectStore.open(tmp_path)
    ProjectStore.create(tmp_path / "p", TABLE).close()
    with pytest.raises(ProjectError, match="already exists"):
        ProjectStore.create(tmp_path / "p", TABLE)
    garbage = tmp_path / "g"
    garbage.mkdir()
    (garbage / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(ProjectError, match=r"project database .*project.segdesk is damaged \(file is not a database\)"):
        ProjectStore.open(garbage)


def test_writes_from_several_threads(store):
    recs = [store.add_image_array(f"t{i}", np.full((16, 16), i, np.uint8)) for i in range(4)]
    errors: list[BaseException] = []

    def worker(image_id: int) -> None:
        try:
            for k in range(5):
                m = np.zeros((16, 16), np.uint8)
                m[: k + 1] = 1
                store.save_mask(image_id, m)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(r.id,)) for r in recs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for r in recs:
        assert [m.revision for m in store.mask_revisions(r.id)] == [1, 2, 3, 4, 5]
        assert store.load_mask(r.id)[:5].all() and not store.load_mask(r.id)[5:].any()
