"""Fold eval-mode BatchNorm into the preceding convolution (one op instead of two at inference).

FX-based fusion cannot trace models whose forward depends on input shapes (ours pad and crop),
so the pairs are found structurally instead: a Conv2d directly followed by a BatchNorm2d in a
Sequential (torchvision's Conv2dNormActivation, ResNet downsample, our conv blocks), and
attribute pairs `convN` / `bnN` of one module (torchvision's ResNet stem and blocks).
"""

from __future__ import annotations

import re

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_PAIR = re.compile(r"^conv(\d*)$")


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every foldable Conv2d + BatchNorm2d pair of an eval-mode model in place; returns the count."""
    if model.training:
        raise ValueError("fold BatchNorm only in eval mode: training would update the folded statistics")
    folded = 0
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            children = list(module._modules.items())
            for (name_a, a), (name_b, b) in zip(children, children[1:]):
                if _foldable(a, b):
                    module._modules[name_a] = fuse_conv_bn_eval(a, b)
                    module._modules[name_b] = nn.Identity()
                    folded += 1
        for name, child in list(module._modules.items()):
            match = _PAIR.match(name)
            bn_name = f"bn{match.group(1)}" if match else None
            if bn_name and _foldable(child, module._modules.get(bn_name)):
                module._modules[name] = fuse_conv_bn_eval(child, module._modules[bn_name])
                module._modules[bn_name] = nn.Identity()
                folded += 1
    return folded


def _foldable(conv: nn.Module | None, bn: nn.Module | None) -> bool:
    return (
        isinstance(conv, nn.Conv2d)
        and isinstance(bn, nn.BatchNorm2d)
        and bn.track_running_stats
        and bn.running_mean is not None
        and conv.out_channels == bn.num_features
    )
