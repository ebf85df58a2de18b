"""The project store: one SQLite file (WAL, migrations, a transaction per write) plus files beside it.

Layout of a project folder:
    project.segdesk     the SQLite database (class table, images, annotations, revisions, runs)
    images/             imported image files (copied unless already inside the project)
    masks/<id>/<rev>.png  label masks as palette PNGs, one file per revision, written atomically

A mask file is written (temp + rename) before the row that names it is committed, so a process
killed at any moment leaves the last committed state intact; at worst an unreferenced file.
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
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from segcore.data.boxes import Box
from segcore.data.classes import ClassTable
from segcore.data.masks import check_index_mask, read_index_mask, write_palette_png
from segcore.errors import DuplicateImageError, MaskError, ProjectError, SegcoreError
from segcore.io.atomic import atomic_path
from segcore.io.images import decode_image, encode_image, image_info, read_image, write_image
from segcore.project.schema import migrate

log = logging.getLogger(__name__)

DB_NAME = "project.segdesk"
IMAGES_DIR = "images"
MASKS_DIR = "masks"
PREDICTIONS_DIR = "predictions"
ANNOTATION_KINDS = ("box", "polygon")


class ImageStatus(str, Enum):
    UNLABELLED = "unlabelled"
    LABELLED = "labelled"
    PREDICTED = "predicted"
    REVIEWED = "reviewed"


@dataclass(frozen=True)
class ImageRecord:
    id: int
    name: str
    path: str
    """Relative to the project root, with forward slashes."""
    width: int
    height: int
    channels: int
    bit_depth: int
    status: ImageStatus
    split: str | None


@dataclass(frozen=True)
class Annotation:
    id: int
    image_id: int
    kind: str
    class_index: int
    geometry: dict


@dataclass(frozen=True)
class MaskRevision:
    image_id: int
    revision: int
    file: str
    source: str
    created_at: str


@dataclass(frozen=True)
class StoredPrediction:
    image_id: int
    labels: np.ndarray
    """H x W uint8 class indices."""
    uncertainty: np.ndarray | None
    """H x W float32 in [0, 1] (0 = certain), or None."""
    score: float | None
    checkpoint: str
    run_id: int | None
    created_at: str


@dataclass(frozen=True)
class PredictionRecord:
    """Where an image's stored prediction came from (the row, without its pixel files)."""

    image_id: int
    score: float | None
    checkpoint: str
    run_id: int | None
    created_at: str


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    config: dict
    status: str
    checkpoint_dir: str | None
    best_score: float | None
    created_at: str
    finished_at: str | None


