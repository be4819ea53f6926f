"""Losses for partially annotated segmentation: some classes (objects) are
not annotated in some images, so their pixels are labelled background.

Each loss takes the extra input ``labelled``, shape ``(N, C)``: 1 where class
``c`` is annotated in sample ``n`` (class 0, background, is always treated as
annotated), 0 where it may be missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spec.inputs import Extra, Inputs
from spec.losses._classification import CLASS_AXIS
from spec.losses._targets import along_axis, dense_targets
from spec.ops import Ops, safe_divide
from spec.params import Param, ParamSet
from spec.reduction import Weighted
from spec.registry import LossSpec, register
from spec.samples import Sample, segmentation_samples

Tensor = Any

_EXCLUDED = -1e9  # added to logits outside a class subset: exp() of it is exactly 0


def _per_class(ops: Ops, labelled: Tensor, like: Tensor, class_axis: int) -> Tensor:
    """``labelled`` (N, C) reshaped to broadcast along ``class_axis`` of ``like``."""
    shape = [1] * len(ops.shape(like))
    shape[0], shape[class_axis] = ops.shape(like)[0], ops.shape(like)[class_axis]
    return ops.reshape(labelled, shape)


def _annotation(
    ops: Ops, y_pred: Tensor, y_true: Tensor, labelled: Tensor, class_axis: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Dense targets, the foreground-class indicator (0 on class 0, 1 elsewhere)
    and ``labelled`` broadcast along the class axis, each with ``y_pred``'s rank."""
    targets, _ = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=None)
    num_classes = ops.shape(y_pred)[class_axis]
    foreground = along_axis(ops, [0.0] + [1.0] * (num_classes - 1), y_pred, class_axis)
    return targets, foreground, _per_class(ops, labelled, y_pred, class_axis)


def missing_annotation_crossentropy(
    ops: Ops, y_pred: Tensor, y_true: Tensor, *, labelled: Tensor, class_axis: int
) -> Weighted:
    r"""Cross-entropy that does not punish predicting an unannotated class on background.

    .. math::

        \ell_i = -w_i \log \mathrm{softmax}(x_i)_{y_i},\qquad
        w_i = 0 \text{ if } y_i = 0 \text{ and } \arg\max_c x_{ic} \text{ is unannotated, else } 1

    A pixel labelled background may belong to an object whose annotation is
    missing; when the network predicts such a class there, the pixel's
    weight is 0 (the weight carries no gradient).  ``"mean"`` divides by the
    total weight :math:`\sum_i w_i` (as ``torch.nn.CrossEntropyLoss`` with
    weights).  Tied maxima count every tied class.

    Args:
        y_pred: logits, class axis ``class_axis``, shape ``(N, C, ...)``.
        y_true: integer labels ``(N, ...)`` (or one-hot), background = 0.
        labelled: extra input ``(N, C)``, 1 where class ``c`` is annotated in sample ``n``.
        class_axis: axis of the classes.

    Returns:
        Weighted per-position losses.  With every class annotated it equals
        ``torch.nn.CrossEntropyLoss()`` (tested in
        ``tests/test_peers_partial_labels.py``, values and gradients).

    References:
        The seed's use case; the idea of ignoring background where unannotated
        objects may lie follows Petit et al., "Iterative confidence relabeling
        with deep ConvNets for organ segmentation with partial labels",
        CMIG 2021.
    """
    targets, foreground, annotated_class = _annotation(ops, y_pred, y_true, labelled, class_axis)
    ce = -ops.sum(targets * ops.log_softmax(y_pred, class_axis), axis=class_axis)
    is_max = ops.cast(ops.equal(y_pred, ops.amax(y_pred, axis=class_axis, keepdims=True)), y_pred)
    missing = (1.0 - annotated_class) * foreground
    on_missing = ops.greater(ops.sum(is_max * missing, axis=class_axis), 0.0)
    background = ops.sum(targets * (1.0 - foreground), axis=class_axis)
    weight = ops.stop_gradient(1.0 - background * ops.cast(on_missing, y_pred))
    return Weighted(ce * weight, weight)


def marginal_crossentropy(ops: Ops, y_pred: Tensor, y_true: Tensor, *, labelled: Tensor, class_axis: int) -> Tensor:
    r"""Marginal cross-entropy: unannotated classes are merged into the background.

    .. math::

        q_0 = p_0 + \sum_{c \ge 1,\ \mathrm{unannotated}} p_c,\qquad q_c = p_c\ (c\ \mathrm{annotated}),
        \qquad \ell_i = -\log q_{i, y_i}

    with :math:`p = \mathrm{softmax}(x)` over all classes, computed in log
    space: :math:`\log q_0 = \log p_0 - \log \mathrm{softmax}(x_S)_0` with
    :math:`S` the merged set.

    Args:
        y_pred: logits over all classes, shape ``(N, C, ...)``.
        y_true: integer labels ``(N, ...)`` (or one-hot) using annotated classes
            only (an unannotated object is labelled 0).
        labelled: extra input ``(N, C)``, 1 where class ``c`` is annotated in sample ``n``.
        class_axis: axis of the classes.

    Returns:
        Per-position losses; with every class annotated it equals
        ``torch.nn.CrossEntropyLoss()`` (tested in
        ``tests/test_peers_partial_labels.py``, values and gradients).

    References:
        Shi, Miao, Zhou et al., "Marginal loss and exclusion loss for partially
        supervised multi-organ segmentation", Medical Image Analysis 2021.
    """
    targets, foreground, annotated_class = _annotation(ops, y_pred, y_true, labelled, class_axis)
    merged = 1.0 - annotated_class * foreground  # 1 on class 0 and unannotated
    log_p = ops.log_softmax(y_pred, class_axis)
    # log sum_{c merged} p_c = log p_0 - log softmax(x restricted to the merged set)_0
    restricted = ops.log_softmax(y_pred + (1.0 - merged) * _EXCLUDED, class_axis)
    log_q0 = ops.sum((log_p - restricted) * (1.0 - foreground), axis=class_axis, keepdims=True)
    log_q = ops.where(ops.greater(foreground, 0.5), log_p, log_q0)
    return -ops.sum(targets * log_q, axis=class_axis)


