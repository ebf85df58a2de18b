"""Write a `LabelledDataset` out as VOC, an index-mask or colour-mask folder pair, COCO or labelme files.

Each written format reads back with the reader of the same name, giving the same masks and class
table. The dataset is written into a hidden folder beside `out` and renamed to `out` once it is
complete, so `out` never holds half a dataset; every file in it is written atomically. Hidden
folders that killed writes left behind are removed by the next write into the same parent.

    voc        JPEGImages/X.jpg (or X.png), SegmentationClass/X.png (palette PNG),
               ImageSets/Segmentation/{train,val,trainval}.txt (+ test.txt), class_names.txt
    folder     images/X.*, masks/X.png (8-bit gray: value = class index), classes.txt
    colormask  images/X.*, masks/X.png (RGB: the class colours), classes.txt (with colours)
    coco       images/X.*, annotations.json, classes.txt (with colours: the class table, class 0 included)
    labelme    X.* and X.json side by side (labelme's own layout), labels.txt (names only)

COCO (`pycocotools.coco.COCO` loads it; `annToMask` gives the masks back exactly): categories are
classes 1..n-1 with id = class index; each class present in an image is one annotation, a compressed
RLE with `iscrowd=0` as COCO-Stuff writes its regions (exact, unlike polygons, which COCO rasterises
its own way), with area and bbox from pycocotools. Class 0 is not written: COCO's unannotated pixels
are the background. COCO has no ignore label: ignore pixels become background (one warning).
labelme: polygons by `segcore.export.labelme_json`, simplified only where labelme's rasteriser still
fills exactly the same pixels; ignore pixels are `__ignore__` shapes. Neither keeps splits.

Images keep their original bytes when the sample reads them straight from a file (JPEG or PNG
for voc; any supported format for the folder formats); anything else is written as lossless PNG.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from segcore.data.classes import ClassTable, voc_colormap
from segcore.data.coco import categories, mask_annotations
from segcore.data.masks import index_to_rgb, write_palette_png
from segcore.data.readers.base import LabelledDataset, LabelledSample
from segcore.errors import DatasetError, ImageReadError
from segcore.export.labelme_json import write_labelme_json, write_labelme_labels
from segcore.io.atomic import atomic_write_bytes
from segcore.io.header import read_header, sniff_format
from segcore.io.images import encode_image, write_image

log = logging.getLogger(__name__)

WRITER_FORMATS = ("voc", "folder", "colormask", "coco", "labelme")
COCO_FILE = "annotations.json"
ProgressFn = Callable[[int, int], None]

_SUFFIX_OF_FORMAT = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "bmp": ".bmp"}
_STAGING_NAME = re.compile(r"\..+\.partial-[0-9a-f]{8}")
STALE_STAGING_S = 600
"""A staging folder untouched for this long was left by a killed write (a live one is touched after every sample)."""


def write_dataset(
    dataset: LabelledDataset,
    out: str | Path,
    fmt: str,
    *,
    progress: ProgressFn | None = None,
) -> Path:
    """Write `dataset` to the new or empty folder `out` in format `fmt`; returns `out`.

    Every sample is loaded and checked (mask size, classes) before it is written; `progress`
    is called with (done, total) at the start and after each sample.
    """
    if fmt not in WRITER_FORMATS:
        raise DatasetError(f"cannot write dataset format {fmt!r}; choose one of {', '.join(WRITER_FORMATS)}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"output folder {out} already exists and is not empty; choose a new folder")
    _check_names(dataset, fmt)
    if fmt == "colormask":
        _check_colors_distinct(dataset.class_table)

    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out.parent)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    report = progress or (lambda done, total: None)

    def step(done: int, total: int) -> None:
        os.utime(staging)  # a live write keeps its folder fresh, so no other write takes it for abandoned
        report(done, total)

    try:
        _WRITERS[fmt](dataset, staging, step)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("wrote %d samples as %s to %s", len(dataset), fmt, out)
    return out


def remove_stale_staging(folder: Path) -> None:
    """Remove the staging folders that killed writes left in `folder` (untouched for `STALE_STAGING_S`)."""
    cutoff = time.time() - STALE_STAGING_S
    for leftover in folder.glob(".*.partial-*"):
        try:
            if _STAGING_NAME.fullmatch(leftover.name) and leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                log.info("removing %s, left by a write that was killed", leftover)
                shutil.rmtree(leftover)
        except OSError as exc:
            log.warning("cannot remove the abandoned staging folder %s: %s", leftover, exc)


def _check_names(dataset: LabelledDataset, fmt: str) -> None:
    seen: set[str] = set()
    for sample in dataset.samples:
        name = sample.name
        bad = (
            not name
            or name.startswith(".")
            or "/" in name
            or "\\" in name
            or (fmt == "voc" and any(c.isspace() for c in name))
        )
        if bad:
            raise DatasetError(f"sample name {name!r} cannot be a file name in a {fmt} dataset")
        if name in seen:
            raise DatasetError(f"two samples are named {name!r}; names must be unique to be written as files")
        seen.add(name)


def _check_colors_distinct(table: ClassTable) -> None:
    owners: dict[tuple[int, int, int], str] = {}
    for name, color in [(c.name, c.color) for c in table.classes] + [("ignore", table.ignore_color)]:
        if color in owners:
            raise DatasetError(
                f"classes {owners[color]!r} and {name!r} share the colour {color}; colour masks would be ambiguous"
            )
        owners[color] = name


def _original_image(sample: LabelledSample) -> tuple[bytes, str] | None:
    """The image file's bytes and format when the sample reads it unchanged from that file."""
    if sample.image_loader is not None or sample.image_path is None:
        return None
    try:
        data = sample.image_path.read_bytes()
    except OSError as exc:
        raise ImageReadError(sample.image_path, f"cannot open file ({exc.strerror or exc})") from exc
    fmt = sniff_format(data[:16])
    if not fmt or read_header(data, sample.image_path).orientation != 1:
        return None  # an EXIF-rotated file: readers that ignore EXIF (torchvision's VOC) would see it sideways
    return data, fmt


