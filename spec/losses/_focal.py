"""Focal and robust classification losses: softmax focal, sigmoid (binary)
focal, generalized cross-entropy and Poly-1 cross-entropy.

Focal loss is five different losses in the libraries that ship it: the
meaning of a scalar ``alpha`` (per-target alpha_t, "1 - alpha for class 0", a
global scale), what ``"mean"`` divides by (positions, or positions times
classes), softmax versus one-vs-rest sigmoid, and three (four, with kornia's
per-term form) focal factors for soft targets.  Each of those choices is a
parameter here, named after what it does; the docstrings say which setting
reproduces which library, and ``tests/test_peers_focal.py`` proves every
stated equivalence.
"""

from __future__ import annotations

from typing import Any

from spec.distributed import SYNC
from spec.inputs import Inputs
from spec.losses._classification import CLASS_AXIS, CLASS_INPUTS, EPSILON, FROM_LOGITS
from spec.losses._targets import along_axis, dense_targets, is_label_target
from spec.ops import Ops, clip, safe_divide, safe_power
from spec.params import Param, ParamSet
from spec.reduction import Weighted
from spec.registry import LossSpec, register
from spec.samples import binary_samples, classification_samples

Tensor = Any

GAMMA = Param("gamma", "float", 2.0, "focusing exponent of the modulating factor (1 - p)^gamma", low=0.0)
LABEL_SMOOTHING = Param("label_smoothing", "float", 0.0, "mix targets with the uniform distribution", low=0.0, high=1.0)
IGNORE_INDEX = Param("ignore_index", "int", None, "label whose positions are ignored", optional=True)


def _log_and_probabilities(
    ops: Ops, y_pred: Tensor, *, class_axis: int, from_logits: bool, epsilon: float
) -> tuple[Tensor, Tensor]:
    """``(log p, p)`` over the class axis.  Logits: ``log_softmax`` and its
    exponential.  Probabilities: renormalised to sum 1 and clipped to
    ``[epsilon, 1 - epsilon]`` (Keras' convention), then their log."""
    if from_logits:
        log_p = ops.log_softmax(y_pred, class_axis)
        return log_p, ops.exp(log_p)
    total = ops.sum(y_pred, axis=class_axis, keepdims=True)
    p = clip(ops, safe_divide(ops, y_pred, total), epsilon, 1.0 - epsilon)
    return ops.log(p), p


def _smoothed(targets: Tensor, mask: Tensor | None, label_smoothing: float, num_classes: int) -> Tensor:
    """``(1 - e) t + e / C`` on the valid positions (ignored rows stay 0)."""
    if not label_smoothing:
        return targets
    uniform = label_smoothing / num_classes
    return (1.0 - label_smoothing) * targets + (uniform if mask is None else uniform * mask)


def _check_class_vector(loss: str, name: str, values: list[float], num_classes: int, class_axis: int) -> None:
    if len(values) != num_classes:
        raise ValueError(
            f"{loss}: {name} has {len(values)} entries but y_pred has {num_classes} classes on "
            f"class_axis={class_axis}; expected {num_classes} values"
        )


