"""Sliding-window geometry and blending: tiles that cover an image, weights that hide the seams."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

MIN_TILE = 32
"""The smallest sliding window: below it a model's own downsampling leaves nothing to predict from."""
MAX_OVERLAP = 0.9
"""The largest overlap between neighbouring tiles (0.9: every pixel seen about 100 times)."""


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    h: int
    w: int


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets covering [0, length) with windows of `tile`; the last window ends at `length`."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def tile_grid(height: int, width: int, tile: int, overlap: float) -> list[Tile]:
    """Tiles of `tile` x `tile` (smaller when the image is) overlapping by `overlap` (0..0.9)."""
    if not 0 <= overlap <= MAX_OVERLAP:
        raise ValueError(f"overlap must be in [0, {MAX_OVERLAP}], got {overlap}")
    stride = max(1, int(round(tile * (1 - overlap))))
    th, tw = min(tile, height), min(tile, width)
    return [Tile(y, x, th, tw) for y in tile_starts(height, tile, stride) for x in tile_starts(width, tile, stride)]


def blend_window(h: int, w: int, overlap: float, *, device: torch.device | None = None) -> torch.Tensor:
    """H x W weights: 1 in the middle, falling smoothly (raised cosine) to a small floor at the edges.

    Logits near a tile's border see less context and are less reliable; weighting them down where
    tiles overlap makes the seams invisible. The floor keeps image borders (covered once) defined.
    """

    def ramp(n: int) -> torch.Tensor:
        edge = max(1, int(n * overlap / 2))
        r = torch.ones(n, device=device)
        t = (torch.arange(edge, device=device, dtype=torch.float32) + 0.5) / edge
        fade = 0.5 - 0.5 * torch.cos(math.pi * t)
        r[:edge] = fade
        r[n - edge :] = torch.minimum(r[n - edge :], fade.flip(0))
        return r.clamp_min(1e-3)

    return ramp(h)[:, None] * ramp(w)[None, :]


def padded_size(size: int, divisor: int) -> int:
    return int(math.ceil(size / divisor) * divisor)
