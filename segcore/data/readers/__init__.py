"""Dataset readers by format name; each returns a `LabelledDataset`.

    ds = open_dataset("camvid", "../shared/datasets/camvid")
    for image, mask in ds.pairs(): ...

`detect_format(root)` guesses the format from the folder's layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.data.readers.detect import DetectedFormat, detect_format
from segcore.errors import DatasetError

ReaderFn = Callable[..., LabelledDataset]
_READERS: dict[str, ReaderFn] = {}


def register_reader(name: str) -> Callable[[ReaderFn], ReaderFn]:
    """Register a reader under a format name (the CLI's --from value)."""

    def wrap(fn: ReaderFn) -> ReaderFn:
        if name in _READERS:
            raise ValueError(f"reader {name!r} is already registered")
        _READERS[name] = fn
        return fn

    return wrap


def list_readers() -> list[str]:
    _load_builtin_readers()
    return sorted(_READERS)


def open_dataset(fmt: str, root: str | Path, **options) -> LabelledDataset:
    """Read a dataset of format `fmt` at `root`; raises `DatasetError` if unknown, missing or empty."""
    _load_builtin_readers()
    if fmt not in _READERS:
        raise DatasetError(f"unknown dataset format {fmt!r}; choose one of {', '.join(sorted(_READERS))}")
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"dataset folder {root} does not exist")
    dataset = _READERS[fmt](root, **options)
    if not dataset.samples:
        raise DatasetError(f"no labelled images found in {root} (format {fmt})")
    return dataset


def _load_builtin_readers() -> None:
    # Importing the modules runs their @register_reader decorators.
    from segcore.data.readers import boxes, camvid, coco, colormask, folder, labelme, voc, voc_boxes  # noqa: F401
    from segcore.project import reader  # noqa: F401  (a project folder read as a dataset)


__all__ = [
    "DetectedFormat",
    "LabelledDataset",
    "LabelledSample",
    "detect_format",
    "list_readers",
    "open_dataset",
    "register_reader",
]