def focal(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    gamma: float,
    alpha: float | list[float] | None,
    alpha_mode: str,
    mean_over: str,
    label_smoothing: float,
    ignore_index: int | None,
    epsilon: float,
) -> Tensor | Weighted:
    r"""Softmax focal loss over a class axis (Lin et al. 2017).

    .. math::

        \ell_{ic} = -\,\alpha_c\,\tilde y_{ic}\,(1 - p_{ic})^{\gamma}\,\log p_{ic},\qquad
        \tilde y = (1-\varepsilon)\,y + \varepsilon / C

    with :math:`p = \mathrm{softmax}(x)` over ``class_axis`` (``from_logits``;
    :math:`\log p` is ``log_softmax``) or the given probabilities renormalised
    and clipped to ``[epsilon, 1 - epsilon]``.  With one-hot targets only the
    target class contributes and this is :math:`-\alpha_t (1-p_t)^\gamma \log p_t`;
    soft targets weight every class's term by :math:`\tilde y_{ic}` (the
    definition of Keras and MONAI).  ``gamma = 0`` and no ``alpha`` give the
    cross-entropy.  :math:`(1-p)^\gamma` has value 0 and gradient 0 at
    :math:`p = 1` for every ``gamma`` (also ``gamma < 1``, where the exact
    derivative is infinite).

    The loss elements depend on ``mean_over``:

    * ``"positions"``: one element per position, :math:`\sum_c \ell_{ic}`
      (shape ``(N, ...)``), so ``"mean"`` averages over positions (Keras
      ``CategoricalFocalCrossentropy``).
    * ``"positions_and_classes"``: the elements keep the class axis (shape of
      ``y_pred``), so ``"mean"`` averages over N x C x positions, i.e. it is
      the per-position mean divided by C (MONAI ``FocalLoss(use_softmax=True)``,
      kornia ``focal_loss``); ``"none"`` returns the per-class map.

    With ``ignore_index`` the ignored positions contribute 0 and ``"mean"``
    divides by the number of valid elements (valid positions, times C for
    ``"positions_and_classes"``); an all-ignored batch gives 0.

    Args:
        y_pred: logits or probabilities, ``(N, C, ...)`` or ``(N, ..., C)``.
        y_true: one-hot or soft targets with ``y_pred``'s shape, or integer
            labels ``(N, ...)`` without the class axis.
        class_axis: class axis of ``y_pred``.
        from_logits: ``y_pred`` holds logits.
        gamma: focusing exponent :math:`\gamma \ge 0`.
        alpha: class balancing :math:`\alpha_c`.  ``None``: 1 for every class.
            A list: one weight per class (MONAI 1.6 sequence ``alpha``, Keras
            list ``alpha``, and also MONAI/kornia ``weight``, which multiply
            the same per-class loss).  A float: see ``alpha_mode``.
        alpha_mode: meaning of a float ``alpha``.  ``"background"``:
            :math:`1-\alpha` for class 0 and :math:`\alpha` for every other
            class, with :math:`\alpha \in [0, 1]` (MONAI, kornia; the paper's
            :math:`\alpha_t` with class 0 as the negative class).
            ``"scale"``: :math:`\alpha` for every class, a global factor
            (Keras, segmentation_models).  Unused unless ``alpha`` is a float.
        mean_over: ``"positions"`` or ``"positions_and_classes"`` (above).
        label_smoothing: :math:`\varepsilon \in [0, 1]` (Keras' convention).
        ignore_index: label whose positions contribute nothing.  With dense
            targets an ignored position is one whose row a one-hot encoding
            of ``ignore_index`` would give.
        sync: in a distributed run, ``"mean"`` divides the sum over every
            replica's positions by their total count or weight, the global
            batch's mean (``spec.distributed``); the identity in one process.
        epsilon: probability clip when ``from_logits=False``.

    Returns:
        Per-position losses ``(N, ...)``, or per-(position, class) losses with
        ``y_pred``'s shape for ``mean_over="positions_and_classes"``.

    Equivalences (tested in ``tests/test_peers_focal.py``):
        * ``keras.losses.CategoricalFocalCrossentropy(alpha=a, gamma=g,
          from_logits=f, label_smoothing=e)`` = ``alpha=a, alpha_mode="scale",
          gamma=g, from_logits=f, label_smoothing=e`` (class axis -1; a may be
          a list); Keras' default ``alpha=0.25`` scales the loss by 0.25.
          Keras clips softmax outputs to ``[1e-7, 1 - 1e-7]`` even from
          logits, so the two differ only where a probability is within 1e-7
          of 0 or 1.
        * ``monai.losses.FocalLoss(use_softmax=True, gamma=g, alpha=a,
          weight=w)`` (one-hot, soft or ``to_onehot_y`` targets,
          ``reduction="mean"`` or ``"none"``) = ``gamma=g,
          mean_over="positions_and_classes"`` with ``alpha`` the product of
          MONAI's class factors (``[1-a, a, ..., a]`` for a float ``a``, or
          the list) and ``w`` (a float ``a`` alone: ``alpha=a``,
          ``alpha_mode="background"``).  MONAI computes in float32.
          MONAI 1.6.1 with ``ignore_index=k`` divides the summed
          (N, C, ...) loss by the number of *valid positions*: that is
          ``mean_over="positions", ignore_index=k``.  MONAI's ``"sum"``
          (spatial means summed over N and C) and ``include_background=False``
          are not reproduced.
        * ``kornia.losses.focal_loss(alpha=a, gamma=g, weight=w)`` with integer
          labels = ``mean_over="positions_and_classes"`` with ``alpha`` as for
          MONAI, for ``"none"``, ``"mean"`` and ``"sum"``.  kornia keeps
          ignored pixels in its ``"mean"`` denominator: kornia ``"mean"`` with
          ``ignore_index=k`` = ours ``ignore_index=k`` with ``"sum"`` divided
          by the number of elements of ``y_pred`` (its ``"none"`` and ``"sum"``
          equal ours directly).
        * ``gamma=0`` without ``alpha`` and ``mean_over="positions"`` is
          ``categorical_crossentropy`` (also with ``label_smoothing`` and
          ``ignore_index``).
        * segmentation_models' multiclass ``FocalLoss`` is a one-vs-rest
          *sigmoid* focal loss, never a softmax one: use ``sigmoid_focal`` on
          one-hot targets.

    References:
        Lin, Goyal, Girshick, He, Dollár, "Focal Loss for Dense Object
        Detection", ICCV 2017.
    """
    num_classes = ops.shape(y_pred)[class_axis]
    targets, mask = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    if isinstance(alpha, list):
        _check_class_vector("focal", "alpha", alpha, num_classes, class_axis)
    targets = _smoothed(targets, mask, label_smoothing, num_classes)
    log_p, p = _log_and_probabilities(ops, y_pred, class_axis=class_axis, from_logits=from_logits, epsilon=epsilon)
    loss = -(targets * safe_power(ops, 1.0 - p, gamma) * log_p)
    if isinstance(alpha, list):
        loss = loss * along_axis(ops, alpha, y_pred, class_axis)
    elif alpha is not None and alpha_mode == "background":
        loss = loss * along_axis(ops, [1.0 - alpha] + [alpha] * (num_classes - 1), y_pred, class_axis)
    elif alpha is not None:
        loss = loss * alpha
    if mean_over == "positions":
        loss = ops.sum(loss, axis=class_axis)
        if mask is None:
            return loss
        return Weighted(loss, ops.sum(mask, axis=class_axis))
    if mask is None:
        return loss
    return Weighted(loss, mask * along_axis(ops, [1.0] * num_classes, y_pred, class_axis))


