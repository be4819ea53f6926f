"""``MultiTaskLoss`` for Keras: the multi-output rule of :mod:`spec.multitask`
(Keras 3's own ``compile(loss=..., loss_weights=...)`` semantics), returning
the total and the unweighted per-term values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf

from spec import multitask
from spec.weighting import resolve as resolve_weighting


class MultiTaskLoss:
    """Weighted sum of per-output losses.

    Args:
        losses: one loss for every output, a list (one per output) or a dict by
            output name; entries are ``keras.losses.Loss`` objects, registered
            spec names, Keras strings, neutral configs, ``None``, or lists.
        loss_weights: None, a float, a list or a dict by output name.
        weighting: ``None`` (fixed) or a method of :mod:`spec.weighting`.
        output_names: output names in order, for a single loss or a list.

    Call: ``total, parts = loss(y_true, y_pred)`` with dicts keyed by output
    name (or lists in output order), Keras' argument order; a weighting with
    trainable state also takes ``state=``.
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

        self.weighting, self.weighting_params = resolve_weighting(weighting)
        self.terms = multitask.plan(losses, loss_weights, output_names, lambda v: isinstance(v, keras.losses.Loss))
        self.output_names = multitask.output_order(self.terms, output_names)
        self.term_losses = {
            t.name: t.loss if isinstance(t.loss, keras.losses.Loss) else from_config(t.loss) for t in self.terms
        }
        # trainable weighting state (e.g. log-variances); a Keras model that
        # trains it owns it (see KerasStyleModel), this is its initial value
        self.initial_state = self.weighting.initial_state(self.weighting_params, len(self.terms))

    def __call__(self, y_true: Any, y_pred: Any, state: Any = None) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        y_true = multitask.by_output(y_true, self.output_names, "y_true")
        y_pred = multitask.by_output(y_pred, self.output_names, "y_pred")
        parts = {t.name: self.term_losses[t.name](y_true[t.output], y_pred[t.output]) for t in self.terms}
        if self.initial_state is None:
            return multitask.weighted_total(parts, self.terms), parts
        if state is None:
            raise ValueError(
                f"weighting {self.weighting.name!r} has trainable state: pass state= (a variable of "
                f"{len(self.terms)} values), or train through losses_tf.KerasStyleModel"
            )
        state = tf.cast(tf.convert_to_tensor(state), next(iter(parts.values())).dtype)
        return multitask.total_loss(parts, self.terms, self.weighting, self.weighting_params, state), parts

    def get_config(self) -> dict[str, Any]:
        """The neutral multi-task config (both frameworks' ``from_config`` accept it)."""
        weighting = {"name": self.weighting.name, "params": dict(self.weighting_params)}
        return multitask.to_config(self.terms, self.term_losses, weighting)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MultiTaskLoss:
        losses, loss_weights, weighting = multitask.parse_config(config)
        return cls(losses, loss_weights, weighting)


@keras.saving.register_keras_serializable(package="lossbridge")
class KerasStyleModel(keras.Model):
    """Wrap a multi-output Keras model so that ``fit`` trains it on a
    :class:`MultiTaskLoss`, weighting state included, logging ``loss`` and
    ``<term>_loss`` (unweighted) like ``compile(loss=..., loss_weights=...)``.

    Compile it with an optimizer only: ``wrapped.compile(optimizer=...)``.
    """

    def __init__(self, model: keras.Model, loss: Any, loss_weights: Any = None, weighting: Any = None, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.multitask = loss if isinstance(loss, MultiTaskLoss) else MultiTaskLoss(loss, loss_weights, weighting)
        initial = self.multitask.initial_state
        self.weighting_state = None
        if initial is not None:
            self.weighting_state = self.add_weight(
                shape=(len(initial),), initializer=keras.initializers.Constant(initial), name="weighting_state"
            )
        self.term_trackers = [keras.metrics.Mean(name=f"{t.name}_loss") for t in self.multitask.terms]

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.model(inputs, training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "loss": self.multitask.get_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasStyleModel:
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        loss = MultiTaskLoss.from_config(config.pop("loss"))
        return cls(model, loss, **{k: v for k, v in config.items() if k in ("name",)})

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        total, parts = self.multitask(y, y_pred, state=self.weighting_state)
        for tracker, term in zip(self.term_trackers, self.multitask.terms, strict=True):
            tracker.update_state(parts[term.name])
        if self.losses:
            total = total + keras.ops.sum(self.losses)
        return total
