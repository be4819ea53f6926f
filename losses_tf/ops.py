"""TensorFlow backend of the ops protocol."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import tensorflow as tf
from tensorflow.python.ops import control_flow_util, gen_nn_ops

from spec.ops import Ops, composite_forced, pool_padding, reduce_elements


def _axis(axis: int | Sequence[int] | None) -> int | list[int] | None:
    return list(axis) if isinstance(axis, (list, tuple)) else axis


def _split_full_reduction(x) -> bool:
    """Reduce all of ``x`` in two steps (its last axis, then the rest)?  Under
    XLA on the CPU a reduction to a scalar runs about 12% slower than the two
    (Keras' MSE, a mean over the last axis then over the batch, measured at
    (8, 128, 128, 4)); without XLA the one reduction is the faster."""
    rank = x.shape.rank
    return rank is not None and rank >= 2 and x.shape[-1] not in (None, 0, 1) and _compiling_with_xla()


def _compiling_with_xla() -> bool:
    """Whether ops are being traced for XLA (``tf.function(jit_compile=True)``),
    where some native kernels compile worse than their expansion."""
    if tf.executing_eagerly():
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


@tf.custom_gradient
def _softmax_cross_entropy_2d(logits: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, Any]:
    """TensorFlow's fused softmax cross-entropy of ``(positions, classes)``
    logits and dense targets, with the gradient of its value.

    The kernel returns ``backprop = softmax - t`` as its gradient, the
    derivative only when a target row sums to 1; the derivative is
    ``softmax T - t`` with ``T`` the row sum, i.e. ``backprop T + t (T - 1)``
    (``backprop`` itself, bit for bit, for one-hot rows).  The targets'
    gradient is ``-log_softmax``, as for the composite.
    """
    loss, backprop = gen_nn_ops.softmax_cross_entropy_with_logits(logits, targets)
    total = tf.reduce_sum(targets, axis=-1, keepdims=True)

    def gradient(upstream: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        upstream = tf.expand_dims(upstream, -1)
        to_logits = upstream * (backprop * total + targets * (total - 1.0))
        return to_logits, -upstream * tf.nn.log_softmax(logits, axis=-1)

    return loss, gradient


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
        # eager tensors have static shapes: no op for the size, and one host read for both ends
        if x.shape.num_elements() == 0:
            return 0.0, 0.0
        if x.dtype == tf.bool:
            x = tf.cast(x, tf.int32)
        low, high = tf.stack([tf.reduce_min(x), tf.reduce_max(x)]).numpy().tolist()
        return low, high

    def count_where(self, x):
        return int(tf.math.count_nonzero(x))

    def first_where(self, cond, values):
        return tf.boolean_mask(values, cond)[0].numpy().item()

    def constant(self, value: Any, like):
        return tf.constant(value, dtype=like.dtype)

    def cast(self, x, like):
        return tf.cast(x, like.dtype)

    def to_float32(self, x):
        return tf.cast(x, tf.float32)  # the Cast gradient returns in x's dtype

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

    def square(self, x):
        # one op and a one-op gradient (x * x's gradient is two products and their sum)
        return tf.square(x)

    def power(self, x, exponent):
        if exponent == -0.5:  # one fused kernel (and XLA op) instead of pow's log and exp
            return tf.math.rsqrt(x)
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
        if axis is None and not keepdims and _split_full_reduction(x):
            return tf.reduce_sum(tf.reduce_sum(x, axis=-1))
        return tf.reduce_sum(x, axis=_axis(axis), keepdims=keepdims)

    def mean(self, x, axis=None, keepdims=False):
        if axis is None and not keepdims and _split_full_reduction(x):
            return tf.reduce_mean(tf.reduce_mean(x, axis=-1))  # equal counts per row: the same mean
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

    # -- fused edge-safe helpers and dense cross-entropies (TensorFlow kernels) --
    def clip(self, x, low, high):
        if composite_forced():
            return super().clip(x, low, high)
        # The ClipByValue kernel (tf.clip_by_value composes Minimum and Maximum, whose
        # gradients cost twice as much): its gradient passes where low <= x <= high,
        # bounds included, and is 0 outside, the protocol's convention; NaN stays NaN.
        low, high = tf.constant(low, dtype=x.dtype), tf.constant(high, dtype=x.dtype)
        return tf.raw_ops.ClipByValue(t=x, clip_value_min=low, clip_value_max=high)

    def safe_divide(self, numerator, denominator, when_zero=0.0):
        if composite_forced() or when_zero != 0.0 or not (tf.is_tensor(numerator) and tf.is_tensor(denominator)):
            return super().safe_divide(numerator, denominator, when_zero)
        if _compiling_with_xla():
            # XLA's CPU code for a select on a broadcast predicate inside a reduction is slow
            # (5x here for a renormalised softmax); a 0/1 factor compiles well.  The same
            # values where the denominator is non-zero; where it is 0, a zero of the
            # numerator's sign (NaN for an infinite numerator), with zero gradient.
            is_zero = tf.equal(denominator, 0.0)
            ratio = numerator / tf.where(is_zero, tf.ones_like(denominator), denominator)
            return ratio * tf.cast(tf.logical_not(is_zero), ratio.dtype)
        # x / y where y != 0, else 0; its gradient is 0 for both operands where y == 0
        return tf.math.divide_no_nan(numerator, denominator)

    def safe_power(self, base, exponent):
        if composite_forced() or exponent <= 1.0:
            return super().safe_power(base, exponent)
        # exponent > 1: the derivative e * base^(e - 1) is 0 at 0, so clamping the base at 0
        # (a Relu, whose gradient is a single kernel) gives the composite's value (0 for
        # base <= 0) and gradient (0 at and below 0)
        return tf.pow(tf.nn.relu(base), tf.constant(exponent, dtype=base.dtype))

    def sigmoid_pair(self, logits):
        if composite_forced():
            return super().sigmoid_pair(logits)
        return tf.sigmoid(logits), tf.sigmoid(-logits)  # one transcendental each, not two

    def sigmoid_cross_entropy(self, logits, targets, reduction="none"):
        if composite_forced():
            return super().sigmoid_cross_entropy(logits, targets, reduction)
        # max(x, 0) - x t + log1p(exp(-|x|)): the same function, gradient sigmoid(x) - t
        elements = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
        return reduce_elements(self, elements, reduction)

    def softmax_cross_entropy(self, logits, targets, axis):
        # Without XLA the composite (one LogSoftmax kernel, a product, a sum) is as fast as
        # TensorFlow's fused kernel, whose gradient needs a correction; XLA compiles the
        # fused kernel best.
        if composite_forced() or not _compiling_with_xla():
            return super().softmax_cross_entropy(logits, targets, axis)
        last = len(logits.shape) - 1
        if axis % (last + 1) != last:
            logits = tf.experimental.numpy.moveaxis(logits, axis, last)
            targets = tf.experimental.numpy.moveaxis(targets, axis, last)
        positions = logits.shape[:-1]
        positions = positions.as_list() if positions.is_fully_defined() else tf.shape(logits)[:-1]
        classes = logits.shape[-1]
        loss = _softmax_cross_entropy_2d(tf.reshape(logits, [-1, classes]), tf.reshape(targets, [-1, classes]))
        return tf.reshape(loss, positions)

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

    def sparse_softmax_cross_entropy(
        self, logits, labels, axis, reduction="none", *, class_weights=None, label_smoothing=0.0, ignore_index=None
    ):
        if composite_forced() or label_smoothing:  # TensorFlow's sparse kernel has no smoothing
            return super().sparse_softmax_cross_entropy(
                logits,
                labels,
                axis,
                reduction,
                class_weights=class_weights,
                label_smoothing=label_smoothing,
                ignore_index=ignore_index,
            )
        last = len(logits.shape) - 1
        if axis != last:
            logits = tf.experimental.numpy.moveaxis(logits, axis, last)
        weight = None
        if ignore_index is not None:
            kept = tf.not_equal(labels, tf.constant(ignore_index, dtype=labels.dtype))
            labels = tf.where(kept, labels, tf.zeros_like(labels))
            weight = tf.cast(kept, logits.dtype)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        if class_weights is not None:
            label_weight = tf.gather(tf.constant(list(class_weights), dtype=nll.dtype), labels)
            weight = label_weight if weight is None else label_weight * weight
        if weight is not None:
            nll = nll * weight
        if reduction == "none":
            return nll
        if reduction == "sum":
            return tf.reduce_sum(nll)
        if weight is None:
            return tf.reduce_mean(nll)
        return tf.math.divide_no_nan(tf.reduce_sum(nll), tf.reduce_sum(weight))

    def all_reduce_sum(self, x):
        # a replica context of a tf.distribute strategy (the default context has one replica;
        # the cross-replica context, outside strategy.run, sees the whole batch already)
        if tf.distribute.in_cross_replica_context():
            return x
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return x
        # ReplicaContext.all_reduce is differentiable: its gradient all-reduces the gradient
        return context.all_reduce(tf.distribute.ReduceOp.SUM, x)

    def all_reduce_sums(self, xs):
        if tf.distribute.in_cross_replica_context():
            return tuple(xs)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return tuple(xs)
        # a nest of tensors goes out as one (packed) collective
        return tuple(context.all_reduce(tf.distribute.ReduceOp.SUM, list(xs)))

    def ctc_loss(self, logits, labels, input_lengths, target_lengths, blank):
        # TensorFlow's CTC computes in float32 only
        if composite_forced() or logits.dtype != tf.float32:
            return super().ctc_loss(logits, labels, input_lengths, target_lengths, blank)
        if not _compiling_with_xla():
            # the labels come padded to T frames; the kernel's work grows with their width, and
            # it reads no label past a target's length: keep the longest target's (XLA needs
            # static shapes, so it keeps them all)
            labels = labels[:, : tf.maximum(tf.reduce_max(target_lengths), 1)]
        return tf.nn.ctc_loss(
            labels=tf.cast(labels, tf.int32),
            logits=logits,
            label_length=tf.cast(target_lengths, tf.int32),
            logit_length=tf.cast(input_lengths, tf.int32),
            logits_time_major=False,
            blank_index=blank,
        )