def sigmoid_focal(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    gamma: float,
    alpha: float | None,
    pos_weight: float | list[float] | None,
    soft_form: str,
    label_smoothing: float,
    epsilon: float,
) -> Tensor:
    r"""Sigmoid (binary) focal loss per element, for independent 0/1 or soft targets.

    .. math::

        \ell = a_t\,(1 - p_t)^{\gamma}\,\mathrm{BCE}(x, t),\qquad
        1 - p_t = t\,(1-p) + (1-t)\,p,\qquad
        a_t = a_+\,t + a_-\,(1-t)

    with :math:`p = \sigma(x)`, :math:`\mathrm{BCE} = -t\log p - (1-t)\log(1-p)`
    (from logits through ``log_sigmoid``, exact for any logit),
    :math:`a_+ = \alpha\,w_+` and :math:`a_- = 1-\alpha` (:math:`\alpha = 1`
    in :math:`a_+` and :math:`a_- = 1` when ``alpha`` is None; :math:`w_+` =
    ``pos_weight``, 1 when None).  Targets may be label-smoothed towards 0.5:
    :math:`t \leftarrow (1-\varepsilon)t + \varepsilon/2`.

    For 0/1 targets every ``soft_form`` gives :math:`-a_+(1-p)^\gamma\log p`
    (t = 1) or :math:`-a_-\,p^\gamma\log(1-p)` (t = 0).  For soft targets the
    libraries extend the focal factor differently; ``soft_form`` picks one:

    * ``"p_t"`` (default): the formula above (torchvision
      ``sigmoid_focal_loss``, Keras ``BinaryFocalCrossentropy``).
    * ``"per_term"``: :math:`-a_+\,t\,(1-p)^\gamma\log p - a_-(1-t)\,p^\gamma\log(1-p)`,
      the focal factor applied to each term (kornia
      ``binary_focal_loss_with_logits``).
    * ``"logit"``: :math:`a_t\,\sigma(x(1-2t))^\gamma\,\mathrm{BCE}` (MONAI
      ``FocalLoss``; from probabilities :math:`x` is the logit of the clipped
      probability).
    * ``"exp_bce"``: :math:`a_t\,(1 - e^{-\mathrm{BCE}})^\gamma\,\mathrm{BCE}`
      (segmentation_models_pytorch ``FocalLoss``).

    From probabilities the logs use ``p`` clipped to
    ``[epsilon, 1 - epsilon]`` (and ``1 - p`` clipped the same way), the focal
    factors of ``"p_t"`` and ``"per_term"`` use ``p`` as given (as Keras
    does).  Powers of 0 have value 0 and gradient 0 for every ``gamma``.

    Args:
        y_pred: logits or probabilities, any shape ``(N, ...)``.
        y_true: targets in ``[0, 1]`` with ``y_pred``'s shape.
        class_axis: axis along which a per-class ``pos_weight`` broadcasts.
        from_logits: ``y_pred`` holds logits.
        gamma: focusing exponent :math:`\gamma \ge 0`.
        alpha: :math:`\alpha \in [0, 1]`, the weight of positives
            (:math:`1-\alpha` for negatives), or None for no balancing.
        pos_weight: extra weight :math:`w_+` of the positive part, a float or
            one value per class along ``class_axis`` (kornia ``pos_weight``;
            MONAI's per-class ``alpha`` sequence in sigmoid mode, which
            weights targets equal to 1 by :math:`\alpha_c` and the rest by 1).
        soft_form: ``"p_t"``, ``"per_term"``, ``"logit"`` or ``"exp_bce"``
            (above); only soft targets tell them apart.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; targets move
            towards 0.5 (Keras' convention).
        epsilon: probability clip when ``from_logits=False``.

    Returns:
        Elementwise losses with ``y_pred``'s shape; ``"mean"`` averages over
        every element (torchvision, MONAI, kornia, smp and Keras alike).

    Equivalences (tested in ``tests/test_peers_focal.py``):
        * torchvision 0.28.0's ``sigmoid_focal_loss(x, t, alpha=a, gamma=g,
          reduction=r)`` (tested against its code) = ``alpha=a``
          (``alpha=None`` for its ``a=-1``, the only value outside [0, 1] it
          accepts), ``gamma=g``, ``soft_form="p_t"``, the reduction of the
          same name, hard or soft targets; its defaults (``a=0.25``,
          ``g=2``) are the ``"torchvision"`` preset.  It takes ``1 - p_t``
          from ``p = sigmoid(x)``, a cancellation for confident logits (2e-13
          relative apart on logits of scale 2); where that rounds to 0
          (``|x| >= 38`` on the target's side) its value is 0 and its
          gradient NaN for ``g < 1``, while this loss stays finite.
        * ``keras.losses.BinaryFocalCrossentropy(apply_class_balancing=b,
          alpha=a, gamma=g, from_logits=f, label_smoothing=e)`` =
          ``alpha=a if b else None``, ``soft_form="p_t"``, same
          ``gamma``, ``from_logits``, ``label_smoothing``, hard or soft
          targets (Keras' default ``apply_class_balancing=False`` ignores its
          ``alpha=0.25``).  With probabilities, or on Keras backends that do
          not recover logits, Keras clips to ``[1e-7, 1 - 1e-7]``.
        * ``monai.losses.FocalLoss(gamma=g, alpha=a, weight=w)`` (sigmoid) =
          ``alpha=a``, ``soft_form="logit"``, and MONAI's ``weight`` as a
          ``sample_weight`` of ``y_pred``'s shape; a per-class ``alpha``
          sequence ``[a_c]`` with 0/1 targets = ``pos_weight=[a_c]``,
          ``alpha=None``.  MONAI computes in float32.
        * kornia ``binary_focal_loss_with_logits(alpha=a, gamma=g,
          pos_weight=w, weight=v)`` = ``alpha=a, pos_weight=w,
          soft_form="per_term"``, ``v`` as a ``sample_weight``, for ``"none"``,
          ``"mean"`` and ``"sum"``.
        * segmentation_models_pytorch ``FocalLoss("binary" | "multilabel",
          alpha=a, gamma=g, from_logits=f)`` = ``alpha=a, gamma=g,
          from_logits=f, soft_form="exp_bce"`` (from probabilities with
          ``epsilon=1e-7``, equal up to rounding: smp clamps and returns to
          logits); ``"multiclass"`` mode (one-vs-rest sigmoid) = the same on
          the one-hot targets, and with ``ignore_index=k`` it is our ``"sum"``
          with the valid-position mask as ``sample_weight``, divided by C
          times the number of valid positions; ``class_weights=w``
          (``"multilabel"``) = ``sample_weight`` ``w_c * C / sum(w)`` along
          the class axis.
        * ``gamma=0``, ``alpha=None``: ``binary_crossentropy`` with the same
          ``label_smoothing`` in every ``soft_form``; with ``pos_weight`` too
          in ``"per_term"`` (which weights only the positive term, as
          ``binary_crossentropy`` does), and in every form for 0/1 targets
          (the other forms weight the whole soft-target loss by
          :math:`a_t`).

    References:
        Lin, Goyal, Girshick, He, Dollár, "Focal Loss for Dense Object
        Detection", ICCV 2017.
    """
    t = y_true if not label_smoothing else y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    bce = None
    if from_logits and soft_form in ("p_t", "exp_bce"):
        # fused ops; their composite defaults are the exp(log_sigmoid) and the bce below
        p, q = ops.sigmoid_pair(y_pred)
        bce = ops.sigmoid_cross_entropy(y_pred, t)
    elif from_logits:
        log_p, log_q = ops.log_sigmoid(y_pred), ops.log_sigmoid(-y_pred)
        p, q = ops.exp(log_p), ops.exp(log_q)
    else:
        # Clipping 1 - p rather than p keeps -log(epsilon) exact in float32.
        log_p = ops.log(clip(ops, y_pred, epsilon, 1.0 - epsilon))
        log_q = ops.log(clip(ops, 1.0 - y_pred, epsilon, 1.0 - epsilon))
        p, q = y_pred, 1.0 - y_pred
    positive = 1.0 if alpha is None else alpha
    negative = 1.0 if alpha is None else 1.0 - alpha
    if isinstance(pos_weight, list):
        positive = positive * along_axis(ops, pos_weight, y_pred, class_axis)
    elif pos_weight is not None:
        positive = positive * pos_weight
    if soft_form == "per_term":
        return -(
            positive * t * safe_power(ops, q, gamma) * log_p + negative * (1.0 - t) * safe_power(ops, p, gamma) * log_q
        )
    if bce is None:
        bce = -(t * log_p + (1.0 - t) * log_q)
    if soft_form == "p_t":
        factor = safe_power(ops, t * q + (1.0 - t) * p, gamma)
    elif soft_form == "logit":
        factor = ops.exp(gamma * ops.log_sigmoid((log_p - log_q) * (1.0 - 2.0 * t)))
    else:  # "exp_bce"
        factor = safe_power(ops, 1.0 - ops.exp(-bce), gamma)
    loss = factor * bce
    if alpha is None and pos_weight is None:
        return loss
    return (positive * t + negative * (1.0 - t)) * loss


