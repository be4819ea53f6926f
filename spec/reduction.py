"""Reductions shared by every loss.

A formula returns the loss *elements*: per position for pointwise losses
(cross-entropy, MSE, ...), per sample for region losses (Dice, ...), or a
single batch value for losses whose statistics pool the batch.  Then:

1. ``sample_weight`` (shape ``(N,)``, broadcast over the trailing axes, or the
   elements' full shape) multiplies the elements;
2. ``reduction`` folds them:

   * ``"mean"`` -- the sum divided by the number of elements (Keras'
     ``sum_over_batch_size``: sample weights do *not* renormalise).  When the
     formula returns :class:`Weighted` elements (class weights, ignored
     positions) the sum is divided by the total element weight instead, which
     is the rule of ``torch.nn.CrossEntropyLoss``; a total weight of 0 (every
     position ignored) gives 0 with zero gradient, never NaN.  An empty batch
     averages to 0 as well (``spec.registry.evaluate`` sums its no elements).
   * ``"sum"`` -- the sum.
   * ``"none"`` -- the weighted elements themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spec.distributed import element_count, replica_sums
from spec.ops import Ops, safe_divide

Tensor = Any

REDUCTIONS = ("mean", "sum", "none")
# Keras spellings accepted everywhere and mapped to the neutral names.
REDUCTION_ALIASES = {"sum_over_batch_size": "mean", None: "none"}


@dataclass(frozen=True)
class Weighted:
    """Loss elements with their normalising weights (same shape).

    ``values`` already include the weights; ``"mean"`` divides
    ``sum(values * sample_weight)`` by ``sum(weights)``.
    """

    values: Tensor
    weights: Tensor


@dataclass(frozen=True)
class Fused:
    """Loss elements produced by a fused op that can also reduce them itself.

    ``compute(reduction)`` returns the elements for ``"none"`` (plain, or
    :class:`Weighted`) and the reduced value for ``"mean"``/``"sum"``: what
    this module's rules give for those elements (the plain mean, or the
    weight-normalised one of ``Weighted`` elements, and the sum).
    Without a ``sample_weight`` those two reductions go straight to the fused
    op; otherwise the elements are computed and reduced as usual.
    """

    compute: Callable[[str], Tensor]


@dataclass(frozen=True)
class Combined:
    """A weighted sum of several losses' elements (a compound loss).

    Each part is reduced on its own -- with the same ``sample_weight`` and
    ``reduction`` -- and the results are summed with their weights, so
    ``"mean"`` is ``sum_k lambda_k mean_k`` (MONAI's ``DiceCELoss`` rule).
    ``"none"`` gives one value per sample (each part's per-sample mean, or
    its ``Weighted`` ratio); a part with one value for the whole batch makes
    it that single value.
    """

    parts: tuple[tuple[float, Any], ...]


def canonical_reduction(reduction: Any) -> str:
    """The neutral name of ``reduction`` or a ``ValueError`` listing the choices."""
    if reduction in REDUCTIONS:  # the common case, on every loss call
        return reduction
    reduction = REDUCTION_ALIASES.get(reduction, reduction)
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of 'mean', 'sum', 'none' (or Keras' 'sum_over_batch_size'), got {reduction!r}"
        )
    return reduction


def reduce_loss(
    ops: Ops,
    elements: Tensor | Weighted | Fused | Combined,
    sample_weight: Tensor | None,
    reduction: str,
    *,
    sync: bool = False,
) -> Tensor:
    """Apply ``sample_weight`` and ``reduction`` (already canonical) to a formula's output.

    ``sync=True`` (:mod:`spec.distributed`): ``"sum"`` is the sum over every
    replica's elements and ``"mean"`` that sum over the replicas' total count
    (or total weight), so the value is the global batch's on every replica.
    """
    if isinstance(elements, Combined):
        return _reduce_combined(ops, elements, sample_weight, reduction, sync)
    if isinstance(elements, Fused) and sample_weight is None and reduction != "none" and not sync:
        return elements.compute(reduction)
    elements, weights = _weighted_elements(ops, elements, sample_weight)
    if reduction == "none":
        return elements
    if reduction == "sum":
        return ops.all_reduce_sum(ops.sum(elements)) if sync else ops.sum(elements)
    if sync:
        count = element_count(ops, elements) if weights is None else ops.sum(weights)
        total, count = replica_sums(ops, ops.sum(elements), count)
        return safe_divide(ops, total, count)
    if weights is None:
        return ops.mean(elements)
    return safe_divide(ops, ops.sum(elements), ops.sum(weights))


def _weighted_elements(
    ops: Ops, elements: Tensor | Weighted | Fused, sample_weight: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """Per-element losses times ``sample_weight``, and the ``Weighted``
    denominator weights (``None`` for a plain mean)."""
    if isinstance(elements, Fused):
        elements = elements.compute("none")
    weights = None
    if isinstance(elements, Weighted):
        elements, weights = elements.values, elements.weights
    if sample_weight is not None:
        elements = elements * _broadcast_sample_weight(ops, sample_weight, elements)
    return elements, weights


def _broadcast_sample_weight(ops: Ops, sample_weight: Tensor, elements: Tensor) -> Tensor:
    shape, target = ops.shape(sample_weight), ops.shape(elements)
    if not target:
        raise ValueError(
            "sample_weight cannot be used with a loss that returns one value for the whole batch "
            "(e.g. an overlap loss with batch=True); got sample_weight of shape "
            f"{shape}, expected None"
        )
    sample_weight = ops.cast(sample_weight, elements)
    if shape == target:
        return sample_weight
    if len(shape) >= 1 and shape[0] == target[0] and all(d == 1 for d in shape[1:]) and len(shape) <= len(target):
        return ops.reshape(sample_weight, (target[0],) + (1,) * (len(target) - 1))
    raise ValueError(
        f"sample_weight has shape {shape}; expected ({target[0]},) (one weight per sample) "
        f"or {target} (the shape of the loss elements)"
    )


def _per_sample(ops: Ops, elements: Tensor | Weighted | Fused, sample_weight: Tensor | None) -> Tensor:
    """One value per sample (or the batch value) of a part, for ``"none"``."""
    elements, weights = _weighted_elements(ops, elements, sample_weight)
    axes = list(range(1, len(ops.shape(elements))))
    if not axes:
        return elements
    if weights is None:
        return ops.mean(elements, axis=axes)
    return safe_divide(ops, ops.sum(elements, axis=axes), ops.sum(weights, axis=axes))


def _mean_or_zero(ops: Ops, values: Tensor) -> Tensor:
    """The mean, and 0 for no element (an empty batch) where the mean is 0/0."""
    return ops.sum(values) if 0 in ops.shape(values) else ops.mean(values)


def _reduce_combined(
    ops: Ops, combined: Combined, sample_weight: Tensor | None, reduction: str, sync: bool
) -> Tensor:
    if reduction == "none":
        parts = [(weight, _per_sample(ops, part, sample_weight)) for weight, part in combined.parts]
        if any(not ops.shape(value) for _, value in parts):  # a batch-level part: one value for all
            parts = [(weight, _mean_or_zero(ops, value)) for weight, value in parts]
    else:
        parts = [
            (weight, reduce_loss(ops, part, sample_weight, reduction, sync=sync)) for weight, part in combined.parts
        ]
    total = None
    for weight, value in parts:
        term = value * weight if weight != 1.0 else value
        total = term if total is None else total + term
    return total
