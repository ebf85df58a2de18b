"""DeepLab v1, the VGG16 "LargeFOV" network (Chen et al., ICLR 2015), without the CRF.

Following the authors' Caffe model: VGG16's convolutions with 3x3/stride-2/pad-1 max-pools
for pool1..pool3 (the authors chose them so responses align exactly across layers), pool4 and
pool5 as 3x3/stride-1/pad-1 max-pools, conv5 dilated by 2, then fc6 (3x3, dilation 12,
1024 channels), fc7 (1x1, 1024) with ReLU and dropout, and fc8 (1x1) to the classes: output
stride 8. The paper subsampled VGG's fc6/fc7 into these layers; we initialise fc6/fc7 fresh
(Kaiming) and fc8 with N(0, 0.01) as the authors' prototxt does. The fully connected CRF
post-processing of the paper is not part of the network and is not applied.

Upsampling: with these pools the score at x sits exactly on input pixel 8*x, so the logits are
upsampled with align_corners=True onto the grid 0, 1, ..., 8*(n-1) (edge-replicated by one
score to cover the last pixels): the authors' exact alignment for inputs of 8k+1 pixels, and
the same mapping for any other size.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from segcore.models import backbones
from segcore.models.base import SegmentationModel
from segcore.models.registry import register_model

PAPER = (
    "Chen, Papandreou, Kokkinos, Murphy, Yuille: Semantic Image Segmentation with Deep Convolutional "
    "Nets and Fully Connected CRFs, ICLR 2015"
)

OUTPUT_STRIDE = 8
# Positions in torchvision's VGG16 `features`.
_STRIDED_POOLS = (4, 9, 16)
_DENSE_POOLS = (23, 30)
_CONV5 = (24, 26, 28)


def upsample_aligned(logits: Tensor, size: tuple[int, int], stride: int = OUTPUT_STRIDE) -> Tensor:
    """Bilinear upsampling of scores centred on pixels stride*x, cut to `size` (H, W)."""
    height, width = logits.shape[-2:]
    padded = F.pad(logits, (0, 1, 0, 1), mode="replicate")
    up = F.interpolate(padded, size=(stride * height + 1, stride * width + 1), mode="bilinear", align_corners=True)
    return up[..., : size[0], : size[1]]


class DeepLabLargeFOV(SegmentationModel):
    """DeepLab v1 LargeFOV on VGG16, output stride 8."""

    divisor = OUTPUT_STRIDE

    def __init__(self, *, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False):
        super().__init__()
        features = backbones.vgg16(in_channels=in_channels, pretrained=pretrained_backbone).features
        for i in _STRIDED_POOLS:
            features[i] = nn.MaxPool2d(3, stride=2, padding=1)
        for i in _DENSE_POOLS:
            features[i] = nn.MaxPool2d(3, stride=1, padding=1)
        for i in _CONV5:
            features[i].dilation = (2, 2)
            features[i].padding = (2, 2)
        self.features = features
        self.classifier = nn.Sequential(
            nn.Conv2d(512, 1024, 3, padding=12, dilation=12),  # fc6
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Conv2d(1024, 1024, 1),  # fc7
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Conv2d(1024, num_classes, 1),  # fc8
        )
        nn.init.normal_(self.classifier[-1].weight, std=0.01)
        nn.init.zeros_(self.classifier[-1].bias)

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        logits = self.classifier(self.features(x))
        return upsample_aligned(logits, (x.shape[-2], x.shape[-1])), ()


@register_model("deeplabv1", paper=PAPER, divisor=OUTPUT_STRIDE,
                description="DeepLab v1 LargeFOV (VGG16, dilated fc6, output stride 8, no CRF): "
                            "dense, smooth masks; ~20 M parameters")
def deeplabv1(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False) -> DeepLabLargeFOV:
    """DeepLab v1 LargeFOV; `pretrained_backbone` loads VGG16's ImageNet convolutions."""
    return DeepLabLargeFOV(num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone)
