"""PASCAL VOC box annotations (`Annotations/*.xml` + `JPEGImages/`) as box-filled masks.

Coordinates: VOC writes `xmin..xmax`, `ymin..ymax` as 1-based, inclusive pixel numbers, so the
box covers 0-based columns `xmin-1 .. xmax-1`: `Box(x=xmin-1, w=xmax-xmin+1)` (non-integer values
are rounded). labelme's VOC export writes its raw 0-based corner coordinates instead; read with
this convention its boxes sit up to one pixel left of/above where labelme drew them, and a box
reaching past the image edge is clipped.

Each sample carries its `boxes` (class indices from the class table) and a mask made with
`boxes_to_mask` (background 0; where boxes overlap, the smaller box keeps its class).
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from segcore.data.boxes import Box
from segcore.data.classes import BACKGROUND_NAME, IGNORE_NAME, ClassTable
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset, LabelledSample, box_mask
from segcore.data.readers.folder import files_by_stem, warn_unused_options
from segcore.data.readers.voc import read_image_sets, require_dir, table_from_root
from segcore.errors import DatasetError, LabelFileError
from segcore.io.images import is_file_or_broken_link

_CORNERS = ("xmin", "ymin", "xmax", "ymax")


def parse_voc_xml(path: Path) -> tuple[str | None, list[tuple[str, float, float, float, float]]]:
    """(<filename>, [(name, xmin, ymin, xmax, ymax), ...]) of one VOC annotation file."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise LabelFileError(path, f"not valid XML ({exc})") from exc
    if root.tag != "annotation":
        raise LabelFileError(path, f"the root element is <{root.tag}>, expected <annotation>")
    objects = []
    for n, obj in enumerate(root.iter("object")):
        name = (obj.findtext("name") or "").strip()
        box = obj.find("bndbox")
        if not name or box is None:
            raise LabelFileError(path, f"object {n} needs a <name> and a <bndbox>")
        try:
            corners = [float((box.findtext(tag) or "").strip()) for tag in _CORNERS]
        except ValueError:
            corners = []
        if len(corners) != len(_CORNERS) or not all(math.isfinite(c) for c in corners):
            raise LabelFileError(path, f"object {n} ({name}): <bndbox> needs finite numbers {', '.join(_CORNERS)}")
        xmin, ymin, xmax, ymax = corners
        if xmin > xmax or ymin > ymax:  # swapped corners are a broken writer: which box was meant is a guess
            raise LabelFileError(path, f"object {n} ({name}): xmin {xmin:g} > xmax {xmax:g} or ymin {ymin:g} > ymax "
                                 f"{ymax:g}; a <bndbox> runs from min to max")
        objects.append((name, *corners))
    filename = (root.findtext("filename") or "").strip() or None
    return filename, objects



@register_reader("voc_boxes")
def read_voc_boxes(
    root: Path,
    *,
    class_table: ClassTable | None = None,
    labels: str | Path | None = None,
    **unused: Any,
) -> LabelledDataset:
    """One sample per `Annotations/*.xml` (or per name in `ImageSets/Main/{train,val,test}.txt`).

    Class table: `class_table`, else the labels file `labels`, else `class_names.txt` in the root,
    else `_background_` followed by the object names in order of first appearance.
    """
    warn_unused_options("voc_boxes", unused)
    root = Path(root)
    images = files_by_stem(require_dir(root, "JPEGImages"))
    annotations = require_dir(root, "Annotations")
    xml_files = {p.stem: p for p in sorted(annotations.glob("*.xml")) if is_file_or_broken_link(p)}
    listed = read_image_sets(root / "ImageSets" / "Main")
    if listed is None:
        listed = [(stem, None, None) for stem in xml_files]
    parsed = []
    for name, split, list_file in listed:
        if name not in xml_files:
            raise DatasetError(f"{list_file} lists {name!r} but {annotations} has no {name}.xml")
        parsed.append((name, split, xml_files[name], *parse_voc_xml(xml_files[name])))

    table = table_from_root(root, class_table, labels)
    if table is None:
        names = [BACKGROUND_NAME]
        for *_, objects in parsed:
            for label, *_corners in objects:
                if label not in names and label != IGNORE_NAME:
                    names.append(label)
        table = ClassTable.from_names(names)
    known = set(table.names) | {IGNORE_NAME}

    samples = []
    for name, split, xml_path, filename, objects in parsed:
        image = images.get(name)
        if image is None and filename and (root / "JPEGImages" / filename).is_file():
            image = root / "JPEGImages" / filename
        if image is None:
            raise DatasetError(f"{root / 'JPEGImages'} has no image for {xml_path} (looked for {name}.* and {filename})")
        for obj in objects:
            if obj[0] not in known:
                raise DatasetError(f"{xml_path}: object name {obj[0]!r} is not in the class table ({', '.join(table.names)})")
        boxes = tuple(
            Box.from_corners(xmin - 1, ymin - 1, xmax - 1, ymax - 1, table.index_of(label))
            for label, xmin, ymin, xmax, ymax in objects
        )
        samples.append(
            LabelledSample(
                name=name,
                image_path=image,
                mask_loader=functools.partial(box_mask, image, xml_path, boxes),
                split=split,
                boxes=boxes,
            )
        )
    return LabelledDataset(class_table=table, samples=samples, source=root, format="voc_boxes")
