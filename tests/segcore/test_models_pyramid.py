"""Architecture facts of PSPNet, DeepLab v2/v3/v3+ and ICNet (the shared forward test is in test_models.py)."""

from __future__ import annotations

import pytest
import torch
import torchvision.models.segmentation as tvseg
from torch import nn

from segcore.models import PretrainedWeightsMissing, get_model, get_model_info
from segcore.models.summary import count_parameters

PYRAMID_MODELS = [
    "pspnet_resnet50", "pspnet_resnet101", "deeplabv2_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
    "deeplabv3plus_resnet50", "deeplabv3plus_resnet101", "icnet",
]


def _record_shapes(modules: dict[str, nn.Module]) -> tuple[dict[str, tuple], list]:
    """Forward hooks recording each module's first input and its output shape, by name."""
    seen: dict[str, tuple] = {}
    handles = [
        m.register_forward_hook(lambda _m, inp, out, n=n: seen.__setitem__(n, (tuple(inp[0].shape), tuple(out.shape))))
        for n, m in modules.items()
    ]
    return seen, handles


def _feature_size(model: nn.Module, size: int = 64) -> tuple[int, int]:
    """Spatial size of the backbone's layer4 output for a size x size input."""
    seen, handles = _record_shapes({"layer4": model.backbone.layer4})
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, 3, size, size))
    for h in handles:
        h.remove()
    return seen["layer4"][1][-2:]


@pytest.fixture(scope="module")
def pspnet() -> nn.Module:
    torch.manual_seed(0)
    return get_model("pspnet_resnet50", num_classes=5)


def test_registry_facts():
    expected = {"pspnet_resnet50": (8, 1), "pspnet_resnet101": (8, 1), "deeplabv2_resnet101": (8, 0),
                "deeplabv3_resnet50": (8, 0), "deeplabv3_resnet101": (8, 0), "deeplabv3plus_resnet50": (16, 0),
                "deeplabv3plus_resnet101": (16, 0), "icnet": (32, 2)}
    for name, (divisor, aux_heads) in expected.items():
        info = get_model_info(name)
        assert (info.divisor, info.aux_heads) == (divisor, aux_heads), name
    assert "Pyramid Scene Parsing" in get_model_info("pspnet_resnet50").paper
    assert "Fully Connected CRFs" in get_model_info("deeplabv2_resnet101").paper
    assert "Rethinking Atrous" in get_model_info("deeplabv3_resnet50").paper
    assert "Encoder-Decoder" in get_model_info("deeplabv3plus_resnet50").paper
    assert "ICNet" in get_model_info("icnet").paper