def generalized_crossentropy(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    q: float,
    ignore_index: int | None,
) -> Tensor | Weighted:
    r"""Generalized cross-entropy (Zhang & Sabuncu 2018), robust to noisy labels.

    .. math::

        \ell_i = \sum_c y_{ic}\,\frac{1 - p_{ic}^{\,q}}{q},\qquad q \in (0, 1]

    i.e. :math:`(1 - p_y^q)/q` for a label :math:`y`; soft targets take the
    expectation of that per-class loss under the target distribution.  It
    tends to the cross-entropy as :math:`q \to 0` and is :math:`1 - p_y` (the
    MAE between one-hot targets and ``p``, halved) at :math:`q = 1`.  From
    logits :math:`p^q = \exp(q \log\mathrm{softmax}(x))`, exact for any logit;
    probabilities are used as given (neither renormalised nor clipped, as
    Keras does), with :math:`0^q = 0` of gradient 0.  ``"mean"`` averages over
    positions, over the valid ones with ``ignore_index`` (0 when all are
    ignored).

    Args:
        y_pred: logits or probabilities, ``(N, C, ...)`` or ``(N, ..., C)``.
        y_true: one-hot or soft targets with ``y_pred``'s shape, or integer
            labels ``(N, ...)`` without the class axis.
        class_axis: class axis of ``y_pred``.
        from_logits: ``y_pred`` holds logits.
        q: the exponent :math:`q \in (0, 1]`; the paper uses 0.7.
        ignore_index: label whose positions contribute nothing.
        sync: in a distributed run, ``"mean"`` divides the sum over every
            replica's positions by their total count or weight, the global
            batch's mean (``spec.distributed``); the identity in one process.

    Returns:
        Per-position losses ``(N, ...)`` before reduction.

    Equivalences (tested in ``tests/test_peers_focal.py``):
        * ``keras.losses.CategoricalGeneralizedCrossEntropy(q=q)`` (Keras
          3.15.1: integer labels despite its name, probabilities, ``q`` in the
          open interval (0, 1), default 0.5) = ``from_logits=False, q=q`` with
          integer labels (or their one-hot encoding), class axis -1; applied
          to ``softmax(x)`` it equals ``from_logits=True, q=q`` on ``x``.

    References:
        Zhang, Sabuncu, "Generalized Cross Entropy Loss for Training Deep
        Neural Networks with Noisy Labels", NeurIPS 2018.
    """
    if is_label_target(ops, y_pred, y_true):
        return _label_generalized_crossentropy(
            ops, y_pred, y_true, class_axis=class_axis, from_logits=from_logits, q=q, ignore_index=ignore_index
        )
    targets, mask = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    if from_logits:
        powered = ops.exp(q * ops.log_softmax(y_pred, class_axis))
    else:
        powered = safe_power(ops, y_pred, q)
    loss = ops.sum(targets * (1.0 - powered), axis=class_axis) / q
    if mask is None:
        return loss
    return Weighted(loss, ops.sum(mask, axis=class_axis))


