"""Export a checkpoint's model to ONNX, with a JSON sidecar that tells a consumer how to feed it.

The graph's `metadata_props` hold the same information (`segcore.class_table`, `segcore.normalization`,
`segcore.preprocessing`, ...: each sidecar key, its value as JSON text).

The graph takes `image` (N x C x H x W float32, already scaled to 0..1 and normalised) and returns
`logits` (N x num_classes x H x W). N, H and W are dynamic unless `dynamic_size=False`.

What comes before the graph is the sidecar's `preprocessing` (every deterministic option the model was
trained with: resize, intensity and its percentiles, CLAHE, mean image, the fringe analysis that turns
one gray channel into the six the graph takes) and, step by step, its `pipeline`. `prepare_input` builds
the graph's input from a frame and the sidecar alone, and `labels_from_logits` the frame's labels from
the graph's output, as `segcore predict` does (tests/segcore/test_onnx.py holds them to it).

Exporter: `torch.onnx.export(dynamo=True)` (torch.export + onnxscript), the default since torch
2.9; the TorchScript exporter (`dynamo=False`) is deprecated and announced for removal.

Why every export is verified: torch.export silently specialises Python branches on shapes. The
`if pad_h or pad_w` in `SegmentationModel.forward` is one (a graph traced at a multiple of the
divisor never pads), adaptive pooling to fixed bins (PSPNet) another. The first is avoided by
padding unconditionally in `_LogitsOnly`; any other is caught by running the ONNX graph with
onnxruntime at a size that is not the example size and comparing it with torch.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segcore.data.normalization import full_scale
from segcore.data.transforms.config import AugmentConfig
from segcore.data.transforms.memo import plain_steps
from segcore.data.transforms.photometric import INTENSITY_PERCENTILES
from segcore.data.transforms.tensor import ToTensor
from segcore.errors import SegcoreError
from segcore.io.atomic import atomic_path, atomic_write_bytes
from segcore.training.checkpoint import Checkpoint, load_checkpoint

log = logging.getLogger(__name__)

SIDECAR_FORMAT = "segcore-onnx"
SIDECAR_VERSION = 1
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
# Verification tolerance: float32 graphs differ from torch by reassociation only (~1e-6 relative).
_RTOL = 1e-3
_ATOL = 1e-4
_AUGMENT_DEFAULTS = AugmentConfig()
PREPROCESSING_KEYS = ("channels", "mean_image", "resize", "clahe", "clahe_grid", "intensity", "fringe_features",
                      "fringe_background", "fringe_normalise", "fringe_robust", "fringe_refit", "fringe_side")
"""The `AugmentConfig` options that act at inference, in about the order they apply (`build_transforms`)."""
TRAINING_ONLY_KEYS = ("crop", "scale_range", "hflip", "vflip", "rotation", "jitter", "ignore_boundary", "noise",
                      "invert", "phase_sign")
"""The options that act in training only; with PREPROCESSING_KEYS, mean, std and pad_divisor: every option."""
CHANNEL_NAMES = {"fringe_features": ["gray level without its fringes", "local mean", "local contrast / frame median",
                                     "fringe amplitude / frame median", "cos(phase less background)",
                                     "sin(phase less background)"]}
METADATA_PREFIX = "segcore."
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class OnnxExportError(SegcoreError):
    """A model could not be exported to ONNX, or its exported graph does not match torch."""


class OnnxUnavailableError(OnnxExportError):
    """The packages the ONNX exporter needs (onnx, onnxscript) are not installed."""


@dataclass(frozen=True)
class OnnxExport:
    """What `export_onnx` wrote and how it checked it."""

    onnx_path: Path
    sidecar_path: Path
    model_name: str
    opset: int
    example_size: tuple[int, int]
    dynamic_size: bool
    verified_shape: tuple[int, ...] | None
    """The input shape the onnxruntime check ran at; None when onnxruntime is not installed."""
    max_abs_diff: float | None
    """Largest |onnx - torch| logit difference at `verified_shape`."""


class _LogitsOnly(nn.Module):
    """The model as an ONNX-friendly function: one tensor in, the "out" logits tensor out.

    Models that need H and W at a multiple of their divisor are padded here unconditionally
    (a zero-width pad is a no-op), with the same replicate mode and crop as the model's own
    forward, so the result is identical; the model's own `if pad_h or pad_w` then sees a
    multiple and never pads, whatever size the graph runs at.
    """

    def __init__(self, model: nn.Module, divisor: int):
        super().__init__()
        self.model = model
        self.divisor = divisor
        self.pad = bool(getattr(model, "pad_to_divisor", False))

    def forward(self, image: Tensor) -> Tensor:
        if not self.pad:
            return self.model(image)["out"]
        height, width = image.shape[-2], image.shape[-1]
        x = F.pad(image, (0, (-width) % self.divisor, 0, (-height) % self.divisor), mode="replicate")
        return self.model(x)["out"][..., :height, :width]


def sidecar_path_for(onnx_path: str | Path) -> Path:
    """`model.onnx` -> `model.onnx.json`."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.name + ".json")


