r"""Region losses for N-D segmentation built on the overlap statistics of
:mod:`spec.losses._overlap`: focal Tversky, the asymmetric unified focal loss
and its two components, the Matthews correlation coefficient, sensitivity-
specificity, log-cosh Dice and the generalized Wasserstein Dice.

Every region term is a function of per-class sums over the positions of a
sample (of the batch with ``batch=True``) -- soft intersections, volumes,
confusion-matrix entries, squared errors, Wasserstein errors -- so a
distributed run can all-reduce the sums before the ratios.  The pixel-wise
asymmetric focal term returns per-position elements instead, like a
cross-entropy.

Class 0 is the background wherever a loss treats one class apart (the
asymmetric losses, the Wasserstein Dice's default weighting).
"""

from __future__ import annotations

import math
from typing import Any

from spec.distributed import element_count, replica_sums
from spec.losses._classification import CLASS_AXIS, FROM_LOGITS
from spec.losses._overlap import (
    _ARGS_DOC,
    _RETURNS_DOC,
    _SCORE_ARGS_DOC,
    _SEGMENTATION_INPUTS,
    CLASS_REDUCTION,
    OVERLAP_PARAMS,
    SCORE_PARAMS,
    _class_average,
    _common_presets,
    _score,
    _smoothing,
    confusion_statistics,
    dice,
    position_count,
    segmentation_maps,
    tversky,
    tversky_complement,
)
from spec.losses._targets import along_axis, dense_targets
from spec.ops import Ops, clip, safe_divide, safe_power, softplus
from spec.params import Param, ParamSet
from spec.reduction import Weighted
from spec.registry import LossSpec, register
from spec.samples import focal_segmentation_samples, segmentation_samples

Tensor = Any

_OVERLAP = {param.name: param for param in OVERLAP_PARAMS}

_COMMON_ARGS = """y_pred: logits or probabilities ``(N, C, *spatial)`` channels-first or
            ``(N, *spatial, C)`` channels-last (any number of spatial axes).
        y_true: one-hot or soft targets with ``y_pred``'s shape, or integer
            labels ``(N, *spatial)``.
        class_axis: class axis of ``y_pred``.
        from_logits: ``y_pred`` holds logits (softmax over classes) rather
            than probabilities."""


# The overlap losses' shared Args and Returns blocks; a formula adds its own arguments between them.
_OVERLAP_ARGS = _ARGS_DOC.strip("\n")
_OVERLAP_RETURNS = _RETURNS_DOC.strip("\n")


def _with_common_args(formula: Any) -> Any:
    formula.__doc__ = (
        formula.__doc__.replace("    {common}", "        " + _COMMON_ARGS)
        .replace("    {overlap_args}", _OVERLAP_ARGS)
        .replace("    {overlap_returns}", _OVERLAP_RETURNS)
        .replace("    {score_args}", _SCORE_ARGS_DOC.strip("\n"))
    )
    return formula


# --------------------------------------------------------------------------- focal Tversky


@_with_common_args
def focal_tversky(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    focal_scope: str,
    **tversky_params: Any,
) -> Tensor:
    r"""Focal Tversky loss: the Tversky loss with a focal exponent, per class or on the class average.

    .. math::

        \ell = \frac{\sum_c w_c\,(1 - T_c)^{\gamma}}{\sum_c w_c}\ \ (\text{focal\_scope="class"}),\qquad
        \ell = \Bigl(\frac{\sum_c w_c\,(1 - T_c)}{\sum_c w_c}\Bigr)^{\gamma}\ \ (\text{"mean"})

    with :math:`T_c = (I_c + s_{nr})/(I_c + \alpha FP_c + \beta FN_c + s_{dr})`
    the Tversky index of the ``tversky`` loss.  ``focal_scope="class"`` *is*
    ``tversky`` with the same parameters (Abraham and Khan's per-class
    exponent, averaged rather than summed over classes, i.e. divided by
    :math:`C`); this spec only sets the paper's defaults (``alpha=0.3`` on
    false positives, ``beta=0.7`` on false negatives, ``gamma = 1/(4/3)``;
    the paper's exponent :math:`1/\gamma_{paper}` is ``gamma`` here) and adds
    ``focal_scope="mean"``, the exponent applied after the class average as
    segmentation_models_pytorch and SegLoss do.  The two scopes coincide for
    a single class.  The base is floored at 0 for ``gamma != 1``.

    {overlap_args}
        alpha: weight of false positives.
        beta: weight of false negatives.
        gamma: focal exponent, > 0 (< 1 emphasises hard classes).
        focal_scope: ``"class"`` -- exponent per class before the average;
            ``"mean"`` -- exponent on the class average.
    {score_args}

    {overlap_returns}

    Equivalences (tested in ``tests/test_peers_region.py`` against
    segmentation_models_pytorch 0.6.0): ``smp.losses.TverskyLoss(mode,
    alpha=a, beta=b, gamma=g, smooth=s, class_weights=w, ignore_index=k)`` =
    ``focal_scope="mean", alpha=a, beta=b, gamma=g, smooth=s, batch=True,
    class_weights=w, ignore_index=k`` with ``from_logits=True`` and
    ``multilabel = (mode != "multiclass")`` (``ignore_index`` tested with
    integer labels in multiclass mode), whenever every class has a target
    pixel in the batch.  In general (tested in ``tests/test_compat_smp.py``
    through ``spec.compat.smp.TverskyLoss``): smp's loss 0 for a class
    absent from the whole batch, kept in the class average, is
    ``empty_class="zero"``; its ``eps`` clamp of the denominator
    ``min_denominator=eps``; ``log_loss=True`` ``log_loss=True,
    log_epsilon=eps``; its L1 intersection ``intersection="l1"``.

    References:
        Abraham, Khan, "A Novel Focal Tversky Loss Function with Improved
        Attention U-Net for Lesion Segmentation", ISBI 2019.
    """
    if focal_scope == "class":
        return tversky(ops, y_pred, y_true, alpha=alpha, beta=beta, gamma=gamma, **tversky_params)
    class_mean = tversky(ops, y_pred, y_true, alpha=alpha, beta=beta, gamma=1.0, **tversky_params)
    return safe_power(ops, class_mean, gamma)


