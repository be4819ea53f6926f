"""``keras.losses.Loss`` classes generated from the spec registry."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf

from losses_tf._eager import EagerGraphs
from losses_tf.ops import TensorFlowOps
from spec import config as neutral
from spec.framework import class_doc, init_signature, non_default
from spec.reduction import canonical_reduction
from spec.registry import LossSpec, evaluate, get

OPS = TensorFlowOps()
CLASS_AXIS = -1  # Keras layout: channels-last

_FRAMEWORK_ARGS = """        reduction: "sum_over_batch_size" (default; the neutral "mean"), "sum" or "none".
        name: display name (defaults to the spec name).
        dtype: computation dtype; inputs are cast to it (Keras' float32 by default).  A
            float16/bfloat16 dtype rounds the inputs, the loss is still computed in float32
            and returned as float32 (the mixed-precision rule).

    Call: ``loss(y_true, y_pred, sample_weight=None)``, as every Keras loss;
    extra inputs (if the loss has any) by keyword."""


def _to_tensor(x: Any) -> tf.Tensor:
    return x if tf.is_tensor(x) else tf.convert_to_tensor(x)


# each loss instance's traced graphs for repeated eager calls (kept off the
# instance, so copying or serialising a loss never meets a tf.function)
_GRAPHS: weakref.WeakKeyDictionary[SpecLoss, EagerGraphs] = weakref.WeakKeyDictionary()


def _replica_share(value: tf.Tensor, reduction: str, sync: bool) -> tf.Tensor:
    """Keras' rule under ``tf.distribute``: a replica's loss is its share of the step's loss.

    ``model.fit`` sums the replicas' gradients and multiplies the logged loss by the number of
    replicas ``W``, so a Keras loss divides its ``"mean"`` by ``W`` (its ``"sum"`` is already a
    share: the replicas' sums add up to the global one).  With ``sync=True`` every replica holds
    the global value, whatever the reduction, so each contributes ``1 / W`` of it.
    """
    if reduction == "none" or (reduction == "sum" and not sync):
        return value
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value if replicas == 1 else value * tf.constant(1.0 / replicas, dtype=value.dtype)


class SpecLoss(keras.losses.Loss):
    """Base of every generated Keras loss: a thin shell over the spec."""

    spec: LossSpec

    def __init__(
        self,
        *,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
        **params: Any,
    ) -> None:
        self.params = self.spec.bind(params)
        self._neutral_reduction = canonical_reduction(reduction)
        super().__init__(name=name or self.spec.name, reduction=self._neutral_reduction, dtype=dtype)
        self._dtype_arg = dtype

    def _prepare(self, y_true: Any, y_pred: Any) -> tuple[tf.Tensor, tf.Tensor]:
        y_pred = _to_tensor(y_pred)
        y_true = _to_tensor(y_true)
        if y_pred.dtype.is_floating and y_pred.dtype.name != self.dtype:
            y_pred = tf.cast(y_pred, self.dtype)
        if self.spec.inputs.labels and y_true.dtype.is_floating and self._looks_like_labels(y_true, y_pred):
            # Keras' sparse losses accept float labels and cast them.
            y_true = tf.cast(y_true, tf.int64)
        elif y_true.dtype.is_floating and y_true.dtype != y_pred.dtype:
            y_true = tf.cast(y_true, y_pred.dtype)
        if (
            self.spec.inputs.kind == "elementwise"
            and self.spec.inputs.target == "prediction"
            and y_true.shape.rank == y_pred.shape.rank - 1
            and y_pred.shape[-1] == 1
        ):
            y_true = tf.expand_dims(y_true, -1)  # Keras pairs (N,) targets with (N, 1) outputs
        return y_true, y_pred

    def _looks_like_labels(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> bool:
        if y_true.shape.rank == y_pred.shape.rank - 1:
            return True
        axis = self.params.get("class_axis")
        axis = CLASS_AXIS if axis is None else axis
        return y_true.shape.rank == y_pred.shape.rank and y_true.shape[axis] == 1 and (y_pred.shape[axis] or 0) > 1

    def _evaluate(
        self, y_true: Any, y_pred: Any, sample_weight: Any, reduction: str, extras: dict | None = None
    ) -> tf.Tensor:
        y_true, y_pred = self._prepare(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = _to_tensor(sample_weight)
        extras = {k: _to_tensor(v) for k, v in (extras or {}).items()}
        if tf.executing_eagerly():
            traced = self._eager_graphs()(y_pred, y_true, sample_weight, extras, reduction)
            if traced is not None:  # None: this call runs op by op
                return traced
        return evaluate(
            self.spec,
            self.params,
            y_pred,
            y_true,
            sample_weight=sample_weight,
            reduction=reduction,
            default_class_axis=CLASS_AXIS,
            extras=extras,
            ops=OPS,
        )

    def _eager_graphs(self) -> EagerGraphs:
        """This loss's traced graphs for repeated eager calls (``losses_tf._eager``)."""
        graphs = _GRAPHS.get(self)
        if graphs is None:
            graphs = _GRAPHS[self] = EagerGraphs(self.spec, self.params)
        return graphs

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None, **extras: Any) -> tf.Tensor:
        # The spec applies sample_weight and the reduction itself (class-weight
        # and ignore-index normalisation would be lost in Keras' generic one).
        with tf.name_scope(self.name):
            value = self._evaluate(y_true, y_pred, sample_weight, self._neutral_reduction, extras)
            return _replica_share(value, self._neutral_reduction, bool(self.params.get("sync")))

    def call(self, y_true: Any, y_pred: Any) -> tf.Tensor:
        """Unreduced loss elements."""
        return self._evaluate(y_true, y_pred, None, "none")

    def get_config(self) -> dict[str, Any]:
        """The neutral config plus Keras extras; ``from_config`` of either framework accepts it."""
        return neutral.to_config(
            self.spec,
            self.params,
            reduction=self._neutral_reduction,
            dtype=self._dtype_arg if isinstance(self._dtype_arg, str) else None,
            display_name=self.name if self.name != self.spec.name else None,
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SpecLoss:
        spec, params, extras = neutral.from_config(config)
        if spec is not cls.spec:
            raise ValueError(f"{cls.__name__} is the {cls.spec.name!r} loss, got a config for {spec.name!r}")
        return _instantiate(cls, params, extras)

    def __repr__(self) -> str:
        shown = non_default(self.spec, self.params)
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def _instantiate(cls: type[SpecLoss], params: dict, extras: dict) -> SpecLoss:
    return cls(reduction=extras["reduction"], name=extras.get("display_name"), dtype=extras.get("dtype"), **params)


@functools.cache
def _build(spec: LossSpec) -> type[SpecLoss]:
    def __init__(
        self,
        *,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
        **params: Any,
    ) -> None:
        SpecLoss.__init__(self, reduction=reduction, name=name, dtype=dtype, **params)

    __init__.__signature__ = init_signature(  # type: ignore[attr-defined]
        spec, [("reduction", "sum_over_batch_size"), ("name", None), ("dtype", None)]
    )
    cls = type(
        spec.class_name,
        (SpecLoss,),
        {"spec": spec, "__init__": __init__, "__doc__": class_doc(spec, _FRAMEWORK_ARGS), "__module__": "losses_tf"},
    )
    return keras.saving.register_keras_serializable(package="lossbridge", name=spec.class_name)(cls)


def loss_class(name: str | LossSpec) -> type[SpecLoss]:
    """The ``keras.losses.Loss`` class of a registered loss (built-in or user-defined)."""
    return _build(get(name) if isinstance(name, str) else name)


def from_config(config: Mapping[str, Any] | str) -> Any:
    """Build a Keras loss from a neutral config (written by either framework);
    a multi-task config (key ``"outputs"``) gives a ``MultiTaskLoss``."""
    config = neutral.load(config)
    if neutral.is_multitask(config):
        from losses_tf.multitask import MultiTaskLoss

        return MultiTaskLoss.from_config(config)
    spec, params, extras = neutral.from_config(config)
    return _instantiate(loss_class(spec), params, extras)
