"""A corpus of bad and odd inputs, and the command lines that push each one through the CLI.

`write_corpus(root, checkpoint)` writes every case file once; `command_line(case, command, ...)`
lays out a small workspace around one case (a good sample beside it, so a skip is visible)
and returns the `python -m segcore` arguments. Each case says, per command, what must happen:

    0  handled: the input is fine, or converted unambiguously (alpha dropped, gray <-> colour by
       the training rule, EXIF orientation applied, first page of a multipage file kept)
    1  the command reached its end, and said which input it skipped and why
    2  refused: one line on stderr naming the input and the reason

Runs per outcome, over the 39 cases and every command that takes each (`outcome_counts()`;
the docs quote it):

    outcome            runs
    0 handled            36
    1 refused            56
    3 skipped            30
    total               122
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from segcore.cli.exit_codes import ExitCode
from segcore.io.images import write_image

HANDLED, SKIPPED, REFUSED = ExitCode.DONE, ExitCode.SKIPPED, ExitCode.FAILED
SIDE = 32
"""Every real image is SIDE x SIDE, except the EXIF-rotated one."""

IMAGE_COMMANDS = ("convert", "import", "boxes", "predict")
_REFUSE_IMAGE = {"convert": REFUSED, "import": SKIPPED, "boxes": REFUSED, "predict": SKIPPED}
_HANDLE_IMAGE = dict.fromkeys(IMAGE_COMMANDS, HANDLED)
_LIMIT = "is above the limit of 268,435,456 pixels"


@dataclass(frozen=True)
class Case:
    """One input and the exit code each command that takes it must give."""

    name: str
    kind: str
    """image (a file in an image folder), labelme (a JSON file), boxes (BOXES.json), checkpoint."""
    file: str
    expect: dict[str, int] = field(default_factory=dict)
    shape: tuple[int, int] = (SIDE, SIDE)
    """(height, width) the mask beside an image case must have: the image's upright size."""
    says: str = ""
    """What the output must say about it, whatever the command."""


def _image(name: str, file: str, fine: bool, **extra) -> Case:
    expect = dict(_HANDLE_IMAGE if fine else _REFUSE_IMAGE)
    if not fine and name in ("bomb_png", "truncated_png"):
        expect["train"] = REFUSED
    return Case(name, "image", file, expect, **extra)


CASES: tuple[Case, ...] = (
    # decompression bombs: tiny files whose headers claim huge frames
    _image("bomb_png", "bomb.png", fine=False, says=_LIMIT),  # 30000 x 30000 1-bit, a complete stream of 110 kB
    _image("bomb_tiff", "bomb.tif", fine=False, says=_LIMIT),  # 50000 x 50000, a few bytes of pixel data
    _image("bomb_jpeg", "bomb.jpg", fine=False, says=_LIMIT),  # 65000 x 65000 in its SOF
    _image("bomb_bmp", "bomb.bmp", fine=False, says=_LIMIT),  # 40000 x 40000
    # damaged or not images at all
    _image("truncated_png", "truncated.png", fine=False),
    _image("truncated_jpeg", "truncated.jpg", fine=False),
    _image("truncated_tiff", "truncated.tif", fine=False),
    _image("zero_bytes", "empty.png", fine=False),
    _image("not_an_image", "text.png", fine=False),
    _image("float_tiff", "float.tif", fine=False),
    _image("symlink_loop", "loop.png", fine=False, says="a symbolic link that loops back on itself"),
    _image("broken_link", "dangling.png", fine=False, says="a broken symbolic link"),
    # odd but readable: converted or used as they are
    _image("cmyk_jpeg", "cmyk.jpg", fine=True),
    _image("gray_alpha_png", "la.png", fine=True),
    _image("rgba_png", "rgba.png", fine=True),
    _image("rgb16_png", "rgb16.png", fine=True),
    _image("palette_png", "palette.png", fine=True),
    _image("bilevel_png", "bilevel.png", fine=True),
    _image("multipage_tiff", "pages.tif", fine=True, says="pages.tif: 3 pages; only the first is read"),
    _image("exif_rotated_jpeg", "rotated.jpg", fine=True, shape=(48, SIDE)),  # stored 48 wide x 32 high, tag 6
    # labelme folders: one bad JSON beside a good one
    *(Case(name, "labelme", f"{name}.json", {"convert": REFUSED, "import": SKIPPED}) for name in (
        "lm_broken_json", "lm_wrong_types", "lm_missing_image", "lm_nan_points", "lm_bomb_imagedata",
        "lm_bomb_mask_shape")),
    *(Case(name, "labelme", f"{name}.json", {"convert": HANDLED, "import": HANDLED}) for name in (
        "lm_huge_points", "lm_exif_rotated")),
    # box files
    *(Case(name, "boxes", f"{name}.json", {"boxes": REFUSED}, says="not a finite number") for name in (
        "boxes_nan", "boxes_infinity")),
    Case("boxes_huge", "boxes", "boxes_huge.json", {"boxes": REFUSED}, says="lies or reaches far outside the 32x32 image"),
    # checkpoints
    *(Case(name, "checkpoint", f"{name}.pt", {"predict": REFUSED, "eval": REFUSED, "train": REFUSED}) for name in (
        "ckpt_random_bytes", "ckpt_truncated", "ckpt_missing_fields", "ckpt_wrong_types", "ckpt_not_segcore")),
    *(Case(name, "checkpoint", f"{name}.pt", {"predict": REFUSED, "eval": REFUSED}) for name in (
        "ckpt_shape_mismatch", "ckpt_missing_weights", "ckpt_class_mismatch")),
)

