"""Segmentation models behind one registry: `get_model("deeplabv3_resnet50", num_classes=2, in_channels=1)`."""

from segcore.models.backbones import PretrainedWeightsMissing
from segcore.models.registry import (
    ModelInfo,
    get_model,
    get_model_info,
    list_models,
    register_model,
)

__all__ = ["ModelInfo", "PretrainedWeightsMissing", "get_model", "get_model_info", "list_models", "register_model"]
