"""What every dataset reader returns: labelled samples that load lazily, plus the class table."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np

from segcore.data.boxes import Box, boxes_to_mask
from segcore.data.classes import ClassTable
from segcore.data.masks import check_index_mask, check_same_size
from segcore.errors import DatasetError, LabelFileError
from segcore.io.header import read_file_header
from segcore.io.images import read_image


@dataclass(frozen=True)
class LabelledSample:
    """One image and its index mask, loaded on demand (datasets of 3072x3072 frames stay on disk)."""

    name: str
    """Unique within its dataset; the file stem used when the dataset is written out."""
    image_path: Path | None
    mask_loader: Callable[[], np.ndarray]
    """Returns the uint8 H x W index mask (IGNORE_INDEX where not labelled)."""
    split: str | None = None
    """'train', 'val', 'test' or None when the source does not say."""
    boxes: tuple[Box, ...] = ()
    """The box labels the mask came from, for sources that have them."""
    image_loader: Callable[[], np.ndarray] | None = None
    """Overrides reading `image_path` (e.g. labelme's embedded imageData)."""

    def load_image(self) -> np.ndarray:
        if self.image_loader is not None:
            return self.image_loader()
        assert self.image_path is not None, "a sample needs an image_path or an image_loader"
        return read_image(self.image_path)

    def load_mask(self) -> np.ndarray:
        return self.mask_loader()

    def load(self, table: ClassTable | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(image, mask), checked to be the same size (and to hold only `table`'s classes)."""
        image = self.load_image()
        mask = self.load_mask()
        source = str(self.image_path or self.name)
        check_same_size(image, mask, source)
        if table is not None:
            check_index_mask(mask, table, source)
        return image, mask


def unreadable_sample(name: str, reason: str) -> LabelledSample:
    """A sample whose annotation file could not be read: loading it raises `DatasetError(reason)`.

    Consumers then skip and report it as they do an unreadable image (an import goes on; a
    conversion, which writes all or nothing, stops), instead of the reader stopping at it.
    """
    fail = functools.partial(_fail, reason)
    return LabelledSample(name=name, image_path=None, mask_loader=fail, image_loader=fail)


def _fail(reason: str) -> NoReturn:
    raise DatasetError(reason)


@dataclass
class LabelledDataset:
    """The result of a reader: samples in a stable order plus the class table they use."""

    class_table: ClassTable
    samples: list[LabelledSample] = field(default_factory=list)
    source: Path | None = None
    format: str = ""

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[LabelledSample]:
        return iter(self.samples)

    def __getitem__(self, i: int) -> LabelledSample:
        return self.samples[i]

    def pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(image, mask) for every sample, checked against the class table."""
        for sample in self.samples:
            yield sample.load(self.class_table)


def box_mask(image_path: Path, label_file: Path, boxes: tuple[Box, ...]) -> np.ndarray:
    """The index mask of `boxes` (x, y, w, h) on the image at `image_path`, its size read from the header; a box
    wholly outside it, or reaching an image's size past its border, is a `LabelFileError` naming `label_file`."""
    height, width = shape = read_file_header(image_path).upright_shape
    for box in boxes:
        if box.misplaced(width, height):
            raise LabelFileError(label_file, f"a box of {image_path.name} (x {box.x}, y {box.y}, w {box.w}, h {box.h})"
                                 f" lies or reaches far outside the {width}x{height} image")
    return boxes_to_mask(shape, boxes, background=0)
