"""Pick the device and precision: cuda > mps > cpu; autocast where it is safe and fast."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceSetup:
    device: torch.device
    amp_dtype: torch.dtype | None
    """Autocast dtype, or None for full fp32."""
    channels_last: bool
    description: str

    @property
    def uses_grad_scaler(self) -> bool:
        return self.device.type == "cuda" and self.amp_dtype == torch.float16


def pick_device(name: str = "auto") -> torch.device:
    """'auto' chooses cuda, then mps, then cpu; otherwise the named device."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """True on CPUs with AVX512-BF16 or AMX, where bf16 autocast speeds convolutions up."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, fn, lambda: False)()) for fn in checks)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{device.index or 0} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads{', native bf16' if cpu_has_native_bf16() else ''})"
    return str(device)


def setup_device(name: str = "auto", amp: str = "auto", cpu_bf16: bool = False) -> DeviceSetup:
    """Device plus precision policy.

    amp: 'auto' -> bf16 on CUDA GPUs that support it, else fp16 with a grad scaler; on CPU fp32
    unless `cpu_bf16` and the CPU has native bf16. 'off' forces fp32; 'bf16' / 'fp16' force one.
    """
    device = pick_device(name)
    dtype: torch.dtype | None = None
    if amp == "bf16":
        dtype = torch.bfloat16
    elif amp == "fp16":
        dtype = torch.float16
    elif amp == "auto":
        if device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif device.type == "cpu" and cpu_bf16:
            if cpu_has_native_bf16():
                dtype = torch.bfloat16
            else:
                log.info("bf16 on CPU requested but this CPU has no native bf16; training in fp32")
    elif amp != "off":
        raise ValueError(f"amp must be auto, bf16, fp16 or off, got {amp!r}")
    # NHWC convolutions are faster on CPUs too (oneDNN): a small U-Net's step 1.2x in fp32, 2.1-2.3x with bf16
    # (bench_train.py, docs/benchmarks.md); mps keeps its default.
    channels_last = device.type in ("cuda", "cpu")
    return DeviceSetup(device, dtype, channels_last, describe(device))