def _label_generalized_crossentropy(
    ops: Ops, y_pred: Tensor, labels: Tensor, *, class_axis: int, from_logits: bool, q: float, ignore_index: int | None
) -> Tensor | Weighted:
    """:func:`generalized_crossentropy` of integer labels, :math:`(1 - p_y^q)/q`
    from the label's entry alone (gathered, no one-hot tensor): the dense
    form's other terms are exact zeros, so the values are the same."""
    valid = None
    if ignore_index is not None:
        valid = ops.not_equal(labels, ignore_index)
        labels = ops.where(valid, labels, 0)
    index = ops.expand_dims(labels, class_axis)
    if from_logits:
        powered = ops.exp(q * ops.take_along_axis(ops.log_softmax(y_pred, class_axis), index, class_axis))
    else:
        powered = safe_power(ops, ops.take_along_axis(y_pred, index, class_axis), q)
    loss = ops.sum(1.0 - powered, axis=class_axis) / q  # drops the size-1 class axis
    if valid is None:
        return loss
    valid = ops.cast(valid, y_pred)
    return Weighted(loss * valid, valid)


def poly1_crossentropy(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    poly_epsilon: float,
    label_smoothing: float,
    ignore_index: int | None,
    epsilon: float,
) -> Tensor | Weighted:
    r"""Poly-1 cross-entropy (Leng et al. 2022): cross-entropy plus
    :math:`\epsilon_1 (1 - p_t)`.

    .. math::

        \ell_i = -\sum_c \tilde y_{ic}\log p_{ic} + \epsilon_1 \sum_c \tilde y_{ic}\,(1 - p_{ic}),\qquad
        \tilde y = (1-\varepsilon)\,y + \varepsilon / C

    For one-hot targets without smoothing the second term is
    :math:`\epsilon_1(1 - p_t)`; with label smoothing :math:`p_t` is the
    smoothed-target-weighted probability, as in the paper's reference code
    (``poly1_cross_entropy_label_smooth``).  ``p`` is the softmax of logits
    (:math:`\log p` is ``log_softmax``) or the given probabilities
    renormalised and clipped to ``[epsilon, 1 - epsilon]``.  ``"mean"``
    averages over positions, over the valid ones with ``ignore_index`` (0
    when all are ignored).

    Args:
        y_pred: logits or probabilities, ``(N, C, ...)`` or ``(N, ..., C)``.
        y_true: one-hot or soft targets with ``y_pred``'s shape, or integer
            labels ``(N, ...)`` without the class axis.
        class_axis: class axis of ``y_pred``.
        from_logits: ``y_pred`` holds logits.
        poly_epsilon: :math:`\epsilon_1 \ge -1`, the perturbation of the first
            polynomial coefficient (the paper's ``epsilon``; 1 by default).
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        ignore_index: label whose positions contribute nothing.
        sync: in a distributed run, ``"mean"`` divides the sum over every
            replica's positions by their total count or weight, the global
            batch's mean (``spec.distributed``); the identity in one process.
        epsilon: probability clip when ``from_logits=False``.

    Returns:
        Per-position losses ``(N, ...)`` before reduction.

    Equivalences (tested in ``tests/test_peers_focal.py``): the paper's
    reference implementation (``poly1_cross_entropy`` and its label-smoothing
    variant, written in the test with ``torch.nn.functional.cross_entropy``);
    ``poly_epsilon=0`` is ``categorical_crossentropy`` with the same
    ``label_smoothing`` and ``ignore_index``.

    References:
        Leng, Xu, Tan, Song, Cheng, Ji, Shlens, Anguelov, Li, "PolyLoss: A
        Polynomial Expansion Perspective of Classification Loss Functions",
        ICLR 2022.
    """
    num_classes = ops.shape(y_pred)[class_axis]
    targets, mask = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    targets = _smoothed(targets, mask, label_smoothing, num_classes)
    log_p, p = _log_and_probabilities(ops, y_pred, class_axis=class_axis, from_logits=from_logits, epsilon=epsilon)
    loss = ops.sum(targets * (poly_epsilon * (1.0 - p) - log_p), axis=class_axis)
    if mask is None:
        return loss
    return Weighted(loss, ops.sum(mask, axis=class_axis))


