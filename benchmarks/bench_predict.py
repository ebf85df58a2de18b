"""Prediction: big frames within memory, folder throughput, and our predictor vs a naive forward.

    python benchmarks/bench_predict.py [--out benchmarks/out/bench_predict.json]

1. 3072x3072 16-bit frame, tiled on the CPU: peak memory (the OS's high-water mark of the
   process, VmHWM, measured in a fresh subprocess) must stay under 2 GB; tiled vs whole-image time.
2. folder prediction (decode, preprocess, model, uncertainty, palette PNG export) of CamVid val
   photos, images/s vs the pure model forward of the same predictor on the same batch already in
   memory (target >= 90 %).
3. our predictor's forward (BatchNorm folded, channels_last, bf16 where the CPU has it) vs a
   naive fp32 eager forward of torchvision's DeepLabV3-ResNet50 at 512x512 (target >= 1.5x).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision.models.segmentation as tvseg
from _common import ROOT, machine_info, median_seconds, write_report

from segcore.data.classes import ClassTable
from segcore.inference.folder import predict_folder
from segcore.inference.predictor import Predictor
from segcore.io.images import read_image, write_image
from segcore.models import get_model, get_model_info
from segcore.training.checkpoint import Checkpoint, save_checkpoint
from segcore.training.device import cpu_has_native_bf16


def make_checkpoint(path: Path, model: str, in_channels: int, num_classes: int, **kwargs) -> Path:
    """An untrained checkpoint: speed and memory do not depend on the weights' values."""
    torch.manual_seed(0)
    net = get_model(model, num_classes=num_classes, in_channels=in_channels, **kwargs)
    table = ClassTable.from_names([f"class_{i}" for i in range(num_classes)])
    mean, std = ([0.5] * in_channels, [0.25] * in_channels)
    ckpt = Checkpoint(model, kwargs, num_classes, in_channels, table, {"mean": mean, "std": std, "augment": {}},
                      {k: v for k, v in net.state_dict().items()}, extra={"divisor": get_model_info(model).divisor})
    return save_checkpoint(path, ckpt)


BIG_FRAME_CHILD = """
import json, sys, time, numpy as np
from segcore.inference.predictor import Predictor
mode, ckpt = sys.argv[1], sys.argv[2]
image = (np.random.default_rng(0).random((3072, 3072)) * 65535).astype(np.uint16)
kwargs = {"mode": "tile", "tile": 512, "overlap": 0.25} if mode == "tile" else {"mode": "whole"}
predictor = Predictor(ckpt, precision="fp32", **kwargs)
start = time.perf_counter()
result = predictor.predict(image)
seconds = time.perf_counter() - start
peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"mode": mode, "seconds": seconds, "peak_bytes": peak_kb * 1024, "shape": list(result.labels.shape)}))
"""


