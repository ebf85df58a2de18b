"""FCN-32s, FCN-16s and FCN-8s on VGG16: the reference design of Long, Shelhamer and Darrell.

Follows the authors' Caffe models (as ported in `wkentaro/pytorch-fcn`): conv1_1 pads by 100
so that even small images leave fc6's 7x7 window something to see; pooling rounds up (Caffe);
fc6/fc7 are VGG's classifier as convolutions; the transposed convolutions start as bilinear
upsamplers; and fixed crop offsets align the output with the input pixel for pixel. The skip
scores (score_pool4, score_pool3) start at zero, as in the paper, so the net starts with the
coarser net's predictions; score_fr keeps torch's random init (the reference zeroes it too, but
the paper found random init gives neither better results nor faster convergence, and zero would
leave the backbone without gradient on the first step).

The offsets come from composing each layer's coordinate map (Caffe's `coord_map`): a conv or
pool with kernel k, stride s and padding p maps an output coordinate x to s*x + (k-1)/2 - p of
its input. Through conv1_1 (pad 100), five 2x2 pools and fc6 (7x7), a score at x sits on image
pixel 32*x + 12.5; composing with the upsamplers gives 19 (32s), 27 (16s) and 31 (8s), and the
skip scores are cropped by 5 (pool4) and 9 (pool3) to line up with the upsampled coarser scores.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from segcore.models import backbones
from segcore.models.base import SegmentationModel, resize_logits
from segcore.models.registry import register_model

PAPER = (
    "Long, Shelhamer, Darrell: Fully Convolutional Networks for Semantic Segmentation, CVPR 2015 "
    "(extended: Shelhamer, Long, Darrell, IEEE TPAMI 2017)"
)

# Indices in torchvision's VGG16 `features` just after pool3 and pool4.
_POOL3_END, _POOL4_END = 17, 24

# Crop offsets of the reference Caffe models (see the module docstring for their derivation).
OFFSET_POOL4 = 5
OFFSET_POOL3 = 9
OFFSET_OUT = {32: 19, 16: 27, 8: 31}


def crop_to(x: Tensor, offset: int, size: tuple[int, int]) -> Tensor:
    """`x[..., offset : offset + h, offset : offset + w]`; resized bilinearly if `x` is too small."""
    height, width = size
    if x.shape[-2] < offset + height or x.shape[-1] < offset + width:
        # Cannot happen with the geometries in segcore; kept so an odd size never crashes.
        return resize_logits(x, size)
    return x[..., offset : offset + height, offset : offset + width]


class FCN(SegmentationModel):
    """FCN on VGG16 with output stride `stride` (32, 16 or 8: FCN-32s, FCN-16s, FCN-8s)."""

    divisor = 32

    def __init__(self, stride: int, *, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False):
        super().__init__()
        if stride not in OFFSET_OUT:
            raise ValueError(f"FCN stride must be one of {sorted(OFFSET_OUT)}, got {stride}")
        self.stride = stride
        vgg = backbones.vgg16(in_channels=in_channels, pretrained=pretrained_backbone)
        features = vgg.features
        features[0].padding = (100, 100)
        for layer in features:
            if isinstance(layer, nn.MaxPool2d):
                layer.ceil_mode = True  # Caffe rounds pooled sizes up; the crop offsets assume it.
        self.to_pool3 = features[:_POOL3_END]
        self.to_pool4 = features[_POOL3_END:_POOL4_END]
        self.to_pool5 = features[_POOL4_END:]

        self.fc6 = nn.Conv2d(512, 4096, 7)
        self.fc7 = nn.Conv2d(4096, 4096, 1)
        if pretrained_backbone:
            backbones.vgg_fc_as_conv(vgg.classifier[0], self.fc6)
            backbones.vgg_fc_as_conv(vgg.classifier[3], self.fc7)
        self.drop6 = nn.Dropout2d()
        self.drop7 = nn.Dropout2d()

        self.score_fr = nn.Conv2d(4096, num_classes, 1)
        skip_scores = []
        if stride == 32:
            self.upscore = backbones.bilinear_upsampler(num_classes, 32)
        else:
            self.upscore2 = backbones.bilinear_upsampler(num_classes, 2)
            self.score_pool4 = nn.Conv2d(512, num_classes, 1)
            skip_scores.append(self.score_pool4)
        if stride == 16:
            self.upscore16 = backbones.bilinear_upsampler(num_classes, 16)
        if stride == 8:
            self.upscore_pool4 = backbones.bilinear_upsampler(num_classes, 2)
            self.score_pool3 = nn.Conv2d(256, num_classes, 1)
            skip_scores.append(self.score_pool3)
            self.upscore8 = backbones.bilinear_upsampler(num_classes, 8)
        for score in skip_scores:
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        size = (x.shape[-2], x.shape[-1])
        pool3 = self.to_pool3(x)
        pool4 = self.to_pool4(pool3)
        h = self.to_pool5(pool4)
        h = self.drop6(F.relu(self.fc6(h)))
        h = self.drop7(F.relu(self.fc7(h)))
        score = self.score_fr(h)
        if self.stride == 32:
            return crop_to(self.upscore(score), OFFSET_OUT[32], size), ()

        up = self.upscore2(score)  # 1/16
        up_size = (up.shape[-2], up.shape[-1])
        fused = up + crop_to(self.score_pool4(pool4), OFFSET_POOL4, up_size)
        if self.stride == 16:
            return crop_to(self.upscore16(fused), OFFSET_OUT[16], size), ()

        up = self.upscore_pool4(fused)  # 1/8
        up_size = (up.shape[-2], up.shape[-1])
        fused = up + crop_to(self.score_pool3(pool3), OFFSET_POOL3, up_size)
        return crop_to(self.upscore8(fused), OFFSET_OUT[8], size), ()


@register_model("fcn32s", paper=PAPER, divisor=32,
                description="FCN-32s (VGG16, 136 M parameters): the paper's single-stream baseline, coarse masks")
def fcn32s(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False) -> FCN:
    """FCN-32s: score_fr upsampled x32 in one step."""
    return FCN(32, num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone)


@register_model("fcn16s", paper=PAPER, divisor=32,
                description="FCN-16s (VGG16, 135 M parameters): FCN-32s plus a pool4 skip, finer boundaries")
def fcn16s(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False) -> FCN:
    """FCN-16s: score_fr x2 fused with the pool4 score, then upsampled x16."""
    return FCN(16, num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone)


@register_model("fcn8s", paper=PAPER, divisor=32,
                description="FCN-8s (VGG16, 134 M parameters): the classic FCN, pool4 and pool3 skips, "
                            "finest of the three")
def fcn8s(*, num_classes: int, in_channels: int = 3, pretrained_backbone: bool = False) -> FCN:
    """FCN-8s (all-at-once): score_fr x2 + pool4 score, x2 + pool3 score, then upsampled x8."""
    return FCN(8, num_classes=num_classes, in_channels=in_channels, pretrained_backbone=pretrained_backbone)
