"""NumPy backend: the float64 reference every framework is compared with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spec.ops import Ops, pool_padding


def _axis(axis: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


class NumpyOps(Ops):
    name = "numpy"

    def shape(self, x):
        return tuple(int(d) for d in np.shape(x))

    def is_integer(self, x):
        return np.issubdtype(np.asarray(x).dtype, np.integer)

    def is_floating(self, x):
        return np.issubdtype(np.asarray(x).dtype, np.floating)

    def dtype_name(self, x):
        return str(np.asarray(x).dtype)

    def value_range(self, x):
        x = np.asarray(x)
        return (x.min().item(), x.max().item()) if x.size else (0.0, 0.0)

    def count_where(self, x):
        return int(np.count_nonzero(x))

    def first_where(self, cond, values):
        return np.asarray(values)[np.asarray(cond)].flat[0].item()

    def constant(self, value: Any, like):
        return np.asarray(value, dtype=np.asarray(like).dtype)

    def cast(self, x, like):
        return np.asarray(x).astype(np.asarray(like).dtype)

    def to_float32(self, x):
        return np.asarray(x).astype(np.float32)

    def reshape(self, x, shape):
        return np.reshape(x, tuple(shape))

    def moveaxis(self, x, source, destination):
        return np.moveaxis(x, source, destination)

    def expand_dims(self, x, axis):
        return np.expand_dims(x, axis)

    def stack(self, xs, axis=0):
        return np.stack(xs, axis=axis)

    def exp(self, x):
        return np.exp(x)

    def log(self, x):
        with np.errstate(divide="ignore"):
            return np.log(x)

    def abs(self, x):
        return np.abs(x)

    def power(self, x, exponent):
        return np.power(x, exponent)

    def sigmoid(self, x):
        return np.exp(self.log_sigmoid(x))

    def log_sigmoid(self, x):
        return -np.logaddexp(0.0, -np.asarray(x))

    def softmax(self, x, axis):
        return np.exp(self.log_softmax(x, axis))

    def log_softmax(self, x, axis):
        x = np.asarray(x)
        shift = x.max(axis=axis, keepdims=True)
        return x - shift - np.log(np.exp(x - shift).sum(axis=axis, keepdims=True))

    def where(self, cond, a, b):
        dtype = next((np.asarray(v).dtype for v in (a, b) if isinstance(v, np.ndarray)), np.float64)
        return np.where(cond, np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype))

    def equal(self, a, b):
        return np.equal(a, b)

    def not_equal(self, a, b):
        return np.not_equal(a, b)

    def less(self, a, b):
        return np.less(a, b)

    def less_equal(self, a, b):
        return np.less_equal(a, b)

    def greater(self, a, b):
        return np.greater(a, b)

    def logical_and(self, a, b):
        return np.logical_and(a, b)

    def sum(self, x, axis=None, keepdims=False):
        return np.sum(x, axis=_axis(axis), keepdims=keepdims)

    def mean(self, x, axis=None, keepdims=False):
        return np.mean(x, axis=_axis(axis), keepdims=keepdims)

    def amax(self, x, axis=None, keepdims=False):
        return np.amax(x, axis=_axis(axis), keepdims=keepdims)

    def one_hot(self, labels, depth, axis, like):
        labels = np.expand_dims(np.asarray(labels), axis)
        classes = np.arange(depth).reshape([depth if d == axis % labels.ndim else 1 for d in range(labels.ndim)])
        return (labels == classes).astype(np.asarray(like).dtype)

    def take_along_axis(self, x, index, axis):
        return np.take_along_axis(np.asarray(x), np.asarray(index), axis=axis)

    def gather(self, vector, index):
        return np.asarray(vector)[np.asarray(index)]

    def stop_gradient(self, x):
        return x

    def sort(self, x, axis, descending=False):
        x = np.asarray(x)
        # a stable ascending sort of -x is a stable descending sort of x
        order = np.argsort(-x if descending else x, axis=axis, kind="stable")
        return np.take_along_axis(x, order, axis=axis), order

    def reorder(self, x, permutation, axis):
        return np.take_along_axis(np.asarray(x), np.asarray(permutation), axis=axis)

    def cumsum(self, x, axis):
        return np.cumsum(x, axis=axis)

    def max_pool(self, x, window, axes):
        # One axis at a time (the maximum is associative, so the values equal
        # the joint window's; the NumPy reference has no gradient to share),
        # each neighbour offset folded in by slicing: no padded copy.
        x = np.asarray(x)
        for axis, half in pool_padding(window, axes, x.ndim):
            pooled = x.copy()
            size = x.shape[axis]
            for offset in range(1, min(half, size - 1) + 1):
                head, tail = [slice(None)] * x.ndim, [slice(None)] * x.ndim
                head[axis], tail[axis] = slice(0, size - offset), slice(offset, size)
                head, tail = tuple(head), tuple(tail)
                np.maximum(pooled[head], x[tail], out=pooled[head])  # the neighbour `offset` after
                np.maximum(pooled[tail], x[head], out=pooled[tail])  # the neighbour `offset` before
            x = pooled
        return x
