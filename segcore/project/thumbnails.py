"""Small RGB previews of a project's images, cached as PNGs in `<project>/thumbnails/`.

A cached file is used only while it is newer than its image file, so a replaced image gets a
fresh thumbnail; the cache can be deleted at any time.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from segcore.display import thumbnail
from segcore.errors import ImageReadError, SegcoreError
from segcore.io.images import read_image, write_image
from segcore.io.sequences import read_frame
from segcore.project.store import ProjectStore

log = logging.getLogger(__name__)

THUMBNAILS_DIR = "thumbnails"


def thumbnail_cache_path(root: str | Path, image_id: int, max_side: int = 96) -> Path:
    """Where the thumbnail of image `image_id` at `max_side` is cached in the project at `root`."""
    return Path(root) / THUMBNAILS_DIR / f"{image_id}_{max_side}.png"


def cached_thumbnail(source: str | Path, cache: str | Path, max_side: int = 96, *, frame: int | None = None) -> np.ndarray:
    """The H x W x 3 uint8 thumbnail of the image file `source` (of its frame `frame` for a sequence), read from
    `cache` or made and written there.

    Needs no project store, so it can run in a worker while the project is being closed.
    """
    source, cache = Path(source), Path(cache)
    try:
        source_mtime = source.stat().st_mtime_ns
    except FileNotFoundError:
        raise ImageReadError(source, "file not found") from None
    try:
        # Strictly newer: file times are coarse (ms), and an equal time may hide a later replacement.
        if cache.stat().st_mtime_ns > source_mtime:
            return read_image(cache)
    except (FileNotFoundError, ImageReadError):
        pass  # no cache yet, or a damaged one: make it again
    rgb = thumbnail(read_image(source) if frame is None else read_frame(source, frame), max_side)
    try:
        write_image(cache, rgb)
    except (OSError, SegcoreError) as exc:  # a read-only project or a full disk: shown, just not cached
        log.debug("thumbnail not cached at %s: %s", cache, exc)
    return rgb


def thumbnail_for(store: ProjectStore, image_id: int, max_side: int = 96) -> np.ndarray:
    """The H x W x 3 uint8 thumbnail (longer side `max_side`) of a project image, cached on disk."""
    record = store.image(image_id)
    return cached_thumbnail(store.root / record.file, thumbnail_cache_path(store.root, image_id, max_side), max_side,
                            frame=record.frame)
