"""The estimated IoU in the project: stored with each prediction, the review queue's default order, Label next."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from synthetic import square_frame
from test_store import TABLE, _old_project

from segcore.data.classes import ClassTable
from segcore.data.masks import write_palette_png
from segcore.project import schema
from segcore.project.predict import predict_project
from segcore.project.review import QUEUES, review_queue
from segcore.project.runs import train_project
from segcore.project.store import DB_NAME, ImageStatus, ProjectStore
from segcore.project.suggest import rank_unlabelled, suggest_next
from segcore.training import TrainConfig
from segcore.training.events import Finished

SIDE = 32


def _fringes(seed: int, period: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xx = np.arange(SIDE, dtype=np.float32)[None, :].repeat(SIDE, 0)
    return np.clip(120 + 80 * np.cos(2 * np.pi * xx / period) + rng.normal(0, 5, (SIDE, SIDE)), 0, 255).astype(np.uint8)


def test_a_prediction_keeps_its_estimate_and_older_ones_have_none(tmp_path):
    root = _old_project(  # a prediction made before estimates were (schema 7)
        tmp_path / "v7", 7,
        "INSERT INTO predictions(image_id, labels_file, checkpoint, run_id) VALUES (1, 'predictions/1.png', 'a.pt', NULL)")
    write_palette_png(root / "predictions" / "1.png", np.ones((4, 4), np.uint8), TABLE)
    with ProjectStore.open(root) as store:
        assert store.load_prediction(1).quality is None and store.prediction_qualities() == {1: None}
        second = store.add_image_array("g", np.full((4, 4), 9, np.uint8)).id
        store.save_prediction(second, np.zeros((4, 4), np.uint8), checkpoint="b.pt", quality=0.42)
        assert store.load_prediction(second).quality == 0.42 and store.prediction_quality(second) == 0.42
        assert store.prediction_records()[second].quality == 0.42 and store.prediction_quality(1) is None
    conn = sqlite3.connect(root / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 9
    conn.close()


def test_the_default_review_queue_lists_predictions_lowest_estimate_first(tmp_path):
    assert QUEUES[0] == "estimated_iou"
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "sample"])) as store:
        ids = {}
        for name, quality, score in (("good", 0.97, 0.05), ("bad", 0.31, 0.02), ("fair", 0.78, 0.30),
                                     ("older", None, 0.50), ("oldest", None, 0.10), ("labelled", 0.10, 0.9)):
            ids[name] = store.add_image_array(name, _fringes(len(ids), 6)).id
            store.save_prediction(ids[name], np.zeros((SIDE, SIDE), np.uint8), np.zeros((SIDE, SIDE), np.float32),
                                  score=score, checkpoint="run/best.pt", quality=quality)
        store.save_mask(ids["labelled"], np.zeros((SIDE, SIDE), np.uint8))  # labelled: not a prediction to check
        queue = review_queue(store, "estimated_iou")
        names = {i: n for n, i in ids.items()}
        # Lowest estimate first; predictions made before estimates come after, most uncertain first.
        assert [(names[e.image_id], e.value) for e in queue] == [("bad", 0.31), ("fair", 0.78), ("good", 0.97),
                                                                  ("older", None), ("oldest", None)]
        assert [names[e.image_id] for e in review_queue(store, "uncertain")][:3] == ["older", "fair", "oldest"]


def test_label_next_takes_the_frames_estimated_worst_unlike_the_labelled_ahead_of_their_like(tmp_path):
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "sample"])) as store:
        labelled = store.add_image_array("labelled", _fringes(0, 6)).id
        store.save_mask(labelled, np.zeros((SIDE, SIDE), np.uint8))
        alike_bad = store.add_image_array("alike_bad", _fringes(1, 6)).id
        unlike_bad = store.add_image_array("unlike_bad", _fringes(2, 3)).id
        good = store.add_image_array("good", _fringes(3, 3)).id
        qualities = {alike_bad: 0.40, unlike_bad: 0.41, good: 0.95}
        ranked = rank_unlabelled(store, qualities=qualities, uncertainties={i: 0.1 for i in qualities})
        assert [s.name for s in ranked] == ["unlike_bad", "alike_bad", "good"]
        assert ranked[0].quality == 0.41 and "estimated IoU 0.41 (#2 lowest of 3)" in ranked[0].reason
        assert "unlike the 1 labelled" in ranked[0].reason


def test_after_training_label_next_picks_a_frame_estimated_among_the_worst(tmp_path):
    # Frames with a bright square (as the labelled ones) and frames whose square is barely brighter than the
    # noise, which a model trained on the first kind finds badly.
    rng = np.random.default_rng(1)
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "square"])) as store:
        for i in range(20):
            image, mask = square_frame(rng, SIDE)
            if i >= 12 and i % 2:
                image[mask == 1] -= 115  # faint
            record = store.add_image_array(f"f{i:02d}", image)
            if i < 8:
                store.save_mask(record.id, mask)
        config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=15, batch_size=4, lr=1e-2,
                             augment={"hflip": 0.5}, val_fraction=0.0, seed=0)
        finished = next(e for e in train_project(store, config, name="first") if isinstance(e, Finished))
        unlabelled = [r.id for r in store.images(ImageStatus.UNLABELLED)]
        list(predict_project(store, finished.best_checkpoint, unlabelled))
        qualities = store.prediction_qualities()
        assert all(qualities[i] is not None for i in unlabelled)
        suggestion = suggest_next(store)
        assert suggestion is not None and suggestion.quality == qualities[suggestion.image_id]
        lowest = sorted(qualities[i] for i in unlabelled)[: max(1, len(unlabelled) // 4)]
        assert suggestion.quality <= lowest[-1]
        faint = {store.image_by_name(f"f{i:02d}").id for i in range(12, 20) if i % 2}
        assert suggestion.image_id in faint
        assert np.mean([qualities[i] for i in faint]) < np.mean([qualities[i] for i in unlabelled if i not in faint])


@pytest.mark.parametrize("kind", ["nonsense"])
def test_an_unknown_queue_is_refused(tmp_path, kind):
    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "sample"])) as store:
        with pytest.raises(ValueError, match="estimated_iou, worst_iou, uncertain"):
            review_queue(store, kind)
