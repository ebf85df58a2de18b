"""Logit-averaging ensembles of different architectures."""

import pytest
import torch

from segcore.models import get_model
from segcore.models.ensemble import LogitEnsemble


def test_ensemble_averages_the_logits_of_different_models():
    torch.manual_seed(0)
    a = get_model("unet", num_classes=3, in_channels=1, base_channels=4).eval()
    b = get_model("fcn_resnet18", num_classes=3, in_channels=1).eval()
    x = torch.randn(1, 1, 45, 61)
    with torch.no_grad():
        expected = (a(x)["out"] + 3 * b(x)["out"]) / 4
        out = LogitEnsemble([a, b], weights=[1, 3])(x)
    assert set(out) == {"out"} and out["out"].shape == (1, 3, 45, 61)
    torch.testing.assert_close(out["out"], expected)


def test_ensemble_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        LogitEnsemble([])
    with pytest.raises(ValueError, match="weights"):
        LogitEnsemble([torch.nn.Identity()], weights=[1, 2])
