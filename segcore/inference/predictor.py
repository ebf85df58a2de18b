"""Predict images with a trained checkpoint: whole, downscaled, or tiled with blended overlaps.

    predictor = Predictor(load_checkpoint("runs/a/best.pt"), mode="tile", tile=1024, overlap=0.25)
    result = predictor.predict(image)          # labels, uncertainty, score (and probabilities)

The input goes through the checkpoint's own preprocessing (mean image, resize, CLAHE,
normalisation); logits come back at the input's full size whatever the mode.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segcore.data.transforms import build_transforms
from segcore.data.transforms.base import Compose
from segcore.data.transforms.memo import plain_steps
from segcore.inference.fold import fold_batchnorm
from segcore.inference.memory import choose_tiling
from segcore.inference.quality import QualityEstimate, estimate_quality, quality_views, takes_fringe_channels
from segcore.inference.regions import CONFIDENT, confident_pixels, keep_one_region
from segcore.inference.tiling import blend_window, padded_size, tile_grid
from segcore.models import get_model_info
from segcore.training.checkpoint import Checkpoint, load_checkpoint
from segcore.training.device import cpu_has_native_bf16, pick_device

log = logging.getLogger(__name__)

MODES = ("auto", "whole", "resize", "tile")
PRECISIONS = ("auto", "fp32", "bf16")
BF16_AGREEMENT = 0.995
"""bf16 is kept only while its labels agree with fp32's on at least this fraction of each checked image's pixels."""
BF16_FIRST_CHECKS = 3
BF16_CHECK_EVERY = 25
"""With precision "auto", the first BF16_FIRST_CHECKS images, then one in every BF16_CHECK_EVERY, are
predicted in both precisions and compared (one extra forward each): a drop falls back to fp32 for good."""
QUALITY_SIDE = 512
"""The quality estimate is computed on the network's output at most this long a side (memory bounded whatever the frame)."""


@dataclass
class Prediction:
    labels: np.ndarray
    """H x W uint8 class indices at the input's size."""
    uncertainty: np.ndarray | None
    """H x W float32 in [0, 1]: softmax entropy divided by log(C) (0 = certain); None if not asked for."""
    score: float | None
    """The image's mean uncertainty: sorts a review queue (highest first)."""
    probabilities: np.ndarray | None = None
    """C x H x W float32 softmax, when asked for (`keep_probabilities`)."""
    mode: str = "whole"
    quality: QualityEstimate | None = None
    """The estimated IoU of `labels` (`segcore.inference.quality`), when asked for (`quality`)."""


