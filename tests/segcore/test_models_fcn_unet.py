"""Architecture facts of FCN (VGG16 and ResNet), U-Net and DeepLab v1: sizes, init, alignment, weights."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from segcore.models import fcn
from segcore.models.backbones import PretrainedWeightsMissing, cached_weights_path
from segcore.models.deeplab_v1 import deeplabv1, upsample_aligned
from segcore.models.fcn import fcn8s, fcn16s, fcn32s
from segcore.models.fcn_resnet import fcn_resnet18
from segcore.models.unet import unet

FCN_BUILDERS = {32: fcn32s, 16: fcn16s, 8: fcn8s}
VGG16_WEIGHTS = torchvision.models.VGG16_Weights.IMAGENET1K_V1


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def fcns() -> dict[int, nn.Module]:
    """FCN-32s/16s/8s with 3 classes and 1 input channel, built once (each has ~134 M parameters)."""
    torch.manual_seed(0)
    return {stride: build(num_classes=3, in_channels=1).eval() for stride, build in FCN_BUILDERS.items()}


@pytest.fixture(scope="module")
def symmetric_fcns(fcns: dict[int, nn.Module]) -> dict[int, nn.Module]:
    """Copies of `fcns` with flip-symmetric random kernels and fc6/fc7 narrowed to 64 channels.

    Narrowing keeps every layer's geometry (kernel, stride, padding), hence the alignment under
    test, while making the random re-initialisation and the forward passes cheap.
    """
    models = {}
    for stride, model in fcns.items():
        wide = model.fc6, model.fc7, model.score_fr
        model.fc6, model.fc7 = nn.Conv2d(512, 64, 7), nn.Conv2d(64, 64, 1)
        model.score_fr = nn.Conv2d(64, model.score_fr.out_channels, 1)
        models[stride] = _symmetrise_(copy.deepcopy(model))
        model.fc6, model.fc7, model.score_fr = wide  # `fcns` stays as built
    return models


@pytest.fixture(scope="module")
def deeplab() -> nn.Module:
    torch.manual_seed(0)
    return deeplabv1(num_classes=3, in_channels=1).eval()


@pytest.fixture
def hub_dir(tmp_path: Path):
    """torch.hub's directory pointed at an empty temporary folder, restored afterwards."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    yield tmp_path
    torch.hub.set_dir(old)


@pytest.fixture(scope="module")
def fake_vgg_hub(tmp_path_factory: pytest.TempPathFactory):
    """A hub dir holding a randomly initialised VGG16 state dict under the ImageNet weights' file name."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path_factory.mktemp("hub")))
    state = torchvision.models.vgg16().state_dict()
    path = cached_weights_path(VGG16_WEIGHTS)
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    yield state
    torch.hub.set_dir(old)


# --- parameter counts ---------------------------------------------------------------------------


def test_fcn8s_has_the_reference_parameter_count():
    with torch.device("meta"):  # shapes only: no 0.5 GB of random weights
        model = fcn8s(num_classes=21)
    assert n_params(model) == pytest.approx(134.5e6, rel=0.01)


def unet_params(**options) -> int:
    with torch.device("meta"):
        return n_params(unet(num_classes=2, **options))


def test_unet_original_configuration_has_31_million_parameters():
    assert unet_params() == pytest.approx(31.0e6, rel=0.01)


@pytest.mark.parametrize("base", [16, 32])
def test_unet_width_scales_parameters_quadratically(base: int):
    # Every weight tensor is (width x width)-sized, so parameters scale with (base / 64) ** 2.
    assert unet_params(base_channels=base) == pytest.approx(unet_params() * (base / 64) ** 2, rel=0.02)


# --- FCN: bilinear upsamplers and alignment -------------------------------------------------------


@pytest.mark.parametrize(("stride", "layer", "factor"), [(32, "upscore", 32), (16, "upscore16", 16),
                                                         (8, "upscore8", 8), (8, "upscore2", 2)])
def test_fcn_upsamplers_start_bilinear(fcns, stride: int, layer: str, factor: int):
    upsampler = getattr(fcns[stride], layer)
    assert upsampler.bias is None
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 9), torch.linspace(0, 1, 11), indexing="ij")
    smooth = torch.stack([torch.sin(3 * ys + 2 * xs), ys * xs, torch.cos(4 * xs) - ys]).unsqueeze(0)
    with torch.no_grad():
        up = upsampler(smooth)[..., factor // 2 : factor // 2 + 9 * factor, factor // 2 : factor // 2 + 11 * factor]
    expected = F.interpolate(smooth, scale_factor=factor, mode="bilinear", align_corners=False)
    inner = slice(factor, -factor)  # F.interpolate clamps at the borders, the transposed conv fades
    assert (up - expected)[..., inner, inner].abs().max() < 1e-5


def test_fcn_skip_scores_start_at_zero(fcns):
    # The paper's skips start at zero: FCN-16s/8s begin with their coarser net's predictions.
    for stride, names in ((16, ["score_pool4"]), (8, ["score_pool4", "score_pool3"])):
        for name in names:
            layer = getattr(fcns[stride], name)
            assert not layer.weight.any() and not layer.bias.any()
    assert fcns[8].score_fr.weight.any()


def test_fcn_output_has_the_input_size_for_any_size():
    sizes = [(1, 1), (1, 300), (31, 33), (63, 64), (97, 131), (224, 224), (500, 375)]
    for build in FCN_BUILDERS.values():
        with torch.device("meta"):
            model = build(num_classes=5).eval()
            for height, width in sizes:
                assert model(torch.empty(1, 3, height, width))["out"].shape == (1, 5, height, width)


def _symmetrise_(model: nn.Module) -> nn.Module:
    """Random conv kernels symmetric under flips, so the network commutes with flipping when aligned."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):  # not the transposed convs: bilinear kernels are symmetric
                w = torch.randn(module.weight.shape, generator=gen) * math.sqrt(2 / module.weight[0].numel())
                sym = (w + w.flip(-1) + w.flip(-2) + w.flip(-1, -2)) / 4
                module.weight.copy_(sym * (w.std() / sym.std()))
                module.bias.normal_(0, 0.1, generator=gen)
    return model


