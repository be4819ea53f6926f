"""Margin losses for classification, divergences between distributions, and
count (Poisson) losses.

Kinks: every ``max(0, m)`` below is written with :func:`_positive_part`, whose
gradient at ``m == 0`` is 0, as torch's ``MultiMarginLoss`` kernel.  Keras'
hinge losses use TensorFlow's ``maximum(m, 0)``, which sends the gradient to
``m`` on a tie, so the peers differ exactly there; the peer tests pin both
conventions and keep random margins away from 0, as do the parity samples
(finite differences cannot resolve a kink).

The tests named in the docstrings below (``test_*``) are in
``tests/test_peers_margin_regression.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spec.inputs import Inputs
from spec.losses._classification import CLASS_AXIS
from spec.losses._targets import along_axis, dense_targets
from spec.ops import Ops, clip, softplus
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import SATURATION, Sample, binary_samples, one_hot

Tensor = Any


def _positive_part(ops: Ops, x: Tensor) -> Tensor:
    """``max(x, 0)`` with gradient 0 at ``x == 0``."""
    return ops.where(ops.greater(x, 0.0), x, 0.0)


def _signed_targets(ops: Ops, y_true: Tensor, target_encoding: str) -> Tensor:
    """Targets in {-1, 1} (or soft in [-1, 1]) for the hinge losses."""
    if target_encoding == "signed":
        return y_true
    converted = 2.0 * y_true - 1.0
    if target_encoding == "binary":
        return converted
    # "auto" (Keras): convert only when *every* target is exactly 0 or 1.
    # y (1 - y) is exactly 0 for those two values and for no other float, so
    # the test is one sum, traceable, without a Python branch on values.
    off_binary = ops.sum(ops.abs(y_true * (1.0 - y_true)))
    return ops.where(ops.equal(off_binary, 0.0), converted, y_true)


def _check_not_batch_axis(loss: str, params: dict) -> None:
    if params.get("class_axis") == 0:
        raise ValueError(
            f"{loss}: class_axis=0 is the batch axis; expected the axis holding the vector or "
            f"distribution (1 for channels-first, -1 for channels-last)"
        )


# --------------------------------------------------------------------------- hinge family


def hinge(ops: Ops, y_pred: Tensor, y_true: Tensor, *, target_encoding: str) -> Tensor:
    r"""Hinge loss per element for binary targets.

    .. math::

        \ell = \max(0,\ 1 - s\,\hat y),\qquad
        s = \begin{cases} 2y - 1 & \text{targets converted} \\ y & \text{otherwise} \end{cases}

    Args:
        y_pred: real-valued scores (decision values), any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape, in ``[-1, 1]``: signed labels
            :math:`\pm 1`, binary labels :math:`\{0, 1\}` or soft values.
        target_encoding: how targets become signs :math:`s`.  ``"auto"``
            (Keras): converted with :math:`2y - 1` only when every target of
            the call is exactly 0 or 1, else used as they are; ``"signed"``:
            never converted; ``"binary"``: always converted.

    Returns:
        Elementwise losses with ``y_pred``'s shape.  ``"mean"`` equals
        ``keras.losses.Hinge()`` for targets on which ``target_encoding``
        agrees with Keras' rule (always for ``"auto"``; tested:
        ``test_keras_hinge``).  Keras averages the last axis first: its
        ``reduction=None`` is our ``"none"`` averaged over the last axis, its
        ``"sum"`` our ``"sum"`` divided by that axis' size
        (``test_keras_elementwise_reductions``).  At the kink
        :math:`s\hat y = 1` our gradient is 0, Keras' is :math:`-s`
        (``test_hinge_kink_gradient``).

    References:
        Cortes & Vapnik, "Support-Vector Networks", Machine Learning 1995;
        ``keras.losses.Hinge``.
    """
    return _positive_part(ops, 1.0 - _signed_targets(ops, y_true, target_encoding) * y_pred)


def squared_hinge(ops: Ops, y_pred: Tensor, y_true: Tensor, *, target_encoding: str) -> Tensor:
    r"""Squared hinge loss per element for binary targets.

    .. math::

        \ell = \max(0,\ 1 - s\,\hat y)^2

    with the signs :math:`s` of :func:`hinge`.

    Args:
        y_pred: real-valued scores, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape, in ``[-1, 1]``.
        target_encoding: ``"auto"`` (Keras: convert :math:`2y - 1` when every
            target is 0 or 1), ``"signed"`` (never) or ``"binary"`` (always).

    Returns:
        Elementwise losses with ``y_pred``'s shape (differentiable
        everywhere).  ``"mean"`` equals ``keras.losses.SquaredHinge()`` with
        ``target_encoding="auto"`` (tested: ``test_keras_hinge``); Keras'
        ``None``/``"sum"`` act on last-axis means
        (``test_keras_elementwise_reductions``).

    References:
        ``keras.losses.SquaredHinge``; the L2-SVM objective as in Tang,
        "Deep Learning using Linear Support Vector Machines", ICML 2013
        Workshop on Representation Learning.
    """
    margin = _positive_part(ops, 1.0 - _signed_targets(ops, y_true, target_encoding) * y_pred)
    return margin * margin


def categorical_hinge(ops: Ops, y_pred: Tensor, y_true: Tensor, *, class_axis: int) -> Tensor:
    r"""Categorical hinge loss per position (Keras' multi-class hinge).

    .. math::

        \ell = \max\bigl(0,\ 1 + \max_c\,(1 - y_c)\,\hat y_c - \textstyle\sum_c y_c\,\hat y_c\bigr)

    The inner maximum runs over *all* classes with the target class' score
    multiplied by 0 (Keras' definition), so it is never below 0: when every
    wrong-class score is negative the loss is :math:`\max(0, 1 - \hat y_y)`,
    not the Crammer-Singer :math:`\max(0, 1 + \max_{c \ne y}\hat y_c - \hat y_y)`.
    Ties in the maximum share its gradient evenly.

    Args:
        y_pred: class scores, ``(N, C, ...)`` channels-first or
            ``(N, ..., C)`` channels-last.
        y_true: one-hot (or soft) targets with ``y_pred``'s shape, or integer
            labels ``(N, ...)`` without the class axis.
        class_axis: class axis of ``y_pred``.

    Returns:
        Per-position losses ``(N, ...)``.  ``"mean"`` equals
        ``keras.losses.CategoricalHinge()`` at ``class_axis=-1`` (tested:
        ``test_keras_categorical_hinge``).

    References:
        ``keras.losses.CategoricalHinge``; Crammer & Singer, "On the
        Algorithmic Implementation of Multiclass Kernel-based Vector
        Machines", JMLR 2001 (the margin it approximates).
    """
    targets, _ = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=None)
    positive = ops.sum(targets * y_pred, axis=class_axis)
    negative = ops.amax((1.0 - targets) * y_pred, axis=class_axis)
    return _positive_part(ops, negative - positive + 1.0)


def multi_margin(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    p: int,
    margin: float,
    class_weights: list[float] | None,
) -> Tensor:
    r"""Multi-class margin loss per position (torch's ``MultiMarginLoss``).

    .. math::

        \ell = \frac{w_y}{C} \sum_{c \ne y} \max(0,\ m - \hat y_y + \hat y_c)^p

    with :math:`y` the target class, :math:`m` the margin, :math:`w_y` its
    class weight and :math:`C` the number of classes (torch divides by
    :math:`C`, not by the :math:`C - 1` terms of the sum).

    Args:
        y_pred: class scores, ``(N, C, ...)`` channels-first or
            ``(N, ..., C)`` channels-last.
        y_true: integer labels ``(N, ...)`` without the class axis, or one-hot
            targets with ``y_pred``'s shape.
        class_axis: class axis of ``y_pred``.
        p: exponent :math:`p \in \{1, 2\}`.
        margin: margin :math:`m`.
        class_weights: per-class weights, length ``C``; the target class'
            weight :math:`w_y` scales the position's loss.

    Returns:
        Per-position losses ``(N, ...)``; ``"mean"`` divides by the number of
        positions, not by the weights.  Equals
        ``torch.nn.MultiMarginLoss(p=p, margin=m, weight=w)`` for ``(N, C)``
        scores and labels ``(N,)`` in every reduction (tested:
        ``test_torch_multi_margin``); torch accepts no spatial axes.

    References:
        Weston & Watkins, "Support Vector Machines for Multi-Class Pattern
        Recognition", ESANN 1999; ``torch.nn.MultiMarginLoss``.
    """
    num_classes = ops.shape(y_pred)[class_axis]
    targets, _ = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=None)
    true_score = ops.sum(targets * y_pred, axis=class_axis, keepdims=True)
    # (1 - y) removes the target class' own term, which would be max(0, m)
    violation = _positive_part(ops, margin - true_score + y_pred) * (1.0 - targets)
    if p == 2:
        violation = violation * violation
    loss = ops.sum(violation, axis=class_axis) / num_classes
    if class_weights is not None:
        loss = loss * ops.sum(targets * along_axis(ops, class_weights, y_pred, class_axis), axis=class_axis)
    return loss


def soft_margin(ops: Ops, y_pred: Tensor, y_true: Tensor) -> Tensor:
    r"""Logistic (soft margin) loss per element for signed targets.

    .. math::

        \ell = \log\bigl(1 + e^{-y\,\hat y}\bigr)

    computed as :math:`\mathrm{softplus}(-y\hat y)`, finite for any score.

    Args:
        y_pred: real-valued scores, any shape ``(N, ...)``.
        y_true: targets :math:`\pm 1` (or soft values in ``[-1, 1]``) with
            ``y_pred``'s shape; 0/1 targets are *not* converted (as in torch).

    Returns:
        Elementwise losses with ``y_pred``'s shape; equals
        ``torch.nn.SoftMarginLoss()`` in every reduction (tested:
        ``test_torch_soft_margin``).

    References:
        ``torch.nn.SoftMarginLoss``; the logistic loss of logistic
        regression with labels in {-1, 1}.
    """
    return softplus(ops, -y_true * y_pred)


def multilabel_soft_margin(
    ops: Ops, y_pred: Tensor, y_true: Tensor, *, class_axis: int, class_weights: list[float] | None
) -> Tensor:
    r"""Multi-label logistic loss, averaged over the classes of each position.

    .. math::

        \ell = \frac1C \sum_c w_c\,\bigl[\,y_c\,\mathrm{softplus}(-\hat y_c)
               + (1 - y_c)\,\mathrm{softplus}(\hat y_c)\,\bigr]

    Args:
        y_pred: logits, ``(N, C, ...)`` channels-first or ``(N, ..., C)``
            channels-last.
        y_true: 0/1 (or soft) targets per class with ``y_pred``'s shape.
        class_axis: class axis of ``y_pred``.
        class_weights: per-class weights :math:`w_c`, length ``C``; the sum
            is still divided by :math:`C`.

    Returns:
        Per-position losses ``(N, ...)``.  Equals
        ``torch.nn.MultiLabelSoftMarginLoss(weight=w)`` in every reduction
        (tested: ``test_torch_multilabel_soft_margin``).  torch averages over
        the *last* axis of its input, so for inputs of more than two
        dimensions it equals ``class_axis=-1`` here.

    References:
        ``torch.nn.MultiLabelSoftMarginLoss``.
    """
    loss = y_true * softplus(ops, -y_pred) + (1.0 - y_true) * softplus(ops, y_pred)
    if class_weights is not None:
        loss = loss * along_axis(ops, class_weights, y_pred, class_axis)
    return ops.mean(loss, axis=class_axis)


def hinge_embedding(ops: Ops, y_pred: Tensor, y_true: Tensor, *, margin: float) -> Tensor:
    r"""Hinge embedding loss per element: a distance that should be small for
    similar pairs (``y = 1``) and at least ``margin`` for dissimilar ones
    (``y = -1``).

    .. math::

        \ell = [y \ne 1]\,\max(0,\ m - \hat y) + [y \ne -1]\,\hat y

    which is :math:`\hat y` for :math:`y = 1` and :math:`\max(0, m - \hat y)`
    for :math:`y = -1`; any other target value gets both terms, as in torch.

    Args:
        y_pred: distances (or any real scores), any shape ``(N, ...)``.
        y_true: targets :math:`\pm 1` with ``y_pred``'s shape.
        margin: :math:`m`, the distance a dissimilar pair must reach.

    Returns:
        Elementwise losses with ``y_pred``'s shape; equals
        ``torch.nn.HingeEmbeddingLoss(margin=m)`` in every reduction, away
        from the kink :math:`\hat y = m` (tested:
        ``test_torch_hinge_embedding``).  At the kink torch's gradient is -1
        (``clamp_min`` passes a tie), ours 0 (``test_hinge_embedding_kink_gradient``).

    References:
        ``torch.nn.HingeEmbeddingLoss``; Hadsell, Chopra & LeCun,
        "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006
        (the margin on dissimilar pairs).
    """
    dissimilar = ops.where(ops.not_equal(y_true, 1.0), _positive_part(ops, margin - y_pred), 0.0)
    similar = ops.where(ops.not_equal(y_true, -1.0), y_pred, 0.0)
    return dissimilar + similar


def multilabel_margin(ops: Ops, y_pred: Tensor, y_true: Tensor, *, class_axis: int, margin: float) -> Tensor:
    r"""Multi-label margin loss per position: every target class must score
    at least ``margin`` above every non-target class.

    .. math::

        \ell = \frac1C \sum_{j:\,y_j = 1}\ \sum_{i:\,y_i = 0} \max(0,\ m - \hat y_j + \hat y_i)

    Args:
        y_pred: class scores, ``(N, C, ...)`` channels-first or
            ``(N, ..., C)`` channels-last.
        y_true: multi-hot 0/1 targets with ``y_pred``'s shape (a position may
            have no target class, or only target classes: its loss is 0).
        class_axis: class axis of ``y_pred``.
        margin: :math:`m` (torch fixes it at 1).

    Returns:
        Per-position losses ``(N, ...)``.  With ``margin=1`` it equals
        ``torch.nn.MultiLabelMarginLoss()`` for ``(N, C)`` scores in every
        reduction, torch's targets being the multi-hot rows written as class
        indices padded with -1 (tested: ``test_torch_multilabel_margin``);
        torch counts a class listed twice twice, a multi-hot row cannot.

    References:
        Crammer & Singer, "A Family of Additive Online Algorithms for Category
        Ranking", JMLR 3, 2003; ``torch.nn.MultiLabelMarginLoss``.
    """
    num_classes = ops.shape(y_pred)[class_axis]
    scores = ops.moveaxis(y_pred, class_axis, -1)
    targets = ops.moveaxis(y_true, class_axis, -1)
    # pairs (j, i) on the last two axes: j a target class, i a non-target class
    violation = _positive_part(ops, margin - ops.expand_dims(scores, -1) + ops.expand_dims(scores, -2))
    pairs = ops.expand_dims(targets, -1) * ops.expand_dims(1.0 - targets, -2)
    return ops.sum(ops.sum(violation * pairs, axis=-1), axis=-1) / num_classes


# --------------------------------------------------------------------------- divergences


def kl_divergence(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    input_space: str,
    target_space: str,
    epsilon: float,
    sum_over: str,
) -> Tensor:
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(y \,\|\, q)` of the
    predicted distribution :math:`q` from the target :math:`y`.

    .. math::

        \ell = \sum_c y_c\,(\log y_c - \log q_c)

    Probability-space tensors are clipped to ``[epsilon, 1]`` first (Keras);
    with ``epsilon=0`` a target of 0 contributes exactly 0 (torch's
    :math:`0 \log 0 = 0`).  ``sum_over`` chooses which terms form one loss
    element, and so what the reductions divide by:

    * ``"classes"``: one element per position (sum over ``class_axis``);
      ``"mean"`` divides the total by the number of positions (Keras).
    * ``"sample"``: one element per sample (sum over every non-batch axis);
      ``"mean"`` divides by the batch size: torch's ``'batchmean'``, the true
      mean KL divergence per sample.
    * ``"none"``: the pointwise terms :math:`y_c(\log y_c - \log q_c)`;
      ``"mean"`` divides by the number of terms: torch's ``'mean'``, which is
      ``'batchmean'`` divided by the number of classes (and spatial positions)
      and is not a KL divergence.

    Args:
        y_pred: the prediction, ``(N, C, ...)`` channels-first or
            ``(N, ..., C)`` channels-last, in ``input_space``.
        y_true: the target distribution with ``y_pred``'s shape, in
            ``target_space``.
        class_axis: axis holding the distributions.
        input_space: ``"probabilities"`` (Keras), ``"log_probabilities"``
            (torch's ``KLDivLoss`` input, taken as given) or ``"logits"``
            (``log_softmax`` over ``class_axis`` applied first).
        target_space: ``"probabilities"`` or ``"log_probabilities"`` (torch's
            ``log_target=True``).
        epsilon: clip of probability-space tensors to ``[epsilon, 1]``; must
            be positive for probability inputs.
        sum_over: ``"classes"``, ``"sample"`` or ``"none"``, see above.

    Returns:
        Elements ``(N, ...)`` (``"classes"``), ``(N,)`` (``"sample"``) or with
        ``y_pred``'s shape (``"none"``).  Tested equalities
        (``test_keras_kl_divergence``, ``test_torch_kl_div``):

        * ``keras.losses.KLDivergence()`` = defaults (probabilities,
          ``epsilon=1e-7``, ``sum_over="classes"``) at ``class_axis=-1``.
        * ``torch.nn.KLDivLoss(reduction='batchmean', log_target=b)`` =
          ``input_space="log_probabilities", epsilon=0, sum_over="sample"``
          with ``target_space`` ``"log_probabilities"`` if ``b`` else
          ``"probabilities"``; ``'mean'``/``'none'`` = ``sum_over="none"``
          with ``"mean"``/``"none"``; ``'sum'`` = any ``sum_over`` with
          ``"sum"``.  ``torch.nn.KLDivLoss(reduction='batchmean')`` on
          ``F.log_softmax(x, 1)`` = ``input_space="logits", epsilon=0,
          sum_over="sample"`` on ``x`` (``test_torch_kl_div_of_log_softmax``).

    References:
        Kullback & Leibler, "On Information and Sufficiency", Ann. Math.
        Statist. 1951; ``torch.nn.KLDivLoss``, ``keras.losses.KLDivergence``.
    """
    if target_space == "log_probabilities":
        log_target = y_true
        target = ops.exp(y_true)
    else:
        target = clip(ops, y_true, epsilon, 1.0)
        # log(1) = 0 stands in for log(0): the term is multiplied by a zero target
        log_target = ops.log(ops.where(ops.greater(target, 0.0), target, 1.0))
    if input_space == "log_probabilities":
        log_q = y_pred
    elif input_space == "logits":
        log_q = ops.log_softmax(y_pred, class_axis)
    else:
        log_q = ops.log(clip(ops, y_pred, epsilon, 1.0))
    pointwise = target * (log_target - log_q)
    if sum_over == "classes":
        return ops.sum(pointwise, axis=class_axis)
    if sum_over == "sample":
        return ops.sum(pointwise, axis=tuple(range(1, len(ops.shape(y_pred)))))
    return pointwise


def _unit_vectors(ops: Ops, x: Tensor, axis: int, epsilon: float) -> Tensor:
    """``x / max(||x||, epsilon)`` along ``axis``; a zero vector stays 0.

    As ``x * max(||x||^2, epsilon^2)^(-1/2)``: one reciprocal square root per
    vector instead of a square root and a division per element."""
    squared_norm = clip(ops, ops.sum(x * x, axis=axis, keepdims=True), epsilon * epsilon, math.inf)
    return x * ops.power(squared_norm, -0.5)


def cosine_similarity(ops: Ops, y_pred: Tensor, y_true: Tensor, *, class_axis: int, epsilon: float) -> Tensor:
    r"""Negative cosine similarity of prediction and target vectors.

    .. math::

        \ell = -\sum_c \frac{\hat y_c}{\max(\lVert\hat y\rVert, \epsilon)}\,
               \frac{y_c}{\max(\lVert y\rVert, \epsilon)}

    with the norms over ``class_axis``.  :math:`\ell \in [-1, 1]`: -1 for
    parallel vectors, 1 for opposite ones, 0 when either vector is 0.

    Args:
        y_pred: predicted vectors, ``(N, C, ...)`` channels-first or
            ``(N, ..., C)`` channels-last.
        y_true: target vectors with ``y_pred``'s shape.
        class_axis: axis holding the vectors (Keras' ``axis``, torch's
            ``dim``).
        epsilon: lower bound :math:`\epsilon > 0` of each norm.

    Returns:
        Per-position losses ``(N, ...)``.  Equals
        ``keras.losses.CosineSimilarity(axis=a)`` with ``class_axis=a`` and
        the default ``epsilon=1e-7`` (Keras' ``backend.epsilon()``), norms
        below it included (tested: ``test_keras_cosine_similarity``), and
        ``-torch.nn.functional.cosine_similarity(y_pred, y_true, dim=a, eps=e)``
        with ``epsilon=e`` (``test_torch_cosine_similarity``).  At a zero
        prediction vector all three give the gradient
        :math:`-y/(\epsilon\lVert y\rVert)`
        (``test_cosine_similarity_zero_prediction``).  For a norm strictly
        between 0 and ``eps`` torch's values agree but its gradient is that of
        the unclamped norm (it clamps under ``no_grad``); ours differentiates
        the clamped value, as Keras does
        (``test_torch_cosine_similarity_norm_below_epsilon``).
        ``torch.nn.CosineEmbeddingLoss`` is a different loss.

    References:
        ``keras.losses.CosineSimilarity``, ``torch.nn.CosineSimilarity``.
    """
    return -ops.sum(
        _unit_vectors(ops, y_pred, class_axis, epsilon) * _unit_vectors(ops, y_true, class_axis, epsilon),
        axis=class_axis,
    )


# --------------------------------------------------------------------------- counts


def poisson(ops: Ops, y_pred: Tensor, y_true: Tensor, *, epsilon: float) -> Tensor:
    r"""Poisson negative log-likelihood per element, up to the constant
    :math:`\log y!` (Keras' ``Poisson``).

    .. math::

        \ell = \hat y - y \log(\hat y + \epsilon)

    Args:
        y_pred: predicted rates :math:`\hat y \ge 0`, any shape ``(N, ...)``.
        y_true: observed counts :math:`y \ge 0` with ``y_pred``'s shape.
        epsilon: :math:`\epsilon > 0` added inside the log, so a zero rate is
            finite.

    Returns:
        Elementwise losses with ``y_pred``'s shape; ``"mean"`` equals
        ``keras.losses.Poisson()`` (``epsilon=1e-7``; Keras' ``None``/``"sum"``
        act on last-axis means) and every reduction equals
        ``torch.nn.PoissonNLLLoss(log_input=False, eps=e)`` with
        ``epsilon=e`` (tested: ``test_keras_poisson``,
        ``test_keras_elementwise_reductions``, ``test_torch_poisson_nll``).

    References:
        ``keras.losses.Poisson``; McCullagh & Nelder, "Generalized Linear
        Models", 1989 (the Poisson log-likelihood).
    """
    return y_pred - y_true * ops.log(y_pred + epsilon)


def poisson_nll(ops: Ops, y_pred: Tensor, y_true: Tensor, *, log_input: bool, full: bool, epsilon: float) -> Tensor:
    r"""Poisson negative log-likelihood per element (torch's ``PoissonNLLLoss``).

    .. math::

        \ell = \begin{cases} e^{\hat y} - y\,\hat y & \text{log\_input} \\
                             \hat y - y \log(\hat y + \epsilon) & \text{otherwise} \end{cases}
               \;+\; [\,y > 1\,]\,\bigl(y\log y - y + \tfrac12 \log(2\pi y)\bigr)

    The last term (``full``) is Stirling's approximation of :math:`\log y!`;
    it depends on the target only and is 0 for :math:`y \le 1`.

    Args:
        y_pred: log-rates (``log_input``) or rates :math:`\ge 0`, any shape
            ``(N, ...)``.
        y_true: observed counts :math:`y \ge 0` with ``y_pred``'s shape.
        log_input: ``y_pred`` holds :math:`\log` rates.
        full: add the Stirling term.
        epsilon: :math:`\epsilon > 0` inside the log when ``log_input`` is
            false.

    Returns:
        Elementwise losses with ``y_pred``'s shape; equals
        ``torch.nn.PoissonNLLLoss(log_input=l, full=f, eps=e)`` in every
        reduction (tested: ``test_torch_poisson_nll``).

    References:
        ``torch.nn.PoissonNLLLoss``; Stirling's formula for :math:`\log n!`.
    """
    if log_input:
        loss = ops.exp(y_pred) - y_true * y_pred
    else:
        loss = y_pred - y_true * ops.log(y_pred + epsilon)
    if full:
        above_one = ops.greater(y_true, 1.0)
        counts = ops.where(above_one, y_true, 1.0)  # keeps log() finite where the term is masked
        stirling = counts * ops.log(counts) - counts + 0.5 * ops.log(2.0 * math.pi * counts)
        loss = loss + ops.where(above_one, stirling, 0.0)
    return loss


def _check_kl(loss: str, params: dict) -> None:
    _check_not_batch_axis(loss, params)
    if params["input_space"] == "probabilities" and params["epsilon"] <= 0.0:
        raise ValueError(
            f"{loss}: input_space='probabilities' needs epsilon > 0 (log of a zero probability), "
            f"got epsilon={params['epsilon']!r}"
        )


# --------------------------------------------------------------------------- sample inputs


def _redraw_near(rng: np.random.Generator, x: np.ndarray, near, scale: float) -> np.ndarray:
    """``x`` with the entries flagged by ``near(x)`` redrawn until none is left,
    so that finite differences never straddle a kink."""
    x = x.copy()
    for _ in range(200):
        bad = near(x)
        if not bad.any():
            return x
        x[bad] = rng.normal(0.0, scale, int(bad.sum()))
    raise AssertionError("could not draw samples away from the kinks")


def _hinge_targets(rng: np.random.Generator, shape: tuple[int, ...], encoding: str, kind: str) -> np.ndarray:
    if kind == "hard":
        labels = rng.integers(0, 2, shape).astype(np.float64)
        return labels if encoding in ("auto", "binary") else 2.0 * labels - 1.0
    low = 0.0 if encoding == "binary" else -1.0
    return rng.uniform(low, 1.0, shape)


def _to_signs(targets: np.ndarray, encoding: str) -> np.ndarray:
    binary = np.all((targets == 0.0) | (targets == 1.0))
    convert = encoding == "binary" or (encoding == "auto" and binary)
    return 2.0 * targets - 1.0 if convert else targets


def signed_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Elementwise scores and binary/signed/soft targets; the margin
    ``1 - s * y_pred`` of the hinge losses stays 0.02 away from its kink."""
    encoding = params.get("target_encoding", "signed")
    samples = []

    def scores(targets: np.ndarray, scale: float) -> np.ndarray:
        signs = _to_signs(targets, encoding)
        return _redraw_near(rng, rng.normal(0.0, scale, targets.shape), lambda x: np.abs(1.0 - signs * x) < 0.02, scale)

    for shape in [(6, 3), (2, 3, 4, 4)]:
        dim = "vector" if len(shape) == 2 else "2d"
        for kind in ("hard", "soft"):
            targets = _hinge_targets(rng, shape, encoding, kind)
            samples.append(Sample(f"{kind}-{dim}", scores(targets, 1.5), dense=targets))
    if encoding == "auto":  # signed labels are left as they are by the Keras rule
        targets = 2.0 * rng.integers(0, 2, (2, 3, 4, 4)) - 1.0
        samples.append(Sample("signed-labels", scores(targets, 1.5), dense=targets))
    shape = (2, 3, 4, 4)
    targets = _hinge_targets(rng, shape, encoding, "hard")
    signs = _to_signs(targets, encoding)
    weighted = _hinge_targets(rng, shape, encoding, "hard")
    samples += [
        Sample("perfect", SATURATION * signs, dense=targets),
        Sample("saturated-wrong", -SATURATION * signs, dense=targets),
        Sample("sample-weight", scores(weighted, 1.0), dense=weighted, sample_weight=rng.uniform(0.2, 2.0, (2,))),
    ]
    return samples


def _class_scores(rng, shape, labels, scale, near_kink) -> np.ndarray:
    """Scores ``(N, C, ...)`` whose positions near a kink are redrawn."""
    targets = one_hot(labels, shape[1])

    def near(x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.expand_dims(near_kink(x, targets), 1), x.shape)

    return _redraw_near(rng, rng.normal(0.0, scale, shape), near, scale)


def _categorical_hinge_kink(x: np.ndarray, targets: np.ndarray) -> np.ndarray:
    margin = ((1.0 - targets) * x).max(axis=1) - (targets * x).sum(axis=1) + 1.0
    return np.abs(margin) < 0.02


def _multi_margin_kink(margin: float):
    def near(x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        violation = margin - (targets * x).sum(axis=1, keepdims=True) + x
        return ((np.abs(violation) < 0.02) & (targets == 0.0)).any(axis=1)

    return near


def margin_class_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Class scores with labels for categorical_hinge and multi_margin:
    vectors and 2-D/3-D maps, perfect and saturated predictions, sample
    weights; every position keeps its margins 0.02 away from the kinks."""
    multi = "margin" in params
    near_kink = _multi_margin_kink(params["margin"]) if multi else _categorical_hinge_kink
    samples = []
    for shape in [(5, 4), (2, 4, 3, 5), (2, 4, 3, 2, 2)]:
        labels = rng.integers(0, shape[1], (shape[0], *shape[2:]))
        dim = f"{len(shape) - 2}d" if len(shape) > 2 else "vector"
        samples.append(Sample(f"random-{dim}", _class_scores(rng, shape, labels, 2.0, near_kink), labels=labels))
    shape = (2, 4, 3, 5)
    labels = rng.integers(0, 4, (2, 3, 5))
    signs = 2.0 * one_hot(labels, 4) - 1.0
    weighted = rng.integers(0, 4, (2, 3, 5))
    samples += [
        Sample("perfect", SATURATION * signs, labels=labels),
        # categorical_hinge: the three wrong classes tie in the max (gradient shared, no derivative)
        Sample("saturated-wrong", -SATURATION * signs, labels=labels, smooth=multi),
        Sample(
            "sample-weight",
            _class_scores(rng, shape, weighted, 1.0, near_kink),
            labels=weighted,
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    if not multi:  # Keras' formula also takes soft targets
        soft = rng.dirichlet(np.ones(4), (2, 3, 5)).transpose(0, 3, 1, 2)
        x = rng.normal(0.0, 1.0, shape)
        margin = ((1.0 - soft) * x).max(axis=1) - (soft * x).sum(axis=1) + 1.0
        samples.append(Sample("soft-targets", x, dense=soft, smooth=bool((np.abs(margin) > 0.02).all())))
    return samples


def hinge_embedding_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Distances with +-1 targets; the dissimilar pairs' ``margin - y_pred``
    stays 0.02 away from its kink."""
    margin = params.get("margin", 1.0)

    def distances(signs: np.ndarray, scale: float) -> np.ndarray:
        def near(x: np.ndarray) -> np.ndarray:
            return (signs == -1.0) & (np.abs(margin - x) < 0.02)

        return _redraw_near(rng, np.abs(rng.normal(0.0, scale, signs.shape)), near, scale)

    samples = []
    for shape in [(6, 3), (2, 3, 4, 4)]:
        signs = 2.0 * rng.integers(0, 2, shape) - 1.0
        dim = "vector" if len(shape) == 2 else "2d"
        samples.append(Sample(f"random-{dim}", distances(signs, 1.5), dense=signs))
    shape = (2, 3, 4, 4)
    signs = 2.0 * rng.integers(0, 2, shape) - 1.0
    weighted = 2.0 * rng.integers(0, 2, shape) - 1.0
    samples += [
        # similar pairs at distance 0, dissimilar ones beyond the margin: loss 0
        Sample("perfect", np.where(signs == 1.0, 0.0, margin + 1.0), dense=signs),
        Sample("saturated", SATURATION * rng.choice([-1.0, 1.0], shape), dense=signs),
        Sample("sample-weight", distances(weighted, 1.0), dense=weighted, sample_weight=rng.uniform(0.2, 2.0, (2,))),
    ]
    return samples


def multilabel_margin_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Class scores with multi-hot targets (rows with no target class and with
    every class included); every pair's margin stays 0.02 away from its kink."""
    margin = params.get("margin", 1.0)

    def scores(targets: np.ndarray, scale: float) -> np.ndarray:
        def near(x: np.ndarray) -> np.ndarray:
            pair = margin - np.expand_dims(x, 2) + np.expand_dims(x, 1)  # (N, j, i, ...)
            relevant = (np.expand_dims(targets, 2) == 1.0) & (np.expand_dims(targets, 1) == 0.0)
            bad = (relevant & (np.abs(pair) < 0.02)).any(axis=(1, 2))
            return np.broadcast_to(np.expand_dims(bad, 1), x.shape)

        return _redraw_near(rng, rng.normal(0.0, scale, targets.shape), near, scale)

    samples = []
    for shape in [(6, 4), (2, 4, 3, 5)]:
        targets = (rng.random(shape) < 0.4).astype(np.float64)
        targets[0, :] = 0.0  # no target class
        targets[1, :] = 1.0  # every class a target
        dim = "vector" if len(shape) == 2 else "2d"
        samples.append(Sample(f"random-{dim}", scores(targets, 1.5), dense=targets))
    shape = (2, 4, 3, 5)
    targets = (rng.random(shape) < 0.4).astype(np.float64)
    signs = 2.0 * targets - 1.0
    weighted = (rng.random(shape) < 0.4).astype(np.float64)
    samples += [
        Sample("perfect", SATURATION * signs, dense=targets),
        Sample("saturated-wrong", -SATURATION * signs, dense=targets),
        Sample("sample-weight", scores(weighted, 1.0), dense=weighted, sample_weight=rng.uniform(0.2, 2.0, (2,))),
    ]
    return samples


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def kl_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Distributions over axis 1: Dirichlet and one-hot targets, predictions
    in the preset's input space.  Smooth samples keep every predicted
    probability above 0.05, where the fixed finite-difference step resolves
    ``log q``; saturated ones reach 0 and 1 (on the clip for probabilities)."""
    input_space, target_space = params["input_space"], params["target_space"]

    def prediction(logits: np.ndarray, mix: float = 0.2) -> np.ndarray:
        if input_space == "logits":
            return logits
        log_q = _log_softmax(logits)
        if mix:  # mixing with the uniform distribution bounds q below by mix / C
            log_q = np.log((1.0 - mix) * np.exp(log_q) + mix / logits.shape[1])
        return log_q if input_space == "log_probabilities" else np.exp(log_q)

    def target(log_t: np.ndarray) -> np.ndarray:
        return log_t if target_space == "log_probabilities" else np.exp(log_t)

    probabilities = input_space == "probabilities"
    samples = []
    for shape in [(5, 4), (2, 4, 3, 5)]:
        dim = "vector" if len(shape) == 2 else "2d"
        log_t = np.log(np.moveaxis(rng.dirichlet(np.ones(shape[1]), (shape[0], *shape[2:])), -1, 1))
        samples.append(Sample(f"random-{dim}", prediction(rng.normal(0.0, 1.5, shape)), dense=target(log_t)))
    shape = (2, 4, 3, 5)
    labels = rng.integers(0, 4, (2, 3, 5))
    signs = 2.0 * one_hot(labels, 4) - 1.0
    # one-hot targets: exact zeros in probability space, log-probabilities of -100 in log space
    hard = one_hot(labels, 4) if target_space == "probabilities" else _log_softmax(SATURATION * signs)
    soft = target(np.log(np.moveaxis(rng.dirichlet(np.ones(4), (2, 3, 5)), -1, 1)))
    # "perfect" is the saturated correct prediction of a one-hot target: its loss is 0 without
    # cancellation, and so is its logits gradient q - y, in float32 too
    samples += [
        Sample("one-hot-targets", prediction(rng.normal(0.0, 1.5, shape)), dense=hard),
        Sample("perfect", prediction(SATURATION * signs, mix=0.0), dense=hard, smooth=not probabilities),
        Sample("saturated-wrong", prediction(-SATURATION * signs, mix=0.0), dense=hard, smooth=not probabilities),
        Sample("saturated-soft", prediction(SATURATION * signs, mix=0.0), dense=soft, smooth=not probabilities),
        Sample(
            "sample-weight",
            prediction(rng.normal(0.0, 1.0, shape)),
            dense=soft,
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    return _contiguous(samples)


def _contiguous(samples: list[Sample]) -> list[Sample]:
    """C-ordered arrays: the matrix' finite differences write through a flat view of ``y_pred``."""
    for sample in samples:
        sample.y_pred = np.ascontiguousarray(sample.y_pred)
        if sample.dense is not None:
            sample.dense = np.ascontiguousarray(sample.dense)
    return samples


def cosine_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Vectors along axis 1: random, parallel (perfect), opposite, large
    scale (|y_pred| up to 50 and beyond) and zero vectors (norm below
    epsilon: no derivative at finite-difference resolution)."""
    samples = []
    for shape in [(5, 4), (2, 4, 3, 5)]:
        dim = "vector" if len(shape) == 2 else "2d"
        samples.append(Sample(f"random-{dim}", rng.normal(0.0, 1.0, shape), dense=rng.normal(0.0, 1.0, shape)))
    shape = (2, 4, 3, 5)
    target = rng.normal(0.0, 1.0, shape)
    zero = rng.normal(0.0, 1.0, shape)
    zero[0, :, 0, 0] = 0.0  # a zero prediction vector
    zero_target = target.copy()
    zero_target[1, :, 2, 3] = 0.0  # a zero target vector
    # Parallel and opposite vectors of entries +-1, +-2 and +-0.5 have norms 2, 4 and 1: every
    # intermediate is exact, so the gradient (0 at both extremes) has no float32 rounding noise.
    signs = np.where(rng.random(shape) < 0.5, 1.0, -1.0)
    samples += [
        Sample("perfect", 2.0 * signs, dense=signs),
        Sample("opposite", -0.5 * signs, dense=signs),
        Sample("large-scale", SATURATION * rng.normal(0.0, 2.0, shape), dense=target),
        Sample("zero-vectors", zero, dense=zero_target, smooth=False),
        Sample("zero-target", rng.normal(0.0, 1.0, shape), dense=zero_target),
        Sample(
            "sample-weight",
            rng.normal(0.0, 1.0, shape),
            dense=target,
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    return samples


def count_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Poisson counts (zeros, ones and counts above 1 for the Stirling term)
    with rates, or log-rates when ``log_input``; rates of exactly 0 sit on
    the boundary of the domain (no finite differences)."""
    log_input = params.get("log_input", False)

    def predict(rates: np.ndarray) -> np.ndarray:
        return np.log(rates) if log_input else rates

    samples = []
    for shape in [(6, 3), (2, 3, 4, 4)]:
        dim = "vector" if len(shape) == 2 else "2d"
        rates = np.exp(rng.normal(0.5, 1.0, shape))
        counts = rng.poisson(rates).astype(np.float64)
        samples.append(Sample(f"random-{dim}", predict(np.exp(rng.normal(0.5, 1.0, shape))), dense=counts))
    shape = (2, 3, 4, 4)
    # small counts keep the loss values O(1): finite differences (and gradcheck) of a sum of
    # large values lose the gradient of 0 at a perfect prediction in round-off
    counts = rng.poisson(1.5, shape).astype(np.float64)
    counts.flat[:3] = [0.0, 1.0, 2.0]
    large = rng.poisson(12.0, (3, 4)).astype(np.float64)
    if log_input:
        # "perfect": counts 0 and 1 matched by log-rates -50 and 0, whose gradient exp(x) - y is
        # 0 exactly (exp(log(y)) == y only up to rounding for other counts)
        matched = np.minimum(counts, 1.0)
        perfect = np.where(matched > 0, 0.0, -SATURATION)
        saturated = [
            Sample("saturated-high", np.full(shape, SATURATION), dense=counts),
            Sample("saturated-low", np.full(shape, -SATURATION), dense=counts),
        ]
    else:  # a zero rate sits on the boundary of the domain
        matched = perfect = counts
        saturated = [
            Sample("huge-rates", np.full(shape, 1e3), dense=counts),
            Sample("zero-rates", np.zeros(shape), dense=counts, smooth=False),
        ]
    samples += [
        Sample("large-counts", predict(np.exp(rng.normal(2.5, 0.5, (3, 4)))), dense=large),
        Sample("perfect", perfect, dense=matched, smooth=log_input),
        *saturated,
        Sample(
            "sample-weight",
            predict(np.exp(rng.normal(0.5, 1.0, shape))),
            dense=counts,
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    return samples


# --------------------------------------------------------------------------- registration

TARGET_ENCODING = Param(
    "target_encoding",
    "choice",
    "auto",
    "targets become signs: 'auto' (2y-1 when all are 0/1, Keras), 'signed' (as given), 'binary' (2y-1)",
    choices=("auto", "signed", "binary"),
)
CLASS_WEIGHTS = Param("class_weights", "floats", None, "per-class weights, length C", optional=True, low=0.0)
_SIGNED = Inputs("elementwise", target_range=(-1.0, 1.0), prediction="real-valued scores")
_ENCODING_PRESETS = {"default": {}, "signed": {"target_encoding": "signed"}, "binary": {"target_encoding": "binary"}}
_DISTRIBUTIONS = Inputs("elementwise", min_ndim=2, prediction="a distribution (or vector) along class_axis")
_COUNTS = Inputs("elementwise", target_range=(0.0, math.inf), prediction="rates or log-rates")

for _formula in (hinge, squared_hinge):
    register(
        LossSpec(
            name=_formula.__name__,
            formula=_formula,
            params=ParamSet((TARGET_ENCODING,)),
            inputs=_SIGNED,
            family="margin",
            presets=_ENCODING_PRESETS,
            samples=signed_samples,
        )
    )

register(
    LossSpec(
        name="categorical_hinge",
        formula=categorical_hinge,
        params=ParamSet((CLASS_AXIS,)),
        inputs=Inputs("classes", labels=True, target_range=(0.0, 1.0), min_ndim=2, prediction="class scores"),
        family="margin",
        presets={"default": {}},
        samples=margin_class_samples,
    )
)

register(
    LossSpec(
        name="multi_margin",
        formula=multi_margin,
        params=ParamSet(
            (
                CLASS_AXIS,
                Param("p", "int", 1, "exponent of each margin violation, 1 or 2", low=1, high=2),
                Param("margin", "float", 1.0, "required gap between the target score and the others"),
                CLASS_WEIGHTS,
            )
        ),
        inputs=Inputs("classes", labels=True, target_range=(0.0, 1.0), min_ndim=2, prediction="class scores"),
        family="margin",
        presets={
            "default": {},
            "squared": {"p": 2},
            "margin": {"margin": 0.3},
            "class_weights": {"class_weights": [0.2, 1.0, 3.0, 0.7]},
            "torch_full": {"p": 2, "margin": 2.5, "class_weights": [0.5, 2.0, 1.0, 1.5]},
        },
        samples=margin_class_samples,
    )
)

register(
    LossSpec(
        name="soft_margin",
        formula=soft_margin,
        params=ParamSet(()),
        inputs=_SIGNED,
        family="margin",
        presets={"default": {}},
        samples=signed_samples,
    )
)

register(
    LossSpec(
        name="multilabel_soft_margin",
        formula=multilabel_soft_margin,
        params=ParamSet((CLASS_AXIS, CLASS_WEIGHTS)),
        inputs=Inputs("classes", target_range=(0.0, 1.0), min_ndim=2, prediction="logits per class"),
        family="margin",
        presets={"default": {}, "class_weights": {"class_weights": [0.5, 1.0, 3.0]}},
        samples=binary_samples,
    )
)

register(
    LossSpec(
        name="hinge_embedding",
        formula=hinge_embedding,
        params=ParamSet((Param("margin", "float", 1.0, "distance a dissimilar pair (y = -1) must reach"),)),
        inputs=Inputs("elementwise", target_range=(-1.0, 1.0), prediction="distances"),
        family="margin",
        presets={"default": {}, "margin": {"margin": 2.5}},
        samples=hinge_embedding_samples,
    )
)

register(
    LossSpec(
        name="multilabel_margin",
        formula=multilabel_margin,
        params=ParamSet(
            (CLASS_AXIS, Param("margin", "float", 1.0, "required gap between every target and non-target score"))
        ),
        inputs=Inputs("classes", target_range=(0.0, 1.0), min_ndim=2, prediction="class scores"),
        family="margin",
        presets={"default": {}, "margin": {"margin": 0.4}},
        samples=multilabel_margin_samples,
    )
)

register(
    LossSpec(
        name="kl_divergence",
        formula=kl_divergence,
        params=ParamSet(
            (
                CLASS_AXIS,
                Param(
                    "input_space",
                    "choice",
                    "probabilities",
                    "y_pred holds probabilities, log-probabilities or logits",
                    choices=("probabilities", "log_probabilities", "logits"),
                ),
                Param(
                    "target_space",
                    "choice",
                    "probabilities",
                    "y_true holds probabilities or log-probabilities",
                    choices=("probabilities", "log_probabilities"),
                ),
                Param(
                    "epsilon",
                    "float",
                    1e-7,
                    "probability-space tensors are clipped to [epsilon, 1]; 0 disables (targets only)",
                    low=0.0,
                    high=1.0,
                    high_open=True,
                ),
                Param(
                    "sum_over",
                    "choice",
                    "classes",
                    "terms summed into one element: per position, per sample or none",
                    choices=("classes", "sample", "none"),
                ),
            ),
            checks=(_check_kl,),
        ),
        inputs=_DISTRIBUTIONS,
        family="divergence",
        presets={
            "default": {},
            "torch_batchmean": {"input_space": "log_probabilities", "epsilon": 0.0, "sum_over": "sample"},
            "torch_log_target": {
                "input_space": "log_probabilities",
                "target_space": "log_probabilities",
                "epsilon": 0.0,
                "sum_over": "sample",
            },
            "torch_mean": {"input_space": "log_probabilities", "epsilon": 0.0, "sum_over": "none"},
            "logits": {"input_space": "logits", "epsilon": 0.0},
            "keras_log_target": {"target_space": "log_probabilities", "epsilon": 1e-4},
        },
        samples=kl_samples,
    )
)

register(
    LossSpec(
        name="cosine_similarity",
        formula=cosine_similarity,
        params=ParamSet(
            (
                CLASS_AXIS,
                Param(
                    "epsilon",
                    "float",
                    1e-7,
                    "lower bound of each vector norm (at least 1e-18: its square must be a float32 number)",
                    low=1e-18,
                ),
            ),
            checks=(_check_not_batch_axis,),
        ),
        inputs=_DISTRIBUTIONS,
        family="divergence",
        presets={"default": {}, "torch_eps": {"epsilon": 1e-8}, "large_epsilon": {"epsilon": 0.5}},
        samples=cosine_samples,
    )
)

register(
    LossSpec(
        name="poisson",
        formula=poisson,
        params=ParamSet((Param("epsilon", "float", 1e-7, "added to the rate inside the log", low=0.0, low_open=True),)),
        inputs=_COUNTS,
        family="count",
        presets={"default": {}, "torch_eps": {"epsilon": 1e-8}},
        samples=count_samples,
    )
)

register(
    LossSpec(
        name="poisson_nll",
        formula=poisson_nll,
        params=ParamSet(
            (
                Param("log_input", "bool", True, "y_pred holds log-rates (True) or rates (False)"),
                Param("full", "bool", False, "add Stirling's approximation of log(y!) for y > 1"),
                Param(
                    "epsilon",
                    "float",
                    1e-8,
                    "added to the rate inside the log when log_input=False",
                    low=0.0,
                    low_open=True,
                ),
            )
        ),
        inputs=_COUNTS,
        family="count",
        presets={
            "default": {},
            "full": {"full": True},
            "rates": {"log_input": False},
            "rates_full": {"log_input": False, "full": True, "epsilon": 1e-4},
        },
        samples=count_samples,
    )
)
