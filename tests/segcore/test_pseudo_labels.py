"""Pseudo-labels: the run's model labels the unlabelled frames half-way; its confident pixels train on,
in the run's folder only. A user's label is never overwritten, not even one drawn while the run trains."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import square_frame

from segcore.cli import main
from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.io.images import read_image
from segcore.models import get_model
from segcore.project.runs import run_dir, train_project
from segcore.project.store import ImageStatus, ProjectStore
from segcore.training import Checkpoint, ConfigError, TrainConfig, TrainingControl, load_checkpoint
from segcore.training.data import spread
from segcore.training.events import BatchProgress, EpochMetrics, Finished, PseudoLabelled, RunStarted
from segcore.training.pseudo import (
    MANIFEST,
    MAX_IMAGES,
    PSEUDO_DIR,
    PseudoLabeller,
    UnlabelledImage,
    confident_mask,
    epoch_indices,
)

TABLE = ClassTable.from_names(["background", "sample"])


@pytest.fixture()
def project(tmp_path: Path):
    """8 labelled frames, 3 unlabelled ones and 1 whose stored prediction was never accepted."""
    rng = np.random.default_rng(3)
    with ProjectStore.create(tmp_path / "proj", TABLE) as store:
        for i in range(12):
            image, mask = square_frame(rng)
            record = store.add_image_array(f"f{i:02d}", image)
            if i < 8:
                store.save_mask(record.id, mask)
        store.set_status(store.image_by_name("f11").id, ImageStatus.PREDICTED)
        yield store


def tiny_config(**overrides) -> TrainConfig:
    options = dict(model="unet", model_kwargs={"base_channels": 8}, epochs=6, batch_size=2, lr=1e-2,
                   augment={"hflip": 0.5}, val_fraction=0.25, seed=0, keep_top_k=0,
                   pseudo_labels=True, pseudo_confidence=0.6, pseudo_after=0.5)
    options.update(overrides)
    return TrainConfig(**options)


def _labels(store: ProjectStore) -> dict[str, tuple[ImageStatus, bytes | None]]:
    result = {}
    for record in store.images():
        mask = store.load_mask(record.id)
        result[record.name] = (record.status, None if mask is None else mask.tobytes())
    return result


def test_pseudo_labels_never_overwrite_a_users_label(project):
    store = project
    before = _labels(store)
    late = store.image_by_name("f08")
    drawn = np.zeros((32, 32), np.uint8)
    drawn[4:12, 4:12] = 1
    events = []
    for event in train_project(store, tiny_config(), name="pseudo"):
        if isinstance(event, RunStarted):  # the user labels an unlabelled frame while the run trains
            store.save_mask(late.id, drawn)
        events.append(event)

    [pseudo] = [e for e in events if isinstance(e, PseudoLabelled)]
    assert pseudo.after_epoch == 3 and pseudo.images == 4 and 0 < pseudo.confident <= 1
    assert isinstance(events[-1], Finished) and not events[-1].cancelled

    after = _labels(store)
    for name in (f"f{i:02d}" for i in range(8)):  # the user's labels: the same pixels, the same status
        assert after[name] == before[name], name
    assert after["f08"] == (ImageStatus.LABELLED, drawn.tobytes())  # drawn during the run: kept as drawn
    assert after["f09"] == after["f10"] == (ImageStatus.UNLABELLED, None)
    assert after["f11"] == (ImageStatus.PREDICTED, None)

    # The pseudo-labels live in the run's folder: one mask per image unlabelled when the run started.
    [run] = store.runs()
    folder = run_dir(store, run) / PSEUDO_DIR
    assert Path(pseudo.folder) == folder
    manifest = json.loads((folder / MANIFEST).read_text())
    assert sorted(manifest["masks"]) == ["f08", "f09", "f10", "f11"]
    for name, file in manifest["masks"].items():
        mask = read_image(folder / file)
        assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 1, IGNORE_INDEX}, name
    assert store.run_metrics(run.id)[3]["pseudo_images"] == 4


def test_pseudo_labels_join_training_without_lengthening_an_epoch(project):
    events = list(train_project(project, tiny_config(), name="pseudo"))
    batches = {e.epoch: e.batches for e in events if isinstance(e, BatchProgress)}
    assert len(set(batches.values())) == 1  # epochs 4-6 draw pseudo-labels yet take as many steps as 1-3
    indices = epoch_indices(6, 4, seed=0, epoch=4)
    assert len(indices) == 6 and sum(i >= 6 for i in indices) == 3


def test_without_the_option_or_unlabelled_images_nothing_is_pseudo_labelled(project):
    events = list(train_project(project, tiny_config(pseudo_labels=False, epochs=2)))
    assert not any(isinstance(e, PseudoLabelled) for e in events)
    assert not (run_dir(project, project.runs()[0]) / PSEUDO_DIR).exists()
    for record in project.images()[8:]:
        project.save_mask(record.id, np.zeros((32, 32), np.uint8))
    events = list(train_project(project, tiny_config(epochs=2)))  # every frame labelled: nothing to pseudo-label
    assert not any(isinstance(e, PseudoLabelled) for e in events)


def test_a_resumed_run_trains_on_the_same_pseudo_labels(project):
    store = project
    list(train_project(store, tiny_config(), name="straight"))
    control = TrainingControl()
    for event in train_project(store, tiny_config(), name="interrupted", control=control):
        if isinstance(event, BatchProgress) and event.epoch == 5:
            control.cancel()
    interrupted = store.runs()[-1]
    assert interrupted.status == "cancelled"
    resumed = list(train_project(store, tiny_config(), resume_run=interrupted.id))
    assert not any(isinstance(e, PseudoLabelled) for e in resumed)  # read back, not labelled again

    straight = load_checkpoint(run_dir(store, store.runs()[0]) / "last.pt")
    again = load_checkpoint(run_dir(store, interrupted.id) / "last.pt")
    assert straight.epoch == again.epoch == 6
    for key, value in straight.state_dict.items():
        assert torch.equal(value, again.state_dict[key]), key


def test_cancel_is_honoured_while_pseudo_labelling(project):
    control = TrainingControl()
    events = []
    for event in train_project(project, tiny_config(), control=control):
        events.append(event)
        if isinstance(event, EpochMetrics) and event.epoch == 3:  # pseudo-labelling comes right after this epoch
            control.cancel()
    assert isinstance(events[-1], Finished) and events[-1].cancelled and events[-1].epochs == 3
    assert not any(isinstance(e, PseudoLabelled) for e in events)
    assert not (run_dir(project, project.runs()[-1]) / PSEUDO_DIR / MANIFEST).exists()


def test_images_without_a_sure_pixel_are_left_out(project, tmp_path):
    """An untrained model is sure of nothing: no mask of nothing but 'ignore' takes an epoch's place."""
    model = get_model("unet", num_classes=2, in_channels=1, base_channels=8)
    checkpoint = Checkpoint("unet", {"base_channels": 8}, 2, 1, TABLE, {"mean": [0.2], "std": [0.2]},
                            model.state_dict())
    images = [UnlabelledImage(r.name, functools.partial(project.read_image, r.id)) for r in project.images()[8:]]
    samples, summary = PseudoLabeller(images, tmp_path / "pseudo", confidence=1.0).label(checkpoint, "cpu")
    assert samples == [] and (summary.images, summary.tried, summary.confident) == (0, 4, 0.0)
    assert "not yet sure of any pixel of the 4 unlabelled images" in summary.message(3)
    assert json.loads((tmp_path / "pseudo" / MANIFEST).read_text())["masks"] == {}
    samples, summary = PseudoLabeller(images, tmp_path / "pseudo", confidence=0.5).label(checkpoint, "cpu")
    assert len(samples) == 4 and summary.confident == 1.0  # two classes: one of them always reaches 0.5
    assert "labelled 4 of 4 unlabelled images" in summary.message(3)


