"""Read and write images: PNG, JPEG, TIFF, BMP; 8/16-bit; gray, RGB, RGBA; any path.

Arrays are H x W (gray) or H x W x C with channels in RGB(A) order, dtype uint8 or uint16.
Every failure raises `ImageReadError` / `ImageWriteError` naming the file. Reading checks the
header against the pixel limit before decoding (`segcore.io.header`), returns photos upright (the
EXIF orientation of JPEG and PNG files is applied here, a TIFF's Orientation tag by the decoder),
as labelme shows them, and keeps the first page of a multipage file (with one warning per file,
and a note for `image_notes()`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segcore.errors import ImageReadError, ImageWriteError
from segcore.io.atomic import atomic_write_bytes
from segcore.io.header import apply_exif_orientation, read_header

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

_ENCODE_SUFFIX = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg", ".tif": ".tif", ".tiff": ".tif", ".bmp": ".bmp"}
_SUPPORTED_DTYPES = (np.uint8, np.uint16)

_notes = threading.local()
_warned: set[str] = set()


@dataclass(frozen=True)
class ImageInfo:
    """What the project store records about an image."""

    width: int
    height: int
    channels: int
    bit_depth: int


@contextlib.contextmanager
def image_notes() -> Iterator[list[str]]:
    """Collect, in this thread, what reading images inside the block had to say (e.g. pages left out)."""
    outer = getattr(_notes, "sink", None)
    sink: list[str] = []
    _notes.sink = sink
    try:
        yield sink
    finally:
        _notes.sink = outer


def _note(source: str | Path, message: str) -> None:
    # A training run reads the same file every epoch: the log hears about it once.
    if str(source) not in _warned:
        _warned.add(str(source))
        log.warning("%s: %s", source, message)
    sink = getattr(_notes, "sink", None)
    if sink is not None and message not in sink:
        sink.append(message)


def is_image_file(path: str | Path) -> bool:
    """True for a file whose suffix is one of the supported image suffixes."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_file_or_broken_link(path: Path) -> bool:
    """True for a file, and for a symbolic link that loops or dangles: listed so reading it says so."""
    return path.is_file() or (path.is_symlink() and not path.exists())


def listed_image(path: Path) -> bool:
    """An entry of a folder that a listing of its images holds: named like an image and a file, a link that
    loops or dangles, or a folder (a folder named a.png is said to be one when read, not passed over)."""
    return is_image_file(path) and (is_file_or_broken_link(path) or path.is_dir())


def read_image(path: str | Path, *, upright: bool = True) -> np.ndarray:
    """Decode an image file to an array (gray H x W, or H x W x 3/4 in RGB(A) order), upright unless asked not to."""
    path = Path(path)
    try:
        data = path.read_bytes()  # bytes + imdecode: works for non-ASCII paths on every OS
    except FileNotFoundError:
        reason = "a broken symbolic link" if path.is_symlink() else "file not found"
        raise ImageReadError(path, reason) from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageReadError(path, "a symbolic link that loops back on itself") from None
        raise ImageReadError(path, f"cannot open file ({exc.strerror or exc})") from exc
    return decode_image(data, path, upright=upright)


def decode_image(data: bytes, source: str | Path = "<bytes>", *, upright: bool = True) -> np.ndarray:
    """Decode encoded image bytes; `source` names the origin in error messages.

    upright: apply the EXIF orientation (labelme's embedded imageData is used as stored).
    """
    header = read_header(data, source)  # refuses empty, unknown, damaged and oversize images
    fmt = header.format.upper()
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        detail = str(exc).strip().splitlines()[-1]
        if "CV_IO_MAX_IMAGE_PIXELS" in detail:  # OpenCV's own cap (2^30 pixels), below a raised SEGDESK_MAX_PIXELS
            detail = "the frame is above OpenCV's own pixel limit (raise OPENCV_IO_MAX_IMAGE_PIXELS)"
        raise ImageReadError(source, f"OpenCV cannot decode this {fmt}: {detail}") from exc
    if array is None or array.size == 0:
        raise ImageReadError(source, f"corrupt or truncated {fmt} data")
    if array.dtype not in _SUPPORTED_DTYPES:
        raise ImageReadError(source, f"unsupported pixel type {array.dtype} (8- and 16-bit images are supported)")
    if header.pages > 1:
        _note(source, f"{header.pages} pages; only the first is read")
    array = _to_rgb_order(array)
    return apply_exif_orientation(array, header.orientation) if upright else array


def _to_rgb_order(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        return array
    channels = array.shape[2]
    if channels == 1:
        return array[:, :, 0]
    if channels == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if channels == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    return array


def image_info(array: np.ndarray) -> ImageInfo:
    """Size, channel count and bit depth of a decoded image."""
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    return ImageInfo(width=width, height=height, channels=channels, bit_depth=array.dtype.itemsize * 8)


def encode_image(array: np.ndarray, suffix: str = ".png") -> bytes:
    """Encode an RGB(A)/gray array in the format named by `suffix`."""
    suffix = suffix.lower()
    if suffix not in _ENCODE_SUFFIX:
        raise ImageWriteError(f"*{suffix}", f"unsupported format {suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    if array.dtype not in _SUPPORTED_DTYPES:
        raise ImageWriteError(f"*{suffix}", f"unsupported pixel type {array.dtype}")
    if array.dtype == np.uint16 and suffix in (".jpg", ".jpeg", ".bmp"):
        raise ImageWriteError(f"*{suffix}", f"{suffix} cannot hold 16-bit data; use .png or .tif")
    bgr = array
    if array.ndim == 3 and array.shape[2] == 3:
        bgr = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    elif array.ndim == 3 and array.shape[2] == 4:
        bgr = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(_ENCODE_SUFFIX[suffix], np.ascontiguousarray(bgr))
    if not ok:
        raise ImageWriteError(f"*{suffix}", "the encoder refused this array")
    return buf.tobytes()


def write_image(path: str | Path, array: np.ndarray) -> None:
    """Write an image atomically; the format follows the suffix."""
    path = Path(path)
    try:
        data = encode_image(array, path.suffix)
    except ImageWriteError as exc:
        raise ImageWriteError(path, exc.reason) from None
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ImageWriteError(path, str(exc)) from exc
