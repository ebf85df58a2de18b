"""Class tables: names, colours and indices of a project's classes, and the one ignore index."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from segcore.errors import DatasetError

IGNORE_INDEX = 255
"""Mask value for 'not labelled / ignore in loss and metrics' everywhere in segcore."""
IGNORE_NAME = "__ignore__"
BACKGROUND_NAME = "_background_"

Color = tuple[int, int, int]


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: n x 3 uint8, entry i is the colour of index i (bit-interleaved)."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


_VOC_CMAP = voc_colormap()


def _voc_color(index: int) -> Color:
    return tuple(int(v) for v in _VOC_CMAP[index])  # type: ignore[return-value]


def _checked_color(color: Sequence[int]) -> Color:
    """`color` as an (r, g, b) tuple of ints; refused unless it is three values in 0..255."""
    rgb = tuple(int(v) for v in color)
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise DatasetError(f"a colour is three values in 0..255, got {tuple(color)}")
    return rgb  # type: ignore[return-value]


@dataclass(frozen=True)
class ClassInfo:
    """One class: its index in masks, its name and its display colour."""

    index: int
    name: str
    color: Color


@dataclass(frozen=True)
class ClassTable:
    """An ordered set of classes with contiguous indices 0..n-1, plus the ignore index."""

    classes: tuple[ClassInfo, ...]
    ignore_index: int = IGNORE_INDEX
    ignore_color: Color = field(default=tuple(int(v) for v in _VOC_CMAP[IGNORE_INDEX]))  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if not self.classes:
            raise DatasetError("a class table needs at least one class")
        for expected, info in enumerate(self.classes):
            if info.index != expected:
                raise DatasetError(f"class indices must run 0..n-1; {info.name!r} has {info.index}, expected {expected}")
        names = [c.name for c in self.classes]
        unreadable = [n for n in names if not n.strip() or any(unicodedata.category(ch) == "Cc" for ch in n)]
        if unreadable:
            raise DatasetError(f"class names must be text without control characters; got {unreadable[0]!r}")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DatasetError(f"duplicate class names: {', '.join(dupes)}")
        if len(self.classes) > self.ignore_index:
            raise DatasetError(f"at most {self.ignore_index} classes fit below the ignore index {self.ignore_index}")

    @classmethod
    def from_names(cls, names: Sequence[str], colors: Sequence[Color] | None = None) -> ClassTable:
        """A table from class names; colours default to the VOC colour map."""
        if colors is not None and len(colors) != len(names):
            raise DatasetError(f"{len(names)} class names but {len(colors)} colours")
        if len(names) > IGNORE_INDEX:  # before the colour map, which has 256 entries
            raise DatasetError(f"{len(names)} classes; at most {IGNORE_INDEX} fit an 8-bit index mask "
                               f"({IGNORE_INDEX} is {IGNORE_NAME})")
        infos = tuple(
            ClassInfo(i, str(name), tuple(int(v) for v in (colors[i] if colors is not None else _VOC_CMAP[i])))  # type: ignore[misc]
            for i, name in enumerate(names)
        )
        return cls(infos)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def colors(self) -> list[Color]:
        return [c.color for c in self.classes]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def index_of(self, name: str) -> int:
        """Index of a class by name; the ignore name maps to the ignore index."""
        if name == IGNORE_NAME:
            return self.ignore_index
        for info in self.classes:
            if info.name == name:
                return info.index
        raise DatasetError(f"unknown class {name!r}; the classes are: {', '.join(self.names)}")

    def color_lut(self) -> np.ndarray:
        """256 x 3 uint8 lookup table: class colours, the ignore colour, VOC colours elsewhere."""
        lut = _VOC_CMAP.copy()
        for info in self.classes:
            lut[info.index] = info.color
        lut[self.ignore_index] = self.ignore_color
        return lut

    def with_class(self, name: str, color: Color | None = None) -> ClassTable:
        """This table with a class appended; its colour defaults to the VOC colour of its index."""
        index = self.num_classes
        rgb = _voc_color(index) if color is None else _checked_color(color)
        return replace(self, classes=(*self.classes, ClassInfo(index, self._new_name(name), rgb)))

    def renamed(self, index: int, name: str) -> ClassTable:
        """This table with class `index` renamed."""
        info = self.classes[self._checked_index(index)]
        if name.strip() == info.name:
            return self
        return self._with_info(replace(info, name=self._new_name(name)))

    def recoloured(self, index: int, color: Color) -> ClassTable:
        """This table with class `index` shown in `color`."""
        return self._with_info(replace(self.classes[self._checked_index(index)], color=_checked_color(color)))

    def with_ignore_color(self, color: Color) -> ClassTable:
        """This table with the ignore class shown in `color`."""
        return replace(self, ignore_color=_checked_color(color))

    def reordered(self, order: Sequence[int]) -> tuple[ClassTable, np.ndarray]:
        """The table whose class i is this table's class `order[i]`, and the 256-entry LUT old index -> new.

        The LUT maps every other value (the ignore index, unused values) to itself, so `lut[mask]`
        rewrites a mask of this table into one of the new table.
        """
        order = [int(i) for i in order]
        if sorted(order) != list(range(self.num_classes)):
            raise ValueError(f"order must be a permutation of 0..{self.num_classes - 1}, got {order}")
        infos = tuple(replace(self.classes[old], index=new) for new, old in enumerate(order))
        lut = np.arange(256, dtype=np.uint8)
        lut[order] = np.arange(self.num_classes, dtype=np.uint8)
        return replace(self, classes=infos), lut

    def _checked_index(self, index: int) -> int:
        if not 0 <= index < self.num_classes:
            raise DatasetError(f"no class {index}; the classes are 0..{self.num_classes - 1}")
        return index

    def _new_name(self, name: str) -> str:
        """`name` stripped, refused when empty, reserved, or already a class name."""
        name = name.strip()
        if not name:
            raise DatasetError("a class name cannot be empty")
        if name == IGNORE_NAME or "\n" in name:
            raise DatasetError(f"{name!r} cannot be a class name")
        if name in self.names:
            raise DatasetError(f"a class named {name!r} already exists")
        return name

    def _with_info(self, info: ClassInfo) -> ClassTable:
        return replace(self, classes=tuple(info if c.index == info.index else c for c in self.classes))

    def to_dict(self) -> dict:
        return {
            "classes": [{"index": c.index, "name": c.name, "color": list(c.color)} for c in self.classes],
            "ignore_index": self.ignore_index,
            "ignore_color": list(self.ignore_color),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ClassTable:
        try:
            infos = tuple(ClassInfo(int(c["index"]), str(c["name"]), tuple(int(v) for v in c["color"])) for c in data["classes"])  # type: ignore[misc]
            return cls(
                infos,
                ignore_index=int(data.get("ignore_index", IGNORE_INDEX)),
                ignore_color=tuple(int(v) for v in data.get("ignore_color", _VOC_CMAP[IGNORE_INDEX])),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"malformed class table: {exc}") from exc

    def write(self, path: str | Path) -> None:
        """Write as a labels file: one `name r g b` per line, `__ignore__` first."""
        from segcore.io.atomic import atomic_write_bytes

        lines = [f"{IGNORE_NAME} {' '.join(map(str, self.ignore_color))}"]
        lines += [f"{c.name} {' '.join(map(str, c.color))}" for c in self.classes]
        atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def read_labels_file(path: str | Path) -> ClassTable:
    """Read a labels file: one class per line (labelme's labels.txt), optionally `name r g b`.

    A first line `__ignore__` names the ignore class (index 255) and is not a class;
    JSON files written by `ClassTable.to_dict` are accepted too.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read labels file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"labels file {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                           f"offset {exc.start}); save it as UTF-8") from exc
    if path.suffix.lower() == ".json":
        try:
            return ClassTable.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"labels file {path} is not valid JSON: {exc}") from exc
    names: list[str] = []
    colors: list[Color | None] = []
    ignore_color: Color | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.replace(",", " ").split()
        name, color = line, None
        # A colour is the last three tokens when all are integers; names may contain spaces.
        if len(parts) >= 4 and all(p.lstrip("-").isdigit() for p in parts[-3:]):
            rgb = tuple(int(p) for p in parts[-3:])
            if not all(0 <= v <= 255 for v in rgb):
                raise DatasetError(f"{path}:{lineno}: expected 'name r g b' with 0..255 values, got {raw!r}")
            name, color = " ".join(parts[:-3]), rgb
        if name == IGNORE_NAME:
            ignore_color = color
            continue
        names.append(name)
        colors.append(color)
    if not names:
        raise DatasetError(f"labels file {path} names no classes")
    try:
        # a colour per class past the 255 that fit is never read: the table refuses them first
        table = ClassTable.from_names(names, [c if c is not None else _voc_color(i % len(_VOC_CMAP))
                                              for i, c in enumerate(colors)])
    except DatasetError as exc:
        raise DatasetError(f"labels file {path}: {exc}") from exc
    if ignore_color is not None:
        table = ClassTable(table.classes, ignore_color=ignore_color)
    return table


