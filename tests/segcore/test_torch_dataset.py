"""SegmentationDataset: per-sample determinism across DataLoader workers and epochs, typed errors, cache."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.masks import read_index_mask
from segcore.data.readers.base import LabelledSample
from segcore.data.torch_dataset import SegmentationDataset, worker_init
from segcore.data.transforms import build_transforms
from segcore.errors import ImageReadError, MaskError
from segcore.io.images import write_image

N = 6


def write_samples(root: Path, n: int = N, size: tuple[int, int] = (64, 72)) -> list[LabelledSample]:
    """n 16-bit grayscale frames with 0/1/ignore masks, on disk like a reader would find them."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    samples = []
    for i in range(n):
        image = rng.integers(0, 65536, size, dtype=np.uint16)
        mask = (image > 40000).astype(np.uint8)
        mask[:4] = IGNORE_INDEX
        image_path, mask_path = root / "images" / f"f{i}.png", root / "masks" / f"f{i}.png"
        write_image(image_path, image)
        write_image(mask_path, mask)
        # functools.partial pickles, so samples travel to DataLoader workers under any start method.
        samples.append(LabelledSample(f"f{i}", image_path, functools.partial(read_index_mask, mask_path), "train"))
    return samples


def train_transform():
    return build_transforms(True, crop=48, scale_range=(0.7, 1.4), rotation=15, vflip=0.5, jitter=(0.2, 0.2, 0.2))


def collect(dataset: SegmentationDataset, workers: int, order: list[int] | None = None) -> dict[int, tuple]:
    indices = order or list(range(len(dataset)))
    # timeout: a worker that hangs (e.g. OpenCV's thread pool after fork) fails the test instead of
    # blocking it; the parent process has used OpenCV before the workers fork.
    loader = DataLoader(
        dataset, batch_size=2, sampler=indices, num_workers=workers, timeout=60 if workers else 0,
        worker_init_fn=worker_init if workers else None,
    )
    out: dict[int, tuple] = {}
    batches = iter(loader)
    for start in range(0, len(indices), 2):
        images, masks = next(batches)
        for k, index in enumerate(indices[start : start + 2]):
            out[index] = (images[k], masks[k])
    return out


def test_items_are_tensors_of_the_right_layout(tmp_path):
    ds = SegmentationDataset(write_samples(tmp_path), train_transform(), seed=3)
    image, mask = ds[0]
    assert image.shape == (1, 48, 48) and image.dtype == torch.float32
    assert mask.shape == (48, 48) and mask.dtype == torch.int64
    assert set(mask.unique().tolist()) <= {0, 1, IGNORE_INDEX}
    # Without a transform the raw image comes back on the 0..1 scale.
    raw, _ = SegmentationDataset(ds.samples)[0]
    assert raw.shape == (1, 64, 72) and 0.0 <= raw.min() and raw.max() <= 1.0 and raw.max() > 0.9


def test_samples_do_not_depend_on_worker_count_or_order(tmp_path):
    ds = SegmentationDataset(write_samples(tmp_path), train_transform(), seed=11)
    ds.set_epoch(2)
    serial = collect(ds, workers=0)
    parallel = collect(ds, workers=2, order=[5, 2, 0, 3, 1, 4])  # other order, other workers
    assert serial.keys() == parallel.keys() == set(range(N))
    for i in range(N):
        assert torch.equal(serial[i][0], parallel[i][0]) and torch.equal(serial[i][1], parallel[i][1])
        direct = ds[i]
        assert torch.equal(direct[0], serial[i][0])


def test_epochs_and_seeds_change_the_augmentation_and_repeat_exactly(tmp_path):
    samples = write_samples(tmp_path)
    ds = SegmentationDataset(samples, train_transform(), seed=1)
    first = [ds[i][0] for i in range(N)]
    ds.set_epoch(1)
    second = [ds[i][0] for i in range(N)]
    assert all(not torch.equal(a, b) for a, b in zip(first, second))
    ds.set_epoch(0)
    assert all(torch.equal(a, ds[i][0]) for i, a in enumerate(first))  # resumable: epoch 0 again
    # A sampler may pass (epoch, index) itself (persistent workers never see set_epoch).
    assert torch.equal(ds[(1, 3)][0], second[3])
    other_seed = SegmentationDataset(samples, train_transform(), seed=2)
    assert not torch.equal(other_seed[0][0], first[0])


def test_corrupt_image_raises_image_read_error_naming_the_file(tmp_path):
    samples = write_samples(tmp_path, n=2)
    bad = samples[1].image_path
    bad.write_bytes(bad.read_bytes()[:60])  # a truncated PNG
    ds = SegmentationDataset(samples, train_transform())
    ds[0]
    with pytest.raises(ImageReadError, match="f1.png") as info:
        ds[1]
    assert info.value.path == bad


def test_wrong_mask_size_and_unknown_class_raise_mask_error(tmp_path):
    samples = write_samples(tmp_path, n=2)
    write_image(tmp_path / "masks" / "f0.png", np.zeros((10, 10), np.uint8))
    with pytest.raises(MaskError, match="f0.png"):
        SegmentationDataset(samples)[0]
    write_image(tmp_path / "masks" / "f1.png", np.full((64, 72), 7, np.uint8))
    table = ClassTable.from_names(["background", "sample"])
    with pytest.raises(MaskError, match="7"):
        SegmentationDataset(samples, class_table=table)[1]


def test_cache_serves_decoded_samples_without_the_files(tmp_path):
    samples = write_samples(tmp_path, n=3)
    uncached = SegmentationDataset(samples, train_transform(), seed=5)
    expected = [uncached[i] for i in range(3)]
    cached = SegmentationDataset(samples, train_transform(), seed=5, cache=True)  # loads now
    assert cached.cached_bytes() == 3 * (64 * 72 * 2 + 64 * 72)
    for path in (tmp_path / "images").iterdir():
        path.unlink()
    for i in range(3):
        image, mask = cached[i]
        assert torch.equal(image, expected[i][0]) and torch.equal(mask, expected[i][1])
    # Items never alias the cache: changing one in place leaves the next read intact.
    image, _ = cached[0]
    image.fill_(0)
    assert torch.equal(cached[0][0], expected[0][0])
    # Forked workers read the cache filled in this process (the image files are gone).
    parallel = collect(cached, workers=2)
    assert all(torch.equal(parallel[i][0], expected[i][0]) for i in range(3))
