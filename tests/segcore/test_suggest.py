"""Label next: the unlabelled frame that is most uncertain and least like the labelled ones."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from segcore.data.classes import ClassTable
from segcore.demo.families import family_samples
from segcore.project.store import ImageStatus, ProjectStore
from segcore.project.suggest import descriptor_cache_path, image_descriptor, rank_unlabelled, suggest_next

SIZE = 64


def fringes(angle_deg: float, period: float, seed: int, *, dtype=np.uint8) -> np.ndarray:
    """A fringe pattern (cosine at `angle_deg`, `period` px) with noise, as an interferometer frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    angle = np.deg2rad(angle_deg)
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.cos(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + phase)
    image = 0.5 + 0.4 * wave + rng.normal(0, 0.05, wave.shape)
    top = np.iinfo(dtype).max
    return np.clip(image * top, 0, top).astype(dtype)


@pytest.fixture()
def store(tmp_path):
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "sample"])) as store:
        yield store


def _add(store: ProjectStore, name: str, image: np.ndarray, *, labelled: bool = False) -> int:
    record = store.add_image_array(name, image)
    if labelled:
        store.save_mask(record.id, np.zeros(image.shape[:2], np.uint8))
    return record.id


def _predict(store: ProjectStore, image_id: int, uncertainty: float) -> None:
    store.save_prediction(image_id, np.zeros((SIZE, SIZE), np.uint8), np.full((SIZE, SIZE), uncertainty, np.float32),
                          score=uncertainty, checkpoint="run/best.pt")


def test_frames_that_look_alike_have_near_descriptors():
    horizontal = [image_descriptor(fringes(0, 8, seed)) for seed in range(3)]
    vertical = image_descriptor(fringes(90, 8, 9))
    fine = image_descriptor(fringes(0, 3, 9))
    alike = max(np.linalg.norm(a - b) for a in horizontal for b in horizontal)
    assert alike < np.linalg.norm(horizontal[0] - vertical) and alike < np.linalg.norm(horizontal[0] - fine)
    # One optics, two frame sizes and bit depths: a 16-bit frame 3x larger reads as the same kind of frame.
    big = np.kron(fringes(0, 8, 0, dtype=np.uint16), np.ones((3, 3), np.uint16))
    assert np.linalg.norm(image_descriptor(big) - horizontal[0]) < np.linalg.norm(horizontal[0] - vertical)
    assert np.linalg.norm(vertical) == pytest.approx(1.0, abs=1e-5)


def test_the_suggestion_is_always_unlabelled_and_moves_on_as_frames_are_labelled(store):
    _add(store, "labelled", fringes(0, 8, 0), labelled=True)
    for i, angle in enumerate((0, 30, 60, 90, 120)):
        _add(store, f"frame{i}", fringes(angle, 8, i + 1))
    seen = []
    while (suggestion := suggest_next(store)) is not None:
        assert store.image(suggestion.image_id).status is ImageStatus.UNLABELLED
        assert suggestion.image_id not in seen and suggestion.reason.startswith(f"{suggestion.name}: ")
        seen.append(suggestion.image_id)
        store.save_mask(suggestion.image_id, np.zeros((SIZE, SIZE), np.uint8))  # the user labels it
    assert len(seen) == 5


def test_without_predictions_the_frame_least_like_the_labelled_comes_first(store):
    for seed in range(2):
        _add(store, f"horizontal{seed}", fringes(0, 8, seed), labelled=True)
    alike = [_add(store, f"alike{seed}", fringes(0, 8, 10 + seed)) for seed in range(3)]
    unlike = _add(store, "unlike", fringes(90, 4, 20))
    ranked = rank_unlabelled(store)
    assert ranked[0].image_id == unlike and {s.image_id for s in ranked[1:]} == set(alike)
    assert "unlike the 2 labelled" in ranked[0].reason and "no predictions yet" in ranked[0].reason
    # A frame chosen in this round but not labelled yet counts as labelled: the next one is unlike it too.
    assert suggest_next(store, exclude=[unlike]).image_id in alike


def test_frames_outside_among_are_neither_suggested_nor_compared(store):
    _add(store, "labelled", fringes(0, 8, 0), labelled=True)
    held_out = _add(store, "held_out", fringes(90, 4, 1))  # the most unlike: first, were it a candidate
    pool = [_add(store, "vertical", fringes(90, 4, 2)), _add(store, "horizontal", fringes(0, 8, 3))]
    assert suggest_next(store).image_id == held_out
    ranked = rank_unlabelled(store, among=pool)
    assert [s.image_id for s in ranked] == pool  # the held-out twin does not make "vertical" look labelled
    assert "unlike the 1 labelled" in ranked[0].reason