def _check_focal_alpha(loss: str, params: dict) -> None:
    alpha = params.get("alpha")
    if isinstance(alpha, float) and params.get("alpha_mode") == "background" and alpha > 1.0:
        raise ValueError(
            f"{loss}: alpha must be in [0, 1] with alpha_mode='background' (1 - alpha weights class 0), "
            f"got {alpha}; use alpha_mode='scale' for a global factor or a per-class list"
        )


CLASSES = CLASS_INPUTS

register(
    LossSpec(
        name="focal",
        formula=focal,
        params=ParamSet(
            (
                CLASS_AXIS,
                FROM_LOGITS,
                GAMMA,
                Param(
                    "alpha",
                    "floats",
                    None,
                    "class balancing: a float (see alpha_mode) or one weight per class",
                    optional=True,
                    low=0.0,
                    scalar_ok=True,
                ),
                Param(
                    "alpha_mode",
                    "choice",
                    "background",
                    "a float alpha weights class 0 by 1 - alpha and the others by alpha (MONAI, kornia), "
                    "or scales every class (Keras)",
                    choices=("background", "scale"),
                ),
                Param(
                    "mean_over",
                    "choice",
                    "positions",
                    "loss elements per position (Keras) or per position and class (MONAI, kornia: mean / C)",
                    choices=("positions", "positions_and_classes"),
                ),
                LABEL_SMOOTHING,
                IGNORE_INDEX,
                SYNC,
                EPSILON,
            ),
            checks=(_check_focal_alpha,),
        ),
        inputs=CLASSES,
        family="classification",
        presets={
            "default": {},
            "probabilities": {"from_logits": False},
            "gamma_zero": {"gamma": 0.0},
            "gamma_half": {"gamma": 0.5, "alpha": 0.25},
            "alpha_scale": {"alpha": 0.25, "alpha_mode": "scale", "gamma": 3.0},
            "alpha_per_class": {"alpha": [0.2, 1.0, 3.0, 0.7]},
            "monai": {"mean_over": "positions_and_classes", "alpha": 0.75},
            "label_smoothing": {"label_smoothing": 0.1},
            "ignore_index": {"ignore_index": -100, "sync": True},
            "ignore_in_range": {"ignore_index": 1, "mean_over": "positions_and_classes", "label_smoothing": 0.2},
            "keras_probabilities": {
                "from_logits": False,
                "alpha": 0.25,
                "alpha_mode": "scale",
                "label_smoothing": 0.05,
                "epsilon": 1e-4,
            },
        },
        samples=classification_samples,
    )
)