VOC_CLASS_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)

CAMVID_CLASSES: tuple[tuple[str, Color], ...] = (
    ("Sky", (128, 128, 128)), ("Building", (128, 0, 0)), ("Pole", (192, 192, 128)), ("Road", (128, 64, 128)),
    ("Pavement", (60, 40, 222)), ("Tree", (128, 128, 0)), ("SignSymbol", (192, 128, 128)), ("Fence", (64, 64, 128)),
    ("Car", (64, 0, 128)), ("Pedestrian", (64, 64, 0)), ("Bicyclist", (0, 128, 192)),
)
CAMVID_VOID_INDEX = 11
"""CamVid (SegNet split) writes 'Unlabelled' as 11; segcore maps it to IGNORE_INDEX."""

LANDCOVER_CLASSES: tuple[tuple[str, Color], ...] = (
    ("urban", (0, 255, 255)), ("agriculture", (255, 255, 0)), ("rangeland", (255, 0, 255)), ("forest", (0, 255, 0)),
    ("water", (0, 0, 255)), ("barren", (255, 255, 255)), ("unknown", (0, 0, 0)),
)

BUILTIN_TABLES = {
    "voc": lambda: ClassTable.from_names(VOC_CLASS_NAMES),
    "camvid": lambda: ClassTable.from_names([n for n, _ in CAMVID_CLASSES], [c for _, c in CAMVID_CLASSES]),
    "landcover": lambda: ClassTable.from_names([n for n, _ in LANDCOVER_CLASSES], [c for _, c in LANDCOVER_CLASSES]),
}


def builtin_table(name: str) -> ClassTable:
    """A built-in class table by name: voc, camvid or landcover."""
    try:
        return BUILTIN_TABLES[name]()
    except KeyError:
        raise DatasetError(f"unknown built-in class table {name!r}; choose one of {', '.join(BUILTIN_TABLES)}") from None


def resolve_class_table(spec: str | Path) -> ClassTable:
    """A built-in table name (voc, camvid, landcover) or the path of a labels file."""
    if str(spec) in BUILTIN_TABLES and not Path(spec).exists():
        return builtin_table(str(spec))
    if not Path(spec).exists():
        raise DatasetError(
            f"{spec!s} is neither a labels file nor a built-in class table ({', '.join(BUILTIN_TABLES)})"
        )
    return read_labels_file(spec)
