"""What a prediction measures: one row per frame and class present, for `segcore predict --measure`.

    rows = measure_frame("frame_0001.tif", labels, image, class_names, quality=0.93)
    write_measurements(out / "measurements.csv", all_rows, pixel_size=2.5, unit="um")

A physicist wants numbers per frame, not masks: where the sample is, how big, which way it lies, and
which frames to distrust. Each class present (background excluded) gives its area, centroid and
bounding box in pixels, the diameter of the disc of the same area, the orientation of its major axis
(from the second-order moments), the mean intensity under it (raw units), the frame's estimated IoU
(`segcore.inference.quality`) and a flag (`check` below `quality.CHECK_BELOW`; `jump` where the region departs
from the same class in the neighbouring frames, `flag_jumps`). On a grayscale frame,
the fringe period and orientation inside the region too, from the windowed spectrum of the frame
under the region (the fringe analysis's robust carrier search). With a pixel size, the lengths and the
area again in that unit. A frame where nothing but the background is found gets one row of its own (class
empty, area 0, flagged "check"), so that every frame predicted is in the CSV and a sample lost in one frame of
an acquisition is not a silent gap.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from segcore.data.transforms.fringes import find_carrier
from segcore.inference.quality import to_check
from segcore.io.atomic import atomic_write_bytes

COLUMNS = ("frame", "class", "area_px", "centroid_x", "centroid_y", "bbox_x", "bbox_y", "bbox_w", "bbox_h",
           "equivalent_diameter_px", "orientation_deg", "mean_intensity", "fringe_period_px",
           "fringe_orientation_deg", "estimated_quality", "flag")
"""The CSV's columns in order; orientations in degrees from the x axis, counterclockwise as the frame is shown
(y down), in (-90, 90]; a fringe orientation is the direction the fringes run along."""
PHYSICAL = ("area", "centroid_x", "centroid_y", "equivalent_diameter", "fringe_period")
"""Columns given again in the pixel size's unit (`area_<unit>2`, the others `<name>_<unit>`)."""
MIN_FRINGE_SIDE = 16
"""A region's bounding box smaller than this a side gives no fringe period (too few pixels for a spectrum)."""
PAD_FACTOR, PAD_SIDE = 4, 2048
"""The region's crop is zero-padded to PAD_FACTOR times its side for its spectrum (past PAD_SIDE, to twice its side)."""
CHECK, JUMP = "check", "jump"
NOTHING = ""
"""The class of a frame's row where nothing but the background was found."""
JUMP_AREA = 0.3
"""`jumps`: an area this share above or below the neighbours' median is a jump."""
JUMP_SHIFT = 0.3
"""`jumps`: a centroid this many equivalent diameters from the neighbours' median is a jump."""


@dataclass(frozen=True)
class Measurement:
    """One class's region in one frame (pixels; None where it does not apply)."""

    frame: str
    class_name: str
    """The class; "" (NOTHING) for a frame where nothing but the background was found, whose other sizes are None."""
    area_px: int
    centroid_x: float | None
    centroid_y: float | None
    bbox: tuple[int, int, int, int] | None
    """x, y, width, height."""
    equivalent_diameter_px: float | None
    orientation_deg: float | None
    mean_intensity: float | None
    fringe_period_px: float | None
    fringe_orientation_deg: float | None
    estimated_quality: float | None
    jump: bool = False
    """Unlike the same class in the neighbouring frames (`flag_jumps`)."""

    @property
    def flag(self) -> str:
        """"check" (estimated IoU below quality.CHECK_BELOW, or nothing found), "jump" (`flag_jumps`), both, or ""."""
        check = to_check(self.estimated_quality) or self.class_name == NOTHING
        return " ".join(name for name, on in ((CHECK, check), (JUMP, self.jump)) if on)

    @property
    def is_region(self) -> bool:
        """A class's region, not the row of a frame where nothing was found."""
        return self.class_name != NOTHING

    def row(self, pixel_size: float | None = None, unit: str = "um") -> dict[str, object]:
        """The CSV row: COLUMNS, then the physical columns when `pixel_size` (units per pixel) is set."""
        x, y, w, h = self.bbox or (None, None, None, None)
        row: dict[str, object] = {
            "frame": self.frame, "class": self.class_name, "area_px": self.area_px,
            "centroid_x": _round(self.centroid_x), "centroid_y": _round(self.centroid_y),
            "bbox_x": x, "bbox_y": y, "bbox_w": w, "bbox_h": h,
            "equivalent_diameter_px": _round(self.equivalent_diameter_px),
            "orientation_deg": _round(self.orientation_deg), "mean_intensity": _round(self.mean_intensity),
            "fringe_period_px": _round(self.fringe_period_px),
            "fringe_orientation_deg": _round(self.fringe_orientation_deg),
            "estimated_quality": _round(self.estimated_quality), "flag": self.flag,
        }
        if pixel_size is not None:
            row[f"area_{unit}2"] = _round(self.area_px * pixel_size**2)
            for name, value in (("centroid_x", self.centroid_x), ("centroid_y", self.centroid_y),
                                ("equivalent_diameter", self.equivalent_diameter_px),
                                ("fringe_period", self.fringe_period_px)):
                row[f"{name}_{unit}"] = _round(None if value is None else value * pixel_size)
        return row


