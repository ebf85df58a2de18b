"""The project store: one SQLite file (WAL, migrations, a transaction per write) plus files beside it.

Layout of a project folder:
    project.segdesk     the SQLite database (class table, images, annotations, revisions, runs)
    images/             imported image files (copied unless already inside the project)
    masks/<id>/<rev>.png  label masks as palette PNGs, one file per revision, written atomically

A mask file is written (temp + rename) before the row that names it is committed, so a process
killed at any moment leaves the last committed state intact; at worst an unreferenced file.

Several processes may open one project: every write is a `BEGIN IMMEDIATE` transaction, which
SQLite serialises across processes, and whatever a write reads to decide (the next revision
number, the edit journal, a free image name) is read inside that same transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from segcore.data.boxes import Box
from segcore.data.classes import ClassTable
from segcore.data.masks import check_index_mask, read_index_mask, write_palette_png
from segcore.errors import (
    DiskFullError,
    DuplicateImageError,
    ImageReadError,
    MaskError,
    ProjectError,
    ProjectReadOnlyError,
    SegcoreError,
)
from segcore.io.atomic import atomic_path, disk_full_guard, remove_stale_temporaries
from segcore.io.images import decode_image, encode_image, image_info, read_image, write_image
from segcore.io.sequences import close_open_sequences
from segcore.project.database import (
    DB_NAME,
    check_intact,
    project_error,
    publish,
    sqlite_connect,
    use_wal,
    writable,
    write_new_database,
)
from segcore.project.names import candidate_names
from segcore.project.records import (
    Annotation,
    ImageRecord,
    ImageStatus,
    MaskRevision,
)
from segcore.project.schema import check_current, migrate, schema_version
from segcore.project.store_predictions import PredictionStore
from segcore.project.store_runs import RunStore
from segcore.project.store_sequences import SequenceStore

log = logging.getLogger(__name__)

IMAGES_DIR = "images"
MASKS_DIR = "masks"
ANNOTATION_KINDS = ("box", "polygon")

Place = Callable[[str, str], "str | None"]
"""Puts an image's file under a candidate name (given its content hash): its project path, or None if taken."""


