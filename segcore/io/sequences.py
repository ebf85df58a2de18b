"""Read an acquisition as one thing: a multi-page TIFF, a video or a folder of numbered frames.

`open_sequence(path)` gives a `FrameSequence`: what the acquisition holds (`SequenceInfo`: frame count,
size, bit depth, the time between frames where the file says) and its frames by index, decoded one at a
time, so a stack of any length costs the memory of one frame. A TIFF is read with tifffile (8/16-bit,
BigTIFF, ImageJ hyperstacks; read straight from the file where its frames lie uncompressed and contiguous); a video
with OpenCV; a folder through `segcore.io.images`, its frames in natural order (frame2 before frame10).

Frames come out as `read_image` gives images: gray H x W or H x W x 3 in RGB order, uint8 or uint16.
A video whose frames are gray in every channel (what codecs make of a monochrome camera) is read as gray.
`sequence_fingerprint` tells a changed or replaced file from the one imported.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segcore.errors import ImageReadError
from segcore.io.images import IMAGE_SUFFIXES, read_image

SEQUENCE_KINDS = ("tiff", "video", "folder")
TIFF_SUFFIXES = (".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
_FINGERPRINT_CHUNK = 1 << 16
"""Bytes hashed at a file's start, middle and end: a replaced or rewritten stack differs there, and hashing a
15 GB file whole would take minutes."""
GRAY_TOLERANCE = 4
"""A video counts as gray when its first frame's channels differ by at most this many levels on 99 % of its pixels:
a lossy codec's chroma leaves a monochrome camera's frames a level or two off gray."""


FRAME_DIGITS = 4
"""Frame numbers in names have at least this many digits (zero-padded)."""
OPEN_SEQUENCES = 4
_open: dict[tuple[str, tuple[int, int] | None], FrameSequence] = {}
_open_lock = threading.Lock()


@dataclass(frozen=True)
class SequenceInfo:
    """What an acquisition holds: what the project records of it."""

    kind: str
    frames: int
    width: int
    height: int
    channels: int
    bit_depth: int
    frame_interval_s: float | None
    """Seconds between frames, from the TIFF's ImageJ `finterval` or the video's rate; None where not given."""


class FrameSequence:
    """An open acquisition: `info`, and `frame(i)` / `iter_frames()` decoding one frame at a time."""

    def __init__(self, path: Path, info: SequenceInfo):
        self.path = path
        self.info = info
        self._lock = threading.Lock()  # one decoder, shared by the threads that read frames

    def __len__(self) -> int:
        return self.info.frames

    def __enter__(self) -> FrameSequence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` (0-based), decoded."""
        if not 0 <= index < self.info.frames:
            raise ImageReadError(self.path, f"has {self.info.frames} frames, no frame {index}")
        with self._lock:
            return self._read(index)

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(index, frame) from `start` up to `stop`, in order: sequential decoding, the fastest for a video."""
        for index in range(max(0, start), min(self.info.frames, self.info.frames if stop is None else stop)):
            yield index, self.frame(index)

    def close(self) -> None:
        """Release the file; further reads fail."""

    def _read(self, index: int) -> np.ndarray:
        raise NotImplementedError


class _TiffSequence(FrameSequence):
    def __init__(self, path: Path):
        import tifffile  # imported here: only stacks need it

        try:
            self._tif = tifffile.TiffFile(path)
            series = self._tif.series[0]
            shape, axes, dtype = series.shape, series.axes, np.dtype(series.dtype)
        except (OSError, ValueError, IndexError, tifffile.TiffFileError) as exc:
            raise ImageReadError(path, f"not a readable TIFF ({exc})") from exc
        try:
            stored, planar = _frame_layout(path, shape, axes)
            bit_depth = _bit_depth(path, dtype)
        except ImageReadError:
            self._tif.close()
            raise
        self._series = series
        self._stored, self._planar = stored, planar
        height, width = shape[axes.index("Y")], shape[axes.index("X")]
        channels = shape[axes.index("S")] if "S" in axes else 1
        frames = int(np.prod(shape)) // int(np.prod(stored))
        # Frames that lie uncompressed one after another are read straight from their offsets: no decoder, and no
        # memory map, whose pages would count in the process's memory more with every frame read.
        self._offset = series.dataoffset
        self._dtype = dtype.newbyteorder(self._tif.byteorder)
        interval = (self._tif.imagej_metadata or {}).get("finterval")
        super().__init__(path, SequenceInfo("tiff", frames, width, height, channels, bit_depth,
                                            float(interval) if interval else None))

    @property
    def contiguous(self) -> bool:
        """Whether frames are read straight from their offsets (uncompressed, one after another)."""
        return self._offset is not None

    def _read(self, index: int) -> np.ndarray:
        try:
            frame = self._read_at_offset(index) if self.contiguous else \
                self._series.asarray(key=index).reshape(self._stored)
        except (OSError, ValueError, IndexError) as exc:
            raise ImageReadError(self.path, f"frame {index} cannot be decoded ({exc})") from exc
        return np.ascontiguousarray(np.moveaxis(frame, 0, -1)) if self._planar else frame

    def _read_at_offset(self, index: int) -> np.ndarray:
        frame = np.empty(self._stored, self._dtype)
        handle = self._tif.filehandle
        handle.seek(self._offset + index * frame.nbytes)
        if handle.readinto(memoryview(frame).cast("B")) != frame.nbytes:
            raise ValueError("the file ends before this frame does")
        return frame.astype(self._dtype.newbyteorder("="), copy=False)

    def close(self) -> None:
        self._tif.close()


class _VideoSequence(FrameSequence):
    def __init__(self, path: Path):
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            raise ImageReadError(path, "OpenCV cannot open this video")
        ok, first = self._capture.read()
        if not ok or first is None:
            self._capture.release()
            raise ImageReadError(path, "the video has no frame OpenCV can decode")
        self._gray = _looks_gray(first)
        self._next = 1
        self._first = first
        frames = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        rate = float(self._capture.get(cv2.CAP_PROP_FPS))
        height, width = first.shape[:2]
        super().__init__(path, SequenceInfo("video", max(frames, 1), width, height, 1 if self._gray else 3,
                                            8 * first.dtype.itemsize, 1.0 / rate if rate > 0 else None))

    def _read(self, index: int) -> np.ndarray:
        if index == 0:
            raw = self._first
        else:
            if index != self._next:  # seeking is slow and codec-dependent: only when frames are asked out of order
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, raw = self._capture.read()
            if not ok or raw is None:
                raise ImageReadError(self.path, f"frame {index} cannot be decoded (the video ends or is damaged)")
        self._next = index + 1
        return cv2.cvtColor(raw, cv2.COLOR_BGR2GRAY) if self._gray else cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._capture.release()


class _FolderSequence(FrameSequence):
    def __init__(self, path: Path):
        self.files = numbered_frames(path)
        if not self.files:
            raise ImageReadError(path, "holds no image files")
        first = read_image(self.files[0])
        height, width = first.shape[:2]
        channels = 1 if first.ndim == 2 else first.shape[2]
        super().__init__(path, SequenceInfo("folder", len(self.files), width, height, channels,
                                            8 * first.dtype.itemsize, None))

    def _read(self, index: int) -> np.ndarray:
        frame = read_image(self.files[index])
        if frame.shape[:2] != (self.info.height, self.info.width):
            raise ImageReadError(self.files[index], f"is {frame.shape[1]}x{frame.shape[0]}, the sequence's frames "
                                                    f"{self.info.width}x{self.info.height}")
        return frame


def sequence_kind(path: str | Path) -> str | None:
    """"tiff", "video" or "folder" by what `path` is; None for anything else."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    return "tiff" if suffix in TIFF_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def open_sequence(path: str | Path) -> FrameSequence:
    """Open an acquisition (`sequence_kind`); `ImageReadError` naming it when it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "not found")
    kind = sequence_kind(path)
    if kind is None:
        raise ImageReadError(path, f"not a sequence: a multi-page TIFF ({', '.join(TIFF_SUFFIXES)}), a video "
                                   f"({', '.join(VIDEO_SUFFIXES)}) or a folder of numbered frames")
    return {"tiff": _TiffSequence, "video": _VideoSequence, "folder": _FolderSequence}[kind](path)


def frame_name(stem: str, index: int, frames: int) -> str:
    """`<stem>_<index>`, the index zero-padded to FRAME_DIGITS or more: names that sort in frame order."""
    return f"{stem}_{index:0{max(FRAME_DIGITS, len(str(frames - 1)))}d}"


def read_frame(path: str | Path, index: int) -> np.ndarray:
    """Frame `index` of the acquisition at `path`, through a few sequences kept open (`OPEN_SEQUENCES`): opening a
    stack parses its index, which reading one frame of it must not repeat. A file changed on disk is opened again."""
    path = Path(path)
    key = (str(path.resolve()), file_stamp(path) if path.exists() else None)
    with _open_lock:
        sequence = _open.pop(key, None)
        if sequence is None:
            sequence = open_sequence(path)
        _open[key] = sequence  # the most recently used last
        while len(_open) > OPEN_SEQUENCES:
            _open.pop(next(iter(_open))).close()
        return sequence.frame(index)  # under the lock: no other thread closes it meanwhile


def close_open_sequences() -> None:
    """Close the sequences `read_frame` keeps open (a project closing, a test cleaning up)."""
    with _open_lock:
        while _open:
            _open.popitem()[1].close()


def numbered_frames(folder: Path) -> list[Path]:
    """The image files of `folder` in natural order: the numbers in their names compared as numbers."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(files, key=natural_key)


