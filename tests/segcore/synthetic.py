"""Small synthetic labelled data written to real files, for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segcore.data.classes import ClassTable
from segcore.io.images import write_image


def square_frame(rng: np.random.Generator, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A gray frame with one bright rectangle (class 1) on noise (class 0), and its mask."""
    image = (rng.random((size, size)) * 60).astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    y, x = rng.integers(2, size // 2 + 2, 2)
    mask[y : y + size // 3, x : x + size // 3 + 2] = 1
    image[mask == 1] += 150
    return image, mask


def write_squares_dataset(root: Path, n: int = 16, size: int = 32, seed: int = 0) -> Path:
    """A folder dataset of gray frames with one bright rectangle each (class 1) on noise (class 0)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        image, mask = square_frame(rng, size)
        write_image(root / "images" / f"f{i:02d}.png", image)
        write_image(root / "masks" / f"f{i:02d}.png", mask)
    ClassTable.from_names(["background", "square"]).write(root / "classes.txt")
    return root


def squares_scene(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An 8-bit frame of six bright 16 x 18 rectangles (class 1, may overlap) on dark noise, and its 0/1 truth."""
    rng = np.random.default_rng(seed)
    image = (rng.random((h, w)) * 60).astype(np.uint8)
    truth = np.zeros((h, w), np.uint8)
    for y, x in rng.integers(0, [h - 20, w - 20], (6, 2)):
        truth[y : y + 16, x : x + 18] = 1
    image[truth == 1] += 150
    return image, truth
