"""The project loop without a GUI: train (recorded runs), predict into the store, review, accept."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from synthetic import square_frame

from segcore.data.classes import ClassTable
from segcore.errors import MaskError, ProjectError
from segcore.project.predict import predict_project, select_images
from segcore.project.review import accept_prediction, compare, review_queue
from segcore.project.runs import average_run, run_checkpoints, train_project
from segcore.project.store import ImageStatus, ProjectStore
from segcore.training import TrainConfig, TrainingControl
from segcore.training.events import BatchProgress, EpochMetrics, Finished, RunStarted

TABLE = ClassTable.from_names(["background", "square"])


@pytest.fixture()
def project(tmp_path: Path):
    """18 labelled frames (4 through the edit journal only) and 4 unlabelled ones."""
    rng = np.random.default_rng(0)
    with ProjectStore.create(tmp_path / "proj", TABLE) as store:
        truths = {}
        for i in range(22):
            image, mask = square_frame(rng)
            record = store.add_image_array(f"f{i:02d}", image)
            truths[record.id] = mask
            if i < 14:
                store.save_mask(record.id, mask)
            elif i < 18:
                store.save_mask_patch(record.id, 0, 0, mask)
        yield store, truths


def tiny_config(**overrides) -> TrainConfig:
    options = dict(model="unet", model_kwargs={"base_channels": 8}, epochs=20, batch_size=4, lr=1e-2,
                   augment={"hflip": 0.5}, val_fraction=0.25, seed=0, keep_top_k=3)
    options.update(overrides)
    return TrainConfig(**options)


def test_train_predict_review_accept(project):
    store, truths = project
    events = list(train_project(store, tiny_config(), name="first"))
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.cancelled
    [run] = store.runs()
    assert (run.name, run.status) == ("first", "finished")
    assert run.best_score == pytest.approx(finished.best_miou) and run.best_score > 0.8
    metrics = store.run_metrics(run.id)
    assert sorted(metrics) == list(range(1, 21)) and {"train_loss", "val_miou", "iou_1"} <= set(metrics[20])
    [started] = [e for e in events if isinstance(e, RunStarted)]
    assert started.train_images + started.val_images == 18  # the journal-only labels count too

    checkpoints = run_checkpoints(store, run.id)
    assert {"best", "last"} <= set(checkpoints) and sum(k.startswith("epoch") for k in checkpoints) == 3
    averaged = average_run(store, run.id, k=2)
    assert averaged.is_file()

    unlabelled = select_images(store, "unlabelled")
    assert len(unlabelled) == 4
    progress = list(predict_project(store, checkpoints["best"], unlabelled + select_images(store, "labelled")[:2]))
    assert [p.done for p in progress] == [1, 2, 3, 4, 5, 6] and all(p.error is None for p in progress)
    for image_id in unlabelled:
        assert store.image(image_id).status is ImageStatus.PREDICTED
        stored = store.load_prediction(image_id)
        assert stored.labels.shape == (32, 32) and 0 <= stored.uncertainty.min() <= stored.uncertainty.max() <= 1
        assert compare(truths[image_id], stored.labels, 2).miou > 0.7
    uncertain = [entry.value for entry in review_queue(store, "uncertain")]
    assert uncertain != [] and uncertain == sorted(uncertain, reverse=True)
    worst = review_queue(store, "worst_iou")
    scored = [entry.value for entry in worst if entry.value is not None]
    assert len(scored) == 2 and scored == sorted(scored)  # the two labelled images predicted above, worst first
    assert len(worst) == len(select_images(store, "labelled"))  # every labelled image is listed...
    assert all(entry.origin is None and entry.needs_prediction for entry in worst[2:])  # ...unpredicted ones marked
    assert all(entry.origin.run_id is None and not entry.origin.stale for entry in worst[:2])

    target = unlabelled[0]
    accepted = accept_prediction(store, target)
    np.testing.assert_array_equal(store.load_mask(target), accepted)
    assert store.image(target).status is ImageStatus.REVIEWED


def test_cancelled_run_is_recorded_and_resumes(project):
    store, _ = project
    control = TrainingControl()
    for event in train_project(store, tiny_config(epochs=4), control=control):
        if isinstance(event, EpochMetrics) and event.epoch == 2:
            control.cancel()
    [run] = store.runs()
    assert run.status == "cancelled" and sorted(store.run_metrics(run.id)) == [1, 2]
    events = list(train_project(store, tiny_config(), resume_run=run.id))
    assert [e.epoch for e in events if isinstance(e, EpochMetrics)] == [3, 4]  # the run's own config: 4 epochs
    assert store.run(run.id).status == "finished" and len(store.runs()) == 1


def test_a_run_abandoned_by_its_consumer_is_not_left_running(project):
    store, _ = project
    events = train_project(store, tiny_config(epochs=3))
    for event in events:
        if isinstance(event, BatchProgress):
            break
    events.close()
    assert store.runs()[0].status == "cancelled"


def test_continue_from_a_checkpoint_after_new_labels(project):
    store, truths = project
    list(train_project(store, tiny_config(epochs=2)))
    best = run_checkpoints(store, store.runs()[0].id)["best"]
    extra = select_images(store, "unlabelled")[0]
    store.save_mask(extra, truths[extra])
    events = list(train_project(store, tiny_config(epochs=1), init_from=best, name="more labels"))
    assert isinstance(events[-1], Finished) and [r.name for r in store.runs()][1] == "more labels"
    # unnamed, a run says what it was (issue 27, item 8: every run was named after the model)
    assert re.fullmatch(r"unet · \d+ labelled · 2 epochs", store.runs()[0].name)


def test_accept_inside_a_region_keeps_the_rest_of_the_label(project):
    store, truths = project
    image_id = select_images(store, "labelled")[0]
    predicted = np.ones((32, 32), np.uint8)
    store.save_prediction(image_id, predicted, None, checkpoint="manual")
    region = np.zeros((32, 32), bool)
    region[:8, :8] = True
    label = accept_prediction(store, image_id, region)
    expected = truths[image_id].copy()
    expected[:8, :8] = 1
    np.testing.assert_array_equal(label, expected)
    with pytest.raises(MaskError):
        accept_prediction(store, image_id, region[:4])
    with pytest.raises(ProjectError, match="no prediction"):
        accept_prediction(store, select_images(store, "unlabelled")[0])


def test_compare_error_maps():
    label = np.array([[0, 1, 1], [0, 0, 255]], np.uint8)
    prediction = np.array([[1, 1, 0], [0, 0, 1]], np.uint8)
    result = compare(label, prediction, 2)
    np.testing.assert_array_equal(result.false_positive, [[True, False, False], [False, False, False]])
    np.testing.assert_array_equal(result.false_negative, [[False, False, True], [False, False, False]])
    assert result.pixel_acc == pytest.approx(3 / 5)
    assert result.miou == pytest.approx(((2 / 4) + (1 / 3)) / 2)


def test_prediction_from_another_class_table_is_refused(project, tmp_path):
    store, _ = project
    list(train_project(store, tiny_config(epochs=1)))
    best = run_checkpoints(store, store.runs()[0].id)["best"]
    with ProjectStore.create(tmp_path / "other", ClassTable.from_names(["a", "b"])) as other:
        other.add_image_array("x", np.zeros((8, 8), np.uint8))
        with pytest.raises(ProjectError, match="classes"):
            list(predict_project(other, best, [1]))


def test_a_new_prediction_replaces_the_old_files_and_keeps_a_label_status(project):
    store, _ = project
    labelled, unlabelled = select_images(store, "labelled")[0], select_images(store, "unlabelled")[0]
    for image_id in (labelled, unlabelled):
        for value in (0, 1):
            uncertainty = np.full((32, 32), 0.25 * (value + 1), np.float32)
            store.save_prediction(image_id, np.full((32, 32), value, np.uint8), uncertainty, score=0.1, checkpoint="c")
        stored = store.load_prediction(image_id)
        assert (stored.labels == 1).all() and np.allclose(stored.uncertainty, 0.5, atol=1e-4)
    assert store.image(labelled).status is ImageStatus.LABELLED
    assert store.image(unlabelled).status is ImageStatus.PREDICTED
    assert len(list((store.root / "predictions").iterdir())) == 4  # two images x (labels, uncertainty)
    with pytest.raises(MaskError, match="size"):
        store.save_prediction(labelled, np.zeros((8, 8), np.uint8), checkpoint="c")