class ProjectStore(PredictionStore, RunStore, SequenceStore):
    """A project on disk. Thread-safe: one connection guarded by a lock; every write is a transaction."""

    def __init__(self, root: Path, conn: sqlite3.Connection, *, read_only: bool = False):
        self.root = root
        self.read_only = read_only
        """Opened for viewing only: every write raises `ProjectReadOnlyError`."""
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0  # nesting of `transaction()`; only the thread holding the lock can be inside one
        self._new_files: list[Path] = []  # written for the open transaction: removed if it rolls back

    # -- opening -------------------------------------------------------------------------------
    @staticmethod
    def is_project(root: str | Path) -> bool:
        return (Path(root) / DB_NAME).is_file()

    @classmethod
    def create(cls, root: str | Path, class_table: ClassTable, *, name: str | None = None) -> ProjectStore:
        """Create a new project in `root` (made if missing); fails if a project is already there.

        The database is built under a temporary name and linked into place in one step, so a
        process opening the folder meanwhile sees no project or a complete one, and of two
        processes creating the same project one wins and the other is refused.
        """
        root = Path(root)
        if cls.is_project(root):
            raise ProjectError(f"a project already exists in {root}")
        if root.exists() and not root.is_dir():
            raise ProjectError(f"{root} is a file, not a folder: a project needs a folder of its own")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file on the way to it, no permission
            raise ProjectError(f"cannot make the project folder {root}: {exc.strerror or exc}") from exc
        draft = root / f".{DB_NAME}.{os.getpid()}.{threading.get_ident()}.new"
        try:
            with disk_full_guard(root / DB_NAME):
                write_new_database(draft, class_table, name or root.name)
            publish(draft, root / DB_NAME)
        finally:
            draft.unlink(missing_ok=True)
        return cls.open(root)

    @classmethod
    def open_or_create(cls, root: str | Path, class_table: ClassTable) -> ProjectStore:
        """Open the project in `root`, or create it with `class_table`; two processes may do this at once."""
        if not cls.is_project(root):
            try:
                return cls.create(root, class_table)
            except ProjectError:
                if not cls.is_project(root):
                    raise  # not another process's project: a real failure
        return cls.open(root)

    @classmethod
    def open(cls, root: str | Path, *, read_only: bool = False) -> ProjectStore:
        """Open an existing project, checked for damage and migrated if it is older than this code.

        Read-only (no write is allowed) when asked, or when the folder or the database cannot be
        written (a read-only share, a finished project handed over): then it is not migrated.
        """
        root = Path(root)
        if not cls.is_project(root):
            raise ProjectError(f"{root} is not a segdesk project (no {DB_NAME} in it)")
        if not read_only and not writable(root):
            log.info("project %s is not writable: opening it read-only", root)
            read_only = True
        try:
            store = cls._connect(root, read_only)
        except DiskFullError:
            if read_only:
                raise
            # Opening to write needs a few pages (the journal, the shared memory); reading needs none.
            log.warning("the disk holding project %s is full: opening it read-only", root)
            store = cls._connect(root, True)
            read_only = True
        if not read_only:
            removed = remove_stale_temporaries(root)  # a killed import or save leaves its half-written file
            if removed:
                log.info("removed %d half-written file(s) that killed writes left in %s", removed, root)
        return store

    @classmethod
    def _connect(cls, root: Path, read_only: bool) -> ProjectStore:
        db = root / DB_NAME
        conn = None
        try:
            conn = sqlite_connect(db, read_only)
            check_intact(conn, root)  # before anything is written into it, migrations included
            if schema_version(conn) == 0:
                raise ProjectError(f"{db} is an empty database, not a segdesk project")
            if read_only:
                check_current(conn, f"project {root}")
            else:
                use_wal(conn, root)
                # NORMAL in WAL mode survives any process crash; only an OS crash may drop the last commits.
                conn.execute("PRAGMA synchronous=NORMAL")
                migrate(conn)
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise project_error(exc, root) or ProjectError(f"cannot open project database {db}: {exc}") from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return cls(root, conn, read_only=read_only)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        close_open_sequences()  # the frames read from its sequences leave no file open behind it

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, serialised with every other writer, in this process or another.

        Re-entrant: a transaction opened inside another is a savepoint of it, so several writes
        (an imported sample's image, boxes and mask) commit together or not at all. Files
        registered with `_new_file` are removed again if it rolls back.
        """
        with self._lock, self._sqlite_errors():
            if self.read_only:
                raise ProjectReadOnlyError(self.root)
            outer = self._depth == 0
            self._conn.execute("BEGIN IMMEDIATE" if outer else "SAVEPOINT nested")
            first_file = len(self._new_files)
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                self._roll_back(outer, first_file)
                raise
            self._depth -= 1
            try:
                self._conn.execute("COMMIT" if outer else "RELEASE nested")
            except BaseException:
                self._roll_back(outer, first_file)
                raise
            if outer:
                self._new_files.clear()

    def _roll_back(self, outer: bool, first_file: int) -> None:
        """Undo the transaction (or savepoint) and remove the files written for it."""
        # SQLite rolls back by itself after some errors (a full disk), releasing the write lock.
        still_ours = self._conn.in_transaction
        if still_ours:
            # Before ROLLBACK releases the write lock: after it, another writer may claim these very paths.
            for path in self._new_files[first_file:]:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
        del self._new_files[first_file:]
        if not still_ours:
            return
        try:
            self._conn.execute("ROLLBACK" if outer else "ROLLBACK TO nested")
            if not outer:
                self._conn.execute("RELEASE nested")
        except sqlite3.Error as exc:
            log.warning("rolling back a write to project %s failed: %s", self.root, exc)

    def _new_file(self, path: Path) -> Path:
        """Register a file written for the open transaction (removed if it rolls back); returns `path`."""
        self._new_files.append(path)
        return path

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Several reads that see one committed state, though other processes may commit in between."""
        with self._lock, self._sqlite_errors():
            if self._conn.in_transaction:  # inside a write transaction: already one state
                yield
                return
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        """SQLite failures the user can act on (full disk, damage, read-only, busy) become typed errors."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            error = project_error(exc, self.root)
            if error is None:
                raise
            raise error from exc

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock, self._sqlite_errors():
            return self._conn.execute(sql, params).fetchall()

    # -- project metadata ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._query("SELECT value FROM meta WHERE key = 'name'")[0]["value"]

    def class_table(self) -> ClassTable:
        return ClassTable.from_dict(json.loads(self._query("SELECT value FROM meta WHERE key = 'class_table'")[0]["value"]))

    def set_class_table(self, table: ClassTable) -> None:
        """Replace the class table; refused if a stored mask uses an index the new table lacks."""
        with self.transaction() as conn:
            self._check_table_covers_masks(table)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'class_table'", (json.dumps(table.to_dict()),))

    def _check_table_covers_masks(self, table: ClassTable) -> None:
        old = self.class_table()
        if table.num_classes >= old.num_classes:
            return
        for record in self.images():
            mask = self.load_mask(record.id)
            if mask is not None and (mask[mask != table.ignore_index] >= table.num_classes).any():
                raise ProjectError(
                    f"image {record.name} is labelled with classes beyond the new table's {table.num_classes}; "
                    "relabel it first"
                )

    # -- images ------------------------------------------------------------------------------------
    def add_image(
        self, source: str | Path, *, copy: bool = True, split: str | None = None, name: str | None = None
    ) -> ImageRecord:
        """Add an image file: decoded once to validate it and record its size; copied into images/.

        Named after the file (or `name`), with _1, _2... when taken. Refused with
        `DuplicateImageError` when an image with the same pixels is already here.
        """
        try:
            source = Path(source).resolve()
        except (RuntimeError, OSError) as exc:  # Python 3.11's resolve() raises RuntimeError on a link loop
            raise ImageReadError(source, "a symbolic link that loops back on itself") from exc
        array = read_image(source)  # raises ImageReadError naming the file: nothing is added
        if copy and not _is_relative_to(source, self.root.resolve()):
            def write(target: Path) -> None:
                with atomic_path(target) as tmp:
                    shutil.copyfile(source, tmp)

            place = self._file_placer(source.suffix.lower(), write)
        else:
            rel = Path(os.path.relpath(source, self.root.resolve())).as_posix()

            def place(_name: str, _digest: str) -> str | None:
                return rel
        return self._insert_image(name or source.stem, place, array, split, str(source))

    def add_image_array(self, name: str, image: np.ndarray, *, split: str | None = None) -> ImageRecord:
        """Add an in-memory image, written losslessly as images/<name>.png (8 or 16 bit)."""
        return self._insert_image(name, self._file_placer(".png", lambda target: write_image(target, image)),
                                  image, split, name)

    def _file_placer(self, suffix: str, write: Callable[[Path], None]) -> Place:
        """A `Place` that writes the image as images/<name><suffix> unless another image's file is there."""
        def place(name: str, digest: str) -> str | None:
            target = self.root / IMAGES_DIR / f"{name}{suffix}"
            rel = target.relative_to(self.root).as_posix()
            if not target.exists():
                write(self._new_file(target))
                return rel
            # Called inside the write transaction, so "no row names this file" cannot change meanwhile.
            if self._query("SELECT 1 FROM images WHERE path = ?", (rel,)) or _pixels_hash(target) != digest:
                return None  # another image's file, or a stranger's: never overwritten
            log.info("reusing %s, left with these very pixels by an import stopped before its row was written", rel)
            self._new_file(target)
            return rel

        return place

    def _insert_image(self, stem: str, place: Place, array: np.ndarray, split: str | None, source: str) -> ImageRecord:
        """Claim a free name, write the file (`place`) and the row: one write transaction.

        SQLite serialises it across processes: two imports of same-named files never share a name
        or a file, and the duplicate check sees every committed image. The file lands before the
        row commits; if the transaction rolls back, a file written for it goes again.
        """
        info = image_info(array)
        digest = content_hash(array)
        with self.transaction() as conn:
            self._fill_missing_hashes()
            duplicate = conn.execute("SELECT name FROM images WHERE content_hash = ?", (digest,)).fetchone()
            if duplicate is not None:
                raise DuplicateImageError(source, duplicate["name"])
            taken = {row["name"] for row in conn.execute("SELECT name FROM images")}
            name, rel = next((name, rel) for name in candidate_names(stem)
                             if name not in taken and (rel := place(name, digest)) is not None)
            cur = conn.execute(
                "INSERT INTO images(name, path, width, height, channels, bit_depth, split, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, rel, info.width, info.height, info.channels, info.bit_depth, split, digest),
            )
            return self.image(int(cur.lastrowid))

    def _fill_missing_hashes(self) -> None:
        """Hash the images of a project made before hashes were kept (once: they must count as duplicates too)."""
        missing = self._query("SELECT id, path FROM images WHERE content_hash IS NULL")
        if not missing:
            return
        log.info("computing the content hash of %d image(s) added by an older segdesk", len(missing))
        with self.transaction() as conn:
            for row in missing:
                digest = _pixels_hash(self.root / row["path"])
                if digest is None:  # a missing or broken file cannot be a duplicate of anything: "" never matches
                    log.warning("image %d has no readable file to hash (%s)", row["id"], row["path"])
                conn.execute("UPDATE images SET content_hash = ? WHERE id = ?", (digest or "", row["id"]))

    def images(self, status: ImageStatus | None = None) -> list[ImageRecord]:
        if status is None:
            rows = self._query("SELECT * FROM images ORDER BY id")
        else:
            rows = self._query("SELECT * FROM images WHERE status = ? ORDER BY id", (ImageStatus(status).value,))
        return [_image_record(r) for r in rows]

    def image(self, image_id: int) -> ImageRecord:
        rows = self._query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise ProjectError(f"no image with id {image_id} in project {self.root}")
        return _image_record(rows[0])

    def image_by_name(self, name: str) -> ImageRecord:
        rows = self._query("SELECT * FROM images WHERE name = ?", (name,))
        if not rows:
            raise ProjectError(f"no image named {name!r} in project {self.root}")
        return _image_record(rows[0])

    def image_path(self, image_id: int) -> Path:
        """The file holding the image: its own, or its sequence's for a frame (`ImageRecord.file`)."""
        return (self.root / self.image(image_id).file).resolve()

    def read_image(self, image_id: int) -> np.ndarray:
        """The image's pixels, as the project recorded them: upright (EXIF), unless it was added before
        segdesk applied EXIF orientation; then as stored, so its masks still fit. A frame from its sequence."""
        record = self.image(image_id)
        if record.frame is not None:
            return self._read_frame(record)
        image = read_image(self.root / record.path)
        if image.shape[:2] == (record.width, record.height) != (record.height, record.width):
            return read_image(self.root / record.path, upright=False)
        return image

    def set_status(self, image_id: int, status: ImageStatus) -> None:
        with self.transaction() as conn:
            cur = conn.execute("UPDATE images SET status = ? WHERE id = ?", (ImageStatus(status).value, image_id))
            if cur.rowcount != 1:
                raise ProjectError(f"no image with id {image_id} in project {self.root}")

    def set_split(self, image_id: int, split: str | None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE images SET split = ? WHERE id = ?", (split, image_id))

    # -- vector annotations ----------------------------------------------------------------------
    def add_box(self, image_id: int, box: Box) -> int:
        """Store a box label (its `label` is the class index); returns the annotation id."""
        return self.add_annotation(image_id, "box", box.label, {"x": box.x, "y": box.y, "w": box.w, "h": box.h})

    def add_annotation(self, image_id: int, kind: str, class_index: int, geometry: dict) -> int:
        if kind not in ANNOTATION_KINDS:
            raise ProjectError(f"unknown annotation kind {kind!r}; expected one of {', '.join(ANNOTATION_KINDS)}")
        self._check_class(class_index)
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO annotations(image_id, kind, class_index, geometry) VALUES (?, ?, ?, ?)",
                (self.image(image_id).id, kind, int(class_index), json.dumps(geometry)),
            )
            return int(cur.lastrowid)

    def annotations(self, image_id: int, kind: str | None = None) -> list[Annotation]:
        sql, params = "SELECT * FROM annotations WHERE image_id = ?", (image_id,)
        if kind is not None:
            sql, params = sql + " AND kind = ?", (image_id, kind)
        rows = self._query(sql + " ORDER BY id", params)
        return [Annotation(r["id"], r["image_id"], r["kind"], r["class_index"], json.loads(r["geometry"])) for r in rows]

    def boxes(self, image_id: int) -> list[Box]:
        return [
            Box(a.geometry["x"], a.geometry["y"], a.geometry["w"], a.geometry["h"], a.class_index)
            for a in self.annotations(image_id, "box")
        ]

    def delete_annotation(self, annotation_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM annotations WHERE id = ?", (annotation_id,))

    def _check_class(self, class_index: int) -> None:
        table = self.class_table()
        if not (0 <= class_index < table.num_classes or class_index == table.ignore_index):
            raise ProjectError(f"class index {class_index} is not in the project's class table (0..{table.num_classes - 1})")

    # -- label masks -----------------------------------------------------------------------------
    def save_mask(
        self,
        image_id: int,
        mask: np.ndarray,
        *,
        source: str = "edit",
        status: ImageStatus = ImageStatus.LABELLED,
    ) -> int:
        """Store a new revision of an image's label mask; returns its revision number."""
        record = self.image(image_id)
        if mask.shape[:2] != (record.height, record.width):
            raise MaskError(
                f"mask size {mask.shape[1]}x{mask.shape[0]} differs from image {record.name} "
                f"({record.width}x{record.height})"
            )
        return self._write_revision(image_id, mask, source, status)

    def _write_revision(self, image_id: int, mask: np.ndarray, source: str, status: ImageStatus) -> int:
        table = self.class_table()
        with self.transaction() as conn:
            revision = self._insert_revision(conn, image_id, mask, source, table)
            # A full revision supersedes the journal: a saved mask must not be overwritten by older edits.
            conn.execute("DELETE FROM mask_patches WHERE image_id = ?", (image_id,))
            conn.execute("UPDATE images SET status = ? WHERE id = ?", (ImageStatus(status).value, image_id))
        return revision

    def _insert_revision(
        self, conn: sqlite3.Connection, image_id: int, mask: np.ndarray, source: str, table: ClassTable
    ) -> int:
        """Write the next revision's file and row (inside the caller's transaction, which fixes the number)."""
        row = conn.execute("SELECT MAX(revision) FROM mask_revisions WHERE image_id = ?", (image_id,)).fetchone()
        revision = (row[0] or 0) + 1
        rel = f"{MASKS_DIR}/{image_id}/{revision:06d}.png"
        # File first, row second: a crash in between leaves an unreferenced file, never a dangling row.
        write_palette_png(self._new_file(self.root / rel), mask, table)
        conn.execute(
            "INSERT INTO mask_revisions(image_id, revision, file, source) VALUES (?, ?, ?, ?)",
            (image_id, revision, rel, source),
        )
        return revision

    def has_mask(self, image_id: int) -> bool:
        """True when the image has a label mask (a revision or edits in the journal)."""
        return bool(self.mask_revisions(image_id)) or self.pending_patches(image_id) > 0

    def mask_revisions(self, image_id: int) -> list[MaskRevision]:
        rows = self._query("SELECT * FROM mask_revisions WHERE image_id = ? ORDER BY revision", (image_id,))
        return [MaskRevision(r["image_id"], r["revision"], r["file"], r["source"], r["created_at"]) for r in rows]

    def load_mask(self, image_id: int, revision: int | None = None) -> np.ndarray | None:
        """The image's label mask, or None if it was never labelled.

        By default the latest revision with the edit journal applied on top (an image edited
        but never compacted starts from class 0); `revision` reads that revision alone.
        """
        if revision is not None:
            return self._read_revision(image_id, revision)
        with self._snapshot():  # revision and journal as one state, though another process compacts
            return self._mask_with_journal(image_id)[0]

    def _mask_with_journal(self, image_id: int) -> tuple[np.ndarray | None, int | None]:
        """The latest revision with the journal applied, and the id of the last patch applied (None: none)."""
        rows = self._query(
            "SELECT revision FROM mask_revisions WHERE image_id = ? ORDER BY revision DESC LIMIT 1", (image_id,)
        )
        mask = self._read_revision(image_id, rows[0]["revision"]) if rows else None
        patches = self._query("SELECT id, x, y, data FROM mask_patches WHERE image_id = ? ORDER BY id", (image_id,))
        if patches and mask is None:
            record = self.image(image_id)
            mask = np.zeros((record.height, record.width), np.uint8)
        for row in patches:
            patch = decode_image(row["data"], f"edit journal of image {image_id}")
            mask[row["y"] : row["y"] + patch.shape[0], row["x"] : row["x"] + patch.shape[1]] = patch
        return mask, (patches[-1]["id"] if patches else None)

    def _read_revision(self, image_id: int, revision: int) -> np.ndarray:
        rows = self._query("SELECT file FROM mask_revisions WHERE image_id = ? AND revision = ?", (image_id, revision))
        if not rows:
            raise ProjectError(f"image {image_id} has no mask revision {revision}")
        try:
            return read_index_mask(self.root / rows[0]["file"])
        except SegcoreError as exc:
            raise ProjectError(f"the stored mask of image {image_id} cannot be read: {exc}") from exc

    # -- edit journal ---------------------------------------------------------------------------------
    def save_mask_patch(
        self, image_id: int, x: int, y: int, patch: np.ndarray, *, status: ImageStatus = ImageStatus.LABELLED
    ) -> int:
        """Record one edit: the mask's pixels [y:y+h, x:x+w] are now `patch`. Durable on return.

        The GUI's autosave: a small PNG in one transaction per edit (milliseconds even on a
        3072x3072 mask), folded into a full revision later by `compact_mask`.
        """
        record = self.image(image_id)
        patch = np.asarray(patch)
        height, width = patch.shape[:2] if patch.ndim == 2 else (0, 0)
        if patch.ndim != 2 or patch.dtype != np.uint8 or not height or not width:
            raise MaskError(f"a mask patch must be a non-empty 2-D uint8 array, got {patch.dtype} {patch.shape}")
        if x < 0 or y < 0 or x + width > record.width or y + height > record.height:
            raise MaskError(
                f"patch {width}x{height} at ({x}, {y}) lies outside image {record.name} ({record.width}x{record.height})"
            )
        check_index_mask(patch, self.class_table(), f"patch of {record.name}")
        data = encode_image(patch, ".png")
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO mask_patches(image_id, x, y, data) VALUES (?, ?, ?, ?)", (image_id, int(x), int(y), data)
            )
            conn.execute("UPDATE images SET status = ? WHERE id = ?", (ImageStatus(status).value, image_id))
            return int(cur.lastrowid)

    def pending_patches(self, image_id: int) -> int:
        """How many journal entries of this image are not yet folded into a revision."""
        return int(self._query("SELECT COUNT(*) FROM mask_patches WHERE image_id = ?", (image_id,))[0][0])

    def compact_mask(self, image_id: int) -> int | None:
        """Fold the image's edit journal into a new mask revision; returns it, or None if the journal was empty.

        Reading the journal, writing the revision and deleting the patches folded are one write
        transaction: another process journalling or compacting the same image waits, so no
        acknowledged edit is lost and no revision number is taken twice. A read-only project keeps
        its journal (`load_mask` applies it anyway): folding is housekeeping, not a change.
        """
        if self.read_only or not self.pending_patches(image_id):
            return None  # the usual case on an image switch: no write at all
        with self.transaction() as conn:
            mask, last = self._mask_with_journal(image_id)
            if last is None:
                return None  # another process folded it meanwhile
            revision = self._insert_revision(conn, image_id, mask, "edit", self.class_table())
            # No patch can be added inside this transaction, so `id <= last` is exactly the patches folded
            # (rowids may be reused after deletes, but only once no higher id is left).
            conn.execute("DELETE FROM mask_patches WHERE image_id = ? AND id <= ?", (image_id, last))
        return revision

    # -- class table changes ----------------------------------------------------------------------------
    def replace_class_table(self, table: ClassTable, remap: np.ndarray | None = None) -> None:
        """Replace the class table; `remap` (256 entries, old index -> new) rewrites every stored mask.

        New revision files are written first and committed with the new table in one transaction:
        a crash leaves either the old classes with the old masks or the new with the new.
        """
        if remap is None:
            self.set_class_table(table)
            return
        remap = np.asarray(remap, dtype=np.uint8)
        if remap.shape != (256,):
            raise ValueError(f"remap must be a 256-entry lookup table, got shape {remap.shape}")
        with self.transaction() as conn:  # masks read inside it: no edit of another process slips past the remap
            for record in self.images():
                mask = self.load_mask(record.id)
                if mask is not None:
                    self._insert_revision(conn, record.id, remap[mask], "classes changed", table)
            conn.execute("DELETE FROM mask_patches")
            conn.execute("UPDATE meta SET value = ? WHERE key = 'class_table'", (json.dumps(table.to_dict()),))

    # -- health --------------------------------------------------------------------------------------
    def integrity_check(self) -> list[str]:
        """Problems found: SQLite's own check plus mask rows whose files are missing (empty = healthy)."""
        problems = [r[0] for r in self._query("PRAGMA integrity_check") if r[0] != "ok"]
        for r in self._query("SELECT image_id, revision, file FROM mask_revisions"):
            if not (self.root / r["file"]).is_file():
                problems.append(f"mask file missing: {r['file']} (image {r['image_id']}, revision {r['revision']})")
        return problems


def _image_record(row: sqlite3.Row) -> ImageRecord:
    return ImageRecord(
        id=row["id"], name=row["name"], path=row["path"], width=row["width"], height=row["height"],
        channels=row["channels"], bit_depth=row["bit_depth"], status=ImageStatus(row["status"]), split=row["split"],
        sequence_id=row["sequence_id"], frame=row["frame"],
    )


def content_hash(image: np.ndarray) -> str:
    """SHA-256 of an image's pixels, size and type: the same picture in another file or format hashes the same."""
    digest = hashlib.sha256(f"{image.shape}{image.dtype.str}".encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


def _pixels_hash(path: Path) -> str | None:
    """The content hash of an image file, or None when it cannot be read."""
    try:
        return content_hash(read_image(path))
    except SegcoreError:
        return None


def _is_relative_to(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True
