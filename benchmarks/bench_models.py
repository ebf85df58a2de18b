"""CPU forward latency of every registered model, and ours vs torchvision's DeepLabV3 in the same run.

    python benchmarks/bench_models.py [--models a,b,...] [--sizes 512,1024] [--repeats 3]
                                      [--out benchmarks/out/bench_models.json]

Batch 1, 3 input channels, 21 classes, eval mode under `torch.inference_mode()`, fp32: the
median of `--repeats` runs after one warm-up at the first size; larger sizes (seconds per run on
a CPU) take the median of `--large-repeats` runs with the model already warm. The ratio row alternates our `deeplabv3_resnet50`
and `tv_deeplabv3_resnet50` run by run so both see the same machine state; target: ours is not
slower by more than 5 % (ratio <= 1.05).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from _common import machine_info, median_seconds, write_report

from segcore.models import get_model, list_models
from segcore.models.summary import count_parameters

PEER = ("deeplabv3_resnet50", "tv_deeplabv3_resnet50")


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return get_model(name, num_classes=21, in_channels=3).eval()


def latency(model: torch.nn.Module, size: int, repeats: int, warmup: int) -> float:
    x = torch.randn(1, 3, size, size)
    with torch.inference_mode():
        return median_seconds(lambda: model(x), repeats, warmup)


def peer_ratio(size: int, repeats: int) -> dict:
    """Median latencies of ours and torchvision's DeepLabV3-ResNet50, runs interleaved."""
    ours, theirs = build(PEER[0]), build(PEER[1])
    x = torch.randn(1, 3, size, size)
    times: dict[str, list[float]] = {PEER[0]: [], PEER[1]: []}
    with torch.inference_mode():
        ours(x), theirs(x)  # warm-up
        for _ in range(repeats):
            for name, model in ((PEER[0], ours), (PEER[1], theirs)):
                start = time.perf_counter()
                model(x)
                times[name].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {"size": size, "repeats": repeats, "median_s": medians, "ratio": medians[PEER[0]] / medians[PEER[1]]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated names (default: all registered)")
    parser.add_argument("--sizes", default="512,1024", help="square input sizes (default 512,1024)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-repeats", type=int, default=2)
    parser.add_argument("--ratio-repeats", type=int, default=7, help="interleaved runs for the ours/torchvision ratio")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bench_models.json"))
    args = parser.parse_args()
    names = args.models.split(",") if args.models else list_models()
    sizes = [int(s) for s in args.sizes.split(",")]

    machine = machine_info()
    print(f"{machine.get('cpu')} ({machine['cpus']} CPUs, torch {machine.get('torch')}, {machine.get('torch_threads')} threads)")
    header = f"{'model':34}{'params':>9}" + "".join(f"{f'{s}x{s} ms':>14}" for s in sizes)
    print(header)
    rows = []
    for name in names:
        model = build(name)
        row = {"model": name, "parameters": count_parameters(model)}
        for i, s in enumerate(sizes):
            runs, warmup = (args.repeats, 1) if i == 0 else (args.large_repeats, 0)
            row[f"ms_{s}"] = 1000 * latency(model, s, runs, warmup)
        rows.append(row)
        print(f"{name:34}{row['parameters'] / 1e6:8.1f}M" + "".join(f"{row[f'ms_{s}']:14.0f}" for s in sizes), flush=True)
        del model

    ratio = peer_ratio(512, args.ratio_repeats)
    print(
        f"\n{PEER[0]} / {PEER[1]} at 512x512 (median of {ratio['repeats']} interleaved runs): "
        f"{ratio['median_s'][PEER[0]] * 1000:.0f} ms / {ratio['median_s'][PEER[1]] * 1000:.0f} ms = "
        f"{ratio['ratio']:.3f} (target <= 1.05)"
    )
    write_report(args.out, {"sizes": sizes, "repeats": args.repeats, "large_repeats": args.large_repeats, "models": rows, "deeplabv3_vs_torchvision": ratio})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
