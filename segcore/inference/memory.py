"""Choose the tile size and tile batch from the memory that is free on the device."""

from __future__ import annotations

import logging

import psutil
import torch
from torch import nn

log = logging.getLogger(__name__)

TILE_CANDIDATES = (2048, 1536, 1024, 768, 512, 384, 256)
MAX_BATCH = 8
CPU_BUDGET_CAP = 1 << 30
"""On the CPU at most 1 GiB for tile activations: prediction must stay well inside small machines."""
PROBE = 128


def free_memory(device: torch.device) -> int:
    """Bytes free for activations: CUDA's own count, or the system's available memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    # psutil's "available" is MemAvailable on Linux and the equivalent on macOS and Windows.
    return int(psutil.virtual_memory().available)


def activation_bytes_per_pixel(model: nn.Module, in_channels: int, divisor: int, device: torch.device) -> float:
    """An upper bound of inference memory per input pixel: all module outputs of a probe forward.

    Summing every module's output over-counts (most are freed as the forward goes on), which
    errs on the safe side.
    """
    size = max(PROBE, divisor)
    total = 0

    def count(_module, _inputs, output) -> None:
        nonlocal total
        tensors = output.values() if isinstance(output, dict) else output if isinstance(output, (tuple, list)) else (output,)
        total += sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, in_channels, size, size, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return total / (size * size)


def choose_tiling(model: nn.Module, in_channels: int, divisor: int, device: torch.device) -> tuple[int, int]:
    """(tile, batch): the largest tile whose activations fit a quarter of free memory, then a batch."""
    budget = free_memory(device) // 4
    if device.type != "cuda":
        budget = min(budget, CPU_BUDGET_CAP)
    per_pixel = activation_bytes_per_pixel(model, in_channels, divisor, device)
    for tile in TILE_CANDIDATES:
        if tile * tile * per_pixel <= budget:
            batch = int(max(1, min(MAX_BATCH, budget // (tile * tile * per_pixel))))
            if device.type != "cuda":
                batch = 1  # CPU cores are the limit, not memory: bigger batches only cost memory
            log.info("tiling with %d px tiles, batch %d (%.0f MiB budget)", tile, batch, budget / 2**20)
            return tile, batch
    return TILE_CANDIDATES[-1], 1
