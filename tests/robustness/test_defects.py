"""One test per defect of issue 12 that the corpus does not pin down on its own (in-process, fast)."""

from __future__ import annotations

import base64
import errno
import io
import json
import logging
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from corpus import bomb_png, bomb_tiff, good_image
from PIL import Image

import segcore.cli.project
from segcore.cli import main
from segcore.data.masks import read_index_mask
from segcore.data.readers import open_dataset
from segcore.data.writers import write_dataset
from segcore.errors import DiskFullError, ImageReadError, ImageTooLargeError, LabelFileError, SegcoreError
from segcore.io.header import MAX_PIXELS_ENV, max_image_pixels
from segcore.io.images import decode_image, image_notes, read_image, write_image


def _encoded(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


# -- decompression bombs: the header's size is checked against one limit before decoding -----------


def test_a_bomb_is_refused_from_its_header_by_every_reader(tmp_path):
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    for read in (read_image, read_index_mask, lambda p: decode_image(p.read_bytes(), p)):
        with pytest.raises(ImageTooLargeError, match=r"bomb\.png: 30000 x 30000 pixels .* limit of 268,435,456"):
            read(tmp_path / "bomb.png")


def test_the_limit_follows_the_environment_and_the_cli_option(tmp_path, monkeypatch, capsys):
    write_image(tmp_path / "images" / "a.png", good_image())
    write_image(tmp_path / "masks" / "a.png", np.zeros((32, 32), np.uint8))
    monkeypatch.setenv(MAX_PIXELS_ENV, "1024")
    assert read_image(tmp_path / "images" / "a.png").shape == (32, 32)
    monkeypatch.setenv(MAX_PIXELS_ENV, "1023")
    with pytest.raises(ImageTooLargeError, match="limit of 1,023 pixels; if the frame is real, raise SEGDESK_MAX"):
        read_image(tmp_path / "images" / "a.png")
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(SegcoreError, match="SEGDESK_MAX_PIXELS must be a positive whole number"):
        max_image_pixels()
    monkeypatch.delenv(MAX_PIXELS_ENV)
    assert main(["--max-pixels", "1000", "convert", str(tmp_path), str(tmp_path / "out"), "--from", "folder",
                 "--to", "folder"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "32 x 32 pixels (1,024) is above the limit of 1,000 pixels" in err[0]


def test_above_opencvs_own_cap_is_a_read_error_too(tmp_path, monkeypatch):
    # With the limit raised for whole-slide frames, OpenCV's 2^30-pixel cap used to escape as cv2.error.
    monkeypatch.setenv(MAX_PIXELS_ENV, str(10**10))
    (tmp_path / "slide.tif").write_bytes(bomb_tiff())
    with pytest.raises(ImageReadError, match=r"slide\.tif: OpenCV cannot .* \(raise OPENCV_IO_MAX_IMAGE_PIXELS\)"):
        read_image(tmp_path / "slide.tif")


def test_a_labelme_mask_shape_bomb_is_a_label_file_error(tmp_path):
    write_image(tmp_path / "a.png", good_image())
    bitmap = base64.b64encode(bomb_png()).decode()
    shape = {"label": "x", "points": [[0, 0], [4, 4]], "shape_type": "mask", "mask": bitmap}
    (tmp_path / "a.json").write_text(json.dumps({"imagePath": "a.png", "imageData": None, "shapes": [shape]}))
    with pytest.raises(LabelFileError, match=r"a\.json: mask shape: .*30000 x 30000 pixels"):
        open_dataset("labelme", tmp_path)[0].load()


# -- multipage TIFF: the first page, one warning per file, a note for reports ---------------------------


def test_a_multipage_tiff_keeps_page_one_and_warns_once(tmp_path, caplog):
    pages = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 20, 30)]
    path = tmp_path / "stack.tif"
    path.write_bytes(_encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:]))
    with caplog.at_level(logging.WARNING, logger="segcore"), image_notes() as notes:
        first = read_image(path)
        read_image(path)
    assert (first == 10).all()
    warnings = [r.getMessage() for r in caplog.records if "stack.tif" in r.getMessage()]
    assert warnings == [f"{path}: 3 pages; only the first is read"]
    assert notes == ["3 pages; only the first is read"]


