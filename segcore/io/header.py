"""Image headers read without decoding a pixel (size, mode, pages, EXIF orientation) and the one pixel limit.

Every decode path in segcore reads the header first and refuses a frame larger than
`max_image_pixels()`, so a small file that claims a huge size (a decompression bomb) never gets
its pixels allocated. The limit is `SEGDESK_MAX_PIXELS` from the environment (the CLI's
`--max-pixels` sets it), else `DEFAULT_MAX_PIXELS`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import BmpImagePlugin, Image, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from segcore.errors import ImageReadError, ImageTooLargeError, SegcoreError

MAX_PIXELS_ENV = "SEGDESK_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 2**28
"""268,435,456 pixels: a 16384 x 16384 frame (28 interferograms of 3072 x 3072). Larger frames,
whole-slide images for instance, need SEGDESK_MAX_PIXELS or --max-pixels set higher."""

_SETTING = f"{MAX_PIXELS_ENV} (or segcore --max-pixels)"
_EXIF_ORIENTATION = 0x0112

# Magic numbers decide the format; a file's suffix may lie.
_SIGNATURES = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "tiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    "bmp": (b"BM",),
}
# The plugin classes parse a header exactly as Image.open does, minus Pillow's own bomb check,
# which would fire (as a warning, or an error naming its own limit) before ours could.
_PARSERS = {
    "png": PngImagePlugin.PngImageFile,
    "jpeg": JpegImagePlugin.JpegImageFile,
    "tiff": TiffImagePlugin.TiffImageFile,
    "bmp": BmpImagePlugin.BmpImageFile,
}


@dataclass(frozen=True)
class ImageHeader:
    """What an image file says about itself before any pixel is decoded."""

    format: str
    width: int
    height: int
    mode: str
    pages: int
    orientation: int
    """EXIF orientation 1..8 still to apply to the decoded pixels (1: upright as decoded)."""

    @property
    def upright_shape(self) -> tuple[int, int]:
        """(height, width) once the EXIF orientation is applied."""
        return (self.width, self.height) if self.orientation in (5, 6, 7, 8) else (self.height, self.width)


def sniff_format(head: bytes) -> str | None:
    """The image format named by a file's first bytes, or None."""
    for name, signatures in _SIGNATURES.items():
        if any(head.startswith(sig) for sig in signatures):
            return name
    return None


def max_image_pixels() -> int:
    """The largest width x height segcore decodes: $SEGDESK_MAX_PIXELS, else `DEFAULT_MAX_PIXELS`."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise SegcoreError(f"{MAX_PIXELS_ENV} must be a positive whole number of pixels, got {raw!r}")
    return value


def check_pixels(width: int, height: int, source: str | Path) -> None:
    """Raise `ImageTooLargeError` when a width x height frame is above the pixel limit."""
    limit = max_image_pixels()
    if width * height > limit:
        raise ImageTooLargeError(source, width, height, limit, _SETTING)


def read_header(data: bytes, source: str | Path = "<bytes>") -> ImageHeader:
    """Parse and check an encoded image's header; raises `ImageReadError` naming `source`."""
    return _header(_parsed(io.BytesIO(data), source), source)


def read_file_header(path: str | Path) -> ImageHeader:
    """`read_header` for a file, reading only the bytes the header needs."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return _header(_parsed(fh, path), path)
    except OSError as exc:
        raise ImageReadError(path, f"cannot open file ({exc.strerror or exc})") from exc


def open_checked(data: bytes, source: str | Path = "<bytes>") -> Image.Image:
    """A Pillow image of `data` whose size passed the pixel limit; its pixels load on `.load()`."""
    im = _parsed(io.BytesIO(data), source)
    _header(im, source)
    # TIFF decoding repeats Pillow's bomb check on the frame; ours has been applied already.
    limit = max_image_pixels()
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit
    return im


def apply_exif_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a decoded image upright for an EXIF orientation tag (1..8), as labelme and Pillow do."""
    if orientation == 2:
        return image[:, ::-1].copy()
    if orientation == 3:
        return image[::-1, ::-1].copy()
    if orientation == 4:
        return image[::-1].copy()
    if orientation == 5:
        return np.ascontiguousarray(np.swapaxes(image, 0, 1))
    if orientation == 6:
        return np.ascontiguousarray(np.rot90(image, -1))
    if orientation == 7:
        return np.ascontiguousarray(np.rot90(image, 1)[:, ::-1])
    if orientation == 8:
        return np.ascontiguousarray(np.rot90(image, 1))
    return image


def _parsed(fp: BinaryIO, source: str | Path) -> Image.Image:
    head = fp.read(16)
    if not head:
        raise ImageReadError(source, "the file is empty (0 bytes)")
    fmt = sniff_format(head)
    if fmt is None:
        raise ImageReadError(source, "unsupported or unrecognised format (expected PNG, JPEG, TIFF or BMP)")
    fp.seek(0)
    try:
        return _PARSERS[fmt](fp)
    except Exception as exc:  # Pillow's parsers raise many types on damaged headers
        raise ImageReadError(source, f"corrupt or unsupported {fmt.upper()} header ({exc})") from exc


def _header(im: Image.Image, source: str | Path) -> ImageHeader:
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageReadError(source, f"the header gives no pixels ({width} x {height})")
    check_pixels(width, height, source)
    return ImageHeader(str(im.format).lower(), width, height, im.mode, _pages(im), _orientation(im))


def _pages(im: Image.Image) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # a damaged page chain: the first page is what gets decoded anyway
        return 1


def _orientation(im: Image.Image) -> int:
    if im.format == "TIFF":
        return 1  # libtiff (OpenCV) and Pillow apply a TIFF's Orientation tag themselves: size and pixels are upright
    try:
        if im.format == "PNG":
            # Pillow's PngImageFile.getexif() decodes the whole image to look behind the pixel
            # data; an eXIf chunk ahead of it (where writers put it) is in `info` already.
            exif = Image.Exif()
            if im.info.get("exif"):
                exif.load(im.info["exif"])
        else:
            exif = im.getexif()
        value = int(exif.get(_EXIF_ORIENTATION, 1))
    except Exception:  # an unreadable EXIF block: take the image as stored
        return 1
    return value if 1 <= value <= 8 else 1
