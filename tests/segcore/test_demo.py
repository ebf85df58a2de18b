"""The synthetic interferograms and the demo project: reproducible, imbalanced, stored, built atomically."""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pytest

from segcore.cli import demo as demo_cli
from segcore.data.boxes import boxes_to_mask
from segcore.demo import create_demo_project, default_demo_dir, demo_samples, ensure_demo_project, make_interferogram
from segcore.demo import project as demo_project
from segcore.errors import ProjectError
from segcore.project.store import ImageStatus, ProjectStore

SMALL = dict(small=3, large=1, small_size=128, large_size=256)


def test_same_seed_same_frames_other_seed_other_frames():
    first = list(demo_samples(seed=4, **SMALL))
    again = list(demo_samples(seed=4, **SMALL))
    other = list(demo_samples(seed=5, **SMALL))
    for a, b, c in zip(first, again, other):
        assert a.name == b.name and a.box == b.box
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.true_mask, b.true_mask)
        assert not np.array_equal(a.image, c.image)
        assert not np.array_equal(a.true_mask, c.true_mask)


def test_more_frames_keep_the_first_ones():
    few = list(demo_samples(seed=1, small=2, large=0, small_size=128))
    more = list(demo_samples(seed=1, small=3, large=0, small_size=128))
    for a, b in zip(few, more):
        np.testing.assert_array_equal(a.image, b.image)


def test_sizes_bit_depths_and_class_imbalance():
    samples = list(demo_samples(seed=2, **SMALL))
    assert [s.name for s in samples] == ["interferogram_00", "interferogram_01", "interferogram_02", "interferogram_large_00"]
    for sample in samples:
        large = sample.name.startswith("interferogram_large")
        assert sample.image.shape == ((256, 256) if large else (128, 128))
        assert sample.image.dtype == (np.uint16 if large else np.uint8)
        assert sample.true_mask.shape == sample.image.shape and set(np.unique(sample.true_mask)) == {0, 1}
        assert 0.03 <= sample.true_mask.mean() <= 0.12
        # The box holds the whole object, with slack, and is much larger than the object (non-rectangular).
        in_box = boxes_to_mask(sample.true_mask.shape, [sample.box]).astype(bool)
        assert not (sample.true_mask.astype(bool) & ~in_box).any()
        assert sample.true_mask.sum() < 0.85 * in_box.sum()
        # The image has fringes, not flat regions: many gray levels, both inside and outside the sample.
        assert len(np.unique(sample.image)) > (200 if large else 60)


def test_sample_region_differs_from_background():
    image, mask = make_interferogram(256, bit_depth=16, rng=np.random.default_rng(9))
    inside, outside = image[mask == 1].astype(float), image[mask == 0].astype(float)
    assert abs(inside.mean() - outside.mean()) > 0.05 * outside.mean() or abs(inside.std() - outside.std()) > 0.1 * outside.std()
    with pytest.raises(ValueError):
        make_interferogram(64, bit_depth=12, rng=np.random.default_rng(0))


def test_demo_project_has_labelled_and_unlabelled_frames(tmp_path):
    root = create_demo_project(tmp_path / "demo", seed=3, **SMALL)
    truth = {s.name: s for s in demo_samples(seed=3, **SMALL)}
    with ProjectStore.open(root) as store:
        assert store.class_table().names == ["background", "sample"]
        records = store.images()
        assert [r.name for r in records] == list(truth)
        labelled = store.images(ImageStatus.LABELLED)
        assert len(labelled) == 2 and len(store.images(ImageStatus.UNLABELLED)) == 2
        assert any(r.bit_depth == 16 for r in labelled)
        for record in records:
            np.testing.assert_array_equal(store.read_image(record.id), truth[record.name].image)
            annotations = store.annotations(record.id)
            if record in labelled:
                sample = truth[record.name]
                assert len(annotations) == 1 and annotations[0].kind == "box" and annotations[0].class_index == 1
                assert annotations[0].geometry == {"x": sample.box.x, "y": sample.box.y, "w": sample.box.w, "h": sample.box.h}
                np.testing.assert_array_equal(store.load_mask(record.id), boxes_to_mask(sample.image.shape, [sample.box]))
                assert store.mask_revisions(record.id)[0].source == "boxes"
            else:
                assert annotations == [] and store.load_mask(record.id) is None