def round_up(value: int, divisor: int) -> int:
    return int(math.ceil(value / divisor) * divisor)


def export_onnx(
    checkpoint: Checkpoint | str | Path,
    out: str | Path,
    *,
    height: int = 512,
    width: int = 512,
    opset: int | None = None,
    dynamic_size: bool = True,
    verify: bool = True,
) -> OnnxExport:
    """Export `checkpoint`'s model to `out` (ONNX) and `out + ".json"` (sidecar), both atomically.

    height, width: the example size traced, rounded up to the model's divisor; with
    `dynamic_size=False` the graph accepts exactly this size (for architectures whose pooling is
    not size-dynamic, e.g. PSPNet), otherwise any H x W. The batch dimension is always dynamic.
    opset: the ai.onnx opset (None: the exporter's default). verify: run the graph with
    onnxruntime, when installed, at a second size and compare with torch.
    """
    _require_exporter()
    from torch.export import Dim

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    name = ckpt.model_name
    out = Path(out)
    if height < 1 or width < 1:
        raise OnnxExportError(f"the example size must be positive, got {height} x {width}")
    try:
        model = ckpt.build_model().eval()
    except Exception as exc:  # a checkpoint whose weights do not fit its architecture
        raise OnnxExportError(f"cannot rebuild model {name!r} from the checkpoint: {exc}") from exc
    divisor = _divisor(model, name)
    size = (round_up(height, divisor), round_up(width, divisor))
    wrapper = _LogitsOnly(model, divisor).eval()
    # Batch 2, not 1: torch.export specialises dimensions of size 0 and 1.
    example = torch.zeros(2, ckpt.in_channels, *size)
    dims = {0: Dim("batch")}
    if dynamic_size:
        dims.update({2: Dim("height"), 3: Dim("width")})
    try:
        with torch.no_grad():
            program = torch.onnx.export(
                wrapper,
                (example,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes={"image": dims},
                opset_version=opset,
                external_data=False,
                verbose=False,
            )
    except Exception as exc:  # torch.export and onnxscript raise many types; the user needs which model
        # torch wraps the real reason (e.g. a data-dependent branch) in a generic "step 1/3" error.
        cause = _root_cause(exc)
        raise OnnxExportError(f"cannot export model {name!r} to ONNX: {type(cause).__name__}: {_first_line(cause)}") from exc
    written_opset = _ai_onnx_opset(program.model_proto)
    if opset is not None and written_opset != opset:
        # When onnx's version converter cannot go down to `opset`, torch keeps its own opset
        # with only a logged warning; a consumer that needs `opset` must hear it.
        raise OnnxExportError(
            f"model {name!r} cannot be exported at opset {opset}: the exporter produced opset {written_opset} "
            "(it writes opset 18 or newer and could not convert this graph down)"
        )

    verified_shape: tuple[int, ...] | None = None
    max_abs_diff: float | None = None
    if verify:
        verified_shape = _verify_size(size, divisor, dynamic_size, ckpt.in_channels)
        max_abs_diff = _verify(program.model_proto.SerializeToString(), wrapper, verified_shape, name)

    sidecar = sidecar_path_for(out)
    info = sidecar_dict(ckpt, divisor=divisor, opset=written_opset, example_size=size, dynamic_size=dynamic_size)
    info["verification"] = (
        None if verified_shape is None else {"input_shape": list(verified_shape), "max_abs_diff": max_abs_diff}
    )
    # The graph carries the sidecar too, so a copied .onnx alone still says how to feed it.
    program.model.metadata_props.update(metadata_props(info))
    try:
        with atomic_path(out) as tmp:
            program.save(tmp, external_data=False)
    except (OSError, ValueError) as exc:  # > 2 GB of weights would need external data
        raise OnnxExportError(f"cannot write {out}: {exc}") from exc
    atomic_write_bytes(sidecar, (json.dumps(info, indent=2) + "\n").encode())
    log.info("exported %s to %s (opset %d, example %dx%d)", name, out, written_opset, *size)
    return OnnxExport(out, sidecar, name, written_opset, size, dynamic_size, verified_shape, max_abs_diff)


def sidecar_dict(
    ckpt: Checkpoint, *, divisor: int, opset: int, example_size: tuple[int, int], dynamic_size: bool
) -> dict:
    """Everything a consumer of the ONNX file needs to prepare inputs and read outputs."""
    norm = ckpt.normalization or {}
    augment = norm.get("augment") or {}
    preprocessing = {k: _json(augment.get(k, getattr(_AUGMENT_DEFAULTS, k))) for k in PREPROCESSING_KEYS}
    if preprocessing["intensity"] == "percentile":
        preprocessing["percentiles"] = list(INTENSITY_PERCENTILES)
    return {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "model": ckpt.model_name,
        "model_kwargs": ckpt.model_kwargs,
        "num_classes": ckpt.num_classes,
        "in_channels": ckpt.in_channels,
        "divisor": divisor,
        "opset": opset,
        "input": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "layout": "NCHW",
            "dynamic": ["batch", "height", "width"] if dynamic_size else ["batch"],
            "example_size": list(example_size),
            "channels": CHANNEL_NAMES["fringe_features"] if augment.get("fringe_features") else None,
        },
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "layout": "NCHW", "meaning": "logits; argmax over C is the class index"},
        "class_table": ckpt.class_table.to_dict(),
        "normalization": {
            "value_scale": {"uint8": full_scale(np.uint8), "uint16": full_scale(np.uint16), "float": full_scale(np.float32)},
            "mean": norm.get("mean"),
            "std": norm.get("std"),
            "formula": _formula(preprocessing["intensity"]),
        },
        # Deterministic steps the model was trained with that happen before normalisation; a
        # consumer must repeat those that are set (`prepare_input` does, from this sidecar alone).
        "preprocessing": preprocessing,
        "pipeline": [repr(step) for step in plain_steps(_pipeline(preprocessing, norm).transforms)
                     if not isinstance(step, ToTensor)],
        "output_to_labels": "logits resized to the frame's size (bilinear, half-pixel centres), argmax over C",
        "epoch": ckpt.epoch,
        "label_set_hash": ckpt.label_set_hash,
        "torch_version": torch.__version__,
    }


