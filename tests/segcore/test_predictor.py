"""The predictor on a really trained tiny model: modes, seams, sizes, precision, folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import squares_scene, write_squares_dataset

import segcore.inference.predictor as predictor_module
from segcore.data.readers import open_dataset
from segcore.inference.fold import fold_batchnorm
from segcore.inference.memory import choose_tiling
from segcore.inference.predictor import Predictor
from segcore.inference.tiling import blend_window, tile_grid
from segcore.io.images import write_image
from segcore.models import get_model
from segcore.training import TrainConfig, Trainer, load_checkpoint, prepare


def test_tiles_cover_the_image_and_blend_weights_are_smooth():
    tiles = tile_grid(300, 260, 128, 0.25)
    covered = np.zeros((300, 260), int)
    for t in tiles:
        covered[t.y : t.y + t.h, t.x : t.x + t.w] += 1
    assert covered.min() >= 1 and tiles[-1].y + tiles[-1].h == 300 and tiles[-1].x + tiles[-1].w == 260
    window = blend_window(128, 128, 0.25)
    assert window[64, 64] == 1 and 0 < window[0, 0] < 0.01 and torch.all(window[64, :64].diff() >= 0)


def test_whole_tiled_and_resized_predictions(squares_checkpoint):
    image, truth = squares_scene(203, 317)
    whole = Predictor(squares_checkpoint, mode="whole", precision="fp32").predict(image)
    tiled = Predictor(squares_checkpoint, mode="tile", tile=64, overlap=0.25, precision="fp32").predict(image)
    small = Predictor(squares_checkpoint, resize=0.5, precision="fp32").predict(image)
    for result in (whole, tiled, small):
        assert result.labels.shape == truth.shape and result.labels.dtype == np.uint8
        iou = ((result.labels == 1) & (truth == 1)).sum() / ((result.labels == 1) | (truth == 1)).sum()
        assert iou > 0.8, (result.mode, iou)
        assert 0 <= result.uncertainty.min() and result.uncertainty.max() <= 1 and 0 <= result.score <= 1
    assert tiled.mode == "tile" and whole.mode == "whole"
    assert (whole.labels == tiled.labels).mean() > 0.99


def test_no_seam_on_an_image_of_one_class(squares_checkpoint):
    image = np.full((260, 390), 30, np.uint8)  # all background
    whole = Predictor(squares_checkpoint, mode="whole", precision="fp32", keep_probabilities=True).predict(image)
    tiled = Predictor(squares_checkpoint, mode="tile", tile=64, overlap=0.25, precision="fp32",
                      keep_probabilities=True).predict(image)
    assert (whole.labels == 0).all()
    np.testing.assert_array_equal(tiled.labels, whole.labels)
    # No tile boundary shows in the blended probabilities either.
    assert np.abs(tiled.probabilities - whole.probabilities).max() < 0.05


def test_16_bit_input_and_tta_and_probabilities(squares_checkpoint):
    image, truth = squares_scene(150, 170, seed=3)
    image16 = image.astype(np.uint16) * 257  # the same scene on the 16-bit scale
    predictor = Predictor(squares_checkpoint, mode="whole", precision="fp32", tta=True, keep_probabilities=True)
    result = predictor.predict(image16)
    assert result.probabilities.shape == (2, 150, 170)
    np.testing.assert_allclose(result.probabilities.sum(0), 1, atol=1e-5)
    np.testing.assert_array_equal(result.labels, result.probabilities.argmax(0))
    assert (result.labels == predictor.predict(image).labels).mean() > 0.99


@pytest.mark.parametrize(("threshold", "kept"), [(0.0, True), (1.01, False)])
def test_bf16_is_kept_only_when_it_agrees_with_fp32(squares_checkpoint, monkeypatch, threshold, kept):
    monkeypatch.setattr(predictor_module, "BF16_AGREEMENT", threshold)
    predictor = Predictor(squares_checkpoint, mode="whole", precision="auto")
    predictor.amp_dtype, predictor._watch_bf16 = torch.bfloat16, True  # as on a bf16-capable CPU
    predictor.predict(squares_scene(64, 64)[0])
    assert (predictor.amp_dtype == torch.bfloat16) is kept
    assert 0.9 < predictor.bf16_agreement <= 1


def test_bf16_is_checked_on_several_images_and_dropped_when_a_later_one_disagrees(squares_checkpoint, monkeypatch):
    predictor = Predictor(squares_checkpoint, mode="whole", precision="auto")
    predictor.amp_dtype, predictor._watch_bf16 = torch.bfloat16, True  # as on a bf16-capable CPU
    real, calls = predictor._logits, []

    def logits(x, mode):  # bf16 goes wrong on the third image only
        calls.append(predictor.amp_dtype)
        out = real(x, mode)
        return -out if predictor.amp_dtype is not None and predictor._images_done == 2 else out

    monkeypatch.setattr(predictor, "_logits", logits)
    images = [squares_scene(48, 48, seed=i)[0] for i in range(3)]
    for image in images[:2]:
        predictor.predict(image)
    assert predictor.amp_dtype == torch.bfloat16 and len(calls) == 4  # both checked: one extra forward each
    labels = predictor.predict(images[2]).labels
    assert predictor.amp_dtype is None and predictor.bf16_agreement < 0.5  # fp32 from here on
    fp32 = Predictor(squares_checkpoint, mode="whole", precision="fp32")
    np.testing.assert_array_equal(labels, fp32.predict(images[2]).labels)


def test_bf16_checks_stay_cheap_after_the_first_images(squares_checkpoint, monkeypatch):
    monkeypatch.setattr(predictor_module, "BF16_AGREEMENT", 0.0)
    predictor = Predictor(squares_checkpoint, mode="whole", precision="auto")
    predictor.amp_dtype, predictor._watch_bf16 = torch.bfloat16, True
    real, calls = predictor._logits, []
    monkeypatch.setattr(predictor, "_logits", lambda x, mode: calls.append(1) or real(x, mode))
    image = squares_scene(32, 32)[0]
    for _ in range(3 + predictor_module.BF16_CHECK_EVERY):
        predictor.predict(image)
    assert len(calls) == 3 + predictor_module.BF16_CHECK_EVERY + 4  # checks on images 1, 2, 3 and 28


def test_batchnorm_folding_keeps_outputs():
    torch.manual_seed(0)
    model = get_model("fcn_resnet18", num_classes=3, in_channels=1).eval()
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(1, 1, 67, 45)
    with torch.no_grad():
        before = model(x)["out"]
        assert fold_batchnorm(model) == 20
        after = model(x)["out"]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_tiling_is_chosen_from_memory():
    model = get_model("unet", num_classes=2, in_channels=1, base_channels=8).eval()
    tile, batch = choose_tiling(model, 1, 16, torch.device("cpu"))
    assert tile % 16 == 0 and 256 <= tile <= 2048 and batch == 1


def test_predict_folder_in_order_with_a_bad_file(squares_checkpoint, tmp_path):
    from segcore.inference.folder import list_images, predict_folder

    for i in range(4):
        write_image(tmp_path / "in" / f"frame_{i}.png", squares_scene(96, 80, seed=i)[0])
    (tmp_path / "in" / "frame_9.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    paths = list_images(tmp_path / "in")
    predictor = Predictor(squares_checkpoint, mode="whole", precision="fp32")
    results = list(predict_folder(predictor, paths, tmp_path / "out", ["palette"], batch_size=2, workers=0))
    assert [r.path.name for r in results] == [p.name for p in paths]
    assert [r.error is not None for r in results] == [False] * 4 + [True]
    assert "frame_9.png" in results[-1].error
    for r in results[:4]:
        assert r.files and all(f.is_file() for f in r.files)


def test_predict_folder_gives_the_reader_thread_a_core_and_the_cores_back(squares_checkpoint, tmp_path):
    """With no worker processes on a CPU, the model runs on one thread fewer while the reader thread decodes beside
    it; the thread counts are as they were afterwards."""
    import cv2
    import torch

    from segcore.inference.folder import list_images, predict_folder

    for i in range(2):
        write_image(tmp_path / "in" / f"frame_{i}.png", squares_scene(64, 64, seed=i)[0])
    predictor = Predictor(squares_checkpoint, mode="whole", precision="fp32", device="cpu")
    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(2)
    try:
        during = [torch.get_num_threads() for _ in predict_folder(predictor, list_images(tmp_path / "in"),
                                                                   tmp_path / "out", [], workers=0)]
        assert during == [1, 1] and torch.get_num_threads() == 2 and cv2.getNumThreads() == cv2_threads
    finally:
        torch.set_num_threads(threads)


def test_predict_cli_exports_and_scores(squares_checkpoint, tmp_path, capsys):
    import json

    from segcore.cli import main
    from segcore.data.masks import read_index_mask
    from segcore.training import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", squares_checkpoint)
    for i in range(3):
        write_image(tmp_path / "seq" / f"t{i}.png", squares_scene(120, 90, seed=i)[0])
    rc = main(["predict", "--checkpoint", str(tmp_path / "model.pt"), "--input", str(tmp_path / "seq"),
               "--out", str(tmp_path / "out"), "--tile", "64", "--tta", "--sequence-mean", "--workers", "0",
               "--export", "palette,color,overlay,labelme,probs"])
    assert rc == 0
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert sorted(scores) == ["t0.png", "t1.png", "t2.png"]
    assert read_index_mask(tmp_path / "out" / "palette" / "t1.png").shape == (120, 90)
    for folder, suffix in (("color", ".png"), ("overlay", ".png"), ("labelme", ".json"), ("probs", ".npy")):
        assert (tmp_path / "out" / folder / f"t0{suffix}").is_file(), folder
    assert "predicted 3 of 3 images" in capsys.readouterr().out


def test_a_frame_three_times_larger_and_16_bit_is_predicted_at_the_trained_scale(tmp_path):
    """Trained on 48 px 8-bit frames with a per-frame long side and percentile intensities (the grayscale
    defaults), a 144 px 16-bit frame of the same scene is seen exactly as the small one was."""
    root = write_squares_dataset(tmp_path / "squares", n=24, size=48)
    config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=20, batch_size=4, lr=1e-2,
                         augment={"resize": 48, "intensity": "percentile"})
    finished = Trainer(config, prepare(open_dataset("folder", root), 0.2, 0), tmp_path / "run").fit()
    assert finished.best_miou > 0.9
    predictor = Predictor(load_checkpoint(tmp_path / "run" / "best.pt"), precision="fp32")
    image, truth = squares_scene(48, 48, seed=3)
    big = np.kron(image.astype(np.uint16) * 200, np.ones((3, 3), np.uint16))  # 3x the pixels, 16-bit
    big_truth = np.kron(truth, np.ones((3, 3), np.uint8))
    assert tuple(predictor.preprocess(big).shape) == (1, 48, 48)
    torch.testing.assert_close(predictor.preprocess(big), predictor.preprocess(image), atol=2e-3, rtol=0)
    result = predictor.predict(big)
    assert result.labels.shape == (144, 144)
    iou = ((result.labels == 1) & (big_truth == 1)).sum() / ((result.labels == 1) | (big_truth == 1)).sum()
    assert iou > 0.8


def test_batched_logits_upsampled_to_the_frame_stay_class_last(squares_checkpoint, monkeypatch):
    """predict_batch upsamples each image's logits to its frame: they must reach the argmax class-last (a class-first
    layout made it ~6x slower on a 3072 frame, bench_sequence.py)."""
    import torch

    layouts = []
    finish = Predictor._finish

    def spy(self, logits, mode, quality=None):
        layouts.append(logits.permute(1, 2, 0).is_contiguous())
        return finish(self, logits, mode, quality)

    monkeypatch.setattr(Predictor, "_finish", spy)
    predictor = Predictor(squares_checkpoint, mode="whole", precision="fp32", resize=32)
    image = squares_scene(64, 64, seed=1)[0]
    batch = torch.stack([predictor.preprocess(image)] * 2)
    predictions = predictor.predict_batch(batch, [(64, 64), (64, 64)])
    assert layouts == [True, True] and all(p.labels.shape == (64, 64) for p in predictions)
    assert (predictions[0].labels == predictor.predict(image).labels).all()
