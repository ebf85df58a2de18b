"""Rebuild a damaged project in a new folder from what its database still reads and from its files.

The damaged folder is only read. Each piece comes from the database when it reads, else from
the files: image names, paths, statuses and splits (else every file in images/), the class table
(else the palettes of the mask PNGs), each image's latest mask revision (else its highest-numbered
masks/<id>/<rev>.png), the edit journal on top, and box and polygon labels. A table page that no
longer reads costs only the rows on it: tables are scanned from both ends.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from segcore.data.classes import IGNORE_INDEX, ClassInfo, ClassTable
from segcore.data.masks import read_index_mask
from segcore.errors import ProjectError, SegcoreError
from segcore.io.images import decode_image, is_image_file
from segcore.project.store import DB_NAME, IMAGES_DIR, MASKS_DIR, ImageStatus, ProjectStore

log = logging.getLogger(__name__)

_REVISIONS = "SELECT revision, file FROM mask_revisions WHERE image_id = ? ORDER BY revision"


@dataclass
class RecoveryReport:
    """What `recover_project` rebuilt, where each piece came from, and what it could not get back."""

    images: int = 0
    masks: int = 0
    sources: list[str] = field(default_factory=list)
    """Where each piece came from, one line each ('class table: from the database', ...)."""
    lost: list[str] = field(default_factory=list)
    """One line per thing not recovered."""


@dataclass
class _Image:
    """One image to rebuild: its old id (None when only its file is known) and what the database said."""

    file: Path
    old_id: int | None
    name: str
    status: ImageStatus | None = None
    split: str | None = None


def recover_project(damaged: str | Path, out: str | Path) -> RecoveryReport:
    """Rebuild the project at `damaged` as a new project in `out`; `damaged` is never written."""
    damaged, out = Path(damaged), Path(out)
    if not (damaged / IMAGES_DIR).is_dir() and not ProjectStore.is_project(damaged):
        raise ProjectError(f"{damaged} holds neither a project database nor an images folder to recover from")
    if ProjectStore.is_project(out):
        raise ProjectError(f"a project already exists in {out}; recover into a new folder")
    report = RecoveryReport()
    old = _Salvage(damaged / DB_NAME)
    try:
        images = _images(damaged, old, report)
        masks = {image.file: _latest_mask(damaged, image.old_id, old, report) for image in images}
        guessed = sum(image.old_id is not None and old.rows(_REVISIONS, (image.old_id,)) is None for image in images)
        report.sources.append("latest masks: " + ("from the database's revisions and edit journal" if not guessed else
                               f"the newest file in masks/ for {guessed} image(s) whose revisions do not read"))
        table, name = _class_table(damaged, old, masks.values(), report), old.meta("name") or damaged.name
        with ProjectStore.create(out, table, name=name) as store:
            for image in images:
                _rebuild(store, damaged, image, masks[image.file], old, report)
    finally:
        old.close()
    return report


class _Salvage:
    """A copy of a damaged database that answers what it still can, else None."""

    def __init__(self, db: Path):
        self.conn: sqlite3.Connection | None = None
        # A copy: even a read-only connection would add -wal and -shm files beside the original.
        self._copy = tempfile.TemporaryDirectory(prefix="segdesk-recover-")
        if not db.is_file():
            return
        copy = Path(self._copy.name) / DB_NAME
        for suffix in ("", "-wal"):  # the -wal file holds the last commits not yet folded into the database
            if Path(f"{db}{suffix}").is_file():
                shutil.copyfile(f"{db}{suffix}", f"{copy}{suffix}")
        try:
            self.conn = sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)
            self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            log.warning("the damaged database %s does not open at all (%s): recovering from files", db, exc)
            self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self._copy.cleanup()

    def rows(self, sql: str, params: tuple = ()) -> list[tuple] | None:
        """Rows of `sql` (ending in ORDER BY a unique first column), read forwards, then backwards past a bad
        page; None when nothing reads."""
        if self.conn is None:
            return None
        found: dict[object, tuple] = {}
        complete = True
        for order in ("ASC", "DESC"):
            try:
                for row in self.conn.execute(f"{sql} {order}", params):
                    found.setdefault(row[0], row)
                if order == "ASC":
                    break  # read it all in one go: no need for the backward pass
            except sqlite3.DatabaseError as exc:
                log.warning("reading %r of the damaged database stopped: %s", sql, exc)
                complete = False
        if not complete and not found:
            return None
        return [found[k] for k in sorted(found)]  # type: ignore[type-var]

    def meta(self, key: str) -> str | None:
        rows = self.rows("SELECT value FROM meta WHERE key = ? ORDER BY key", (key,))
        return rows[0][0] if rows else None


def _images(damaged: Path, old: _Salvage, report: RecoveryReport) -> list[_Image]:
    """The images to rebuild: the database's rows whose files exist, then files no surviving row names."""
    rows = old.rows("SELECT id, name, path, status, split FROM images ORDER BY id")
    images = []
    known = {row[0] for row in rows or []}
    for image_id, name, path, status, split in rows or []:
        file = damaged / path
        if file.is_file():
            images.append(_Image(file, image_id, name, _status(status), split))
        else:
            report.lost.append(f"image {name}: its file {path} is missing")
    named = {image.file.resolve() for image in images}
    strays = sorted((p for p in (damaged / IMAGES_DIR).glob("*") if p.is_file() and is_image_file(p)
                     and not p.name.startswith(".") and p.resolve() not in named), key=_added_order)
    report.sources.append("image names, statuses and splits: " + (
        "from the database" if rows is not None and not strays else
        "from the files in images/" if rows is None else
        f"from the database, plus {len(strays)} file(s) in images/ that no readable row names"))
    # Ids run 1, 2, ... in the order images were added and none is ever deleted, so the ids the unread rows
    # had are the gaps; the stray files, in the order they were written, take them (mask sizes are checked later).
    ids = set(range(1, len(known) + len(strays) + 1))
    lost_ids = sorted(ids - known)
    mask_ids = {int(d.name) for d in (damaged / MASKS_DIR).glob("*") if d.name.isdigit()}
    paired = len(lost_ids) == len(strays) and mask_ids <= ids
    if strays and not paired:
        report.lost.append(f"masks of {len(strays)} image(s) known only by their file: no way to tell which is whose")
    images += [_Image(file, lost_ids[i] if paired else None, file.stem) for i, file in enumerate(strays)]
    return images