def _image_file(sample: LabelledSample, image: np.ndarray, keep: tuple[str, ...]) -> tuple[bytes, str]:
    """(bytes, suffix): the original file when its format is in `keep`, else a lossless PNG."""
    original = _original_image(sample)
    if original is not None and original[1] in keep:
        return original[0], _SUFFIX_OF_FORMAT[original[1]]
    return encode_image(image, ".png"), ".png"


def _each_sample(dataset: LabelledDataset, progress: ProgressFn):
    total = len(dataset.samples)
    progress(0, total)
    for done, sample in enumerate(dataset.samples, 1):
        image, mask = sample.load(dataset.class_table)
        yield sample, image, mask
        progress(done, total)


def _write_voc(dataset: LabelledDataset, root: Path, progress: ProgressFn) -> None:
    table = dataset.class_table
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for sample, image, mask in _each_sample(dataset, progress):
        data, suffix = _image_file(sample, image, keep=("jpeg", "png"))
        atomic_write_bytes(root / "JPEGImages" / f"{sample.name}{suffix}", data)
        write_palette_png(root / "SegmentationClass" / f"{sample.name}.png", mask, table)
        lists[sample.split if sample.split in ("val", "test") else "train"].append(sample.name)
    sets = root / "ImageSets" / "Segmentation"
    lists["trainval"] = lists["train"] + lists["val"]
    for split, names in lists.items():
        if names or split != "test":
            atomic_write_bytes(sets / f"{split}.txt", "".join(f"{n}\n" for n in names).encode("utf-8"))
    _write_class_names(root / "class_names.txt", table)


def _write_class_names(path: Path, table: ClassTable) -> None:
    """labelme's `class_names.txt` (one name per line) when the colours are VOC's; else with colours."""
    default = voc_colormap()
    plain = all(c.color == tuple(int(v) for v in default[c.index]) for c in table.classes) and table.ignore_color == tuple(
        int(v) for v in default[table.ignore_index]
    )
    if plain:
        atomic_write_bytes(path, "".join(f"{name}\n" for name in table.names).encode("utf-8"))
    else:
        table.write(path)


def _write_folder(dataset: LabelledDataset, root: Path, progress: ProgressFn) -> None:
    for sample, image, mask in _each_sample(dataset, progress):
        data, suffix = _image_file(sample, image, keep=tuple(_SUFFIX_OF_FORMAT))
        atomic_write_bytes(root / "images" / f"{sample.name}{suffix}", data)
        write_image(root / "masks" / f"{sample.name}.png", mask)
    dataset.class_table.write(root / "classes.txt")


def _write_colormask(dataset: LabelledDataset, root: Path, progress: ProgressFn) -> None:
    table = dataset.class_table
    for sample, image, mask in _each_sample(dataset, progress):
        data, suffix = _image_file(sample, image, keep=tuple(_SUFFIX_OF_FORMAT))
        atomic_write_bytes(root / "images" / f"{sample.name}{suffix}", data)
        write_image(root / "masks" / f"{sample.name}.png", index_to_rgb(mask, table))
    table.write(root / "classes.txt")


def _write_coco(dataset: LabelledDataset, root: Path, progress: ProgressFn) -> None:
    table = dataset.class_table
    images: list[dict] = []
    annotations: list[dict] = []
    with_ignore = 0
    for image_id, (sample, image, mask) in enumerate(_each_sample(dataset, progress), 1):
        data, suffix = _image_file(sample, image, keep=tuple(_SUFFIX_OF_FORMAT))
        atomic_write_bytes(root / "images" / f"{sample.name}{suffix}", data)
        height, width = mask.shape
        images.append({"id": image_id, "file_name": f"{sample.name}{suffix}", "height": height, "width": width})
        annotations += mask_annotations(mask, table, image_id=image_id, first_id=len(annotations) + 1)
        with_ignore += bool((mask == table.ignore_index).any())
    if with_ignore:
        log.warning("%d image(s) have ignore pixels; COCO has no ignore label, so they are written as background",
                    with_ignore)
    doc = {"info": {"description": "written by segdesk"}, "licenses": [], "images": images,
           "annotations": annotations, "categories": categories(table)}
    atomic_write_bytes(root / COCO_FILE, json.dumps(doc, separators=(",", ":")).encode("utf-8"))
    table.write(root / "classes.txt")


def _write_labelme(dataset: LabelledDataset, root: Path, progress: ProgressFn) -> None:
    table = dataset.class_table
    for sample, image, mask in _each_sample(dataset, progress):
        data, suffix = _image_file(sample, image, keep=tuple(_SUFFIX_OF_FORMAT))
        image_path = root / f"{sample.name}{suffix}"
        atomic_write_bytes(image_path, data)
        # max_error=0: an outline is simplified only where labelme still fills exactly the same pixels.
        write_labelme_json(root / f"{sample.name}.json", mask, table, image_path, max_error=0.0)
    write_labelme_labels(root / "labels.txt", table)


_WRITERS: dict[str, Callable[[LabelledDataset, Path, ProgressFn], None]] = {
    "voc": _write_voc,
    "folder": _write_folder,
    "colormask": _write_colormask,
    "coco": _write_coco,
    "labelme": _write_labelme,
}
