"""The classic "FCN-8s on a ResNet" of tutorials and courses: light, fast, easy to train.

Not a paper's network but FCN's recipe (Long, Shelhamer, Darrell) moved onto ResNet-18/34:
layer2 (1/8), layer3 (1/16) and layer4 (1/32) are each scored by a 1x1 convolution, the
coarsest score is upsampled x2 by a learnable, bilinearly initialised transposed convolution and
added to the next, twice, and the 1/8 sum is upsampled x8 the same way.

Alignment: a transposed convolution with kernel 2f and stride f, cropped by f//2 on each side,
reproduces `F.interpolate(..., mode="bilinear", align_corners=False)` away from the borders.
Each score map is first edge-replicated by one score (so the first and last f//2 pixels do not
fade towards zero: at initialisation the upsampling equals `F.interpolate` everywhere, which
matters for tiles), upsampled, cropped by f + f//2 and cut to the size of the map it is added
to (torchvision's ResNets give ceil(H/s) pixels at stride s, so it is never too small).
torchvision's ResNet centres the feature x of stride s on pixel s*x rather than s*x + (s-1)/2;
like torchvision's own FCN we keep the align_corners=False convention and let the learnable
upsamplers adapt.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from segcore.models import backbones
from segcore.models.base import SegmentationModel
from segcore.models.fcn import PAPER, crop_to
from segcore.models.registry import register_model


class FCNResNet(SegmentationModel):
    """FCN-8s-style fusion of 1x1 class scores from ResNet layer2, layer3 and layer4."""

    divisor = 32

    def __init__(self, depth: int, *, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False):
        super().__init__()
        resnet = backbones.resnet(depth, in_channels=in_channels, pretrained=pretrained_backbone)
        width = resnet.fc.in_features  # layer4's channels; layer3 has half, layer2 a quarter
        self.backbone = backbones.resnet_features(resnet, {"layer2": "s8", "layer3": "s16", "layer4": "s32"})
        self.score8 = nn.Conv2d(width // 4, num_classes, 1)
        self.score16 = nn.Conv2d(width // 2, num_classes, 1)
        self.score32 = nn.Conv2d(width, num_classes, 1)
        self.up32 = backbones.bilinear_upsampler(num_classes, 2)
        self.up16 = backbones.bilinear_upsampler(num_classes, 2)
        self.up8 = backbones.bilinear_upsampler(num_classes, 8)

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        features = self.backbone(x)
        score16 = self.score16(features["s16"])
        h = score16 + _upsample(self.up32, self.score32(features["s32"]), score16)
        score8 = self.score8(features["s8"])
        h = score8 + _upsample(self.up16, h, score8)
        return _upsample(self.up8, h, x), ()


def _upsample(layer: nn.ConvTranspose2d, scores: Tensor, like: Tensor) -> Tensor:
    """Upsample `scores` with `layer` (kernel 2f, stride f) onto the pixel grid of `like`."""
    factor = layer.stride[0]
    padded = F.pad(scores, (1, 1, 1, 1), mode="replicate")
    return crop_to(layer(padded), factor + factor // 2, (like.shape[-2], like.shape[-1]))


@register_model("fcn_resnet18", paper=PAPER, divisor=32,
                description="FCN-8s-style skips on ResNet-18 (~11 M parameters): light and fast, a good first try")
def fcn_resnet18(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False) -> FCNResNet:
    """FCN-8s-style network on ResNet-18."""
    return FCNResNet(18, num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone)


@register_model("fcn_resnet34", paper=PAPER, divisor=32,
                description="FCN-8s-style skips on ResNet-34 (~21 M parameters): a bit more capacity than ResNet-18")
def fcn_resnet34(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False) -> FCNResNet:
    """FCN-8s-style network on ResNet-34."""
    return FCNResNet(34, num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone)
