"""One region per class, holes filled: what is dropped, what is filled, what is never touched."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from synthetic import squares_scene

from segcore.inference.predictor import Predictor
from segcore.inference.regions import confident_pixels, holds_one_region_per_class, keep_one_region
from segcore.io.images import write_image


def test_each_class_keeps_its_largest_region_with_its_holes_filled():
    labels = np.zeros((40, 60), np.uint8)
    labels[5:25, 5:30] = 1  # the sample, with a hole in it and a speck of class 2 inside the hole
    labels[12:16, 12:18] = 0
    labels[14, 14] = 2
    labels[30:33, 50:53] = 1  # a speck of class 1 elsewhere
    labels[0:40, 58:60] = 1  # a strip along the frame's edge
    labels[28:38, 35:45] = 2  # class 2's own region, with a notch open to the outside (not a hole)
    labels[28:33, 39:41] = 0
    before = labels.copy()
    tidy = keep_one_region(labels)
    expected = labels.copy()
    expected[12:16, 12:18] = 1  # the hole, class 2's speck in it dropped first, is filled
    expected[30:33, 50:53] = 0
    expected[0:40, 58:60] = 0
    np.testing.assert_array_equal(tidy, expected)  # class 2's notch reaches the background: it stays open
    np.testing.assert_array_equal(labels, before)  # a copy: the input is left as it was


def test_a_ring_round_the_middle_wins_over_the_middle_though_its_own_pixels_are_fewer():
    # a network that took a fringe of the sample's dome for its edge: a thin ring and, inside it, the middle
    labels = np.zeros((120, 120), np.uint8)
    cv2.circle(labels, (60, 60), 43, 1, thickness=-1)
    cv2.circle(labels, (60, 60), 40, 0, thickness=-1)
    cv2.circle(labels, (60, 60), 22, 1, thickness=-1)
    ring, middle = _areas(labels)
    assert ring < middle  # by its own pixels the middle is the larger region
    tidy = keep_one_region(labels)
    whole = np.zeros_like(labels)
    cv2.circle(whole, (60, 60), 43, 1, thickness=-1)
    np.testing.assert_array_equal(tidy, whole)  # the ring kept, the middle and the gap its holes, filled


def _areas(labels: np.ndarray) -> list[int]:
    """The pixel counts of class 1's regions, smallest first."""
    count, _, stats, _ = cv2.connectedComponentsWithStats((labels == 1).astype(np.uint8), connectivity=8)
    return sorted(int(area) for area in stats[1:count, cv2.CC_STAT_AREA])


def test_another_class_inside_a_hole_stays_and_the_rest_of_the_hole_fills():
    labels = np.zeros((30, 30), np.uint8)
    labels[5:25, 5:25] = 1
    labels[10:20, 10:20] = 0
    labels[13:17, 13:17] = 2  # class 2's only region
    tidy = keep_one_region(labels)
    assert (tidy[13:17, 13:17] == 2).all() and (tidy[5:25, 5:25] != 0).all()


def test_a_class_absent_or_in_one_region_is_left_as_it_was():
    labels = np.zeros((20, 20), np.uint8)
    np.testing.assert_array_equal(keep_one_region(labels), labels)
    labels[3:9, 3:9] = 1
    np.testing.assert_array_equal(keep_one_region(labels), labels)


def test_given_the_networks_certainty_a_small_sure_region_wins_over_a_wide_doubtful_one():
    # a model taught on big samples: the small sample found for sure, a wide strip along the edge in doubt
    labels = np.zeros((100, 100), np.uint8)
    labels[60:72, 40:52] = 1
    labels[:, :20] = 1
    confident = np.zeros(labels.shape, bool)
    confident[60:72, 40:52] = True
    confident[::20, :20:5] = True  # a few sure pixels in the strip, fewer than the sample's
    expected = np.zeros_like(labels)
    expected[60:72, 40:52] = 1
    np.testing.assert_array_equal(keep_one_region(labels, confident), expected)
    assert (keep_one_region(labels)[:, :20] == 1).all()  # by area alone the strip wins


def test_where_no_region_is_sure_the_largest_with_its_holes_wins():
    labels = np.zeros((60, 60), np.uint8)
    labels[5:45, 5:45] = 1
    labels[15:35, 15:35] = 0  # a frame round a hole: 1200 pixels, 1600 with the hole
    labels[50:58, 50:58] = 1
    confident = np.zeros(labels.shape, bool)
    np.testing.assert_array_equal(keep_one_region(labels, confident), keep_one_region(labels))
    assert (keep_one_region(labels, confident)[5:45, 5:45] == 1).all()


def test_confident_pixels_are_those_whose_class_the_softmax_gives_at_least_nine_tenths():
    probabilities = np.array([[[0.95, 0.5, 0.05]], [[0.05, 0.5, 0.95]]])
    np.testing.assert_array_equal(confident_pixels(probabilities), [[True, False, True]])


def test_the_predictor_keeps_the_region_the_network_is_sure_of(squares_checkpoint):
    scene = (np.random.default_rng(3).random((120, 150)) * 60).astype(np.uint8)
    scene[10:26, 10:28] += 150  # a bright square like those it learnt
    scene[50:110, 60:140] += 100  # a wide patch dimmer than any it learnt: class 1, in doubt
    plain = Predictor(squares_checkpoint, mode="whole", precision="fp32", keep_probabilities=True).predict(scene)
    square, patch = plain.labels[10:26, 10:28] == 1, plain.labels[52:108, 62:138] == 1
    sure = plain.probabilities[1] >= 0.9
    assert square.mean() > 0.9 and patch.mean() > 0.9  # both found, the patch the larger by far
    assert sure[10:26, 10:28].sum() > 2 * sure[52:108, 62:138].sum()  # the square sure, the patch not
    tidy = Predictor(squares_checkpoint, mode="whole", precision="fp32", one_region=True).predict(scene)
    assert (tidy.labels[10:26, 10:28] == 1).mean() > 0.9 and not (tidy.labels[50:110, 60:140] == 1).any()