# --------------------------------------------------------------------------- asymmetric unified focal


def _probabilities_and_logs(
    ops: Ops, y_pred: Tensor, *, class_axis: int, from_logits: bool, epsilon: float
) -> tuple[Tensor, Tensor]:
    """Softmax and log-softmax of logits; or probabilities clipped to
    ``[epsilon, 1 - epsilon]`` and their log (MONAI's clamp)."""
    if from_logits:
        return ops.softmax(y_pred, class_axis), ops.log_softmax(y_pred, class_axis)
    probs = clip(ops, y_pred, epsilon, 1.0 - epsilon)
    return probs, ops.log(probs)


def _asymmetric_focal_terms(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    delta: float,
    gamma: float,
    epsilon: float,
    ignore_index: int | None,
) -> tuple[Tensor, Tensor | None]:
    """Per-position asymmetric focal terms (class axis removed, zero at
    ignored positions) and the valid-position mask (or None)."""
    probs, log_probs = _probabilities_and_logs(
        ops, y_pred, class_axis=class_axis, from_logits=from_logits, epsilon=epsilon
    )
    targets, mask = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    num_classes = ops.shape(y_pred)[class_axis]
    background = along_axis(ops, [1.0] + [0.0] * (num_classes - 1), y_pred, class_axis)
    cross_entropy = -targets * log_probs
    ce_background = ops.sum(cross_entropy * background, axis=class_axis)
    ce_foreground = ops.sum(cross_entropy * (1.0 - background), axis=class_axis)
    p_background = ops.sum(probs * background, axis=class_axis)
    # Only the background is focally suppressed; the rare classes keep the full cross-entropy.
    suppressed = (1.0 - delta) * safe_power(ops, 1.0 - p_background, gamma) * ce_background
    terms = (suppressed + delta * ce_foreground) / num_classes
    return terms, (None if mask is None else ops.sum(mask, axis=class_axis))


@_with_common_args
def asymmetric_focal(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    delta: float,
    gamma: float,
    epsilon: float,
    ignore_index: int | None,
) -> Tensor | Weighted:
    r"""Asymmetric focal loss: focal cross-entropy on the background only, plain cross-entropy on the rare classes.

    .. math::

        \ell_i = \frac{1}{C}\Bigl[(1-\delta)\,(1 - p_{i0})^{\gamma}\,(-g_{i0}\log p_{i0})
                 + \delta \sum_{c \ge 1} -g_{ic}\log p_{ic}\Bigr]

    per position :math:`i`, class 0 being the background.  From logits
    :math:`\log p` is the log-softmax; probabilities are clipped to
    ``[epsilon, 1 - epsilon]`` first (factor and log alike).  The mean over
    classes (the :math:`1/C`) follows MONAI; ``"mean"`` divides by the number
    of valid positions when ``ignore_index`` is set.

    Args:
    {common}
        delta: :math:`\delta \in [0, 1]`, weight of the rare (foreground)
            classes; the background gets :math:`1 - \delta`.
        gamma: :math:`\gamma \ge 0`, focal exponent of the background term.
        epsilon: probability clip when ``from_logits=False``.
        ignore_index: label whose positions contribute nothing (and are not
            counted by ``"mean"``).
        sync: in a distributed run, ``"mean"`` divides the sum over every
            replica's positions by their total count or weight, the global
            batch's mean (``spec.distributed``); the identity in one process.

    Returns:
        Per-position losses ``(N, *spatial)``.

    Equivalences (tested in ``tests/test_peers_region.py``, MONAI 1.6.1,
    two classes): ``monai.losses.unified_focal_loss.AsymmetricFocalLoss(delta=d, gamma=g,
    epsilon=e, ignore_index=k)`` on probabilities ``p`` = ``from_logits=False,
    delta=d, gamma=g, epsilon=e, ignore_index=k`` (one-hot targets, or labels
    with ``to_onehot_y=True``); on ``p = softmax(x)`` it equals
    ``from_logits=True`` on ``x`` while every probability lies in
    ``[e, 1 - e]``.  MONAI uses classes 0 and 1 only; ours generalises to
    :math:`C` classes (every class but 0 is rare).

    References:
        Yeung, Sala, Schönlieb, Rundo, "Unified Focal loss: Generalising Dice
        and cross entropy-based losses to handle class imbalanced medical
        image segmentation", Computerized Medical Imaging and Graphics 95, 2022.
    """
    terms, valid = _asymmetric_focal_terms(
        ops,
        y_pred,
        y_true,
        class_axis=class_axis,
        from_logits=from_logits,
        delta=delta,
        gamma=gamma,
        epsilon=epsilon,
        ignore_index=ignore_index,
    )
    return terms if valid is None else Weighted(terms, valid)


