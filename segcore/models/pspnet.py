"""PSPNet: a dilated ResNet with a pyramid pooling module (Zhao et al., CVPR 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from segcore.models.backbones import resnet_features
from segcore.models.base import SegmentationModel
from segcore.models.heads import ConvBNReLU, FCNHead, dilated_resnet, upsample_to
from segcore.models.registry import register_model

PAPER = "Zhao, Shi, Qi, Wang, Jia: Pyramid Scene Parsing Network, CVPR 2017"


class PyramidPooling(nn.Module):
    """Average-pool to each bin size, 1x1 conv to in/len(bins) channels + BN + ReLU, upsample, concat with the input."""

    def __init__(self, in_channels: int, bins: Sequence[int] = (1, 2, 3, 6)) -> None:
        super().__init__()
        self.bins = tuple(bins)
        reduced = in_channels // len(self.bins)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvBNReLU(in_channels, reduced, 1)) for b in self.bins
        )
        self.out_channels = in_channels + reduced * len(self.bins)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x] + [upsample_to(stage(x), x) for stage in self.stages], dim=1)


class PSPHead(nn.Sequential):
    """Pyramid pooling, 3x3 conv 512 + BN + ReLU + dropout 0.1, 1x1 classifier."""

    def __init__(self, in_channels: int, num_classes: int, bins: Sequence[int] = (1, 2, 3, 6)) -> None:
        ppm = PyramidPooling(in_channels, bins)
        super().__init__(
            ppm,
            ConvBNReLU(ppm.out_channels, 512, 3),
            nn.Dropout2d(0.1),
            nn.Conv2d(512, num_classes, 1),
        )


class PSPNet(SegmentationModel):
    """Dilated ResNet (output stride 8) + PSP head; an FCN-style auxiliary head on layer3 in training."""

    divisor = 8

    def __init__(self, depth: int, *, num_classes: int, in_channels: int, pretrained_backbone: bool,
                 bins: Sequence[int] = (1, 2, 3, 6), aux: bool = True) -> None:
        super().__init__()
        net = dilated_resnet(depth, in_channels=in_channels, pretrained=pretrained_backbone, output_stride=8)
        layers = {"layer4": "out", "layer3": "aux"} if aux else {"layer4": "out"}
        self.backbone = resnet_features(net, layers)
        self.head = PSPHead(2048, num_classes, bins)
        # The paper's deep supervision: a second loss on layer3 (weight 0.4, set by the trainer).
        self.aux_head = FCNHead(1024, num_classes) if aux else None

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        features = self.backbone(x)
        logits = self.head(features["out"])
        if self.aux_head is not None and self.training:
            return logits, (self.aux_head(features["aux"]),)
        return logits, ()


_DESCRIPTION = "PSPNet, dilated ResNet-{} + pyramid pooling: global context for scene parsing (heavy, accurate)"


@register_model("pspnet_resnet50", paper=PAPER, divisor=8, aux_heads=1, description=_DESCRIPTION.format(50))
def pspnet_resnet50(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False,
                    **options) -> PSPNet:
    """PSPNet on a dilated ResNet-50; options: `bins` (default (1, 2, 3, 6)), `aux` (default True)."""
    return PSPNet(50, num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone,
                  **options)


@register_model("pspnet_resnet101", paper=PAPER, divisor=8, aux_heads=1, description=_DESCRIPTION.format(101))
def pspnet_resnet101(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False,
                     **options) -> PSPNet:
    """PSPNet on a dilated ResNet-101; options: `bins` (default (1, 2, 3, 6)), `aux` (default True)."""
    return PSPNet(101, num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone,
                  **options)
