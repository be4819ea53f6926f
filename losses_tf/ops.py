"""TensorFlow backend of the ops protocol."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from spec.ops import Ops, composite_forced, pool_padding


def _axis(axis: int | Sequence[int] | None) -> int | list[int] | None:
    return list(axis) if isinstance(axis, (list, tuple)) else axis


class TensorFlowOps(Ops):
    name = "tensorflow"

    def shape(self, x):
        return tuple(int(d) if d is not None else -1 for d in x.shape)

    def is_integer(self, x):
        return x.dtype.is_integer

    def is_floating(self, x):
        return x.dtype.is_floating

    def dtype_name(self, x):
        return x.dtype.name

    def is_tracing(self, x):
        return not tf.executing_eagerly()

    def value_range(self, x):
        if tf.size(x) == 0:
            return 0.0, 0.0
        if x.dtype == tf.bool:
            x = tf.cast(x, tf.int32)
        return tf.reduce_min(x).numpy().item(), tf.reduce_max(x).numpy().item()

    def count_where(self, x):
        return int(tf.math.count_nonzero(x))

    def first_where(self, cond, values):
        return tf.boolean_mask(values, cond)[0].numpy().item()

    def constant(self, value: Any, like):
        return tf.constant(value, dtype=like.dtype)

    def cast(self, x, like):
        return tf.cast(x, like.dtype)

    def reshape(self, x, shape):
        return tf.reshape(x, list(shape))

    def moveaxis(self, x, source, destination):
        return tf.experimental.numpy.moveaxis(x, source, destination)

    def expand_dims(self, x, axis):
        return tf.expand_dims(x, axis)

    def stack(self, xs, axis=0):
        return tf.stack(list(xs), axis=axis)

    def exp(self, x):
        return tf.exp(x)

    def log(self, x):
        return tf.math.log(x)

    def abs(self, x):
        return tf.abs(x)

    def power(self, x, exponent):
        return tf.pow(x, tf.constant(exponent, dtype=x.dtype))

    def sigmoid(self, x):
        return tf.sigmoid(x)

    def log_sigmoid(self, x):
        return tf.math.log_sigmoid(x)

    def softmax(self, x, axis):
        return tf.nn.softmax(x, axis=axis)

    def log_softmax(self, x, axis):
        return tf.nn.log_softmax(x, axis=axis)

    def where(self, cond, a, b):
        # Python numbers take the dtype of the tensor branch (TF refuses mixed widths).
        if not tf.is_tensor(a):
            a = tf.constant(a, dtype=b.dtype)
        elif not tf.is_tensor(b):
            b = tf.constant(b, dtype=a.dtype)
        return tf.where(cond, a, b)

    def _pair(self, a, b):
        if not tf.is_tensor(b):
            b = tf.constant(b, dtype=a.dtype)
        return a, b

    def equal(self, a, b):
        return tf.equal(*self._pair(a, b))

    def not_equal(self, a, b):
        return tf.not_equal(*self._pair(a, b))

    def less(self, a, b):
        return tf.less(*self._pair(a, b))

    def less_equal(self, a, b):
        return tf.less_equal(*self._pair(a, b))

    def greater(self, a, b):
        return tf.greater(*self._pair(a, b))

    def logical_and(self, a, b):
        return tf.logical_and(a, b)

    def sum(self, x, axis=None, keepdims=False):
        if isinstance(axis, (list, tuple)) and not axis:
            return x
        return tf.reduce_sum(x, axis=_axis(axis), keepdims=keepdims)

    def mean(self, x, axis=None, keepdims=False):
        return tf.reduce_mean(x, axis=_axis(axis), keepdims=keepdims)

    def amax(self, x, axis=None, keepdims=False):
        return tf.reduce_max(x, axis=_axis(axis), keepdims=keepdims)

    def one_hot(self, labels, depth, axis, like):
        return tf.one_hot(labels, depth, axis=axis, dtype=like.dtype)

    def take_along_axis(self, x, index, axis):
        # tf.gather over batch dimensions, not tf.experimental.numpy's version:
        # that one branches in a tf.cond whose untaken transpose gradient
        # fails XLA compilation (InvertPermutation of an invalid permutation)
        rank = len(x.shape)
        axis %= rank
        if not index.dtype.is_integer:  # index arithmetic done in floating point
            index = tf.cast(index, tf.int64)
        if axis == rank - 1:
            return tf.gather(x, index, axis=axis, batch_dims=axis)
        perm = [a for a in range(rank) if a != axis] + [axis]
        back = [*range(axis), rank - 1, *range(axis, rank - 1)]
        taken = tf.gather(tf.transpose(x, perm), tf.transpose(index, perm), axis=rank - 1, batch_dims=rank - 1)
        return tf.transpose(taken, back)

    def gather(self, vector, index):
        return tf.gather(vector, index)

    def stop_gradient(self, x):
        return tf.stop_gradient(x)

    def sort(self, x, axis, descending=False):
        # tf.argsort is stable in both directions (top_k keeps the lower index first)
        order = tf.argsort(x, axis=axis, direction="DESCENDING" if descending else "ASCENDING", stable=True)
        return self.reorder(x, order, axis), order

    def reorder(self, x, permutation, axis):
        return self.take_along_axis(x, permutation, axis)

    def cumsum(self, x, axis):
        return tf.cumsum(x, axis=axis)

    def max_pool(self, x, window, axes):
        rank = len(x.shape)
        halves = pool_padding(window, axes, rank)
        paddings = [[0, 0] for _ in range(rank)]
        for axis, half in halves:
            paddings[axis] = [half, half]
        padded = tf.pad(x, paddings, constant_values=float("-inf"))
        # Every window offset as one shifted slice, then reduce_max over them:
        # its gradient shares ties evenly, tf.nn.max_pool's does not.
        shifted = []
        for offsets in itertools.product(*(range(2 * half + 1) for _, half in halves)):
            index = [slice(None)] * rank
            for (axis, half), offset in zip(halves, offsets, strict=True):
                index[axis] = slice(offset, offset - 2 * half if offset < 2 * half else None)
            shifted.append(padded[tuple(index)])
        return tf.reduce_max(tf.stack(shifted, axis=-1), axis=-1)

    def sparse_softmax_cross_entropy(self, logits, labels, axis, reduction="none"):
        if composite_forced():
            return super().sparse_softmax_cross_entropy(logits, labels, axis, reduction)
        last = len(logits.shape) - 1
        if axis != last:
            logits = tf.experimental.numpy.moveaxis(logits, axis, last)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        if reduction == "mean":
            return tf.reduce_mean(nll)
        return tf.reduce_sum(nll) if reduction == "sum" else nll

    def ctc_loss(self, logits, labels, input_lengths, target_lengths, blank):
        # TensorFlow's CTC computes in float32 only
        if composite_forced() or logits.dtype != tf.float32:
            return super().ctc_loss(logits, labels, input_lengths, target_lengths, blank)
        return tf.nn.ctc_loss(
            labels=tf.cast(labels, tf.int32),
            logits=logits,
            label_length=tf.cast(target_lengths, tf.int32),
            logit_length=tf.cast(input_lengths, tf.int32),
            logits_time_major=False,
            blank_index=blank,
        )
