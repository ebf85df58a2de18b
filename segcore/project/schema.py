"""The project database schema as an ordered list of migrations (PRAGMA user_version = applied count)."""

from __future__ import annotations

import sqlite3

from segcore.errors import ProjectError

# Each entry upgrades the schema by one version. Never edit a released entry: append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v1: class table, images, vector annotations, raster label masks with revisions
    (
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            path TEXT NOT NULL UNIQUE,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            channels INTEGER NOT NULL,
            bit_depth INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'unlabelled'
                CHECK (status IN ('unlabelled', 'labelled', 'predicted', 'reviewed')),
            split TEXT,
            added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )""",
        """CREATE TABLE annotations (
            id INTEGER PRIMARY KEY,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('box', 'polygon')),
            class_index INTEGER NOT NULL,
            geometry TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )""",
        """CREATE INDEX annotations_image ON annotations(image_id)""",
        """CREATE TABLE mask_revisions (
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            revision INTEGER NOT NULL,
            file TEXT NOT NULL,
            source TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            PRIMARY KEY (image_id, revision)
        )""",
    ),
    # v2: training runs and their per-epoch metrics
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            config TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running',
            checkpoint_dir TEXT,
            best_score REAL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            finished_at TEXT
        )""",
        """CREATE TABLE run_metrics (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            key TEXT NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (run_id, epoch, key)
        )""",
    ),
    # v3: the edit journal: small mask patches written per edit, folded into a revision later
    (
        """CREATE TABLE mask_patches (
            id INTEGER PRIMARY KEY,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            x INTEGER NOT NULL,
            y INTEGER NOT NULL,
            data BLOB NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )""",
        """CREATE INDEX mask_patches_image ON mask_patches(image_id, id)""",
    ),
    # v4: the latest prediction of each image (labels + uncertainty files, score, where from)
    (
        """CREATE TABLE predictions (
            image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
            labels_file TEXT NOT NULL,
            uncertainty_file TEXT,
            score REAL,
            checkpoint TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )""",
    ),
    # v5: each image's content hash, so the same picture is never imported twice (NULL: filled on demand)
    (
        """ALTER TABLE images ADD COLUMN content_hash TEXT""",
        """CREATE INDEX images_content_hash ON images(content_hash)""",
    ),
    # v6: each run's split, {"train": [...], "val": [...]} sample names as JSON (NULL: not recorded)
    (
        """ALTER TABLE runs ADD COLUMN split TEXT""",
    ),
    # v7: how each prediction was made beyond its checkpoint, a JSON list like ["flips", "one region"] (NULL: not recorded)
    (
        """ALTER TABLE predictions ADD COLUMN method TEXT""",
    ),
    # v8: each prediction's estimated IoU (`segcore.inference.quality`; NULL: made before it was estimated)
    (
        """ALTER TABLE predictions ADD COLUMN quality REAL""",
    ),
    # v9: acquisitions referenced where they lie (a TIFF stack, a video, a folder of frames); their frames are images
    (
        """CREATE TABLE sequences (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            path TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('tiff', 'video', 'folder')),
            frames INTEGER NOT NULL,
            frame_interval_s REAL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )""",
        """ALTER TABLE images ADD COLUMN sequence_id INTEGER REFERENCES sequences(id)""",
        """ALTER TABLE images ADD COLUMN frame INTEGER""",
        """CREATE INDEX images_sequence ON images(sequence_id, frame)""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations up to `target`, each in its own transaction; return the new version.

    `conn` must be in autocommit mode (isolation_level=None) so the transactions here are explicit.
    Safe when another process opens (and migrates) the same project at the same moment.
    """
    _refuse_newer(schema_version(conn))
    while schema_version(conn) < target:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have applied this step meanwhile.
            version = schema_version(conn)
            if version < target:
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                # PRAGMA takes no parameters; the value is an int we computed.
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def check_current(conn: sqlite3.Connection, what: str) -> None:
    """Refuse a schema this code cannot read without migrating it (for `what` opened read-only)."""
    version = schema_version(conn)
    _refuse_newer(version)
    if version < SCHEMA_VERSION:
        raise ProjectError(
            f"{what} was made by an older segdesk (schema {version}) and must be upgraded, which a read-only "
            "project cannot be; open it once with write access"
        )


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"this project uses schema version {version}, newer than this segdesk understands ({SCHEMA_VERSION}); "
            "update segdesk to open it"
        )