def test_pspnet_pyramid_bins_and_aux_on_layer3(pspnet):
    ppm = pspnet.head[0]
    pools = [m for m in ppm.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    assert [p.output_size for p in pools] == [1, 2, 3, 6]
    reductions = [m for m in ppm.modules() if isinstance(m, nn.Conv2d)]
    assert all((c.in_channels, c.out_channels, c.kernel_size) == (2048, 512, (1, 1)) for c in reductions)
    assert pspnet.head[1][0].in_channels == 2048 + 4 * 512  # concat with the 2048 features
    assert pspnet.aux_head[0].in_channels == 1024

    seen, handles = _record_shapes({"layer3": pspnet.backbone.layer3, "aux": pspnet.aux_head,
                                    **{f"pool{p.output_size}": p for p in pools}})
    pspnet.train()
    out = pspnet(torch.randn(2, 3, 64, 80))
    for h in handles:
        h.remove()
    assert len(out["aux"]) == 1 and out["aux"][0].shape == (2, 5, 64, 80)
    assert seen["aux"][0] == seen["layer3"][1] == (2, 1024, 8, 10)  # aux head eats layer3, dilated
    assert [seen[f"pool{b}"][1][-2:] for b in (1, 2, 3, 6)] == [(1, 1), (2, 2), (3, 3), (6, 6)]
    pspnet.eval()
    with torch.no_grad():
        assert set(pspnet(torch.randn(1, 3, 64, 80))) == {"out"}


@pytest.mark.parametrize(("name", "options", "expected"), [
    ("deeplabv2_resnet101", {}, (8, 8)),
    ("deeplabv3_resnet50", {}, (8, 8)),
    ("deeplabv3_resnet50", {"output_stride": 16}, (4, 4)),
    ("deeplabv3plus_resnet50", {}, (4, 4)),
    ("deeplabv3plus_resnet50", {"output_stride": 8}, (8, 8)),
])
def test_resnets_are_dilated(name, options, expected):
    model = get_model(name, num_classes=3, **options)
    assert _feature_size(model) == expected
    assert model.divisor == 64 // expected[0]


def test_pspnet_output_stride_8(pspnet):
    assert _feature_size(pspnet) == (8, 8)


@pytest.mark.parametrize(("output_stride", "rate", "aspp"), [(8, 4, (12, 24, 36)), (16, 2, (6, 12, 18))])
def test_deeplabv3_multi_grid_and_aspp_rates(output_stride, rate, aspp):
    with torch.device("meta"):
        model = get_model("deeplabv3_resnet50", num_classes=3, output_stride=output_stride)
    assert [block.conv2.dilation for block in model.backbone.layer4] == [(rate * g, rate * g) for g in (1, 2, 4)]
    assert [block.conv2.padding for block in model.backbone.layer4] == [(rate * g, rate * g) for g in (1, 2, 4)]
    atrous = [m.dilation for m in model.classifier[0].modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert atrous == [(r, r) for r in aspp]


def test_deeplabv3_resnet50_is_torchvisions_architecture():
    with torch.device("meta"):
        ours = get_model("deeplabv3_resnet50", num_classes=21)
        theirs = tvseg.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=False)
        with_aux = get_model("deeplabv3_resnet50", num_classes=21, aux=True)
        theirs_aux = tvseg.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    assert count_parameters(ours) == count_parameters(theirs)
    # Same names and shapes too: torchvision's DeepLabV3 state dicts load into ours.
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert count_parameters(with_aux) == count_parameters(theirs_aux)


def test_deeplabv2_aspp_l_sums_four_dilated_branches():
    torch.manual_seed(0)
    model = get_model("deeplabv2_resnet101", num_classes=4).eval()
    branches = model.classifier.branches
    assert [b.dilation for b in branches] == [(6, 6), (12, 12), (18, 18), (24, 24)]
    assert all((b.in_channels, b.out_channels, b.kernel_size) == (2048, 4, (3, 3)) for b in branches)
    features = torch.randn(1, 2048, 5, 7)
    with torch.no_grad():
        assert torch.allclose(model.classifier(features), sum(b(features) for b in branches), atol=1e-5)


def test_deeplabv3plus_decoder_uses_layer1():
    torch.manual_seed(0)
    model = get_model("deeplabv3plus_resnet50", num_classes=3)
    assert (model.decoder.reduce[0].in_channels, model.decoder.reduce[0].out_channels) == (256, 48)
    seen, handles = _record_shapes({"layer1": model.backbone.layer1, "reduce": model.decoder.reduce,
                                    "fuse": model.decoder.fuse})
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 80))
    for h in handles:
        h.remove()
    assert seen["reduce"][0] == seen["layer1"][1] == (1, 256, 16, 20)
    assert seen["fuse"][0] == (1, 256 + 48, 16, 20)  # ASPP output upsampled x4 to layer1's size


def test_icnet_cascade_scales_and_label_guidance():
    torch.manual_seed(0)
    model = get_model("icnet", num_classes=3)
    seen, handles = _record_shapes({"high": model.high, "medium": model.medium, "low": model.low,
                                    "cff1": model.cff_low_medium.classifier, "cff2": model.cff_medium_high.classifier})
    model.train()
    out = model(torch.randn(2, 3, 128, 160))
    for h in handles:
        h.remove()
    assert len(out["aux"]) == 2 and all(a.shape == (2, 3, 128, 160) for a in out["aux"])
    assert seen["high"][0][-2:] == (128, 160) and seen["high"][1][-2:] == (16, 20)  # scale 1, -> 1/8
    assert seen["medium"][0][-2:] == (64, 80) and seen["medium"][1][-2:] == (8, 10)  # scale 1/2, -> 1/16
    # The low branch: the 1/4-scale image at stride 8 (layer3/4 dilated) = 1/32.
    assert seen["low"][0][-2:] == seen["low"][1][-2:] == (4, 5)
    assert seen["cff1"][1][-2:] == (8, 10) and seen["cff2"][1][-2:] == (16, 20)  # guidance at 1/16, 1/8
    model.eval()
    with torch.no_grad():
        assert set(model(torch.randn(1, 3, 97, 131))) == {"out"}


def test_icnet_light_backbone_option():
    model = get_model("icnet", num_classes=2, in_channels=1, backbone_depth=18).train()
    out = model(torch.randn(2, 1, 64, 80))
    assert out["out"].shape == (2, 2, 64, 80) and len(out["aux"]) == 2


def test_deeplab_v3_aux_head_on_layer3():
    model = get_model("deeplabv3_resnet50", num_classes=3, in_channels=1, aux=True, output_stride=16).train()
    assert model.aux_classifier[0].in_channels == 1024
    out = model(torch.randn(2, 1, 64, 80))
    assert len(out["aux"]) == 1 and out["aux"][0].shape == (2, 3, 64, 80)
    assert "aux" not in get_model("deeplabv3_resnet50", num_classes=3).train()(torch.randn(2, 3, 32, 32))


@pytest.mark.parametrize("name", PYRAMID_MODELS)
def test_missing_pretrained_weights_raise(name, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # restored after the test
    torch.hub.set_dir(tmp_path)
    with pytest.raises(PretrainedWeightsMissing, match="resnet"):
        get_model(name, num_classes=2, pretrained_backbone=True)
