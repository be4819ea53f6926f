"""Cross-entropy losses over a class axis and for independent binary targets."""

from __future__ import annotations

from typing import Any

from spec.distributed import SYNC
from spec.inputs import Inputs
from spec.losses._targets import (
    along_axis,
    class_log_probabilities,
    dense_targets,
    is_label_target,
    sparse_targets,
)
from spec.ops import Ops, clip, softplus
from spec.params import Param, ParamSet
from spec.reduction import Fused, Weighted
from spec.registry import LossSpec, register
from spec.samples import binary_samples, classification_samples

Tensor = Any

CLASS_AXIS = Param(
    "class_axis",
    "int",
    None,
    "axis of y_pred holding the classes; None means the framework's layout (torch 1, Keras -1)",
    optional=True,
)
# logits or probabilities over a class axis; labels or one-hot/soft targets in [0, 1]
CLASS_INPUTS = Inputs(
    "classes",
    labels=True,
    target_range=(0.0, 1.0),
    min_ndim=2,
    prediction="logits or probabilities over the class axis",
)
FROM_LOGITS = Param("from_logits", "bool", True, "y_pred holds logits (True) or probabilities (False)")
EPSILON = Param(
    "epsilon",
    "float",
    1e-7,
    "probabilities are clipped to [epsilon, 1 - epsilon] when from_logits=False",
    low=0.0,
    high=0.5,
    high_open=True,
)


