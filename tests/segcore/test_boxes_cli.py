"""`segcore boxes-to-masks` end to end on real PNG files: both box forms, refinement, errors."""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pytest

from segcore.cli import boxes as boxes_cli
from segcore.cli import main
from segcore.data.classes import read_labels_file
from segcore.data.masks import read_index_mask
from segcore.demo import demo_samples
from segcore.errors import DatasetError
from segcore.io.images import write_image


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="segcore")
    boxes_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["boxes-to-masks", *argv])
    return args.func(args)


@pytest.fixture()
def images(tmp_path):
    folder = tmp_path / "images"
    write_image(folder / "flat.png", np.full((40, 60), 100, np.uint8))
    write_image(folder / "rgb16.tif", np.full((30, 50, 3), 30000, np.uint16))
    return folder


def _boxes_file(tmp_path, data) -> str:
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_bare_and_classed_boxes(tmp_path, images, capsys):
    boxes = _boxes_file(
        tmp_path,
        {
            "classes": ["background", "sample", "dust"],
            "boxes": {"flat.png": [5, 10, 20, 15], "rgb16.tif": [[0, 0, 50, 30, "sample"], [40, 20, 5.0, 5, "dust"]]},
        },
    )
    out = tmp_path / "masks"
    assert _run("--images", str(images), "--boxes", boxes, "--out", str(out)) == 0
    assert "2 mask(s)" in capsys.readouterr().out
    flat = read_index_mask(out / "flat.png")
    expected = np.zeros((40, 60), np.uint8)
    expected[10:25, 5:25] = 1  # a bare box is the first non-background class
    np.testing.assert_array_equal(flat, expected)
    rgb = read_index_mask(out / "rgb16.png")
    assert rgb.shape == (30, 50)
    assert (rgb[20:25, 40:45] == 2).all()  # the small box stays on top of the large one
    assert (rgb == 1).sum() == 50 * 30 - 25 and not (rgb == 0).any()
    assert read_labels_file(out / "classes.txt").names == ["background", "sample", "dust"]


def test_labels_file_gives_classes_and_colours(tmp_path, images):
    labels = tmp_path / "labels.txt"
    labels.write_text("background 0 0 0\nsample 255 0 0\n")
    boxes = _boxes_file(tmp_path, {"boxes": {"flat.png": [[1, 1, 10, 10, "sample"]]}})
    out = tmp_path / "masks"
    assert _run("--images", str(images), "--boxes", boxes, "--out", str(out), "--labels", str(labels)) == 0
    table = read_labels_file(out / "classes.txt")
    assert table.names == ["background", "sample"] and table.colors[1] == (255, 0, 0)
    assert (read_index_mask(out / "flat.png") == 1).sum() == 100


def test_a_refinement_warning_names_its_image(tmp_path, caplog):
    sample = next(iter(demo_samples(seed=11, small=1, large=0, small_size=384)))
    folder = tmp_path / "frames"
    write_image(folder / "hasty 50%s.png", sample.image)  # a "%" in the name must not break the message
    b = sample.box  # 30 % of its side wider on every side: the outline stops short of it
    hasty = [b.x - b.w * 3 // 10, b.y - b.h * 3 // 10, b.w * 16 // 10, b.h * 16 // 10]
    boxes = _boxes_file(tmp_path, {"classes": ["background", "sample"], "boxes": {"hasty 50%s.png": hasty}})
    with caplog.at_level(logging.WARNING):
        assert _run("--images", str(folder), "--boxes", boxes, "--out", str(tmp_path / "m"), "--refine") == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "segcore.data.refine"]
    assert len(lines) == 1 and lines[0].startswith("hasty 50%s.png: refining box (x=") and "check it" in lines[0]