def _flip_error(model: nn.Module, height: int, width: int) -> float:
    x = torch.randn(1, 1, height, width, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = model(torch.cat([x, x.flip(-1, -2)]))["out"]
    return ((out[1] - out[0].flip(-1, -2)).abs().max() / out.abs().max()).item()


@pytest.mark.parametrize("stride", [32, 16, 8])
def test_fcn_crop_offsets_align_output_with_input(symmetric_fcns, stride: int):
    # Output pixel u sees the input around pixel u + d; flipping the input flips the output only
    # if d == 0 (with symmetric kernels). For H, W = 26 + 32k every crop of the reference
    # geometry is symmetric, so a flip would expose any offset that is off by even one pixel.
    assert _flip_error(symmetric_fcns[stride], 26, 58) < 1e-4


@pytest.mark.parametrize(("name", "wrong"), [("OFFSET_POOL4", 4), ("OFFSET_POOL3", 10), ("OFFSET_OUT", 30)])
def test_fcn_alignment_check_detects_a_wrong_offset(symmetric_fcns, monkeypatch, name: str, wrong: int):
    # Control for the test above: the flip check is sensitive to each of FCN-8s's offsets.
    if name == "OFFSET_OUT":
        monkeypatch.setitem(fcn.OFFSET_OUT, 8, wrong)
    else:
        monkeypatch.setattr(fcn, name, wrong)
    assert _flip_error(symmetric_fcns[8], 26, 58) > 1e-2


# --- FCN on ResNet --------------------------------------------------------------------------------


def test_fcn_resnet_fuses_like_bilinear_interpolation():
    # At initialisation the learnable upsamplers (with edge replication and crops) must equal
    # F.interpolate(align_corners=False) everywhere, borders included, for odd sizes too.
    torch.manual_seed(0)
    model = fcn_resnet18(num_classes=4, in_channels=1).eval()
    x = torch.randn(1, 1, 97, 131)

    def up(t: torch.Tensor, factor: int, like: torch.Tensor) -> torch.Tensor:
        out = F.interpolate(t, scale_factor=factor, mode="bilinear", align_corners=False)
        return out[..., : like.shape[-2], : like.shape[-1]]

    with torch.no_grad():
        feats = model.backbone(x)
        s8, s16, s32 = model.score8(feats["s8"]), model.score16(feats["s16"]), model.score32(feats["s32"])
        h = up(s32, 2, s16) + s16
        expected = up(up(h, 2, s8) + s8, 8, x)
        out = model(x)["out"]
    assert out.shape == (1, 4, 97, 131)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


# --- U-Net -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bilinear", [False, True])
def test_unet_pads_odd_sizes_to_its_divisor(bilinear: bool):
    model = unet(num_classes=3, in_channels=1, base_channels=8, bilinear=bilinear)
    assert model.pad_to_divisor and model.divisor == 16
    x = torch.randn(2, 1, 97, 131)
    assert model.train()(x)["out"].shape == (2, 3, 97, 131)
    with torch.no_grad():
        assert model.eval()(x)["out"].shape == (2, 3, 97, 131)


def test_unet_bilinear_decoder_is_lighter():
    assert unet_params(bilinear=True) < 0.95 * unet_params()


def test_an_instance_norm_unet_sees_each_image_alone_in_training_and_in_prediction():
    # A BatchNorm U-Net trained on batches of 4 crops can call the background the sample once it predicts with
    # its running statistics (docs/results.md); instance norm has none to go stale.
    torch.manual_seed(0)
    x = torch.randn(3, 1, 32, 48)
    model = unet(num_classes=2, in_channels=1, base_channels=4, norm="instance")
    model.train()
    together, alone = model(x)["out"][:1], model(x[:1])["out"]
    model.eval()
    predicted = model(x[:1])["out"]
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(predicted, alone, atol=1e-5, rtol=1e-4)
    batchnorm = unet(num_classes=2, in_channels=1, base_channels=4).train()
    assert not torch.allclose(batchnorm(x)["out"][:1], batchnorm(x[:1])["out"], atol=1e-3)  # the batch's statistics
    with pytest.raises(ValueError, match="norm must be one of batch, instance"):
        unet(num_classes=2, in_channels=1, norm="group")


def test_unet_refuses_pretrained_backbone():
    with pytest.raises(ValueError, match="no pretrained backbone"):
        unet(num_classes=2, pretrained_backbone=True)


# --- DeepLab v1 --------------------------------------------------------------------------------------


def test_deeplabv1_geometry(deeplab):
    model = deeplab
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride, p.padding) for p in pools] == [(3, 2, 1)] * 3 + [(3, 1, 1)] * 2
    assert [m.dilation for m in model.features[24:30] if isinstance(m, nn.Conv2d)] == [(2, 2)] * 3
    fc6 = model.classifier[0]
    assert (fc6.out_channels, fc6.kernel_size, fc6.dilation) == (1024, (3, 3), (12, 12))
    with torch.no_grad():
        assert model.features(torch.zeros(1, 1, 97, 131)).shape[-2:] == (13, 17)  # output stride 8, rounded up