def measure_frame(frame: str, labels: np.ndarray, image: np.ndarray, class_names: Sequence[str], *,
                  quality: float | None = None) -> list[Measurement]:
    """One `Measurement` per class present in `labels` (H x W indices; class 0, the background, not measured).

    `image` is the frame the labels are of (H x W or H x W x C, any dtype, the same H x W).
    """
    if labels.shape[:2] != image.shape[:2]:
        raise ValueError(f"labels {labels.shape[:2]} and image {image.shape[:2]} differ in size")
    gray = image.astype(np.float32) if image.ndim == 2 else image.astype(np.float32).mean(axis=2)
    found = [_measure(frame, name, region, gray, image.ndim == 2, quality)
             for name, region in _class_regions(labels, class_names)]
    return found or [Measurement(frame, NOTHING, 0, None, None, None, None, None, None, None, None, quality)]


def _measure(frame: str, name: str, region: np.ndarray, gray: np.ndarray, grayscale: bool,
             quality: float | None) -> Measurement:
    moments = cv2.moments(region.astype(np.uint8), binaryImage=True)
    shape = _region_shape(name, moments)
    area = shape.area_px
    mu20, mu02, mu11 = moments["mu20"] / area, moments["mu02"] / area, moments["mu11"] / area
    # The major axis's angle in image coordinates (y down), negated: counterclockwise as the frame is shown.
    orientation = -math.degrees(0.5 * math.atan2(2 * mu11, mu20 - mu02))
    x, y, w, h = cv2.boundingRect(region.astype(np.uint8))
    period, fringe_angle = _fringes(gray[y:y + h, x:x + w], region[y:y + h, x:x + w]) if grayscale else (None, None)
    return Measurement(frame, name, area, shape.centroid_x, shape.centroid_y, (x, y, w, h), shape.equivalent_diameter_px,
                       _half_turn(orientation), float(gray[region].mean()), period, fringe_angle, quality)


def _fringes(gray: np.ndarray, region: np.ndarray) -> tuple[float | None, float | None]:
    """The fringe period (px) and the direction the fringes run (degrees) under `region` of a gray crop."""
    height, width = gray.shape
    if min(height, width) < MIN_FRINGE_SIDE:
        return None, None
    inside = gray[region]
    centred = np.where(region, gray - np.float32(inside.mean()), 0).astype(np.float32)  # outside: no fringes
    # Zero-padded to a larger square: finer spectrum bins (a period read to a fraction of a bin), and a region a
    # few periods wide clears the search's lowest frequency, which is set for whole frames.
    side = min(PAD_FACTOR * max(height, width), max(2 * max(height, width), PAD_SIDE))
    top, left = (side - height) // 2, (side - width) // 2
    padded = cv2.copyMakeBorder(centred, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT, 0)
    carrier = find_carrier(padded, robust=True)
    if carrier is None:
        return None, None
    ky, kx = carrier  # cycles over the padded square
    fy, fx = ky / side, kx / side  # cycles per pixel
    frequency = math.hypot(fx, fy)
    if frequency == 0:
        return None, None
    # The wave vector points across the fringes; they run at right angles to it (y down, shown counterclockwise).
    across = -math.degrees(math.atan2(fy, fx))
    return 1.0 / frequency, _half_turn(across + 90.0)


def _half_turn(degrees: float) -> float:
    """An axis's angle in (-90, 90]."""
    folded = (degrees + 90.0) % 180.0 - 90.0
    return 90.0 if folded == -90.0 else folded


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