def sequence_fingerprint(path: str | Path) -> str:
    """A short digest that changes when the acquisition does: size and sampled bytes of a file; names and
    sizes of a folder's frames. Never the whole of a file: a 15 GB stack fingerprints in milliseconds."""
    path = Path(path)
    digest = hashlib.sha1()
    if path.is_dir():
        for frame in numbered_frames(path):
            digest.update(f"{frame.name}\0{frame.stat().st_size}\0".encode())
        return digest.hexdigest()[:16]
    size = path.stat().st_size
    digest.update(str(size).encode())
    with open(path, "rb") as handle:
        for offset in sorted({0, max(0, size // 2 - _FINGERPRINT_CHUNK // 2), max(0, size - _FINGERPRINT_CHUNK)}):
            handle.seek(offset)
            digest.update(handle.read(_FINGERPRINT_CHUNK))
    return digest.hexdigest()[:16]


def file_stamp(path: str | Path) -> tuple[int, int]:
    """(size, modification time in ns): what is checked on every read; the fingerprint only when it moves."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def natural_key(path: Path) -> list:
    """Sort key: the numbers in a file's name compared as numbers (frame2 before frame10)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _looks_gray(bgr: np.ndarray) -> bool:
    spread = bgr.max(axis=2).astype(np.int16) - bgr.min(axis=2)
    return float(np.percentile(spread, 99)) <= GRAY_TOLERANCE


def _frame_layout(path: Path, shape: tuple[int, ...], axes: str) -> tuple[tuple[int, ...], bool]:
    """One frame's shape as a tifffile series stores it (Y, X and S, the samples, where present), and whether its
    samples come in planes (S before Y: moved last when read)."""
    if "Y" not in axes or "X" not in axes or axes.index("X") != len(axes) - 1 - (axes[-1] == "S"):
        raise ImageReadError(path, f"a TIFF series whose frames are not rows of columns (axes {axes!r})")
    channels = shape[axes.index("S")] if "S" in axes else 1
    if channels not in (1, 3, 4):
        raise ImageReadError(path, f"frames of {channels} samples (axes {axes!r}): gray or RGB(A) frames are supported")
    first = min(axes.index("Y"), axes.index("S") if "S" in axes else len(axes))
    return tuple(shape[first:]), "S" in axes and axes.index("S") < axes.index("Y")


def _bit_depth(path: Path, dtype: np.dtype) -> int:
    if dtype not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise ImageReadError(path, f"unsupported pixel type {dtype} (8- and 16-bit frames are supported)")
    return 8 * dtype.itemsize