@_with_common_args
def asymmetric_focal_tversky(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    delta: float,
    gamma: float,
    epsilon: float,
    batch: bool,
    ignore_index: int | None,
    sync: bool = False,
) -> Tensor:
    r"""Asymmetric focal Tversky loss: focal enhancement of the rare classes only.

    .. math::

        T_c = \frac{I_c + \epsilon}{I_c + \delta\,FN_c + (1-\delta)\,FP_c + \epsilon},\qquad
        \ell = \frac{1}{C}\Bigl[(1 - T_0) + \sum_{c \ge 1} (1 - T_c)^{1-\gamma}\Bigr]

    with the overlap statistics of each sample (of the batch with ``batch``),
    class 0 being the background.  Probabilities (``from_logits=False``) are
    clipped to ``[epsilon, 1 - epsilon]`` before the statistics; logits go
    through an unclipped softmax.  The rare-class base is floored at 0.

    Args:
    {common}
        delta: :math:`\delta \in [0, 1]`, weight of false negatives
            (:math:`1 - \delta` weighs false positives).
        gamma: :math:`\gamma \in [0, 1)`; the rare classes get the exponent
            :math:`1 - \gamma`.
        epsilon: smoothing of the index, and probability clip when
            ``from_logits=False``.
        batch: statistics summed over the batch: one value for the batch.
        ignore_index: label whose positions are removed from the statistics.
        sync: with ``batch``, sum the statistics over the replicas of a
            distributed run first (``spec.distributed``); the identity in one
            process.

    Returns:
        One loss per sample ``(N,)``, or a scalar with ``batch=True``.

    Equivalences (tested in ``tests/test_peers_region.py``, MONAI 1.6.1, two
    classes): ``monai.losses.unified_focal_loss.AsymmetricFocalTverskyLoss(delta=d, gamma=g,
    epsilon=e, ignore_index=k)`` on probabilities = ``from_logits=False,
    delta=d, gamma=g, epsilon=e, ignore_index=k``; on ``softmax(x)`` =
    ``from_logits=True`` on ``x`` while every probability lies in
    ``[e, 1 - e]``.  MONAI has no ``batch`` and uses classes 0 and 1 only.

    References:
        Yeung, Sala, Schönlieb, Rundo, "Unified Focal loss: Generalising Dice
        and cross entropy-based losses to handle class imbalanced medical
        image segmentation", Computerized Medical Imaging and Graphics 95, 2022.
    """
    true_pos, false_pos, false_neg, _ = confusion_statistics(
        ops,
        y_pred,
        y_true,
        class_axis=class_axis,
        from_logits=from_logits,
        multilabel=False,
        batch=batch,
        ignore_index=ignore_index,
        clip_epsilon=epsilon,
        sync=sync,
    )
    loss = tversky_complement(
        ops, true_pos, false_pos, false_neg, alpha=1.0 - delta, beta=delta, smooth_nr=epsilon, smooth_dr=epsilon
    )
    num_classes = ops.shape(loss)[-1]
    background = ops.constant([1.0] + [0.0] * (num_classes - 1), loss)
    per_class = background * loss + (1.0 - background) * safe_power(ops, loss, 1.0 - gamma)
    return ops.mean(per_class, axis=-1)


