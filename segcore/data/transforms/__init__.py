"""Paired image/mask augmentations (NumPy + OpenCV), in the style of torchvision's
references/segmentation/transforms.py but with an explicit rng: `t(image, mask, rng)`.

    tf = build_transforms(True, crop=512, scale_range=(0.5, 2.0), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    image_t, mask_t = tf(image, mask, np.random.default_rng([seed, epoch, index]))

Modules: base (contract, Compose, padding/resampling helpers), channels, geometric, photometric, tensor
(Normalize, ToTensor), config (AugmentConfig, build_transforms).
"""

from segcore.data.normalization import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    compute_mean_image,
    dataset_statistics,
)
from segcore.data.transforms.base import IMAGE_FILL, Compose, Transform
from segcore.data.transforms.channels import ToChannels
from segcore.data.transforms.config import AugmentConfig, build_transforms
from segcore.data.transforms.geometric import (
    CenterCrop,
    PadToMultiple,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomScale,
    RandomScaleRotateCrop,
    RandomVerticalFlip,
    Resize,
)
from segcore.data.transforms.photometric import (
    CLAHE,
    MeanImageSubtraction,
    PercentileScale,
    PhotometricJitter,
)
from segcore.data.transforms.tensor import Normalize, ToTensor

__all__ = [
    "CLAHE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_FILL",
    "AugmentConfig",
    "CenterCrop",
    "Compose",
    "MeanImageSubtraction",
    "PercentileScale",
    "Normalize",
    "PadToMultiple",
    "PhotometricJitter",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomScale",
    "RandomScaleRotateCrop",
    "RandomVerticalFlip",
    "Resize",
    "ToChannels",
    "ToTensor",
    "Transform",
    "build_transforms",
    "compute_mean_image",
    "dataset_statistics",
]
