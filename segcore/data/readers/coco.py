"""COCO annotation files (CVAT, X-AnyLabeling, Detectron2, Roboflow, our coco writer) read as semantic masks.

Files: `root` itself when it is a JSON file; else every COCO file (a JSON object with "images",
"annotations" and "categories" lists) in `root`, in `root/annotations/` (COCO, CVAT) and Roboflow's
`root/<split>/_annotations.coco.json`. Where some are named `instances*`, only those are read
(COCO's keypoint files describe the same images again). A file's split (train, val, test) is read
from its name, or from its folder's name below `root`.

Images: `file_name` is looked up under `image_root` (when given), then `images/` beside the JSON,
the JSON's folder, `<root>/images`, `root`, and `<root>/<name>` for `instances_<name>.json` (COCO's
`val2017/`). A sample is named after `file_name` without its suffix (sub-folders joined by `_`).

Masks: class 0 where no annotation lies; annotations are painted in file order, so where instances
overlap the later annotation wins. Polygons, uncompressed RLE (`iscrowd=1`) and compressed RLE are
rasterised by pycocotools (`segcore.data.coco`); box-only annotations (no segmentation) are skipped
with one warning. An image without annotations is all background.

Class table: `class_table`, else `classes.txt` in `root` (the coco writer leaves it), else class 0
(a category named background / _background_, or `_background_` added) followed by the categories in
id order; category ids need not be consecutive. A category named `__ignore__` paints the ignore index.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from segcore.data.classes import BACKGROUND_NAME, IGNORE_NAME, ClassTable, read_labels_file
from segcore.data.coco import decode_segmentation
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample, unreadable_sample
from segcore.data.readers.detect import is_coco_document
from segcore.data.readers.folder import LABELS_FILE, warn_unused_options
from segcore.errors import DatasetError, LabelFileError

log = logging.getLogger(__name__)

BACKGROUND_NAMES = frozenset({BACKGROUND_NAME, "background", "__background__"})
_SPLIT = re.compile(r"(?<![a-z])(train|val|test)")


@dataclass(frozen=True)
class _CocoFile:
    path: Path
    data: dict[str, Any]
    split: str | None


@register_reader("coco")
def read_coco(
    root: Path,
    *,
    class_table: ClassTable | None = None,
    image_root: str | Path | None = None,
    **unused: Any,
) -> LabelledDataset:
    """A COCO annotation file, or a folder holding COCO files, with their images (see the module docstring)."""
    warn_unused_options("coco", unused)
    root = Path(root)
    files = _coco_files(root)
    folder = root if root.is_dir() else root.parent
    if class_table is None:
        labels = folder / LABELS_FILE
        class_table = read_labels_file(labels) if labels.is_file() else _inferred_table(files)
    samples: list[LabelledSample] = []
    boxes_only = 0
    for f in files:
        categories = _category_classes(f, class_table)
        file_samples, skipped = _samples(f, root, categories, image_root)
        samples += file_samples
        boxes_only += skipped
    if boxes_only:
        log.warning("%s: skipped %d annotation(s) that have a box but no segmentation", root, boxes_only)
    dupes = sorted(name for name, count in Counter(s.name for s in samples).items() if count > 1)
    if dupes:
        raise DatasetError(f"{root}: several images are named {', '.join(dupes[:5])}; sample names must be unique")
    return LabelledDataset(class_table=class_table, samples=samples, source=root, format="coco")


def _coco_files(root: Path) -> list[_CocoFile]:
    if root.is_file():
        data = _read_json(root)
        if not is_coco_document(data):
            raise LabelFileError(root, "not a COCO file (needs 'images', 'annotations' and 'categories' lists)")
        return [_CocoFile(root, data, _split_of(root.stem))]
    patterns = ("*.json", "annotations/*.json", "*/_annotations.coco.json")
    candidates = sorted({path for pattern in patterns for path in root.glob(pattern)})
    found = []
    for path in candidates:
        try:
            data = _read_json(path)
        except LabelFileError:
            continue  # any other JSON (a labelme file, a config) is not ours to complain about
        if is_coco_document(data):
            words = path.stem if path.parent == root else f"{path.parent.name}/{path.stem}"
            found.append(_CocoFile(path, data, _split_of(words)))
    if not found:
        raise DatasetError(
            f"no COCO annotation file (a JSON file with 'images', 'annotations' and 'categories' lists) "
            f"in {root}, its annotations/ folder or as */_annotations.coco.json"
        )
    instances = [f for f in found if f.path.name.startswith("instances")]
    return instances or found


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise LabelFileError(path, f"cannot open file ({exc.strerror or exc})") from exc
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8; absurd nesting
        raise LabelFileError(path, f"not valid JSON ({exc})") from exc


def _split_of(words: str) -> str | None:
    found = _SPLIT.search(words.lower())
    return found.group(1) if found else None


def _categories(f: _CocoFile) -> list[tuple[int, str]]:
    """(id, name) of every category, in id order; `LabelFileError` for a malformed one."""
    pairs: dict[int, str] = {}
    for n, category in enumerate(f.data["categories"]):
        cid = category.get("id") if isinstance(category, dict) else None
        name = category.get("name") if isinstance(category, dict) else None
        if not isinstance(cid, int) or isinstance(cid, bool) or not isinstance(name, str):
            raise LabelFileError(f.path, f"category {n} needs an integer 'id' and a string 'name'")
        if cid in pairs:
            raise LabelFileError(f.path, f"two categories have the id {cid}")
        pairs[cid] = name
    return sorted(pairs.items())


def _inferred_table(files: Iterable[_CocoFile]) -> ClassTable:
    background = BACKGROUND_NAME
    names: list[str] = []
    for f in files:
        for _, name in _categories(f):
            if name in BACKGROUND_NAMES:
                background = name
            elif name != IGNORE_NAME and name not in names:
                names.append(name)
    return ClassTable.from_names([background, *names])


def _category_classes(f: _CocoFile, table: ClassTable) -> dict[int, int]:
    """Category id -> class index (background names -> 0 when the table does not name them)."""
    classes = {}
    for cid, name in _categories(f):
        if name in BACKGROUND_NAMES and name not in table.names:
            classes[cid] = 0
            continue
        try:
            classes[cid] = table.index_of(name)
        except DatasetError:
            raise DatasetError(
                f"{f.path}: category {name!r} (id {cid}) is not in the class table ({', '.join(table.names)})"
            ) from None
    return classes


def _samples(
    f: _CocoFile, root: Path, classes: dict[int, int], image_root: str | Path | None
) -> tuple[list[LabelledSample], int]:
    """The file's images as samples, and how many box-only annotations were left out."""
    by_image: dict[int, list[tuple[int, Any, int]]] = {}
    images = [_image_entry(f.path, n, image) for n, image in enumerate(f.data["images"])]
    for image_id, *_ in images:
        if image_id in by_image:
            raise LabelFileError(f.path, f"two images have the id {image_id}")
        by_image[image_id] = []
    boxes_only = 0
    for n, ann in enumerate(f.data["annotations"]):
        ids = [ann.get(key) if isinstance(ann, dict) else None for key in ("image_id", "category_id")]
        if not all(isinstance(v, int) for v in ids) or ids[0] not in by_image or ids[1] not in classes:
            raise LabelFileError(f.path, f"annotation {n} names an image_id or category_id the file does not list")
        if not ann.get("segmentation"):
            boxes_only += 1
            continue
        by_image[ids[0]].append((ann.get("id", n), ann["segmentation"], classes[ids[1]]))
    bases = _image_bases(f.path, root, image_root)
    samples = []
    names = _sample_names([file_name for _, file_name, *_ in images])
    for (image_id, file_name, height, width), name in zip(images, names):
        image_path = _find_image(file_name, bases)
        if image_path is None:
            reason = f"{f.path}: image {file_name!r} not found in {', '.join(str(b) for b in bases)}"
            samples.append(unreadable_sample(name, reason))
            continue
        loader = functools.partial(_mask, f.path, (height, width), tuple(by_image[image_id]))
        samples.append(LabelledSample(name=name, image_path=image_path, mask_loader=loader, split=f.split))
    return samples, boxes_only