# -- EXIF orientation: applied by every image read, as labelme applies it --------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_exif_orientation_is_applied_when_reading(tmp_path, fmt):
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # the left quarter is white: rotated 90 degrees clockwise it is the top
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    path = tmp_path / f"photo.{fmt.lower()}"
    path.write_bytes(_encoded(im, fmt, exif=exif))
    upright = read_image(path)
    assert upright.shape == (40, 20, 3)
    assert upright[:8].mean() > 200 and upright[12:].mean() < 50


# -- disk full on the command line: one line naming the disk, no 0-byte file --------------------------


def _full_disk(monkeypatch):
    """Every Path.write_bytes / write_text creates its file, then fails as a full disk does."""

    def write(self, data, *args, **kwargs):
        self.open("wb").close()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", write)
    monkeypatch.setattr(Path, "write_text", write)


def test_predict_on_a_full_disk_stops_with_one_line_and_no_empty_scores(tmp_path, checkpoint, monkeypatch, capsys):
    write_image(tmp_path / "in" / "a.png", good_image())
    write_image(tmp_path / "in" / "b.png", good_image())
    _full_disk(monkeypatch)
    argv = ["predict", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
            "--whole", "--precision", "fp32", "--device", "cpu"]
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("segcore")]
    assert len(err) == 1 and "is full" in err[0] and "out" in err[0]
    left = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert left == []  # neither a 0-byte scores.json nor temporary files


@pytest.mark.parametrize("error", [
    sqlite3.OperationalError("database or disk is full"),
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),
    OSError(errno.ENOSPC, "No space left on device"),
])
def test_a_full_disk_in_any_library_is_one_line_naming_the_disk(tmp_path, monkeypatch, capsys, error):
    def fail(*args, **kwargs):
        raise error

    write_image(tmp_path / "src" / "images" / "a.png", good_image())
    write_image(tmp_path / "src" / "masks" / "a.png", np.zeros((32, 32), np.uint8))
    monkeypatch.setattr(segcore.cli.project, "import_dataset", fail)
    assert main(["project", "import", str(tmp_path / "p"), str(tmp_path / "src"), "--from", "folder"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"segcore project: error: the disk holding {tmp_path / 'p'} is full")


def test_a_project_on_a_full_disk_still_opens_to_read(tmp_path, monkeypatch, capsys):
    """Issue 27, item 13: on a full disk even `project info` was refused (opening to write needs a few pages)."""
    from segcore.data.classes import ClassTable
    from segcore.project.store import ProjectStore

    with ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "sample"])) as store:
        store.add_image_array("a", good_image())
    connect = ProjectStore._connect.__func__

    def full_unless_reading(cls, root, read_only):
        if not read_only:
            raise DiskFullError(root / "project.segdesk", 0)
        return connect(cls, root, read_only)

    monkeypatch.setattr(ProjectStore, "_connect", classmethod(full_unless_reading))
    assert main(["project", "info", str(tmp_path / "p")]) == 0
    assert "images: 1 (unlabelled 1)" in capsys.readouterr().out
    with ProjectStore.open(tmp_path / "p") as store:
        assert store.read_only and [r.name for r in store.images()] == ["a"]


# -- smaller ones --------------------------------------------------------------------------------------


def test_a_killed_exports_staging_folder_is_removed_by_the_next_write(tmp_path):
    write_image(tmp_path / "src" / "images" / "a.png", good_image())
    write_image(tmp_path / "src" / "masks" / "a.png", np.zeros((32, 32), np.uint8))
    stale, fresh = tmp_path / ".old.partial-deadbeef", tmp_path / ".live.partial-0123abcd"
    for folder in (stale, fresh):
        (folder / "masks").mkdir(parents=True)
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    write_dataset(open_dataset("folder", tmp_path / "src"), tmp_path / "new", "folder")
    assert not stale.exists() and fresh.exists() and (tmp_path / "new" / "classes.txt").is_file()


def test_a_killed_imports_half_written_image_is_removed_when_the_project_next_opens(tmp_path):
    from segcore.data.classes import ClassTable
    from segcore.project.store import ProjectStore

    ProjectStore.create(tmp_path / "p", ClassTable.from_names(["background", "sample"])).close()
    images = tmp_path / "p" / "images"
    images.mkdir(exist_ok=True)
    stale, fresh = images / ".a.png.k3j_x9q2.tmp", images / ".b.png.0a1b2c3d.tmp"  # issue 27: left forever
    for leftover in (stale, fresh):
        leftover.write_bytes(b"half an image")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    mine = tmp_path / "p" / ".notes.tmp"  # not a name atomic writes give: not ours to remove
    mine.write_text("x")
    os.utime(mine, (hour_ago, hour_ago))
    ProjectStore.open(tmp_path / "p").close()
    assert not stale.exists() and fresh.exists() and mine.exists()  # a live write's temporary is kept