def test_deeplabv1_upsampling_puts_score_x_on_pixel_8x():
    n_h, n_w = 5, 7
    rows = torch.arange(n_h, dtype=torch.float32)[:, None].expand(n_h, n_w)
    up = upsample_aligned(rows[None, None], (37, 50))  # 37 = 8 * 4 + 5 needs the edge replication
    assert up.shape == (1, 1, 37, 50)
    expected = (torch.arange(37, dtype=torch.float32) / 8).clamp(max=n_h - 1)
    torch.testing.assert_close(up[0, 0, :, 0], expected)


def test_deeplabv1_is_aligned_for_8k_plus_1_inputs(deeplab):
    assert _flip_error(_symmetrise_(copy.deepcopy(deeplab)), 25, 41) < 1e-4


# --- pretrained weights -------------------------------------------------------------------------------


def test_fcn_pretrained_gray_stem_is_the_rgb_sum_and_fc_layers_are_copied(fake_vgg_hub):
    state = fake_vgg_hub
    model = fcn32s(num_classes=2, in_channels=1, pretrained_backbone=True)
    stem = model.to_pool3[0]
    assert stem.padding == (100, 100)
    torch.testing.assert_close(stem.weight, state["features.0.weight"].sum(dim=1, keepdim=True))
    torch.testing.assert_close(model.to_pool5[0].weight, state["features.24.weight"])
    torch.testing.assert_close(model.fc6.weight, state["classifier.0.weight"].view(4096, 512, 7, 7))
    torch.testing.assert_close(model.fc7.weight.flatten(1), state["classifier.3.weight"])
    torch.testing.assert_close(model.fc7.bias, state["classifier.3.bias"])


def test_deeplabv1_pretrained_loads_vgg_convolutions(fake_vgg_hub):
    state = fake_vgg_hub
    model = deeplabv1(num_classes=2, in_channels=1, pretrained_backbone=True)
    torch.testing.assert_close(model.features[0].weight, state["features.0.weight"].sum(dim=1, keepdim=True))
    torch.testing.assert_close(model.features[28].weight, state["features.28.weight"])


@pytest.mark.parametrize("build", [fcn8s, deeplabv1, fcn_resnet18])
def test_missing_pretrained_weights_name_the_path(hub_dir, build):
    with pytest.raises(PretrainedWeightsMissing) as info:
        build(num_classes=2, pretrained_backbone=True)
    assert info.value.path.parent == hub_dir / "checkpoints"
    assert str(info.value.path) in str(info.value)
