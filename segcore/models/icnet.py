"""ICNet: an image cascade for real-time segmentation of large images (Zhao et al., ECCV 2018).

Three branches see the image at scale 1, 1/2 and 1/4: a light high-resolution branch (three
stride-2 convs, 1/8), ResNet conv1..layer2 on the half-size image (1/16), and layer3..layer4 +
pyramid pooling on those features shrunk by 2 (1/32: the quarter-size image at stride 8, the
expensive layers working on 1/16 of the pixels). Cascade feature fusion (CFF) units merge them
coarse to fine; a classifier on each CFF's upsampled coarse input gives cascade label guidance.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from segcore.models import backbones
from segcore.models.base import SegmentationModel
from segcore.models.heads import ConvBNReLU, upsample_to
from segcore.models.registry import register_model

PAPER = "Zhao, Qi, Shen, Shi, Jia: ICNet for Real-Time Semantic Segmentation on High-Resolution Images, ECCV 2018"


class SumPyramidPooling(nn.Module):
    """ICNet's pyramid pooling: pooled maps (no convs) upsampled and summed with the input."""

    def __init__(self, bins: Sequence[int] = (1, 2, 3, 6)) -> None:
        super().__init__()
        self.bins = tuple(bins)

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for b in self.bins:
            out = out + upsample_to(F.adaptive_avg_pool2d(x, b), x)
        return out


class CascadeFeatureFusion(nn.Module):
    """CFF: upsample the coarse map x2, 3x3 dilated conv + BN; 1x1 conv + BN of the fine map; sum, ReLU.

    Returns the fused map and the label-guidance logits of the upsampled coarse map.
    """

    def __init__(self, coarse_channels: int, fine_channels: int, out_channels: int, num_classes: int) -> None:
        super().__init__()
        self.coarse = nn.Sequential(
            nn.Conv2d(coarse_channels, out_channels, 3, padding=2, dilation=2, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.fine = nn.Sequential(nn.Conv2d(fine_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.classifier = nn.Conv2d(coarse_channels, num_classes, 1)

    def forward(self, coarse: Tensor, fine: Tensor, *, guidance: bool) -> tuple[Tensor, Tensor | None]:
        # Resizing to the fine map's size (not by exactly 2) copes with odd sizes rounded upstream.
        up = upsample_to(coarse, fine)
        fused = F.relu(self.coarse(up) + self.fine(fine))
        return fused, (self.classifier(up) if guidance else None)


def _half(x: Tensor) -> Tensor:
    """Bilinear downsampling by 2 (rounding up, so a 1-pixel map stays 1 pixel)."""
    h, w = x.shape[-2:]
    return F.interpolate(x, size=((h + 1) // 2, (w + 1) // 2), mode="bilinear", align_corners=False)


class ICNet(SegmentationModel):
    """ICNet on a ResNet (50: layer3/4 dilated as in the paper; 18/34: plain, for speed)."""

    divisor = 32

    def __init__(self, *, num_classes: int, in_channels: int, pretrained_backbone: bool,
                 backbone_depth: int = 50, bins: Sequence[int] = (1, 2, 3, 6)) -> None:
        super().__init__()
        dilated = backbone_depth >= 50
        net = backbones.resnet(backbone_depth, in_channels=in_channels, pretrained=pretrained_backbone,
                               dilation=(False, True, True) if dilated else (False, False, False))
        expansion = 4 if dilated else 1
        # Medium branch (1/2-scale image -> 1/16): the ResNet stem, layer1, layer2.
        self.medium = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2)
        # Low branch (1/32): layer3, layer4 and pyramid pooling on the shrunk layer2 features.
        self.low = nn.Sequential(net.layer3, net.layer4, SumPyramidPooling(bins),
                                 ConvBNReLU(512 * expansion, 256, 1))
        # High branch (full image -> 1/8): three light stride-2 convs.
        self.high = nn.Sequential(
            ConvBNReLU(in_channels, 32, 3, stride=2),
            ConvBNReLU(32, 32, 3, stride=2),
            ConvBNReLU(32, 64, 3, stride=2),
        )
        self.cff_low_medium = CascadeFeatureFusion(256, 128 * expansion, 128, num_classes)
        self.cff_medium_high = CascadeFeatureFusion(128, 64, 128, num_classes)
        self.classifier = nn.Conv2d(128, num_classes, 1)

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        medium = self.medium(_half(x))
        low = self.low(_half(medium))
        high = self.high(x)
        guide = self.training
        fused, aux_low = self.cff_low_medium(low, medium, guidance=guide)
        fused, aux_medium = self.cff_medium_high(fused, high, guidance=guide)
        logits = self.classifier(fused)
        if guide:
            # Coarse first: guidance at 1/16, then at 1/8 (the paper weighs both 0.4).
            return logits, (aux_low, aux_medium)
        return logits, ()


@register_model(
    "icnet", paper=PAPER, divisor=32, aux_heads=2,
    description="ICNet, ResNet-50 image cascade: fast segmentation of large images (real-time on GPU)",
)
def icnet(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False, **options) -> ICNet:
    """ICNet; options: `backbone_depth` (50 default, 18/34 for speed), `bins` (default (1, 2, 3, 6))."""
    return ICNet(num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone, **options)
