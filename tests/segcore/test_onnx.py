"""`segcore export-onnx`: real checkpoints exported through the CLI, run by onnxruntime, compared with torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'segdesk[onnx]')")

from segcore.cli import main  # noqa: E402
from segcore.data.classes import ClassTable  # noqa: E402
from segcore.export import onnx as onnx_export  # noqa: E402
from segcore.models import get_model, get_model_info  # noqa: E402
from segcore.models import registry as model_registry  # noqa: E402
from segcore.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402

CASES = {
    # name: (in_channels, num_classes, model kwargs)
    "unet": (1, 2, {"base_channels": 4, "norm": "instance"}),  # as the grayscale defaults build it
    "fcn_resnet18": (3, 3, {}),
    "tv_lraspp_mobilenet_v3_large": (3, 4, {}),
}


def make_checkpoint(path: Path, name: str, in_channels: int, num_classes: int, kwargs: dict) -> Path:
    """An untrained but real checkpoint: random weights, non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = get_model(name, num_classes=num_classes, in_channels=in_channels, **kwargs)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            # Fresh BN is the identity; move its statistics so that folding them would show.
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    table = ClassTable.from_names([f"class{i}" for i in range(num_classes)])
    ckpt = Checkpoint(
        model_name=name,
        model_kwargs=kwargs,
        num_classes=num_classes,
        in_channels=in_channels,
        class_table=table,
        normalization={"mean": [0.4] * in_channels, "std": [0.2] * in_channels, "augment": {"clahe": 2.0}},
        state_dict=model.state_dict(),
        epoch=7,
        label_set_hash="abc123",
    )
    return save_checkpoint(path, ckpt)


def torch_logits(ckpt_path: Path, x: np.ndarray) -> np.ndarray:
    model = load_checkpoint(ckpt_path).build_model().eval()
    with torch.no_grad():
        return model(torch.from_numpy(x))["out"].numpy()


