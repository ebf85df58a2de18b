"""The sequences part of `ProjectStore`: acquisitions referenced where they lie, their frames images of the project.

A sequence (a multi-page TIFF, a video, a folder of numbered frames: `segcore.io.sequences`) is not copied:
the project records its path, frame count, size, modification time and a fingerprint, and one image row per
frame (named `<sequence>_<frame>`, in frame order), whose pixels are read from the file when asked for. A
3000-frame stack imports in the time it takes to open it and adds a row per frame. A file moved away or
changed since its import is reported by name when a frame of it is read (`sequence_problem`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segcore.errors import ImageReadError, ProjectError
from segcore.io.sequences import file_stamp, frame_name, open_sequence, read_frame, sequence_fingerprint
from segcore.project.names import candidate_names
from segcore.project.records import ImageRecord, SequenceRecord


class SequenceStore:
    """Mixed into `ProjectStore` (which has the connection, the transactions and the images)."""

    def add_sequence(self, source: str | Path, *, name: str | None = None, split: str | None = None) -> SequenceRecord:
        """Reference the acquisition at `source`: one image per frame, nothing copied. Refused (`ProjectError`)
        when the project already references that file; `ImageReadError` when it cannot be read."""
        source = Path(source).resolve()
        with open_sequence(source) as sequence:
            info = sequence.info
        size, mtime_ns = file_stamp(source)
        fingerprint = sequence_fingerprint(source)
        rel = Path(os.path.relpath(source, self.root.resolve())).as_posix()
        with self.transaction() as conn:
            existing = conn.execute("SELECT name FROM sequences WHERE path = ?", (rel,)).fetchone()
            if existing is not None:
                raise ProjectError(f"{source} is already in the project, as sequence {existing['name']!r}")
            sequence_names = {row["name"] for row in conn.execute("SELECT name FROM sequences")}
            image_names = {row["name"] for row in conn.execute("SELECT name FROM images")}
            stem = next(stem for stem in candidate_names(name or source.stem) if stem not in sequence_names
                        and not any(frame_name(stem, i, info.frames) in image_names for i in range(info.frames)))
            cur = conn.execute(
                "INSERT INTO sequences(name, path, kind, frames, frame_interval_s, size, mtime_ns, fingerprint) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (stem, rel, info.kind, info.frames, info.frame_interval_s, size, mtime_ns, fingerprint),
            )
            sequence_id = int(cur.lastrowid)
            # No content hash: hashing every frame would read the whole acquisition; frames are never duplicates.
            conn.executemany(
                "INSERT INTO images(name, path, width, height, channels, bit_depth, split, content_hash, sequence_id, "
                "frame) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
                [(frame_name(stem, i, info.frames), f"{rel}#{i}", info.width, info.height, info.channels, info.bit_depth,
                  split, sequence_id, i) for i in range(info.frames)],
            )
            return self.sequence(sequence_id)

    def sequences(self) -> list[SequenceRecord]:
        return [_sequence_record(row) for row in self._query("SELECT * FROM sequences ORDER BY id")]

    def sequence(self, sequence_id: int) -> SequenceRecord:
        rows = self._query("SELECT * FROM sequences WHERE id = ?", (sequence_id,))
        if not rows:
            raise ProjectError(f"no sequence with id {sequence_id} in project {self.root}")
        return _sequence_record(rows[0])

    def sequence_path(self, record: SequenceRecord) -> Path:
        return (self.root / record.path).resolve()

    def sequence_problem(self, record: SequenceRecord) -> str | None:
        """Why the sequence's frames cannot be read as imported (moved or deleted, changed), or None."""
        reason = _changed(self.sequence_path(record), record)
        return None if reason is None else f"sequence {record.name!r} ({self.sequence_path(record)}): {reason}"

    def _read_frame(self, image: ImageRecord) -> np.ndarray:
        record = self.sequence(image.sequence_id)
        path = self.sequence_path(record)
        reason = _changed(path, record)
        if reason is not None:
            raise ImageReadError(path, reason)
        return read_frame(path, image.frame)


def _sequence_record(row) -> SequenceRecord:  # noqa: ANN001 - a sqlite3.Row
    return SequenceRecord(
        id=row["id"], name=row["name"], path=row["path"], kind=row["kind"], frames=row["frames"],
        frame_interval_s=row["frame_interval_s"], size=row["size"], mtime_ns=row["mtime_ns"],
        fingerprint=row["fingerprint"],
    )


def _changed(path: Path, record: SequenceRecord) -> str | None:
    """What happened to the acquisition since its import, or None."""
    if not path.exists():
        return "gone: moved or deleted since it was imported"
    # One stat before every read (a folder's own time moves when frames are added, removed or renamed; listing its
    # thousands of frames each read would not do); the fingerprint only when that moved.
    if file_stamp(path) != (record.size, record.mtime_ns) and sequence_fingerprint(path) != record.fingerprint:
        return "changed since it was imported: its frames may no longer match their labels"
    return None

