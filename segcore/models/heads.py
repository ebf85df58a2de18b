"""Small pieces shared by the pyramid-style models (PSPNet, DeepLab, ICNet)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import ResNet
from torchvision.models.segmentation.fcn import FCNHead

from segcore.models import backbones

__all__ = ["ConvBNReLU", "FCNHead", "dilated_resnet", "normal_init", "upsample_to"]


class ConvBNReLU(nn.Sequential):
    """Conv (no bias: BN follows) + BatchNorm + ReLU; `padding` keeps the size at stride 1."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, *, stride: int = 1, dilation: int = 1
    ) -> None:
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def dilated_resnet(
    depth: int, *, in_channels: int, pretrained: bool, output_stride: int
) -> ResNet:
    """A torchvision ResNet with output stride 8, 16 or 32 (layer3/layer4 dilated instead of strided)."""
    dilation = {8: (False, True, True), 16: (False, False, True), 32: (False, False, False)}
    if output_stride not in dilation:
        raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
    return backbones.resnet(depth, in_channels=in_channels, pretrained=pretrained, dilation=dilation[output_stride])


def normal_init(module: nn.Module, std: float = 0.01) -> None:
    """Gaussian weights and zero bias for every conv in `module` (DeepLab's Caffe classifier init)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def upsample_to(x: Tensor, like: Tensor) -> Tensor:
    """Bilinear resize of `x` to the spatial size of `like` (exact, whatever the rounding upstream)."""
    if x.shape[-2:] == like.shape[-2:]:
        return x
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
