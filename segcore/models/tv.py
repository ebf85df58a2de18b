"""torchvision's own segmentation models, behind the segcore registry and output contract."""

from __future__ import annotations

from collections.abc import Callable

import torchvision.models.segmentation as tvseg
from torch import Tensor, nn
from torchvision.models import (
    MobileNet_V3_Large_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    WeightsEnum,
)

from segcore.models.backbones import (
    PretrainedWeightsMissing,
    adapt_first_conv,
    cached_weights_path,
)
from segcore.models.base import SegmentationModel
from segcore.models.registry import register_model

PAPERS = {
    "fcn": "Long, Shelhamer, Darrell: Fully Convolutional Networks for Semantic Segmentation, CVPR 2015",
    "deeplabv3": "Chen et al.: Rethinking Atrous Convolution for Semantic Image Segmentation, arXiv 2017",
    "lraspp": "Howard et al.: Searching for MobileNetV3, ICCV 2019",
}


class TorchvisionModel(SegmentationModel):
    """Wraps a torchvision segmentation model; its "aux" tensor becomes a one-element tuple."""

    def __init__(self, net: nn.Module, divisor: int):
        super().__init__()
        self.net = net
        self.divisor = divisor

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        out = self.net(x)
        return out["out"], ((out["aux"],) if "aux" in out else ())


def _replace_first_conv(module: nn.Module, in_channels: int) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d):
            setattr(module, name, adapt_first_conv(child, in_channels))
            return
        if any(isinstance(m, nn.Conv2d) for m in child.modules()):
            _replace_first_conv(child, in_channels)
            return


def _build(
    factory: Callable[..., nn.Module],
    backbone_weights: WeightsEnum,
    divisor: int,
    *,
    num_classes: int,
    in_channels: int,
    pretrained_backbone: bool,
    **kwargs,
) -> TorchvisionModel:
    if pretrained_backbone and not cached_weights_path(backbone_weights).is_file():
        # torchvision would try to download; segcore never touches the network.
        raise PretrainedWeightsMissing(backbone_weights, cached_weights_path(backbone_weights))
    net = factory(
        weights=None,
        weights_backbone=backbone_weights if pretrained_backbone else None,
        num_classes=num_classes,
        **kwargs,
    )
    _replace_first_conv(net.backbone, in_channels)
    return TorchvisionModel(net, divisor)


def _register_tv(name: str, factory: Callable[..., nn.Module], weights: WeightsEnum, paper: str, divisor: int,
                 description: str, aux_option: bool) -> None:
    def builder(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False, **kwargs) -> TorchvisionModel:
        if aux_option:
            kwargs.setdefault("aux_loss", False)
        return _build(factory, weights, divisor, num_classes=num_classes, in_channels=in_channels,
                      pretrained_backbone=pretrained_backbone, **kwargs)

    register_model(name, paper=paper, divisor=divisor, description=description)(builder)


_register_tv("tv_fcn_resnet50", tvseg.fcn_resnet50, ResNet50_Weights.IMAGENET1K_V1, PAPERS["fcn"], 8,
             "torchvision FCN on a dilated ResNet-50 (aux=True adds its auxiliary head)", True)
_register_tv("tv_fcn_resnet101", tvseg.fcn_resnet101, ResNet101_Weights.IMAGENET1K_V1, PAPERS["fcn"], 8,
             "torchvision FCN on a dilated ResNet-101", True)
_register_tv("tv_deeplabv3_resnet50", tvseg.deeplabv3_resnet50, ResNet50_Weights.IMAGENET1K_V1, PAPERS["deeplabv3"], 8,
             "torchvision DeepLabV3, ResNet-50, output stride 8", True)
_register_tv("tv_deeplabv3_resnet101", tvseg.deeplabv3_resnet101, ResNet101_Weights.IMAGENET1K_V1,
             PAPERS["deeplabv3"], 8, "torchvision DeepLabV3, ResNet-101, output stride 8", True)
_register_tv("tv_deeplabv3_mobilenet_v3_large", tvseg.deeplabv3_mobilenet_v3_large,
             MobileNet_V3_Large_Weights.IMAGENET1K_V1, PAPERS["deeplabv3"], 16,
             "torchvision DeepLabV3 on MobileNetV3-Large (fast)", True)
_register_tv("tv_lraspp_mobilenet_v3_large", tvseg.lraspp_mobilenet_v3_large,
             MobileNet_V3_Large_Weights.IMAGENET1K_V1, PAPERS["lraspp"], 16,
             "torchvision LR-ASPP on MobileNetV3-Large (fastest)", False)
