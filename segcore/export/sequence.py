"""A predicted acquisition as one file: the label masks as one multi-page TIFF, the overlays as one video.

    write_label_stack(out / "labels.tif", frames_in_order)        # index values, one page per frame
    write_overlay_video(out / "overlay.mp4", overlays_in_order, 25)

Both read the per-frame files `segcore predict` wrote (palette PNGs, overlay PNGs) one at a time, so an
acquisition of any length is assembled in the memory of one frame, and are written under a temporary name
and renamed: a run killed while assembling leaves no half file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from segcore.data.classes import IGNORE_INDEX
from segcore.data.masks import read_index_mask
from segcore.errors import SegcoreError
from segcore.io.atomic import atomic_path
from segcore.io.images import read_image

SEQUENCE_FORMATS = ("tiff-stack", "overlay-video")
"""Export formats of a whole acquisition (`segcore predict --export`), beside the per-frame ones."""
STACK_NAME, VIDEO_NAME = "labels.tif", "overlay.mp4"
NEEDS = {"tiff-stack": "palette", "overlay-video": "overlay"}
"""The per-frame format each is assembled from."""


def write_label_stack(path: str | Path, frames: Sequence[Path | None], size: tuple[int, int]) -> Path:
    """`path`: a multi-page TIFF of index masks (uint8, class index per pixel; one series, as tifffile, ImageJ and
    Fiji read it), one page per item of `frames` in order: a palette PNG of `size` (height, width), or None for a
    frame that was not predicted (a page of IGNORE_INDEX)."""
    import tifffile

    def pages() -> Iterator[np.ndarray]:
        for frame in frames:
            labels = np.full(size, IGNORE_INDEX, np.uint8) if frame is None else read_index_mask(frame)
            if labels.shape != size:
                raise SegcoreError(f"{frame} is {labels.shape[1]}x{labels.shape[0]}, the stack's frames "
                                   f"{size[1]}x{size[0]}: frames of several sizes make no stack")
            yield labels

    path = Path(path)
    with atomic_path(path) as tmp, tifffile.TiffWriter(tmp, bigtiff=True) as tif:
        tif.write(pages(), shape=(len(frames), *size), dtype=np.uint8, photometric="minisblack", compression="zlib")
    return path


def write_overlay_video(path: str | Path, overlays: Iterable[Path], fps: float) -> Path:
    """`path`: an MP4 (OpenCV's mp4v) of the overlay PNGs in order, at `fps` frames a second; frames of another
    size than the first are fitted to it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        video = tmp.with_suffix(".mp4")  # OpenCV picks the container by the suffix
        writer = None
        try:
            for overlay in overlays:
                frame = cv2.cvtColor(read_image(overlay), cv2.COLOR_RGB2BGR)
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])
                    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                    if not writer.isOpened():
                        raise SegcoreError(f"OpenCV cannot write an MP4 video at {path}")
                if (frame.shape[1], frame.shape[0]) != size:
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                writer.write(frame)
            if writer is None:
                raise SegcoreError("no predicted frame to make a video of")
            writer.release()
            video.replace(tmp)
        finally:
            if writer is not None:
                writer.release()
            video.unlink(missing_ok=True)
    return path