def test_the_predictor_tidies_the_labels_and_keeps_the_networks_uncertainty(squares_checkpoint):
    image, _ = squares_scene(120, 150, seed=5)  # six bright squares: six regions of class 1
    plain = Predictor(squares_checkpoint, mode="whole", precision="fp32", keep_probabilities=True).predict(image)
    tidy = Predictor(squares_checkpoint, mode="whole", precision="fp32", one_region=True).predict(image)
    np.testing.assert_array_equal(tidy.labels, keep_one_region(plain.labels, confident_pixels(plain.probabilities)))
    assert (plain.labels == 1).sum() > (tidy.labels == 1).sum() > 0  # the other squares are gone
    np.testing.assert_array_equal(tidy.uncertainty, plain.uncertainty)


def test_predict_cli_one_region_writes_one_square_of_six(squares_checkpoint, tmp_path):
    from segcore.cli import main
    from segcore.data.masks import read_index_mask
    from segcore.training import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    write_image(tmp_path / "in" / "six.png", squares_scene(120, 150, seed=5)[0])
    for flag, out in (([], "plain"), (["--one-region"], "tidy")):
        assert main(["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "in"),
                     "--out", str(tmp_path / out), "--whole", "--workers", "0", "--precision", "fp32", *flag]) == 0
    plain = read_index_mask(tmp_path / "plain" / "palette" / "six.png")
    tidy = read_index_mask(tmp_path / "tidy" / "palette" / "six.png")
    assert cv2.connectedComponents((plain == 1).astype(np.uint8))[0] - 1 > 1  # background counts as one
    assert cv2.connectedComponents((tidy == 1).astype(np.uint8))[0] - 1 == 1
    _, regions = cv2.connectedComponents((plain == 1).astype(np.uint8))
    assert len(np.unique(regions[tidy == 1])) == 1 and (plain[tidy == 1] == 1).all()  # one of the six, kept whole
    assert (regions == regions[tidy == 1][0]).sum() == (tidy == 1).sum()


def test_a_checkpoint_trained_for_one_region_tidies_unless_a_prediction_declines(squares_checkpoint, tmp_path):
    from segcore.training import save_checkpoint
    from segcore.training.checkpoint import checkpoint_config

    image, _ = squares_scene(120, 150, seed=5)
    plain = Predictor(squares_checkpoint, mode="whole", precision="fp32").predict(image).labels
    assert cv2.connectedComponents((plain == 1).astype(np.uint8))[0] - 1 > 1  # trained without it: all squares
    one = dataclasses.replace(squares_checkpoint, config={**squares_checkpoint.config, "one_region": True})
    tidy = Predictor(one, mode="whole", precision="fp32")
    assert tidy.method == ("one region",)
    np.testing.assert_array_equal(tidy.predict(image).labels, keep_one_region(plain))
    declined = Predictor(one, mode="whole", precision="fp32", one_region=False)
    np.testing.assert_array_equal(declined.predict(image).labels, plain)

    path = save_checkpoint(tmp_path / "one.pt", one)
    assert checkpoint_config(path)["one_region"] is True  # read without loading the weights
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert checkpoint_config(tmp_path / "junk.pt") == {} == checkpoint_config(tmp_path / "missing.pt")


def test_predict_cli_follows_the_checkpoint_and_no_one_region_declines(squares_checkpoint, tmp_path):
    from segcore.cli import main
    from segcore.data.masks import read_index_mask
    from segcore.training import save_checkpoint

    one = dataclasses.replace(squares_checkpoint, config={**squares_checkpoint.config, "one_region": True})
    save_checkpoint(tmp_path / "one.pt", one)
    write_image(tmp_path / "in" / "six.png", squares_scene(120, 150, seed=5)[0])
    squares = {}
    for flag, out in (([], "default"), (["--no-one-region"], "declined")):
        assert main(["predict", "--checkpoint", str(tmp_path / "one.pt"), "--input", str(tmp_path / "in"),
                     "--out", str(tmp_path / out), "--whole", "--workers", "0", "--precision", "fp32", *flag]) == 0
        labels = read_index_mask(tmp_path / out / "palette" / "six.png")
        squares[out] = cv2.connectedComponents((labels == 1).astype(np.uint8))[0] - 1
    assert squares["default"] == 1 < squares["declined"]


def test_holds_one_region_per_class_counts_as_keep_one_region_does():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:6, 2:6] = 1
    labels[10:14, 10:14] = 2
    labels[0, 19] = labels[19, 0] = 255  # ignored pixels are no class, whatever their regions
    assert holds_one_region_per_class(labels, classes=3)
    labels[6, 6] = 1  # touches the square at a corner: 8-connected, still one region
    assert holds_one_region_per_class(labels, classes=3)
    labels[16:18, 2:4] = 1
    assert not holds_one_region_per_class(labels, classes=3)
    assert holds_one_region_per_class(keep_one_region(labels), classes=3)