def big_frame(ckpt: Path) -> dict:
    rows = {}
    for mode in ("tile", "whole"):
        out = subprocess.run([sys.executable, "-c", BIG_FRAME_CHILD, mode, str(ckpt)], cwd=ROOT, capture_output=True,
                             text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    rows["tile_vs_whole_time"] = rows["tile"]["seconds"] / rows["whole"]["seconds"]
    return rows


def folder_vs_pure(ckpt: Path, images: list[Path], batch: int, workers: int, repeats: int = 5) -> dict:
    """Same-size photos through predict_folder (decode, preprocess, model, palette PNG), labels only
    and with the per-pixel uncertainty, against the pure forward of the same batch in memory.
    Within each round the pure forward is timed between the two folder passes, so both ratios
    share it; the ratio is the median of the rounds' ratios (robust to the machine's speed drifting
    between rounds), each rate the median over the rounds."""
    # An untrained model's bf16 labels agree with fp32 only borderline, so "auto" could pick either
    # precision from run to run: pin the one a trained model gets on this machine.
    cuda = torch.cuda.is_available()
    precision = "bf16" if (torch.cuda.is_bf16_supported() if cuda else cpu_has_native_bf16()) else "fp32"
    predictors = {name: Predictor(ckpt, mode="whole", uncertainty=name == "with_uncertainty", precision=precision)
                  for name in ("labels_only", "with_uncertainty")}
    device = predictors["labels_only"].device
    x = torch.stack([predictors["labels_only"].preprocess(read_image(p)) for p in images[:batch]]).to(device)

    def pure_forward() -> None:
        predictors["labels_only"]._forward(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # time the kernels, not their launch
    rates: dict[str, list[float]] = {"labels_only": [], "with_uncertainty": [], "pure": []}
    with tempfile.TemporaryDirectory() as tmp:
        for name, predictor in predictors.items():
            list(predict_folder(predictor, images[:batch], Path(tmp) / f"warm_{name}", ["palette"], batch_size=batch,
                                workers=0))

        def folder_pass(name: str, out: Path) -> float:
            start = time.perf_counter()
            results = list(predict_folder(predictors[name], images, out, ["palette"], batch_size=batch,
                                          workers=workers))
            assert all(r.error is None for r in results)
            return len(images) / (time.perf_counter() - start)

        for i in range(repeats):
            rates["labels_only"].append(folder_pass("labels_only", Path(tmp) / f"labels_{i}"))
            with torch.inference_mode():
                rates["pure"].append(batch / median_seconds(pure_forward, repeats=len(images) // batch))
            rates["with_uncertainty"].append(folder_pass("with_uncertainty", Path(tmp) / f"uncertainty_{i}"))
    pure = statistics.median(rates["pure"])
    rows = {}
    for name in ("labels_only", "with_uncertainty"):
        ratios = [f / p for f, p in zip(rates[name], rates["pure"], strict=True)]
        rows[name] = {"folder_img_s": statistics.median(rates[name]), "pure_img_s": pure,
                      "ratio": statistics.median(ratios), "ratios": ratios}
    return {"images": len(images), "size": list(x.shape[-2:]), "batch": batch, "workers": workers,
            "precision": precision, **rows}


def folder_images(camvid: Path, n: int, tmp: Path, size: tuple[int, int] = (480, 360)) -> list[Path]:
    """CamVid val photos when the shared data is there, else smooth synthetic frames of `size` (width, height)."""
    if (camvid / "val").is_dir():
        return sorted((camvid / "val").glob("*.png"))[:n]
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    for i in range(n):
        frame = np.stack([(np.sin(xx / (20 + i) + c) * 100 + 120) for c in range(3)], -1).astype(np.uint8)
        write_image(tmp / f"img_{i:03d}.png", frame)
    return sorted(tmp.glob("*.png"))


def predictor_vs_naive(ckpt: Path, repeats: int) -> dict:
    predictor = Predictor(ckpt, mode="whole")
    naive = tvseg.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21).eval()
    x = torch.randn(1, 3, 512, 512)
    predictor._forward(x)  # settles the precision (bf16 kept only if it agrees with fp32)
    times: dict[str, list[float]] = {"ours": [], "naive": []}
    with torch.inference_mode():
        naive(x)
        for _ in range(repeats):
            for name, fn in (("ours", lambda: predictor._forward(x)), ("naive", lambda: naive(x))):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in times.items()}
    precision = "bf16" if predictor.amp_dtype == torch.bfloat16 else "fp32"
    return {"ours_s": medians["ours"], "naive_s": medians["naive"], "speedup": medians["naive"] / medians["ours"],
            "precision": precision}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-model", default="unet", help="model of the 3072x3072 gray frame (default unet, 32 channels)")
    parser.add_argument("--folder-images", type=int, default=32)
    parser.add_argument("--camvid", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    parser.add_argument("--folder-batch", type=int, default=4)
    parser.add_argument("--workers", type=int, default=0, help="decoding workers (0 on a CPU-only machine)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bench_predict.json"))
    args = parser.parse_args()
    info = machine_info()
    print(f"{info.get('cpu')} ({info['cpus']} CPUs, torch {info.get('torch')})")
    with tempfile.TemporaryDirectory() as tmp:
        big_ckpt = make_checkpoint(Path(tmp) / "big.pt", args.big_model, 1, 2,
                                   **({"base_channels": 32} if args.big_model == "unet" else {}))
        big = big_frame(big_ckpt)
        print(f"\n1. 3072x3072 16-bit, {args.big_model}: tiled (512, overlap 0.25) {big['tile']['seconds']:.1f} s, "
              f"peak {big['tile']['peak_bytes'] / 2**30:.2f} GiB (target < 2 GB); whole image {big['whole']['seconds']:.1f} s, "
              f"peak {big['whole']['peak_bytes'] / 2**30:.2f} GiB; tiled / whole time {big['tile_vs_whole_time']:.2f}")
        folder_ckpt = make_checkpoint(Path(tmp) / "folder.pt", "fcn_resnet18", 3, 21)
        images = folder_images(args.camvid, args.folder_images, Path(tmp))
        folder = folder_vs_pure(folder_ckpt, images, args.folder_batch, args.workers)
        print(f"2. folder of {folder['images']} RGB photos ({folder['size'][1]}x{folder['size'][0]}), fcn_resnet18, "
              f"{folder['precision']}, batch {folder['batch']}, {folder['workers']} worker(s):")
        for name in ("labels_only", "with_uncertainty"):
            row = folder[name]
            print(f"   {name.replace('_', ' ')}: {row['folder_img_s']:.2f} img/s vs pure forward {row['pure_img_s']:.2f} "
                  f"img/s -> {row['ratio']:.1%} (target >= 90 %)")
        naive_ckpt = make_checkpoint(Path(tmp) / "dlv3.pt", "deeplabv3_resnet50", 3, 21)
        speed = predictor_vs_naive(naive_ckpt, args.repeats)
        print(f"3. deeplabv3_resnet50 at 512x512: our predictor {speed['ours_s'] * 1000:.0f} ms ({speed['precision']}) vs "
              f"naive fp32 eager torchvision {speed['naive_s'] * 1000:.0f} ms -> {speed['speedup']:.2f}x (target >= 1.5x)")
    write_report(args.out, {"big_frame": big, "folder": folder, "predictor_vs_naive": speed})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