@_with_common_args
def asymmetric_unified_focal(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    focal_weight: float,
    delta: float,
    gamma: float,
    epsilon: float,
    batch: bool,
    ignore_index: int | None,
    sync: bool = False,
) -> Tensor:
    r"""Asymmetric unified focal loss: a weighted sum of the asymmetric focal and asymmetric focal Tversky losses.

    .. math::

        \ell = \lambda\,\overline{\ell^{aF}} + (1 - \lambda)\,\ell^{aFT}

    with :math:`\overline{\ell^{aF}}` the ``asymmetric_focal`` terms averaged
    over the valid positions of each sample (of the batch with ``batch``; 0
    for a sample whose positions are all ignored) and :math:`\ell^{aFT}` the
    ``asymmetric_focal_tversky`` loss, both with the same ``delta``,
    ``gamma`` and ``epsilon``: ``gamma`` suppresses the background in the
    focal term and enhances the rare classes (exponent :math:`1 - \gamma`) in
    the Tversky term.

    Args:
    {common}
        focal_weight: :math:`\lambda \in [0, 1]`, weight of the asymmetric
            focal term (MONAI's ``weight``).
        delta: :math:`\delta \in [0, 1]`, weight of the rare classes and of
            false negatives.
        gamma: :math:`\gamma \in [0, 1)`, shared focal parameter.
        epsilon: Tversky smoothing, and probability clip when
            ``from_logits=False``.
        batch: one value for the whole batch (statistics and focal mean
            pooled over it).
        ignore_index: label whose positions are excluded from both terms.
        sync: with ``batch``, sum both terms' statistics over the replicas
            of a distributed run first (``spec.distributed``); the identity in
            one process.

    Returns:
        One loss per sample ``(N,)``, or a scalar with ``batch=True``.

    Equivalences (tested in ``tests/test_peers_region.py``, MONAI 1.6.1):
    ``monai.losses.AsymmetricUnifiedFocalLoss(weight=w, delta=d, gamma=g)``
    on two-channel probabilities = ``from_logits=False, focal_weight=w,
    delta=d, gamma=g, epsilon=1e-7``, with ``to_onehot_y=True`` labels or
    one-hot targets; on ``softmax(x)`` = ``from_logits=True`` on ``x`` while
    every probability lies in ``[1e-7, 1 - 1e-7]``.  MONAI's single-channel
    input, a foreground probability ``sigmoid(x)`` expanded to ``[1 - p, p]``,
    equals ``from_logits=True`` on the two-channel logits ``[0, x]``.
    Not reproducible: MONAI's ``ignore_index`` here still counts ignored
    positions in the focal mean and lets their clamped prediction
    ``epsilon`` enter the Tversky false positives; ours excludes them from
    both terms.

    References:
        Yeung, Sala, Schönlieb, Rundo, "Unified Focal loss: Generalising Dice
        and cross entropy-based losses to handle class imbalanced medical
        image segmentation", Computerized Medical Imaging and Graphics 95, 2022.
    """
    terms, valid = _asymmetric_focal_terms(
        ops,
        y_pred,
        y_true,
        class_axis=class_axis,
        from_logits=from_logits,
        delta=delta,
        gamma=gamma,
        epsilon=epsilon,
        ignore_index=ignore_index,
    )
    axes = tuple(a for a in range(len(ops.shape(terms))) if batch or a != 0)
    total = ops.sum(terms, axis=axes)
    if valid is None and not batch:
        shape = ops.shape(terms)
        focal = total / float(math.prod([shape[a] for a in axes]))
    else:
        count = element_count(ops, terms) if valid is None else ops.sum(valid, axis=axes)
        if batch and sync:
            total, count = replica_sums(ops, total, count)
        focal = safe_divide(ops, total, count)
    focal_tversky_part = asymmetric_focal_tversky(
        ops,
        y_pred,
        y_true,
        class_axis=class_axis,
        from_logits=from_logits,
        delta=delta,
        gamma=gamma,
        epsilon=epsilon,
        batch=batch,
        ignore_index=ignore_index,
        sync=sync,
    )
    return focal_weight * focal + (1.0 - focal_weight) * focal_tversky_part


# --------------------------------------------------------------------------- Matthews correlation coefficient


@_with_common_args
def mcc(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    smooth_nr: float,
    smooth_dr: float,
    epsilon: float,
    include_background: bool,
    class_weights: list[float] | None,
    class_reduction: str = "mean",
    **statistics: Any,
) -> Tensor:
    r"""Matthews correlation coefficient loss from the soft confusion matrix, averaged over classes.

    .. math::

        \mathrm{MCC}_c = \frac{TP_c\,TN_c - FP_c\,FN_c + s_{nr}}
            {\sqrt{(TP_c+FP_c)(TP_c+FN_c)(TN_c+FP_c)(TN_c+FN_c) + s_{dr}}},\qquad
        \ell_c = 1 - \mathrm{MCC}_c

    with the soft entries :math:`TP = \sum p g`, :math:`FP = \sum p(1-g)`,
    :math:`FN = \sum (1-p) g`, :math:`TN = \sum (1-p)(1-g)` over the valid
    positions of a sample (of the batch with ``batch``), each increased by
    :math:`\epsilon`.  Where both :math:`FP_c` and :math:`FN_c` (with
    :math:`\epsilon`) are exactly 0, a perfect prediction, :math:`\ell_c = 0`
    (MONAI's rule); where the square root is 0
    (a degenerate margin with :math:`s_{dr} = 0`) :math:`\mathrm{MCC}_c = 0`.
    With :math:`\epsilon = 0` a class absent from the target scores
    :math:`\ell_c = 1 - s_{nr}/\sqrt{s_{dr}}` (1 by default; 1 when
    :math:`s_{dr} = 0`), with zero gradient, unless predicted exactly empty.

    Args:
    {common}
        multilabel: classes are independent binary channels (sigmoid).
        smooth_nr: :math:`s_{nr}`, added to the numerator.
        smooth_dr: :math:`s_{dr}`, added under the square root.
        epsilon: :math:`\epsilon`, added to each of TP, FP, FN, TN.
        batch: entries summed over the batch: one value for the batch.
        include_background: when False, class 0 is left out of the average.
        class_weights: weights :math:`w_c` of the class average
            :math:`\sum_c w_c \ell_c / \sum_c w_c`.
        ignore_index: label whose positions are removed from all entries.
        sync: with ``batch``, sum the entries over the replicas of a
            distributed run first (``spec.distributed``); the identity in one
            process.
        class_reduction: ``"mean"`` -- the class average; ``"none"`` -- one
            loss per class :math:`w_c \ell_c` (``(N, C)``, ``(C,)`` with
            ``batch``; class 0 left out when ``include_background`` is
            False), MONAI's elements for its ``reduction="sum"``/``"none"``
            (tested in ``tests/test_compat_monai.py``).

    Returns:
        One loss per sample ``(N,)``, or a scalar with ``batch=True``
        (``(N, C)`` / ``(C,)`` with ``class_reduction="none"``).

    Equivalences (tested in ``tests/test_peers_region.py``):
    ``monai.losses.MCCLoss(softmax=True, to_onehot_y=True, smooth_nr=a,
    smooth_dr=b, batch=B, include_background=K)`` (MONAI 1.6.1) =
    ``from_logits=True, smooth_nr=a, smooth_dr=b, batch=B,
    include_background=K, epsilon=0``; ``MCCLoss(sigmoid=True, ...)`` =
    ``multilabel=True``.  segmentation_models_pytorch 0.6.0
    ``MCCLoss(eps=e)`` on foreground probabilities ``(N, 1, ...)`` =
    ``from_logits=False, multilabel=True, batch=True, epsilon=e,
    smooth_nr=0, smooth_dr=0``.

    References:
        Abhishek, Hamarneh, "Matthews Correlation Coefficient Loss for Deep
        Convolutional Networks: Application to Skin Lesion Segmentation",
        ISBI 2021.
    """
    tp, fp, fn, tn = confusion_statistics(ops, y_pred, y_true, **statistics)
    if epsilon:
        tp, fp, fn, tn = tp + epsilon, fp + epsilon, fn + epsilon, tn + epsilon
    numerator = tp * tn - fp * fn + smooth_nr
    denominator = safe_power(ops, (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn) + smooth_dr, 0.5)
    loss = 1.0 - safe_divide(ops, numerator, denominator)
    perfect = ops.logical_and(ops.equal(fp, 0.0), ops.equal(fn, 0.0))
    return _class_average(ops, ops.where(perfect, 0.0, loss), include_background, class_weights, class_reduction)


