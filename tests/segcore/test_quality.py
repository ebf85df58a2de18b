"""The per-frame quality estimate: views of a frame, their agreement, and a real model's estimates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import square_frame, squares_scene

from segcore.data.transforms.fringes import FRINGE_CHANNELS, SINE_CHANNEL
from segcore.inference.predictor import Predictor
from segcore.inference.quality import CHECK_BELOW, QualityEstimate, View, estimate_quality, quality_views
from segcore.inference.regions import keep_one_region


def _probabilities(*label_maps: np.ndarray, classes: int = 2) -> np.ndarray:
    """V x C x H x W one-hot softmax of each view's labels."""
    return np.stack([np.moveaxis(np.eye(classes, dtype=np.float32)[labels], -1, 0) for labels in label_maps])


def _square(y: int, x: int, side: int = 10, size: int = 32) -> np.ndarray:
    labels = np.zeros((size, size), np.uint8)
    labels[y : y + side, x : x + side] = 1
    return labels


def test_each_view_undoes_its_own_flip_and_negates_only_the_phase_sine():
    x = torch.randn(1, FRINGE_CHANNELS, 5, 7)
    for view in quality_views(fringe=True):
        np.testing.assert_array_equal(view.undo(view.apply(x)[:, :1]).numpy(), x[:, :1].numpy())
    both = View(True, True, negate_phase=True).apply(x)
    assert torch.equal(both[:, SINE_CHANNEL], -x[:, SINE_CHANNEL].flip((-1, -2)))
    assert torch.equal(both[:, SINE_CHANNEL - 1], x[:, SINE_CHANNEL - 1].flip((-1, -2)))  # the cosine: as it was
    assert not any(view.negate_phase for view in quality_views(fringe=False))
    assert quality_views(fringe=True) == (View(), View(True, True, negate_phase=True))  # the frame and its mirror


def test_views_that_agree_estimate_one_and_disagreement_lowers_the_estimate():
    good = _square(8, 8)
    agreeing = estimate_quality(_probabilities(good, good, good, good), good)
    assert agreeing == QualityEstimate(1.0, 1.0) and not agreeing.check
    outline = estimate_quality(_probabilities(good, _square(9, 8), _square(8, 9), good), good)
    elsewhere = estimate_quality(_probabilities(good, _square(20, 20), good, _square(20, 20)), good)
    # the mean IoU of the ten pairs among the prediction and its four views: three good views and two shifted
    # by a pixel (90/110 with a good one, 81/119 with each other); two views elsewhere share nothing with the rest
    assert outline.iou == pytest.approx((3 + 6 * 90 / 110 + 81 / 119) / 10)
    assert elsewhere.iou == pytest.approx(4 / 10)  # one pixel of the outline costs far less than another region
    assert elsewhere.check and elsewhere.agreement == 0.0  # a view that sees the sample elsewhere
    nothing = np.zeros_like(good)
    found_nothing = estimate_quality(_probabilities(nothing, nothing), nothing)  # a missed sample, most often
    assert found_nothing == QualityEstimate(0.0, 0.0) and found_nothing.check
    with pytest.raises(ValueError, match="two views or more"):
        estimate_quality(_probabilities(good), good)


def test_what_the_predictor_tidies_away_costs_nothing_and_a_damaged_prediction_costs():
    good = _square(8, 8)
    speck = good.copy()
    speck[28:30, 28:30] = 1  # a false speck in one view that keeping one region drops
    views = _probabilities(good, speck, good, good)
    assert estimate_quality(views, good, tidy=keep_one_region).iou == 1.0
    assert estimate_quality(views, good).iou < 1.0
    half = good.copy()
    half[8:13] = 0  # the prediction estimated is not what the network sees: half the sample erased
    assert estimate_quality(views, half, tidy=keep_one_region).iou < CHECK_BELOW + 0.1 < 1.0


def test_a_damaged_prediction_gets_a_lower_estimate_than_the_good_one_of_the_same_frame(squares_checkpoint):
    image, truth = squares_scene(96, 128, seed=5)
    predictor = Predictor(squares_checkpoint, mode="whole", precision="fp32", quality=True)
    good = predictor.predict(image)
    assert good.quality is not None and not good.quality.check
    damaged = good.labels.copy()
    damaged[: damaged.shape[0] // 2] = 0  # the top half of the prediction wiped
    damaged[60:90, 5:25] = 1  # and a false region painted in
    worse = predictor.estimate(image, damaged)
    assert worse.iou < good.quality.iou - 0.2 and worse.agreement < good.quality.agreement
    assert predictor.estimate(image, good.labels).iou == pytest.approx(good.quality.iou, abs=1e-6)
    with pytest.raises(ValueError, match="differ in size"):
        predictor.estimate(image, damaged[:10])


def test_a_frame_the_model_was_not_trained_for_gets_a_lower_estimate(squares_checkpoint):
    # The same model on a frame like its training frames and on one whose square is barely brighter than noise.
    rng = np.random.default_rng(11)
    clear, _ = square_frame(rng, 48)
    faint = clear.copy()
    faint[faint >= 150] -= 110  # the square 40 gray levels above the noise's top instead of 150
    predictor = Predictor(squares_checkpoint, mode="whole", precision="fp32", quality=True)
    assert predictor.predict(faint).quality.iou < predictor.predict(clear).quality.iou
    assert Predictor(squares_checkpoint, mode="whole", precision="fp32").predict(clear).quality is None  # asked for only


def test_predict_cli_writes_the_estimates_and_names_the_frames_to_check(squares_checkpoint, tmp_path, capsys):
    import json

    from segcore.cli import main
    from segcore.io.images import write_image
    from segcore.training import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    rng = np.random.default_rng(11)
    clear, _ = square_frame(rng, 48)
    write_image(tmp_path / "seq" / "clear.png", clear)
    write_image(tmp_path / "seq" / "blank.png", np.full((48, 48), 30, np.uint8))  # nothing to find: estimated 0
    for batch in ("1", "2"):  # one image a forward, and both in one batch
        out = tmp_path / f"out{batch}"
        assert main(["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "seq"),
                     "--out", str(out), "--whole", "--quality", "--workers", "0", "--batch-size", batch]) == 0
        quality = json.loads((out / "quality.json").read_text())
        assert quality["blank.png"] == 0.0 and quality["clear.png"] > CHECK_BELOW
        assert "1 below 0.80, to check: blank.png" in capsys.readouterr().out