class Predictor:
    def __init__(
        self,
        checkpoint: Checkpoint | str | Path,
        *,
        device: str = "auto",
        mode: str = "auto",
        tile: int | None = None,
        overlap: float = 0.25,
        resize: int | float | None = None,
        tta: bool = False,
        precision: str = "auto",
        compile: bool = False,
        fold_bn: bool = True,
        batch_size: int | None = None,
        keep_probabilities: bool = False,
        mean_image: np.ndarray | None = None,
        uncertainty: bool = True,
        one_region: bool | None = None,
        quality: bool = False,
    ):
        """mean_image: subtract this frame first (a sequence's mean), replacing the checkpoint's own.

        tta: the labels come from the mean of the quality views (the frame and its mirror both ways; for a network
        on the fringe analysis, the mirror with the phase negated). quality: each prediction carries its estimated
        IoU (`segcore.inference.quality`), from those views: two forwards instead of one.

        one_region: each class keeps only its largest region, holes filled (`regions.keep_one_region`), for
        frames that hold one object per class; the uncertainty and probabilities stay the network's. None:
        as the checkpoint was trained (its config's `one_region`, off for checkpoints saved before it).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.checkpoint = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        self.class_table = self.checkpoint.class_table
        self.device = pick_device(device)
        self.mode, self.overlap, self.tta, self.keep_probabilities = mode, overlap, tta, keep_probabilities
        self.with_uncertainty = uncertainty
        self.quality = quality
        self.views = quality_views(takes_fringe_channels(self.checkpoint.in_channels,
                                                         self.checkpoint.preprocessing_options()))
        self.one_region = bool(self.checkpoint.config.get("one_region", False)) if one_region is None else one_region
        self.divisor = int(self.checkpoint.extra.get("divisor") or get_model_info(self.checkpoint.model_name).divisor)
        self.transform = self._transform(resize, mean_image)
        self.model = self._prepare_model(fold_bn, compile)
        self.tile, self.batch_size = tile, batch_size
        if mode in ("auto", "tile") and (tile is None or batch_size is None):
            auto_tile, auto_batch = choose_tiling(self.model, self.checkpoint.in_channels, self.divisor, self.device)
            self.tile = tile or auto_tile
            self.batch_size = batch_size or auto_batch
        self.tile = padded_size(self.tile or 512, self.divisor)
        self.batch_size = self.batch_size or 1
        self.amp_dtype = self._initial_precision(precision)
        self._watch_bf16 = precision == "auto" and self.amp_dtype is not None
        self._images_done, self._next_check, self._checks = 0, 0, 0
        self.bf16_agreement: float | None = None
        """The lowest bf16-vs-fp32 label agreement of the images checked so far."""

    @property
    def method(self) -> tuple[str, ...]:
        """What this predictor adds to the network's own output: "flips" (TTA), "one region" (the tidy-up)."""
        return tuple(name for name, used in (("flips", self.tta), ("one region", self.one_region)) if used)

    # -- setup ---------------------------------------------------------------------------------------
    def _transform(self, resize: int | float | None, mean_image: np.ndarray | None):
        options = self.checkpoint.preprocessing_options()
        options["pad_divisor"] = None
        if resize is not None:  # an explicit downscale replaces the training resize
            options["resize"] = resize
            self.mode = "resize" if self.mode == "auto" else self.mode
        if options["channels"] is None:
            # A checkpoint from before runs recorded their channel conversion: today's training rule
            # (alpha dropped, colour <-> gray) still beats a crash on an RGBA frame given to a gray model.
            options["channels"] = self.checkpoint.in_channels
        if mean_image is not None:
            options["mean_image"] = mean_image
        # Step by step, not memoised: a prediction sees each frame once, and keeping every frame's analysis grew a
        # long sequence's prediction by ~1 GiB (bench_sequence.py, docs/results.md).
        return Compose(plain_steps(build_transforms(False, **options).transforms))

    def _prepare_model(self, fold_bn: bool, compile: bool) -> nn.Module:
        model = self.checkpoint.build_model().eval()
        if fold_bn:
            folded = fold_batchnorm(model)
            log.debug("folded %d BatchNorm layers", folded)
        model = model.to(self.device, memory_format=torch.channels_last)
        if compile:
            model = torch.compile(model)
        return model

    def _initial_precision(self, precision: str) -> torch.dtype | None:
        if precision == "fp32":
            return None
        if precision == "bf16":
            return torch.bfloat16
        if self.device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if self.device.type == "cpu" and cpu_has_native_bf16():
            return torch.bfloat16
        return None

    # -- prediction -------------------------------------------------------------------------------------
    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """The normalised C x H x W tensor the model sees (after the checkpoint's resize, if any)."""
        tensor, _ = self.transform(image, None)
        return tensor

    @torch.inference_mode()
    def predict(self, image: np.ndarray) -> Prediction:
        """Labels, uncertainty and score for one decoded image (gray or RGB, 8/16-bit)."""
        return self.predict_tensor(self.preprocess(image), image.shape[:2])

    @torch.inference_mode()
    def predict_tensor(self, tensor: torch.Tensor, output_size: tuple[int, int]) -> Prediction:
        """Predict a preprocessed C x H x W tensor; results are resized to `output_size`."""
        x = tensor.unsqueeze(0).to(self.device)
        mode = self._mode_for(x)
        first = self._checked_logits(x, mode) if self._bf16_check_due() else self._logits(x, mode)
        outputs = self._view_outputs(x, mode, first, every=self.tta or self.quality)
        self._images_done += 1
        logits = torch.stack(outputs).mean(0) if self.tta else first
        quality = self._estimate(outputs, logits[0]) if self.quality else None
        if logits.shape[-2:] != tuple(output_size):
            logits = F.interpolate(logits, size=tuple(output_size), mode="bilinear", align_corners=False)
        return self._finish(logits[0], mode, quality)

    @torch.inference_mode()
    def predict_batch(self, batch: torch.Tensor, output_sizes: list[tuple[int, int]]) -> list[Prediction]:
        """Predict N preprocessed images of one size in a single forward (whole-image mode)."""
        x = batch.to(self.device)
        if self._mode_for(x) == "tile":
            return [self.predict_tensor(t, size) for t, size in zip(batch, output_sizes)]
        if self._bf16_check_due():
            self._checked_logits(x[:1], "whole")
        outputs = self._view_outputs(x, "whole", self._logits(x, "whole"), every=self.tta or self.quality)
        self._images_done += len(x)
        logits = torch.stack(outputs).mean(0) if self.tta else outputs[0]
        results = []
        for index, (item, size) in enumerate(zip(logits, output_sizes)):
            quality = self._estimate([view[index : index + 1] for view in outputs], item) if self.quality else None
            if item.shape[-2:] != tuple(size):
                # One image of the batch keeps the batch's strides, which upsampling does not take for channels_last
                # (its output would be class-first, and _finish's argmax over the class axis ~6x slower: a 3072 frame
                # 0.6 s instead of 0.1 s). A copy at the working side has strides of its own.
                item = item[None].clone(memory_format=torch.channels_last)
                item = F.interpolate(item, size=tuple(size), mode="bilinear", align_corners=False)[0]
            results.append(self._finish(item, "whole", quality))
        return results

    def _mode_for(self, x: torch.Tensor) -> str:
        if self.mode in ("whole", "tile"):
            return self.mode
        if self.mode == "resize":
            return "whole"
        return "tile" if max(x.shape[-2:]) > self.tile else "whole"

    def _logits(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        return self._tiled(x) if mode == "tile" else self._forward(x)

    @torch.inference_mode()
    def estimate(self, image: np.ndarray, labels: np.ndarray) -> QualityEstimate:
        """The estimated IoU of `labels` (H x W at the image's size: an edited or another model's prediction) from
        this predictor's views of `image`."""
        if labels.shape != image.shape[:2]:
            raise ValueError(f"labels {labels.shape} and image {image.shape[:2]} differ in size")
        x = self.preprocess(image).unsqueeze(0).to(self.device)
        mode = self._mode_for(x)
        outputs = self._view_outputs(x, mode, self._logits(x, mode), every=True)
        return self._estimate(outputs, outputs[0][0], labels)

    def _view_outputs(self, x: torch.Tensor, mode: str, first: torch.Tensor, *, every: bool) -> list[torch.Tensor]:
        """The logits of every view (`first`: the frame as it is), in the frame's orientation; only `first`
        unless `every`."""
        if not every:
            return [first]
        return [first, *(view.undo(self._logits(view.apply(x), mode)) for view in self.views[1:])]

    def _estimate(self, outputs: list[torch.Tensor], logits: torch.Tensor,
                  labels: np.ndarray | None = None) -> QualityEstimate:
        """The quality estimate of `labels` (default: those `logits` give, tidied as the predictor tidies), from the
        views, at QUALITY_SIDE at most."""
        scale = QUALITY_SIDE / max(logits.shape[-2:])

        def small(view: torch.Tensor) -> torch.Tensor:  # one view at a time: a tiled 3072 frame's stay small
            view = view.float()
            return F.interpolate(view, scale_factor=scale, mode="area") if scale < 1 else view

        probabilities = torch.softmax(torch.cat([small(logits[None]), *map(small, outputs)]), dim=1).cpu().numpy()
        tidy = keep_one_region if self.one_region else None
        if labels is None:
            labels = probabilities[0].argmax(0).astype(np.uint8)
            labels = labels if tidy is None else tidy(labels, confident_pixels(probabilities[0]))
        else:
            height, width = probabilities.shape[-2:]
            labels = cv2.resize(labels.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        return estimate_quality(probabilities[1:], labels, tidy=tidy)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Model logits (float32) for a batch, padded to the divisor and cropped back."""
        h, w = x.shape[-2:]
        ph, pw = padded_size(h, self.divisor) - h, padded_size(w, self.divisor) - w
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            out = self.model(x)["out"]
        out = out.float()
        if not out.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous(memory_format=torch.channels_last)  # class-last reductions in _finish
        return out[..., :h, :w]

    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        """Sliding window: tiles in batches, logits blended with smooth weights where they overlap."""
        _, _, h, w = x.shape
        tiles = tile_grid(h, w, self.tile, self.overlap)
        acc = torch.zeros(1, self.class_table.num_classes, h, w, device=self.device).to(memory_format=torch.channels_last)
        weight_sum = torch.zeros(1, 1, h, w, device=self.device)
        for start in range(0, len(tiles), self.batch_size):
            batch = tiles[start : start + self.batch_size]
            crops = torch.cat([x[..., t.y : t.y + t.h, t.x : t.x + t.w] for t in batch])
            logits = self._forward(crops)
            for t, tile_logits in zip(batch, logits):
                window = blend_window(t.h, t.w, self.overlap, device=self.device)
                acc[0, :, t.y : t.y + t.h, t.x : t.x + t.w] += tile_logits * window
                weight_sum[0, 0, t.y : t.y + t.h, t.x : t.x + t.w] += window
        return acc / weight_sum

    def _finish(self, logits: torch.Tensor, mode: str, quality: QualityEstimate | None = None) -> Prediction:
        # Classes last: reductions over a contiguous axis run ~2.5x faster than over axis 0 (and
        # the channels_last logits of the model are already laid out that way).
        hwc = logits.permute(1, 2, 0)
        labels = hwc.argmax(-1).to(torch.uint8)
        classes = hwc.shape[-1]
        uncertainty = probabilities = None
        if self.with_uncertainty or self.keep_probabilities or self.one_region:
            log_probs = torch.log_softmax(hwc, dim=-1)
            if self.with_uncertainty:
                uncertainty = (log_probs.exp() * log_probs).sum(-1).neg_().div_(math.log(classes)) if classes > 1 else \
                    torch.zeros(hwc.shape[:2], device=hwc.device)
            if self.keep_probabilities:
                probabilities = log_probs.exp().permute(2, 0, 1).cpu().numpy()
        labels = labels.cpu().numpy()
        if self.one_region:
            labels = keep_one_region(labels, (log_probs.amax(-1) >= math.log(CONFIDENT)).cpu().numpy())
        return Prediction(
            labels=labels,
            uncertainty=None if uncertainty is None else uncertainty.float().cpu().numpy(),
            score=None if uncertainty is None else float(uncertainty.mean()),
            probabilities=probabilities,
            mode=mode,
            quality=quality,
        )

    def _bf16_check_due(self) -> bool:
        return self._watch_bf16 and self._images_done >= self._next_check

    def _checked_logits(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """Logits of `x` in bf16 and in fp32; bf16 is given up if their labels agree on < 99.5 % of pixels.

        Returns the logits of the precision kept, so the check costs one extra forward.
        """
        dtype, self.amp_dtype = self.amp_dtype, None
        reference = self._logits(x, mode)
        self.amp_dtype = dtype
        fast = self._logits(x, mode)
        agreement = float((fast.argmax(1) == reference.argmax(1)).float().mean())
        self.bf16_agreement = agreement if self.bf16_agreement is None else min(self.bf16_agreement, agreement)
        self._checks += 1
        self._next_check = self._images_done + (1 if self._checks < BF16_FIRST_CHECKS else BF16_CHECK_EVERY)
        if agreement < BF16_AGREEMENT:
            log.warning("bf16 labels agree with fp32 on only %.2f%% of the pixels of image %d; predicting in fp32",
                        100 * agreement, self._images_done + 1)
            self.amp_dtype, self._watch_bf16 = None, False
            return reference
        log.info("bf16 agrees with fp32 on %.3f%% of the pixels of image %d; using bf16", 100 * agreement,
                 self._images_done + 1)
        return fast
