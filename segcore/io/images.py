"""Read and write images: PNG, JPEG, TIFF, BMP; 8/16-bit; gray, RGB, RGBA; any path.

Arrays are H x W (gray) or H x W x C with channels in RGB(A) order, dtype uint8 or uint16.
Every failure raises `ImageReadError` / `ImageWriteError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segcore.errors import ImageReadError, ImageWriteError
from segcore.io.atomic import atomic_write_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

# Magic numbers decide the format; a file's suffix may lie.
_SIGNATURES = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "tiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    "bmp": (b"BM",),
}
_ENCODE_SUFFIX = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg", ".tif": ".tif", ".tiff": ".tif", ".bmp": ".bmp"}
_SUPPORTED_DTYPES = (np.uint8, np.uint16)


@dataclass(frozen=True)
class ImageInfo:
    """What the project store records about an image."""

    width: int
    height: int
    channels: int
    bit_depth: int


def sniff_format(head: bytes) -> str | None:
    """The image format named by a file's first bytes, or None."""
    for name, signatures in _SIGNATURES.items():
        if any(head.startswith(sig) for sig in signatures):
            return name
    return None


def is_image_file(path: str | Path) -> bool:
    """True for a file whose suffix is one of the supported image suffixes."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to an array (gray H x W, or H x W x 3/4 in RGB(A) order)."""
    path = Path(path)
    try:
        data = path.read_bytes()  # bytes + imdecode: works for non-ASCII paths on every OS
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory, not a file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot open file ({exc.strerror or exc})") from exc
    return decode_image(data, path)


def decode_image(data: bytes, source: str | Path = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes; `source` names the origin in error messages."""
    if not data:
        raise ImageReadError(source, "the file is empty (0 bytes)")
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise ImageReadError(source, "unsupported or unrecognised format (expected PNG, JPEG, TIFF or BMP)")
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise ImageReadError(source, f"corrupt or truncated {fmt.upper()} data")
    if array.dtype not in _SUPPORTED_DTYPES:
        raise ImageReadError(source, f"unsupported pixel type {array.dtype} (8- and 16-bit images are supported)")
    return _to_rgb_order(array)


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
