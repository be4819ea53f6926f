"""Functional form of every registered loss: ``functional.<name>(y_true, y_pred, ...)``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from losses_tf.ops import TensorFlowOps
from spec.registry import evaluate, get, names

OPS = TensorFlowOps()
CLASS_AXIS = -1


@functools.cache
def _function(name: str) -> Callable[..., tf.Tensor]:
    spec = get(name)

    def loss(
        y_true: Any, y_pred: Any, *, sample_weight: Any = None, reduction: str = "mean", **params: Any
    ) -> tf.Tensor:
        y_pred = tf.convert_to_tensor(y_pred)
        y_true = tf.convert_to_tensor(y_true)
        extras = {e.name: tf.convert_to_tensor(params.pop(e.name)) for e in spec.inputs.extras if e.name in params}
        return evaluate(
            spec,
            spec.bind(params),
            y_pred,
            y_true,
            sample_weight=None if sample_weight is None else tf.convert_to_tensor(sample_weight),
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