def _added_order(path: Path) -> tuple[int, str]:
    # The store copies or writes each image as it adds it, so file times follow the (lost) row ids.
    return path.stat().st_mtime_ns, path.name


def _status(value: object) -> ImageStatus | None:
    try:
        return ImageStatus(value)
    except ValueError:
        return None


def _latest_mask(damaged: Path, image_id: int | None, old: _Salvage, report: RecoveryReport) -> np.ndarray | None:
    """The image's latest mask: the database's latest revision (else the newest file) with the journal on top."""
    if image_id is None:
        return None
    rows = old.rows(_REVISIONS, (image_id,))
    if rows:
        files = [damaged / file for _revision, file in reversed(rows)]
    else:
        # The newest file: after a crash it may be a revision that never committed, but it is the last word.
        folder = damaged / MASKS_DIR / str(image_id)
        files = sorted((p for p in folder.glob("*.png") if re.fullmatch(r"\d+", p.stem)), key=lambda p: int(p.stem),
                       reverse=True)
    mask = None
    for file in files:
        try:
            mask = read_index_mask(file)
            break
        except SegcoreError as exc:
            report.lost.append(f"mask file {file.relative_to(damaged)}: {exc}")
    patches = old.rows("SELECT id, x, y, data FROM mask_patches WHERE image_id = ? ORDER BY id", (image_id,))
    for _id, x, y, data in patches or []:
        try:
            patch = decode_image(data, f"edit journal of image {image_id}")
        except SegcoreError as exc:
            report.lost.append(f"an edit of image {image_id}: {exc}")
            continue
        if mask is None:
            continue  # edits on a mask whose base is lost cannot be placed
        mask[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return mask


def _class_table(damaged: Path, old: _Salvage, masks: Iterable[np.ndarray | None], report: RecoveryReport) -> ClassTable:
    """The database's class table, else one class per index the masks use, coloured as their palettes."""
    stored = old.meta("class_table")
    if stored is not None:
        try:
            table = ClassTable.from_dict(json.loads(stored))
            report.sources.append("class table: from the database")
            return table
        except (ValueError, SegcoreError) as exc:
            log.warning("the stored class table does not read: %s", exc)
    masks = [m for m in masks if m is not None]
    top = max((int(m[m != IGNORE_INDEX].max(initial=0)) for m in masks), default=0)
    palette = _palette(damaged / MASKS_DIR)
    classes = tuple(ClassInfo(i, f"class_{i}", tuple(int(v) for v in palette[i])) for i in range(top + 1))  # type: ignore[misc]
    report.sources.append(f"class table: {top + 1} classes named class_0.. with the colours of the mask palettes "
                          "(rename them in the class panel)")
    return ClassTable(classes, IGNORE_INDEX, tuple(int(v) for v in palette[IGNORE_INDEX]))  # type: ignore[arg-type]


def _palette(masks_dir: Path) -> np.ndarray:
    """256 x 3 colours of the first readable mask PNG (the store writes the class colours into each)."""
    for path in sorted(masks_dir.glob("*/*.png")):
        try:
            with Image.open(io.BytesIO(path.read_bytes())) as im:
                flat = im.getpalette() or []
        except OSError:
            continue
        if len(flat) >= 3 * 256:
            return np.asarray(flat[: 3 * 256], np.uint8).reshape(256, 3)
    return ClassTable.from_names(["x"]).color_lut()


def _rebuild(store: ProjectStore, damaged: Path, image: _Image, mask: np.ndarray | None, old: _Salvage,
             report: RecoveryReport) -> None:
    """One image with its mask and labels, in one transaction."""
    try:
        with store.transaction():
            inside = image.file.resolve().is_relative_to(damaged.resolve())
            record = store.add_image(image.file, copy=inside, split=image.split, name=image.name)
            if mask is not None and mask.shape != (record.height, record.width):
                report.lost.append(f"mask of {image.name}: its size {mask.shape[::-1]} is not the image's; not attached")
                mask = None
            if mask is not None:
                store.save_mask(record.id, mask, source="recovered", status=image.status or ImageStatus.LABELLED)
            elif image.status is not None and image.status is not ImageStatus.LABELLED:
                store.set_status(record.id, image.status)
            _labels(store, record.id, image, old, report)
    except SegcoreError as exc:
        report.lost.append(f"image {image.name}: {exc}")
        return
    report.images += 1
    report.masks += mask is not None


def _labels(store: ProjectStore, new_id: int, image: _Image, old: _Salvage, report: RecoveryReport) -> None:
    if image.old_id is None:
        return
    rows = old.rows("SELECT id, kind, class_index, geometry FROM annotations WHERE image_id = ? ORDER BY id",
                    (image.old_id,))
    for _id, kind, class_index, geometry in rows or []:
        try:
            store.add_annotation(new_id, kind, class_index, json.loads(geometry))
        except (ValueError, SegcoreError) as exc:
            report.lost.append(f"a {kind} label of {image.name}: {exc}")
