"""`segcore convert`: end to end on the labelme examples and on a small landcover colour-mask set."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest

from segcore.cli import convert
from segcore.data.classes import IGNORE_INDEX, builtin_table
from segcore.data.readers import open_dataset
from segcore.errors import DatasetError, UnknownColorError
from segcore.io.images import write_image

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
LABELME_SEG = DATASETS / "labelme-examples" / "semantic_segmentation"
NPY = LABELME_SEG / "data_dataset_voc" / "SegmentationClassNpy"
needs_shared = pytest.mark.skipif(not DATASETS.is_dir(), reason=f"shared datasets not found at {DATASETS}")
LANDCOVER = builtin_table("landcover")


def run_convert(*argv: str) -> int:
    """The convert subcommand through its own parser, as `segcore convert ARGV` would run it."""
    parser = argparse.ArgumentParser(prog="segcore")
    convert.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["convert", *map(str, argv)])
    return args.func(args)


def landcover_dataset(root: Path, stray: bool = False) -> dict[str, np.ndarray]:
    """Two tiny satellite tiles with landcover colour masks; returns their index masks."""
    rng = np.random.default_rng(5)
    expected = {}
    for name in ("tile_a", "tile_b"):
        index = rng.integers(0, LANDCOVER.num_classes, (10, 12)).astype(np.uint8)
        rgb = LANDCOVER.color_lut()[index]
        if stray and name == "tile_b":
            rgb[3, 4] = (250, 10, 10)
            index[3, 4] = IGNORE_INDEX
        write_image(root / "images" / f"{name}.png", rng.integers(0, 255, (10, 12, 3)).astype(np.uint8))
        write_image(root / "masks" / f"{name}.png", rgb)
        expected[name] = index
    return expected


@needs_shared
def test_labelme_to_voc_reads_back_as_labelme2voc_made_it(tmp_path, capsys):
    src = tmp_path / "annotated"
    shutil.copytree(LABELME_SEG / "data_annotated", src)
    out = tmp_path / "voc"
    assert run_convert(src, out, "--from", "labelme", "--to", "voc", "--labels", LABELME_SEG / "labels.txt") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("converted 3 samples (21 classes) from labelme")
    back = open_dataset("voc", out)
    assert len(back) == 3
    for sample in back:
        image, mask = sample.load(back.class_table)
        as_npy = mask.astype(np.int32)
        as_npy[mask == IGNORE_INDEX] = -1
        assert np.array_equal(as_npy, np.load(NPY / f"{sample.name}.npy")), sample.name


def test_landcover_colour_masks_to_folder_and_voc(tmp_path, capsys):
    expected = landcover_dataset(tmp_path / "tiles")
    assert run_convert(tmp_path / "tiles", tmp_path / "folder", "--from", "colormask", "--to", "folder", "--labels", "landcover") == 0
    folder = open_dataset("folder", tmp_path / "folder")
    assert folder.class_table == LANDCOVER
    assert {s.name: s.load_mask().tolist() for s in folder} == {k: v.tolist() for k, v in expected.items()}

    assert run_convert(tmp_path / "folder", tmp_path / "voc", "--from", "folder", "--to", "voc") == 0
    voc = open_dataset("voc", tmp_path / "voc")
    assert voc.class_table == LANDCOVER
    assert {s.name: s.load_mask().tolist() for s in voc} == {k: v.tolist() for k, v in expected.items()}
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_stray_colours_stop_the_conversion_unless_ignored(tmp_path):
    expected = landcover_dataset(tmp_path / "tiles", stray=True)
    with pytest.raises(UnknownColorError, match=r"\(250, 10, 10\)"):
        run_convert(tmp_path / "tiles", tmp_path / "out", "--from", "colormask", "--to", "folder", "--labels", "landcover")
    assert not (tmp_path / "out").exists()
    run_convert(tmp_path / "tiles", tmp_path / "out", "--from", "colormask", "--to", "colormask",
                "--labels", "landcover", "--unknown-colors", "ignore")
    back = open_dataset("colormask", tmp_path / "out")
    assert back.class_table == LANDCOVER
    assert np.array_equal(next(s for s in back if s.name == "tile_b").load_mask(), expected["tile_b"])


def test_bad_labels_and_formats(tmp_path):
    landcover_dataset(tmp_path / "tiles")
    with pytest.raises(DatasetError, match="neither a labels file nor a built-in class table"):
        run_convert(tmp_path / "tiles", tmp_path / "out", "--from", "colormask", "--to", "voc", "--labels", "no-such-table")
    with pytest.raises(DatasetError, match="--labels"):
        run_convert(tmp_path / "tiles", tmp_path / "out", "--from", "colormask", "--to", "voc")
    with pytest.raises(SystemExit):
        run_convert(tmp_path / "tiles", tmp_path / "out", "--from", "colormask", "--to", "yolo")


def _segcore_main():
    try:
        from segcore.cli import build_parser, main

        build_parser()  # every subcommand module must import
    except ImportError as exc:  # another subcommand is still being written
        pytest.skip(f"segcore.cli cannot build its parser yet: {exc}")
    return main


def test_segcore_main_converts_and_reports_errors_in_one_line(tmp_path, capsys):
    main = _segcore_main()
    landcover_dataset(tmp_path / "tiles", stray=True)
    argv = ["convert", str(tmp_path / "tiles"), str(tmp_path / "out"), "--from", "colormask", "--to", "folder", "--labels", "landcover"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("segcore convert: error: 1 colour(s)") and "(250, 10, 10)" in err[0]
    assert main([*argv, "--unknown-colors", "ignore"]) == 0
    assert capsys.readouterr().out.startswith("converted 2 samples (7 classes) from colormask")
