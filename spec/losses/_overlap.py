"""Overlap losses for N-D segmentation (Dice, generalized Dice, Tversky, Jaccard).

All four are written through the same sufficient statistics: per sample and
class (or per class over the whole batch with ``batch=True``) the soft
intersection ``I = sum(p * g)``, the prediction volume ``P = sum(p)`` and the
target volume ``G = sum(g)`` (``sum(p^2)``, ``sum(g^2)`` when ``squared``).
False positives and negatives are ``FP = P - I`` and ``FN = G - I``.  Because
they are plain sums, a distributed run can all-reduce them before the ratio.

Empty classes: when a class has neither target nor prediction the ratio is
``smooth_nr / smooth_dr`` (1 with the default equal smoothing, loss 0).  If its
denominator is exactly 0 (``smooth_dr=0``), the score is defined as 1 -- the
loss is 0 with zero gradient, never NaN.
"""

from __future__ import annotations

from typing import Any

from spec.distributed import SYNC, replica_sums
from spec.losses._classification import CLASS_AXIS, CLASS_INPUTS, FROM_LOGITS
from spec.losses._targets import class_probabilities, dense_targets, is_label_target, sparse_targets
from spec.ops import Ops, clip, safe_divide, safe_power
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import focal_segmentation_samples, segmentation_samples

Tensor = Any

OVERLAP_PARAMS = (
    CLASS_AXIS,
    FROM_LOGITS,
    Param("multilabel", "bool", False, "classes are independent: sigmoid per class, 0/1 targets per class"),
    Param("smooth", "float", 1e-5, "added to numerator and denominator of every ratio", low=0.0),
    Param("smooth_nr", "float", None, "numerator smoothing (default: smooth)", optional=True, low=0.0),
    Param("smooth_dr", "float", None, "denominator smoothing (default: smooth)", optional=True, low=0.0),
    Param("batch", "bool", False, "sum the statistics over the whole batch before the ratio"),
    Param("include_background", "bool", True, "keep class 0 in the class average"),
    Param("class_weights", "floats", None, "per-class weights of the class average", optional=True, low=0.0),
    Param("ignore_index", "int", None, "label whose pixels are excluded from all statistics", optional=True),
    Param("squared", "bool", False, "square p and g in the volumes of the denominator (V-Net)"),
    Param(
        "intersection",
        "choice",
        "product",
        "soft intersection: 'product' sum(p g); 'l1' (sum p + sum g - sum |p - g|) / 2, exact for soft labels",
        choices=("product", "l1"),
    ),
    SYNC,
)

# How a class's ratio becomes its loss (dice, jaccard, tversky, focal_tversky): smp's conventions.
SCORE_PARAMS = (
    Param(
        "empty_class",
        "choice",
        "smooth",
        "a class without target in its statistics: scored by the smoothing, or loss 0 kept in the average (smp)",
        choices=("smooth", "zero"),
    ),
    Param("min_denominator", "float", 0.0, "lower bound of every ratio's denominator, max(D, m) (smp's eps)", low=0.0),
    Param("log_loss", "bool", False, "per-class loss -log(max(score, log_epsilon)) instead of 1 - score"),
    Param("log_epsilon", "float", 1e-7, "floor of the score inside the log of log_loss", low=0.0, low_open=True),
)

_ARGS_DOC = """
    Args:
        y_pred: logits or probabilities ``(N, C, *spatial)`` channels-first or
            ``(N, *spatial, C)`` channels-last; 2-D and 3-D maps (any number of
            spatial axes, including none).
        y_true: one-hot (or soft / multi-label 0/1) targets with ``y_pred``'s
            shape, or integer labels ``(N, *spatial)``.
        class_axis: class axis of ``y_pred``.
        from_logits: apply softmax over classes (sigmoid per class when
            ``multilabel``) to ``y_pred``.
        multilabel: classes are independent binary channels.
        smooth: :math:`s`, added to numerator and denominator.
        smooth_nr: :math:`s_{nr}`, numerator smoothing (None: ``smooth``).
        smooth_dr: :math:`s_{dr}`, denominator smoothing (None: ``smooth``).
        batch: statistics summed over the batch: one value for the batch.
        include_background: when False, class 0 is left out of the average.
        class_weights: weights :math:`w_c` of the class average
            :math:`\\sum_c w_c \\ell_c / \\sum_c w_c`.
        ignore_index: pixels with this label are removed from both prediction
            and target statistics.
        squared: use :math:`\\sum p^2` and :math:`\\sum g^2` as volumes.
        intersection: ``"product"`` -- :math:`I = \\sum p g`; ``"l1"`` --
            :math:`I = (\\sum p + \\sum g - \\sum |p - g|) / 2`, the same for 0/1
            targets (gradients too while ``0 < p < 1``) and, for soft targets,
            the form whose loss is minimal at :math:`p = g` (Wang et al.,
            "Dice Semimetric Losses", MICCAI 2023): MONAI 1.6.1's ``soft_label=True``
            (tested in ``tests/test_compat_monai.py``).  With ``squared=True``
            both are :math:`\\sum p g`.
        sync: in a distributed run (``torch.distributed``, ``tf.distribute``), sum
            the ``batch=True`` statistics and the ``"mean"``'s count over the
            replicas first, so each replica computes the global batch's loss
            (``spec.distributed``; ``tests/test_distributed.py``).  The identity
            in one process.
"""

