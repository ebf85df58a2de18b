"""Segmentation losses: hand-computed values, independent formulas, ignore handling, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from segcore.data.classes import IGNORE_INDEX
from segcore.errors import DatasetError, MaskError
from segcore.losses import (
    AsymmetricLoss,
    CrossEntropyLoss,
    DiceLoss,
    FocalLoss,
    SegmentationLoss,
    SumLoss,
    class_pixel_counts,
    get_loss,
    list_losses,
    median_frequency_weights,
)


def _batch(seed: int = 0, n: int = 2, c: int = 4, h: int = 5, w: int = 6, ignore_frac: float = 0.2):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g) * 2
    target = torch.randint(0, c, (n, h, w), generator=g)
    target[torch.rand(n, h, w, generator=g) < ignore_frac] = IGNORE_INDEX
    return logits, target


def _all_losses() -> list[torch.nn.Module]:
    return [
        CrossEntropyLoss(),
        CrossEntropyLoss(weight=[0.5, 2.0, 1.0, 0.0]),
        AsymmetricLoss(),
        DiceLoss(),
        FocalLoss(),
        FocalLoss(alpha=[0.25, 0.75, 1.0, 1.0]),
        get_loss("ce+dice"),
    ]


# ---------------------------------------------------------------- ASL


def test_asl_one_pixel_two_classes_by_hand() -> None:
    # One pixel, true class 0, logits (2, 0); defaults gamma_pos=1, gamma_neg=4, clip=0.05.
    # class 0 (positive): p = sigmoid(2) = 0.8807970779778823, log p = -0.12692801104297263
    #   term = (1 - p)^1 * log p = 0.11920292202211769 * -0.12692801104297263 = -0.01513018980277796
    # class 1 (negative): p = sigmoid(0) = 0.5, p_m = 0.5 - 0.05 = 0.45
    #   term = p_m^4 * log(1 - p_m) = 0.04100625 * log(0.55) = 0.04100625 * -0.5978370007556204 = -0.02451505351223516
    # loss = -(sum) = 0.039645243315013116
    logits = torch.tensor([2.0, 0.0]).view(1, 2, 1, 1)
    target = torch.zeros(1, 1, 1, dtype=torch.long)
    assert AsymmetricLoss()(logits, target).item() == pytest.approx(0.039645243315013116, rel=1e-6)


def test_asl_negative_below_clip_is_discarded() -> None:
    # p(class 1) = sigmoid(-4) = 0.01799 < clip 0.05, so p_m = 0 and the negative term is 0;
    # only the positive term (1 - p0) * -log p0 with p0 = sigmoid(3) remains.
    logits = torch.tensor([3.0, -4.0]).view(1, 2, 1, 1)
    target = torch.zeros(1, 1, 1, dtype=torch.long)
    p0 = 1 / (1 + math.exp(-3))
    assert AsymmetricLoss()(logits, target).item() == pytest.approx(-(1 - p0) * math.log(p0), rel=1e-6)


def test_asl_without_focusing_or_clip_is_bce_summed_over_classes() -> None:
    logits, target = _batch(seed=1)
    loss = AsymmetricLoss(gamma_neg=0, gamma_pos=0, clip=0)(logits, target)
    valid = target != IGNORE_INDEX
    onehot = F.one_hot(torch.where(valid, target, 0), 4).permute(0, 3, 1, 2).float()
    bce = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none").sum(1)
    expected = bce[valid].mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_asl_matches_reference_formula_on_random_batch() -> None:
    # The reference (Alibaba-MIIL/ASL AsymmetricLoss) written out over the valid pixels only.
    logits, target = _batch(seed=2)
    valid = target != IGNORE_INDEX
    x = logits.permute(0, 2, 3, 1)[valid]  # P x C
    y = F.one_hot(target[valid], 4).float()
    p = torch.sigmoid(x)
    pm = (p - 0.05).clamp(min=0)
    terms = y * (1 - p) ** 1 * torch.log(p.clamp(min=1e-8)) + (1 - y) * pm**4 * torch.log((1 - pm).clamp(min=1e-8))
    expected = -terms.sum(1).mean()
    assert AsymmetricLoss()(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)


def test_asl_focusing_weight_in_graph_by_default() -> None:
    logits, target = _batch(seed=3)
    grads = []
    for disable in (False, True):
        x = logits.clone().requires_grad_(True)
        AsymmetricLoss(disable_torch_grad_focal_loss=disable)(x, target).backward()
        grads.append(x.grad)
    assert not torch.allclose(grads[0], grads[1])


# ---------------------------------------------------------------- ignore handling, all losses


@pytest.mark.parametrize("loss_fn", _all_losses(), ids=lambda m: type(m).__name__)
def test_ignored_pixels_contribute_nothing(loss_fn: torch.nn.Module) -> None:
    logits, target = _batch(seed=4)
    ignored = target == IGNORE_INDEX
    assert ignored.any()
    changed = logits.clone()
    changed[ignored.unsqueeze(1).expand_as(changed)] = 100.0  # wild logits where ignored
    x = changed.clone().requires_grad_(True)
    loss = loss_fn(x, target)
    assert loss.item() == pytest.approx(loss_fn(logits, target).item(), rel=1e-5)
    loss.backward()
    assert torch.all(x.grad.permute(0, 2, 3, 1)[ignored] == 0)


@pytest.mark.parametrize("loss_fn", _all_losses(), ids=lambda m: type(m).__name__)
def test_all_ignored_batch_gives_zero_and_finite_grads(loss_fn: torch.nn.Module) -> None:
    logits = torch.randn(2, 4, 3, 3, requires_grad=True)
    target = torch.full((2, 3, 3), IGNORE_INDEX, dtype=torch.long)
    loss = loss_fn(logits, target)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert torch.all(logits.grad == 0)


def test_ce_all_valid_pixels_of_zero_weight_gives_zero_not_nan() -> None:
    logits = torch.randn(1, 2, 2, 2, requires_grad=True)
    target = torch.ones(1, 2, 2, dtype=torch.long)
    loss = CrossEntropyLoss(weight=[1.0, 0.0])(logits, target)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all()


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="spatial"):
        DiceLoss()(torch.randn(1, 2, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="N x H x W"):
        CrossEntropyLoss()(torch.randn(1, 2, 4, 4), torch.zeros(1, 1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="2 classes"):
        CrossEntropyLoss(weight=[1.0, 1.0, 1.0])(torch.randn(1, 2, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))


# ---------------------------------------------------------------- cross-entropy and class weights


@pytest.mark.parametrize("weight", [None, [0.5, 2.0, 1.0, 3.0]])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_ce_equals_torch_cross_entropy(weight: list[float] | None, smoothing: float) -> None:
    logits, target = _batch(seed=5)
    w = None if weight is None else torch.tensor(weight)
    expected = F.cross_entropy(logits, target, weight=w, ignore_index=IGNORE_INDEX, label_smoothing=smoothing)
    loss = CrossEntropyLoss(weight=weight, label_smoothing=smoothing)(logits, target)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_class_pixel_counts_and_median_frequency_weights_by_hand() -> None:
    masks = [
        np.array([[0, 0, 0], [0, 1, 1]], dtype=np.uint8),  # c0: 4, c1: 2, labelled 6
        np.array([[0, 0, 255], [255, 255, 255]], dtype=np.uint8),  # c0: 2, labelled 2
        torch.tensor([[2, 2, 1], [2, 2, 2]]),  # c1: 1, c2: 5, labelled 6
    ]
    counts, totals = class_pixel_counts(iter(masks), num_classes=4)
    assert counts.tolist() == [6, 3, 5, 0]
    # c0 is in masks 1 and 2 (6 + 2 labelled px), c1 in 1 and 3 (6 + 6), c2 in 3 (6), c3 nowhere.
    assert totals.tolist() == [8, 12, 6, 0]
    # freq = [6/8, 3/12, 5/6] = [0.75, 0.25, 0.8333]; median = 0.75
    # weights = 0.75 / freq = [1, 3, 0.9]; absent class 3 -> 0
    weights = median_frequency_weights(counts, totals)
    assert weights.dtype == torch.float32
    assert weights.tolist() == pytest.approx([1.0, 3.0, 0.9, 0.0])


def test_median_frequency_two_classes_uses_mean_of_middle_pair() -> None:
    # One 100-px image: 90 background, 10 sample. freq = [0.9, 0.1], median = 0.5.
    weights = median_frequency_weights(torch.tensor([90, 10]), torch.tensor([100, 100]))
    assert weights.tolist() == pytest.approx([0.5 / 0.9, 5.0])


def test_class_pixel_counts_rejects_stray_values_and_weights_need_pixels() -> None:
    with pytest.raises(MaskError, match=r"\[7\]"):
        class_pixel_counts([np.array([[0, 7], [1, 255]], dtype=np.uint8)], num_classes=2)
    with pytest.raises(MaskError, match="negative"):
        class_pixel_counts([np.array([[0, -1]])], num_classes=2)
    counts, totals = class_pixel_counts([np.full((2, 2), 255, dtype=np.uint8)], num_classes=2)
    assert counts.tolist() == [0, 0] and totals.tolist() == [0, 0]
    with pytest.raises(DatasetError):
        median_frequency_weights(counts, totals)


# ---------------------------------------------------------------- focal and Dice


def test_focal_with_gamma_zero_is_cross_entropy() -> None:
    logits, target = _batch(seed=6)
    expected = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
    assert FocalLoss(gamma=0)(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)


def test_focal_one_pixel_by_hand_and_alpha() -> None:
    # logits (log 3, 0): p_true = 3/4. loss = (1 - 0.75)^2 * -log(0.75) = 0.0625 * 0.2876820724517809
    logits = torch.tensor([math.log(3.0), 0.0]).view(1, 2, 1, 1)
    target = torch.zeros(1, 1, 1, dtype=torch.long)
    assert FocalLoss()(logits, target).item() == pytest.approx(0.0625 * 0.2876820724517809, rel=1e-5)
    assert FocalLoss(alpha=[0.25, 0.75])(logits, target).item() == pytest.approx(0.25 * 0.0625 * 0.2876820724517809, rel=1e-5)


def test_focal_is_below_ce_and_alpha_weighs_per_pixel() -> None:
    logits, target = _batch(seed=7)
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="none")
    valid = target != IGNORE_INDEX
    pt = torch.exp(-ce)
    alpha = torch.tensor([0.1, 0.2, 0.3, 0.4])
    expected = (alpha[target[valid]] * (1 - pt[valid]) ** 2 * ce[valid]).mean()
    assert FocalLoss(alpha=alpha)(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)
    assert FocalLoss()(logits, target).item() < ce[valid].mean().item()


def test_dice_perfect_prediction_is_zero_and_wrong_is_near_one() -> None:
    _, target = _batch(seed=8)
    onehot = F.one_hot(torch.where(target == IGNORE_INDEX, 0, target), 4).permute(0, 3, 1, 2).float()
    assert DiceLoss()(onehot * 40 - 20, target).item() == pytest.approx(0.0, abs=1e-6)
    shifted = torch.roll(onehot, shifts=1, dims=1)  # always predicts the wrong class
    assert DiceLoss(smooth=0)(shifted * 40 - 20, target).item() == pytest.approx(1.0, abs=1e-6)


def test_dice_two_pixels_by_hand() -> None:
    # Two pixels, targets (0, 1), zero logits: p = 0.5 everywhere; argmax ties go to class 0.
    # class c: intersection 0.5, sum p = 1, sum y = 1.
    #   smooth=0: dice = 2 * 0.5 / 2 = 0.5 for both  -> loss 0.5
    #   smooth=1: dice = (1 + 1) / (2 + 1) = 2/3    -> loss 1/3
    logits = torch.zeros(1, 2, 1, 2)
    target = torch.tensor([[[0, 1]]])
    assert DiceLoss(smooth=0)(logits, target).item() == pytest.approx(0.5)
    assert DiceLoss(smooth=1)(logits, target).item() == pytest.approx(1 / 3)


def test_dice_matches_numpy_and_skips_classes_absent_from_target_and_prediction() -> None:
    logits, target = _batch(seed=9, c=3)
    logits[:, 2] = -30.0  # class 2: never predicted ...
    target[target == 2] = 0  # ... and never true
    p = torch.softmax(logits, 1).numpy()
    t = target.numpy()
    valid = t != IGNORE_INDEX
    dices = []
    for c in range(3):
        y = (t == c) & valid
        pred_c = (p.argmax(1) == c) & valid
        if not y.any() and not pred_c.any():
            continue
        pc = p[:, c] * valid
        dices.append((2 * (pc * y).sum() + 1.0) / (pc.sum() + y.sum() + 1.0))
    assert len(dices) == 2
    assert DiceLoss()(logits, target).item() == pytest.approx(1 - np.mean(dices), rel=1e-5)


# ---------------------------------------------------------------- SegmentationLoss and registry


def test_segmentation_loss_adds_weighted_aux() -> None:
    logits, target = _batch(seed=10)
    aux1, _ = _batch(seed=11)
    aux2, _ = _batch(seed=12)
    ce = CrossEntropyLoss()
    out = {"out": logits, "aux": (aux1, aux2)}
    expected = ce(logits, target) + 0.4 * (ce(aux1, target) + ce(aux2, target))
    total, parts = SegmentationLoss(ce).forward_with_parts(out, target)
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert parts["main"].item() == pytest.approx(ce(logits, target).item())
    assert parts["aux"].item() == pytest.approx((ce(aux1, target) + ce(aux2, target)).item())
    assert SegmentationLoss(ce, aux_weight=1.0)(out, target).item() == pytest.approx(
        (ce(logits, target) + ce(aux1, target) + ce(aux2, target)).item(), rel=1e-6
    )


def test_segmentation_loss_without_aux_and_gradient_reaches_aux() -> None:
    logits, target = _batch(seed=13)
    ce = CrossEntropyLoss()
    for out in ({"out": logits}, {"out": logits, "aux": ()}, logits):
        total, parts = SegmentationLoss(ce).forward_with_parts(out, target)
        assert total.item() == pytest.approx(ce(logits, target).item()) and parts["aux"].item() == 0.0
    aux = logits.clone().requires_grad_(True)
    SegmentationLoss(ce)({"out": logits, "aux": (aux,)}, target).backward()
    assert aux.grad is not None and aux.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="'out'"):
        SegmentationLoss(ce)({"aux": (logits,)}, target)


def test_get_loss_names_and_errors() -> None:
    assert list_losses() == ["asl", "ce", "dice", "focal"]
    assert isinstance(get_loss("ce"), CrossEntropyLoss)
    assert isinstance(get_loss("ASL", gamma_neg=2), AsymmetricLoss)
    assert isinstance(get_loss("focal"), FocalLoss) and isinstance(get_loss("dice"), DiceLoss)
    with pytest.raises(ValueError, match="asl, ce, dice, focal"):
        get_loss("lovasz")
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("ce+")
    with pytest.raises(TypeError):
        get_loss("ce", gamma=2)
    with pytest.raises(TypeError, match="gamma_neg"):
        get_loss("ce+dice", gamma_neg=2)


def test_get_loss_sum_routes_keywords_and_weights_terms() -> None:
    logits, target = _batch(seed=14)
    w = [1.0, 2.0, 0.5, 1.0]
    loss = get_loss("ce + 0.5*dice", weight=w, smooth=0.0)
    assert isinstance(loss, SumLoss)
    expected = CrossEntropyLoss(weight=w)(logits, target) + 0.5 * DiceLoss(smooth=0.0)(logits, target)
    assert loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
