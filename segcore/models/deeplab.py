"""DeepLab v2 (ASPP-L, summed), v3 (ASPP with image pooling) and v3+ (v3 encoder + decoder) on ResNets.

Rates: v3's ASPP uses 6/12/18 at output stride 16 and doubles them at output stride 8; the
multi-grid of v3 sets layer4's block dilations to rate * (1, 2, 4), rate being layer4's
dilation (2 at OS 16, 4 at OS 8). torchvision's `ASPP` and `DeepLabHead` are reused as they
are, so `deeplabv3_resnet50` has exactly torchvision's architecture apart from layer4's rates.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision.models.segmentation.deeplabv3 import ASPP, DeepLabHead

from segcore.models.backbones import resnet_features, set_multi_grid
from segcore.models.base import SegmentationModel
from segcore.models.heads import (
    ConvBNReLU,
    FCNHead,
    dilated_resnet,
    normal_init,
    upsample_to,
)
from segcore.models.registry import register_model

PAPERS = {
    "v2": "Chen, Papandreou, Kokkinos, Murphy, Yuille: DeepLab: Semantic Image Segmentation with Deep "
          "Convolutional Nets, Atrous Convolution, and Fully Connected CRFs, TPAMI 2018",
    "v3": "Chen, Papandreou, Schroff, Adam: Rethinking Atrous Convolution for Semantic Image Segmentation, "
          "arXiv:1706.05587, 2017",
    "v3+": "Chen, Zhu, Papandreou, Schroff, Adam: Encoder-Decoder with Atrous Separable Convolution for "
           "Semantic Image Segmentation, ECCV 2018",
}


class ASPPL(nn.Module):
    """DeepLab v2's ASPP-L: parallel 3x3 convs (dilation 6/12/18/24) straight to the classes, summed."""

    def __init__(self, in_channels: int, num_classes: int, rates: Sequence[int] = (6, 12, 18, 24)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=r, dilation=r) for r in rates
        )
        # As DeepLab's Caffe prototxt: classifier weights ~ N(0, 0.01), biases 0.
        normal_init(self)

    def forward(self, x: Tensor) -> Tensor:
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out + branch(x)
        return out


class DeepLabV2(SegmentationModel):
    """Dilated ResNet (output stride 8) + ASPP-L (no CRF post-processing)."""

    divisor = 8

    def __init__(self, depth: int, *, num_classes: int, in_channels: int, pretrained_backbone: bool,
                 rates: Sequence[int] = (6, 12, 18, 24)) -> None:
        super().__init__()
        net = dilated_resnet(depth, in_channels=in_channels, pretrained=pretrained_backbone, output_stride=8)
        self.backbone = resnet_features(net, {"layer4": "out"})
        self.classifier = ASPPL(2048, num_classes, rates)

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        return self.classifier(self.backbone(x)["out"]), ()


