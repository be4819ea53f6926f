"""Top-k cross-entropy: the mean cross-entropy of the hardest k% positions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from spec.inputs import Inputs
from spec.losses._classification import CLASS_AXIS
from spec.losses._lovasz import fd_separated
from spec.losses._targets import dense_targets, is_label_target
from spec.ops import Ops
from spec.params import Param, ParamSet
from spec.reduction import Weighted
from spec.registry import LossSpec, register
from spec.samples import SATURATION, Sample, one_hot

Tensor = Any


def hardest_positions(ops: Ops, losses: Tensor, valid: Tensor | None, *, k: float) -> Tensor:
    r"""0/1 mask of the :math:`m = \max(1, \lfloor n k / 100 \rfloor)` largest
    entries of ``losses`` among the ``n`` valid ones (none when ``n = 0``),
    pooled over the whole tensor.

    Ties at the cut are broken by position (the stable order of
    :meth:`spec.ops.Ops.sort`), so exactly :math:`m` entries are selected.
    The mask carries no gradient; ``n`` may be a tensor (ignored positions),
    which is why the count is compared as :math:`100 (r + 1) \le n k` for the
    0-based rank :math:`r` instead of being a Python integer.

    Args:
        ops: the backend.
        losses: per-position losses, any shape.
        valid: 1 for positions that may be selected, 0 for ignored ones
            (``losses``' shape), or ``None``.
        k: the percentage :math:`k \in (0, 100]`.

    Returns:
        The mask, with ``losses``' shape and dtype.
    """
    shape = ops.shape(losses)  # at most one unknown (-1) size when traced
    flat = ops.reshape(ops.stop_gradient(losses), (-1,))
    if valid is None:
        eligible = flat * 0.0 + 1.0
    else:
        eligible = ops.reshape(valid, (-1,))
        flat = ops.where(ops.greater(eligible, 0.0), flat, -1.0)  # cross-entropy >= 0: ignored sort last
    count = ops.sum(eligible)
    _, order = ops.sort(flat, 0, descending=True)
    eligible_sorted = ops.reorder(eligible, order, 0)
    rank = ops.cumsum(eligible_sorted * 0.0 + 1.0, 0) - 1.0
    first = ops.cast(ops.equal(rank, 0.0), rank)  # the hardest position is always kept
    within = ops.where(ops.less_equal(100.0 * (rank + 1.0), count * k), 1.0, first)
    chosen = eligible_sorted * within
    _, inverse = ops.sort(order, 0)  # sorting a permutation gives its inverse
    return ops.reshape(ops.reorder(chosen, inverse, 0), shape)


def topk_crossentropy(
    ops: Ops, y_pred: Tensor, y_true: Tensor, *, class_axis: int, k: float, ignore_index: int | None
) -> Weighted:
    r"""Top-k cross-entropy: the mean cross-entropy over the k% hardest positions of the batch.

    .. math::

        \ell_i = -\sum_c y_{ic}\,\log\mathrm{softmax}(x_i)_c,\qquad
        L = \frac{1}{m}\sum_{i \in H} \ell_i,\qquad
        m = \max\bigl(1, \lfloor n k / 100 \rfloor\bigr)

    with :math:`H` the :math:`m` positions of largest :math:`\ell_i` among
    the :math:`n` non-ignored positions of the whole batch (ties broken by
    position, in the order of ``y_true`` without its class axis).  The
    selection carries no gradient: the gradient is that of the mean
    cross-entropy of the selected positions.  An all-ignored batch gives 0.

    Args:
        y_pred: logits ``(N, C, ...)`` channels-first or ``(N, ..., C)``
            channels-last.
        y_true: integer labels ``(N, ...)``, or one-hot (or soft) targets with
            ``y_pred``'s shape.
        class_axis: class axis of ``y_pred``.
        k: percentage :math:`k \in (0, 100]` of the valid positions kept;
            ``k=100`` is the plain mean cross-entropy over valid positions.
        ignore_index: label whose positions are never selected and not
            counted in :math:`n`; with dense targets the rows a one-hot
            encoding of it would give.

    Returns:
        :class:`spec.reduction.Weighted` per-position losses ``(N, ...)``:
        :math:`\ell_i` at the selected positions, 0 elsewhere, normalised by
        :math:`m`, so ``"mean"`` is :math:`L`, ``"sum"`` the selected sum and
        ``"none"`` the masked per-position losses; a ``sample_weight``
        multiplies the selected losses without changing :math:`m`.

        Equivalence (tested in ``tests/test_peers_lovasz_cldice.py`` against
        a direct NumPy transcription of SegLoss' ``TopKLoss``, which is not
        installable): ``TopKLoss(k=k)`` = ``k=k`` with ``reduction="mean"``
        when :math:`\lfloor n k / 100 \rfloor \ge 1` and nothing is ignored.
        SegLoss ranks ignored voxels as 0-loss candidates and counts them in
        :math:`n`, and gives NaN when :math:`\lfloor n k / 100 \rfloor = 0`;
        neither is reproduced.

    References:
        Wu, Shen, van den Hengel, "Bridging Category-level and Instance-level
        Semantic Image Segmentation", arXiv:1605.06885, 2016 (online
        bootstrapped cross-entropy).
        Ma et al., "Loss odyssey in medical image segmentation", Medical
        Image Analysis 71, 2021 (SegLoss' ``TopKLoss``).
    """
    valid = None
    if is_label_target(ops, y_pred, y_true):
        labels = y_true
        if ignore_index is not None:
            is_valid = ops.not_equal(y_true, ignore_index)
            labels = ops.where(is_valid, y_true, 0)
            valid = ops.cast(is_valid, y_pred)
        losses = ops.sparse_softmax_cross_entropy(y_pred, labels, class_axis)
    else:
        targets, mask = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
        losses = -ops.sum(targets * ops.log_softmax(y_pred, class_axis), axis=class_axis)
        if mask is not None:
            valid = ops.sum(mask, axis=class_axis)
    if valid is not None:
        losses = losses * valid
    selected = hardest_positions(ops, losses, valid, k=k)
    return Weighted(losses * selected, selected)


# ---------------------------------------------------------------------------
# Sample inputs.  The loss has kinks where the m-th and (m+1)-th largest
# cross-entropies tie: "smooth" samples keep them apart.
# ---------------------------------------------------------------------------


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def topk_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Vectors and 2-D/3-D maps whose cross-entropies are well apart at the
    cut, an absent class, soft targets, ignored positions and an all-ignored
    batch, perfect and saturated predictions, sample weights."""
    ignore_index = params.get("ignore_index")

    def prediction(targets: np.ndarray) -> tuple[np.ndarray, bool]:
        valid = targets.sum(axis=1) > 0  # ignored rows are all zero (ignore_index out of range or remapped)
        for _ in range(1000):
            logits = rng.normal(0.0, 2.0, targets.shape)
            losses = -(targets * _log_softmax(logits)).sum(axis=1)
            # a probe moves one position's cross-entropy by at most 2h
            moves = 2e-4 * np.maximum(np.abs(logits).max(axis=1), 1.0)
            if fd_separated(losses[valid][None], moves[valid][None]):
                return logits, True
        return logits, False

    def sample(name: str, labels: np.ndarray, **extra: Any) -> Sample:
        targets = one_hot(np.where(labels == ignore_index, -1, labels) if ignore_index is not None else labels, 4)
        logits, smooth = prediction(targets)
        return Sample(name, logits, labels=labels, smooth=smooth, **extra)

    def with_ignored(labels: np.ndarray) -> np.ndarray:
        labels = labels.copy()
        labels[rng.random(labels.shape) < 0.3] = ignore_index
        return labels

    samples = []
    for dim, label_shape in [("vector", (12,)), ("2d", (2, 3, 5)), ("3d", (2, 3, 2, 2))]:
        labels = rng.integers(0, 4, label_shape)
        samples.append(sample(f"random-{dim}", labels))
        if ignore_index is not None:
            samples.append(sample(f"ignored-{dim}", with_ignored(labels)))
    samples.append(sample("absent-class", rng.integers(0, 3, (2, 3, 5))))
    labels = rng.integers(0, 4, (2, 3, 5))
    signs = 2.0 * one_hot(labels, 4) - 1.0
    samples += [
        # every cross-entropy equal: the cut falls inside a tie
        Sample("perfect", SATURATION * signs, labels=labels, smooth=False),
        Sample("saturated-wrong", -SATURATION * signs, labels=labels, smooth=False),
        sample("sample-weight", rng.integers(0, 4, (2, 3, 5)), sample_weight=rng.uniform(0.2, 2.0, (2,))),
    ]
    if ignore_index is not None:
        samples.append(
            Sample("all-ignored", rng.normal(0.0, 1.0, (2, 4, 3, 5)), labels=np.full((2, 3, 5), ignore_index))
        )
    else:
        soft = rng.dirichlet(np.ones(4), (2, 3, 5)).transpose(0, 3, 1, 2)
        logits, smooth = prediction(soft)
        samples.append(Sample("soft-targets", logits, dense=soft, smooth=smooth))
    return samples


register(
    LossSpec(
        name="topk_crossentropy",
        formula=topk_crossentropy,
        params=ParamSet(
            (
                CLASS_AXIS,
                Param(
                    "k",
                    "float",
                    10.0,
                    "percentage of the valid positions kept (the hardest)",
                    low=0.0,
                    high=100.0,
                    low_open=True,
                ),
                Param("ignore_index", "int", None, "label whose positions are never selected", optional=True),
            )
        ),
        inputs=Inputs(
            "classes",
            labels=True,
            target_range=(0.0, 1.0),
            min_ndim=2,
            prediction="logits over the class axis",
        ),
        family="classification",
        presets={
            "default": {},
            "quarter_ignored": {"k": 25.0, "ignore_index": 255},
            "ignore_in_range": {"k": 40.0, "ignore_index": 1},
            "all_positions": {"k": 100.0},
            "at_least_one": {"k": 2.0},
        },
        samples=topk_samples,
    )
)