def test_a_voc_box_of_nan_names_its_file(tmp_path):
    write_image(tmp_path / "JPEGImages" / "a.png", good_image())
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><object><name>dog</name><bndbox><xmin>nan</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>"
        "</bndbox></object></annotation>"
    )
    with pytest.raises(LabelFileError, match=r"a\.xml: object 0 \(dog\): <bndbox> needs finite numbers"):
        open_dataset("voc_boxes", tmp_path)


def _voc_box(root: Path, corners: tuple[str, str, str, str]) -> None:
    write_image(root / "JPEGImages" / "a.png", good_image())
    (root / "Annotations").mkdir()
    box = "".join(f"<{tag}>{value}</{tag}>" for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), corners))
    (root / "Annotations" / "a.xml").write_text(f"<annotation><object><name>dog</name><bndbox>{box}</bndbox>"
                                                "</object></annotation>")


def test_a_voc_box_with_swapped_corners_is_refused_not_swapped(tmp_path):
    _voc_box(tmp_path, ("20", "1", "5", "5"))  # issue 27: it was swapped without a word
    with pytest.raises(LabelFileError, match=r"a\.xml: object 0 \(dog\): xmin 20 > xmax 5 or ymin 1 > ymax 5"):
        open_dataset("voc_boxes", tmp_path)


def test_a_voc_box_reaching_far_outside_the_image_is_refused(tmp_path):
    _voc_box(tmp_path, ("1", "1", "1e300", "1e300"))  # issue 27: it filled the image
    sample = open_dataset("voc_boxes", tmp_path)[0]
    with pytest.raises(LabelFileError, match=r"a\.xml: a box .* lies or reaches far outside the 32x32 image"):
        sample.load_mask()
    near = tmp_path / "near"
    _voc_box(near, ("1", "1", "33", "20"))  # one pixel past the border, as some writers do: kept, clipped
    assert open_dataset("voc_boxes", near)[0].load_mask()[:20].all()


def test_a_box_reaching_far_outside_is_refused_by_boxes_to_masks(tmp_path, capsys):
    write_image(tmp_path / "images" / "a.png", good_image())
    (tmp_path / "boxes.json").write_text('{"classes": ["background", "s"], "boxes": {"a.png": [0, 0, 1e300, 1e300]}}')
    argv = ["boxes-to-masks", "--images", str(tmp_path / "images"), "--boxes", str(tmp_path / "boxes.json"),
            "--out", str(tmp_path / "out")]
    assert main(argv) == 1  # issue 27: it filled the image
    assert "lies or reaches far outside the 32x32 image" in capsys.readouterr().err


def test_a_folder_prediction_reaches_its_end_when_the_model_fails_on_one_image(tmp_path, checkpoint, monkeypatch):
    from segcore.inference.folder import list_images, predict_folder
    from segcore.inference.predictor import Predictor

    write_image(tmp_path / "in" / "a.png", good_image())
    write_image(tmp_path / "in" / "b.png", np.zeros((48, 40), np.uint8))  # another size: its own forward
    predictor = Predictor(checkpoint, mode="whole", precision="fp32", device="cpu")
    forward = predictor.predict_batch

    def fails_on_48_rows(batch, sizes):
        if batch.shape[-2] == 48:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB\nmore details")
        return forward(batch, sizes)

    monkeypatch.setattr(predictor, "predict_batch", fails_on_48_rows)
    results = list(predict_folder(predictor, list_images(tmp_path / "in"), tmp_path / "out", ["palette"], workers=0))
    assert [(r.path.name, r.error) for r in results] == [
        ("a.png", None), ("b.png", "cannot predict b.png: CUDA out of memory. Tried to allocate 20.00 GiB")]


def test_eval_of_an_absent_split_is_one_error_line_and_exit_1(tmp_path, checkpoint, capsys):
    write_image(tmp_path / "images" / "a.png", good_image())
    write_image(tmp_path / "masks" / "a.png", np.zeros((32, 32), np.uint8))
    argv = ["eval", "--checkpoint", str(checkpoint), "--data", str(tmp_path), "--format", "folder", "--split", "test"]
    assert main(argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["segcore eval: error: no samples in split 'test' "
                   "(this data has no splits; 'all' scores every image)"]
