"""Image I/O on real files: formats, bit depths, channels, big frames, odd paths and bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segcore.errors import ImageReadError, ImageWriteError
from segcore.io.images import decode_image, image_info, read_image, write_image


def _array(shape, dtype, seed=0):
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(0, info.max, shape, dtype=dtype, endpoint=True)


LOSSLESS = [".png", ".tif", ".tiff", ".bmp"]


# OpenCV's BMP writer has no alpha channel.
CASES_8BIT = [(s, c) for s in LOSSLESS for c in (None, 3, 4) if not (s == ".bmp" and c == 4)]


@pytest.mark.parametrize(("suffix", "channels"), CASES_8BIT)
def test_8bit_round_trip(tmp_path, suffix, channels):
    shape = (23, 37) if channels is None else (23, 37, channels)
    arr = _array(shape, np.uint8)
    write_image(tmp_path / f"img{suffix}", arr)
    np.testing.assert_array_equal(read_image(tmp_path / f"img{suffix}"), arr)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [None, 3])
def test_16bit_round_trip(tmp_path, suffix, channels):
    shape = (31, 17) if channels is None else (31, 17, channels)
    arr = _array(shape, np.uint16)
    write_image(tmp_path / f"img{suffix}", arr)
    back = read_image(tmp_path / f"img{suffix}")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, arr)
    assert image_info(back).bit_depth == 16


def test_rgb_order_matches_pillow(tmp_path):
    arr = np.zeros((4, 4, 3), np.uint8)
    arr[..., 0] = 200  # pure red
    Image.fromarray(arr).save(tmp_path / "red.png")
    Image.fromarray(arr).save(tmp_path / "red.jpg", quality=100)
    np.testing.assert_array_equal(read_image(tmp_path / "red.png"), arr)
    jpg = read_image(tmp_path / "red.jpg").astype(int)
    assert jpg[..., 0].min() > 190 and jpg[..., 1:].max() < 10


def test_16bit_gray_written_by_pillow_keeps_values(tmp_path):
    arr = np.array([[0, 1, 4095, 65535]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png"), arr)


def test_3072_16bit_frame(tmp_path):
    arr = np.zeros((3072, 3072), np.uint16)
    arr[::7, ::5] = 60000
    arr[1000:2000, 500] = 1234
    write_image(tmp_path / "big.png", arr)
    back = read_image(tmp_path / "big.png")
    assert back.shape == (3072, 3072) and back.dtype == np.uint16
    np.testing.assert_array_equal(back, arr)


def test_non_ascii_path(tmp_path):
    path = tmp_path / "Интерферограммы" / "échantillon 試料.png"
    arr = _array((8, 9), np.uint16)
    write_image(path, arr)
    np.testing.assert_array_equal(read_image(path), arr)


def test_format_comes_from_content_not_suffix(tmp_path):
    arr = _array((5, 6, 3), np.uint8)
    write_image(tmp_path / "really_png.png", arr)
    (tmp_path / "really_png.jpg").write_bytes((tmp_path / "really_png.png").read_bytes())
    np.testing.assert_array_equal(read_image(tmp_path / "really_png.jpg"), arr)


def _valid_bytes(tmp_path, suffix):
    write_image(tmp_path / f"ok{suffix}", _array((64, 64), np.uint8))
    return (tmp_path / f"ok{suffix}").read_bytes()


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_truncated_files_raise_naming_the_file(tmp_path, suffix):
    data = _valid_bytes(tmp_path, suffix)
    bad = tmp_path / f"truncated{suffix}"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=f"truncated{suffix}") as info:
        read_image(bad)
    assert info.value.path == bad


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a" + b"\x00" * 50, "unsupported"),
        (b"hello, I am a text file", "unsupported"),
        (b"\x89PNG\r\n\x1a\n" + b"\xde\xad\xbe\xef" * 50, "corrupt"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "corrupt"),
    ],
)
def test_bad_files_raise_one_error_type(tmp_path, content, reason):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(bad)
    assert "bad.png" in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="directory"):
        read_image(tmp_path)


def test_unsupported_pixel_types_and_formats_on_write(tmp_path):
    with pytest.raises(ImageWriteError, match="float32"):
        write_image(tmp_path / "f.png", np.zeros((4, 4), np.float32))
    with pytest.raises(ImageWriteError, match="16-bit"):
        write_image(tmp_path / "deep.jpg", np.zeros((4, 4), np.uint16))
    with pytest.raises(ImageWriteError, match="unsupported format"):
        write_image(tmp_path / "x.gif", np.zeros((4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_float_tiff_is_refused_clearly(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(ImageReadError, match="pixel type float32"):
        read_image(tmp_path / "float.tif")


def test_decode_bytes_names_the_source():
    with pytest.raises(ImageReadError, match="from-memory"):
        decode_image(b"nonsense", "from-memory")


def test_written_files_get_the_usual_permissions(tmp_path):
    from segcore.io import atomic

    write_image(tmp_path / "p.png", np.zeros((2, 2), np.uint8))
    # The umask-based mode of a new file, not the owner-only mode of the temporary file.
    assert (tmp_path / "p.png").stat().st_mode & 0o777 == 0o666 & ~atomic.current_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]  # no temporary file left behind
