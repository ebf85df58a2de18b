"""Losses built from other losses: a weighted sum of terms, and the main + aux wrapper for model outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

ModelOutput = Mapping[str, "Tensor | Sequence[Tensor]"]


class SumLoss(nn.Module):
    """sum_i weight_i * loss_i(logits, target), e.g. cross-entropy + Dice."""

    def __init__(self, losses: Sequence[nn.Module], weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if not losses:
            raise ValueError("SumLoss needs at least one loss")
        weights = [1.0] * len(losses) if weights is None else [float(w) for w in weights]
        if len(weights) != len(losses):
            raise ValueError(f"{len(losses)} losses but {len(weights)} weights")
        self.losses = nn.ModuleList(losses)
        self.weights = weights

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        total = self.weights[0] * self.losses[0](logits, target)
        for weight, loss in zip(self.weights[1:], self.losses[1:]):
            total = total + weight * loss(logits, target)
        return total

    def extra_repr(self) -> str:
        return f"weights={self.weights}"


class SegmentationLoss(nn.Module):
    """Loss of a segcore model's output dict: `L(out["out"], y) + aux_weight * sum(L(a, y) for a in out["aux"])`.

    `aux_weight` defaults to torchvision's 0.4 (references/segmentation). "aux" may be
    missing or empty (eval mode, models without aux heads). A bare logits tensor is also
    accepted as the output.
    """

    def __init__(self, loss: nn.Module, aux_weight: float = 0.4) -> None:
        super().__init__()
        if aux_weight < 0:
            raise ValueError(f"aux_weight must be >= 0, got {aux_weight}")
        self.loss = loss
        self.aux_weight = aux_weight

    def forward(self, output: ModelOutput | Tensor, target: Tensor) -> Tensor:
        return self.forward_with_parts(output, target)[0]

    def forward_with_parts(self, output: ModelOutput | Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The total loss and, for logging, detached parts: "main", "aux" (unweighted sum; 0 without aux heads)."""
        if isinstance(output, Tensor):
            output = {"out": output}
        if "out" not in output:
            raise ValueError(f"the model output has no 'out' entry (keys: {sorted(output)})")
        main = self.loss(output["out"], target)
        aux_outputs = output.get("aux")
        if aux_outputs is None:
            aux_outputs = ()
        elif isinstance(aux_outputs, Tensor):
            aux_outputs = (aux_outputs,)
        aux = torch.zeros((), device=main.device, dtype=main.dtype)
        for aux_logits in aux_outputs:
            aux = aux + self.loss(aux_logits, target)
        total = main + self.aux_weight * aux if len(aux_outputs) else main
        return total, {"main": main.detach(), "aux": aux.detach()}

    def extra_repr(self) -> str:
        return f"aux_weight={self.aux_weight}"
