"""Backbones from torchvision, adapted: any input channel count, dilation, cached ImageNet weights.

Pretrained weights are only ever read from torch's hub cache (never downloaded here): a missing
file raises `PretrainedWeightsMissing` saying where to put it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum
from torchvision.models._utils import IntermediateLayerGetter

from segcore.errors import SegcoreError

log = logging.getLogger(__name__)


class PretrainedWeightsMissing(SegcoreError):
    """ImageNet weights were asked for but are not in torch's cache (and nothing is downloaded)."""

    def __init__(self, weights: WeightsEnum, path: Path):
        self.path = path
        self.url = weights.url
        # Worded for any front end: the CLI and the GUI each say how to train from scratch instead.
        super().__init__(
            f"pretrained weights {weights} are not in torch's cache: download {weights.url} and save it as {path}"
        )


def cached_weights_path(weights: WeightsEnum) -> Path:
    """Where torch.hub keeps the file of `weights` (it may not exist)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def load_cached_state_dict(weights: WeightsEnum) -> dict[str, torch.Tensor]:
    """The state dict of `weights` from torch's cache, loaded with weights_only=True."""
    path = cached_weights_path(weights)
    if not path.is_file():
        raise PretrainedWeightsMissing(weights, path)
    log.info("loading pretrained weights %s from %s", weights, path)
    return torch.load(path, map_location="cpu", weights_only=True)


def adapt_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """A copy of `conv` taking `in_channels` inputs.

    For one channel the kernel is the sum over the RGB kernels (a gray image then gives the
    responses the RGB weights give to the same image in colour); for other counts the mean RGB
    kernel is repeated and scaled so activations keep their magnitude.
    """
    if conv.in_channels == in_channels:
        return conv
    new = nn.Conv2d(
        in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode,
    )
    with torch.no_grad():
        if in_channels == 1:
            new.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        else:
            mean = conv.weight.mean(dim=1, keepdim=True)
            new.weight.copy_(mean.repeat(1, in_channels, 1, 1) * (conv.in_channels / in_channels))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


RESNET_WEIGHTS = {
    18: torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
    34: torchvision.models.ResNet34_Weights.IMAGENET1K_V1,
    50: torchvision.models.ResNet50_Weights.IMAGENET1K_V1,
    101: torchvision.models.ResNet101_Weights.IMAGENET1K_V1,
}


def resnet(
    depth: int,
    *,
    in_channels: int = 3,
    pretrained: bool = False,
    dilation: Sequence[bool] = (False, False, False),
) -> torchvision.models.ResNet:
    """A torchvision ResNet (18/34/50/101), optionally dilated and with ImageNet weights from the cache.

    `dilation` is torchvision's `replace_stride_with_dilation` for layer2..layer4 (output
    stride 8 is (False, True, True), 16 is (False, False, True)); only ResNet-50/101 support it.
    """
    if depth not in RESNET_WEIGHTS:
        raise ValueError(f"ResNet depth must be one of {sorted(RESNET_WEIGHTS)}, got {depth}")
    kwargs = {"replace_stride_with_dilation": list(dilation)} if depth >= 50 else {}
    if depth < 50 and any(dilation):
        raise ValueError(f"ResNet-{depth} has basic blocks, which torchvision cannot dilate")
    model = getattr(torchvision.models, f"resnet{depth}")(weights=None, **kwargs)
    if pretrained:
        model.load_state_dict(load_cached_state_dict(RESNET_WEIGHTS[depth]))
    model.conv1 = adapt_first_conv(model.conv1, in_channels)
    return model


def resnet_features(model: torchvision.models.ResNet, layers: dict[str, str]) -> IntermediateLayerGetter:
    """The ResNet's stem and stages returning the named layers' outputs (e.g. {"layer4": "out"})."""
    return IntermediateLayerGetter(model, return_layers=layers)


def set_multi_grid(layer: nn.Sequential, rate: int, grid: Sequence[int]) -> None:
    """DeepLab v3's multi-grid: block i of a stage gets dilation rate * grid[i] in its 3x3 conv."""
    for block, unit in zip(layer, grid, strict=True):
        block.conv2.dilation = (rate * unit, rate * unit)
        block.conv2.padding = (rate * unit, rate * unit)


def vgg16(*, in_channels: int = 3, pretrained: bool = False) -> torchvision.models.VGG:
    """torchvision's VGG16 (no batch norm), with ImageNet weights from the cache when asked.

    Without pretrained weights the 120 M-parameter classifier stays on the meta device (FCN and
    DeepLab replace it): no memory and no time spent initialising it. Use only `.features` then.
    """
    if pretrained:
        model = torchvision.models.vgg16(weights=None)
        model.load_state_dict(load_cached_state_dict(torchvision.models.VGG16_Weights.IMAGENET1K_V1))
    else:
        with torch.device("meta"):
            model = torchvision.models.vgg16(weights=None)
        model.features.to_empty(device="cpu")
        for layer in model.features:
            if isinstance(layer, nn.Conv2d):  # torchvision's VGG initialisation
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    model.features[0] = adapt_first_conv(model.features[0], in_channels)
    return model


def vgg_fc_as_conv(linear: nn.Linear, conv: nn.Conv2d) -> None:
    """Copy a VGG classifier Linear layer into its fully convolutional equivalent (FCN's fc6/fc7)."""
    with torch.no_grad():
        conv.weight.copy_(linear.weight.view_as(conv.weight))
        conv.bias.copy_(linear.bias)


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights making a ConvTranspose2d(channels, channels, k, stride=k//2) a bilinear upsampler (FCN)."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float32)
    filt1d = 1 - (og - center).abs() / factor
    filt = filt1d[:, None] * filt1d[None, :]
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = filt
    return weight


def bilinear_upsampler(channels: int, factor: int, *, bias: bool = False) -> nn.ConvTranspose2d:
    """A learnable ConvTranspose2d initialised to upsample by `factor` bilinearly (kernel 2f, stride f)."""
    layer = nn.ConvTranspose2d(channels, channels, kernel_size=2 * factor, stride=factor, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(bilinear_kernel(channels, 2 * factor))
        if bias:
            layer.bias.zero_()
    return layer
