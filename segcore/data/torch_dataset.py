"""`SegmentationDataset`: labelled samples + a transform pipeline as a torch Dataset.

Reproducibility: sample `index` in epoch `epoch` is augmented with
`np.random.default_rng([seed, epoch, index])`, so a batch depends on neither the number of
DataLoader workers nor which worker loads it, and a run resumes exactly from (seed, epoch, index).
Call `set_epoch(epoch)` before each epoch, as with `DistributedSampler`.

With `persistent_workers=True` the workers keep the dataset copy they were started with and miss
later `set_epoch` calls; either keep the default (workers restart each epoch and see the new
epoch) or have the sampler yield `(epoch, index)` pairs, which `__getitem__` accepts too.

Batching: training crops share one size. Whole images of different sizes (no crop, random scales)
go through `pad_collate`, which pads each batch to its largest image. Validation at native size
uses batch size 1 (models pad internally), or `PadToMultiple` when all images share a size up to
padding; padded mask pixels are IGNORE_INDEX and never count in loss or metrics.

Use `worker_init` as `worker_init_fn`, or none; do not call `cv2.setNumThreads` in a forked worker
(it can hang forever, see `worker_init`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.readers.base import LabelledSample
from segcore.data.transforms import ToTensor
from segcore.errors import DatasetError, MaskError

log = logging.getLogger(__name__)

TransformFn = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[Any, Any]]


class SegmentationDataset(Dataset):
    """(image float32 C x H x W, mask int64 H x W) tensors for a list of `LabelledSample`.

    transform: a `Compose` (e.g. from `build_transforms`) called as `transform(image, mask, rng)`;
    a pipeline that stops before `ToTensor` gets it appended implicitly.
    class_table: when given, every mask is checked to hold only its classes + the ignore index.
    cache: decode every sample now and keep the (image, mask) pairs in memory; for small datasets.
    Loading up front, in this process, is what makes the cache work with DataLoader workers:
    forked workers share the filled cache, whereas a cache filled lazily inside a worker dies with
    it at the end of the epoch (non-persistent workers) and is never shared between workers.
    """

    def __init__(
        self,
        samples: Sequence[LabelledSample],
        transform: TransformFn | None = None,
        *,
        seed: int = 0,
        class_table: ClassTable | None = None,
        cache: bool = False,
    ):
        if seed < 0:
            raise ValueError(f"seed must be >= 0 (numpy SeedSequence), got {seed}")
        self.samples = list(samples)
        self.transform = transform
        self.seed = int(seed)
        self.class_table = class_table
        self.cache = cache
        self.epoch = 0
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._to_tensor = ToTensor()
        if cache:
            self.preload()

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def rng(self, index: int, epoch: int | None = None) -> np.random.Generator:
        """The generator that augments `index` in `epoch` (default: the current epoch)."""
        return np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, index])

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The decoded, checked (image, mask) of sample `index`, before any transform.

        Raises the reader's typed errors naming the file (`ImageReadError` for unreadable images
        or masks, `MaskError` for a mask of the wrong size, type or classes).
        """
        if index in self._cache:
            return self._cache[index]
        sample = self.samples[index]
        source = str(sample.image_path or sample.name)
        try:
            image, mask = sample.load(self.class_table)
        except OSError as exc:  # a custom loader's I/O failure; the segcore readers raise typed errors
            raise DatasetError(f"cannot load sample {sample.name} ({source}): {exc}") from exc
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise MaskError(f"mask of {source} must be H x W uint8, got {mask.dtype} {mask.shape}")
        if self.cache:
            self._cache[index] = (image, mask)
        return image, mask

    def preload(self) -> None:
        """Decode every sample into the cache (turns caching on); errors name the bad file."""
        self.cache = True
        for index in range(len(self)):
            self.load(index)
        log.info("cached %d samples (%.1f MiB)", len(self._cache), self.cached_bytes() / 2**20)

    def extended(self, samples: Sequence[LabelledSample], *, cache: bool) -> SegmentationDataset:
        """This dataset with `samples` appended: same transform, seed and checks; what is cached stays cached."""
        grown = SegmentationDataset([*self.samples, *samples], self.transform, seed=self.seed,
                                    class_table=self.class_table)
        grown.epoch = self.epoch
        if cache:
            grown._cache = dict(self._cache)
            grown.preload()
        return grown

    def cached_bytes(self) -> int:
        return sum(image.nbytes + mask.nbytes for image, mask in self._cache.values())

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, index = item if isinstance(item, tuple) else (None, item)
        index = int(index)
        if index < 0:
            index += len(self)
        image, mask = self.load(index)
        if self.transform is not None:
            image, mask = self.transform(image, mask, self.rng(index, epoch))
        if not isinstance(image, torch.Tensor):
            image, mask = self._to_tensor(image, mask)
        return image, mask


def pad_collate(batch: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (image, mask) pairs, padding each at the bottom and right to the batch's largest size.

    Images are padded with 0, the normalised mean (the most neutral input), masks with IGNORE_INDEX,
    so the padding never counts in the loss. A batch of one size goes to torch's `default_collate`
    (which builds the batch in shared memory inside DataLoader workers).
    """
    if len({image.shape for image, _ in batch}) == 1:
        return default_collate(batch)
    height = max(image.shape[-2] for image, _ in batch)
    width = max(image.shape[-1] for image, _ in batch)
    images = torch.zeros(len(batch), batch[0][0].shape[0], height, width, dtype=batch[0][0].dtype)
    masks = torch.full((len(batch), height, width), IGNORE_INDEX, dtype=batch[0][1].dtype)
    for i, (image, mask) in enumerate(batch):
        images[i, :, : image.shape[-2], : image.shape[-1]] = image
        masks[i, : mask.shape[-2], : mask.shape[-1]] = mask
    return images, masks


def worker_init(worker_id: int) -> None:
    """DataLoader `worker_init_fn`. Randomness needs no per-worker seeding (it is per sample).

    It deliberately leaves OpenCV's thread count alone: `cv2.setNumThreads` inside a forked worker
    can hang forever with OpenCV 5's pthreads backend once the parent has used OpenCV's thread pool
    (seen with torch imported). It only pins torch to one intra-op thread per worker, as the
    DataLoader itself does, so the setting is explicit whatever the DataLoader version.
    """
    torch.set_num_threads(1)
