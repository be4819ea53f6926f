"""``DeepSupervisionLoss``: one loss over several decoder scales (channels-first);
the rule is :mod:`spec.deep_supervision`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from losses_torch.ops import TorchOps
from spec.deep_supervision import deep_supervision, level_weights

_OPS = TorchOps()


def _spatial_axes(output: torch.Tensor, target: torch.Tensor) -> tuple[list[int], list[int]]:
    first = 2 if target.dim() == output.dim() else 1  # dense targets keep a class axis, labels do not
    return list(range(2, output.dim())), list(range(first, target.dim()))


class DeepSupervisionLoss(nn.Module):
    """``sum_k w_k * loss(input[k], target resized to input[k])``, finest output first.

    Args:
        loss: the loss of every scale (any ``nn.Module`` loss, e.g. ``DiceCrossentropyLoss()``).
        weight_mode: ``"exp"`` (1, 1/2, 1/4, ... floored at 1/16), ``"same"`` or
            ``"two"`` (1, then 1/2), as MONAI's ``DeepSupervisionLoss``.
        weights: explicit level weights (used when long enough).
        mode: nearest-neighbour rule of the target resize, ``"nearest-exact"``
            (MONAI, TensorFlow) or ``"nearest"`` (torch's legacy mode).

    Call: ``loss(input, target)`` with ``input`` a tensor or a list of tensors
    ``(N, C, *spatial_k)`` and ``target`` full resolution, integer labels
    ``(N, *spatial)`` or dense ``(N, C, *spatial)``.
    """

    def __init__(
        self,
        loss: nn.Module,
        weight_mode: str = "exp",
        weights: Sequence[float] | None = None,
        mode: str = "nearest-exact",
    ) -> None:
        super().__init__()
        level_weights(1, weight_mode, weights)  # validates the mode now
        self.loss, self.weight_mode, self.weights, self.mode = loss, weight_mode, weights, mode

    def forward(self, input: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        outputs = list(input) if isinstance(input, (list, tuple)) else [input]
        return deep_supervision(
            _OPS,
            self.loss,
            outputs,
            target,
            spatial_axes=_spatial_axes,
            weight_mode=self.weight_mode,
            weights=self.weights,
            mode=self.mode,
        )