# --------------------------------------------------------------------------- sensitivity-specificity


@_with_common_args
def sensitivity_specificity(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    sensitivity_weight: float,
    smooth: float,
    include_background: bool,
    class_weights: list[float] | None,
    sync: bool = False,
    **maps: Any,
) -> Tensor:
    r"""Sensitivity-specificity loss: squared errors on the target and on its complement, each normalised by its volume.

    .. math::

        \ell_c = r\,\frac{\sum_i (g_{ic} - p_{ic})^2\,g_{ic}}{\sum_i g_{ic} + s}
               + (1 - r)\,\frac{\sum_i (g_{ic} - p_{ic})^2\,(1 - g_{ic})}{\sum_i (1 - g_{ic}) + s}

    over the valid positions of a sample (of the batch with ``batch``),
    averaged over classes.  The first ratio is the sensitivity error (missed
    target), the second the specificity error (false alarms).  A ratio whose
    denominator is 0 (``smooth=0`` and an empty volume) has a zero numerator
    and is defined as 0.

    Args:
    {common}
        multilabel: classes are independent binary channels (sigmoid).
        sensitivity_weight: :math:`r \in [0, 1]`, weight of the sensitivity
            error (SegLoss' 0.1 by default).
        smooth: :math:`s \ge 0`, added to both volumes.
        batch: sums over the batch: one value for the batch.
        include_background: when False, class 0 is left out of the average.
        class_weights: weights :math:`w_c` of the class average
            :math:`\sum_c w_c \ell_c / \sum_c w_c`.
        ignore_index: label whose positions are removed from all sums.
        sync: with ``batch``, sum the four sums over the replicas of a
            distributed run first (``spec.distributed``); the identity in one
            process.

    Returns:
        One loss per sample ``(N,)``, or a scalar with ``batch=True``.

    The defaults (``r = 0.1``, ``smooth = 1``) are those of SegLoss'
    ``SSLoss``, whose ``batch_dice``/``do_bg`` are ``batch`` and
    ``include_background`` here.  No peer package is installed:
    ``tests/test_peers_region.py`` tests values and gradients against a
    direct NumPy implementation of the formula above.

    References:
        Brosch, Yoo, Tang, Li, Traboulsee, Tam, "Deep Convolutional Encoder
        Networks for Multiple Sclerosis Lesion Segmentation", MICCAI 2015.
    """
    probs, targets, mask, axes = segmentation_maps(ops, y_pred, y_true, **maps)
    error = (targets - probs) * (targets - probs)  # 0 at ignored positions, where both are zeroed
    positives = ops.sum(targets, axis=axes)
    negatives = position_count(ops, y_pred, mask, axes) - positives
    missed, false_alarms = ops.sum(error * targets, axis=axes), ops.sum(error * (1.0 - targets), axis=axes)
    if maps["batch"] and sync:
        positives, negatives, missed, false_alarms = replica_sums(ops, positives, negatives, missed, false_alarms)
    sensitivity = safe_divide(ops, missed, positives + smooth)
    specificity = safe_divide(ops, false_alarms, negatives + smooth)
    loss = sensitivity_weight * sensitivity + (1.0 - sensitivity_weight) * specificity
    return _class_average(ops, loss, include_background, class_weights)


# --------------------------------------------------------------------------- log-cosh Dice


def _log_cosh(ops: Ops, x: Tensor) -> Tensor:
    """``log(cosh(x)) = x + softplus(-2x) - log 2``: no overflow for any ``x``."""
    return x + softplus(ops, -2.0 * x) - math.log(2.0)