def test_confident_mask_keeps_only_sure_pixels():
    probabilities = np.array([[[0.95, 0.55], [0.2, 0.05]], [[0.05, 0.45], [0.8, 0.95]]], np.float32)
    assert confident_mask(probabilities, 0.9).tolist() == [[0, IGNORE_INDEX], [IGNORE_INDEX, 1]]
    assert confident_mask(probabilities, 0.5).tolist() == [[0, 0], [1, 1]]


def test_epoch_indices_mix_labels_and_pseudo_labels_reproducibly():
    first = epoch_indices(8, 20, seed=1, epoch=5)
    assert first == epoch_indices(8, 20, seed=1, epoch=5)  # a resumed run draws the same
    assert len(first) == 8 and len(set(first)) == 8
    assert sum(i < 8 for i in first) == 4 and all(i < 28 for i in first)
    drawn = {i for epoch in range(1, 30) for i in epoch_indices(8, 20, seed=1, epoch=epoch)}
    assert drawn == set(range(28))  # over the epochs every pseudo-label is drawn
    assert epoch_indices(1, 5, seed=0, epoch=1)[0] == 0 and len(epoch_indices(1, 5, seed=0, epoch=1)) == 2


def test_pseudo_label_options_are_checked():
    with pytest.raises(ConfigError, match="pseudo_confidence"):
        tiny_config(pseudo_confidence=0.3).validate()
    with pytest.raises(ConfigError, match="pseudo_after"):
        tiny_config(pseudo_after=1.0).validate()



def test_cli_trains_a_project_with_pseudo_labels(project, tmp_path, capsys):
    root = project.root
    args = ["train", "--data", str(root), "--format", "project", "--model", "unet", "--model-arg", "base_channels=8",
            "--epochs", "2", "--batch-size", "2", "--workers", "0", "--pseudo-labels", "--pseudo-confidence", "0.6"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "pseudo-labels: the model labelled 4 of 4 unlabelled images" in out
    run = project.runs()[-1]
    assert TrainConfig.from_dict(run.config).pseudo_labels and (run_dir(project, run) / PSEUDO_DIR / MANIFEST).is_file()
    assert main(["train", "--data", str(root), "--format", "folder", "--out", str(tmp_path / "r"), "--pseudo-labels"]) == 2
    assert "--pseudo-labels needs --format project" in capsys.readouterr().err


def test_many_unlabelled_images_are_sampled_over_the_whole_project():
    chosen = spread(list(range(100)), MAX_IMAGES)  # what the trainer hands the labeller
    assert len(chosen) == len(set(chosen)) == MAX_IMAGES and (chosen[0], chosen[-1]) == (0, 99)
    assert spread(list(range(5)), MAX_IMAGES) == [0, 1, 2, 3, 4]