register(
    LossSpec(
        name="sigmoid_focal",
        formula=sigmoid_focal,
        params=ParamSet(
            (
                CLASS_AXIS,
                FROM_LOGITS,
                GAMMA,
                Param(
                    "alpha",
                    "float",
                    None,
                    "weight of positives (1 - alpha for negatives), or None",
                    optional=True,
                    low=0.0,
                    high=1.0,
                ),
                Param(
                    "pos_weight",
                    "floats",
                    None,
                    "extra weight of the positive part (float or per class)",
                    optional=True,
                    low=0.0,
                    scalar_ok=True,
                ),
                Param(
                    "soft_form",
                    "choice",
                    "p_t",
                    "focal factor for soft targets: torchvision/Keras, kornia, MONAI or smp",
                    choices=("p_t", "per_term", "logit", "exp_bce"),
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
            "torchvision": {"alpha": 0.25},
            "gamma_half": {"gamma": 0.5, "alpha": 0.75},
            "per_term": {"soft_form": "per_term", "alpha": 0.25, "pos_weight": [0.5, 1.0, 3.0]},
            "logit": {"soft_form": "logit", "alpha": 0.25, "gamma": 1.5},
            "exp_bce": {"soft_form": "exp_bce", "pos_weight": 2.5},
            "label_smoothing": {"label_smoothing": 0.2, "gamma": 3.0},
            "probabilities_logit": {"from_logits": False, "soft_form": "logit", "epsilon": 1e-3},
            "probabilities_per_term": {"from_logits": False, "soft_form": "per_term", "label_smoothing": 0.1},
            "probabilities_exp_bce": {"from_logits": False, "soft_form": "exp_bce", "alpha": 0.25},
        },
        samples=binary_samples,
    )
)

register(
    LossSpec(
        name="generalized_crossentropy",
        formula=generalized_crossentropy,
        params=ParamSet(
            (
                CLASS_AXIS,
                FROM_LOGITS,
                Param(
                    "q",
                    "float",
                    0.7,
                    "exponent q in (0, 1]: CE as q -> 0, 1 - p_y at q = 1",
                    low=0.0,
                    low_open=True,
                    high=1.0,
                ),
                IGNORE_INDEX,
                SYNC,
            )
        ),
        inputs=CLASSES,
        family="classification",
        presets={
            "default": {},
            "probabilities": {"from_logits": False, "q": 0.5},
            "mae": {"q": 1.0},
            "near_ce": {"q": 0.05},
            "ignore_index": {"ignore_index": -100, "sync": True},
            "ignore_in_range": {"ignore_index": 1, "from_logits": False},
        },
        samples=classification_samples,
    )
)

register(
    LossSpec(
        name="poly1_crossentropy",
        formula=poly1_crossentropy,
        params=ParamSet(
            (
                CLASS_AXIS,
                FROM_LOGITS,
                Param("poly_epsilon", "float", 1.0, "coefficient epsilon_1 of the (1 - p_t) term", low=-1.0),
                LABEL_SMOOTHING,
                IGNORE_INDEX,
                SYNC,
                EPSILON,
            )
        ),
        inputs=CLASSES,
        family="classification",
        presets={
            "default": {},
            "probabilities": {"from_logits": False, "poly_epsilon": 2.0},
            "negative": {"poly_epsilon": -1.0},
            "label_smoothing": {"label_smoothing": 0.1},
            "ignore_index": {"ignore_index": -100, "sync": True},
            "full": {"ignore_index": 1, "label_smoothing": 0.2, "poly_epsilon": 0.5},
            "keras_probabilities": {"from_logits": False, "label_smoothing": 0.05, "epsilon": 1e-4},
        },
        samples=classification_samples,
    )
)