@_with_common_args
def log_cosh_dice(ops: Ops, y_pred: Tensor, y_true: Tensor, **dice_params: Any) -> Tensor:
    r"""Log-cosh Dice loss: the soft Dice loss passed through log(cosh).

    .. math::

        \ell = \log\cosh\bigl(\ell^{Dice}\bigr)

    with :math:`\ell^{Dice}` the ``dice`` loss of the sample (class average
    included), so that the gradient :math:`\tanh(\ell^{Dice})\,\nabla\ell^{Dice}`
    fades as the Dice loss goes to 0.  Every parameter is the ``dice``
    loss's.

    {overlap_args}

    {overlap_returns}

    Equivalence (tested in ``tests/test_peers_region.py``): ``log(cosh(L))``
    of ``monai.losses.DiceLoss(softmax=True, to_onehot_y=True,
    reduction="none", ...)`` averaged over classes per sample, i.e. ``dice``'s
    own MONAI equivalence composed with log-cosh.

    References:
        Jadon, "A survey of loss functions for semantic segmentation", IEEE
        CIBCB 2020.
    """
    return _log_cosh(ops, dice(ops, y_pred, y_true, **dice_params))


# --------------------------------------------------------------------------- generalized Wasserstein Dice


def _distance_rows(dist_matrix: list[list[float]] | None, num_classes: int) -> list[list[float]]:
    """The class distance matrix scaled to a largest entry of 1 (MONAI's
    normalisation); ``None`` is 1 between any two different classes."""
    if dist_matrix is None:
        return [[0.0 if i == j else 1.0 for j in range(num_classes)] for i in range(num_classes)]
    if len(dist_matrix) != num_classes:
        raise ValueError(
            f"generalized_wasserstein_dice: dist_matrix is {len(dist_matrix)}x{len(dist_matrix)} but y_pred has "
            f"{num_classes} classes on its class axis; expected a {num_classes}x{num_classes} matrix"
        )
    largest = max(max(row) for row in dist_matrix)
    return [[value / largest for value in row] for row in dist_matrix]


@_with_common_args
def generalized_wasserstein_dice(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    dist_matrix: list[list[float]] | None,
    weighting_mode: str,
    smooth: float,
    smooth_nr: float | None,
    smooth_dr: float | None,
    batch: bool,
    ignore_index: int | None,
) -> Tensor:
    r"""Generalized Wasserstein Dice loss: Dice with errors measured by a distance between classes.

    .. math::

        W_i = \sum_c g_{ic} \sum_k M_{ck}\,p_{ik},\qquad
        E_c = \sum_i g_{ic}\,W_i,\qquad TP = \sum_c \alpha_c\,(G_c - E_c),

        \ell = 1 - \frac{2\,TP + s_{nr}}{D + s_{dr}},\qquad
        D = 2\,TP + \sum_c E_c\ (\text{default}),\quad
        D = \sum_c \alpha_c\,(2 G_c - E_c)\ (\text{GDL})

    :math:`W_i` is the Wasserstein distance between the prediction at
    position :math:`i` and its one-hot target under the ground distance
    :math:`M` (``dist_matrix`` scaled to a largest entry of 1; for soft
    targets it is the cost of the product coupling), :math:`E_c` the
    distance mass of the positions of class :math:`c` and :math:`G_c` their
    volume, per sample (per batch with ``batch``).  ``weighting_mode``
    ``"default"`` uses :math:`\alpha = (0, 1, \ldots, 1)` (background 0, as
    in the paper); ``"GDL"`` uses :math:`\alpha_c = 1/(G_c + 1)` (Tilborghs
    et al.).  A background-only sample has :math:`TP = 0` in the default
    mode and scores :math:`1 - s_{nr}/(\sum_c E_c + s_{dr})`: about 0 for a
    perfect prediction with equal smoothing, towards 1 as it predicts
    foreground.  With ``smooth_dr=0`` a zero denominator scores 1 (loss 0),
    never NaN.

    Args:
    {common}
        dist_matrix: :math:`C \times C` matrix of non-negative distances
            between classes (row: target class, column: predicted class),
            not all zero; None means distance 1 between any two different
            classes.
        weighting_mode: ``"default"`` or ``"GDL"``.
        smooth: :math:`s`, numerator and denominator smoothing.
        smooth_nr: :math:`s_{nr}` (None: ``smooth``).
        smooth_dr: :math:`s_{dr}` (None: ``smooth``).
        batch: statistics summed over the batch: one value for the batch.
        ignore_index: label whose positions are removed from all statistics.

    Returns:
        One loss per sample ``(N,)``, or a scalar with ``batch=True``.

    Equivalences (tested in ``tests/test_peers_region.py``, MONAI 1.6.1):
    ``monai.losses.GeneralizedWassersteinDiceLoss(dist_matrix=M,
    weighting_mode=m, smooth_nr=a, smooth_dr=b)`` on logits with label
    targets = ``dist_matrix=M, weighting_mode=m, smooth_nr=a, smooth_dr=b,
    from_logits=True``.  MONAI 1.5 mixes the samples of a batch (MONAI
    issue 4650; fixed in the installed 1.6.1); with such a version ours
    equals the mean of MONAI's values on one sample at a time.

    References:
        Fidon, Li, Garcia-Peraza-Herrera, Ekanayake, Kitchen, Ourselin,
        Vercauteren, "Generalised Wasserstein Dice Score for Imbalanced
        Multi-class Segmentation using Holistic Convolutional Networks",
        BrainLes (MICCAI workshop) 2017.  Tilborghs et al., "Comparative
        study of deep learning methods for the automatic segmentation of lung,
        lesion and lesion type in CT scans of COVID-19 patients", arXiv
        2007.15546, 2020 (the GDL weighting).
    """
    probs, targets, _, axes = segmentation_maps(
        ops,
        y_pred,
        y_true,
        class_axis=class_axis,
        from_logits=from_logits,
        multilabel=False,
        batch=batch,
        ignore_index=ignore_index,
    )
    rows = _distance_rows(dist_matrix, ops.shape(y_pred)[class_axis])
    # (M p)_c: the expected distance of each position's prediction from class c
    distance_to = ops.stack(
        [ops.sum(probs * along_axis(ops, row, probs, class_axis), axis=class_axis) for row in rows], axis=class_axis
    )
    error = ops.sum(targets * distance_to, axis=axes)
    volume = ops.sum(targets, axis=axes)
    if weighting_mode == "GDL":
        alpha = 1.0 / (volume + 1.0)
        true_pos = ops.sum(alpha * (volume - error), axis=-1)
        denominator = ops.sum(alpha * (2.0 * volume - error), axis=-1)
    else:
        alpha = ops.constant([0.0] + [1.0] * (len(rows) - 1), volume)
        true_pos = ops.sum(alpha * (volume - error), axis=-1)
        denominator = 2.0 * true_pos + ops.sum(error, axis=-1)
    s_nr, s_dr = _smoothing(smooth, smooth_nr, smooth_dr)
    return 1.0 - _score(ops, 2.0 * true_pos + s_nr, denominator + s_dr, positive=s_dr > 0.0)