def test_labelled_count_is_checked(tmp_path):
    with pytest.raises(ValueError):
        create_demo_project(tmp_path / "demo", labelled=5, **SMALL)


def test_default_demo_dir_honours_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGDESK_DATA_DIR", str(tmp_path / "data"))
    assert default_demo_dir() == tmp_path / "data" / "demo"
    monkeypatch.delenv("SEGDESK_DATA_DIR")
    monkeypatch.setattr(demo_project.sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_demo_dir() == tmp_path / "xdg" / "segdesk" / "demo"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_demo_dir() == tmp_path / "home" / ".local" / "share" / "segdesk" / "demo"


def _small_demo(root):
    return ensure_demo_project(root, seed=0, small=2, large=0)


@pytest.fixture()
def tiny_frames(monkeypatch):
    """Make ensure_demo_project's frames 128 px so the tests stay fast."""
    real = demo_project.create_demo_project
    monkeypatch.setattr(demo_project, "create_demo_project", lambda root, **kw: real(root, small_size=128, large_size=256, **kw))


def test_ensure_demo_project_is_idempotent(tmp_path, tiny_frames):
    root = _small_demo(tmp_path / "demo")
    assert ProjectStore.is_project(root)
    db = next(root.glob("*.segdesk"))
    stamp = db.stat().st_mtime_ns
    assert _small_demo(tmp_path / "demo") == root
    assert db.stat().st_mtime_ns == stamp  # found, not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no temp folders left behind


def test_ensure_demo_project_recovers_from_a_killed_build(tmp_path, monkeypatch, tiny_frames):
    root = tmp_path / "demo"
    built = demo_project.create_demo_project

    def killed(partial, **kwargs):
        built(partial, **kwargs)
        raise KeyboardInterrupt  # dies after writing, before the rename

    monkeypatch.setattr(demo_project, "create_demo_project", killed)
    with pytest.raises(KeyboardInterrupt):
        _small_demo(root)
    assert not root.exists() and list(tmp_path.iterdir()) == []

    # A hard kill leaves its partial folder behind: an old one is removed, a fresh one left alone.
    stale = tmp_path / ".demo.partial-dead"
    (stale / "images").mkdir(parents=True)
    (stale / "project.segdesk").write_bytes(b"half")
    old = time.time() - 2 * demo_project.STALE_PARTIAL_S
    os.utime(stale, (old, old))
    fresh = tmp_path / ".demo.partial-live"
    fresh.mkdir()
    monkeypatch.setattr(demo_project, "create_demo_project", built)
    assert _small_demo(root) == root
    with ProjectStore.open(root) as store:
        assert len(store.images()) == 2
    assert not stale.exists() and fresh.exists()


def test_ensure_demo_project_fills_an_empty_folder_and_refuses_a_foreign_one(tmp_path, tiny_frames):
    (tmp_path / "empty").mkdir()
    assert ProjectStore.is_project(_small_demo(tmp_path / "empty"))
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "thesis.tex").write_text("keep me")
    with pytest.raises(ProjectError):
        _small_demo(tmp_path / "demo")
    assert (tmp_path / "demo" / "thesis.tex").read_text() == "keep me"


def test_demo_command_creates_then_finds_the_project(tmp_path, capsys, tiny_frames):
    parser = argparse.ArgumentParser(prog="segcore")
    demo_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    argv = ["demo", "--out", str(tmp_path / "demo"), "--seed", "2", "--small", "2", "--large", "0"]
    for _ in range(2):
        args = parser.parse_args(argv)
        assert args.func(args) == 0
        assert capsys.readouterr().out.strip() == str(tmp_path / "demo")
    with ProjectStore.open(tmp_path / "demo") as store:
        assert [r.name for r in store.images()] == ["interferogram_00", "interferogram_01"]
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--small", "-1"])
