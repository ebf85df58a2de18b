"""Exporting a project's labels and predictions: every file reads back through segcore with the stored masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segcore.data.classes import IGNORE_INDEX, ClassTable
from segcore.data.masks import read_index_mask
from segcore.data.readers import open_dataset
from segcore.errors import DatasetError
from segcore.io.images import read_image
from segcore.project.export import export_project_masks
from segcore.project.store import ProjectStore

TABLE = ClassTable.from_names(["background", "cell", "nucleus"])


def _mask(i: int) -> np.ndarray:
    mask = np.zeros((32, 32), np.uint8)
    mask[4 + i : 20 + i, 6:22] = 1
    mask[8 + i : 12 + i, 10:16] = 2
    return mask


@pytest.fixture()
def store(tmp_path: Path):
    """Three labelled 32x32 images (one with an ignore corner), two unlabelled; predictions on two images."""
    with ProjectStore.create(tmp_path / "proj", TABLE) as store:
        for i in range(5):
            record = store.add_image_array(f"img{i}", (np.arange(32 * 32) % 200 + i).astype(np.uint8).reshape(32, 32),
                                           split="val" if i == 1 else None)
            if i < 3:
                mask = _mask(i)
                if i == 2:
                    mask[:3, :3] = IGNORE_INDEX
                store.save_mask(record.id, mask)
        ids = [r.id for r in store.images()]
        for image_id in (ids[1], ids[3]):
            store.save_prediction(image_id, np.roll(_mask(0), image_id, axis=1), checkpoint="test")
        yield store


def test_labels_in_every_per_image_format_read_back(store, tmp_path):
    out = tmp_path / "out"
    ids = [r.id for r in store.images()]
    steps = list(export_project_masks(store, out, ["palette", "color", "overlay", "labelme", "binary"]))

    assert [s.done for s in steps] == [1, 2, 3, 4, 5] and {s.total for s in steps} == {5}
    assert [s.image_id for s in steps] == ids
    assert [s.error for s in steps[3:]] == ["no label", "no label"] and not steps[3].files
    assert all(s.error is None for s in steps[:3])
    for step in steps[:3]:
        name = store.image(step.image_id).name
        stored = store.load_mask(step.image_id)
        assert all(p.is_file() for p in step.files)
        np.testing.assert_array_equal(read_index_mask(out / "palette" / f"{name}.png"), stored)
        assert read_image(out / "overlay" / f"{name}.png").shape == (32, 32, 3)
        assert (read_image(out / "binary" / f"{name}_nucleus.png") == 255).sum() == (stored == 2).sum()
    assert not (out / "palette" / "img3.png").exists()

    labelme = open_dataset("labelme", out / "labelme", labels=out / "labelme" / "labels.txt")
    assert labelme.class_table.names == ["_background_", *TABLE.names[1:]]  # labelme's name for class 0
    for sample in labelme:
        image, mask = sample.load()
        record = store.image_by_name(sample.name)
        np.testing.assert_array_equal(mask, store.load_mask(record.id))
        np.testing.assert_array_equal(image, store.read_image(record.id))


def test_labels_as_a_voc_folder(store, tmp_path):
    out = tmp_path / "out"
    steps = list(export_project_masks(store, out, ["voc"]))
    assert len(steps) == 6 and steps[-1].image_id is None and steps[-1].files == (out / "voc",)
    assert [s.error for s in steps[:5]] == [None, None, None, "no label", "no label"]

    voc = open_dataset("voc", out / "voc")
    assert voc.class_table.names == TABLE.names
    assert sorted(s.name for s in voc) == ["img0", "img1", "img2"]
    assert {s.name: s.split for s in voc}["img1"] == "val"
    for sample in voc:
        image, mask = sample.load(voc.class_table)
        record = store.image_by_name(sample.name)
        np.testing.assert_array_equal(mask, store.load_mask(record.id))
        np.testing.assert_array_equal(image, store.read_image(record.id))


def test_predictions_of_chosen_images(store, tmp_path):
    out = tmp_path / "out"
    ids = [r.id for r in store.images()]
    chosen = [ids[0], ids[1], ids[3]]
    steps = list(export_project_masks(store, out, ["palette", "voc"], source="predictions", image_ids=chosen))
    assert [(s.image_id, s.error) for s in steps] == [(ids[0], "no prediction"), (ids[1], None), (ids[3], None),
                                                      (None, None)]
    for image_id in (ids[1], ids[3]):
        name = store.image(image_id).name
        np.testing.assert_array_equal(read_index_mask(out / "palette" / f"{name}.png"),
                                      store.load_prediction(image_id).labels)
    voc = open_dataset("voc", out / "voc")
    assert sorted(s.name for s in voc) == ["img1", "img3"]
    for sample in voc:
        expected = store.load_prediction(store.image_by_name(sample.name).id).labels
        np.testing.assert_array_equal(sample.load_mask(), expected)


def test_predictions_as_voc_and_coco_folders(store, tmp_path):
    from pycocotools.coco import COCO

    out = tmp_path / "out"
    steps = list(export_project_masks(store, out, ["coco", "voc"], source="predictions"))
    assert [(s.done, s.total, s.image_id) for s in steps[-2:]] == [(6, 7, None), (7, 7, None)]
    assert [s.files for s in steps[-2:]] == [(out / "voc",), (out / "coco",)]
    coco = COCO(str(out / "coco" / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cell", "nucleus"]
    for fmt in ("voc", "coco"):
        dataset = open_dataset(fmt, out / fmt)
        assert sorted(s.name for s in dataset) == ["img1", "img3"]
        for sample in dataset:
            prediction = store.load_prediction(store.image_by_name(sample.name).id)
            np.testing.assert_array_equal(sample.load_mask(), prediction.labels)


def test_stopping_the_generator_stops_the_export(store, tmp_path):
    out = tmp_path / "out"
    steps = export_project_masks(store, out, ["palette", "voc"])
    first = next(steps)
    steps.close()
    assert [p.name for p in (out / "palette").iterdir()] == [first.files[0].name]
    assert not (out / "voc").exists()


def test_a_used_voc_folder_is_refused_before_anything_is_written(store, tmp_path):
    out = tmp_path / "out"
    (out / "voc").mkdir(parents=True)
    (out / "voc" / "old.txt").write_text("x")
    with pytest.raises(DatasetError, match="not empty"):
        next(export_project_masks(store, out, ["palette", "voc"]))
    assert not (out / "palette").exists()


def test_a_voc_export_with_nothing_to_write_says_so(store, tmp_path):
    ids = [r.id for r in store.images()]
    steps = list(export_project_masks(store, tmp_path / "out", ["voc"], image_ids=ids[3:]))
    assert steps[-1].image_id is None and "no VOC folder" in steps[-1].error
    assert not (tmp_path / "out" / "voc").exists()


@pytest.mark.parametrize(("formats", "source"), [(["jpeg"], "labels"), ([], "labels"), (["palette"], "masks")])
def test_bad_arguments_are_refused(store, tmp_path, formats, source):
    with pytest.raises(ValueError):
        next(export_project_masks(store, tmp_path / "out", formats, source=source))


def test_an_image_whose_edits_were_all_undone_exports_no_label(store, tmp_path):
    from segcore.project.store import ImageStatus

    undone = store.images()[4]
    # A stroke and its undo: the journal keeps an all-background patch, the status went back.
    store.save_mask_patch(undone.id, 0, 0, np.zeros((4, 4), np.uint8), status=ImageStatus.UNLABELLED)
    assert store.has_mask(undone.id)
    steps = list(export_project_masks(store, tmp_path / "out", ["palette"]))
    assert steps[4].image_id == undone.id and steps[4].error == "no label"
    assert not (tmp_path / "out" / "palette" / f"{undone.name}.png").exists()


def test_a_voc_export_keeps_jpeg_originals_and_torchvision_reads_it(tmp_path):
    """Issue 27, item 15: JPEG originals were re-encoded as JPEGImages/*.png, which VOCSegmentation cannot read."""
    from PIL import Image
    from torchvision.datasets import VOCSegmentation

    from segcore.cli import main

    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(photo, quality=90)
    with ProjectStore.create(tmp_path / "proj", TABLE) as store:
        record = store.add_image(photo)
        mask = np.zeros((48, 64), np.uint8)
        mask[10:30, 5:40] = 1
        store.save_mask(record.id, mask)
    out = tmp_path / "export" / "VOCdevkit" / "VOC2012"
    assert main(["project", "export", str(tmp_path / "proj"), str(out), "--to", "voc"]) == 0
    assert (out / "JPEGImages" / "photo.jpg").read_bytes() == photo.read_bytes()  # the bytes, not a re-encoding

    voc = VOCSegmentation(str(tmp_path / "export"), year="2012", image_set="train", download=False)
    image, target = voc[0]
    assert image.size == (64, 48) and np.array_equal(np.asarray(target), mask)


def test_an_exif_rotated_original_is_exported_upright_not_copied(tmp_path):
    from PIL import Image

    from segcore.cli import main

    rotated = tmp_path / "turned.jpg"
    im = Image.fromarray(np.full((20, 30, 3), 120, np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    im.save(rotated, exif=exif)
    with ProjectStore.create(tmp_path / "proj", TABLE) as store:
        record = store.add_image(rotated)
        store.save_mask(record.id, np.zeros((30, 20), np.uint8))  # upright: 30 high, 20 wide
    assert main(["project", "export", str(tmp_path / "proj"), str(tmp_path / "voc"), "--to", "voc"]) == 0
    written = tmp_path / "voc" / "JPEGImages" / "turned.png"  # upright pixels, losslessly: EXIF-blind readers agree
    assert written.is_file() and read_image(written, upright=False).shape[:2] == (30, 20)


def test_labels_else_predictions_and_a_manifest_that_tells_them_apart(store, tmp_path):
    """Issue 27, item 1: labels then predictions into one folder replaced labels without a word."""
    import csv

    out = tmp_path / "out"
    names = {r.id: r.name for r in store.images()}
    list(export_project_masks(store, out, ["palette"], source="labels"))
    steps = list(export_project_masks(store, out, ["palette"], source="predictions"))
    # img1 has both: its label's files now hold its prediction, and the step says so
    assert [(names[s.image_id], s.replaced) for s in steps if s.replaced] == [("img1", "label")]
    rows = {row["image"]: row for row in csv.DictReader((out / "manifest.csv").open())}
    assert {name: row["source"] for name, row in rows.items()} == {
        "img0": "label", "img1": "prediction", "img2": "label", "img3": "prediction"}
    assert rows["img3"]["checkpoint"] == "test" and rows["img3"]["made_at"] and rows["img0"]["made_at"]
    assert rows["img1"]["formats"] == "palette"

    either = tmp_path / "either"
    steps = list(export_project_masks(store, either, ["palette"], source="labels_else_predictions"))
    assert [s.error for s in steps] == [None, None, None, None, "no label or prediction"]
    rows = {row["image"]: row["source"] for row in csv.DictReader((either / "manifest.csv").open())}
    assert rows == {"img0": "label", "img1": "label", "img2": "label", "img3": "prediction"}
    img1, img3 = store.image_by_name("img1").id, store.image_by_name("img3").id
    np.testing.assert_array_equal(read_index_mask(either / "palette" / "img1.png"), store.load_mask(img1))
    np.testing.assert_array_equal(read_index_mask(either / "palette" / "img3.png"), store.load_prediction(img3).labels)


def test_an_export_stopped_half_way_still_writes_the_manifest_of_what_it_wrote(store, tmp_path):
    import csv

    steps = export_project_masks(store, tmp_path / "out", ["palette"])
    next(steps)
    steps.close()  # as the dialog's Cancel stops it between images
    rows = list(csv.DictReader((tmp_path / "out" / "manifest.csv").open()))
    assert [row["image"] for row in rows] == ["img0"]