def exclusion(ops: Ops, y_pred: Tensor, y_true: Tensor, *, labelled: Tensor, class_axis: int, smooth: float) -> Tensor:
    r"""Exclusion loss: a class must not be predicted on other classes' annotated pixels.

    .. math::

        \ell = \frac{1}{C-1}\sum_{c \ge 1} \frac{2\sum_i e_{ic}\,p_{ic}}{\sum_i e_{ic} + \sum_i p_{ic} + s},
        \qquad e_{ic} = \sum_{k \ge 1,\ k \ne c} g_{ik}

    per sample, with :math:`g` the one-hot annotated foreground and
    :math:`p = \mathrm{softmax}(x)`: the soft overlap of class :math:`c`'s
    prediction with the pixels annotated as another organ (organs are
    mutually exclusive).  It is 0 when nothing overlaps (no smoothing in the
    numerator).  Expressed through per-class sums, like the overlap losses.

    Args:
        y_pred: logits, shape ``(N, C, ...)``.
        y_true: integer labels ``(N, ...)`` (or one-hot) of the annotated classes.
        labelled: extra input ``(N, C)``; only annotated classes' pixels
            enter :math:`e` (labels of unannotated classes, if any, are ignored).
        class_axis: axis of the classes.
        smooth: :math:`s > 0` in the denominator.

    Returns:
        One value per sample.

    References:
        Shi, Miao, Zhou et al., "Marginal loss and exclusion loss for partially
        supervised multi-organ segmentation", Medical Image Analysis 2021.
    """
    targets, foreground, annotated_class = _annotation(ops, y_pred, y_true, labelled, class_axis)
    annotated = targets * annotated_class * foreground
    others = ops.sum(annotated, axis=class_axis, keepdims=True) - annotated
    probs = ops.softmax(y_pred, class_axis)
    spatial = [a for a in range(1, len(ops.shape(y_pred))) if a != class_axis % len(ops.shape(y_pred))]
    overlap = ops.sum(others * probs, axis=spatial)
    sizes = ops.sum(others, axis=spatial) + ops.sum(probs, axis=spatial)
    per_class = safe_divide(ops, 2.0 * overlap, sizes + smooth)  # (N, C)
    num_classes = ops.shape(per_class)[1]
    weights = ops.constant([0.0] + [1.0 / (num_classes - 1)] * (num_classes - 1), per_class)
    return ops.sum(per_class * weights, axis=1)


def _partial_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Segmentation samples with some classes unannotated per image: their
    pixels relabelled background; edges: all annotated, none annotated."""
    samples = []
    for index, sample in enumerate(segmentation_samples(rng, {**params, "from_logits": True})):
        if sample.labels is None:
            continue
        num_classes = sample.y_pred.shape[1]
        n = sample.y_pred.shape[0]
        labelled = rng.integers(0, 2, (n, num_classes)).astype(np.float64)
        if index == 0:
            labelled[:] = 1.0  # fully annotated
        if index == 1:
            labelled[:, 1:] = 0.0  # nothing but background annotated
        labelled[:, 0] = 1.0
        keep = np.take_along_axis(labelled, sample.labels.reshape(n, -1), axis=1).reshape(sample.labels.shape)
        labels = np.where(keep > 0, sample.labels, 0)
        samples.append(
            Sample(
                sample.name,
                sample.y_pred,
                labels=labels,
                sample_weight=sample.sample_weight,
                # tied maxima: the missing-annotation weight jumps under a probe
                smooth=sample.smooth and sample.name != "saturated-wrong",
                extras={"labelled": labelled},
            )
        )
    return samples


_INPUTS = Inputs(
    "classes",
    labels=True,
    prediction="logits",
    min_ndim=2,
    extras=(Extra("labelled", "(N, C), 1 where class c is annotated in sample n", shape="classes"),),
)

for _formula, _extra, _presets in [
    (missing_annotation_crossentropy, (), {"default": {}}),
    (marginal_crossentropy, (), {"default": {}}),
    (
        exclusion,
        (Param("smooth", "float", 1e-5, "added to the denominator", low=0.0, low_open=True),),
        {"default": {}, "smoothed": {"smooth": 1.0}},
    ),
]:
    register(
        LossSpec(
            name=_formula.__name__,
            formula=_formula,
            params=ParamSet((CLASS_AXIS, *_extra)),
            inputs=_INPUTS,
            family="segmentation",
            presets=_presets,
            samples=_partial_samples,
        )
    )
