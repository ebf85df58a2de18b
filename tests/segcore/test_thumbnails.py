"""Thumbnails of project images, cached on disk and remade when the image file changes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from segcore.data.classes import ClassTable
from segcore.errors import ImageReadError
from segcore.io.images import read_image, write_image
from segcore.project.store import ProjectStore
from segcore.project.thumbnails import thumbnail_cache_path, thumbnail_for


@pytest.fixture()
def store(tmp_path: Path):
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "cell"])) as store:
        yield store


def _set_mtime(path: Path, seconds: float) -> None:
    os.utime(path, (seconds, seconds))


def test_thumbnail_of_a_16bit_image_is_small_rgb_and_cached(store):
    ramp = np.tile(np.arange(300, dtype=np.uint16) * 200, (150, 1))
    record = store.add_image_array("ramp", ramp)
    thumb = thumbnail_for(store, record.id, max_side=64)
    assert thumb.shape == (32, 64, 3) and thumb.dtype == np.uint8
    assert thumb[:, 0].max() < 10 and thumb[:, -1].min() > 245  # auto window: the ramp spans black to white
    cache = thumbnail_cache_path(store.root, record.id, 64)
    assert cache == store.root / "thumbnails" / f"{record.id}_64.png"
    np.testing.assert_array_equal(read_image(cache), thumb)
    assert not list(cache.parent.glob("*.tmp"))  # written atomically: no temporary left behind


def test_cache_newer_than_the_image_is_used_without_decoding_the_image(store):
    record = store.add_image_array("flat", np.full((40, 40), 100, np.uint8))
    thumbnail_for(store, record.id, max_side=16)
    cache = thumbnail_cache_path(store.root, record.id, 16)
    source = store.image_path(record.id)
    # A marker in the cache, newer than the image: returned as is, so the image was not decoded again.
    marker = np.zeros((16, 16, 3), np.uint8)
    marker[0, 0] = (1, 2, 3)
    write_image(cache, marker)
    _set_mtime(source, 1_000_000)
    _set_mtime(cache, 1_000_100)
    np.testing.assert_array_equal(thumbnail_for(store, record.id, max_side=16), marker)
    # An unreadable image file proves it further: the cache alone answers.
    source.write_bytes(b"not an image")
    _set_mtime(source, 1_000_000)
    np.testing.assert_array_equal(thumbnail_for(store, record.id, max_side=16), marker)


def test_replaced_image_gets_a_new_thumbnail(store):
    record = store.add_image_array("img", np.zeros((20, 30, 3), np.uint8))
    assert thumbnail_for(store, record.id, max_side=30).max() == 0
    cache = thumbnail_cache_path(store.root, record.id, 30)
    _set_mtime(cache, 1_000_000)
    source = store.image_path(record.id)
    write_image(source, np.full((20, 30, 3), (10, 200, 30), np.uint8))
    _set_mtime(source, 1_000_100)  # the image is now newer than its thumbnail
    fresh = thumbnail_for(store, record.id, max_side=30)
    assert tuple(fresh[5, 5]) == (10, 200, 30)
    np.testing.assert_array_equal(read_image(cache), fresh)
    assert cache.stat().st_mtime_ns > source.stat().st_mtime_ns


def test_each_size_has_its_own_cache_file_and_a_damaged_cache_is_remade(store):
    record = store.add_image_array("img", np.zeros((50, 100), np.uint8))
    assert thumbnail_for(store, record.id, max_side=20).shape == (10, 20, 3)
    assert thumbnail_for(store, record.id, max_side=50).shape == (25, 50, 3)
    cache = thumbnail_cache_path(store.root, record.id, 20)
    cache.write_bytes(b"garbage")
    _set_mtime(cache, 4_000_000_000)
    assert thumbnail_for(store, record.id, max_side=20).shape == (10, 20, 3)
    assert read_image(cache).shape == (10, 20, 3)


def test_deleted_image_raises_instead_of_showing_a_stale_thumbnail(store):
    record = store.add_image_array("gone", np.zeros((8, 8), np.uint8))
    thumbnail_for(store, record.id)
    store.image_path(record.id).unlink()
    with pytest.raises(ImageReadError, match="file not found"):
        thumbnail_for(store, record.id)