def categorical_crossentropy(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    label_smoothing: float,
    class_weights: list[float] | None,
    ignore_index: int | None,
    epsilon: float,
) -> Tensor | Weighted | Fused:
    r"""Cross-entropy between a class distribution and targets.

    .. math::

        \ell_i = -\sum_c w_c\,\tilde y_{ic}\,\log p_{ic},\qquad
        \tilde y = (1-\varepsilon)\,y + \varepsilon / C

    with :math:`p = \mathrm{softmax}(x)` over ``class_axis`` (``from_logits``)
    or the given probabilities renormalised and clipped to
    ``[epsilon, 1 - epsilon]``, :math:`w_c` the class weights and
    :math:`\varepsilon` the label smoothing.  ``"mean"`` divides the sum by the
    number of positions; when ``class_weights`` or ``ignore_index`` is set it
    divides by the total target weight :math:`\sum_i \sum_c w_c y_{ic}` of the
    valid positions instead (so an all-ignored batch gives 0).

    Args:
        y_pred: logits or probabilities, ``(N, C, ...)`` channels-first or
            ``(N, ..., C)`` channels-last.
        y_true: one-hot or soft targets with ``y_pred``'s shape, or integer
            labels ``(N, ...)`` without the class axis.  With dense targets an
            ignored position is one whose row a one-hot encoding of
            ``ignore_index`` would give.
        class_axis: class axis of ``y_pred``.
        from_logits: ``y_pred`` holds logits.
        label_smoothing: :math:`\varepsilon \in [0, 1]`, mixing the targets
            with the uniform distribution.
        class_weights: per-class weights :math:`w_c`, length ``C``.
        ignore_index: label whose positions contribute nothing.
        epsilon: probability clip when ``from_logits=False``.
        sync: in a distributed run (``torch.distributed``, ``tf.distribute``),
            ``"mean"`` divides the sum over every replica's positions by their
            total count or weight, the global batch's mean over its valid
            positions (``spec.distributed``; ``tests/test_distributed.py``).
            The identity in one process.

    Returns:
        Per-position losses ``(N, ...)`` before reduction.

    Equivalences (tested in ``tests/test_peers.py``; NLLLoss and smp in
    ``tests/test_peers_classification_libraries.py``):
        * ``torch.nn.CrossEntropyLoss(weight=w, ignore_index=k, label_smoothing=e)``
          with integer targets = ``from_logits=True, class_weights=w,
          ignore_index=k, label_smoothing=e``, class axis 1.  torch's default
          ``ignore_index=-100`` only matters when labels contain -100.
        * ``torch.nn.CrossEntropyLoss(label_smoothing=e)`` with probability
          targets = the same with dense ``y_true`` and no class weights.
        * ``keras.losses.CategoricalCrossentropy(from_logits=f, label_smoothing=e)``
          = ``from_logits=f, label_smoothing=e``, class axis -1, one-hot or
          soft targets (tested on Keras' TensorFlow backend with the
          probabilities passed as tensors; when they come out of a softmax op
          in the same graph, that backend may silently use its logits instead).
        * ``keras.losses.SparseCategoricalCrossentropy(from_logits=f, ignore_class=k)``
          = integer labels with ``ignore_index=k``.
        * Keras with ``sample_weight=w[y]`` (``sum_over_batch_size``) =
          ``sample_weight=w[y]`` here, not ``class_weights=w``, which
          normalises by the total weight like torch.
        * ``torch.nn.NLLLoss(weight=w, ignore_index=k, reduction=r)`` on
          log-probabilities ``log p`` = ``from_logits=True, class_weights=w,
          ignore_index=k`` on ``log p``, or ``from_logits=False`` on
          ``exp(log p)`` while the target's probability lies in
          ``[epsilon, 1 - epsilon]``, every reduction, in values.  Gradients:
          NLL's w.r.t. its input is ``-w_y onehot / W``, ours ``w_y (p -
          onehot) / W`` (``W`` the total target weight for ``"mean"``, 1
          otherwise); they agree w.r.t. ``z`` when ``log p = log_softmax(z)``
          (our input ``log p``, or ``exp(log p)``).
          Not reproduced: NLL on inputs that are not log-probabilities (ours
          normalises them), and its NaN ``"mean"`` when every position is
          ignored (ours 0).
        * smp 0.6.0 ``SoftCrossEntropyLoss(smooth_factor=s, ignore_index=k,
          reduction=r, dim=d)`` = ``from_logits=True, label_smoothing=s``, class
          axis ``d``, with ``sample_weight = (labels != k)`` and the ignored
          labels replaced by any class, every reduction: smp's ``"mean"``
          divides by all positions, ignored ones included, i.e. it is the
          ``ignore_index=k`` mean times the valid fraction.  ``"sum"`` and
          ``"none"`` also equal ``ignore_index=k`` (smp's ``"none"`` keeps a
          size-1 class axis when ``ignore_index`` is set).  smp's default
          ``smooth_factor=None`` raises ``TypeError``; ``s > 1`` is rejected here.

    References:
        Label smoothing: Szegedy et al., "Rethinking the Inception Architecture
        for Computer Vision", CVPR 2016.
    """
    num_classes = ops.shape(y_pred)[class_axis]
    normalised = class_weights is not None or ignore_index is not None
    if is_label_target(ops, y_pred, y_true) and from_logits:
        return _label_cross_entropy(
            ops,
            y_pred,
            y_true,
            class_axis=class_axis,
            label_smoothing=label_smoothing,
            class_weights=class_weights,
            ignore_index=ignore_index,
        )

    if from_logits and not normalised and not label_smoothing:
        # dense targets: the fused op, whose composite default is the lines below
        return ops.softmax_cross_entropy(y_pred, y_true, class_axis)
    log_p = class_log_probabilities(ops, y_pred, class_axis=class_axis, from_logits=from_logits, epsilon=epsilon)
    targets, mask = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    weighted_log_p = log_p if class_weights is None else log_p * along_axis(ops, class_weights, y_pred, class_axis)
    loss = -ops.sum(targets * weighted_log_p, axis=class_axis)
    if label_smoothing:
        uniform = weighted_log_p if mask is None else weighted_log_p * mask
        loss = (1.0 - label_smoothing) * loss - (label_smoothing / num_classes) * ops.sum(uniform, axis=class_axis)
    if not normalised:
        return loss
    if class_weights is None:
        weight = ops.sum(targets, axis=class_axis)
    else:
        weight = ops.sum(targets * along_axis(ops, class_weights, y_pred, class_axis), axis=class_axis)
    return Weighted(loss, weight)