def _v3_encoder(depth: int, in_channels: int, pretrained: bool, output_stride: int,
                multi_grid: Sequence[int] | None, layers: dict[str, str]) -> nn.Module:
    if output_stride not in (8, 16):
        raise ValueError(f"DeepLab v3 output_stride must be 8 or 16, got {output_stride}")
    net = dilated_resnet(depth, in_channels=in_channels, pretrained=pretrained, output_stride=output_stride)
    if multi_grid:
        # layer4's rate: 2 at OS 16 (one stride removed), 4 at OS 8 (two removed).
        set_multi_grid(net.layer4, 32 // output_stride, multi_grid)
    return resnet_features(net, layers)


def _aspp_rates(output_stride: int) -> tuple[int, int, int]:
    scale = 16 // output_stride
    return (6 * scale, 12 * scale, 18 * scale)


class DeepLabV3(SegmentationModel):
    """ResNet with atrous layer4 (multi-grid) + torchvision's `DeepLabHead` (ASPP, 3x3 conv, classifier)."""

    def __init__(self, depth: int, *, num_classes: int, in_channels: int, pretrained_backbone: bool,
                 output_stride: int = 8, multi_grid: Sequence[int] | None = (1, 2, 4), aux: bool = False) -> None:
        super().__init__()
        layers = {"layer4": "out", "layer3": "aux"} if aux else {"layer4": "out"}
        self.backbone = _v3_encoder(depth, in_channels, pretrained_backbone, output_stride, multi_grid, layers)
        self.classifier = DeepLabHead(2048, num_classes, _aspp_rates(output_stride))
        self.aux_classifier = FCNHead(1024, num_classes) if aux else None
        self.divisor = output_stride

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        features = self.backbone(x)
        logits = self.classifier(features["out"])
        if self.aux_classifier is not None and self.training:
            return logits, (self.aux_classifier(features["aux"]),)
        return logits, ()


class PlusDecoder(nn.Module):
    """v3+ decoder: 1x1 conv of the stride-4 features to 48 ch, concat with the upsampled ASPP output,
    two 3x3 convs 256 + BN + ReLU, 1x1 classifier."""

    def __init__(self, low_channels: int, aspp_channels: int, num_classes: int) -> None:
        super().__init__()
        self.reduce = ConvBNReLU(low_channels, 48, 1)
        self.fuse = nn.Sequential(
            ConvBNReLU(aspp_channels + 48, 256, 3),
            ConvBNReLU(256, 256, 3),
            nn.Conv2d(256, num_classes, 1),
        )

    def forward(self, aspp: Tensor, low: Tensor) -> Tensor:
        low = self.reduce(low)
        return self.fuse(torch.cat([upsample_to(aspp, low), low], dim=1))


class DeepLabV3Plus(SegmentationModel):
    """The v3 encoder (ASPP on an atrous ResNet, output stride 16 by default) + the v3+ decoder on layer1."""

    def __init__(self, depth: int, *, num_classes: int, in_channels: int, pretrained_backbone: bool,
                 output_stride: int = 16, multi_grid: Sequence[int] | None = (1, 2, 4), aux: bool = False) -> None:
        super().__init__()
        layers = {"layer1": "low", "layer4": "out"}
        if aux:
            layers["layer3"] = "aux"
        self.backbone = _v3_encoder(depth, in_channels, pretrained_backbone, output_stride, multi_grid, layers)
        self.aspp = ASPP(2048, _aspp_rates(output_stride))
        self.decoder = PlusDecoder(256, 256, num_classes)
        self.aux_classifier = FCNHead(1024, num_classes) if aux else None
        self.divisor = output_stride

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        features = self.backbone(x)
        logits = self.decoder(self.aspp(features["out"]), features["low"])
        if self.aux_classifier is not None and self.training:
            return logits, (self.aux_classifier(features["aux"]),)
        return logits, ()


def _register(name: str, cls: type[SegmentationModel], depth: int, paper: str, divisor: int,
              description: str) -> None:
    def build(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False,
              **options) -> SegmentationModel:
        return cls(depth, num_classes=num_classes, in_channels=in_channels,
                   pretrained_backbone=pretrained_backbone, **options)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"{description}. Options: see {cls.__name__}."
    register_model(name, paper=paper, divisor=divisor, description=description)(build)


_register("deeplabv2_resnet101", DeepLabV2, 101, PAPERS["v2"], 8,
          "DeepLab v2, dilated ResNet-101 + ASPP-L (rates 6/12/18/24): the classic atrous baseline")
_register("deeplabv3_resnet50", DeepLabV3, 50, PAPERS["v3"], 8,
          "DeepLab v3, ResNet-50 (output stride 8, multi-grid) + ASPP with image pooling: strong all-rounder")
_register("deeplabv3_resnet101", DeepLabV3, 101, PAPERS["v3"], 8,
          "DeepLab v3, ResNet-101 (output stride 8, multi-grid) + ASPP with image pooling: more accurate, slower")
_register("deeplabv3plus_resnet50", DeepLabV3Plus, 50, PAPERS["v3+"], 16,
          "DeepLab v3+, ResNet-50 encoder (output stride 16) + decoder: sharper object boundaries")
_register("deeplabv3plus_resnet101", DeepLabV3Plus, 101, PAPERS["v3+"], 16,
          "DeepLab v3+, ResNet-101 encoder (output stride 16) + decoder: sharper boundaries, more accurate")