def test_with_nothing_labelled_the_most_typical_frame_comes_first(store):
    typical = [_add(store, f"typical{seed}", fringes(0, 8, seed)) for seed in range(4)]
    _add(store, "odd", fringes(90, 3, 9))
    suggestion = suggest_next(store)
    assert suggestion.image_id in typical and "nothing labelled" in suggestion.reason


def test_the_most_uncertain_and_unlike_frame_wins(store):
    _add(store, "labelled", fringes(0, 8, 0), labelled=True)
    alike_but_uncertain = _add(store, "alike", fringes(0, 8, 1))
    unlike_and_uncertain = _add(store, "unlike_uncertain", fringes(90, 4, 2))
    unlike_but_sure = _add(store, "unlike_sure", fringes(90, 4, 3))
    _predict(store, alike_but_uncertain, 0.5)
    _predict(store, unlike_and_uncertain, 0.4)
    _predict(store, unlike_but_sure, 0.1)
    ranked = rank_unlabelled(store)
    # Unlike the labelled frame beats alike (though less uncertain); more uncertain beats equally unlike.
    assert ranked[0].image_id == unlike_and_uncertain
    assert ranked[0].uncertainty == pytest.approx(0.4) and "uncertainty 0.400 (#2 of 3) and unlike" in ranked[0].reason
    # Precomputed uncertainties (a benchmark's own) take the place of the stored ones.
    flipped = {alike_but_uncertain: 0.1, unlike_and_uncertain: 0.1, unlike_but_sure: 0.9}
    assert suggest_next(store, uncertainties=flipped).image_id == unlike_but_sure


def test_descriptors_are_cached_with_the_thumbnails(store):
    image_id = _add(store, "a", fringes(0, 8, 0))
    _add(store, "b", fringes(0, 8, 1))
    suggest_next(store)
    cache = descriptor_cache_path(store.root, image_id)
    assert cache.is_file()
    np.testing.assert_allclose(np.load(cache), image_descriptor(store.read_image(image_id)))
    given = {image_id: np.ones(4, np.float32) / 2}  # a caller's own descriptors are used as given
    given[image_id + 1] = np.array([0.5, 0.5, 0.5, -0.5], np.float32)
    assert suggest_next(store, descriptors=given) is not None


def test_an_all_labelled_project_has_no_suggestion(store):
    _add(store, "a", fringes(0, 8, 0), labelled=True)
    assert suggest_next(store) is None and rank_unlabelled(store) == []


def test_ranking_a_long_sequence_keeps_its_distances_in_small_blocks(store):
    # An interferometer records thousands of frames; comparing every pair at once held frames^2 x 96 floats
    # (3 GB for 3000 frames; 121 MB for these 600). Here, nothing labelled yet: a few MB at most.
    rng = np.random.default_rng(0)
    ids = [_add(store, f"f{i}", rng.integers(0, 256, (4, 4), dtype=np.uint8)) for i in range(600)]
    vectors = rng.normal(size=(len(ids), image_descriptor(fringes(0, 8, 0)).size)).astype(np.float32)
    given = dict(zip(ids, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
    tracemalloc.start()
    try:
        ranked = rank_unlabelled(store, descriptors=given)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MB"
    # The same ranking as comparing every pair at once: the medoid first.
    stacked = np.stack([given[i] for i in ids])
    spread = np.sqrt(((stacked[:, None, :] - stacked[None, :, :]) ** 2).sum(-1)).mean(axis=1)
    assert ranked[0].image_id == ids[int(np.argmin(spread))] and len(ranked) == len(ids)


def test_frames_of_another_fringe_scale_read_as_unlike_even_where_the_thumbnail_cannot_resolve_them():
    # One project of phase objects whose fringe period varies 10x from frame to frame: how far apart two
    # descriptors are follows how far apart their periods are (at the descriptor's 256 px the finest fringes
    # alias; the period is measured at 1024). Without the period block the correlation was 0.33.
    frames = list(family_samples("phase", 1, small=24, large=0))
    vectors = np.stack([image_descriptor(s.image) for s in frames])
    log_period = np.log([s.params["period"] for s in frames])
    pairs = np.triu_indices(len(frames), 1)
    distance = np.sqrt(((vectors[:, None] - vectors[None]) ** 2).sum(-1))[pairs]
    assert np.corrcoef(distance, np.abs(log_period[:, None] - log_period[None])[pairs])[0, 1] > 0.5