def _label_cross_entropy(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    label_smoothing: float,
    class_weights: list[float] | None,
    ignore_index: int | None,
) -> Fused:
    """Cross-entropy of logits against integer labels through the fused
    :meth:`spec.ops.Ops.sparse_softmax_cross_entropy` (no one-hot tensor), which
    folds ``"mean"`` (over the total target weight ``sum_i v_i w_{t_i}`` when
    class weights or ignored positions are set) and ``"sum"`` itself."""

    def fused(reduction: str) -> Tensor | Weighted:
        elements = ops.sparse_softmax_cross_entropy(
            y_pred,
            y_true,
            class_axis,
            reduction,
            class_weights=class_weights,
            label_smoothing=label_smoothing,
            ignore_index=ignore_index,
        )
        if reduction != "none" or (class_weights is None and ignore_index is None):
            return elements
        labels, weight = y_true, None
        if ignore_index is not None:
            valid = ops.not_equal(y_true, ignore_index)
            labels, weight = ops.where(valid, y_true, 0), ops.cast(valid, y_pred)
        if class_weights is not None:
            picked = ops.gather(ops.constant(class_weights, y_pred), labels)
            weight = picked if weight is None else picked * weight
        return Weighted(elements, weight)

    return Fused(fused)


def binary_crossentropy(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    pos_weight: float | list[float] | None,
    label_smoothing: float,
    epsilon: float,
) -> Tensor:
    r"""Binary cross-entropy per element, for independent 0/1 (or soft) targets.

    .. math::

        \ell = -\,[\,w_+\,\tilde t \log \sigma(x) + (1-\tilde t)\log(1-\sigma(x))\,],\qquad
        \tilde t = (1-\varepsilon)\,t + \varepsilon/2

    From logits it is computed as :math:`w_+\tilde t\,\mathrm{softplus}(-x) +
    (1-\tilde t)\,\mathrm{softplus}(x)`, finite and exact for any logit; from
    probabilities ``p`` is clipped to ``[epsilon, 1 - epsilon]``.

    Args:
        y_pred: logits or probabilities, any shape ``(N, ...)``.
        y_true: targets in ``[0, 1]`` with ``y_pred``'s shape.
        class_axis: axis along which a per-class ``pos_weight`` broadcasts.
        from_logits: ``y_pred`` holds logits.
        pos_weight: weight :math:`w_+` of the positive term; a float, or one
            value per class along ``class_axis``.
        label_smoothing: :math:`\varepsilon`; targets move towards 0.5.
        epsilon: probability clip when ``from_logits=False``.

    Returns:
        Elementwise losses with ``y_pred``'s shape (from logits without
        ``pos_weight``: as a :class:`spec.reduction.Fused` op).

    Equivalences (tested on hard and soft targets in ``tests/test_peers.py``;
    BCELoss and smp in ``tests/test_peers_classification_libraries.py``):
        * ``torch.nn.BCEWithLogitsLoss(pos_weight=w)`` = ``from_logits=True,
          pos_weight=w`` (a float or one value per class, class axis 1).
        * ``keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=e)``
          = ``from_logits=True, label_smoothing=e``.
        * ``torch.nn.BCELoss(weight=w, reduction=r)`` on probabilities =
          ``from_logits=False, epsilon=e`` with ``sample_weight`` = ``w``
          broadcast to the input's shape, every reduction, values and
          gradients, wherever ``e <= p`` and ``e <= 1 - p``.  Outside that
          range each term stays at ``-log(e)`` with zero gradient (16.12 for the
          default ``1e-7``) where torch's ``-log p`` grows up to 100.
          ``epsilon=exp(-100)`` is torch's clamp of the log at -100 (float64):
          the values then agree for every ``p`` in ``[0, 1]``, the gradients
          where ``p (1 - p) >= 1e-11`` (torch divides its gradient by
          ``max(p (1 - p), 1e-12)``).
        * smp 0.6.0 ``SoftBCEWithLogitsLoss(weight=w, pos_weight=q,
          smooth_factor=s, ignore_index=k, reduction=r)`` = ``from_logits=True,
          pos_weight=q, label_smoothing=2 s`` with ``sample_weight`` = ``w``
          broadcast times ``(y != k)`` and the ignored targets replaced by 0
          (smp's ``"mean"`` counts the ignored elements), every reduction.
          ``s > 0.5`` would need ``label_smoothing > 1``, rejected here; smooth
          the targets beforehand instead.
    """
    targets = y_true if not label_smoothing else y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits and pos_weight is None:
        # the fused op (composite: the lines below), which reduces in its own kernel
        return Fused(lambda reduction: ops.sigmoid_cross_entropy(y_pred, targets, reduction))
    if from_logits:
        positive, negative = softplus(ops, -y_pred), softplus(ops, y_pred)
    else:
        # Clipping 1 - p rather than p keeps -log(epsilon) exact in float32,
        # where 1 - 1e-7 is not representable.
        positive = -ops.log(clip(ops, y_pred, epsilon, 1.0 - epsilon))
        negative = -ops.log(clip(ops, 1.0 - y_pred, epsilon, 1.0 - epsilon))
    positive_term = targets * positive
    if isinstance(pos_weight, list):
        positive_term = positive_term * along_axis(ops, pos_weight, y_pred, class_axis)
    elif pos_weight is not None:
        positive_term = positive_term * pos_weight
    return positive_term + (1.0 - targets) * negative