class ProjectStore:
    """A project on disk. Thread-safe: one connection guarded by a lock; every write is a transaction."""

    def __init__(self, root: Path, conn: sqlite3.Connection):
        self.root = root
        self._conn = conn
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------------
    @staticmethod
    def is_project(root: str | Path) -> bool:
        return (Path(root) / DB_NAME).is_file()

    @classmethod
    def create(cls, root: str | Path, class_table: ClassTable, *, name: str | None = None) -> ProjectStore:
        """Create a new project in `root` (made if missing); fails if a project is already there."""
        root = Path(root)
        if cls.is_project(root):
            raise ProjectError(f"a project already exists in {root}")
        root.mkdir(parents=True, exist_ok=True)
        store = cls._connect(root)
        with store._transaction() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES ('name', ?)", (name or root.name,))
            conn.execute("INSERT INTO meta(key, value) VALUES ('class_table', ?)", (json.dumps(class_table.to_dict()),))
        return store

    @classmethod
    def open(cls, root: str | Path) -> ProjectStore:
        """Open an existing project, migrating its schema if it is older than this code."""
        root = Path(root)
        if not cls.is_project(root):
            raise ProjectError(f"{root} is not a segdesk project (no {DB_NAME} in it)")
        return cls._connect(root)

    @classmethod
    def _connect(cls, root: Path) -> ProjectStore:
        try:
            conn = sqlite3.connect(root / DB_NAME, isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                log.warning("project %s: WAL journal not available (%s); using it anyway", root, mode)
            # NORMAL in WAL mode survives any process crash; only an OS crash may drop the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"cannot open project database {root / DB_NAME}: {exc}") from exc
        return cls(root, conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- project metadata ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._query("SELECT value FROM meta WHERE key = 'name'")[0]["value"]

    def class_table(self) -> ClassTable:
        return ClassTable.from_dict(json.loads(self._query("SELECT value FROM meta WHERE key = 'class_table'")[0]["value"]))

    def set_class_table(self, table: ClassTable) -> None:
        """Replace the class table; refused if a stored mask uses an index the new table lacks."""
        with self._transaction() as conn:
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
    def add_image(self, source: str | Path, *, copy: bool = True, split: str | None = None) -> ImageRecord:
        """Add an image file: decoded once to validate it and record its size; copied into images/.

        Refused with `DuplicateImageError` when an image with the same pixels is already here.
        """
        source = Path(source).resolve()
        array = read_image(source)  # raises ImageReadError naming the file: nothing is added
        if copy and not _is_relative_to(source, self.root.resolve()):
            def place(name: str) -> str | None:
                target = self.root / IMAGES_DIR / f"{name}{source.suffix.lower()}"
                if target.exists():
                    return None  # another image's file (or one a killed import left): never overwritten
                with atomic_path(target) as tmp:
                    shutil.copyfile(source, tmp)
                return target.relative_to(self.root).as_posix()
        else:
            rel = Path(os.path.relpath(source, self.root.resolve())).as_posix()

            def place(name: str) -> str | None:
                return rel
        return self._insert_image(source.stem, place, array, split, str(source))

    def add_image_array(self, name: str, image: np.ndarray, *, split: str | None = None) -> ImageRecord:
        """Add an in-memory image, written losslessly as images/<name>.png (8 or 16 bit)."""
        def place(unique: str) -> str | None:
            target = self.root / IMAGES_DIR / f"{unique}.png"
            if target.exists():
                return None
            write_image(target, image)
            return target.relative_to(self.root).as_posix()

        return self._insert_image(name, place, image, split, name)

    def _insert_image(self, stem: str, place: Callable[[str], str | None], array: np.ndarray, split: str | None,
                      source: str) -> ImageRecord:
        """Claim a free name, write the file (`place(name)`: its project path, None if taken) and the row.

        One write transaction, which SQLite serialises across processes: two imports of same-named
        files never share a name or a file, and the duplicate check sees every committed image. The
        file lands before the row commits; if the row cannot be written, a copied file goes again.
        """
        info = image_info(array)
        digest = content_hash(array)
        self._fill_missing_hashes()
        with self._transaction() as conn:
            duplicate = conn.execute("SELECT name FROM images WHERE content_hash = ?", (digest,)).fetchone()
            if duplicate is not None:
                raise DuplicateImageError(source, duplicate["name"])
            taken = {row["name"] for row in conn.execute("SELECT name FROM images")}
            name, rel = next((name, rel) for name in _candidate_names(stem)
                             if name not in taken and (rel := place(name)) is not None)
            try:
                cur = conn.execute(
                    "INSERT INTO images(name, path, width, height, channels, bit_depth, split, content_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, rel, info.width, info.height, info.channels, info.bit_depth, split, digest),
                )
            except sqlite3.DatabaseError:
                if rel.startswith(f"{IMAGES_DIR}/"):
                    (self.root / rel).unlink(missing_ok=True)
                raise
            image_id = int(cur.lastrowid)
        return self.image(image_id)

    def _fill_missing_hashes(self) -> None:
        """Hash the images of a project made before hashes were kept (once: they must count as duplicates too)."""
        missing = self._query("SELECT id, path FROM images WHERE content_hash IS NULL")
        if not missing:
            return
        log.info("computing the content hash of %d image(s) added by an older segdesk", len(missing))
        for row in missing:
            try:
                digest = content_hash(read_image(self.root / row["path"]))
            except SegcoreError as exc:  # a missing or broken file cannot be a duplicate of anything
                log.warning("image %d has no readable file to hash: %s", row["id"], exc)
                digest = ""
            with self._transaction() as conn:
                conn.execute("UPDATE images SET content_hash = ? WHERE id = ?", (digest, row["id"]))

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
        return (self.root / self.image(image_id).path).resolve()

    def read_image(self, image_id: int) -> np.ndarray:
        return read_image(self.image_path(image_id))

    def set_status(self, image_id: int, status: ImageStatus) -> None:
        with self._transaction() as conn:
            cur = conn.execute("UPDATE images SET status = ? WHERE id = ?", (ImageStatus(status).value, image_id))
            if cur.rowcount != 1:
                raise ProjectError(f"no image with id {image_id} in project {self.root}")

    def set_split(self, image_id: int, split: str | None) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE images SET split = ? WHERE id = ?", (split, image_id))

    # -- vector annotations ----------------------------------------------------------------------
    def add_box(self, image_id: int, box: Box) -> int:
        """Store a box label (its `label` is the class index); returns the annotation id."""
        return self.add_annotation(image_id, "box", box.label, {"x": box.x, "y": box.y, "w": box.w, "h": box.h})

    def add_annotation(self, image_id: int, kind: str, class_index: int, geometry: dict) -> int:
        if kind not in ANNOTATION_KINDS:
            raise ProjectError(f"unknown annotation kind {kind!r}; expected one of {', '.join(ANNOTATION_KINDS)}")
        self._check_class(class_index)
        with self._transaction() as conn:
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
        with self._transaction() as conn:
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

    def _write_revision(
        self, image_id: int, mask: np.ndarray, source: str, status: ImageStatus, delete_patches_upto: int | None = None
    ) -> int:
        table = self.class_table()
        with self._transaction() as conn:
            revision = self._insert_revision(conn, image_id, mask, source, table)
            # A full revision supersedes the journal: a saved mask must not be overwritten by older edits.
            conn.execute(
                "DELETE FROM mask_patches WHERE image_id = ? AND id <= COALESCE(?, id)", (image_id, delete_patches_upto)
            )
            conn.execute("UPDATE images SET status = ? WHERE id = ?", (ImageStatus(status).value, image_id))
        return revision

    def _insert_revision(
        self, conn: sqlite3.Connection, image_id: int, mask: np.ndarray, source: str, table: ClassTable
    ) -> int:
        row = conn.execute("SELECT MAX(revision) FROM mask_revisions WHERE image_id = ?", (image_id,)).fetchone()
        revision = (row[0] or 0) + 1
        rel = f"{MASKS_DIR}/{image_id}/{revision:06d}.png"
        # File first, row second: a crash in between leaves an unreferenced file, never a dangling row.
        write_palette_png(self.root / rel, mask, table)
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
        with self._lock:  # revision and journal read as one consistent state
            if revision is not None:
                return self._read_revision(image_id, revision)
            rows = self._query(
                "SELECT revision FROM mask_revisions WHERE image_id = ? ORDER BY revision DESC LIMIT 1", (image_id,)
            )
            mask = self._read_revision(image_id, rows[0]["revision"]) if rows else None
            patches = self._query("SELECT x, y, data FROM mask_patches WHERE image_id = ? ORDER BY id", (image_id,))
            if patches and mask is None:
                record = self.image(image_id)
                mask = np.zeros((record.height, record.width), np.uint8)
            for row in patches:
                patch = decode_image(row["data"], f"edit journal of image {image_id}")
                mask[row["y"] : row["y"] + patch.shape[0], row["x"] : row["x"] + patch.shape[1]] = patch
            return mask

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
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO mask_patches(image_id, x, y, data) VALUES (?, ?, ?, ?)", (image_id, int(x), int(y), data)
            )
            conn.execute("UPDATE images SET status = ? WHERE id = ?", (ImageStatus(status).value, image_id))
            return int(cur.lastrowid)

    def pending_patches(self, image_id: int) -> int:
        """How many journal entries of this image are not yet folded into a revision."""
        return int(self._query("SELECT COUNT(*) FROM mask_patches WHERE image_id = ?", (image_id,))[0][0])

    def compact_mask(self, image_id: int) -> int | None:
        """Fold the image's edit journal into a new mask revision; returns it, or None if the journal was empty."""
        with self._lock:  # no patch may slip in between reading the journal and deleting it
            last = self._query("SELECT MAX(id) FROM mask_patches WHERE image_id = ?", (image_id,))[0][0]
            if last is None:
                return None
            mask = self.load_mask(image_id)
            status = self.image(image_id).status
            revision = self._write_revision(image_id, mask, "edit", status, delete_patches_upto=last)
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
        with self._lock:
            masks = {r.id: self.load_mask(r.id) for r in self.images()}
            with self._transaction() as conn:
                for image_id, mask in masks.items():
                    if mask is not None:
                        self._insert_revision(conn, image_id, remap[mask], "classes changed", table)
                conn.execute("DELETE FROM mask_patches")
                conn.execute("UPDATE meta SET value = ? WHERE key = 'class_table'", (json.dumps(table.to_dict()),))

    # -- predictions -----------------------------------------------------------------------------------
    def save_prediction(
        self,
        image_id: int,
        labels: np.ndarray,
        uncertainty: np.ndarray | None = None,
        *,
        score: float | None = None,
        checkpoint: str,
        run_id: int | None = None,
    ) -> None:
        """Keep `labels` (and the per-pixel uncertainty) as the image's latest prediction.

        An unlabelled image becomes 'predicted'; labelled and reviewed ones keep their status.
        """
        record = self.image(image_id)
        if labels.shape != (record.height, record.width):
            raise MaskError(f"prediction size {labels.shape[::-1]} differs from image {record.name} "
                            f"({record.width}x{record.height})")
        if uncertainty is not None and uncertainty.shape != labels.shape:
            raise MaskError(f"uncertainty shape {uncertainty.shape} differs from the labels' {labels.shape}")
        table = self.class_table()
        stamp = time.time_ns()
        labels_rel = f"{PREDICTIONS_DIR}/{image_id}-{stamp}.png"
        write_palette_png(self.root / labels_rel, labels, table)
        uncertainty_rel = None
        if uncertainty is not None:  # 16-bit PNG: lossless to 1.5e-5, a quarter of a float32 .npy
            uncertainty_rel = f"{PREDICTIONS_DIR}/{image_id}-{stamp}-uncertainty.png"
            scaled = np.rint(np.clip(uncertainty, 0.0, 1.0) * 65535).astype(np.uint16)
            write_image(self.root / uncertainty_rel, scaled)
        old = self._query("SELECT labels_file, uncertainty_file FROM predictions WHERE image_id = ?", (image_id,))
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO predictions(image_id, labels_file, uncertainty_file, score, checkpoint, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (image_id, labels_rel, uncertainty_rel, score, str(checkpoint), run_id),
            )
            if record.status is ImageStatus.UNLABELLED:
                conn.execute("UPDATE images SET status = ? WHERE id = ?", (ImageStatus.PREDICTED.value, image_id))
        for row in old:  # superseded files go only after the new row is committed
            for rel in (row["labels_file"], row["uncertainty_file"]):
                if rel:
                    (self.root / rel).unlink(missing_ok=True)

    def load_prediction(self, image_id: int) -> StoredPrediction | None:
        """The image's latest prediction, or None."""
        rows = self._query("SELECT * FROM predictions WHERE image_id = ?", (image_id,))
        if not rows:
            return None
        row = rows[0]
        try:
            labels = read_index_mask(self.root / row["labels_file"])
            uncertainty = None
            if row["uncertainty_file"]:
                uncertainty = read_image(self.root / row["uncertainty_file"]).astype(np.float32) / 65535
        except SegcoreError as exc:
            raise ProjectError(f"the stored prediction of image {image_id} cannot be read: {exc}") from exc
        return StoredPrediction(image_id, labels, uncertainty, row["score"], row["checkpoint"], row["run_id"],
                                row["created_at"])

    def prediction_scores(self) -> dict[int, float | None]:
        """{image id: mean uncertainty} of every image that has a prediction."""
        return {image_id: record.score for image_id, record in self.prediction_records().items()}

    def prediction_records(self) -> dict[int, PredictionRecord]:
        """{image id: where its prediction came from} of every image that has a prediction."""
        rows = self._query("SELECT image_id, score, checkpoint, run_id, created_at FROM predictions")
        return {r["image_id"]: PredictionRecord(r["image_id"], r["score"], r["checkpoint"], r["run_id"], r["created_at"])
                for r in rows}

    # -- training runs -----------------------------------------------------------------------------
    def add_run(self, name: str, config: dict, *, checkpoint_dir: str | None = None) -> int:
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO runs(name, config, checkpoint_dir) VALUES (?, ?, ?)", (name, json.dumps(config), checkpoint_dir)
            )
            return int(cur.lastrowid)

    def log_metrics(self, run_id: int, epoch: int, metrics: dict[str, float]) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO run_metrics(run_id, epoch, key, value) VALUES (?, ?, ?, ?)",
                [(run_id, epoch, k, float(v)) for k, v in metrics.items()],
            )

    def set_run_checkpoint_dir(self, run_id: int, checkpoint_dir: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE runs SET checkpoint_dir = ? WHERE id = ?", (checkpoint_dir, run_id))

    def reopen_run(self, run_id: int) -> None:
        """Mark a run as running again (it is being resumed)."""
        with self._transaction() as conn:
            conn.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", (run_id,))

    def run(self, run_id: int) -> RunRecord:
        for record in self.runs():
            if record.id == run_id:
                return record
        raise ProjectError(f"no run with id {run_id} in project {self.root}")

    def finish_run(self, run_id: int, status: str, *, best_score: float | None = None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, best_score = COALESCE(?, best_score), "
                "finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (status, best_score, run_id),
            )

    def runs(self) -> list[RunRecord]:
        return [
            RunRecord(
                r["id"], r["name"], json.loads(r["config"]), r["status"], r["checkpoint_dir"],
                r["best_score"], r["created_at"], r["finished_at"],
            )
            for r in self._query("SELECT * FROM runs ORDER BY id")
        ]

    def run_metrics(self, run_id: int) -> dict[int, dict[str, float]]:
        """Per-epoch metrics of a run: {epoch: {key: value}}."""
        out: dict[int, dict[str, float]] = {}
        for r in self._query("SELECT epoch, key, value FROM run_metrics WHERE run_id = ? ORDER BY epoch", (run_id,)):
            out.setdefault(r["epoch"], {})[r["key"]] = r["value"]
        return out

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
    )


def content_hash(image: np.ndarray) -> str:
    """SHA-256 of an image's pixels, size and type: the same picture in another file or format hashes the same."""
    digest = hashlib.sha256(f"{image.shape}{image.dtype.str}".encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


def _candidate_names(stem: str) -> Iterator[str]:
    """stem, stem_1, stem_2, ...: the names an image may take, first free one wins."""
    yield stem
    n = 1
    while True:
        yield f"{stem}_{n}"
        n += 1


def _is_relative_to(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True
