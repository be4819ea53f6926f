"""``MultiTaskLoss`` for Keras: the multi-output rule of :mod:`spec.multitask`
(Keras 3's own ``compile(loss=..., loss_weights=...)`` semantics), returning
the total and the unweighted per-term values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf

from spec import multitask


class MultiTaskLoss:
    """Weighted sum of per-output losses.

    Args:
        losses: one loss for every output, a list (one per output) or a dict by
            output name; entries are ``keras.losses.Loss`` objects, registered
            spec names, Keras strings, neutral configs, ``None``, or lists.
        loss_weights: None, a float, a list or a dict by output name.
        weighting: ``None`` or ``{"name": "fixed"}``.
        output_names: output names in order, for a single loss or a list.

    Call: ``total, parts = loss(y_true, y_pred)`` with dicts keyed by output
    name (or lists in output order), Keras' argument order.
    """

    def __init__(
        self,
        losses: Any,
        loss_weights: Any = None,
        weighting: Any = None,
        *,
        output_names: Sequence[str] | None = None,
    ) -> None:
        from losses_tf.losses import from_config

        multitask.check_weighting(weighting)
        self.terms = multitask.plan(losses, loss_weights, output_names, lambda v: isinstance(v, keras.losses.Loss))
        self.output_names = multitask.output_order(self.terms, output_names)
        self.term_losses = {
            t.name: t.loss if isinstance(t.loss, keras.losses.Loss) else from_config(t.loss) for t in self.terms
        }

    def __call__(self, y_true: Any, y_pred: Any) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        y_true = multitask.by_output(y_true, self.output_names, "y_true")
        y_pred = multitask.by_output(y_pred, self.output_names, "y_pred")
        parts = {t.name: self.term_losses[t.name](y_true[t.output], y_pred[t.output]) for t in self.terms}
        return multitask.weighted_total(parts, self.terms), parts

    def get_config(self) -> dict[str, Any]:
        """The neutral multi-task config (both frameworks' ``from_config`` accept it)."""
        return multitask.to_config(self.terms, self.term_losses)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MultiTaskLoss:
        losses, loss_weights, weighting = multitask.parse_config(config)
        return cls(losses, loss_weights, weighting)
