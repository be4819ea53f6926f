"""PyTorch backend of the ops protocol."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed
import torch.nn.functional as F

from losses_torch import _native
from losses_torch._fused import (
    DenseStatistics,
    LabelStatistics,
    SoftmaxCrossEntropy,
    SoftmaxStatistics,
    weight_vector,
)
from spec.ops import Ops, composite_forced, pool_padding

_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def _dims(axis: int | Sequence[int] | None) -> int | list[int] | None:
    return list(axis) if isinstance(axis, (list, tuple)) else axis


_HALF_DTYPES = (torch.float16, torch.bfloat16)
# F.cross_entropy skips labels equal to its ignore_index (default -100) without
# an error; this sentinel keeps every realistic invalid label an error.
_NEVER_A_LABEL = -(2**62)
# Logits below this many elements take F.cross_entropy (one C++ call) rather
# than the Python autograd kernel, whose fixed cost is larger there.
FUSED_MIN_SIZE = 1 << 15
_ACTIVATIONS = {
    "softmax": torch.softmax,
    "sigmoid": lambda x, _: torch.sigmoid(x),
    "none": lambda x, _: x,
}


class TorchOps(Ops):
    name = "torch"
    # scatter_, gather, index_select and F.cross_entropy raise on invalid indices
    index_ops_validate = True

    def shape(self, x):
        return tuple(x.shape)

    def is_integer(self, x):
        return x.dtype in _INT_DTYPES

    def is_floating(self, x):
        return x.dtype.is_floating_point

    def dtype_name(self, x):
        return str(x.dtype).replace("torch.", "")

    def is_half(self, x):
        return x.dtype in _HALF_DTYPES

    def is_tracing(self, x):
        return torch.compiler.is_compiling() or torch.jit.is_tracing()

    def value_range(self, x):
        if x.numel() == 0:
            return 0.0, 0.0
        with torch.no_grad():
            x = x.detach() if x.dtype != torch.bool else x.to(torch.uint8)
            # aminmax copies a strided tensor first (9x slower on a permuted one-hot): read it in
            # memory order, which the extremes do not depend on
            x = x.permute(sorted(range(x.dim()), key=lambda d: -x.stride(d)))
            bounds = torch.aminmax(x)
            low, high = torch.stack(bounds).tolist()  # one host sync for both
        return low, high

    def count_where(self, x):
        return int(torch.count_nonzero(x))

    def first_where(self, cond, values):
        return values[cond].flatten()[0].item()

    def constant(self, value: Any, like):
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)

    def cast(self, x, like):
        return x.to(like.dtype)

    def to_float32(self, x):
        return x.to(torch.float32)  # autograd casts the gradient back to x's dtype

    def reshape(self, x, shape):
        return x.reshape(tuple(shape))

    def moveaxis(self, x, source, destination):
        return torch.movedim(x, source, destination)

    def expand_dims(self, x, axis):
        return x.unsqueeze(axis)

    def stack(self, xs, axis=0):
        return torch.stack(list(xs), dim=axis)

    def exp(self, x):
        return torch.exp(x)

    def log(self, x):
        return torch.log(x)

    def abs(self, x):
        return torch.abs(x)

    def power(self, x, exponent):
        if exponent == -0.5:
            return torch.rsqrt(x)
        return torch.pow(x, exponent)

    def sigmoid(self, x):
        return torch.sigmoid(x)

    def log_sigmoid(self, x):
        return F.logsigmoid(x)

    def softmax(self, x, axis):
        return torch.softmax(x, axis)

    def log_softmax(self, x, axis):
        return torch.log_softmax(x, axis)

    def where(self, cond, a, b):
        return torch.where(cond, a, b)

    def equal(self, a, b):
        return a == b

    def not_equal(self, a, b):
        return a != b

    def less(self, a, b):
        return a < b

    def less_equal(self, a, b):
        return a <= b

    def greater(self, a, b):
        return a > b

    def logical_and(self, a, b):
        return torch.logical_and(a, b)

    def sum(self, x, axis=None, keepdims=False):
        if axis is None:
            return torch.sum(x)
        if isinstance(axis, (list, tuple)) and not axis:
            return x
        return torch.sum(x, dim=_dims(axis), keepdim=keepdims)

    def mean(self, x, axis=None, keepdims=False):
        if axis is None:
            return torch.mean(x)
        return torch.mean(x, dim=_dims(axis), keepdim=keepdims)

    def amax(self, x, axis=None, keepdims=False):
        if axis is None:
            return torch.amax(x)
        return torch.amax(x, dim=_dims(axis), keepdim=keepdims)

    def one_hot(self, labels, depth, axis, like):
        # Scattering into zeros writes the class axis in place, faster than
        # F.one_hot followed by movedim and a float copy.
        index = labels.long().unsqueeze(axis)
        shape = list(index.shape)
        shape[axis] = depth
        return torch.zeros(shape, dtype=like.dtype, device=like.device).scatter_(axis, index, 1.0)

    def take_along_axis(self, x, index, axis):
        return torch.gather(x, axis, index.long())

    def gather(self, vector, index):
        # index_select rejects negative indices, where vector[index] would wrap
        return torch.index_select(vector, 0, index.long().reshape(-1)).reshape(index.shape)

    def stop_gradient(self, x):
        return x.detach()

    def sort(self, x, axis, descending=False):
        values, order = torch.sort(x, dim=axis, descending=descending, stable=True)
        return values, order

    def reorder(self, x, permutation, axis):
        return torch.gather(x, axis, permutation.long())

    def cumsum(self, x, axis):
        return torch.cumsum(x, dim=axis)

    def max_pool(self, x, window, axes):
        halves = pool_padding(window, axes, x.dim())
        pads = [0] * (2 * x.dim())  # F.pad lists (before, after) from the last axis backwards
        for axis, half in halves:
            slot = 2 * (x.dim() - 1 - axis)
            pads[slot] = pads[slot + 1] = half
        windows = F.pad(x, pads, value=float("-inf"))
        for axis, half in halves:
            windows = windows.unfold(axis, 2 * half + 1, 1)  # a view: window axis appended last
        # amax (not max_pool2d/3d) so that tied maxima share the gradient evenly
        return torch.amax(windows, dim=tuple(range(x.dim(), x.dim() + len(halves))))

    def sigmoid_pair(self, logits):
        if composite_forced():
            return super().sigmoid_pair(logits)
        # 1 / (1 + exp(-x)) is accurate in both tails (exp overflows to inf, the quotient to 0):
        # two kernels, where exp(log_sigmoid(.)) takes four
        return torch.sigmoid(logits), torch.sigmoid(-logits)

    def sigmoid_cross_entropy(self, logits, targets, reduction="none"):
        native = reduction != "none" and isinstance(targets, torch.Tensor) and targets.dtype == logits.dtype
        if composite_forced() or not native:
            return super().sigmoid_cross_entropy(logits, targets, reduction)
        # A mean or sum in one kernel each way (the composite takes six); gradient sigmoid(x) - t.
        # Only reduced: torch's log(1 + exp(-|x|)) rounds an element below one ulp of 1 to 0 (the
        # composite's log1p keeps e^-50), which a sum cannot show but a per-element loss can.
        return F.binary_cross_entropy_with_logits(logits, targets, reduction=reduction)

    def sparse_softmax_cross_entropy(
        self, logits, labels, axis, reduction="none", *, class_weights=None, label_smoothing=0.0, ignore_index=None
    ):
        if composite_forced():
            return super().sparse_softmax_cross_entropy(
                logits,
                labels,
                axis,
                reduction,
                class_weights=class_weights,
                label_smoothing=label_smoothing,
                ignore_index=ignore_index,
            )
        labels = labels if labels.dtype == torch.int64 else labels.long()
        weights = None if class_weights is None else weight_vector(tuple(class_weights), logits.dtype, logits.device)
        if logits.numel() < FUSED_MIN_SIZE or not _fused_cross_entropy_applies(logits):
            return _native_cross_entropy(logits, labels, axis, reduction, weights, label_smoothing, ignore_index)
        axis %= logits.dim()

        def composite(x):
            options = {"class_weights": class_weights, "label_smoothing": label_smoothing, "ignore_index": ignore_index}
            return Ops.sparse_softmax_cross_entropy(self, x, labels, axis, reduction, **options)

        arguments = (weights, label_smoothing, ignore_index, reduction, composite)
        return SoftmaxCrossEntropy.apply(logits, labels, axis, *arguments)

    def class_statistics(self, y_pred, y_true, axis, *, activation, batch, mask=None, squared=False):
        is_labels = y_true.dim() == y_pred.dim() - 1
        native = not composite_forced() and not torch.compiler.is_compiling() and y_pred.numel() > 0
        if not native or (mask is not None and not is_labels) or activation not in _ACTIVATIONS:
            return super().class_statistics(
                y_pred, y_true, axis, activation=activation, batch=batch, mask=mask, squared=squared
            )
        axis %= y_pred.dim()
        fold_softmax = is_labels or not (isinstance(y_true, torch.Tensor) and y_true.requires_grad)
        if activation == "softmax" and fold_softmax and _native.applies(y_pred, axis):
            statistics = _softmax_statistics(self, y_pred, y_true, axis, mask, squared)
            return tuple(s.sum(0) for s in statistics) if batch else statistics
        probs = _ACTIVATIONS[activation](y_pred, axis)
        if is_labels:
            statistics = _label_statistics(self, probs, y_true, axis, mask, squared)
        else:
            statistics = DenseStatistics.apply(probs, y_true, axis, squared)
        return tuple(s.sum(0) for s in statistics) if batch else statistics

    def all_reduce_sum(self, x):
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return x
        if torch.distributed.get_world_size() == 1:
            return x
        # the autograd-aware collective: its backward all-reduces the gradient
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(x)

    def all_reduce_sums(self, xs):
        if len(xs) < 2 or not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return tuple(self.all_reduce_sum(x) for x in xs)
        if torch.distributed.get_world_size() == 1:
            return tuple(xs)
        # one collective for all statistics (each gloo/NCCL call costs a round trip)
        dtype = functools.reduce(torch.promote_types, (x.dtype for x in xs))
        flat = torch.cat([x.reshape(-1).to(dtype) for x in xs])
        summed = self.all_reduce_sum(flat).split([x.numel() for x in xs])
        return tuple(s.reshape(x.shape).to(x.dtype) for s, x in zip(summed, xs, strict=True))

    def ctc_loss(self, logits, labels, input_lengths, target_lengths, blank):
        # torch.compile cannot capture F.ctc_loss (data-dependent shapes): the
        # composite recursion, unrolled over the static frames, compiles
        # and F.ctc_loss refuses an empty batch, which the recursion handles
        if composite_forced() or torch.compiler.is_compiling() or logits.numel() == 0:
            return super().ctc_loss(logits, labels, input_lengths, target_lengths, blank)
        log_probs = F.log_softmax(logits, dim=2).transpose(0, 1)  # torch's kernel is time-major
        # zero_infinity: impossible samples get 0 and a zero gradient (the spec masks them)
        return F.ctc_loss(
            log_probs,
            labels.long(),
            input_lengths.long(),
            target_lengths.long(),
            blank=blank,
            reduction="none",
            zero_infinity=True,
        )


def _fused_cross_entropy_applies(logits):
    """The cross-entropy kernel runs eagerly on the CPU (it checks for
    underflow on the host); compiled graphs and other devices take F.cross_entropy."""
    return logits.device.type == "cpu" and not torch.compiler.is_compiling()


def _native_cross_entropy(logits, labels, axis, reduction, weights, smoothing, ignore_index):
    """``sparse_softmax_cross_entropy`` by ``F.cross_entropy``; a weighted
    ``"mean"`` is its sum over the total target weight, 0 when that is 0
    (where torch's own mean is 0/0)."""
    if axis != 1 and logits.dim() > 2:
        logits = torch.movedim(logits, axis, 1)
    plain = weights is None and ignore_index is None
    native = "sum" if reduction == "mean" and not plain else reduction
    ignored = _NEVER_A_LABEL if ignore_index is None else ignore_index
    loss = F.cross_entropy(
        logits, labels, weight=weights, ignore_index=ignored, reduction=native, label_smoothing=smoothing
    )
    if native == reduction:
        return loss
    kept = labels if ignore_index is None else labels.masked_fill(labels == ignore_index, 0)
    total = weights[kept] if weights is not None else torch.ones_like(labels, dtype=logits.dtype)
    total = (total if ignore_index is None else total * (labels != ignore_index)).sum()
    return torch.where(total > 0, loss / torch.where(total > 0, total, 1.0), 0.0)


def _softmax_statistics(ops, logits, targets, axis, mask, squared):
    """``class_statistics`` of softmax probabilities against integer labels or
    dense targets by :class:`SoftmaxStatistics` (softmax and statistics share
    one backward)."""
    if targets.dim() < logits.dim():
        targets = targets.long()
    valid = None if mask is None else mask.squeeze(axis)

    def composite(x):
        options = {"activation": "softmax", "batch": False, "mask": mask, "squared": squared}
        return Ops.class_statistics(ops, x, targets, axis, **options)

    return SoftmaxStatistics.apply(logits, targets, axis, valid, squared, composite)


def _label_statistics(ops, probs, labels, axis, mask, squared):
    """``class_statistics`` of integer labels by :class:`LabelStatistics`
    (the activation before it is autograd's)."""
    labels = labels.long()
    valid = None if mask is None else mask.squeeze(axis)

    def composite(p):
        options = {"activation": "none", "batch": False, "mask": mask, "squared": squared}
        return Ops.class_statistics(ops, p, labels, axis, **options)

    return LabelStatistics.apply(probs, labels, axis, valid, squared, composite)