RUNS: tuple[tuple[Case, str], ...] = tuple((case, command) for case in CASES for command in case.expect)


def outcome_counts() -> dict[int, int]:
    """How many (case, command) runs must end in each exit code."""
    return dict(sorted(Counter(case.expect[command] for case, command in RUNS).items()))


# ------------------------------------------------------------------------------------------------
# Writing the corpus
# ------------------------------------------------------------------------------------------------


def write_corpus(root: Path, checkpoint: Path) -> None:
    """Write every case file (and the good files they sit beside) into `root`."""
    for sub in ("images", "labelme", "boxes", "checkpoints"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    _write_images(root / "images")
    _write_labelme(root / "labelme", root / "images")
    _write_boxes(root / "boxes")
    _write_checkpoints(root / "checkpoints", checkpoint)


def good_image() -> np.ndarray:
    """A gray frame with a bright square (the model's class 1) on dark noise."""
    image = (np.random.default_rng(0).random((SIDE, SIDE)) * 60).astype(np.uint8)
    image[8:20, 10:22] += 150
    return image


def _colour(shape: tuple[int, int] = (SIDE, SIDE)) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (*shape, 3), dtype=np.uint8)


def _encoded(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side x side pixels, all black: about 110 kB for 30000."""
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    rows_per_chunk = 1000
    parts = [compressor.compress(row * min(rows_per_chunk, side - y)) for y in range(0, side, rows_per_chunk)]
    data = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def bomb_tiff(side: int = 50000) -> bytes:
    """A little-endian TIFF header for a side x side 8-bit gray frame with a single 16-byte strip."""
    entries = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 9 + 4), (277, 3, 1, 1), (278, 4, 1, side), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)  # SHORT or LONG, left-aligned
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\0" * 16


def _bomb_jpeg(side: int = 65000) -> bytes:
    """A real 8 x 8 JPEG whose SOF0 segment claims side x side."""
    data = bytearray(_encoded(Image.new("L", (8, 8), 128), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def _bomb_bmp(side: int = 40000) -> bytes:
    """A 24-bit BMP header for side x side with 16 bytes of pixels."""
    pixels = b"\0" * 16
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(pixels), 0, 0, 14 + 40) + info + pixels


def _write_images(folder: Path) -> None:
    write_image(folder / "good.png", good_image())
    png = (folder / "good.png").read_bytes()
    jpeg = _encoded(Image.fromarray(_colour()), "JPEG")
    files = {
        "bomb.png": bomb_png(),
        "bomb.tif": bomb_tiff(),
        "bomb.jpg": _bomb_jpeg(),
        "bomb.bmp": _bomb_bmp(),
        "truncated.png": png[: len(png) // 2],
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "truncated.tif": _encoded(Image.fromarray(_colour()), "TIFF")[:1200],
        "empty.png": b"",
        "text.png": b"this is not an image\n",
        "float.tif": _encoded(Image.fromarray(good_image().astype(np.float32) / 255), "TIFF"),
        "cmyk.jpg": _encoded(Image.fromarray(_colour()).convert("CMYK"), "JPEG"),
        "la.png": _encoded(Image.fromarray(good_image()).convert("LA"), "PNG"),
        "rgba.png": _encoded(Image.fromarray(_colour()).convert("RGBA"), "PNG"),
        "rgb16.png": cv2.imencode(".png", _colour().astype(np.uint16) * 257)[1].tobytes(),
        "palette.png": _encoded(Image.fromarray(_colour()).convert("P"), "PNG"),
        "bilevel.png": _encoded(Image.fromarray(good_image()).convert("1"), "PNG"),
        "pages.tif": _multipage(),
        "rotated.jpg": _rotated_jpeg(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)


def _multipage() -> bytes:
    pages = [Image.fromarray(good_image()) for _ in range(3)]
    return _encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def _rotated_jpeg() -> bytes:
    """Stored 48 wide x 32 high with EXIF orientation 6 ("rotate 90 clockwise"): upright 32 x 48."""
    im = Image.fromarray(_colour((SIDE, 48)))
    exif = im.getexif()
    exif[0x0112] = 6
    return _encoded(im, "JPEG", exif=exif)


def _labelme_doc(image_path: str | None, shapes: list, image_data: str | None = None) -> dict:
    return {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": image_data}


def _rectangle(points: list, label: str = "square", **extra) -> dict:
    return {"label": label, "points": points, "shape_type": "rectangle", "flags": {}, **extra}


def _write_labelme(folder: Path, images: Path) -> None:
    shutil.copy(images / "good.png", folder / "good.png")
    shutil.copy(images / "rotated.jpg", folder / "lm_exif_rotated.jpg")
    write_image(folder / "lm_huge_points.png", good_image()[::-1])
    bomb = base64.b64encode((images / "bomb.png").read_bytes()).decode()
    docs = {
        "good": _labelme_doc("good.png", [_rectangle([[8, 8], [20, 20]])]),
        "lm_wrong_types": {"shapes": {"square": [[1, 1]]}, "imagePath": 7},
        "lm_missing_image": _labelme_doc(None, [_rectangle([[1, 1], [4, 4]])]),
        "lm_nan_points": _labelme_doc("good.png", [_rectangle([[float("nan"), 1], [4, 4]])]),
        "lm_bomb_imagedata": _labelme_doc(None, [], image_data=bomb),
        "lm_bomb_mask_shape": _labelme_doc("good.png", [_rectangle([[0, 0], [4, 4]], shape_type="mask", mask=bomb)]),
        "lm_huge_points": _labelme_doc("lm_huge_points.png", [_rectangle([[1e300, -1e300], [4, 4]])]),  # clipped
        "lm_exif_rotated": _labelme_doc("lm_exif_rotated.jpg", [_rectangle([[2, 2], [20, 40]])]),
    }
    for name, doc in docs.items():
        (folder / f"{name}.json").write_text(json.dumps(doc))  # json writes NaN as NaN, as Python's reader takes it
    (folder / "lm_broken_json.json").write_text('{"shapes": [{"label": "square", "points": [[1, ')


def _write_boxes(folder: Path) -> None:
    classes = '"classes": ["background", "square"]'
    for name, box in (("boxes_nan", "[NaN, 1, 5, 5]"), ("boxes_infinity", "[1, 1, Infinity, 5]"),
                      ("boxes_huge", "[1e308, 1, 5, 5]")):
        (folder / f"{name}.json").write_text(f'{{{classes}, "boxes": {{"good.png": {box}}}}}')
    (folder / "good.json").write_text(f'{{{classes}, "boxes": {{"good.png": [8, 8, 12, 12]}}}}')


def _write_checkpoints(folder: Path, checkpoint: Path) -> None:
    data = checkpoint.read_bytes()
    (folder / "ckpt_random_bytes.pt").write_bytes(np.random.default_rng(2).bytes(4096))
    (folder / "ckpt_truncated.pt").write_bytes(data[: len(data) // 2])
    payload = torch.load(checkpoint, weights_only=True)
    weights = payload["state_dict"]
    first_weight = next(iter(weights))
    variants = {
        "ckpt_missing_fields": {"format": payload["format"], "version": payload["version"]},
        "ckpt_wrong_types": {**payload, "model": {**payload["model"], "in_channels": "one"}},
        "ckpt_not_segcore": {"state_dict": weights},
        "ckpt_shape_mismatch": {**payload, "model": {**payload["model"], "in_channels": 3}},
        "ckpt_missing_weights": {**payload, "state_dict": {k: v for k, v in weights.items() if k != first_weight}},
        "ckpt_class_mismatch": {**payload, "model": {**payload["model"], "num_classes": 5}},
    }
    for name, variant in variants.items():
        torch.save(variant, folder / f"{name}.pt")


# ------------------------------------------------------------------------------------------------
# Workspaces and command lines
# ------------------------------------------------------------------------------------------------

def command_line(case: Case, command: str, corpus: Path, checkpoint: Path, ws: Path) -> list[str]:
    """Lay out the inputs of (case, command) in the empty folder `ws`; the `segcore` arguments to run."""
    if case.kind == "image":
        return _image_command(case, command, corpus / "images", checkpoint, ws)
    if case.kind == "labelme":
        src = ws / "src"
        src.mkdir()
        own_image = {"lm_exif_rotated": ["lm_exif_rotated.jpg"], "lm_huge_points": ["lm_huge_points.png"]}
        for name in ("good.json", "good.png", case.file, *own_image.get(case.name, [])):
            shutil.copy(corpus / "labelme" / name, src / name)
        if command == "convert":
            return ["convert", str(src), str(ws / "out"), "--from", "labelme", "--to", "folder"]
        return ["project", "import", str(ws / "project"), str(src), "--from", "labelme"]
    if case.kind == "boxes":
        _place(corpus / "images" / "good.png", ws / "images")
        return ["boxes-to-masks", "--images", str(ws / "images"), "--boxes", str(corpus / "boxes" / case.file),
                "--out", str(ws / "out")]
    bad = corpus / "checkpoints" / case.file
    if command == "predict":
        return _predict(bad, corpus / "images" / "good.png", ws)
    src = _folder_dataset(ws / "src", corpus / "images", [("good.png", (SIDE, SIDE))])
    if command == "eval":
        return ["eval", "--checkpoint", str(bad), "--data", str(src), "--format", "folder", "--split", "all",
                "--device", "cpu"]
    return [*_train(src, ws), "--init-from", str(bad)]


def _image_command(case: Case, command: str, images: Path, checkpoint: Path, ws: Path) -> list[str]:
    if command in ("predict", "boxes"):
        _place(images / "good.png", ws / "images")
        _place(images / case.file, ws / "images", case.name)
        if command == "predict":
            return _predict(checkpoint, ws / "images", ws)
        boxes = {"classes": ["background", "square"], "boxes": {"good.png": [8, 8, 12, 12], case.file: [1, 1, 4, 4]}}
        (ws / "boxes.json").write_text(json.dumps(boxes))
        return ["boxes-to-masks", "--images", str(ws / "images"), "--boxes", str(ws / "boxes.json"),
                "--out", str(ws / "out")]
    src = _folder_dataset(ws / "src", images, [("good.png", (SIDE, SIDE)), (case.file, case.shape)], case.name)
    if command == "convert":
        return ["convert", str(src), str(ws / "out"), "--from", "folder", "--to", "folder"]
    if command == "import":
        return ["project", "import", str(ws / "project"), str(src), "--from", "folder"]
    return _train(src, ws)


def _place(source: Path, folder: Path, case_name: str = "") -> None:
    """Copy `source` into `folder`, or make the link the symlink cases are about."""
    folder.mkdir(parents=True, exist_ok=True)
    if case_name == "symlink_loop":
        (folder / source.name).symlink_to(source.name)  # the link points at itself
    elif case_name == "broken_link":
        (folder / source.name).symlink_to("missing.png")
    else:
        shutil.copy(source, folder)


def _folder_dataset(root: Path, images: Path, samples: list[tuple[str, tuple[int, int]]], case_name: str = "") -> Path:
    """A `folder` dataset: images/ (the last one as the case wants it), masks/ of the given sizes, classes.txt."""
    for i, (name, shape) in enumerate(samples):
        _place(images / name, root / "images", case_name if i == len(samples) - 1 else "")
        mask = np.zeros(shape, np.uint8)
        mask[2:10, 2:10] = 1
        write_image(root / "masks" / f"{Path(name).stem}.png", mask)
    (root / "classes.txt").write_text("background\nsquare\n")
    return root


def _predict(checkpoint: Path, inputs: Path, ws: Path) -> list[str]:
    return ["predict", "--checkpoint", str(checkpoint), "--input", str(inputs), "--out", str(ws / "out"),
            "--whole", "--precision", "fp32", "--device", "cpu"]


def _train(src: Path, ws: Path) -> list[str]:
    return ["train", "--data", str(src), "--format", "folder", "--model", "unet", "--model-arg", "base_channels=8",
            "--epochs", "1", "--batch-size", "2", "--workers", "0", "--device", "cpu", "--val-fraction", "0",
            "--out", str(ws / "run")]