def negative_log_likelihood(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    class_weights: list[float] | None,
    ignore_index: int | None,
) -> Tensor | Weighted:
    r"""Negative log-likelihood of given log-probabilities (torch's ``NLLLoss``).

    .. math::

        \ell_i = -\sum_c w_c\,y_{ic}\,x_{ic}

    ``y_pred`` is used as it is, without normalising it: the loss is linear in
    it, and its gradient is :math:`-w_c y_{ic}` (what distinguishes it from
    :func:`categorical_crossentropy` on log-probabilities, whose gradient is
    :math:`w_y (p - y)`).  ``"mean"`` divides the sum by the total target
    weight :math:`\sum_i \sum_c w_c y_{ic}` of the valid positions when
    ``class_weights`` or ``ignore_index`` is set (torch's rule; an all-ignored
    batch gives 0, where torch gives NaN).

    Args:
        y_pred: log-probabilities (any real scores), ``(N, C, ...)``
            channels-first or ``(N, ..., C)`` channels-last.
        y_true: integer labels ``(N, ...)`` without the class axis, or one-hot
            / soft targets with ``y_pred``'s shape.
        class_axis: class axis of ``y_pred``.
        class_weights: per-class weights :math:`w_c`, length ``C``.
        ignore_index: label whose positions contribute nothing.
        sync: in a distributed run, ``"mean"`` divides the sum over every
            replica's positions by their total count or weight, the global
            batch's mean (``spec.distributed``); the identity in one process.

    Returns:
        Per-position losses ``(N, ...)`` before reduction.

    Equivalence (tested in ``tests/test_compat_torch.py``, values and
    gradients): ``torch.nn.NLLLoss(weight=w, ignore_index=k, reduction=r)`` =
    ``class_weights=w, ignore_index=k``, class axis 1, every reduction.
    """
    if is_label_target(ops, y_pred, y_true):
        # the score at each label, gathered: no one-hot tensor (the gradient, -w_y there, is the same)
        labels, mask = sparse_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
        picked = ops.take_along_axis(y_pred, ops.expand_dims(labels, class_axis), class_axis)
        weight = None if class_weights is None else ops.gather(ops.constant(class_weights, y_pred), labels)
        if mask is not None:
            mask = ops.sum(mask, axis=class_axis)  # drop its size-1 class axis
            weight = mask if weight is None else weight * mask
        loss = -ops.sum(picked, axis=class_axis)
        return loss if weight is None else Weighted(loss * weight, weight)
    targets, _ = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    weighted = targets if class_weights is None else targets * along_axis(ops, class_weights, y_pred, class_axis)
    loss = -ops.sum(weighted * y_pred, axis=class_axis)
    if class_weights is None and ignore_index is None:
        return loss
    return Weighted(loss, ops.sum(weighted, axis=class_axis))


