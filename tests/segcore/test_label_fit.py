"""After training, the labelled frames predicted back: a run that does not reproduce its own labels says so."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from synthetic import square_frame

from segcore.data.classes import ClassTable
from segcore.project.label_fit import RunLabelCheck, check_labels, run_label_check
from segcore.project.runs import train_project
from segcore.project.store import ProjectStore
from segcore.training import TrainConfig, load_checkpoint, save_checkpoint
from segcore.training.events import Finished, LabelsChecked

SIDE = 32
LABELLED = 6


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project of 10 square frames, 6 labelled, and the events of one short training run on it."""
    rng = np.random.default_rng(3)
    root = tmp_path_factory.mktemp("fit") / "p"
    with ProjectStore.create(root, ClassTable.from_names(["background", "square"])) as store:
        for i in range(10):
            image, mask = square_frame(rng, SIDE)
            record = store.add_image_array(f"f{i}", image)
            if i < LABELLED:
                store.save_mask(record.id, mask)
        config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=30, batch_size=3, lr=1e-2,
                             augment={"hflip": 0.5}, val_fraction=0.0, seed=0)
        events = list(train_project(store, config, name="first"))
    return root, events


def test_a_finished_run_predicts_its_labelled_frames_back_before_it_ends(trained):
    root, events = trained
    checked = [e for e in events if isinstance(e, LabelsChecked)]
    assert len(checked) == 1 and events.index(checked[0]) == len(events) - 2 and isinstance(events[-1], Finished)
    result = checked[0]
    assert result.images == LABELLED and result.mean_iou > 0.8 and not result.failed
    assert result.describe().startswith(f"labelled frames predicted back: mean IoU {result.mean_iou:.2f} over 6")
    with ProjectStore.open(root) as store:
        assert store.prediction_records() == {}  # the run leaves the project's predictions as they were
        [run] = store.runs()
        assert run.status == "finished"
        run_id = run.id
        last = store.run_metrics(run_id)[events[-1].epochs]
        assert last["labels_checked"] == LABELLED and last["labels_failing"] == 0
        assert last["labels_miou"] == pytest.approx(result.mean_iou)
        assert run_label_check(store, run_id) == RunLabelCheck(run_id, LABELLED, 0, pytest.approx(result.mean_iou))
        assert not run_label_check(store, run_id).failed
        unchecked = store.add_run("before the check", {})
        assert run_label_check(store, unchecked) is None


def test_a_model_that_calls_everything_the_sample_is_told_it_failed(trained, tmp_path):
    root, events = trained
    checkpoint = load_checkpoint(events[-1].best_checkpoint)
    state = dict(checkpoint.state_dict)
    state["outc.bias"] = state["outc.bias"] + torch.tensor([0.0, 50.0])  # the square wins every pixel
    broken = save_checkpoint(tmp_path / "broken.pt", dataclasses.replace(checkpoint, state_dict=state))
    with ProjectStore.open(root) as store:
        names = [r.name for r in store.images() if store.has_mask(r.id)]
        result = check_labels(store, broken, [*names, "not a frame"])
    assert result.images == LABELLED and result.mean_iou < 0.5
    assert set(result.failing) == set(names) and result.failed
    text = result.describe()
    assert f"{LABELLED} below 0.50" in text and "does not reproduce its own labels" in text and "..." in text


def test_a_few_frames_not_reproduced_are_named_without_condemning_the_run():
    few = LabelsChecked(8, 0.88, ("f3",)).describe()
    assert "1 below 0.50 (f3): the model did not learn these" in few and "not to be trusted" not in few
    most = LabelsChecked(8, 0.30, ("f1", "f2", "f3", "f4")).describe()
    assert "4 below 0.50" in most and "not to be trusted" in most
    assert RunLabelCheck(3, 8, 1, 0.88).describe().startswith("run 3 did not learn 1 of its 8 labelled frames")
    assert "not to be trusted" in RunLabelCheck(3, 8, 6, 0.13).describe()