@pytest.mark.parametrize("name", list(CASES))
def test_export_matches_torch_at_two_odd_sizes(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    in_channels, num_classes, kwargs = CASES[name]
    ckpt_path = make_checkpoint(tmp_path / "model.pt", name, in_channels, num_classes, kwargs)
    out = tmp_path / "exported" / "model.onnx"

    assert main(["export-onnx", "--checkpoint", str(ckpt_path), "--out", str(out), "--height", "50", "--width", "70"]) == 0
    assert "verified with onnxruntime" in capsys.readouterr().out
    assert out.is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx", "model.onnx.json"]  # no temp files left

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, outp.name) == ("image", "logits")
    assert inp.shape == ["batch", in_channels, "height", "width"]
    rng = np.random.default_rng(1)
    for shape in [(1, in_channels, 97, 131), (2, in_channels, 64, 48)]:
        x = rng.normal(size=shape).astype(np.float32)
        got = session.run(["logits"], {"image": x})[0]
        expected = torch_logits(ckpt_path, x)
        assert got.shape == (shape[0], num_classes, shape[2], shape[3])
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)

    sidecar = json.loads((tmp_path / "exported" / "model.onnx.json").read_text())
    divisor = get_model_info(name).divisor
    assert sidecar["format"] == "segcore-onnx"
    assert sidecar["model"] == name
    assert sidecar["model_kwargs"] == kwargs
    assert (sidecar["in_channels"], sidecar["num_classes"], sidecar["divisor"]) == (in_channels, num_classes, divisor)
    assert sidecar["input"]["name"] == "image" and sidecar["output"]["name"] == "logits"
    assert sidecar["input"]["dynamic"] == ["batch", "height", "width"]
    # 50 x 70 rounded up to the divisor.
    assert sidecar["input"]["example_size"] == [-(-50 // divisor) * divisor, -(-70 // divisor) * divisor]
    assert ClassTable.from_dict(sidecar["class_table"]) == ClassTable.from_names([f"class{i}" for i in range(num_classes)])
    assert [c["name"] for c in sidecar["class_table"]["classes"]] == [f"class{i}" for i in range(num_classes)]
    norm = sidecar["normalization"]
    assert norm["mean"] == [0.4] * in_channels and norm["std"] == [0.2] * in_channels
    assert norm["value_scale"] == {"uint8": 255.0, "uint16": 65535.0, "float": 1.0}
    assert sidecar["preprocessing"] == {"channels": None, "mean_image": None, "resize": None, "clahe": 2.0,
                                        "clahe_grid": 8, "intensity": "full_scale", "fringe_features": False,
                                        "fringe_background": "carrier", "fringe_normalise": False,
                                        "fringe_robust": False, "fringe_refit": False, "fringe_side": None}
    assert sidecar["pipeline"] == ["CLAHE(clip_limit=2.0, tile_grid=(8, 8))",
                                   f"Normalize(mean={(0.4,) * in_channels}, std={(0.2,) * in_channels})"]
    assert sidecar["opset"] >= 18
    assert sidecar["epoch"] == 7 and sidecar["label_set_hash"] == "abc123"
    assert sidecar["verification"]["max_abs_diff"] < 1e-3


def test_every_augmentation_option_is_either_preprocessing_or_training_only() -> None:
    # A new option that acts at inference must reach the sidecar, or a consumer feeds the graph something else.
    from dataclasses import fields

    from segcore.data.transforms import AugmentConfig

    named = {*onnx_export.PREPROCESSING_KEYS, *onnx_export.TRAINING_ONLY_KEYS, "mean", "std", "pad_divisor"}
    assert {f.name for f in fields(AugmentConfig)} == named


def test_a_fringe_model_exported_to_onnx_labels_frames_as_segcore_predict_does(tmp_path: Path) -> None:
    # An interferogram model takes six fringe-analysis channels made from one gray channel: the sidecar alone must
    # let a consumer build them (prepare_input) and read the labels back, matching segcore on >= 99.5 % of pixels.
    from segcore.data.readers import open_dataset
    from segcore.data.transforms.fringes import FRINGE_CHANNELS
    from segcore.demo.families import family_samples
    from segcore.inference.predictor import Predictor
    from segcore.io.images import write_image
    from segcore.training import TrainConfig, Trainer, prepare

    frames = list(family_samples("inside", 1, small=10, large=0, small_size=128))
    for frame in frames[:8]:
        write_image(tmp_path / "data" / "images" / f"{frame.name}.png", frame.image)
        write_image(tmp_path / "data" / "masks" / f"{frame.name}.png", frame.true_mask.astype(np.uint8))
    ClassTable.from_names(["background", "sample"]).write(tmp_path / "data" / "classes.txt")
    augment = {"intensity": "percentile", "fringe_features": True, "fringe_background": "quartic",
               "fringe_normalise": True, "fringe_robust": True, "fringe_side": 128, "resize": 96, "crop": 64}
    config = TrainConfig(model="unet", model_kwargs={"base_channels": 8}, epochs=3, batch_size=4, workers=0,
                         augment=augment)
    Trainer(config, prepare(open_dataset("folder", tmp_path / "data"), 0.0, 0), tmp_path / "run").fit()
    out = tmp_path / "model.onnx"
    assert main(["export-onnx", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--out", str(out)]) == 0
    sidecar = json.loads(onnx_export.sidecar_path_for(out).read_text())
    assert sidecar["in_channels"] == len(sidecar["input"]["channels"]) == FRINGE_CHANNELS
    assert sidecar["preprocessing"]["fringe_robust"] is True and sidecar["preprocessing"]["percentiles"] == [0.5, 99.5]
    assert any(step.startswith("FringeFeatures(") for step in sidecar["pipeline"])

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    predictor = Predictor(load_checkpoint(tmp_path / "run" / "best.pt"), precision="fp32", keep_probabilities=True)
    agree = []
    for frame in frames[8:]:
        x = onnx_export.prepare_input(frame.image, sidecar)
        assert x.shape == (1, FRINGE_CHANNELS, 96, 96)
        logits = session.run(["logits"], {"image": x})[0]
        labels = onnx_export.labels_from_logits(logits, frame.image.shape)
        expected = predictor.predict(frame.image).probabilities
        agree.append(float((labels == expected.argmax(0)).mean()))
        # The network's own answer too, before any resize: a preprocessing step missed or misordered changes it.
        at_network = torch.softmax(torch.from_numpy(logits), 1)[0].numpy()
        again = predictor.predict_tensor(predictor.preprocess(frame.image), at_network.shape[1:]).probabilities
        assert at_network[1].std() > 1e-3  # it varies over the frame: the comparison is not of two constants
        np.testing.assert_allclose(at_network, again, atol=1e-3)
    assert min(agree) >= 0.995


def test_fixed_size_graph_accepts_only_its_size(tmp_path: Path) -> None:
    ckpt_path = make_checkpoint(tmp_path / "unet.pt", "unet", *CASES["unet"])
    out = tmp_path / "unet.onnx"
    result = onnx_export.export_onnx(ckpt_path, out, height=40, width=33, dynamic_size=False)
    assert result.example_size == (48, 48)  # rounded up to UNet's divisor 16
    assert result.verified_shape == (3, 1, 48, 48)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["batch", 1, 48, 48]
    x = np.random.default_rng(2).normal(size=(2, 1, 48, 48)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"image": x})[0], torch_logits(ckpt_path, x), rtol=1e-3, atol=1e-4)
    assert json.loads(onnx_export.sidecar_path_for(out).read_text())["input"]["dynamic"] == ["batch"]


def test_verification_catches_a_graph_fixed_at_the_example_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Without the unconditional padding, torch.export silently bakes in "no padding needed"."""
    ckpt_path = make_checkpoint(tmp_path / "unet.pt", "unet", *CASES["unet"])
    original_init = onnx_export._LogitsOnly.__init__

    def no_padding(self: onnx_export._LogitsOnly, model: nn.Module, divisor: int) -> None:
        original_init(self, model, divisor)
        self.pad = False

    monkeypatch.setattr(onnx_export._LogitsOnly, "__init__", no_padding)
    out = tmp_path / "unet.onnx"
    assert main(["export-onnx", "--checkpoint", str(ckpt_path), "--out", str(out), "--height", "32", "--width", "32"]) == 1
    err = capsys.readouterr().err
    assert "'unet'" in err and "does not run at input shape" in err
    assert not out.exists() and not onnx_export.sidecar_path_for(out).exists()


def test_an_opset_the_graph_cannot_be_converted_to_is_an_error(tmp_path: Path) -> None:
    """torch writes its own opset with only a log line when the down-conversion fails; we refuse."""
    ckpt_path = make_checkpoint(tmp_path / "unet.pt", "unet", *CASES["unet"])
    out = tmp_path / "unet.onnx"
    # Opset 17 has no adapter for UNet's replicate Pad (onnx 1.23).
    with pytest.raises(onnx_export.OnnxExportError, match="'unet' cannot be exported at opset 17"):
        onnx_export.export_onnx(ckpt_path, out, height=32, width=32, opset=17, verify=False)
    assert not out.exists()


class _DataDependent(nn.Module):
    """Branches on pixel values: torch.export cannot trace this into one graph."""

    def __init__(self, num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.mean() > 0:
            return {"out": self.conv(x)}
        return {"out": -self.conv(x)}


def test_unexportable_architecture_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    info = model_registry.ModelInfo("data_dependent", lambda *, num_classes, in_channels, pretrained_backbone:
                                    _DataDependent(num_classes, in_channels), "none", 1, 0, "")
    monkeypatch.setitem(model_registry._REGISTRY, "data_dependent", info)
    model = _DataDependent(2, 1)
    ckpt = Checkpoint("data_dependent", {}, 2, 1, ClassTable.from_names(["a", "b"]), {"mean": None, "std": None},
                      model.state_dict())
    ckpt_path = save_checkpoint(tmp_path / "dd.pt", ckpt)
    out = tmp_path / "dd.onnx"
    with pytest.raises(onnx_export.OnnxExportError, match="cannot export model 'data_dependent' to ONNX: ") as caught:
        onnx_export.export_onnx(ckpt_path, out, height=8, width=8)
    assert "data-dependent" in str(caught.value)  # torch's reason, not only its generic wrapper
    assert "\x1b" not in str(caught.value)  # no terminal colour codes
    assert not out.exists()


def test_missing_exporter_packages_give_an_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    real_find_spec = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(onnx_export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real_find_spec(name, *a))
    with pytest.raises(onnx_export.OnnxUnavailableError, match=r"needs onnxscript.*segdesk\[onnx\]"):
        onnx_export.export_onnx(tmp_path / "never_read.pt", tmp_path / "m.onnx")
    assert main(["export-onnx", "--checkpoint", str(tmp_path / "x.pt"), "--out", str(tmp_path / "m.onnx")]) == 1
    assert "pip install 'segdesk[onnx]'" in capsys.readouterr().err
