"""U-Net (Ronneberger, Fischer, Brox), in its common modern form.

Four 2x2 max-pool downsamplings and four 2x upsamplings, each followed by two 3x3 convolutions,
with the encoder's feature maps concatenated into the decoder at every scale. Widths are
base*(1, 2, 4, 8, 16) with base 64 as in the paper (~31.0 M parameters).

Two deliberate departures from the paper, both the usual modern practice:
- every 3x3 convolution is followed by a normalisation (so it has no bias) before the ReLU: BatchNorm, or with
  `norm="instance"` InstanceNorm with a scale and shift (nnU-Net's choice for small batches: no running
  statistics, so training and prediction normalise alike);
- convolutions pad by 1 ("same") instead of the paper's unpadded ("valid") ones, so the output
  has the input's size and skips need no cropping. The input is padded to a multiple of 16
  (`pad_to_divisor`) so that the four poolings and upsamplings line up exactly.
The paper's "up-convolution" is a 2x2 ConvTranspose2d with stride 2 that halves the channels;
`bilinear=True` replaces it by bilinear upsampling and a 1x1 convolution halving the channels
(fewer parameters, no checkerboard artefacts).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from segcore.models.base import SegmentationModel
from segcore.models.registry import register_model

PAPER = (
    "Ronneberger, Fischer, Brox: U-Net: Convolutional Networks for Biomedical Image Segmentation, "
    "MICCAI 2015"
)


NORMS = ("batch", "instance")
"""`batch`: BatchNorm (the paper's successors); `instance`: InstanceNorm with a scale and shift (nnU-Net's), the
statistics of each image alone, in training and prediction alike."""


def norm_layer(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


class DoubleConv(nn.Sequential):
    """(3x3 conv, normalisation, ReLU) twice; padding 1 keeps the size."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "batch"):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            norm_layer(norm, out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            norm_layer(norm, out_channels),
            nn.ReLU(inplace=True),
        )


class Up(nn.Module):
    """Upsample x2 halving the channels, concatenate the skip, then DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int, bilinear: bool = False, norm: str = "batch"):
        super().__init__()
        if bilinear:
            self.up: nn.Module = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, in_channels // 2, 1),
            )
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.conv = DoubleConv(in_channels // 2 + out_channels, out_channels, norm)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(SegmentationModel):
    """U-Net with widths base_channels * (1, 2, 4, 8, 16)."""

    divisor = 16
    pad_to_divisor = True

    def __init__(self, *, num_classes: int, in_channels: int = 3, base_channels: int = 64, bilinear: bool = False,
                 norm: str = "batch"):
        super().__init__()
        if base_channels < 1:
            raise ValueError(f"base_channels must be at least 1, got {base_channels}")
        widths = [base_channels * 2**i for i in range(5)]
        self.inc = DoubleConv(in_channels, widths[0], norm)
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), DoubleConv(widths[i], widths[i + 1], norm)) for i in range(4)
        )
        self.ups = nn.ModuleList(Up(widths[i + 1], widths[i], bilinear, norm) for i in reversed(range(4)))
        self.outc = nn.Conv2d(widths[0], num_classes, 1)

    def forward_logits(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = skips.pop()
        for up in self.ups:
            h = up(h, skips.pop())
        return self.outc(h), ()


@register_model("unet", paper=PAPER, divisor=16,
                description="U-Net (BatchNorm or instance norm, same padding): strong on small data sets and fine "
                            "structures; base_channels=16 or 32 and norm=instance for few images")
def unet(
    *,
    num_classes: int,
    in_channels: int = 3,
    pretrained_backbone: bool = False,
    base_channels: int = 64,
    bilinear: bool = False,
    norm: str = "batch",
) -> UNet:
    """U-Net; `base_channels` sets the width (64: the paper's), `bilinear` the decoder's upsampling."""
    if pretrained_backbone:
        raise ValueError("unet has no pretrained backbone: it trains from scratch")
    return UNet(num_classes=num_classes, in_channels=in_channels, base_channels=base_channels, bilinear=bilinear,
                norm=norm)