# --------------------------------------------------------------------------- registration


def _check_dist_matrix(loss: str, params: dict) -> None:
    matrix = params.get("dist_matrix")
    if matrix is not None and max(max(row) for row in matrix) <= 0.0:
        raise ValueError(f"{loss}: dist_matrix must have a positive entry (it is scaled to a largest entry of 1)")


_DELTA = Param("delta", "float", 0.7, "weight of the rare classes / of false negatives", low=0.0, high=1.0)
_EPSILON = Param(
    "epsilon",
    "float",
    1e-7,
    "probability clip when from_logits=False (and Tversky smoothing)",
    low=0.0,
    high=0.5,
    high_open=True,
)
_BATCH, _IGNORE, _SYNC = _OVERLAP["batch"], _OVERLAP["ignore_index"], _OVERLAP["sync"]
_REGION_PARAMS = (
    CLASS_AXIS,
    FROM_LOGITS,
    _OVERLAP["multilabel"],
    _BATCH,
    _OVERLAP["include_background"],
    _OVERLAP["class_weights"],
    _IGNORE,
)
_SMOOTHING = (_OVERLAP["smooth"], _OVERLAP["smooth_nr"], _OVERLAP["smooth_dr"])
# A 3-class ground distance (the samples have 3 classes), largest entry 2: scaled to 1.
_LESION_DISTANCES = [[0.0, 2.0, 2.0], [2.0, 0.0, 0.5], [1.5, 0.5, 0.0]]