# What an overlap loss returns per sample: the class average, or the classes kept apart (MONAI's
# reduction="none"/"sum" act on per-(sample, class) losses).
CLASS_REDUCTION = Param(
    "class_reduction",
    "choice",
    "mean",
    "'mean': the (weighted) class average; 'none': one loss per class, times its weight (MONAI's elements)",
    choices=("mean", "none"),
)
PER_CLASS_PRESETS = {
    "per_class_weighted": {"class_reduction": "none", "include_background": False, "class_weights": [1.0, 2.0, 0.5]},
    "per_class_multilabel": {"class_reduction": "none", "multilabel": True, "class_weights": [0.5, 1.0, 2.0]},
}

_CLASS_REDUCTION_DOC = """
        class_reduction: ``"mean"`` -- the class average
            :math:`\\sum_c w_c \\ell_c / \\sum_c w_c`; ``"none"`` -- the per-class
            losses :math:`w_c \\ell_c` themselves, shape ``(N, C)`` (``(C,)``
            with ``batch``), class weights not normalised and class 0
            left out (``C - 1`` columns) when ``include_background`` is
            False: MONAI's per-(sample, class) elements, so that
            ``"mean"``/``"sum"`` reduce them as MONAI does (MONAI 1.6.1
            ``DiceLoss``/``TverskyLoss`` ``weight=w, reduction=r``; tested in
            ``tests/test_compat_monai.py``).
"""

_SCORE_ARGS_DOC = """
        empty_class: ``"smooth"`` -- a class with no target in its statistics
            (:math:`G_c = 0`) is scored like any other (by the smoothing);
            ``"zero"`` -- its loss is 0 (zero gradient) and it stays in the
            class average (smp's rule).
        min_denominator: :math:`m \\ge 0`; every ratio's denominator
            :math:`D` is replaced by :math:`\\max(D, m)` (zero gradient
            through :math:`D` where :math:`m` is taken; smp's ``eps`` clamp).
        log_loss: per-class loss :math:`-\\log\\max(\\text{score}_c,
            \\epsilon_{log})` instead of :math:`1 - \\text{score}_c`.
        log_epsilon: :math:`\\epsilon_{log} > 0`, the floor of the score
            inside the log (``log_loss`` only).
"""

_RETURNS_DOC = """
    Returns:
        One loss per sample ``(N,)``, or a scalar with ``batch=True``.

    Empty classes (no target, no prediction) score ``smooth_nr / smooth_dr``
    (loss 0 with the default equal smoothing); with a zero denominator the
    score is defined as 1 (loss 0, zero gradient), never NaN.

"""


def segmentation_maps(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    multilabel: bool,
    batch: bool,
    ignore_index: int | None,
) -> tuple[Tensor, Tensor, Tensor | None, tuple[int, ...]]:
    """What every per-class statistic is summed from.

    Returns:
        ``(probs, targets, mask, axes)``: class probabilities and dense
        targets with ``y_pred``'s shape, both zero at ignored positions; the
        valid-position mask (size 1 on the class axis) or ``None`` when
        nothing is ignored; and the axes a statistic sums over (all but the
        class axis, and but the batch axis unless ``batch``), so that a sum
        has shape ``(N, C)``, or ``(C,)`` with ``batch=True``.
    """
    probs = class_probabilities(ops, y_pred, class_axis=class_axis, from_logits=from_logits, multilabel=multilabel)
    targets, mask = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    if mask is not None:
        probs = probs * mask
    ndim = len(ops.shape(y_pred))
    axes = tuple(a for a in range(ndim) if a != class_axis and (batch or a != 0))
    return probs, targets, mask, axes


def position_count(ops: Ops, y_pred: Tensor, mask: Tensor | None, axes: tuple[int, ...]) -> Tensor | float:
    """Number of valid positions behind each statistic: a Python number when
    nothing is ignored, else the mask summed over ``axes`` (shape ``(N, 1)``,
    or ``(1,)`` with ``batch``), which broadcasts against ``(N, C)``."""
    if mask is None:
        shape = ops.shape(y_pred)
        count = 1
        for axis in axes:
            count *= shape[axis]
        return float(count)
    return ops.sum(mask, axis=axes)


