"""Training on mixed data: gray and colour (RGBA) frames, frames of different sizes without a crop."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.readers import open_dataset
from segcore.data.torch_dataset import pad_collate
from segcore.data.transforms import ToChannels
from segcore.inference.predictor import Predictor
from segcore.io.images import write_image
from segcore.training import TrainConfig, Trainer, load_checkpoint, prepare
from segcore.training.data import channel_notes, choose_channels
from segcore.training.evaluate import evaluate
from segcore.training.events import BatchProgress, Finished, RunStarted


def frame(rng: np.random.Generator, height: int, width: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A noisy frame with one bright rectangle (class 1): 'gray' (H x W) or 'rgba' (colour noise, opaque)."""
    mask = np.zeros((height, width), np.uint8)
    y, x = rng.integers(2, height // 2), rng.integers(2, width // 2)
    mask[y : y + height // 3, x : x + width // 3] = 1
    if kind == "gray":
        image = (rng.random((height, width)) * 60).astype(np.uint8)
        image[mask == 1] += 150
        return image, mask
    image = (rng.random((height, width, 4)) * 60).astype(np.uint8)
    image[mask == 1, :3] += np.array([150, 120, 90], np.uint8)
    image[..., 3] = 255
    return image, mask


def write_dataset(root: Path, frames: list[tuple[str, tuple[int, int]]]) -> Path:
    """A folder dataset with one frame per (kind, (height, width)), written as real PNG files."""
    rng = np.random.default_rng(0)
    for i, (kind, (height, width)) in enumerate(frames):
        image, mask = frame(rng, height, width, kind)
        write_image(root / "images" / f"f{i:02d}.png", image)
        write_image(root / "masks" / f"f{i:02d}.png", mask)
    ClassTable.from_names(["background", "square"]).write(root / "classes.txt")
    return root


def train(root: Path, run: Path, init_from: Path | None = None, **overrides) -> list:
    options = dict(model="unet", model_kwargs={"base_channels": 8}, epochs=1, batch_size=2, lr=1e-2,
                   augment={"hflip": 0.5}, val_fraction=0.0, seed=0, device="cpu", keep_top_k=0)
    options.update(overrides)
    config = TrainConfig(**options)
    data = prepare(open_dataset("folder", root), config.val_fraction, config.seed)
    return list(Trainer(config, data, run, init_from=init_from).run())


@pytest.mark.parametrize(("kinds", "channels"), [(["gray"] * 4 + ["rgba"] * 2, 1), (["gray"] * 2 + ["rgba"] * 4, 3)])
def test_gray_and_rgba_frames_train_and_the_checkpoint_predicts_both(tmp_path, kinds, channels):
    root = write_dataset(tmp_path / "data", [(kind, (32, 32)) for kind in kinds])
    events = train(root, tmp_path / "run", val_fraction=0.2)
    assert isinstance(events[-1], Finished)
    notes = next(e for e in events if isinstance(e, RunStarted)).notes
    trained_as = "trained as gray, colour by luminance" if channels == 1 else "trained as RGB, gray repeated"
    assert any(trained_as in note and "alpha channel of" in note for note in notes), notes

    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt.in_channels == channels and ckpt.preprocessing().channels == channels  # the rule travels
    predictor = Predictor(ckpt, device="cpu", mode="whole", precision="fp32")
    rng = np.random.default_rng(1)
    gray, _ = frame(rng, 40, 48, "gray")
    rgba, _ = frame(rng, 40, 48, "rgba")
    for image in (gray, rgba):
        assert predictor.predict(image).labels.shape == (40, 48)
    # Prediction converts exactly as training did: alpha dropped, colour to gray by luminance (or gray repeated).
    rgb = np.ascontiguousarray(rgba[..., :3])
    same = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if channels == 1 else rgb
    np.testing.assert_array_equal(predictor.predict(rgba).labels, predictor.predict(same).labels)
    np.testing.assert_array_equal(predictor.predict(gray).labels, predictor.predict(np.dstack([gray] * 3)).labels)
    metrics = evaluate(ckpt, open_dataset("folder", root).samples, device="cpu")  # `segcore eval` converts too
    assert 0.0 <= metrics.to_dict()["miou"] <= 1.0


def test_continuing_from_a_gray_model_keeps_its_channels(tmp_path):
    gray_root = write_dataset(tmp_path / "gray", [("gray", (32, 32))] * 2)
    colour_root = write_dataset(tmp_path / "colour", [("rgba", (32, 32))] * 2)
    train(gray_root, tmp_path / "first")
    events = train(colour_root, tmp_path / "second", init_from=tmp_path / "first" / "last.pt")
    assert isinstance(events[-1], Finished)
    assert load_checkpoint(tmp_path / "second" / "last.pt").in_channels == 1
    notes = next(e for e in events if isinstance(e, RunStarted)).notes
    assert any("take 1 channel(s)" in note for note in notes), notes
    assert any("0 gray and 2 colour images checked: trained as gray" in note for note in notes), notes


def test_frames_of_different_sizes_train_without_a_crop(tmp_path):
    root = write_dataset(tmp_path / "data", [("gray", (32, 32)), ("gray", (40, 24))])
    events = train(root, tmp_path / "run")  # both frames in one batch of 2, no crop
    batches = [e for e in events if isinstance(e, BatchProgress)]
    assert len(batches) == 1 and np.isfinite(batches[0].loss)
    assert isinstance(events[-1], Finished) and events[-1].last_checkpoint is not None
    notes = next(e for e in events if isinstance(e, RunStarted)).notes
    assert any("padded to its largest image" in note for note in notes), notes


def test_padding_of_a_batch_never_counts():
    small = (torch.ones(1, 2, 3), torch.ones(2, 3, dtype=torch.int64))
    tall = (torch.full((1, 4, 1), 2.0), torch.zeros(4, 1, dtype=torch.int64))
    images, masks = pad_collate([small, tall])
    assert images.shape == (2, 1, 4, 3) and masks.shape == (2, 4, 3)
    assert (masks[0, 2:] == IGNORE_INDEX).all() and (masks[1, :, 1:] == IGNORE_INDEX).all()
    assert (images[0, :, 2:] == 0).all() and (images[1, :, :, 1:] == 0).all()
    assert torch.equal(images[0, :, :2], small[0]) and torch.equal(masks[1, :, :1], tall[1])


def test_the_channel_rule():
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 65535, (5, 6, 4), dtype=np.uint16)
    gray = rgba[..., 0]
    np.testing.assert_array_equal(ToChannels(1)(rgba, None)[0], cv2.cvtColor(np.ascontiguousarray(rgba[..., :3]),
                                                                             cv2.COLOR_RGB2GRAY))
    np.testing.assert_array_equal(ToChannels(3)(rgba, None)[0], rgba[..., :3])
    np.testing.assert_array_equal(ToChannels(3)(gray, None)[0], np.dstack([gray] * 3))
    np.testing.assert_array_equal(ToChannels(1)(rgba[..., :2], None)[0], gray)  # gray + alpha
    assert ToChannels(1)(gray, None)[0] is gray
    with pytest.raises(ValueError, match="5 channels"):
        ToChannels(3)(np.zeros((2, 2, 5), np.uint8), None)


@pytest.mark.parametrize(("counts", "channels"), [([1, 1, 4], 1), ([2, 3, 4], 3), ([1, 3], 3), ([3, 3], 3)])
def test_the_majority_decides_and_a_tie_keeps_colour(counts, channels):
    assert choose_channels(counts) == channels
    assert bool(channel_notes(counts, channels)) == (len({c <= 2 for c in counts}) > 1 or 2 in counts or 4 in counts)