_REGION_SPECS: list[tuple[Any, tuple[Param, ...], dict[str, dict], tuple]] = [
    (
        focal_tversky,
        (
            *OVERLAP_PARAMS,
            Param("alpha", "float", 0.3, "weight of false positives", low=0.0),
            Param("beta", "float", 0.7, "weight of false negatives", low=0.0),
            Param("gamma", "float", 0.75, "focal exponent", low=0.0, low_open=True),
            Param(
                "focal_scope",
                "choice",
                "class",
                "'class': exponent per class; 'mean': on the class average (smp)",
                choices=("class", "mean"),
            ),
            *SCORE_PARAMS,
        ),
        _common_presets(
            {
                "smp": {
                    "focal_scope": "mean",
                    "batch": True,
                    "empty_class": "zero",
                    "min_denominator": 0.5,
                    "smooth": 0.0,
                    "gamma": 2.0,
                },
                "smp_log_loss": {"focal_scope": "mean", "log_loss": True, "log_epsilon": 1e-3, "multilabel": True},
                "mean_scope": {"focal_scope": "mean", "batch": True},
                "symmetric_strong": {"alpha": 0.5, "beta": 0.5, "gamma": 2.0, "focal_scope": "mean"},
                "fp_heavy_multilabel": {"alpha": 0.8, "beta": 0.2, "gamma": 0.5, "multilabel": True},
            }
        ),
        (),
    ),
    (
        asymmetric_focal,
        (
            CLASS_AXIS,
            FROM_LOGITS,
            _DELTA,
            Param("gamma", "float", 2.0, "focal exponent of the background term", low=0.0),
            _EPSILON,
            _IGNORE,
            _SYNC,
        ),
        {
            "default": {},
            "probabilities": {"from_logits": False, "epsilon": 1e-4},
            "delta_gamma": {"delta": 0.4, "gamma": 0.5},
            "ignore_index": {"ignore_index": 255, "gamma": 0.0, "sync": True},
            "ignore_in_range": {"ignore_index": 1, "from_logits": False},
        },
        (),
    ),
    (
        asymmetric_focal_tversky,
        (
            CLASS_AXIS,
            FROM_LOGITS,
            _DELTA,
            Param("gamma", "float", 0.75, "rare classes get the exponent 1 - gamma", low=0.0, high=1.0, high_open=True),
            _EPSILON,
            _BATCH,
            _IGNORE,
            _SYNC,
        ),
        {
            "default": {},
            "probabilities": {"from_logits": False},
            "batch": {"batch": True, "delta": 0.6, "sync": True},
            "ignore_index": {"ignore_index": 255, "gamma": 0.0},
            "smoothed": {"epsilon": 1e-2, "gamma": 0.4},
        },
        (),
    ),
    (
        asymmetric_unified_focal,
        (
            CLASS_AXIS,
            FROM_LOGITS,
            Param("focal_weight", "float", 0.5, "weight of the asymmetric focal term", low=0.0, high=1.0),
            _DELTA,
            Param("gamma", "float", 0.5, "shared focal parameter", low=0.0, high=1.0, high_open=True),
            _EPSILON,
            _BATCH,
            _IGNORE,
            _SYNC,
        ),
        {
            "default": {},
            "probabilities": {"from_logits": False, "epsilon": 1e-4},
            "batch": {"batch": True, "sync": True},
            "ignore_index": {"ignore_index": 255},
            "weights": {"focal_weight": 0.2, "delta": 0.6, "gamma": 0.2},
        },
        (),
    ),
    (
        mcc,
        (
            CLASS_AXIS,
            FROM_LOGITS,
            _OVERLAP["multilabel"],
            Param("smooth_nr", "float", 0.0, "added to the numerator", low=0.0),
            Param("smooth_dr", "float", 1e-5, "added under the square root of the denominator", low=0.0),
            Param("epsilon", "float", 0.0, "added to each confusion-matrix entry (smp's eps)", low=0.0),
            _BATCH,
            _OVERLAP["include_background"],
            _OVERLAP["class_weights"],
            _IGNORE,
            _SYNC,
            CLASS_REDUCTION,
        ),
        {
            "default": {},
            "probabilities": {"from_logits": False},
            "batch": {"batch": True, "sync": True},
            "per_class_weighted": {
                "class_reduction": "none",
                "include_background": False,
                "class_weights": [1.0, 2.0, 0.5],
            },
            "per_class_multilabel": {"class_reduction": "none", "multilabel": True},
            "no_background_weighted": {"include_background": False, "class_weights": [1.0, 2.0, 0.5]},
            "ignore_index": {"ignore_index": 255, "smooth_nr": 1e-6},
            "multilabel": {"multilabel": True},
            "smp": {"epsilon": 1e-5, "smooth_dr": 0.0, "batch": True, "multilabel": True, "from_logits": False},
        },
        (),
    ),
    (
        sensitivity_specificity,
        (
            *_REGION_PARAMS,
            Param("sensitivity_weight", "float", 0.1, "weight r of the sensitivity error", low=0.0, high=1.0),
            Param("smooth", "float", 1.0, "added to both volumes", low=0.0),
            _SYNC,
        ),
        {
            "default": {},
            "probabilities": {"from_logits": False},
            "batch": {"batch": True, "sync": True},
            "no_background_weighted": {"include_background": False, "class_weights": [1.0, 2.0, 0.5]},
            "ignore_index": {"ignore_index": 255},
            "multilabel_unsmoothed": {"multilabel": True, "smooth": 0.0, "sensitivity_weight": 0.7},
        },
        (),
    ),
    (log_cosh_dice, OVERLAP_PARAMS, _common_presets({}), ()),
    (
        generalized_wasserstein_dice,
        (
            CLASS_AXIS,
            FROM_LOGITS,
            Param(
                "dist_matrix",
                "matrix",
                None,
                "C x C distances between classes (row: target, column: prediction); None: 1 off the diagonal",
                optional=True,
                low=0.0,
            ),
            Param(
                "weighting_mode",
                "choice",
                "default",
                "'default': background 0, others 1; 'GDL': 1/(volume + 1)",
                choices=("default", "GDL"),
            ),
            *_SMOOTHING,
            _BATCH,
            _IGNORE,
        ),
        {
            "default": {},
            "probabilities": {"from_logits": False},
            "distances": {"dist_matrix": _LESION_DISTANCES},
            "gdl_batch": {"weighting_mode": "GDL", "batch": True, "dist_matrix": _LESION_DISTANCES},
            "ignore_index": {"ignore_index": 255, "smooth_nr": 0.0, "smooth_dr": 1e-6},
            "unsmoothed_gdl": {"smooth": 0.0, "weighting_mode": "GDL"},
        },
        (_check_dist_matrix,),
    ),
]

# (1 - T)^g with g < 1: an infinite slope at a perfect prediction
_SAMPLES = {
    "focal_tversky": focal_segmentation_samples(lambda params: params["gamma"]),
    "asymmetric_focal_tversky": focal_segmentation_samples(lambda params: 1.0 - params["gamma"]),
    "asymmetric_unified_focal": focal_segmentation_samples(lambda params: 1.0 - params["gamma"]),
}

for _formula, _params, _presets, _checks in _REGION_SPECS:
    register(
        LossSpec(
            name=_formula.__name__,
            formula=_formula,
            params=ParamSet(tuple(_params), checks=_checks),
            inputs=_SEGMENTATION_INPUTS,
            family="segmentation",
            presets=_presets,
            samples=_SAMPLES.get(_formula.__name__, segmentation_samples),
        )
    )