def _image_entry(path: Path, n: int, image: Any) -> tuple[int, str, int, int]:
    """(id, file_name, height, width) of an `images` entry; `LabelFileError` for a malformed one."""
    fields = [image.get(key) if isinstance(image, dict) else None for key in ("id", "file_name", "height", "width")]
    image_id, file_name, height, width = fields
    sizes_ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (height, width))
    if not isinstance(image_id, int) or not isinstance(file_name, str) or not file_name or not sizes_ok:
        raise LabelFileError(path, f"image {n} needs an integer 'id', a 'file_name' and positive 'height', 'width'")
    return image_id, file_name, height, width


def _image_bases(json_path: Path, root: Path, image_root: str | Path | None) -> list[Path]:
    folder = root if root.is_dir() else root.parent
    bases = [Path(image_root)] if image_root is not None else []
    bases += [json_path.parent / "images", json_path.parent, folder / "images", folder]
    if json_path.stem.startswith("instances_"):
        bases.append(folder / json_path.stem.removeprefix("instances_"))
    return list(dict.fromkeys(bases))


def _find_image(file_name: str, bases: list[Path]) -> Path | None:
    relative = PureWindowsPath(file_name).as_posix()
    return next((base / relative for base in bases if (base / relative).is_file()), None)


def _sample_names(file_names: list[str]) -> list[str]:
    """Each image's stem ("JPEGImages/2011_000003.jpg" -> "2011_000003"); where two images share a stem, their
    relative folders joined in ("x/a.png", "y/a.png" -> "x_a", "y_a")."""
    paths = [PurePosixPath(PureWindowsPath(name).as_posix()) for name in file_names]
    stems = Counter(path.stem for path in paths)
    return [path.stem if stems[path.stem] == 1 or path.is_absolute() else _qualified(path) for path in paths]


def _qualified(path: PurePosixPath) -> str:
    parts = [p for p in path.with_suffix("").parts if p not in (".", "..")]
    return "_".join(parts) or path.stem


def _mask(path: Path, shape_hw: tuple[int, int], annotations: tuple[tuple[int, Any, int], ...]) -> np.ndarray:
    height, width = shape_hw
    out = np.zeros((height, width), dtype=np.uint8)
    for ann_id, segmentation, value in annotations:
        try:
            out[decode_segmentation(segmentation, height, width)] = value
        except DatasetError as exc:
            raise LabelFileError(path, f"annotation {ann_id}: {exc}") from exc
    return out
