"""Every registered model: one output contract, any input size, 1 or 3 channels, any class count."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision.models.segmentation as tvseg

from segcore.cli import main
from segcore.models import get_model, get_model_info, list_models, register_model
from segcore.models.summary import count_parameters, summarize

MODELS = list_models()
HEIGHT, WIDTH = 97, 131  # odd and non-square on purpose


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("in_channels", "num_classes"), [(1, 2), (3, 11)])  # each value of each, at least once
def test_forward_backward_at_odd_size(name, in_channels, num_classes):
    torch.manual_seed(0)
    info = get_model_info(name)
    model = get_model(name, num_classes=num_classes, in_channels=in_channels)
    # Batch 2 where BatchNorm meets a 1x1 pooled map (it needs two values); 1 for the VGG FCNs, which have none.
    batch = 2 if any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) else 1
    x = torch.randn(batch, in_channels, HEIGHT, WIDTH)

    model.train()
    out = model(x)
    assert out["out"].shape == (batch, num_classes, HEIGHT, WIDTH)
    aux = out.get("aux", ())
    assert len(aux) == info.aux_heads
    for a in aux:
        assert a.shape == (batch, num_classes, HEIGHT, WIDTH)
    loss = out["out"].square().mean() + sum(a.square().mean() for a in aux)
    loss.backward()
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == in_channels
    assert first_conv.weight.grad is not None and torch.isfinite(first_conv.weight.grad).all()
    assert first_conv.weight.grad.abs().sum() > 0  # the loss reaches the stem

    model.eval()
    with torch.no_grad():
        out = model(x[:1])
    assert set(out) == {"out"} and out["out"].shape == (1, num_classes, HEIGHT, WIDTH)
    assert torch.isfinite(out["out"]).all()


TV_BUILDERS = {
    "tv_fcn_resnet50": tvseg.fcn_resnet50,
    "tv_fcn_resnet101": tvseg.fcn_resnet101,
    "tv_deeplabv3_resnet50": tvseg.deeplabv3_resnet50,
    "tv_deeplabv3_resnet101": tvseg.deeplabv3_resnet101,
    "tv_deeplabv3_mobilenet_v3_large": tvseg.deeplabv3_mobilenet_v3_large,
    "tv_lraspp_mobilenet_v3_large": tvseg.lraspp_mobilenet_v3_large,
}


def test_every_torchvision_model_is_registered():
    assert sorted(n for n in MODELS if n.startswith("tv_")) == sorted(TV_BUILDERS)


@pytest.mark.parametrize("name", sorted(TV_BUILDERS))
def test_tv_parameter_counts_equal_torchvision(name):
    with torch.device("meta"):
        ours = get_model(name, num_classes=21)
        theirs = TV_BUILDERS[name](weights=None, weights_backbone=None, num_classes=21)
    assert count_parameters(ours) == count_parameters(theirs)
    assert summarize(name).parameters == count_parameters(theirs)


def test_unknown_and_duplicate_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'segnet'.*deeplabv3_resnet50.*unet"):
        get_model("segnet", num_classes=2)
    with pytest.raises(ValueError, match="already registered.*fcn8s"):
        register_model("fcn8s", paper="x", divisor=1)(lambda **kw: None)
    with pytest.raises(ValueError, match="num_classes"):
        get_model("unet", num_classes=0)


def test_registry_metadata_is_complete():
    for name in MODELS:
        info = get_model_info(name)
        assert info.divisor in (8, 16, 32), name
        assert len(info.paper) > 20 and len(info.description) > 10, name
    with torch.device("meta"):
        assert get_model("tv_lraspp_mobilenet_v3_large", num_classes=2).segcore_name == "tv_lraspp_mobilenet_v3_large"


def test_models_cli_lists_every_model(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == MODELS
    by_name = {r["name"]: r for r in rows}
    with torch.device("meta"):
        expected = count_parameters(tvseg.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21))
    assert by_name["tv_deeplabv3_resnet50"]["parameters"] == expected
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert all(name in table for name in MODELS) and "Long" in table
