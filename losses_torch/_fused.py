"""Native PyTorch kernels behind the fused ops of the ops protocol.

:class:`losses_torch.ops.TorchOps` calls these in eager mode instead of the
composite defaults of :mod:`spec.ops`; the values are the composites' (up to
rounding) and ``LOSSBRIDGE_COMPOSITE_OPS=1`` switches them off.  Each kernel
is a ``torch.autograd.Function`` whose backward writes the closed-form
gradient with the fewest passes over the large tensors, and none of them
builds a one-hot tensor from integer labels:

* :class:`SoftmaxCrossEntropy`: the forward keeps ``p = softmax(x)`` and
  reads ``-log p_t`` off it (no log-softmax tensor); the gradient
  ``s (p B - (1 - e) w_t [c = t] - (e/C) w_c)`` is one product with ``p`` and
  one scatter at the labels (no second exponential, no one-hot).
* :class:`LabelStatistics`: the overlap statistics of probabilities against
  integer labels.  ``I`` and ``G`` are per-class sums of the probabilities
  gathered at the labels (and of ones), scattered into a small table; the
  gradient w.r.t. the probabilities is ``dL/dP_c`` plus ``dL/dI_c`` at the
  label, and the activation's own backward (one pass for softmax) follows.
  Where :mod:`losses_torch._native` applies (a C compiler, CPU,
  channels-first memory), one C pass each way computes the same, and
  :class:`SoftmaxStatistics` folds the softmax's backward into it.
* :class:`DenseStatistics`: the same statistics against dense targets, with
  the gradient ``dL/dP_c + dL/dI_c g`` written in one product (one C pass
  each way where the native kernels apply and the targets need no gradient).

Tensors keep their shape and strides (any class axis, channels-last memory
included); labels are ``y_pred``'s shape without the class axis.  Second-order
gradients (``create_graph=True``) differentiate the composite formula,
recomputed from the saved inputs, so they are exact; the hand-written
backward serves first order only.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from losses_torch import _native

Tensor = torch.Tensor
# Scatter chunks: per-class sums are accumulated in up to this many partial
# sums per sample (more parallel work, shorter float32 running sums).
_CHUNKS = 256


@functools.lru_cache(maxsize=64)
def weight_vector(weights: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """The class weights as a tensor, built once per dtype and device."""
    return torch.tensor(weights, dtype=dtype, device=device)


def along(vector: Tensor, axis: int, ndim: int) -> Tensor:
    """A ``(C,)`` vector (or ``(N, C)`` table) shaped to broadcast along
    ``axis`` of an ``ndim``-dimensional tensor (the batch axis first)."""
    shape = [1] * ndim
    shape[axis] = vector.shape[-1]
    if vector.dim() == 2:
        shape[0] = vector.shape[0]
    return vector.reshape(shape)


def position_axes(ndim: int, axis: int) -> tuple[int, ...]:
    """Every axis but the batch axis and the class ``axis``."""
    return tuple(a for a in range(1, ndim) if a != axis)


def sum_positions(x: Tensor, axis: int) -> Tensor:
    """``x`` summed over its positions: ``(N, C)`` (no position axis: ``x``)."""
    axes = position_axes(x.dim(), axis)
    return x.sum(axes) if axes else x


def class_sums(values: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """``out[n, c] = sum_s values[n, s] [labels[n, s] = c]`` over the
    positions ``s`` of ``labels`` (``(N, ...)``; ``values`` the same shape or
    a scalar): a scatter-add into ``(N, chunks, C)`` partial sums, then their sum."""
    batch = labels.shape[0]
    positions = labels.numel() // batch
    chunks = math.gcd(positions, _CHUNKS)
    shape = (batch, chunks, positions // chunks)
    table = values.new_zeros(batch, chunks, num_classes)
    table.scatter_add_(2, labels.reshape(shape), values.expand(labels.shape).reshape(shape))
    return table.sum(1)


def second_order(composite: Callable[..., Any], inputs: Sequence[Tensor], grads: Sequence[Tensor | None]) -> list:
    """Gradients of ``composite(*inputs)`` w.r.t. the inputs that need them,
    with ``create_graph=True``: the backward of a kernel under double backward."""
    wanted = [x for x in inputs if x.requires_grad]
    with torch.enable_grad():
        outputs = composite(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    pairs = [(out, g) for out, g in zip(outputs, grads, strict=True) if g is not None and out.requires_grad]
    found = torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs], create_graph=True)
    by_input = dict(zip(map(id, wanted), found, strict=True))
    return [by_input.get(id(x)) for x in inputs]


class SoftmaxCrossEntropy(torch.autograd.Function):
    """Softmax cross-entropy of logits (class ``axis``) against integer labels,
    with class weights, label smoothing and an ignored label
    (:meth:`spec.ops.Ops.sparse_softmax_cross_entropy`)."""

    @staticmethod
    def forward(
        ctx: Any,
        logits: Tensor,
        labels: Tensor,
        axis: int,
        weights: Tensor | None,
        smoothing: float,
        ignore_index: int | None,
        reduction: str,
        composite: Callable[[Tensor], Tensor],
    ) -> Tensor:
        valid = None
        if ignore_index is not None:
            ignored = labels == ignore_index
            labels, valid = labels.masked_fill(ignored, 0), (~ignored).to(logits.dtype)
        probs = torch.softmax(logits, axis)
        loss = _label_nll(logits, probs, labels.unsqueeze(axis), axis)
        label_weight = None if weights is None else weights[labels]
        if label_weight is not None:
            loss.mul_(label_weight)
        if smoothing:
            loss = _smoothed(loss, logits, probs, weights, smoothing, axis)
        if valid is not None:
            loss.mul_(valid)
        factor = _mean_factor(loss, valid, label_weight) if reduction == "mean" else None
        ctx.save_for_backward(logits, probs, labels, valid, weights, label_weight, factor)
        ctx.axis, ctx.smoothing, ctx.composite = axis, smoothing, composite
        if reduction == "none":
            return loss
        return loss.sum() if factor is None else loss.sum() * factor

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple:
        logits, probs, labels, valid, weights, label_weight, factor = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True
            return (*second_order(ctx.composite, [logits], [grad]), *([None] * 7))
        axis, smoothing = ctx.axis, ctx.smoothing
        num_classes = probs.shape[axis]
        scale = grad if factor is None else grad * factor
        if valid is not None:
            scale = scale * valid
        # d loss_i / d x_c = s_i (p_c B_i - (1 - e) w_t [c = t] - (e / C) w_c), B_i = (1 - e) w_t + (e / C) sum w
        label_term = scale if label_weight is None else scale * label_weight
        coefficient = scale  # B = (1 - e) + e = 1 without class weights
        if weights is not None:
            coefficient = label_term if not smoothing else label_term * (1.0 - smoothing)
            if smoothing:
                coefficient = coefficient + scale * (weights.sum() * (smoothing / num_classes))
        grad_logits = probs * (coefficient.unsqueeze(axis) if coefficient.dim() else coefficient)
        if smoothing:
            spread = scale.unsqueeze(axis) if scale.dim() else scale
            if weights is None:
                grad_logits.add_(spread, alpha=-smoothing / num_classes)
            else:
                grad_logits.addcmul_(spread, along(weights, axis, probs.dim()), value=-smoothing / num_classes)
        label_term = (label_term * (smoothing - 1.0)).expand(labels.shape).unsqueeze(axis)
        grad_logits.scatter_add_(axis, labels.unsqueeze(axis), label_term)
        return grad_logits, *([None] * 7)


def _label_nll(logits: Tensor, probs: Tensor, index: Tensor, axis: int) -> Tensor:
    """``-log p_t`` per position: the log of the kept softmax (its rounding is
    log-softmax's, both carry the error of one ``log`` of the normaliser), and
    ``max_c x_c - x_t - log max_c p_c`` where ``p_t`` underflows (logit gaps
    beyond ~87 in float32)."""
    picked = probs.gather(axis, index).squeeze(axis)
    tiny = torch.finfo(picked.dtype).tiny
    if picked.numel() == 0 or picked.amin() >= tiny:  # a host check: the kernel runs on the CPU only
        return picked.log_().neg_()
    x_t = logits.gather(axis, index).squeeze(axis)
    exact = (logits.amax(axis) - x_t).sub_(probs.amax(axis).log_())
    return torch.where(picked < tiny, exact, picked.log_().neg_())


def _smoothed(
    loss: Tensor, logits: Tensor, probs: Tensor, weights: Tensor | None, smoothing: float, axis: int
) -> Tensor:
    """``(1 - e) loss + (e / C) sum_c w_c (-log p_c)``, with ``-log p_c =
    (max x - x_c) - log max p``: non-negative terms, so nothing cancels."""
    num_classes = logits.shape[axis]
    shifted = logits - logits.amax(axis, keepdim=True)
    total = float(num_classes)
    if weights is not None:
        shifted.mul_(along(weights, axis, logits.dim()))
        total = weights.sum()
    uniform = shifted.sum(axis).neg_().sub_(probs.amax(axis).log_().mul_(total))
    return loss.mul_(1.0 - smoothing).add_(uniform, alpha=smoothing / num_classes)


def _mean_factor(loss: Tensor, valid: Tensor | None, label_weight: Tensor | None) -> Tensor:
    """``1 / sum_i v_i w_{t_i}`` (0 when the total weight is 0): the ``"mean"``
    of ``torch.nn.CrossEntropyLoss``, without its 0/0 for an all-ignored batch."""
    if valid is None and label_weight is None:
        return loss.new_tensor(1.0 / max(loss.numel(), 1))
    if valid is None:
        total = label_weight.sum()
    else:
        total = valid.sum() if label_weight is None else torch.dot(valid.flatten(), label_weight.flatten())
    return torch.where(total > 0, 1.0 / torch.where(total > 0, total, 1.0), 0.0)


class LabelStatistics(torch.autograd.Function):
    """``(I, P, G)`` per sample and class of probabilities (class ``axis``)
    against integer labels, with an optional 0/1 ``valid`` mask of the
    positions (``P = sum p^2`` when ``squared``; ``sum g^2 = G`` for 0/1
    targets)."""

    @staticmethod
    def forward(
        ctx: Any,
        probs: Tensor,
        labels: Tensor,
        axis: int,
        valid: Tensor | None,
        squared: bool,
        composite: Callable[[Tensor], tuple],
    ) -> tuple[Tensor, Tensor, Tensor]:
        ctx.axis, ctx.squared, ctx.composite = axis, squared, composite
        native = _native.prepare(probs, labels, axis, valid)
        ctx.native = native is not None
        if native is not None:
            statistics = _native.overlap_statistics(*native, squared)
            ctx.mark_non_differentiable(statistics[2])
            ctx.save_for_backward(probs, *native[1:])
            return statistics
        num_classes = probs.shape[axis]
        picked = probs.gather(axis, labels.unsqueeze(axis)).squeeze(axis)
        counted = probs.new_ones(()) if valid is None else valid
        if valid is not None:
            picked.mul_(valid)
        volume_of = probs * probs if squared else probs
        if valid is not None:
            volume_of = volume_of * valid.unsqueeze(axis)
        target_volume = class_sums(counted, labels, num_classes)
        ctx.mark_non_differentiable(target_volume)
        ctx.save_for_backward(probs, labels, valid)
        return class_sums(picked, labels, num_classes), sum_positions(volume_of, axis), target_volume

    @staticmethod
    def backward(ctx: Any, grad_intersection: Tensor, grad_pred: Tensor, _: Tensor) -> tuple:
        probs, labels, valid = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True
            return (*second_order(ctx.composite, [probs], [grad_intersection, grad_pred, None]), *([None] * 5))
        axis = ctx.axis
        if ctx.native:
            moved = probs.movedim(axis, 1)
            grad_probs = _native.overlap_statistics_backward(
                moved, labels, valid, ctx.squared, grad_intersection, grad_pred, axis
            )
            return grad_probs, *([None] * 5)
        per_class = along(grad_pred, axis, probs.dim())
        mask = None if valid is None else valid.unsqueeze(axis)
        if ctx.squared:
            grad_probs = probs * (2.0 * per_class) if mask is None else (probs * mask).mul_(2.0 * per_class)
        elif mask is None:
            grad_probs = torch.empty_like(probs).copy_(per_class.expand_as(probs))
        else:
            grad_probs = mask * per_class  # the positions' factor first: the fast loop order
        at_label = grad_intersection.gather(1, labels.reshape(labels.shape[0], -1)).view(labels.shape)
        if valid is not None:
            at_label.mul_(valid)
        grad_probs.scatter_add_(axis, labels.unsqueeze(axis), at_label.unsqueeze(axis))
        return grad_probs, *([None] * 5)


class SoftmaxStatistics(torch.autograd.Function):
    """``(I, P, G)`` of ``softmax(logits)`` (class ``axis``) against integer
    labels or dense targets (which get no gradient), by the native kernels
    only (:func:`losses_torch._native.applies` said yes): the backward returns
    the gradient w.r.t. the logits in one pass, the softmax's backward fused
    with the statistics'."""

    @staticmethod
    def forward(
        ctx: Any,
        logits: Tensor,
        targets: Tensor,
        axis: int,
        valid: Tensor | None,
        squared: bool,
        composite: Callable[[Tensor], tuple],
    ) -> tuple[Tensor, Tensor, Tensor]:
        # the kernel writes the softmax itself, channels-first like the logits (applies() checked them)
        moved_logits, flat_targets, flat_valid = _native.prepare(logits, targets, axis, valid)
        moved = torch.empty_like(moved_logits)
        statistics = _native.overlap_statistics(moved, flat_targets, flat_valid, squared, logits=moved_logits)
        probs = moved.movedim(1, axis)
        ctx.mark_non_differentiable(statistics[2])
        ctx.save_for_backward(logits, probs, flat_targets, flat_valid)
        ctx.axis, ctx.squared, ctx.composite = axis, squared, composite
        return statistics

    @staticmethod
    def backward(ctx: Any, grad_intersection: Tensor, grad_pred: Tensor, _: Tensor) -> tuple:
        logits, probs, targets, valid = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True
            return (*second_order(ctx.composite, [logits], [grad_intersection, grad_pred, None]), *([None] * 5))
        moved = probs.movedim(ctx.axis, 1)
        grad_logits = _native.overlap_statistics_backward(
            moved, targets, valid, ctx.squared, grad_intersection, grad_pred, ctx.axis, softmax=True
        )
        return grad_logits, *([None] * 5)


class DenseStatistics(torch.autograd.Function):
    """``(I, P, G)`` per sample and class of probabilities (class ``axis``)
    against dense targets of the same shape."""

    @staticmethod
    def forward(ctx: Any, probs: Tensor, targets: Tensor, axis: int, squared: bool) -> tuple[Tensor, Tensor, Tensor]:
        ctx.axis, ctx.squared = axis, squared
        # the C pass writes no gradient for the targets: only when none is wanted
        native = None if ctx.needs_input_grad[1] else _native.prepare(probs, targets, axis, None)
        ctx.native = native is not None
        if native is not None:
            ctx.save_for_backward(probs, native[1])
            return _native.overlap_statistics(native[0], native[1], None, squared)
        intersection = sum_positions(probs * targets, axis)
        if squared:
            volumes = sum_positions(probs * probs, axis), sum_positions(targets * targets, axis)
        else:
            volumes = sum_positions(probs, axis), sum_positions(targets, axis)
        ctx.save_for_backward(probs, targets)
        return intersection, *volumes

    @staticmethod
    def backward(ctx: Any, grad_intersection: Tensor, grad_pred: Tensor, grad_true: Tensor) -> tuple:
        probs, targets = ctx.saved_tensors
        axis, squared, ndim = ctx.axis, ctx.squared, probs.dim()
        if ctx.native and not torch.is_grad_enabled():
            moved = probs.movedim(axis, 1)
            grad_probs = _native.overlap_statistics_backward(
                moved, targets, None, squared, grad_intersection, grad_pred, axis
            )
            return grad_probs, None, None, None
        if ctx.native:  # create_graph=True: the saved targets are channels-first
            targets = targets.movedim(1, axis)
        # linear in the incoming gradients: differentiable as written (create_graph included)
        inter, pred, true = (along(g, axis, ndim) for g in (grad_intersection, grad_pred, grad_true))
        grad_probs = grad_targets = None
        if ctx.needs_input_grad[0]:
            grad_probs = (targets * inter).add_(probs * (2.0 * pred) if squared else pred)
        if ctx.needs_input_grad[1]:
            grad_targets = (probs * inter).add_(targets * (2.0 * true) if squared else true)
        return grad_probs, grad_targets, None, None