def test_refine_tightens_boxes_to_the_objects(tmp_path):
    folder = tmp_path / "images"
    samples = list(demo_samples(seed=8, small=2, large=0, small_size=256))
    entries = {}
    for s in samples:
        write_image(folder / f"{s.name}.png", s.image)
        entries[f"{s.name}.png"] = [s.box.x, s.box.y, s.box.w, s.box.h]
    boxes = _boxes_file(tmp_path, {"classes": ["background", "sample"], "boxes": entries})
    for refine_flag, out in (([], tmp_path / "plain"), (["--refine"], tmp_path / "refined")):
        assert _run("--images", str(folder), "--boxes", boxes, "--out", str(out), *refine_flag) == 0
    for s in samples:
        truth = s.true_mask.astype(bool)
        plain = read_index_mask(tmp_path / "plain" / f"{s.name}.png") == 1
        refined = read_index_mask(tmp_path / "refined" / f"{s.name}.png") == 1
        iou = lambda m: (m & truth).sum() / (m | truth).sum()  # noqa: E731
        assert iou(refined) > iou(plain) + 0.1
        assert not (refined & ~plain).any()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"classes": ["background", "sample"], "boxes": {"missing.png": [0, 0, 5, 5]}}, "missing.png"),
        ({"classes": ["background", "sample"], "boxes": {"flat.png": [[0, 0, 5, 5, "cat"]]}}, "unknown class 'cat'"),
        ({"classes": ["background", "sample"], "boxes": {"flat.png": [0, 0, 5]}}, "malformed box"),
        ({"classes": ["background", "sample"], "boxes": {"flat.png": [[0, 0, 5, 5, 1]]}}, "not a class name"),
        ({"classes": ["background", "sample"], "boxes": {"flat.png": [0, 0, 0, 5]}}, "no area"),
        ({"classes": ["background", "sample"], "boxes": {"flat.png": "0 0 5 5"}}, "expected [x, y, w, h]"),
        ({"classes": ["background", "sample"], "boxes": {"flat.png": [500, 500, 5, 5]}}, "outside"),
        ({"classes": ["background"], "boxes": {}}, "at least one object class"),
        ({"classes": "background, sample", "boxes": {}}, "list of class names"),
        ({"boxes": {"flat.png": [0, 0, 5, 5]}}, "no 'classes'"),
        ({"classes": ["background", "sample"]}, "'boxes' object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_errors_are_clear(tmp_path, images, data, message):
    boxes = _boxes_file(tmp_path, data)
    with pytest.raises(DatasetError) as info:
        _run("--images", str(images), "--boxes", boxes, "--out", str(tmp_path / "masks"))
    assert message in str(info.value)


def test_missing_images_fail_before_any_mask_is_written(tmp_path, images):
    boxes = _boxes_file(tmp_path, {"classes": ["background", "sample"], "boxes": {"flat.png": [0, 0, 5, 5], "nope.png": [0, 0, 5, 5]}})
    with pytest.raises(DatasetError, match="nope.png"):
        _run("--images", str(images), "--boxes", boxes, "--out", str(tmp_path / "masks"))
    assert not (tmp_path / "masks").exists()


def test_labels_that_disagree_with_the_json_classes(tmp_path, images):
    labels = tmp_path / "labels.txt"
    labels.write_text("background\nsample\n")
    boxes = _boxes_file(tmp_path, {"classes": ["background", "cell"], "boxes": {}})
    with pytest.raises(DatasetError, match="differ"):
        _run("--images", str(images), "--boxes", boxes, "--out", str(tmp_path / "m"), "--labels", str(labels))


def test_through_the_segcore_command(tmp_path, images, capsys):
    good = _boxes_file(tmp_path, {"classes": ["background", "sample"], "boxes": {"flat.png": [0, 0, 5, 5]}})
    assert main(["boxes-to-masks", "--images", str(images), "--boxes", good, "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "flat.png").is_file()
    bad = _boxes_file(tmp_path, {"classes": ["background", "sample"], "boxes": {"gone.png": [0, 0, 5, 5]}})
    assert main(["boxes-to-masks", "--images", str(images), "--boxes", bad, "--out", str(tmp_path / "m")]) == 1
    assert "gone.png" in capsys.readouterr().err
