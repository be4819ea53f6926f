"""Distance-map losses for N-D segmentation: the boundary loss and the
Hausdorff distance-transform losses.

The distance maps are extra inputs (``target_distance``, ``pred_distance``),
computed outside the loss by :func:`spec.distance.distance_maps` (or its
framework wrappers) and treated as data: no gradient flows into them, and the
prediction's map -- computed from the prediction thresholded at 0.5 -- is
constant with respect to ``y_pred``, as in the papers and MONAI.  Passing the
same maps to both frameworks makes PyTorch and TensorFlow agree exactly.

Every statistic is a mean over the spatial positions, per sample and class
(over the batch too with ``batch=True``), then averaged over the classes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from spec.distance import distance_maps
from spec.inputs import Extra, Inputs
from spec.losses._classification import CLASS_AXIS, FROM_LOGITS
from spec.losses._overlap import CLASS_REDUCTION, per_class_losses
from spec.losses._targets import class_probabilities, dense_targets
from spec.ops import Ops, safe_power
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import Sample, _as_prediction, _sigmoid, _softmax, one_hot, segmentation_samples

Tensor = Any

_ARGS_DOC = """
    Args:
        y_pred: logits or probabilities ``(N, C, *spatial)`` channels-first or
            ``(N, *spatial, C)`` channels-last, at least one spatial axis.
        y_true: one-hot (or soft / multi-label 0/1) targets with ``y_pred``'s
            shape, or integer labels ``(N, *spatial)``.
        class_axis: class axis of ``y_pred`` and of the distance maps.
        from_logits: apply softmax over classes (sigmoid per class when
            ``multilabel``) to ``y_pred``.
        multilabel: classes are independent binary channels.
        include_background: when False, class 0 is left out of the class
            average; with a single class channel there is no background to
            drop and the flag is ignored (MONAI's rule).
        batch: average over the batch and the positions per class: one value
            for the batch instead of one per sample.
"""

_MAPS_DOC = """
    Maps: ``spec.distance.distance_maps`` (NumPy),
    ``losses_torch.distance.distance_maps`` and
    ``losses_tf.distance.distance_maps``; an empty or full mask has a map of 0
    everywhere (it has no boundary).

"""


def _reduce_axes(ndim: int, class_axis: int, batch: bool) -> tuple[int, ...]:
    """Axes of a per-class statistic: all but the class axis, and but the
    batch axis unless ``batch``."""
    return tuple(a for a in range(ndim) if a != class_axis and (batch or a != 0))


def _class_mean(ops: Ops, per_class: Tensor, include_background: bool, class_reduction: str = "mean") -> Tensor:
    """Mean over the last (class) axis of ``(N, C)`` or ``(C,)``; without the
    background class 0 when ``include_background`` is False and ``C > 1``.
    ``class_reduction="none"`` keeps the (kept) classes apart instead."""
    num_classes = ops.shape(per_class)[-1]
    if class_reduction == "none":
        return per_class_losses(ops, per_class, include_background or num_classes == 1)
    if include_background or num_classes == 1:
        return ops.mean(per_class, axis=-1)
    kept = [0.0] + [1.0] * (num_classes - 1)
    return ops.sum(per_class * ops.constant(kept, per_class), axis=-1) / float(num_classes - 1)


def boundary(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    target_distance: Tensor,
    class_axis: int,
    from_logits: bool,
    multilabel: bool,
    include_background: bool,
    batch: bool,
    subtract_target: bool,
) -> Tensor:
    r"""Boundary loss: class probabilities weighted by the target's signed distance map.

    .. math::

        \ell_c = \frac{1}{|\Omega|}\sum_{x\in\Omega} \big(p_c(x) - [\text{subtract}]\,g_c(x)\big)\,\phi_c(x),
        \qquad \ell = \operatorname{mean}_c \ell_c

    with :math:`\phi_c` the signed distance map of class :math:`c`'s target
    (negative inside the object, 0 on its outermost pixel layer, positive
    outside; 0 for an empty or full mask) and :math:`\Omega` the positions of
    one sample (of the batch with ``batch=True``).  Minimising it moves
    probability mass from far outside the object to deep inside it.
    {args}
        target_distance: extra input, the targets' **signed** maps with
            ``y_pred``'s shape and layout,
            ``distance_maps(y_true, kind="signed")`` (pass ``num_classes`` for
            labels); data, no gradient flows into it.
        subtract_target: subtract the target's own term
            :math:`\sum g_c \phi_c / |\Omega|` (constant in ``y_pred``: same
            gradient).  For 0/1 targets every summand is then
            :math:`\ge 0` and a perfect prediction scores 0: the value
            weighs the probability on the wrong side of the target's
            boundary by its distance to it, Kervadec et al.'s integral
            approximation of the distance between the two boundaries (up to
            a constant factor).
    {maps}
    Returns:
        One loss per sample ``(N,)``, or a scalar with ``batch=True``.
        Proven in ``tests/test_peers_distance.py`` (values and gradients,
        2-D and 3-D): with ``subtract_target=False``,
        ``monai.losses.BoundaryLoss(softmax=True, include_background=K,
        batch=B)`` with one-hot targets or labels (``to_onehot_y=True``),
        ``reduction="mean"``, equals ``from_logits=True, include_background=K``
        with either ``batch``; ``sigmoid=True`` equals ``multilabel=True`` and
        no activation equals ``from_logits=False``.  MONAI's ``"none"`` keeps
        ``(N, C')`` per sample and class; its ``"sum"`` is ours times the
        number ``C'`` of averaged classes (``batch=False``).  MONAI rounds its
        distances to float32: equal at 1e-12 to ours fed maps rounded the
        same way, at 1e-6 relative (1e-8 absolute) to ours fed float64 maps.

    References:
        Kervadec, Bouchtiba, Desrosiers, Granger, Dolz, Ben Ayed, "Boundary
        loss for highly unbalanced segmentation", MIDL 2019; Medical Image
        Analysis 67, 2021.
    """
    probs = class_probabilities(ops, y_pred, class_axis=class_axis, from_logits=from_logits, multilabel=multilabel)
    # y_true is encoded even when subtract_target is off: torch validates label
    # values only inside its index ops, so this is where a bad label raises.
    targets, _ = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=None)
    region = probs - targets if subtract_target else probs
    signed = ops.stop_gradient(target_distance)
    axes = _reduce_axes(len(ops.shape(y_pred)), class_axis, batch)
    return _class_mean(ops, ops.mean(region * signed, axis=axes), include_background)


def hausdorff_dt(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    pred_distance: Tensor,
    target_distance: Tensor,
    alpha: float,
    class_axis: int,
    from_logits: bool,
    multilabel: bool,
    include_background: bool,
    batch: bool,
    class_reduction: str = "mean",
) -> Tensor:
    r"""Hausdorff distance-transform loss: squared errors weighted by both masks' distance maps.

    .. math::

        \ell_c = \frac{1}{|\Omega|}\sum_{x\in\Omega} \big(p_c(x) - g_c(x)\big)^2
                 \big(d^{\,p}_c(x)^{\alpha} + d^{\,g}_c(x)^{\alpha}\big),
        \qquad \ell = \operatorname{mean}_c \ell_c

    with :math:`d^{\,g}_c` the unsigned distance map of the target of class
    :math:`c` and :math:`d^{\,p}_c` that of the prediction thresholded at 0.5
    (each pixel's distance to the other region; 0 for an empty or full mask),
    and :math:`\Omega` the positions of one sample (of the batch with
    ``batch=True``).  Errors far from either boundary weigh most, which
    approximates the one-sided Hausdorff distances.
    {args}
        pred_distance: extra input, the **unsigned** maps of the prediction's
            masks with ``y_pred``'s shape and layout,
            ``distance_maps(probabilities)`` -- the class probabilities (after
            softmax / sigmoid) thresholded at 0.5, detached; data, no
            gradient flows into it.
        target_distance: extra input, the targets' **unsigned** maps,
            ``distance_maps(y_true)`` (pass ``num_classes`` for labels).
            Distances are :math:`\ge 0` (negative entries count as 0).
        alpha: exponent :math:`\alpha \ge 0` of the distances; :math:`0^0 = 1`,
            so with ``alpha=0`` every position weighs 2 (MSE times 2),
            empty and full masks included, as in MONAI.
        class_reduction: ``"mean"`` -- the class average; ``"none"`` --
            one loss per kept class, ``(N, C')`` (``(C',)`` with
            ``batch``), MONAI's per-(sample, class) elements of its
            ``reduction="none"``/``"sum"`` (tested in
            ``tests/test_compat_monai.py``).
    {maps}
    Returns:
        One loss per sample ``(N,)``, or a scalar with ``batch=True``.
        Proven in ``tests/test_peers_distance.py`` (values and gradients,
        2-D and 3-D, a grid of ``alpha``, ``include_background``, ``batch``):
        ``monai.losses.HausdorffDTLoss(alpha=a, softmax=True,
        include_background=K, batch=B)`` with one-hot targets or labels
        (``to_onehot_y=True``), ``reduction="mean"``, equals
        ``alpha=a, from_logits=True, include_background=K`` with either
        ``batch``; ``sigmoid=True`` equals ``multilabel=True``, no activation
        equals ``from_logits=False``.  MONAI's ``"none"`` keeps one value per
        sample and class; its ``"sum"`` is ours times the number ``C'`` of
        averaged classes (``batch=False``).  MONAI computes
        :math:`d^\alpha` in float32: equal at 1e-6.

    References:
        Karimi, Salcudean, "Reducing the Hausdorff Distance in Medical Image
        Segmentation with Convolutional Neural Networks", IEEE Transactions
        on Medical Imaging 39(2), 2020.
    """
    probs = class_probabilities(ops, y_pred, class_axis=class_axis, from_logits=from_logits, multilabel=multilabel)
    targets, _ = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=None)
    error = probs - targets
    weight = safe_power(ops, ops.stop_gradient(pred_distance), alpha) + safe_power(
        ops, ops.stop_gradient(target_distance), alpha
    )
    axes = _reduce_axes(len(ops.shape(y_pred)), class_axis, batch)
    return _class_mean(ops, ops.mean(error * error * weight, axis=axes), include_background, class_reduction)


def log_hausdorff_dt(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    log_of: str = "elements",
    **params: Any,
) -> Tensor:
    r"""Logarithm of the Hausdorff distance-transform loss.

    .. math::

        \ell = \log\big(1 + \operatorname{mean}_c \ell_c\big)

    per sample by default; ``log_of="mean"``/``"sum"`` take one logarithm of
    the mean / sum of all of ``hausdorff_dt``'s elements (per sample, or
    per sample and class with ``class_reduction="none"``) instead: one
    value for the batch.

    with :math:`\ell_c` the per-class terms of ``hausdorff_dt`` (same
    parameters and maps); the logarithm tempers the large values of distant
    errors.
    {args}
        pred_distance: extra input, the **unsigned** maps of the prediction's
            masks (class probabilities thresholded at 0.5), as in
            ``hausdorff_dt``; data, no gradient flows into it.
        target_distance: extra input, the targets' **unsigned** maps, as in
            ``hausdorff_dt``.
        alpha: exponent :math:`\alpha \ge 0` of the distances.
        class_reduction: ``"mean"`` or ``"none"``, as in ``hausdorff_dt``;
            ``"none"`` takes the logarithm per sample and class.
        log_of: ``"elements"`` -- :math:`\log(1 + L)` of each element
            :math:`L`; ``"mean"`` / ``"sum"`` -- one :math:`\log(1 + \cdot)`
            of the elements' mean / sum (MONAI's logarithm after its
            ``reduction``: with ``class_reduction="none"``, its ``"mean"``
            and ``"sum"``; tested in ``tests/test_compat_monai.py``).
    {maps}
    Returns:
        :math:`\log(1 + L)` of ``hausdorff_dt``'s value ``L`` per sample
        ``(N,)`` (``(N, C')`` per class), or a scalar with ``batch=True``
        or ``log_of`` ``"mean"``/``"sum"``.  Proven in
        ``tests/test_peers_distance.py``: MONAI's
        ``LogHausdorffDTLoss(..., reduction="mean")`` takes the logarithm
        *after* averaging over samples and classes, so it equals ours with
        ``batch=True`` (for either MONAI ``batch``), and ours with
        ``batch=False`` for a single sample.  MONAI's ``"none"`` (a logarithm
        per sample and class) is ``class_reduction="none"``, its ``"sum"`` (of
        a sum) ``class_reduction="none", log_of="sum"``.
        Tolerance 1e-6 (MONAI's float32 maps).

    References:
        Karimi, Salcudean, "Reducing the Hausdorff Distance in Medical Image
        Segmentation with Convolutional Neural Networks", IEEE Transactions
        on Medical Imaging 39(2), 2020 (the logarithm is MONAI's variant).
    """
    # the loss is >= 0, so log(1 + L) is finite with a bounded gradient
    value = hausdorff_dt(ops, y_pred, y_true, **params)
    if log_of == "mean":
        value = ops.mean(value)
    elif log_of == "sum":
        value = ops.sum(value)
    return ops.log(1.0 + value)


for _formula in (boundary, hausdorff_dt, log_hausdorff_dt):
    _formula.__doc__ = _formula.__doc__.replace("    {args}\n", _ARGS_DOC).replace("    {maps}\n", _MAPS_DOC)


# ---------------------------------------------------------------------------
# Sample inputs: the overlap losses' samples plus a full mask and full/empty
# predicted masks, with the maps computed from each sample's own targets and
# predictions.
# ---------------------------------------------------------------------------


def _probabilities(y_pred: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    if not params["from_logits"]:
        return y_pred
    return _sigmoid(y_pred) if params["multilabel"] else _softmax(y_pred)


def _full_mask_sample(rng: np.random.Generator, params: Mapping[str, Any]) -> Sample:
    """Image 0: one class covers the whole target (full mask), the others are
    empty.  Image 1: the prediction confidently says class 0 everywhere, so
    the predicted masks are full (class 0) and empty (the others).  Logits of
    +-3 are confident yet far from saturation: finite differences apply, and
    float32 sigmoid gradients (``y (1 - y)``) keep their precision."""
    shape = (2, 3, 4, 5)
    logits = rng.normal(0.0, 1.0, shape)
    logits[1] = -3.0
    logits[1, 0] = 3.0
    y_pred = _as_prediction(logits, params, multilabel=params["multilabel"])
    if params["multilabel"]:
        dense = rng.integers(0, 2, shape).astype(np.float64)
        dense[0, 0] = 1.0
        dense[0, 1:] = 0.0
        return Sample("full-mask", y_pred, dense=dense)
    labels = rng.integers(0, 3, (2, 4, 5))
    labels[0] = 1
    return Sample("full-mask", y_pred, labels=labels)


def distance_samples(rng: np.random.Generator, params: Mapping[str, Any], *, signed: bool) -> list[Sample]:
    """``segmentation_samples`` (random 2-D/3-D maps, an absent class, a
    background-only image, perfect and saturated predictions, sample weights)
    plus a full mask, with ``target_distance`` (signed for the boundary loss)
    and, for the Hausdorff losses, ``pred_distance`` computed by
    :func:`spec.distance.distance_maps`."""
    samples = [*segmentation_samples(rng, params), _full_mask_sample(rng, params)]
    for sample in samples:
        num_classes = sample.y_pred.shape[1]
        targets = sample.dense if sample.dense is not None else one_hot(sample.labels, num_classes)
        sample.extras = {"target_distance": distance_maps(targets, kind="signed" if signed else "unsigned")}
        if not signed:
            sample.extras["pred_distance"] = distance_maps(_probabilities(sample.y_pred, params))
    return samples


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------


def _distance_inputs(*maps: Extra) -> Inputs:
    """Class-axis predictions (at least one spatial axis), labels or one-hot
    targets, and the distance ``maps`` as extra inputs."""
    return Inputs(
        "classes",
        labels=True,
        target_range=(0.0, 1.0),
        min_ndim=3,
        prediction="logits or probabilities over the class axis (maps with at least one spatial axis)",
        extras=maps,
    )


_COMMON = (
    CLASS_AXIS,
    FROM_LOGITS,
    Param("multilabel", "bool", False, "classes are independent: sigmoid per class, 0/1 targets per class"),
    Param("batch", "bool", False, "one value for the whole batch (mean over samples and positions per class)"),
)
_HAUSDORFF_PARAMS = (
    *_COMMON,
    Param("include_background", "bool", False, "keep class 0 in the class average (MONAI's default: False)"),
    Param("alpha", "float", 2.0, "exponent of the distances", low=0.0),
)
_HAUSDORFF_EXTRAS = (
    Extra("pred_distance", "unsigned distance maps of the thresholded prediction, y_pred's shape"),
    Extra("target_distance", "unsigned distance maps of the targets, y_pred's shape"),
)
_HAUSDORFF_PRESETS = {
    "default": {},
    "with_background": {"include_background": True},
    "probabilities": {"from_logits": False},
    "multilabel": {"multilabel": True, "include_background": True},
    "linear_batch": {"alpha": 1.0, "batch": True},
    "fractional_alpha_probabilities": {"alpha": 0.5, "from_logits": False, "include_background": True},
    "no_distance": {"alpha": 0.0, "multilabel": True, "from_logits": False},
}

register(
    LossSpec(
        name="boundary",
        formula=boundary,
        params=ParamSet(
            (
                *_COMMON,
                Param("include_background", "bool", True, "keep class 0 in the class average"),
                Param("subtract_target", "bool", False, "subtract the target's own term: 0 at a perfect prediction"),
            )
        ),
        inputs=_distance_inputs(Extra("target_distance", "signed distance maps of the targets, y_pred's shape")),
        family="segmentation",
        presets={
            "default": {},
            "probabilities": {"from_logits": False},
            "multilabel": {"multilabel": True},
            "no_background_batch": {"include_background": False, "batch": True},
            "subtract_target": {"subtract_target": True},
            "multilabel_probabilities_subtract": {"multilabel": True, "from_logits": False, "subtract_target": True},
        },
        samples=functools.partial(distance_samples, signed=True),
    )
)

_PER_CLASS_PRESETS = {"per_class": {"class_reduction": "none", "include_background": True, "alpha": 1.0}}
_LOG_OF = Param(
    "log_of",
    "choice",
    "elements",
    "log(1 + x) of each element, or one of the elements' mean or sum (MONAI: after its reduction)",
    choices=("elements", "mean", "sum"),
)
_LOG_PRESETS = {
    "log_of_class_sum": {"log_of": "sum", "class_reduction": "none", "batch": True},
    "log_of_mean": {"log_of": "mean", "batch": True, "include_background": True},
}

for _formula, _extra, _more_presets in (
    (hausdorff_dt, (CLASS_REDUCTION,), _PER_CLASS_PRESETS),
    (log_hausdorff_dt, (CLASS_REDUCTION, _LOG_OF), {**_PER_CLASS_PRESETS, **_LOG_PRESETS}),
):
    register(
        LossSpec(
            name=_formula.__name__,
            formula=_formula,
            params=ParamSet((*_HAUSDORFF_PARAMS, *_extra)),
            inputs=_distance_inputs(*_HAUSDORFF_EXTRAS),
            family="segmentation",
            presets={**_HAUSDORFF_PRESETS, **_more_presets},
            samples=functools.partial(distance_samples, signed=False),
        )
    )
