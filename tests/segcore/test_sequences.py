"""Acquisitions as one thing: multi-page TIFFs, videos and numbered folders read frame by frame, and referenced by
a project without copying them."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tifffile

from segcore.cli.exit_codes import ExitCode
from segcore.data.classes import ClassTable
from segcore.errors import ImageReadError, ProjectError
from segcore.io.sequences import close_open_sequences, open_sequence, read_frame, sequence_fingerprint
from segcore.project.review import review_queue
from segcore.project.store import ProjectStore
from segcore.project.suggest import suggest_next
from segcore.project.thumbnails import thumbnail_for
from segcore.project.transfer import project_dataset

TABLE = ClassTable.from_names(["background", "sample"])


def _stack(frames: int = 12, height: int = 24, width: int = 32, dtype=np.uint16) -> np.ndarray:
    """Frames that tell each other apart: frame i holds i * 7 plus a gradient."""
    base = np.arange(height * width, dtype=np.int64).reshape(height, width) % 50
    return np.stack([(base + 7 * i) % np.iinfo(dtype).max for i in range(frames)]).astype(dtype)


@pytest.fixture(autouse=True)
def _close_sequences():
    yield
    close_open_sequences()


@pytest.mark.parametrize("options", [{"imagej": True, "metadata": {"axes": "TYX", "finterval": 0.25}},
                                     {"bigtiff": True}, {"compression": "zlib"}],
                         ids=["imagej", "bigtiff", "compressed"])
def test_a_tiff_stack_reads_every_frame_in_order_at_its_bit_depth(tmp_path, options):
    stack = _stack()
    tifffile.imwrite(tmp_path / "s.tif", stack, **options)
    with open_sequence(tmp_path / "s.tif") as sequence:
        info = sequence.info
        frames = [frame for _index, frame in sequence.iter_frames()]
        assert np.array_equal(sequence.frame(5), stack[5])
    assert (info.kind, info.frames, info.width, info.height, info.channels, info.bit_depth) == ("tiff", 12, 32, 24, 1, 16)
    assert np.array_equal(np.stack(frames), stack)
    assert info.frame_interval_s == (0.25 if "imagej" in options else None)


def test_an_uncompressed_stack_is_read_at_its_offsets_and_a_compressed_one_page_by_page(tmp_path):
    stack = _stack()
    tifffile.imwrite(tmp_path / "plain.tif", stack, photometric="minisblack")
    tifffile.imwrite(tmp_path / "big_endian.tif", stack, photometric="minisblack", byteorder=">")
    tifffile.imwrite(tmp_path / "zlib.tif", stack, photometric="minisblack", compression="zlib")
    with open_sequence(tmp_path / "plain.tif") as plain, open_sequence(tmp_path / "big_endian.tif") as swapped, \
            open_sequence(tmp_path / "zlib.tif") as packed:
        assert plain.contiguous and swapped.contiguous and not packed.contiguous
        for index in (11, 0, 6):  # in any order
            assert np.array_equal(plain.frame(index), stack[index]) and np.array_equal(swapped.frame(index), stack[index])
            assert np.array_equal(packed.frame(index), stack[index])


def test_a_video_reads_in_order_and_a_gray_video_comes_out_gray(tmp_path):
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20, (48, 32))
    for i in range(9):
        writer.write(np.full((32, 48, 3), 20 * i + 10, np.uint8))
    writer.release()
    with open_sequence(path) as sequence:
        levels = [int(round(frame.mean())) for _index, frame in sequence.iter_frames()]
        assert sequence.frame(4).ndim == 2 and abs(int(sequence.frame(2).mean()) - 50) <= 2  # a seek back
        info = sequence.info
    assert (info.kind, info.frames, info.channels, info.bit_depth) == ("video", 9, 1, 8)
    assert info.frame_interval_s == pytest.approx(0.05)
    assert all(abs(level - (20 * i + 10)) <= 2 for i, level in enumerate(levels))


def test_a_folder_of_numbered_frames_reads_in_natural_order(tmp_path):
    for number in (10, 2, 1, 33, 3):
        cv2.imwrite(str(tmp_path / f"frame{number}.png"), np.full((6, 8), number, np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    with open_sequence(tmp_path) as sequence:
        assert [int(frame[0, 0]) for _index, frame in sequence.iter_frames()] == [1, 2, 3, 10, 33]


def test_bad_sequences_get_one_line_naming_them(tmp_path):
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    tifffile.imwrite(tmp_path / "float.tif", np.zeros((3, 4, 4), np.float32), photometric="minisblack")
    (tmp_path / "empty").mkdir()
    cases = {"broken.tif": "not a readable TIFF", "float.tif": "unsupported pixel type float32",
             "empty": "holds no image files", "missing.tif": "not found", "notes.txt": "not a sequence"}
    (tmp_path / "notes.txt").write_text("x")
    for name, reason in cases.items():
        with pytest.raises(ImageReadError, match=reason) as caught:
            open_sequence(tmp_path / name)
        assert name in str(caught.value) and "\n" not in str(caught.value)
    with open_sequence(_write(tmp_path / "ok.tif")) as sequence, \
            pytest.raises(ImageReadError, match="has 12 frames, no frame 12"):
        sequence.frame(12)


def _write(path):
    tifffile.imwrite(path, _stack(), photometric="minisblack")
    return path


def test_the_fingerprint_changes_with_the_content_not_with_a_touch(tmp_path):
    path = _write(tmp_path / "s.tif")
    before = sequence_fingerprint(path)
    os.utime(path, ns=(1, 1))
    assert sequence_fingerprint(path) == before
    changed = _stack()
    changed[0, 0, 0] += 1  # one pixel of the first frame
    tifffile.imwrite(path, changed)
    assert sequence_fingerprint(path) != before


def test_rgb_frames_in_planes_come_out_interleaved(tmp_path):
    rgb = np.stack([_stack(frames=5, dtype=np.uint8) + c for c in range(3)], axis=1)  # T x S x Y x X
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb", planarconfig="separate")
    with open_sequence(tmp_path / "rgb.tif") as sequence:
        assert (sequence.info.frames, sequence.info.channels) == (5, 3)
        assert np.array_equal(sequence.frame(4), np.moveaxis(rgb[4], 0, -1))


def test_read_frame_reopens_a_file_rewritten_on_disk(tmp_path):
    path = _write(tmp_path / "s.tif")
    assert read_frame(path, 3)[0, 0] == 21
    tifffile.imwrite(path, _stack() + 1, photometric="minisblack")
    assert read_frame(path, 3)[0, 0] == 22


def test_a_project_references_a_3000_frame_stack_without_copying_it(tmp_path):
    stack = np.zeros((3000, 16, 16), np.uint8)
    stack[:, 0, 0] = np.arange(3000) % 256
    tifffile.imwrite(tmp_path / "acq.tif", stack)
    with ProjectStore.create(tmp_path / "p", TABLE) as store:
        record = store.add_sequence(tmp_path / "acq.tif")
        images = store.images()
        assert (record.name, record.kind, record.frames, len(images)) == ("acq", "tiff", 3000, 3000)
        assert [r.name for r in images[:2]] == ["acq_0000", "acq_0001"] and images[-1].name == "acq_2999"
        assert [r.frame for r in images] == list(range(3000))  # the image list in frame order
        assert store.read_image(images[2500].id)[0, 0] == 2500 % 256
        thumb = thumbnail_for(store, images[7].id)
        assert thumb.shape == (16, 16, 3) and thumb[0, 0, 0] > thumb[1, 1, 0]  # frame 7's bright corner, not page 0's
        with pytest.raises(ProjectError, match="already in the project, as sequence 'acq'"):
            store.add_sequence(tmp_path / "acq.tif")
    files = [p for p in (tmp_path / "p").rglob("*") if p.is_file() and p.suffix == ".tif"]
    assert files == []  # referenced, never copied


def test_a_frame_is_labelled_and_trained_like_any_image(tmp_path):
    tifffile.imwrite(tmp_path / "acq.tif", _stack(frames=4, dtype=np.uint8), photometric="minisblack")
    with ProjectStore.create(tmp_path / "p", TABLE) as store:
        store.add_sequence(tmp_path / "acq.tif")
        frame = store.image_by_name("acq_0002")
        mask = np.zeros((24, 32), np.uint8)
        mask[5:10, 5:10] = 1
        store.save_mask(frame.id, mask)
        dataset = project_dataset(store)
        (sample,) = dataset.samples
        assert np.array_equal(sample.load_image(), _stack(frames=4, dtype=np.uint8)[2])
        assert np.array_equal(sample.load_mask(), mask)


def test_a_moved_or_changed_sequence_is_reported_by_name(tmp_path):
    path = _write(tmp_path / "acq.tif")
    with ProjectStore.create(tmp_path / "p", TABLE) as store:
        record = store.add_sequence(path)
        first = store.images()[0].id
        assert store.sequence_problem(record) is None
        os.utime(path, ns=(5, 5))  # touched, the same bytes: still fine
        assert store.sequence_problem(record) is None and store.read_image(first).shape == (24, 32)
        tifffile.imwrite(path, _stack() + 3, photometric="minisblack")
        assert "changed since it was imported" in store.sequence_problem(record)
        with pytest.raises(ImageReadError, match="acq.tif: changed since it was imported"):
            store.read_image(first)
        path.rename(tmp_path / "elsewhere.tif")
        assert "gone: moved or deleted" in store.sequence_problem(record)
        with pytest.raises(ImageReadError, match="gone"):
            store.read_image(first)


def test_the_cli_imports_a_sequence_and_info_names_it(tmp_path):
    _write(tmp_path / "acq.tif")
    command = [sys.executable, "-m", "segcore", "project"]
    done = subprocess.run([*command, "import", str(tmp_path / "p"), str(tmp_path / "acq.tif"), "--from", "sequence"],
                          capture_output=True, text=True)
    assert done.returncode == ExitCode.DONE, done.stderr
    assert "referenced 12 frames" in done.stdout and "nothing copied" in done.stdout
    again = subprocess.run([*command, "import", str(tmp_path / "p"), str(tmp_path / "acq.tif"), "--from", "sequence"],
                           capture_output=True, text=True)
    assert again.returncode == ExitCode.FAILED and "already in the project" in again.stderr
    (tmp_path / "acq.tif").unlink()
    info = subprocess.run([*command, "info", str(tmp_path / "p")], capture_output=True, text=True)
    assert info.returncode == ExitCode.DONE and "images: 12" in info.stdout and "gone: moved or deleted" in info.stdout


def test_label_next_spreads_over_an_acquisition_whose_frames_look_alike(tmp_path):
    rng = np.random.default_rng(0)
    frame = (rng.random((64, 64)) * 200).astype(np.uint8)
    stack = np.stack([frame] * 40)  # forty frames alike: only time tells them apart
    tifffile.imwrite(tmp_path / "acq.tif", stack, photometric="minisblack")
    with ProjectStore.create(tmp_path / "p", TABLE) as store:
        store.add_sequence(tmp_path / "acq.tif")
        first = store.image_by_name("acq_0000").id
        store.save_mask(first, np.zeros((64, 64), np.uint8))
        picked = []
        for _round in range(3):
            suggestion = suggest_next(store, exclude=picked)
            picked.append(suggestion.image_id)
        frames = sorted([0] + [store.image(i).frame for i in picked])
    gaps = np.diff(frames + [39])
    assert max(gaps) <= 20 and frames[-1] >= 30, frames  # spread over the forty, not frames 1, 2, 3


def test_a_folder_sequence_that_lost_a_frame_is_reported(tmp_path):
    (tmp_path / "frames").mkdir()
    for number in range(4):
        cv2.imwrite(str(tmp_path / "frames" / f"f{number}.png"), np.full((6, 8), number, np.uint8))
    with ProjectStore.create(tmp_path / "p", TABLE) as store:
        record = store.add_sequence(tmp_path / "frames")
        assert store.sequence_problem(record) is None and store.read_image(store.images()[3].id)[0, 0] == 3
        (tmp_path / "frames" / "f1.png").unlink()
        assert "changed since it was imported" in store.sequence_problem(record)


def _disc(shape: tuple[int, int], x: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((xx - x) ** 2 + (yy - shape[0] / 2) ** 2 <= radius**2).astype(np.uint8)


def test_a_frame_whose_prediction_jumps_is_flagged_first_in_the_review_queue(tmp_path):
    """A disc drifting a pixel a frame; frame 4's prediction is twice as wide, confidently (estimate 0.97): the
    default queue flags it and puts it first, and leaves the frames whose disc only drifts unflagged."""
    tifffile.imwrite(tmp_path / "acq.tif", _stack(frames=9, height=48, width=64, dtype=np.uint8))
    with ProjectStore.create(tmp_path / "p", TABLE) as store:
        store.add_sequence(tmp_path / "acq.tif")
        frames = sorted(store.images(), key=lambda r: r.frame)
        for record in frames:
            radius = 16.0 if record.frame == 4 else 8.0
            quality = 0.97 if record.frame == 4 else 0.90 + 0.005 * record.frame
            store.save_prediction(record.id, _disc((48, 64), 20 + record.frame, radius), checkpoint="c.pt",
                                  quality=quality)
        queue = review_queue(store, "estimated_iou")
        by_frame = {store.image(e.image_id).frame: e for e in queue}
        assert [f for f, e in by_frame.items() if e.jump] == [4]
        assert store.image(queue[0].image_id).frame == 4 and queue[0].flagged
        rest = [e.value for e in queue[1:]]
        assert rest == sorted(rest) and not any(e.flagged for e in queue[1:])

        # Corrected, the frame is not flagged any more: the shapes follow the stored prediction.
        store.save_prediction(frames[4].id, _disc((48, 64), 24, 8.0), checkpoint="c.pt", quality=0.97)
        assert not any(e.jump for e in review_queue(store, "estimated_iou"))