def prepare_input(image: np.ndarray, sidecar: dict) -> np.ndarray:
    """The 1 x C x H x W float32 array the exported graph takes for `image` (H x W or H x W x C, as read from its
    file), from the sidecar alone: the model's own preprocessing, normalisation and fringe analysis."""
    tensor, _ = _pipeline(sidecar["preprocessing"], sidecar["normalization"])(image, None)
    return tensor.numpy()[None]


def labels_from_logits(logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The H x W class labels of a frame of `size` (H, W) from the graph's 1 x C x h x w `logits` (uint8 or uint16)."""
    scores = logits[0].transpose(1, 2, 0)
    height, width = size
    resized = np.stack([cv2.resize(np.ascontiguousarray(scores[..., c]), (width, height), interpolation=cv2.INTER_LINEAR)
                        for c in range(scores.shape[2])], axis=2)
    return resized.argmax(2).astype(np.uint8 if scores.shape[2] <= 256 else np.uint16)


def _pipeline(preprocessing: dict, normalization: dict):  # noqa: ANN202 - a Compose
    options = {k: preprocessing[k] for k in PREPROCESSING_KEYS if k in preprocessing}
    return AugmentConfig.from_dict({**options, "mean": normalization.get("mean"),
                                    "std": normalization.get("std")}).build(train=False)


def _formula(intensity: str) -> str:
    scale = ("PercentileScale: (pixel - the frame's own low percentile) / (high - low percentile), "
             "preprocessing.percentiles, not clipped" if intensity == "percentile" else
             "pixel / value_scale[dtype] (ToTensor, when no step before made the frame float)")
    return f"the steps of pipeline, in order ({scale}); then x = (x - mean[c]) / std[c] where mean and std are set"


def _json(value):  # noqa: ANN001, ANN202 - tuples as lists, as JSON has them
    return list(value) if isinstance(value, tuple) else value


def metadata_props(info: dict) -> dict[str, str]:
    """The sidecar as ONNX metadata_props: each top-level key as `segcore.KEY`, its value as JSON text."""
    return {f"{METADATA_PREFIX}{key}": json.dumps(value) for key, value in info.items()}


def _require_exporter() -> None:
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise OnnxUnavailableError(
            f"ONNX export needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            "pip install 'segdesk[onnx]' (or: pip install onnx onnxscript onnxruntime)"
        )


def _divisor(model: nn.Module, name: str) -> int:
    from segcore.models import get_model_info

    try:
        return int(get_model_info(name).divisor)
    except ValueError:  # not registered (a custom model): its own attribute, else no constraint
        return int(getattr(model, "divisor", 1))


def _verify_size(size: tuple[int, int], divisor: int, dynamic_size: bool, channels: int) -> tuple[int, int, int, int]:
    """A second input shape: another batch and, for dynamic graphs, H and W that are no multiples."""
    if not dynamic_size:
        return (3, channels, *size)

    def other(v: int, step: int) -> int:
        v = max(v // 2, divisor) + step
        return v + 1 if v % divisor == 0 else v

    return (3, channels, other(size[0], 1), other(size[1], 3))


def _verify(model_bytes: bytes, wrapper: nn.Module, shape: tuple[int, ...], name: str) -> float | None:
    try:
        import onnxruntime as ort
    except ImportError:
        log.warning("onnxruntime is not installed: the exported %s graph was not checked against torch", name)
        return None
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = wrapper(x).numpy()
    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidArgument types
        raise OnnxExportError(
            f"the ONNX graph of {name!r} does not run at input shape {list(shape)}: {_first_line(exc)} "
            "(its pooling or a shape branch was fixed at the example size; export with a fixed size instead)"
        ) from exc
    same_shape = got.shape == expected.shape
    diff = float(np.abs(got - expected).max()) if same_shape else math.inf
    # atol scales with the logits: untrained or sharp models have logits in the tens or hundreds.
    atol = _ATOL + _RTOL * float(np.abs(expected).max())
    if not same_shape or not np.allclose(got, expected, rtol=_RTOL, atol=atol):
        raise OnnxExportError(
            f"the ONNX graph of {name!r} disagrees with torch at input shape {list(shape)} "
            f"(output {list(got.shape)} vs {list(expected.shape)}, max difference {diff:.3g}); "
            "export with a fixed size instead"
        )
    return diff


def _ai_onnx_opset(model_proto) -> int:  # noqa: ANN001 - an onnx.ModelProto
    return next((int(o.version) for o in model_proto.opset_import if o.domain in ("", "ai.onnx")), -1)


def _root_cause(exc: BaseException) -> BaseException:
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


def _first_line(exc: BaseException) -> str:
    # torch's exporter colours its messages; escape codes are noise in a log or a dialog.
    text = _ANSI.sub("", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
