"""Image and file I/O."""

from segcore.io.atomic import atomic_path, atomic_write_bytes
from segcore.io.images import (
    IMAGE_SUFFIXES,
    ImageInfo,
    decode_image,
    encode_image,
    image_info,
    is_image_file,
    read_image,
    write_image,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageInfo",
    "atomic_path",
    "atomic_write_bytes",
    "decode_image",
    "encode_image",
    "image_info",
    "is_image_file",
    "read_image",
    "write_image",
]
