"""``DeepSupervisionLoss`` for Keras: one loss over several decoder scales
(channels-last); the rule is :mod:`spec.deep_supervision`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from losses_tf.ops import TensorFlowOps
from spec.deep_supervision import deep_supervision, level_weights

_OPS = TensorFlowOps()


def _spatial_axes(output: tf.Tensor, target: tf.Tensor) -> tuple[list[int], list[int]]:
    rank, target_rank = len(output.shape), len(target.shape)
    last = target_rank - 1 if target_rank == rank else target_rank  # dense targets keep a class axis
    return list(range(1, rank - 1)), list(range(1, last))


class DeepSupervisionLoss:
    """``sum_k w_k * loss(y_true resized to y_pred[k], y_pred[k])``, finest output first.

    Args:
        loss: the loss of every scale (a ``keras.losses.Loss``, e.g. ``DiceCrossentropyLoss()``).
        weight_mode: ``"exp"``, ``"same"`` or ``"two"`` (see the torch class, MONAI's rule).
        weights: explicit level weights (used when long enough).
        mode: ``"nearest-exact"`` or ``"nearest"`` target resize.

    Call: ``loss(y_true, y_pred)`` with ``y_pred`` a tensor or a list of
    tensors ``(N, *spatial_k, C)`` and ``y_true`` full resolution, integer
    labels ``(N, *spatial)`` or dense ``(N, *spatial, C)``; use it from a
    ``compute_loss`` override or a custom training step (``compile`` would
    apply a loss to each output separately).
    """

    def __init__(
        self, loss: Any, weight_mode: str = "exp", weights: Sequence[float] | None = None, mode: str = "nearest-exact"
    ) -> None:
        level_weights(1, weight_mode, weights)
        self.loss, self.weight_mode, self.weights, self.mode = loss, weight_mode, weights, mode

    def __call__(self, y_true: Any, y_pred: Any) -> tf.Tensor:
        outputs = [tf.convert_to_tensor(o) for o in (y_pred if isinstance(y_pred, (list, tuple)) else [y_pred])]
        return deep_supervision(
            _OPS,
            lambda output, target: self.loss(target, output),
            outputs,
            tf.convert_to_tensor(y_true),
            spatial_axes=_spatial_axes,
            weight_mode=self.weight_mode,
            weights=self.weights,
            mode=self.mode,
        )
