"""Default training settings per kind of project, checked on real (small) projects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segcore.data.classes import ClassTable
from segcore.data.transforms import AugmentConfig
from segcore.errors import ProjectError
from segcore.project.defaults import (
    MIN_IMAGES_FOR_VAL,
    Pretrained,
    default_config,
    ensure_mean_image,
    mean_image_path,
    one_object_per_class,
    pretrained_status,
    project_profile,
    split_counts,
)
from segcore.project.runs import train_project
from segcore.project.store import ProjectStore
from segcore.training.events import EpochMetrics, Finished

BINARY = ClassTable.from_names(["background", "fringe defect"])


def _add_labelled(store: ProjectStore, count: int, image_fn, start: int = 0) -> None:
    rng = np.random.default_rng(start)
    for i in range(start, start + count):
        image = image_fn(rng)
        mask = np.zeros(image.shape[:2], np.uint8)
        mask[4:12, 6:14] = 1
        record = store.add_image_array(f"img{i:02d}", image)
        store.save_mask(record.id, mask)


@pytest.fixture()
def interferograms(tmp_path: Path):
    """Two big 16-bit frames (one labelled): the interferometer case."""
    with ProjectStore.create(tmp_path / "ifg", BINARY) as store:
        frame = np.zeros((1536, 2048), np.uint16)
        labelled = store.add_image_array("frame0", frame)
        store.add_image_array("frame1", frame + 100)
        mask = np.zeros(frame.shape, np.uint8)
        mask[:50, :50] = 1
        store.save_mask(labelled.id, mask)
        yield store


def test_grayscale_16bit_big_frames_get_a_fast_binary_setup(interferograms):
    profile = project_profile(interferograms)
    assert profile.grayscale and profile.high_bit_depth and profile.long_side == 2048 and profile.labelled == 1
    config = default_config(interferograms, device="cpu")
    assert (config.model, config.model_kwargs, config.pretrained_backbone) == ("unet", {"base_channels": 16, "norm": "instance"}, False)
    assert (config.loss, config.class_weights) == ("ce+dice", "none")
    assert config.cpu_bf16  # twice the epochs in the CPU budget where the CPU computes bf16 natively
    assert config.augment["resize"] == 384 and config.augment["crop"] == 256  # 2048 -> 384 x 288, then 256 crops
    assert config.augment["vflip"] == 0.5 and config.augment["rotation"] == 180
    assert config.augment["intensity"] == "percentile"
    assert config.augment["invert"] == 0.5  # samples brighter and darker than their surroundings
    assert config.augment["fringe_features"] and config.augment["phase_sign"] == 0.5  # either sign of the phase
    assert config.val_fraction == 0.0 and config.batch_size == 1  # one labelled frame: it all trains
    assert config.epochs == 400 and config.time_budget_s == 240  # few images: short epochs, the budget ends the run


def test_small_grayscale_project_trains_out_of_the_box(tmp_path):
    with ProjectStore.create(tmp_path / "small", BINARY) as store:
        _add_labelled(store, 8, lambda rng: (rng.random((32, 32)) * 255).astype(np.uint8))
        config = default_config(store, device="cpu")
        assert config.augment["crop"] == 32 and "resize" not in config.augment  # small: crops of the whole frame
        assert config.augment["intensity"] == "percentile" and config.augment["scale_range"] == [0.7, 1.4]
        assert config.val_fraction == 0.0 and split_counts(store, config.val_fraction) == (8, 0)  # few: all train
        assert config.batch_size == 4  # 8 training images: two full batches an epoch
        config.epochs = 2  # the defaults themselves; only shorter
        events = list(train_project(store, config))
    assert isinstance(events[-1], Finished) and sum(isinstance(e, EpochMetrics) for e in events) == 2


def test_a_project_mixing_frame_sizes_sees_every_frame_at_one_scale(tmp_path):
    with ProjectStore.create(tmp_path / "mixed", BINARY) as store:
        small = store.add_image_array("small", np.full((1024, 1024), 40, np.uint8))
        store.add_image_array("large", np.full((3072, 3072), 9000, np.uint16))
        store.save_mask(small.id, np.zeros((1024, 1024), np.uint8))
        config = default_config(store, device="cpu")
    # Each frame's own long side becomes one size: the 1024 and the 3072 frame of one field look alike.
    side = config.augment["resize"]
    assert isinstance(side, int) and side <= 1024 and config.augment["crop"] == 256
    pipeline = AugmentConfig.from_dict(config.augment).build(train=False)
    sizes = {tuple(pipeline(np.zeros((s, s), dtype), None)[0].shape[1:]) for s, dtype in
             ((1024, np.uint8), (3072, np.uint16))}
    assert sizes == {(side, side)}


@pytest.mark.parametrize("period, side", [(0.04, 384), (0.017, 480), (0.01, 800)])
def test_the_working_side_keeps_a_fringe_eight_pixels_wide(tmp_path, period, side):
    yy, xx = np.mgrid[0:1024, 0:1024]
    fringes = (120 + 100 * np.cos(2 * np.pi * (xx * 0.8 + yy * 0.6) / (period * 1024))).astype(np.uint8)
    with ProjectStore.create(tmp_path / "p", BINARY) as store:
        for i in range(3):
            store.add_image_array(f"f{i}", np.roll(fringes, i, axis=1))
        profile = project_profile(store)
        config = default_config(store, device="cpu")
    assert profile.fringe_period == pytest.approx(period, rel=0.1)
    assert config.augment["resize"] == side and config.augment["fringe_features"]


def test_percentile_intensities_make_8_and_16_bit_frames_alike():
    rng = np.random.default_rng(0)
    frame8 = rng.integers(20, 230, (64, 64), dtype=np.uint8)
    frame12 = frame8.astype(np.uint16) * 16  # the same exposure from a 12-bit camera in a 16-bit file
    full_scale = AugmentConfig(intensity="full_scale").build(train=False)
    percentile = AugmentConfig(intensity="percentile").build(train=False)
    differ = full_scale(frame8, None)[0] - full_scale(frame12, None)[0]
    assert float(differ.abs().mean()) > 0.3  # by bit depth, the 12-bit frame is ~16x darker
    np.testing.assert_allclose(percentile(frame8, None)[0].numpy(), percentile(frame12, None)[0].numpy(), atol=1e-5)


def test_rgb_many_class_project_gets_a_resnet_with_cross_entropy(tmp_path):
    table = ClassTable.from_names(["background", "road", "car", "tree", "sky"])
    with ProjectStore.create(tmp_path / "rgb", table) as store:
        _add_labelled(store, 12, lambda rng: (rng.random((48, 64, 3)) * 255).astype(np.uint8))
        store.add_image_array("bigger", np.zeros((1500, 2000, 3), np.uint8))
        config = default_config(store, device="cpu")
    assert config.model == "fcn_resnet18" and config.loss == "ce" and config.class_weights == "sqrt_median_freq"
    assert config.cpu_bf16  # used only where the CPU computes bf16 natively
    assert config.pretrained_backbone is (pretrained_status("fcn_resnet18")[0] is Pretrained.CACHED)
    assert config.augment["resize"] == 0.512  # one factor for all sizes: the largest frame's long side -> 1024
    assert config.augment["crop"] == 32 and config.augment["scale_range"] == [0.5, 2.0]  # sizes differ: crop
    assert config.batch_size == 4 and config.epochs == 400 and config.val_fraction == 0.0  # 12 labelled: all train
    assert config.one_region  # each frame's one labelled square: one object per class
    assert "invert" not in config.augment  # colours are not mirrored: a scene's sky is not dark
    assert "phase_sign" not in config.augment and not config.augment.get("fringe_features")  # no fringes to analyse


def test_predictions_keep_one_region_when_every_labelled_frame_holds_one_object(tmp_path):
    with ProjectStore.create(tmp_path / "boxes", BINARY) as store:
        frame = lambda rng: (rng.random((32, 32)) * 255).astype(np.uint8)  # noqa: E731
        store.add_image_array("unlabelled", frame(np.random.default_rng(9)))
        assert not default_config(store, device="cpu").one_region  # nothing labelled: nothing known
        _add_labelled(store, 3, frame)  # one square of class 1 each, as refined boxes give
        assert one_object_per_class(store) and default_config(store, device="cpu").one_region
        two = store.add_image_array("two samples", frame(np.random.default_rng(7)))
        mask = np.zeros((32, 32), np.uint8)
        mask[2:8, 2:8] = mask[20:28, 20:28] = 1
        store.save_mask(two.id, mask)
        assert not one_object_per_class(store) and not default_config(store, device="cpu").one_region


def test_validation_holds_out_a_fifth_from_sixteen_labelled_images(tmp_path):
    with ProjectStore.create(tmp_path / "p", BINARY) as store:
        _add_labelled(store, MIN_IMAGES_FOR_VAL - 1, lambda rng: (rng.random((32, 32)) * 255).astype(np.uint8))
        assert default_config(store, device="cpu").val_fraction == 0.0
        _add_labelled(store, 1, lambda rng: (rng.random((32, 32)) * 255).astype(np.uint8), start=MIN_IMAGES_FOR_VAL)
        config = default_config(store, device="cpu")
        assert config.val_fraction == 0.2 and split_counts(store, config.val_fraction) == (13, 3)


def test_pretrained_status_never_downloads():
    assert pretrained_status("unet")[0] is Pretrained.UNSUPPORTED
    status, message = pretrained_status("fcn_resnet18")
    assert status in (Pretrained.MISSING, Pretrained.CACHED)
    if status is Pretrained.MISSING:
        assert "cache" in message


def test_mean_image_is_computed_once_per_image_set(tmp_path):
    with ProjectStore.create(tmp_path / "mean", BINARY) as store:
        store.add_image_array("a", np.full((8, 8), 10, np.uint16))
        store.add_image_array("b", np.full((8, 8), 30, np.uint16))
        path = ensure_mean_image(store)
        np.testing.assert_allclose(np.load(path), 20.0)
        assert ensure_mean_image(store) == path
        store.add_image_array("c", np.full((8, 8), 50, np.uint16))
        assert mean_image_path(store) != path  # the old file stays for runs that used it
        np.testing.assert_allclose(np.load(ensure_mean_image(store)), 30.0)
        store.add_image_array("odd", np.zeros((4, 4), np.uint16))
        with pytest.raises(ProjectError, match="share one size"):
            ensure_mean_image(store)
