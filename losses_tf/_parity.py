"""TensorFlow side of the parity matrix: value and gradient of a Keras loss class."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from losses_tf.losses import loss_class
from spec.registry import LossSpec


def _tensor(array: np.ndarray, dtype: str) -> tf.Tensor:
    return tf.constant(array) if np.issubdtype(array.dtype, np.integer) else tf.constant(array, dtype=dtype)


def value_and_grad(
    spec: LossSpec,
    params: dict[str, Any],
    reduction: str,
    y_pred: np.ndarray,
    y_true: np.ndarray,
    sample_weight: np.ndarray | None,
    dtype: str,
    extras: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss value and d(sum of value)/d y_pred through the ``keras.losses.Loss`` class."""
    loss = loss_class(spec)(reduction=reduction, dtype=dtype, **params)
    x = tf.constant(y_pred, dtype=dtype)
    t, w = _tensor(y_true, dtype), None if sample_weight is None else _tensor(sample_weight, dtype)
    e = {k: _tensor(v, dtype) for k, v in (extras or {}).items()}
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(t, x, sample_weight=w, **e)
        total = tf.reduce_sum(value)
    grad = tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return value.numpy().astype(np.float64), grad.numpy().astype(np.float64)


def call_value_and_grad(fn: Any, y_pred: np.ndarray, y_true: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A user's Keras/TensorFlow loss ``fn(y_true, y_pred)`` and d(sum of value)/d y_pred (``crosscheck``)."""
    x = tf.constant(y_pred, dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(_tensor(y_true, dtype), x)
        if not tf.is_tensor(value):
            raise TypeError(f"the TensorFlow loss returned {type(value).__name__}, expected a tensor")
        total = tf.reduce_sum(value)
    grad = tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return np.asarray(value, dtype=np.float64), np.asarray(grad, dtype=np.float64)
