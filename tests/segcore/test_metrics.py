"""ConfusionMatrix and SegmentationMetrics: hand-computed values and an independent NumPy check."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from segcore.data.classes import IGNORE_INDEX
from segcore.metrics import ConfusionMatrix

I = IGNORE_INDEX


def _hand_example() -> tuple[torch.Tensor, torch.Tensor]:
    # 4 classes. Pixel by pixel (true -> pred):
    #   0->0, 0->1, 1->1 / 1->1, ignore->2, 0->2
    # class 2 occurs only in the prediction, class 3 nowhere.
    target = torch.tensor([[[0, 0, 1], [1, I, 0]]])
    pred = torch.tensor([[[0, 1, 1], [1, 2, 2]]])
    return pred, target


def test_hand_example_all_metrics() -> None:
    pred, target = _hand_example()
    cm = ConfusionMatrix(4)
    cm.update(pred, target)
    m = cm.compute()
    assert m.confusion == [[1, 1, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert m.num_pixels == 5  # the ignored pixel is not counted
    assert cm.ignored_pixels.item() == 1
    # tp = [1, 2, 0, 0], true = [3, 2, 0, 0], predicted = [1, 3, 1, 0]
    assert m.pixel_acc == pytest.approx(3 / 5)
    assert m.per_class_acc == pytest.approx([1 / 3, 1.0, None, None])
    assert m.mean_class_acc == pytest.approx(2 / 3)
    # IoU: 1/(3+1-1), 2/(2+3-2), 0/(0+1-0) (predicted only: counted as 0), None (absent)
    assert m.per_class_iou == pytest.approx([1 / 3, 2 / 3, 0.0, None])
    assert m.miou == pytest.approx((1 / 3 + 2 / 3 + 0.0) / 3)  # class 3 excluded, not 0 or 1
    assert m.fw_iou == pytest.approx(3 / 5 * 1 / 3 + 2 / 5 * 2 / 3)
    # Dice: 2*1/(3+1), 2*2/(2+3), 0/(0+1), None
    assert m.per_class_dice == pytest.approx([0.5, 0.8, 0.0, None])
    assert m.mean_dice == pytest.approx(1.3 / 3)


def test_prediction_at_ignored_pixel_does_not_make_class_present() -> None:
    target = torch.tensor([[[0, 1], [1, I]]])
    pred = torch.tensor([[[0, 1], [1, 2]]])
    cm = ConfusionMatrix(3)
    cm.update(pred, target)
    m = cm.compute()
    assert m.per_class_iou == [1.0, 1.0, None]
    assert m.miou == 1.0 and m.pixel_acc == 1.0


def test_several_updates_and_logits_equal_one_update() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 5, 7, 9, generator=g)
    target = torch.randint(0, 5, (4, 7, 9), generator=g)
    target[torch.rand(4, 7, 9, generator=g) < 0.1] = I
    one = ConfusionMatrix(5)
    one.update(logits.argmax(1), target)
    many = ConfusionMatrix(5, device="cpu")
    for i in range(4):
        many.update(logits[i : i + 1], target[i : i + 1])  # logits: argmax'd inside
    assert torch.equal(one.mat, many.mat)
    assert many.mat.device.type == "cpu" and many.mat.dtype == torch.int64
    assert one.compute() == many.compute()
    many.reset()
    assert many.mat.sum().item() == 0 and many.compute().miou is None


def _numpy_reference(preds: list[np.ndarray], targets: list[np.ndarray], n: int) -> dict:
    """Plain loops: the confusion matrix pixel by pixel, then each metric from its definition."""
    mat = np.zeros((n, n), dtype=np.int64)
    for p, t in zip(preds, targets):
        for pv, tv in zip(p.ravel().tolist(), t.ravel().tolist()):
            if tv != I:
                mat[tv][pv] += 1
    total = mat.sum()
    iou, dice, acc = [], [], []
    for c in range(n):
        tp = mat[c][c]
        fn = mat[c].sum() - tp
        fp = mat[:, c].sum() - tp
        iou.append(tp / (tp + fp + fn) if tp + fp + fn else None)
        dice.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None)
        acc.append(tp / (tp + fn) if tp + fn else None)
    present = [v for v in iou if v is not None]
    fw = sum(mat[c].sum() / total * iou[c] for c in range(n) if mat[c].sum())
    return {
        "confusion": mat.tolist(),
        "pixel_acc": np.trace(mat) / total,
        "per_class_iou": iou,
        "miou": sum(present) / len(present),
        "per_class_dice": dice,
        "mean_dice": np.mean([v for v in dice if v is not None]),
        "per_class_acc": acc,
        "mean_class_acc": np.mean([v for v in acc if v is not None]),
        "fw_iou": fw,
    }


def test_matches_independent_numpy_computation() -> None:
    rng = np.random.default_rng(42)
    n = 6
    preds, targets = [], []
    cm = ConfusionMatrix(n)
    for _ in range(3):
        t = rng.integers(0, n - 1, size=(2, 11, 13))  # class n-1 never true ...
        p = rng.integers(0, n - 2, size=(2, 11, 13))  # ... and classes n-2, n-1 never predicted
        t[rng.random(t.shape) < 0.15] = I
        preds.append(p)
        targets.append(t)
        cm.update(torch.from_numpy(p), torch.from_numpy(t).to(torch.uint8))
    m = cm.compute()
    ref = _numpy_reference(preds, targets, n)
    assert m.confusion == ref["confusion"]
    assert m.per_class_iou[-1] is None and m.per_class_acc[-1] is None
    for key, value in ref.items():
        if key != "confusion":
            assert getattr(m, key) == pytest.approx(value), key


def test_empty_matrix_gives_none_and_json_safe_dict() -> None:
    cm = ConfusionMatrix(3)
    cm.update(torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), I))
    m = cm.compute()
    assert m.num_pixels == 0
    assert m.pixel_acc is None and m.miou is None and m.fw_iou is None
    assert m.mean_class_acc is None and m.mean_dice is None
    assert m.per_class_iou == [None, None, None]
    json.dumps(m.to_dict(), allow_nan=False)
    pred, target = _hand_example()
    cm4 = ConfusionMatrix(4)
    cm4.update(pred, target)
    d = json.loads(json.dumps(cm4.compute().to_dict(), allow_nan=False))
    assert d["per_class_iou"][3] is None and d["miou"] == pytest.approx(1 / 3)


def test_out_of_range_values_are_reported_at_compute() -> None:
    cm = ConfusionMatrix(2)
    cm.update(torch.tensor([[[0, 1]]]), torch.tensor([[[0, 5]]]))  # 5: neither class nor ignore
    with pytest.raises(ValueError, match="1 pixel"):
        cm.compute()
    cm.reset()
    cm.update(torch.tensor([[[0, 3]]]), torch.tensor([[[0, 1]]]))  # prediction 3 of 2 classes
    with pytest.raises(ValueError, match="outside 0..1"):
        cm.compute()


def test_bad_shapes_raise() -> None:
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match="differ"):
        cm.update(torch.zeros(1, 2, 3, dtype=torch.long), torch.zeros(1, 3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="classes"):
        cm.update(torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))


def test_update_reads_nothing_back_to_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # The usual ways a value reaches the host; update must use none of them (compute may).
    def forbidden(*args, **kwargs):
        raise AssertionError("host read-back in ConfusionMatrix.update")

    pred, target = _hand_example()
    logits = torch.randn(1, 4, 2, 3)
    cm = ConfusionMatrix(4, device="cpu")
    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "nonzero", "__index__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    monkeypatch.setattr(torch, "nonzero", forbidden)
    cm.update(pred, target)
    cm.update(logits, target)
    monkeypatch.undo()
    assert cm.compute().num_pixels == 10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_update_does_not_synchronize_cuda() -> None:
    pred, target = _hand_example()
    cm = ConfusionMatrix(4, device="cuda")
    pred, target = pred.cuda(), target.cuda()
    torch.cuda.set_sync_debug_mode("error")
    try:
        cm.update(pred, target)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert cm.compute().per_class_iou == pytest.approx([1 / 3, 2 / 3, 0.0, None])


def test_reduce_from_all_processes(tmp_path) -> None:
    import torch.distributed as dist

    pred, target = _hand_example()
    cm = ConfusionMatrix(4)
    cm.update(pred, target)
    cm.reduce_from_all_processes()  # not initialised: no-op
    assert cm.compute().num_pixels == 5
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        cm.reduce_from_all_processes()  # one process: the sum is itself
    finally:
        dist.destroy_process_group()
    assert cm.compute().confusion == [[1, 1, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
