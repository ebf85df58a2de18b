"""Predict a folder (or a sequence) with decoding, preprocessing, the model and writing overlapped.

DataLoader workers decode and preprocess the next images while the model runs; a writer thread
exports the previous results. On a GPU the model therefore never waits for the disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from segcore.data.normalization import compute_mean_image
from segcore.data.torch_dataset import worker_init
from segcore.errors import DiskFullError, SegcoreError
from segcore.export.writer import export_prediction
from segcore.inference.predictor import Prediction, Predictor
from segcore.io.atomic import free_bytes, is_disk_full
from segcore.io.images import image_notes, is_file_or_broken_link, listed_image, read_image
from segcore.io.sequences import frame_name, natural_key, open_sequence, read_frame, sequence_kind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameRef:
    """One image to predict: the image file `path`, or frame `index` of the acquisition at `path`."""

    path: Path
    index: int | None = None
    name: str = ""
    """What its results are named after: the file's stem, or `<stack>_<frame>` for a frame."""

    @property
    def label(self) -> str:
        """How reports name it: the file's name, or the frame's."""
        return self.path.name if self.index is None else self.name

    def load(self) -> np.ndarray:
        return read_image(self.path) if self.index is None else read_frame(self.path, self.index)


@dataclass
class FolderResult:
    frame: FrameRef
    prediction: Prediction | None
    files: list[Path]
    error: str | None = None
    notes: tuple[str, ...] = ()
    """What reading the image had to say (e.g. pages of a multipage file left out)."""

    @property
    def path(self) -> Path:
        """The file read: the image's, or the sequence's for a frame."""
        return self.frame.path


def list_images(path: str | Path) -> list[Path]:
    """One image, or a folder's images in natural order (the order of a sequence: frame2 before frame10).

    Symbolic links that loop or dangle are listed, so that the run reports them.
    """
    path = Path(path)
    if is_file_or_broken_link(path):
        return [path]
    if not path.is_dir():
        raise SegcoreError(f"input {path} does not exist")
    images = sorted((p for p in path.iterdir() if listed_image(p)), key=natural_key)
    if not images:
        raise SegcoreError(f"no images (png, jpg, tif, bmp) in {path}")
    return images


def list_frames(path: str | Path) -> list[FrameRef]:
    """What `--input` names, frame by frame: the frames of a video or a multi-page TIFF (`<stem>_<frame>`), else
    `list_images`'s files (named by their stem)."""
    path = Path(path)
    kind = sequence_kind(path) if path.is_file() else None
    if kind in ("tiff", "video"):
        with open_sequence(path) as sequence:
            frames = sequence.info.frames
        if kind == "video" or frames > 1:
            return [FrameRef(path, i, frame_name(path.stem, i, frames)) for i in range(frames)]
    return [FrameRef(p, None, p.stem) for p in list_images(path)]


class _Preprocessed(Dataset):
    def __init__(self, frames: Sequence[FrameRef], predictor: Predictor, keep_image: bool):
        self.frames, self.predictor, self.keep_image = list(frames), predictor, keep_image

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int):
        frame = self.frames[index]
        with image_notes() as notes:
            try:
                image = frame.load()
                tensor = self.predictor.preprocess(image)
            except SegcoreError as exc:  # one bad file must not stop a folder of thousands
                return index, None, None, None, str(exc), tuple(notes)
            except MemoryError:  # a frame too large for this machine: skip it, go on with the others
                return index, None, None, None, f"{frame.label}: not enough memory to decode and prepare it", tuple(notes)
        return index, tensor, image.shape[:2], image if self.keep_image else None, None, tuple(notes)


def _collate(items):
    return items


