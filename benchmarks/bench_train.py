"""Training throughput: our loop vs the pure step, our data pipeline vs a PIL one, bf16 vs fp32 on CPU.

    python benchmarks/bench_train.py [--camvid ../shared/datasets/camvid] [--out benchmarks/out/bench_train.json]

1. loop: images/s of `segcore.training.Trainer` (CamVid train images, random crops) against the
   bare forward + backward + optimizer step of the same model on tensors already in memory.
   Target: the loop reaches >= 90 % of the pure step.
2. pipeline: samples/s of our data pipeline (OpenCV decode, scale, crop, flip, normalise) against
   torchvision's references/segmentation-style PIL pipeline on the same files and crop size, both
   as the trainer runs ours (decoded images kept in memory) and decoding every sample.
   Target: ours >= 2x.
3. cpu bf16: speed of a training step of the grayscale default's U-Net (6 fringe channels, base 16,
   batch 4 of 256 crops) under bf16 autocast and in channels_last memory, against fp32 in the default
   layout, on this CPU; and the val mIoU bf16 and fp32 reach on a small synthetic task (bf16 is used
   only where the CPU has native bf16 instructions).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from _common import ROOT, machine_info, write_report
from PIL import Image

from segcore.data.readers import open_dataset
from segcore.data.torch_dataset import SegmentationDataset
from segcore.data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_transforms
from segcore.losses import SegmentationLoss, get_loss
from segcore.models import get_model
from segcore.training import TrainConfig, Trainer, prepare
from segcore.training.device import cpu_has_native_bf16, setup_device
from segcore.training.events import BatchProgress

sys.path.insert(0, str(ROOT / "tests" / "segcore"))
from synthetic import write_squares_dataset  # noqa: E402  (the synthetic task of the tests)

CROP = 256
SCALE = (0.5, 2.0)


# -- 1. loop vs pure step -------------------------------------------------------------------------
def loop_vs_pure(camvid: Path, model: str, batch: int, batches: int, workers: int) -> dict:
    dataset = open_dataset("camvid", camvid)
    dataset.samples = [s for s in dataset.samples if s.split == "train"][: batch * (batches + 2)]
    config = TrainConfig(model=model, epochs=1, batch_size=batch, augment={"crop": CROP, "scale_range": list(SCALE)},
                         val_fraction=0.0, workers=workers, amp="off")
    data = prepare(dataset, 0.0, 0)
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        last = time.perf_counter()
        for event in Trainer(config, data, tmp).run():
            if isinstance(event, BatchProgress):
                now = time.perf_counter()
                if event.batch > 2:  # skip warm-up batches (first allocations, worker start)
                    rates.append(batch / (now - last))
                last = now
    loop_rate = statistics.median(rates)

    # The same memory layout as the trainer's on this device (channels_last on CPUs and CUDA): the step, not the layout.
    layout = torch.channels_last if setup_device(config.device, config.amp).channels_last else torch.contiguous_format
    net = get_model(model, num_classes=data.class_table.num_classes, in_channels=3).train().to(memory_format=layout)
    loss_fn = SegmentationLoss(get_loss("ce"))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, CROP, CROP).contiguous(memory_format=layout)
    y = torch.randint(0, data.class_table.num_classes, (batch, CROP, CROP))
    times = []
    for i in range(batches + 2):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    pure_rate = batch / statistics.median(times)
    return {"model": model, "batch": batch, "crop": CROP, "workers": workers, "loop_img_s": loop_rate,
            "pure_img_s": pure_rate, "ratio": loop_rate / pure_rate}


# -- 2. data pipeline vs PIL ---------------------------------------------------------------------
class PilPipeline:
    """torchvision references/segmentation transforms: RandomResize, flip, RandomCrop, to tensor, normalise."""

    def __init__(self, base: int, crop: int):
        self.min_size, self.max_size, self.crop = int(SCALE[0] * base), int(SCALE[1] * base), crop

    def __call__(self, image_path: Path, mask_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
        image = Image.open(image_path).convert("RGB")
        target = Image.open(mask_path)
        size = random.randint(self.min_size, self.max_size)
        image = TF.resize(image, size)
        target = TF.resize(target, size, interpolation=TF.InterpolationMode.NEAREST)
        if random.random() < 0.5:
            image, target = TF.hflip(image), TF.hflip(target)
        w, h = image.size
        if min(w, h) < self.crop:
            pad = [0, 0, max(self.crop - w, 0), max(self.crop - h, 0)]
            image, target = TF.pad(image, pad, fill=0), TF.pad(target, pad, fill=255)
        top, left = random.randint(0, image.size[1] - self.crop), random.randint(0, image.size[0] - self.crop)
        image, target = TF.crop(image, top, left, self.crop, self.crop), TF.crop(target, top, left, self.crop, self.crop)
        tensor = TF.convert_image_dtype(TF.pil_to_tensor(image), torch.float)
        tensor = TF.normalize(tensor, IMAGENET_MEAN, IMAGENET_STD)
        return tensor, torch.as_tensor(np.array(target), dtype=torch.int64)


def pipeline_vs_pil(camvid: Path, n: int) -> dict:
    """Samples/s over the same files and crop size; ours both decoding every sample and as the
    trainer runs it (images decoded once and kept in memory when the set fits in 2 GiB)."""
    samples = [s for s in open_dataset("camvid", camvid).samples if s.split == "train"][:n]
    transform = build_transforms(True, crop=CROP, scale_range=SCALE, hflip=0.5, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    datasets = {"ours_decoding": SegmentationDataset(samples, transform),
                "ours_cached": SegmentationDataset(samples, transform, cache=True)}
    random.seed(0)
    pil = PilPipeline(base=360, crop=CROP)
    pairs = [(s.image_path, camvid / "trainannot" / s.image_path.name) for s in samples]
    for _ in range(3):  # warm-up: file cache, lazy imports
        pil(*pairs[0])
        for dataset in datasets.values():
            dataset[0]
    rates = {}
    for name, dataset in datasets.items():
        start = time.perf_counter()
        for i in range(n):
            dataset[i]
        rates[name] = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for image_path, mask_path in pairs:
        pil(image_path, mask_path)
    rates["pil"] = n / (time.perf_counter() - start)
    return {"samples": n, "crop": CROP, "samples_s": rates, "ratio_cached": rates["ours_cached"] / rates["pil"],
            "ratio_decoding": rates["ours_decoding"] / rates["pil"]}


# -- 3. bf16 on CPU ---------------------------------------------------------------------------------
def cpu_bf16(steps: int) -> dict:
    net = get_model("unet", num_classes=2, in_channels=6, base_channels=16).train()
    loss_fn = SegmentationLoss(get_loss("ce"))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x, y = torch.randn(4, 6, 256, 256), torch.randint(0, 2, (4, 256, 256))
    speeds = {}
    for name, dtype, layout in (("fp32", None, torch.contiguous_format),
                                ("fp32_channels_last", None, torch.channels_last),
                                ("bf16", torch.bfloat16, torch.contiguous_format),
                                ("bf16_channels_last", torch.bfloat16, torch.channels_last)):
        net = net.to(memory_format=layout)
        times = []
        for i in range(steps + 1):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = loss_fn(net(x.contiguous(memory_format=layout)), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i:
                times.append(time.perf_counter() - start)
        speeds[name] = len(x) / statistics.median(times)
    accuracy = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = write_squares_dataset(Path(tmp) / "squares", n=48, size=64)
        for name, amp in (("fp32", "off"), ("bf16", "bf16")):
            config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=15, batch_size=8, lr=1e-2,
                                 amp=amp, augment={"hflip": 0.5})
            data = prepare(open_dataset("folder", root), 0.2, 0)
            accuracy[name] = Trainer(config, data, Path(tmp) / name).fit().best_miou
    return {"native_bf16": cpu_has_native_bf16(), "img_s": speeds,
            "speedup": {name: rate / speeds["fp32"] for name, rate in speeds.items()}, "val_miou": accuracy}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--camvid", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    parser.add_argument("--model", default="fcn_resnet18")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--pipeline-samples", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bench_train.json"))
    args = parser.parse_args()
    info = machine_info()
    print(f"{info.get('cpu')} ({info['cpus']} CPUs, torch {info.get('torch')})")

    loop = loop_vs_pure(args.camvid, args.model, args.batch, args.batches, args.workers)
    print(f"\n1. training loop, {loop['model']}, batch {loop['batch']}, crop {CROP}: ours {loop['loop_img_s']:.2f} img/s, "
          f"pure step {loop['pure_img_s']:.2f} img/s -> {loop['ratio']:.1%} of the pure step (target >= 90 %)")
    pipe = pipeline_vs_pil(args.camvid, args.pipeline_samples)
    rates = pipe["samples_s"]
    print(f"2. data pipeline, {pipe['samples']} CamVid samples, crop {CROP}: ours as the trainer runs it (decoded once) "
          f"{rates['ours_cached']:.0f}/s -> {pipe['ratio_cached']:.2f}x the PIL pipeline's {rates['pil']:.0f}/s "
          f"(target >= 2x); decoding every sample {rates['ours_decoding']:.0f}/s -> {pipe['ratio_decoding']:.2f}x")
    bf16 = cpu_bf16(steps=5)
    rates = ", ".join(f"{name} {rate:.1f} img/s ({bf16['speedup'][name]:.2f}x)" for name, rate in bf16["img_s"].items())
    print(f"3. the grayscale U-Net's training step on the CPU (native bf16: {bf16['native_bf16']}): {rates}; "
          f"val mIoU on the synthetic task bf16 {bf16['val_miou']['bf16']:.4f} vs fp32 {bf16['val_miou']['fp32']:.4f}")
    write_report(args.out, {"loop": loop, "pipeline": pipe, "cpu_bf16": bf16})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