class Shaped(Protocol):
    """What `jumps` compares: a class's region in one frame (a `Measurement` or a `RegionShape`)."""

    class_name: str
    area_px: int
    centroid_x: float
    centroid_y: float
    equivalent_diameter_px: float


@dataclass(frozen=True)
class RegionShape:
    """A class's region in one frame, no more than `jumps` needs (`region_shapes`)."""

    class_name: str
    area_px: int
    centroid_x: float
    centroid_y: float
    equivalent_diameter_px: float


def region_shapes(labels: np.ndarray, class_names: Sequence[str]) -> list[RegionShape]:
    """The area and centroid of each class present in `labels` (background and unknown indices left out)."""
    return [_region_shape(name, cv2.moments(region.astype(np.uint8), binaryImage=True))
            for name, region in _class_regions(labels, class_names)]


def _class_regions(labels: np.ndarray, class_names: Sequence[str]) -> Iterator[tuple[str, np.ndarray]]:
    """(class name, H x W bool region) of each class present; background, ignore (255) and unknown indices left out."""
    for index in np.unique(labels):
        if 0 < index < len(class_names):
            yield class_names[int(index)], labels == index


def _region_shape(name: str, moments: dict[str, float]) -> RegionShape:
    """Area, centroid and equivalent diameter from a region's image moments."""
    area = int(moments["m00"])
    return RegionShape(name, area, moments["m10"] / area, moments["m01"] / area, 2 * math.sqrt(area / math.pi))


def jumps(shapes: Sequence[Shaped], neighbours: int = 2) -> set[int]:
    """The indices of `shapes` (in frame order) whose area or centroid departs from the median of the same class
    in up to `neighbours` frames either side (JUMP_AREA, JUMP_SHIFT): a mask that jumps while the sample drifts
    slowly is a frame to distrust, however sure the network is."""
    by_class: dict[str, list[int]] = {}
    for index, shape in enumerate(shapes):
        if shape.class_name != NOTHING:  # no region to compare; the row is flagged "check" by itself
            by_class.setdefault(shape.class_name, []).append(index)
    jumped = set()
    for indices in by_class.values():
        windows = [indices[max(0, p - neighbours):p] + indices[p + 1:p + 1 + neighbours] for p in range(len(indices))]
        first = {index for index, window in zip(indices, windows) if _departs(shapes, index, window)}
        # Judged again without the frames that departed: near either end a frame has two neighbours, and one that
        # jumps pulls their median with it, so the frame beside a jump would be flagged too.
        jumped.update(index for index, window in zip(indices, windows) if index in first
                      and _departs(shapes, index, [i for i in window if i not in first] or window))
    return jumped


def _departs(shapes: Sequence[Shaped], index: int, around: list[int]) -> bool:
    """Whether shape `index` departs from the median area or centroid of the shapes `around` it."""
    if not around:
        return False
    this = shapes[index]
    area = float(np.median([shapes[i].area_px for i in around]))
    x, y = (float(np.median([getattr(shapes[i], axis) for i in around])) for axis in ("centroid_x", "centroid_y"))
    shift = math.hypot(this.centroid_x - x, this.centroid_y - y) / max(this.equivalent_diameter_px, 1.0)
    return abs(this.area_px - area) > JUMP_AREA * area or shift > JUMP_SHIFT


def flag_jumps(measurements: Sequence[Measurement], neighbours: int = 2) -> list[Measurement]:
    """`measurements` (in frame order) with `jump` set where `jumps` finds one."""
    jumped = jumps(measurements, neighbours)
    return [replace(m, jump=True) if i in jumped else m for i, m in enumerate(measurements)]


def write_measurements(path: str | Path, measurements: Iterable[Measurement], *, pixel_size: float | None = None,
                       unit: str = "um") -> Path:
    """`measurements.csv`: COLUMNS (and the physical ones with `pixel_size`), one row per frame and class; atomic."""
    rows = [m.row(pixel_size, unit) for m in measurements]
    columns = list(COLUMNS)
    if pixel_size is not None:
        columns += [f"area_{unit}2", *(f"{name}_{unit}" for name in PHYSICAL if name != "area")]
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    atomic_write_bytes(Path(path), text.getvalue().encode("utf-8"))
    return Path(path)
