"""`segcore project create|import|export|info` end to end through the real CLI entry point."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segcore.cli import main
from segcore.data.readers import open_dataset
from segcore.io.images import write_image
from segcore.project.store import ImageStatus, ProjectStore

LABELME = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "labelme-examples" / "semantic_segmentation"


@pytest.mark.skipif(not LABELME.is_dir(), reason=f"labelme examples not found at {LABELME}")
def test_import_labelme_then_export_voc_matches_labelme(tmp_path, capsys):
    project = tmp_path / "proj"
    rc = main(["project", "import", str(project), str(LABELME / "data_annotated"), "--from", "labelme",
               "--labels", str(LABELME / "labels.txt")])
    assert rc == 0
    assert "imported 3 of 3 images" in capsys.readouterr().out

    assert main(["project", "info", str(project)]) == 0
    info = capsys.readouterr().out
    assert "images: 3 (labelled 3)" in info and "classes (21)" in info

    assert main(["project", "export", str(project), str(tmp_path / "voc"), "--to", "voc"]) == 0
    exported = open_dataset("voc", tmp_path / "voc")
    assert exported.class_table.names[:2] == ["_background_", "aeroplane"]
    for sample in exported:
        expected = np.load(LABELME / "data_dataset_voc" / "SegmentationClassNpy" / f"{sample.name}.npy")
        got = sample.load_mask().astype(np.int32)
        got[got == 255] = -1
        np.testing.assert_array_equal(got, expected)


def test_create_import_folder_with_a_corrupt_image(tmp_path, capsys):
    project = tmp_path / "proj"
    assert main(["project", "create", str(project), "--labels", "landcover", "--name", "Tiles"]) == 0
    src = tmp_path / "tiles"
    for name, value in (("a", 1), ("b", 4)):
        write_image(src / "images" / f"{name}.png", np.full((6, 8, 3), 50 + value, np.uint8))
        write_image(src / "masks" / f"{name}.png", np.full((6, 8), value, np.uint8))
    shutil.copyfile(src / "masks" / "a.png", src / "masks" / "c.png")
    (src / "images" / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    rc = main(["project", "import", str(project), str(src), "--from", "folder", "--labels", "landcover"])
    out = capsys.readouterr().out
    assert rc == 3  # something was skipped: the exit code says so
    assert "imported 2 of 3" in out and "skipped c:" in out and "c.png" in out
    with ProjectStore.open(project) as store:
        assert store.name == "Tiles"
        assert [r.name for r in store.images(ImageStatus.LABELLED)] == ["a", "b"]
        assert int(store.load_mask(store.image_by_name("b").id)[0, 0]) == 4


def test_errors_are_one_line_and_exit_1(tmp_path, capsys):
    assert main(["project", "info", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a segdesk project" in err
    assert main(["project", "create", str(tmp_path / "p"), "--labels", "voc"]) == 0
    assert main(["project", "export", str(tmp_path / "p"), str(tmp_path / "out"), "--to", "folder"]) == 1
    assert "no images with the requested statuses" in capsys.readouterr().err
