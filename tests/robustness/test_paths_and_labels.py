"""Issue 27, item 11: inputs that ended in a traceback now end in one line naming the file, exit 1 (or a
skip, exit 3, where the command goes through many files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from corpus import good_image

from segcore.cli import main
from segcore.io.images import write_image


def _one_error(capsys, command: str) -> str:
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"segcore {command}: error: "), errors
    return errors[0]


@pytest.mark.parametrize(("text", "says"), [
    ("\n".join(["background", *(f"c{i}" for i in range(299))]), "300 classes; at most 255 fit an 8-bit index mask"),
    ("\x01\x02\x03\n", "class names must be text without control characters; got '\\x01\\x02\\x03'"),
])
def test_a_labels_file_that_cannot_be_a_class_table_is_refused(tmp_path, capsys, text, says):
    (tmp_path / "labels.txt").write_text(text)
    assert main(["project", "create", str(tmp_path / "p"), "--labels", str(tmp_path / "labels.txt")]) == 1
    error = _one_error(capsys, "project")
    assert "labels.txt" in error and says in error
    assert not (tmp_path / "p").exists()


def test_a_voc_class_names_file_that_is_not_utf8_names_its_byte(tmp_path, capsys):
    src = tmp_path / "voc"
    write_image(src / "JPEGImages" / "a.png", good_image())
    write_image(src / "SegmentationClass" / "a.png", np.zeros(good_image().shape[:2], np.uint8))
    (src / "class_names.txt").write_bytes(b"background\nsch\xf6n\n")  # Latin-1
    assert main(["convert", str(src), str(tmp_path / "out"), "--from", "voc", "--to", "folder"]) == 1
    error = _one_error(capsys, "convert")
    assert "class_names.txt is not UTF-8 text (byte 0xf6 at offset 14)" in error


def test_a_project_where_a_file_stands_is_refused(tmp_path, capsys):
    (tmp_path / "labels.txt").write_text("background\nsample\n")
    (tmp_path / "taken").write_text("a file")
    assert main(["project", "create", str(tmp_path / "taken"), "--labels", str(tmp_path / "labels.txt")]) == 1
    assert "taken is a file, not a folder" in _one_error(capsys, "project")
    assert (tmp_path / "taken").read_text() == "a file"


def test_an_output_folder_where_a_file_stands_is_one_line(tmp_path, checkpoint, capsys):
    write_image(tmp_path / "in" / "a.png", good_image())
    (tmp_path / "taken").write_text("a file")
    argv = ["predict", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "in"), "--out",
            str(tmp_path / "taken"), "--whole", "--device", "cpu"]
    assert main(argv) == 1
    assert "cannot write " in (error := _one_error(capsys, "predict")) and "a file stands where a folder is needed" in error
    assert main(["mean-image", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "taken" / "m.npy")]) == 1
    assert "a file stands where a folder is needed" in _one_error(capsys, "mean-image")
    assert (tmp_path / "taken").read_text() == "a file"


def test_a_symlink_loop_given_to_add_images_is_skipped_and_named(tmp_path, capsys):
    (tmp_path / "labels.txt").write_text("background\nsample\n")
    assert main(["project", "create", str(tmp_path / "p"), "--labels", str(tmp_path / "labels.txt")]) == 0
    write_image(tmp_path / "good.png", good_image())
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop.name)
    capsys.readouterr()
    assert main(["project", "add-images", str(tmp_path / "p"), str(loop), str(tmp_path / "good.png")]) == 3
    out = capsys.readouterr().out
    assert "added 1 of 2 images" in out and "skipped loop.png: cannot read image" in out
    assert "a symbolic link that loops back on itself" in out
    assert sorted(p.name for p in Path(tmp_path / "p" / "images").iterdir()) == ["good.png"]


def test_a_folder_named_like_an_image_is_named_not_passed_over(tmp_path, checkpoint, capsys):
    (tmp_path / "labels.txt").write_text("background\nsample\n")
    write_image(tmp_path / "frames" / "b.png", good_image())
    (tmp_path / "frames" / "a.png").mkdir()  # issue 27, item 12: ignored without a word
    assert main(["project", "create", str(tmp_path / "p"), "--labels", str(tmp_path / "labels.txt")]) == 0
    capsys.readouterr()
    assert main(["project", "add-images", str(tmp_path / "p"), str(tmp_path / "frames")]) == 3
    out = capsys.readouterr().out
    assert "added 1 of 2 images" in out and "skipped a.png: " in out and "is a directory, not a file" in out
    argv = ["predict", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "frames"), "--out",
            str(tmp_path / "out"), "--whole", "--device", "cpu"]
    assert main(argv) == 3
    out = capsys.readouterr().out
    assert "skipped a.png: " in out and "predicted 1 of 2 images" in out


def test_quiet_keeps_the_report_and_drops_the_warnings(tmp_path, cli):
    """In a child process, where the CLI's own logging setup is what prints (issue 27, item 18: no -q)."""
    (tmp_path / "labels.txt").write_text("background\nsample\n")
    assert main(["project", "create", str(tmp_path / "p"), "--labels", str(tmp_path / "labels.txt")]) == 0
    (tmp_path / "loop.png").symlink_to("loop.png")
    loud = cli.run(["project", "add-images", "p", "loop.png"], tmp_path)
    assert loud.code == 3 and "WARNING segcore.project.image_import: skipped" in loud.stderr
    for argv in (["project", "add-images", "-q"], ["-q", "project", "add-images"]):
        quiet = cli.run([*argv, "p", "loop.png"], tmp_path)
        assert quiet.code == 3 and "skipped loop.png" in quiet.stdout and quiet.stderr == "", quiet.stderr
