"""``MultiTaskLoss`` for Keras: the multi-output rule of :mod:`spec.multitask`
(Keras 3's own ``compile(loss=..., loss_weights=...)`` semantics), returning
the total and the unweighted per-term values."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from losses_tf.ops import TensorFlowOps
from spec import multitask
from spec.weighting import Weighting
from spec.weighting import resolve as resolve_weighting

_OPS = TensorFlowOps()


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

        self.weighting = resolve_weighting(weighting)
        self.terms = multitask.plan(losses, loss_weights, output_names, lambda v: isinstance(v, keras.losses.Loss))
        self.weighting.check_terms(len(self.terms))
        self.output_names = multitask.output_order(self.terms, output_names)
        self.term_losses = {
            t.name: t.loss if isinstance(t.loss, keras.losses.Loss) else from_config(t.loss) for t in self.terms
        }
        # trainable weighting state (e.g. log-variances); a Keras model that
        # trains it owns it (see KerasStyleModel), this is its initial value
        self.initial_state = self.weighting.trainable_state(len(self.terms))

    def parts(self, y_true: Any, y_pred: Any) -> dict[str, tf.Tensor]:
        """Each term's unweighted value, by term name."""
        y_true = multitask.by_output(y_true, self.output_names, "y_true")
        y_pred = multitask.by_output(y_pred, self.output_names, "y_pred")
        return {t.name: self.term_losses[t.name](y_true[t.output], y_pred[t.output]) for t in self.terms}

    def __call__(self, y_true: Any, y_pred: Any, state: Any = None) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Evaluate (no state changes): the fixed sum, or the weighting at
        ``state`` and its initial buffers; training goes through KerasStyleModel."""
        parts = self.parts(y_true, y_pred)
        values = multitask.term_values(parts, self.terms)
        if self.initial_state is not None:
            if state is None:
                raise ValueError(
                    f"weighting {self.weighting.name!r} has trainable state: pass state= (a variable of "
                    f"{len(self.initial_state)} values), or train through losses_tf.KerasStyleModel"
                )
            state = tf.cast(tf.convert_to_tensor(state), values[0].dtype)
        buffers = {
            name: tf.constant(value, dtype=values[0].dtype if value.dtype.kind == "f" else tf.int64)
            for name, value in self.weighting.buffers(len(self.terms)).items()
        }
        return self.weighting.objective(_OPS, values, state, buffers, training=False), parts

    def get_config(self) -> dict[str, Any]:
        """The neutral multi-task config (both frameworks' ``from_config`` accept it)."""
        return multitask.to_config(self.terms, self.term_losses, self.weighting.config())

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MultiTaskLoss:
        losses, loss_weights, weighting = multitask.parse_config(config)
        return cls(losses, loss_weights, weighting)


@keras.saving.register_keras_serializable(package="lossbridge")
class KerasStyleModel(keras.Model):
    """Wrap a multi-output Keras model so that ``fit`` trains it on a
    :class:`MultiTaskLoss` with any weighting method, logging ``loss`` and
    ``<term>_loss`` (unweighted, batch-size-weighted epoch means) like
    ``compile(loss=..., loss_weights=...)``.

    Args:
        model: the Keras model; its outputs are a dict by output name (or a list).
        loss, loss_weights, weighting: as :class:`MultiTaskLoss`.
        shared: names of the layers of ``model`` holding the shared weights
            the gradient-based methods read (all shared layers for
            MGDA/PCGrad/CAGrad, the last shared layer for GradNorm).

    Compile it with an optimizer (and metrics if wanted), not a loss:
    ``wrapped.compile(optimizer=...)``.  Trainable weighting state is the
    weight ``weighting_state``; other state (counters, loss history, initial
    losses) are non-trainable weights ``weighting_<name>``; ``model.save`` and
    ``keras.models.load_model`` keep both.  ``fit`` adds a callback that ends
    the weighting's epoch (DWA).  Gradient-based methods override
    ``train_step`` (TensorFlow backend) to read per-task gradients from the
    step's own tape.
    """

    def __init__(
        self,
        model: keras.Model,
        loss: Any,
        loss_weights: Any = None,
        weighting: Any = None,
        shared: Sequence[str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.model = model
        self.multitask = loss if isinstance(loss, MultiTaskLoss) else MultiTaskLoss(loss, loss_weights, weighting)
        self.shared = list(shared) if shared is not None else None
        method = self.multitask.weighting
        if method.requires != "losses" and not self.shared:
            raise ValueError(
                f"weighting {method.name!r} needs shared= (names of the layers holding the shared weights; "
                f"the last shared layer for gradnorm); layers of the model: {[layer.name for layer in model.layers]}"
            )
        initial = self.multitask.initial_state
        self.weighting_state = None
        if initial is not None:
            self.weighting_state = self.add_weight(
                shape=(len(initial),), initializer=keras.initializers.Constant(initial), name="weighting_state"
            )
        self.weighting_buffers = {}
        for name, value in method.buffers(len(self.multitask.terms)).items():
            self.weighting_buffers[name] = self.add_weight(
                shape=value.shape,
                initializer=lambda shape, dtype, value=value: keras.ops.cast(value, dtype),
                dtype="int64" if value.dtype.kind == "i" else None,
                trainable=False,
                name=f"weighting_{name}",
            )
        self.term_trackers = [keras.metrics.Mean(name=f"{t.name}_loss") for t in self.multitask.terms]

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.model(inputs, training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "loss": self.multitask.get_config(),
            "shared": self.shared,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasStyleModel:
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        loss = MultiTaskLoss.from_config(config.pop("loss"))
        return cls(model, loss, shared=config.get("shared"), **{k: v for k, v in config.items() if k in ("name",)})

    def _shared_variables(self) -> list:
        return [w for name in self.shared for w in self.model.get_layer(name).trainable_weights]

    def _objective(self, x: Any, y: Any, y_pred: Any, training: bool, tape: Any = None) -> tf.Tensor:
        method = self.multitask.weighting
        parts = self.multitask.parts(y, y_pred)
        values = multitask.term_values(parts, self.multitask.terms)
        dtype = values[0].dtype
        buffers = {
            k: v.value if v.dtype == "int64" else tf.cast(v.value, dtype) for k, v in self.weighting_buffers.items()
        }
        state = None if self.weighting_state is None else tf.cast(self.weighting_state.value, dtype)
        coefficients = norms = None
        if training:
            if state is not None:
                prepared = method.prepare(_OPS, state)
                if prepared is not None:
                    self.weighting_state.assign(tf.cast(prepared, self.weighting_state.dtype))
                    state = tf.cast(self.weighting_state.value, dtype)
            gram = tf.zeros((0, 0), tf.float64)
            if method.requires != "losses":
                with tape.stop_recording():
                    flat = self._task_gradients(tape, values)
                if method.requires == "gramian":
                    gram = tf.cast(tf.matmul(flat, flat, transpose_b=True), tf.float64)
                else:
                    norms = tf.unstack(tf.norm(flat, axis=1))
            step = buffers.get("step", tf.constant(0, tf.int64))
            count = len(values)

            def host(step, gram):
                result = method.coefficients(int(step), count, gram if gram.size else None)
                return np.zeros(count) if result is None else np.asarray(result, dtype=np.float64)

            if type(method).coefficients is not Weighting.coefficients:
                coefficients = tf.cast(tf.numpy_function(host, [step, gram], tf.float64, stateful=False), dtype)
                coefficients = tf.ensure_shape(coefficients, (count,))
        total = method.objective(
            _OPS, values, state, buffers, training=training, coefficients=coefficients, norms=norms
        )
        if training:
            size = tf.cast(tf.shape(_first_leaf(x))[0], dtype)
            detached = [tf.stop_gradient(v) for v in values]
            for name, value in method.step_update(_OPS, detached, buffers, size).items():
                variable = self.weighting_buffers[name]
                variable.assign(tf.cast(value, variable.dtype))
        size = tf.shape(_first_leaf(x))[0]
        for tracker, term in zip(self.term_trackers, self.multitask.terms, strict=True):
            tracker.update_state(parts[term.name], sample_weight=size)
        if self.losses:
            total = total + keras.ops.sum(self.losses)
        return total

    def _task_gradients(self, tape: Any, values: list) -> tf.Tensor:
        variables = self._shared_variables()
        rows = []
        for value in values:
            grads = tape.gradient(value, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            rows.append(tf.concat([tf.reshape(tf.cast(g, value.dtype), [-1]) for g in grads], axis=0))
        return tf.stack(rows)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self._objective(x, y, y_pred, training)

    def train_step(self, data):
        if self.multitask.weighting.requires == "losses":
            return super().train_step(data)
        # Keras' TensorFlow train_step, with a persistent tape the weighting
        # reads per-task gradients from
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape(persistent=True) as tape:
            y_pred = self(x, training=True)
            loss = self._objective(x, y, y_pred, training=True, tape=tape)
            self._loss_tracker.update_state(loss, sample_weight=tf.shape(_first_leaf(x))[0])
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_weights
        gradients = tape.gradient(scaled, variables)
        del tape
        self.optimizer.apply(gradients, variables)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def fit(self, *args, **kwargs):
        bound = inspect.signature(keras.Model.fit).bind(self, *args, **kwargs)
        callbacks = list(bound.arguments.get("callbacks") or [])
        if self.weighting_buffers and not any(isinstance(c, EndWeightingEpoch) for c in callbacks):
            bound.arguments["callbacks"] = [*callbacks, EndWeightingEpoch()]
        return keras.Model.fit(*bound.args, **bound.kwargs)

    def end_epoch(self) -> None:
        """Advance the epoch statistics of the weighting (DWA)."""
        update = self.multitask.weighting.epoch_update({k: v.numpy() for k, v in self.weighting_buffers.items()})
        for name, value in update.items():
            self.weighting_buffers[name].assign(value)


class EndWeightingEpoch(keras.callbacks.Callback):
    """Ends the weighting's epoch after each training epoch (added by ``KerasStyleModel.fit``)."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.end_epoch()


def _first_leaf(x: Any) -> Any:
    """The first non-None leaf of a structure of tensors (Keras' batch-size source)."""
    return next(leaf for leaf in keras.tree.flatten(x) if leaf is not None)
