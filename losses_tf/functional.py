"""Functional form of every registered loss: ``functional.<name>(y_true, y_pred, ...)``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from losses_tf._eager import EagerGraphs
from losses_tf.ops import TensorFlowOps
from spec.reduction import canonical_reduction
from spec.registry import LossSpec, evaluate, get, names

OPS = TensorFlowOps()
CLASS_AXIS = -1
MAX_CACHED = 64  # (loss, parameters) pairs with traced graphs for repeated eager calls
_GRAPHS: dict[tuple[str, str], EagerGraphs] = {}


def _eager_graphs(spec: LossSpec, params: dict[str, Any]) -> EagerGraphs | None:
    """The traced graphs of ``spec`` with bound ``params`` (``losses_tf._eager``);
    ``None`` once ``MAX_CACHED`` parameter sets have their own."""
    key = (spec.name, repr(sorted(params.items())))
    graphs = _GRAPHS.get(key)
    if graphs is None and len(_GRAPHS) < MAX_CACHED:
        graphs = _GRAPHS[key] = EagerGraphs(spec, params)
    return graphs


@functools.cache
def _function(name: str) -> Callable[..., tf.Tensor]:
    spec = get(name)

    def loss(
        y_true: Any, y_pred: Any, *, sample_weight: Any = None, reduction: str = "mean", **params: Any
    ) -> tf.Tensor:
        y_pred = tf.convert_to_tensor(y_pred)
        y_true = tf.convert_to_tensor(y_true)
        extras = {e.name: tf.convert_to_tensor(params.pop(e.name)) for e in spec.inputs.extras if e.name in params}
        bound = spec.bind(params)
        if sample_weight is not None:
            sample_weight = tf.convert_to_tensor(sample_weight)
        graphs = _eager_graphs(spec, bound) if tf.executing_eagerly() else None
        if graphs is not None:
            traced = graphs(y_pred, y_true, sample_weight, extras, canonical_reduction(reduction))
            if traced is not None:  # None: this call runs op by op
                return traced
        return evaluate(
            spec,
            bound,
            y_pred,
            y_true,
            sample_weight=sample_weight,
            reduction=reduction,
            default_class_axis=CLASS_AXIS,
            extras=extras,
            ops=OPS,
        )

    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = spec.doc
    loss.__module__ = __name__
    return loss


def __getattr__(name: str) -> Callable[..., tf.Tensor]:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return _function(name)
    except ValueError:
        raise AttributeError(f"module {__name__!r} has no loss {name!r}; registered: {', '.join(names())}") from None


def __dir__() -> list[str]:
    return sorted(names())