def overlap_statistics(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    multilabel: bool,
    batch: bool,
    ignore_index: int | None,
    squared: bool,
    intersection: str = "product",
    sync: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Soft intersection ``I``, prediction volume ``P`` and target volume ``G``.

    With ``batch`` and ``sync`` the batch sums are summed over the replicas of
    a distributed run (:mod:`spec.distributed`).

    The product intersection (and ``squared``) is the fused op
    :meth:`spec.ops.Ops.class_statistics`, which a backend may compute from
    integer labels without a one-hot tensor; ``intersection="l1"`` is
    composed here, except for integer labels and logits: there ``g`` is 0 or
    1, so ``sum(min(p, g)) = sum(p g)``, and the activation's derivative
    vanishes where ``p`` reaches 0 or 1 (the kinks of ``|p - g|``), so the
    gradient w.r.t. the logits is the product's too.

    Returns three tensors of shape ``(N, C)``, or ``(C,)`` with ``batch=True``.
    """
    hard_logits = from_logits and is_label_target(ops, y_pred, y_true)
    if squared or intersection == "product" or hard_logits:
        targets, mask = sparse_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
        activation = ("sigmoid" if multilabel else "softmax") if from_logits else "none"
        statistics = ops.class_statistics(
            y_pred, targets, class_axis, activation=activation, batch=batch, mask=mask, squared=squared
        )
        return replica_sums(ops, *statistics) if batch and sync else statistics
    probs, targets, _, axes = segmentation_maps(
        ops,
        y_pred,
        y_true,
        class_axis=class_axis,
        from_logits=from_logits,
        multilabel=multilabel,
        batch=batch,
        ignore_index=ignore_index,
    )
    pred_volume, true_volume = ops.sum(probs, axis=axes), ops.sum(targets, axis=axes)
    # (P + G - |p - g|_1) / 2: sum(min(p, g)) for p, g in [0, 1] (MONAI soft_label, JDTLosses)
    difference = ops.sum(ops.abs(probs - targets), axis=axes)
    if batch and sync:
        pred_volume, true_volume, difference = replica_sums(ops, pred_volume, true_volume, difference)
    return 0.5 * (pred_volume + true_volume - difference), pred_volume, true_volume


def confusion_statistics(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    multilabel: bool,
    batch: bool,
    ignore_index: int | None,
    clip_epsilon: float = 0.0,
    sync: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The soft confusion matrix of every class: ``TP = sum(p g)``,
    ``FP = sum(p (1 - g))``, ``FN = sum((1 - p) g)`` and ``TN = sum((1 - p)(1 - g))``
    over the valid positions.

    Each entry is summed on its own rather than derived from ``I``, ``P``,
    ``G`` by subtraction, so an entry that is 0 (a perfect prediction) is
    exactly 0 and a tiny one keeps its relative precision.  With
    ``clip_epsilon > 0`` probabilities (``from_logits=False``) are clipped to
    ``[clip_epsilon, 1 - clip_epsilon]``, and so is ``1 - p`` on its own:
    ``1 - clip(p)`` would round ``1 - (1 - 1e-7)`` to ``1.19e-7`` in float32.
    Shapes as :func:`overlap_statistics`.
    """
    clipped = clip_epsilon > 0.0 and not from_logits
    inputs = clip(ops, y_pred, clip_epsilon, 1.0 - clip_epsilon) if clipped else y_pred
    probs, targets, mask, axes = segmentation_maps(
        ops,
        inputs,
        y_true,
        class_axis=class_axis,
        from_logits=from_logits,
        multilabel=multilabel,
        batch=batch,
        ignore_index=ignore_index,
    )
    if clipped:
        complement = clip(ops, 1.0 - y_pred, clip_epsilon, 1.0 - clip_epsilon)
        complement = complement if mask is None else complement * mask
    else:
        complement = 1.0 - probs
    negatives = complement * (1.0 - targets)
    if mask is not None and not clipped:
        negatives = negatives * mask  # an ignored position is neither positive nor negative
    statistics = (
        ops.sum(probs * targets, axis=axes),
        ops.sum(probs * (1.0 - targets), axis=axes),
        ops.sum(complement * targets, axis=axes),
        ops.sum(negatives, axis=axes),
    )
    return replica_sums(ops, *statistics) if batch and sync else statistics


def _score(ops: Ops, numerator: Tensor, denominator: Tensor, *, positive: bool = False) -> Tensor:
    """``numerator / denominator``, 1 where the denominator is 0.  ``positive``
    says the denominator is a sum of non-negative terms plus a positive
    smoothing, so it cannot be 0 and the plain (cheaper) division is exact."""
    if positive:
        return numerator / denominator
    return safe_divide(ops, numerator, denominator, when_zero=1.0)


def tversky_complement(
    ops: Ops,
    intersection: Tensor,
    false_pos: Tensor,
    false_neg: Tensor,
    *,
    alpha: float,
    beta: float,
    smooth_nr: float,
    smooth_dr: float,
    min_denominator: float = 0.0,
) -> Tensor:
    """``1 - T`` for the Tversky index ``T = (I + s_nr) / max(I + alpha FP + beta FN + s_dr, m)``;
    0 where the denominator is 0.

    Two equal forms, each used where it keeps its digits: near ``T = 1`` (a
    nearly perfect prediction) ``(alpha FP + beta FN + s_dr - s_nr) / D``,
    since subtracting ``T`` from 1 would round away the tiny difference that a
    fractional focal exponent then magnifies; for ``T < 1/2`` ``1 - T``
    itself, since there the direct ratio's gradient ``1/D - E/D^2`` cancels.
    """
    numerator = intersection + smooth_nr
    errors = alpha * false_pos + beta * false_neg
    denominator = intersection + errors + smooth_dr
    excess = errors + (smooth_dr - smooth_nr)  # denominator - numerator
    if min_denominator:
        floored = _floored(ops, denominator, min_denominator)
        excess, denominator = excess + (floored - denominator), floored
    direct = safe_divide(ops, excess, denominator)
    complement = 1.0 - safe_divide(ops, numerator, denominator, when_zero=1.0)
    return ops.where(ops.less(numerator, excess), complement, direct)


def _class_weights(num_classes: int, include_background: bool, class_weights: list[float] | None) -> list[float]:
    weights = list(class_weights) if class_weights is not None else [1.0] * num_classes
    if not include_background:
        weights[0] = 0.0
    if sum(weights) <= 0.0:
        raise ValueError(
            f"no class left to average: include_background={include_background} and "
            f"class_weights={class_weights} leave zero total weight over {num_classes} class(es)"
        )
    return weights


def per_class_losses(
    ops: Ops, per_class: Tensor, include_background: bool, class_weights: list[float] | None = None
) -> Tensor:
    """The per-class losses ``(..., C)`` kept apart (``class_reduction="none"``): each
    times its class weight, not normalised, and class 0 left out when
    ``include_background`` is False (``(..., C - 1)``), as MONAI's per-(sample,
    class) loss elements."""
    num_classes = ops.shape(per_class)[-1]
    if class_weights is not None:
        per_class = per_class * ops.constant(list(class_weights), per_class)
    if include_background:
        return per_class
    if num_classes < 2:
        raise ValueError(f"include_background=False leaves no class of the {num_classes} on the class axis")
    selectors = [[1.0 if c == k else 0.0 for c in range(num_classes)] for k in range(1, num_classes)]
    return ops.stack([ops.sum(per_class * ops.constant(s, per_class), axis=-1) for s in selectors], axis=-1)


def _class_average(
    ops: Ops,
    per_class: Tensor,
    include_background: bool,
    class_weights: list[float] | None,
    class_reduction: str = "mean",
) -> Tensor:
    if class_reduction == "none":
        return per_class_losses(ops, per_class, include_background, class_weights)
    num_classes = ops.shape(per_class)[-1]
    weights = _class_weights(num_classes, include_background, class_weights)
    if all(w == 1.0 for w in weights):
        return ops.mean(per_class, axis=-1)
    return ops.sum(per_class * ops.constant(weights, per_class), axis=-1) / sum(weights)


def _smoothing(smooth: float, smooth_nr: float | None, smooth_dr: float | None) -> tuple[float, float]:
    return (smooth if smooth_nr is None else smooth_nr), (smooth if smooth_dr is None else smooth_dr)


def _floored(ops: Ops, denominator: Tensor, min_denominator: float) -> Tensor:
    """``max(D, m)``; the gradient through ``D`` is 0 where ``m`` is taken (``D < m``)."""
    if not min_denominator:
        return denominator
    return ops.where(ops.less(denominator, min_denominator), min_denominator, denominator)


def _score_loss(ops: Ops, score: Tensor, *, log_loss: bool, log_epsilon: float) -> Tensor:
    """A class's loss from its score: ``1 - score``, or ``-log(max(score, log_epsilon))``."""
    if not log_loss:
        return 1.0 - score
    return -ops.log(ops.where(ops.less(score, log_epsilon), log_epsilon, score))


def _empty_class_rule(ops: Ops, loss: Tensor, true_volume: Tensor, empty_class: str) -> Tensor:
    """``empty_class="zero"``: loss 0 for a class whose target volume is 0 (it stays in the average)."""
    if empty_class == "smooth":
        return loss
    return ops.where(ops.greater(true_volume, 0.0), loss, 0.0)


def dice(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    smooth: float,
    smooth_nr: float | None,
    smooth_dr: float | None,
    include_background: bool,
    class_weights: list[float] | None,
    empty_class: str = "smooth",
    min_denominator: float = 0.0,
    log_loss: bool = False,
    log_epsilon: float = 1e-7,
    class_reduction: str = "mean",
    **statistics: Any,
) -> Tensor:
    r"""Soft Dice loss, averaged over classes.

    .. math::

        \ell_c = 1 - \frac{2 I_c + s_{nr}}{\max(P_c + G_c + s_{dr},\ m)}

    with :math:`m` = ``min_denominator`` (0 by default); ``log_loss=True``
    makes :math:`\ell_c` the :math:`-\log` of the ratio (floored at
    ``log_epsilon``), and ``empty_class="zero"`` sets :math:`\ell_c = 0`
    where :math:`G_c = 0`.

    {args}
    {score_args}
    {class_reduction}
    {returns}
    Equivalences, each proven in values and gradients on random inputs:

    * MONAI 1.6 (``tests/test_peers.py``): ``monai.losses.DiceLoss(softmax=True,
      to_onehot_y=True, smooth_nr=a, smooth_dr=b, batch=B,
      include_background=K, squared_pred=S)`` = ``from_logits=True,
      smooth_nr=a, smooth_dr=b, batch=B, include_background=K, squared=S``
      (class axis 1, hard targets), and ``monai.losses.DiceLoss(sigmoid=True,
      ...)`` with one-hot or multi-label float targets = ``multilabel=True``
      with the same settings.  MONAI's ``weight=w`` averages ``w_c l_c`` over
      classes without dividing by :math:`\sum w`; with
      ``include_background=True`` ours equals it times :math:`C / \sum_c w_c`.
    * Keras 3.15.1 (``tests/test_peers.py``): ``keras.losses.Dice(axis=A)``
      (probabilities, channels last) = ``from_logits=False, multilabel=True,
      class_axis=-1, smooth_nr=0, smooth_dr=1e-7`` with ``batch=True`` when
      ``A`` includes the batch axis (``A=None`` with one channel, or every
      axis but the channel axis) and ``batch=False`` when it holds the other
      axes (one channel) or the spatial axes.
    * smp 0.6.0 (``tests/test_peers_overlap_libraries.py``):
      ``DiceLoss(mode, smooth=s, eps=e, classes=J, class_weights=w,
      from_logits=F)`` = ``smooth=2s, batch=True, multilabel=(mode !=
      "multiclass"), from_logits=F, class_weights=w`` (``classes=J``: weight
      1 on ``J``, 0 elsewhere; ``J`` = every class but 0:
      ``include_background=False``) when every class has a target pixel in
      the batch and ``e`` stays below every denominator ``(P + G)/2 + s``
      (smp clamps the denominator at ``e``).  Its ``ignore_index=k`` is
      ``ignore_index=k`` in multiclass mode; in binary mode it is ours on two
      channels (``multilabel=True, include_background=False``, a one-hot
      target whose ignored rows are all zero, an out-of-range
      ``ignore_index``).  Without those conditions (equivalences tested in
      ``tests/test_compat_smp.py``, through the compat class
      ``spec.compat.smp.DiceLoss``): a class absent from the whole batch
      (loss 0, kept in the class mean) is ``empty_class="zero"``, the active
      ``eps`` clamp ``min_denominator=2e``, ``log_loss=True``
      ``log_loss=True, log_epsilon=e``, and smp's L1 intersection (soft
      targets; ties ``p = g``) ``intersection="l1"``; smp's per-entry
      ``ignore_index`` of binary/multilabel mode zeroes the probabilities and
      targets of the ignored entries.
    * kornia 0.9.0 (same file): ``kornia.losses.DiceLoss(average="macro",
      eps=e, weight=w, ignore_index=k)`` = ``smooth_nr=0, smooth_dr=e,
      class_weights=w, ignore_index=k, batch=False`` (``weight=[0, 1, ...]``:
      ``include_background=False``) when every class is present in every
      sample's kept target: kornia averages a sample over its present classes
      only, and scores a fully ignored sample 1 also at ``e=0`` (ours: 0).
      ``average="micro"`` (one ratio over the classes of a sample) is
      :func:`generalized_dice` with ``weight_type="uniform"``,
      ``class_weights=w``, ``smooth_nr=0``, ``smooth_dr=e``, not this loss.
    * MONAI 1.6 ``MaskedDiceLoss`` (same file): ``(softmax=True, smooth_nr=a,
      smooth_dr=b, batch=B, include_background=K, squared_pred=S)(x,
      one_hot, mask=m)`` with a 0/1 mask ``m`` (``(N, 1, ...)`` or
      ``(1, 1, ...)``) = the ``DiceLoss`` settings above plus
      ``ignore_index=i`` on the labels set to ``i`` where ``m = 0``; with
      ``to_onehot_y=True`` only for ``include_background=False`` (MONAI
      makes masked positions class-0 targets).  ``sigmoid=True`` =
      ``multilabel=True`` with the dense target zeroed where ``m = 0`` and an
      out-of-range ``ignore_index``, provided every kept position has a
      positive label (ours drops all-zero rows).  A mask between 0 and 1
      weights ``p`` and ``g``, which no setting here does.

    References:
        Milletari, Navab, Ahmadi, "V-Net: Fully Convolutional Neural Networks
        for Volumetric Medical Image Segmentation", 3DV 2016.
    """
    intersection, pred_volume, true_volume = overlap_statistics(ops, y_pred, y_true, **statistics)
    s_nr, s_dr = _smoothing(smooth, smooth_nr, smooth_dr)
    denominator = _floored(ops, pred_volume + true_volume + s_dr, min_denominator)
    score = _score(ops, 2.0 * intersection + s_nr, denominator, positive=s_dr > 0.0 or min_denominator > 0.0)
    loss = _score_loss(ops, score, log_loss=log_loss, log_epsilon=log_epsilon)
    loss = _empty_class_rule(ops, loss, true_volume, empty_class)
    return _class_average(ops, loss, include_background, class_weights, class_reduction)


def jaccard(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    smooth: float,
    smooth_nr: float | None,
    smooth_dr: float | None,
    include_background: bool,
    class_weights: list[float] | None,
    empty_class: str = "smooth",
    min_denominator: float = 0.0,
    log_loss: bool = False,
    log_epsilon: float = 1e-7,
    class_reduction: str = "mean",
    **statistics: Any,
) -> Tensor:
    r"""Soft Jaccard (IoU) loss, averaged over classes.

    .. math::

        \ell_c = 1 - \frac{I_c + s_{nr}}{\max(P_c + G_c - I_c + s_{dr},\ m)}

    with :math:`m` = ``min_denominator``; ``log_loss`` and ``empty_class`` as
    in :func:`dice`.

    {args}
    {score_args}
    {class_reduction}
    {returns}
    Equivalences, each proven in values and gradients on random inputs:

    * MONAI 1.6 (``tests/test_peers.py``): ``monai.losses.DiceLoss(softmax=True,
      to_onehot_y=True, jaccard=True, smooth_nr=2a, smooth_dr=2b, batch=B,
      include_background=K, squared_pred=S)`` = ``from_logits=True,
      smooth_nr=a, smooth_dr=b, batch=B, include_background=K, squared=S``
      (class axis 1, hard targets).
    * smp 0.6.0 (``tests/test_peers_overlap_libraries.py``):
      ``JaccardLoss(mode, smooth=s, ...)`` = ``smooth=s`` (not doubled) with
      the other settings, conditions and divergences given for smp's
      ``DiceLoss`` in :func:`dice` (its ``eps=e`` clamp:
      ``min_denominator=e``; tested in ``tests/test_compat_smp.py``).
    * MONAI 1.6 ``MaskedDiceLoss(jaccard=True, smooth_nr=2a, smooth_dr=2b,
      ...)`` (same file) = ``smooth_nr=a, smooth_dr=b`` with the mask
      settings given in :func:`dice`.

    References:
        Rahman, Wang, "Optimizing Intersection-Over-Union in Deep Neural
        Networks for Image Segmentation", ISVC 2016.
    """
    intersection, pred_volume, true_volume = overlap_statistics(ops, y_pred, y_true, **statistics)
    s_nr, s_dr = _smoothing(smooth, smooth_nr, smooth_dr)
    denominator = _floored(ops, pred_volume + true_volume - intersection + s_dr, min_denominator)
    score = _score(ops, intersection + s_nr, denominator)
    loss = _score_loss(ops, score, log_loss=log_loss, log_epsilon=log_epsilon)
    loss = _empty_class_rule(ops, loss, true_volume, empty_class)
    return _class_average(ops, loss, include_background, class_weights, class_reduction)


def tversky(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    smooth: float,
    smooth_nr: float | None,
    smooth_dr: float | None,
    include_background: bool,
    class_weights: list[float] | None,
    empty_class: str = "smooth",
    min_denominator: float = 0.0,
    log_loss: bool = False,
    log_epsilon: float = 1e-7,
    class_reduction: str = "mean",
    **statistics: Any,
) -> Tensor:
    r"""Tversky loss with an optional focal exponent, averaged over classes.

    .. math::

        T_c = \frac{I_c + s_{nr}}{\max(I_c + \alpha\,FP_c + \beta\,FN_c + s_{dr},\ m)},\qquad
        \ell_c = (1 - T_c)^{\gamma}

    with :math:`FP = P - I` and :math:`FN = G - I`.  ``alpha`` weighs false
    positives, ``beta`` false negatives; ``alpha = beta = 0.5`` is Dice with
    doubled smoothing, ``alpha = beta = 1`` is Jaccard.  ``gamma`` is applied
    per class before the class average (the focal Tversky loss; the paper's
    exponent :math:`1/\gamma_{paper}` is ``gamma`` here).  For ``gamma != 1``,
    :math:`1 - T_c` is floored at 0, where the gradient is 0 (it can only go
    below 0 when ``smooth_nr > smooth_dr``); ``gamma = 1`` keeps it unfloored,
    as MONAI does.  :math:`m` is ``min_denominator``; with ``log_loss`` the
    base is :math:`-\log\max(T_c, \epsilon_{log})` instead of :math:`1 - T_c`,
    and ``empty_class="zero"`` sets the base to 0 where :math:`G_c = 0`.

    {args}
        alpha: weight of false positives.
        beta: weight of false negatives.
        gamma: focal exponent, > 0.
    {score_args}
    {class_reduction}
    {returns}
    Equivalences, each proven in values and gradients on random inputs:

    * MONAI 1.6 (``tests/test_peers.py``): ``monai.losses.TverskyLoss(softmax=True,
      to_onehot_y=True, alpha=a, beta=b, smooth_nr=s, smooth_dr=t, batch=B,
      include_background=K)`` = ``from_logits=True, alpha=a, beta=b, gamma=1,
      smooth_nr=s, smooth_dr=t, batch=B, include_background=K`` (class axis
      1, hard targets), also where ``smooth_nr > smooth_dr`` makes MONAI's
      per-class loss negative.
    * Keras 3.15.1 (``tests/test_peers.py``): ``keras.losses.Tversky(alpha=a,
      beta=b, axis=A)`` (which weighs false negatives by ``alpha``) =
      ``alpha=b, beta=a, gamma=1`` with the settings given for
      ``keras.losses.Dice`` in :func:`dice`.
    * kornia 0.9.0 (``tests/test_peers_overlap_libraries.py``):
      ``kornia.losses.TverskyLoss(alpha=a, beta=b, eps=e, ignore_index=k)``
      (``alpha`` weighs false positives, as here) = ``alpha=a, beta=b,
      gamma=1, smooth_nr=0, smooth_dr=e, ignore_index=k, batch=False`` when
      every class is present in every sample's kept target: kornia averages a
      sample over its present classes only, and scores a fully ignored sample
      1 also at ``e=0`` (ours: 0).
    * smp 0.6.0 (same file): ``TverskyLoss(mode, alpha=a, beta=b, smooth=s,
      gamma=1)`` = ``alpha=a, beta=b, gamma=1, smooth=s, batch=True,
      multilabel=(mode != "multiclass")`` when every class has a target pixel
      in the batch (smp's ``gamma`` acts after the class mean: see
      ``focal_tversky``); the empty-class rule, ``eps`` and ``log_loss`` as
      for smp's ``DiceLoss`` in :func:`dice`, with ``min_denominator=eps``.

    References:
        Salehi, Erdogmus, Gholipour, "Tversky loss function for image
        segmentation using 3D fully convolutional deep networks", MLMI 2017.
        Abraham, Khan, "A Novel Focal Tversky Loss Function with Improved
        Attention U-Net for Lesion Segmentation", ISBI 2019.
    """
    intersection, pred_volume, true_volume = overlap_statistics(ops, y_pred, y_true, **statistics)
    s_nr, s_dr = _smoothing(smooth, smooth_nr, smooth_dr)
    false_pos, false_neg = pred_volume - intersection, true_volume - intersection
    if log_loss:
        denominator = intersection + alpha * false_pos + beta * false_neg + s_dr
        score = _score(ops, intersection + s_nr, _floored(ops, denominator, min_denominator))
        loss = _score_loss(ops, score, log_loss=True, log_epsilon=log_epsilon)
    else:
        loss = tversky_complement(
            ops,
            intersection,
            false_pos,
            false_neg,
            alpha=alpha,
            beta=beta,
            smooth_nr=s_nr,
            smooth_dr=s_dr,
            min_denominator=min_denominator,
        )
    loss = _empty_class_rule(ops, loss, true_volume, empty_class)
    loss = safe_power(ops, loss, gamma)
    return _class_average(ops, loss, include_background, class_weights, class_reduction)


def generalized_dice(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    weight_type: str,
    weight_epsilon: float,
    smooth: float,
    smooth_nr: float | None,
    smooth_dr: float | None,
    include_background: bool,
    class_weights: list[float] | None,
    **statistics: Any,
) -> Tensor:
    r"""Generalized Dice loss: one ratio over all classes, each class weighted
    by its inverse target volume.

    .. math::

        \ell = 1 - \frac{2\sum_c w_c I_c + s_{nr}}{\sum_c w_c (P_c + G_c) + s_{dr}},\qquad
        w_c = \frac{u_c}{V_c^2 + \epsilon_w}\ (\text{square}),\
        \frac{u_c}{V_c + \epsilon_w}\ (\text{simple}),\ u_c\ (\text{uniform})

    with :math:`V_c = G_c` the class's target volume and :math:`u_c` the
    ``class_weights`` (0 for class 0 when ``include_background=False``).  With
    ``weight_epsilon=0`` (default) MONAI's rule applies: a class absent from
    the target would get an infinite weight, which is replaced by the largest
    finite weight of the sample (of the batch with ``batch=True``); if every
    class is absent all weights are 0 and the loss is
    :math:`1 - s_{nr}/s_{dr}`.

    {args}
        weight_type: ``"square"``, ``"simple"`` or ``"uniform"``.
        weight_epsilon: :math:`\epsilon_w \ge 0` added to the volume term.
    {returns}
    Equivalence (tested against MONAI 1.6 in ``tests/test_peers.py``):
    ``monai.losses.GeneralizedDiceLoss(softmax=True,
    to_onehot_y=True, w_type=t, batch=B, include_background=K)`` =
    ``weight_type=t, weight_epsilon=0, batch=B, include_background=K``.
    kornia 0.9.0 ``DiceLoss(average="micro", eps=e, weight=w,
    ignore_index=k)`` = ``weight_type="uniform", weight_epsilon=0,
    smooth_nr=0, smooth_dr=e, batch=False, class_weights=w,
    ignore_index=k``, also with a class absent from a sample (tested in
    ``tests/test_peers_overlap_libraries.py``).

    References:
        Sudre, Li, Vercauteren, Ourselin, Cardoso, "Generalised Dice overlap as
        a deep learning loss function for highly unbalanced segmentations",
        DLMIA 2017.
    """
    intersection, pred_volume, true_volume = overlap_statistics(ops, y_pred, y_true, **statistics)
    num_classes = ops.shape(intersection)[-1]
    user_weights = _class_weights(num_classes, include_background, class_weights)
    user = ops.constant(user_weights, intersection)
    if weight_type == "uniform":
        weights = user
    else:
        volume = true_volume * true_volume if weight_type == "square" else true_volume
        if weight_epsilon > 0.0:
            weights = user / (volume + weight_epsilon)
        else:
            present = ops.greater(volume, 0.0)
            inverse = ops.where(present, 1.0 / ops.where(present, volume, 1.0), 0.0)
            kept = ops.constant([1.0 if u > 0.0 else 0.0 for u in user_weights], intersection)
            largest = ops.amax(inverse * kept, axis=-1, keepdims=True)
            weights = user * ops.where(present, inverse, largest)
    weights = ops.stop_gradient(weights)
    s_nr, s_dr = _smoothing(smooth, smooth_nr, smooth_dr)
    numerator = 2.0 * ops.sum(weights * intersection, axis=-1) + s_nr
    denominator = ops.sum(weights * (pred_volume + true_volume), axis=-1) + s_dr
    return 1.0 - _score(ops, numerator, denominator, positive=s_dr > 0.0)


for _formula in (dice, jaccard, tversky, generalized_dice):
    _formula.__doc__ = (
        _formula.__doc__.replace("    {args}\n", _ARGS_DOC)
        .replace("    {score_args}\n", _SCORE_ARGS_DOC.lstrip("\n"))
        .replace("    {class_reduction}\n", _CLASS_REDUCTION_DOC.lstrip("\n"))
        .replace("    {returns}\n", _RETURNS_DOC)
    )

_SEGMENTATION_INPUTS = CLASS_INPUTS


def _common_presets(extra: dict[str, dict]) -> dict[str, dict]:
    presets = {
        "default": {},
        "probabilities": {"from_logits": False},
        # sync: the identity in one process (the distributed tests run it on two replicas)
        "batch": {"batch": True, "sync": True},
        "no_background_weighted": {"include_background": False, "class_weights": [1.0, 2.0, 0.5]},
        "ignore_index": {"ignore_index": 255, "smooth_nr": 0.0, "smooth_dr": 1e-6},
        "multilabel_squared": {"multilabel": True, "squared": True, "smooth": 1.0},
        "unsmoothed": {"smooth": 0.0},
        "l1_intersection": {"intersection": "l1", "smooth": 1.0},
    }
    presets.update(extra)
    return presets


# smp's conventions (SCORE_PARAMS): the empty-class rule with a denominator clamp, and log_loss
SMP_PRESETS = {
    "smp_empty_zero_clamped": {"empty_class": "zero", "min_denominator": 0.5, "smooth": 0.0, "batch": True},
    "smp_log_loss": {"log_loss": True, "log_epsilon": 1e-3, "empty_class": "zero", "multilabel": True},
}

_SPECS = [
    (
        dice,
        (*SCORE_PARAMS, CLASS_REDUCTION),
        {
            "multilabel_probabilities": {"multilabel": True, "from_logits": False, "batch": True},
            **SMP_PRESETS,
            **PER_CLASS_PRESETS,
        },
    ),
    (
        jaccard,
        (*SCORE_PARAMS, CLASS_REDUCTION),
        {"ignore_in_range_batch": {"ignore_index": 1, "batch": True}, **SMP_PRESETS, **PER_CLASS_PRESETS},
    ),
    (
        tversky,
        (
            Param("alpha", "float", 0.5, "weight of false positives", low=0.0),
            Param("beta", "float", 0.5, "weight of false negatives", low=0.0),
            Param("gamma", "float", 1.0, "focal exponent applied per class", low=0.0, low_open=True),
            *SCORE_PARAMS,
            CLASS_REDUCTION,
        ),
        {
            "fn_heavy": {"alpha": 0.3, "beta": 0.7},
            "focal": {"alpha": 0.7, "beta": 0.3, "gamma": 0.75},
            "focal_strong_batch": {"gamma": 2.0, "batch": True, "multilabel": True},
            **SMP_PRESETS,
            "smp_log_focal": {"log_loss": True, "gamma": 2.0, "min_denominator": 0.5, "alpha": 0.3, "beta": 0.7},
            **PER_CLASS_PRESETS,
        },
    ),
    (
        generalized_dice,
        (
            Param(
                "weight_type",
                "choice",
                "square",
                "class weights from target volume",
                choices=("square", "simple", "uniform"),
            ),
            Param("weight_epsilon", "float", 0.0, "added to the volume term; 0 = MONAI's rule", low=0.0),
        ),
        {
            "simple": {"weight_type": "simple"},
            "uniform": {"weight_type": "uniform"},
            "epsilon": {"weight_epsilon": 1e-3, "weight_type": "square"},
            "batch_epsilon_simple": {"batch": True, "weight_type": "simple", "weight_epsilon": 0.5},
        },
    ),
]

# (1 - T)^gamma: an infinite slope at a perfect prediction for gamma < 1
_SAMPLES = {"tversky": focal_segmentation_samples(lambda params: params["gamma"])}

for _formula, _extra, _presets in _SPECS:
    register(
        LossSpec(
            name=_formula.__name__,
            formula=_formula,
            params=ParamSet(OVERLAP_PARAMS + tuple(_extra)),
            inputs=_SEGMENTATION_INPUTS,
            family="segmentation",
            presets=_common_presets(_presets),
            samples=_SAMPLES.get(_formula.__name__, segmentation_samples),
        )
    )