def _prefetched(iterable, depth: int = 2):
    """Iterate `iterable` in a background thread, `depth` items ahead (decoding releases the GIL)."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    end = object()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for item in iterable:
                items.put(item)
        except BaseException as exc:  # handed to the consumer below, which re-raises it
            failure.append(exc)
        finally:
            items.put(end)

    threading.Thread(target=produce, name="segcore-reader", daemon=True).start()
    while (item := items.get()) is not end:
        yield item
    if failure:
        raise failure[0]


def sequence_mean(frames: Sequence[Path | FrameRef]) -> np.ndarray:
    """The mean frame of a sequence (for mean-image subtraction across it)."""
    return compute_mean_image(_as_frame(f).load() for f in frames)


def _as_frame(item: Path | FrameRef) -> FrameRef:
    return item if isinstance(item, FrameRef) else FrameRef(Path(item), None, Path(item).stem)


def predict_folder(
    predictor: Predictor,
    paths: Sequence[Path | FrameRef],
    out_dir: str | Path,
    formats: Sequence[str],
    *,
    batch_size: int = 1,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[FolderResult]:
    """Predict `paths` (image files, or frames: `list_frames`) in order, export each result in `formats`, yield one
    `FolderResult` per image.

    Images of the same size go through the model `batch_size` at a time (whole-image mode).
    """
    out_dir = Path(out_dir)
    frames = [_as_frame(item) for item in paths]
    # OpenCV's own thread pool would fight torch's for the cores while decoding beside the model
    # (measured on 2 cores: 16.1 -> 17.5 images/s); one thread per decode is enough.
    cv2_threads, torch_threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    if workers == 0 and predictor.device.type == "cpu" and torch_threads > 1:
        # The reader thread decodes and runs the fringe analysis on a core of its own, the model on the others:
        # on 2 cores, a 1024 px acquisition 1.42-1.51 -> 1.80 frames/s (labels), 0.70 -> 0.75 (--measure).
        torch.set_num_threads(torch_threads - 1)
    try:
        yield from _predict_folder(predictor, frames, out_dir, formats, batch_size, workers, progress)
    finally:
        cv2.setNumThreads(cv2_threads)
        torch.set_num_threads(torch_threads)


def _predict_folder(predictor: Predictor, frames: Sequence[FrameRef], out_dir: Path, formats: Sequence[str],
                    batch_size: int, workers: int, progress: Callable[[int, int], None] | None) -> Iterator[FolderResult]:
    keep_image = "overlay" in formats
    loader = DataLoader(_Preprocessed(frames, predictor, keep_image), batch_size=batch_size, num_workers=workers,
                        collate_fn=_collate, worker_init_fn=worker_init if workers else None)
    results: queue.Queue = queue.Queue(maxsize=4)
    done: queue.Queue = queue.Queue()
    disk_full: list[DiskFullError] = []

    def writer() -> None:
        while (item := results.get()) is not None:
            frame, prediction, image, error, notes = item
            files: list[Path] = []
            if prediction is not None and formats and not disk_full:
                try:
                    files = export_prediction(out_dir, frame.name, labels=prediction.labels, table=predictor.class_table,
                                              image=image, image_path=frame.path if frame.index is None else None,
                                              probabilities=prediction.probabilities, formats=formats)
                except (SegcoreError, OSError) as exc:
                    if is_disk_full(exc):  # every later image would fail alike: the run stops below
                        full = exc if isinstance(exc, DiskFullError) else DiskFullError(out_dir, free_bytes(out_dir))
                        disk_full.append(full)
                    error = f"cannot write results for {frame.label}: {exc}"
            done.put(FolderResult(frame, prediction, files, error, notes))

    thread = threading.Thread(target=writer, name="segcore-writer", daemon=True)
    thread.start()
    finished = 0
    try:
        # Without worker processes, a reader thread still decodes the next batch during the forward.
        for items in (loader if workers else _prefetched(loader)):
            good = [i for i in items if i[1] is not None]
            for index, _, _, _, error, notes in (i for i in items if i[1] is None):
                results.put((frames[index], None, None, error, notes))
            for group in _same_size_groups(good):
                for (index, _, _, image, _, notes), outcome in zip(group, _predict_group(predictor, group, frames)):
                    prediction, error = outcome
                    results.put((frames[index], prediction, image, error, notes))
            while not done.empty():
                finished += 1
                result = done.get()
                if progress:
                    progress(finished, len(frames))
                yield result
            if disk_full:
                raise disk_full[0]
    finally:
        results.put(None)
        thread.join()
    if disk_full:
        raise disk_full[0]
    while not done.empty():
        finished += 1
        if progress:
            progress(finished, len(frames))
        yield done.get()


def _predict_group(
    predictor: Predictor, group: list, frames: Sequence[FrameRef]
) -> list[tuple[Prediction | None, str | None]]:
    """(prediction, None) per image of one size, or (None, why) for each when the forward fails."""
    try:
        predictions = predictor.predict_batch(torch.stack([g[1] for g in group]), [g[2] for g in group])
    except (RuntimeError, MemoryError) as exc:  # e.g. out of memory on a large frame: report it, go on
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return [(None, f"cannot predict {frames[g[0]].label}: {reason}") for g in group]
    return [(p, None) for p in predictions]


def _same_size_groups(items: list) -> list[list]:
    groups: dict[tuple, list] = {}
    for item in items:
        groups.setdefault(tuple(item[1].shape), []).append(item)
    return list(groups.values())