def check_class_weights(loss: str, params: dict) -> None:
    weights = params.get("class_weights")
    if weights is not None and sum(weights) <= 0.0:
        raise ValueError(f"{loss}: class_weights must have a positive sum, got {weights}")


register(
    LossSpec(
        name="categorical_crossentropy",
        formula=categorical_crossentropy,
        params=ParamSet(
            (
                CLASS_AXIS,
                FROM_LOGITS,
                Param("label_smoothing", "float", 0.0, "mix targets with the uniform distribution", low=0.0, high=1.0),
                Param("class_weights", "floats", None, "per-class weights, length C", optional=True, low=0.0),
                Param("ignore_index", "int", None, "label whose positions are ignored", optional=True),
                EPSILON,
                SYNC,
            ),
            checks=(check_class_weights,),
        ),
        inputs=CLASS_INPUTS,
        family="classification",
        presets={
            "default": {},
            "probabilities": {"from_logits": False},
            "label_smoothing": {"label_smoothing": 0.1},
            "class_weights": {"class_weights": [0.2, 1.0, 3.0, 0.7]},
            "ignore_index": {"ignore_index": -100},
            "ignore_in_range": {"ignore_index": 1, "sync": True},  # sync: the identity in one process
            "torch_full": {"class_weights": [0.5, 2.0, 1.0, 1.5], "ignore_index": 255, "label_smoothing": 0.2},
            "keras_probabilities": {"from_logits": False, "label_smoothing": 0.05, "epsilon": 1e-4},
        },
        samples=classification_samples,
    )
)

register(
    LossSpec(
        name="binary_crossentropy",
        formula=binary_crossentropy,
        params=ParamSet(
            (
                CLASS_AXIS,
                FROM_LOGITS,
                Param(
                    "pos_weight",
                    "floats",
                    None,
                    "weight of the positive term (float or per class)",
                    optional=True,
                    low=0.0,
                    scalar_ok=True,
                ),
                Param("label_smoothing", "float", 0.0, "move targets towards 0.5", low=0.0, high=1.0),
                EPSILON,
            )
        ),
        inputs=Inputs("elementwise", target_range=(0.0, 1.0), prediction="logits or probabilities"),
        family="classification",
        presets={
            "default": {},
            "probabilities": {"from_logits": False},
            "pos_weight": {"pos_weight": 2.5},
            "pos_weight_per_class": {"pos_weight": [0.5, 1.0, 3.0]},
            "label_smoothing": {"label_smoothing": 0.2},
            "probabilities_smoothed": {"from_logits": False, "label_smoothing": 0.1, "epsilon": 1e-3},
        },
        samples=binary_samples,
    )
)

register(
    LossSpec(
        name="negative_log_likelihood",
        formula=negative_log_likelihood,
        params=ParamSet(
            (
                CLASS_AXIS,
                Param("class_weights", "floats", None, "per-class weights, length C", optional=True, low=0.0),
                Param("ignore_index", "int", None, "label whose positions are ignored", optional=True),
                SYNC,
            ),
            checks=(check_class_weights,),
        ),
        inputs=CLASS_INPUTS,
        family="classification",
        presets={
            "default": {},
            "class_weights": {"class_weights": [0.2, 1.0, 3.0, 0.7]},
            "ignore_index": {"ignore_index": -100, "sync": True},  # sync: the identity in one process
            "torch_full": {"class_weights": [0.5, 2.0, 1.0, 1.5], "ignore_index": 1},
        },
        samples=classification_samples,
    )
)
