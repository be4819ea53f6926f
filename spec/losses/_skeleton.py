"""Topology-aware overlap: soft clDice and its combination with soft Dice.

clDice compares each mask with the other's *skeleton*.  The soft skeleton is
built from min/max pooling alone (:meth:`spec.ops.Ops.min_pool`,
:meth:`spec.ops.Ops.max_pool`), so it is differentiable almost everywhere and
runs on 2-D and 3-D maps (any number of spatial axes) in every backend:

* soft erosion -- the minimum over the axis-aligned 3-neighbourhoods (a
  cross): per spatial axis a 3-wide min-pool, then the elementwise minimum;
* soft dilation -- a 3 x ... x 3 max-pool;
* soft opening -- dilation of the erosion;
* skeleton -- ``relu(x - open(x))``, then ``iterations`` times: erode ``x``
  and add the part of ``relu(x - open(x))`` not yet in the skeleton.

Pool windows exclude positions outside the map.  Ties inside a window share
the gradient evenly (the ops' convention); torch's native pooling gives it to
one position instead, which changes gradients only where two *different*
pixels hold exactly equal values (saturated inputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spec.inputs import Inputs
from spec.losses._classification import CLASS_AXIS, FROM_LOGITS
from spec.losses._lovasz import fd_separated, probability_moves
from spec.losses._overlap import dice
from spec.losses._targets import along_axis, class_probabilities, dense_targets
from spec.ops import Ops, relu
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import SATURATION, Sample, one_hot

Tensor = Any


def _minimum(ops: Ops, tensors: Sequence[Tensor]) -> Tensor:
    """Elementwise minimum; ties share the gradient evenly (``amax`` convention)."""
    if len(tensors) == 1:
        return tensors[0]
    return -ops.amax(ops.stack([-t for t in tensors], axis=0), axis=0)


def soft_erode(ops: Ops, x: Tensor, axes: Sequence[int]) -> Tensor:
    """Minimum over the cross of axis-aligned 3-neighbourhoods on ``axes``."""
    return _minimum(ops, [ops.min_pool(x, (3,), (axis,)) for axis in axes])


def soft_dilate(ops: Ops, x: Tensor, axes: Sequence[int]) -> Tensor:
    """Maximum over the 3 x ... x 3 box on ``axes``."""
    return ops.max_pool(x, (3,) * len(axes), axes)


def soft_skeleton(ops: Ops, x: Tensor, axes: Sequence[int], iterations: int) -> Tensor:
    r"""Soft skeleton of ``x`` (values in [0, 1]) over the spatial ``axes``.

    .. math::

        S_0 = \mathrm{relu}(x - \mathrm{open}(x)),\qquad
        x_k = \mathrm{erode}(x_{k-1}),\quad
        \delta_k = \mathrm{relu}(x_k - \mathrm{open}(x_k)),\quad
        S_k = S_{k-1} + \mathrm{relu}(\delta_k - S_{k-1}\delta_k)

    Args:
        ops: the backend.
        x: probabilities or targets.
        axes: the spatial axes.
        iterations: :math:`K`, the number of erosions; the result is :math:`S_K`.

    Returns:
        :math:`S_K` with ``x``'s shape.
    """
    skeleton = relu(ops, x - soft_dilate(ops, soft_erode(ops, x, axes), axes))
    for _ in range(iterations):
        x = soft_erode(ops, x, axes)
        delta = relu(ops, x - soft_dilate(ops, soft_erode(ops, x, axes), axes))
        skeleton = skeleton + relu(ops, delta - skeleton * delta)
    return skeleton


def soft_cldice(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    multilabel: bool,
    iterations: int,
    smooth_nr: float,
    smooth_dr: float,
    smooth: float,
    include_background: bool,
    batch: bool,
) -> Tensor:
    r"""Soft clDice loss: topology precision and sensitivity of soft skeletons, combined harmonically.

    .. math::

        T_{prec} = \frac{\sum S(p)\,g + s_{nr}}{\sum S(p) + s_{dr}},\qquad
        T_{sens} = \frac{\sum S(g)\,p + s_{nr}}{\sum S(g) + s_{dr}},\qquad
        \ell = 1 - \frac{2\,T_{prec}\,T_{sens}}{T_{prec} + T_{sens} + s}

    with :math:`S` the soft skeleton (``iterations`` erosions, see
    :func:`soft_skeleton`) taken per class over the spatial axes, and the
    sums running over the classes (channel 0 left out when
    ``include_background=False``) and positions of one image -- of the whole
    batch with ``batch=True``.  ``smooth_dr > 0`` and ``smooth > 0`` keep
    every denominator positive, so empty skeletons (an empty class, a
    background-only image) give finite values and gradients.  The loss is
    evaluated as :math:`(T_{prec}(1 - T_{sens}) + T_{sens}(1 - T_{prec}) + s) /
    (T_{prec} + T_{sens} + s)` with each :math:`1 - T` summed from its own
    terms, which keeps float32 accurate near a perfect prediction.

    Args:
        y_pred: logits or probabilities ``(N, C, *spatial)`` channels-first or
            ``(N, *spatial, C)`` channels-last, one or more spatial axes (2-D
            and 3-D maps in practice).
        y_true: one-hot (or multi-label 0/1) targets with ``y_pred``'s shape,
            or integer labels ``(N, *spatial)``.
        class_axis: class axis of ``y_pred``.
        from_logits: apply a softmax over the classes (a sigmoid per class
            with ``multilabel``) to ``y_pred``.
        multilabel: classes are independent binary channels.
        iterations: number of soft erosions of the skeleton (>= 0).
        smooth_nr: :math:`s_{nr} \ge 0`, added to both ratios' numerators.
        smooth_dr: :math:`s_{dr} > 0`, added to both ratios' denominators.
        smooth: :math:`s > 0`, added to the harmonic mean's denominator.
        include_background: when False, channel 0 is left out of every sum.
        batch: one loss for the whole batch instead of one per image.

    Returns:
        One loss per image ``(N,)``, or a scalar with ``batch=True``.

        Equivalence (tested in ``tests/test_peers_lovasz_cldice.py``, values
        and gradients, 2-D and 3-D): MONAI 1.6.1
        ``SoftclDiceLoss(iter_=i, smooth_nr=a, smooth_dr=b, smooth=s,
        include_background=K, softmax=True, to_onehot_y=True)`` called as
        ``loss(input, target)`` = ``iterations=i, smooth_nr=a, smooth_dr=b,
        smooth=s, include_background=K`` (class axis 1, every reduction);
        ``sigmoid=True`` = ``multilabel=True``; no activation =
        ``from_logits=False``.  MONAI 1.5 took ``forward(y_true, y_pred)``,
        always dropped channel 0 and pooled the batch: not compared.

    References:
        Shit, Paetzold, Sekuboyina, Ezhov, Unger, Zhylka, Pluim, Bauer,
        Menze, "clDice - a Novel Topology-Preserving Loss Function for Tubular
        Structure Segmentation", CVPR 2021.
    """
    probs = class_probabilities(ops, y_pred, class_axis=class_axis, from_logits=from_logits, multilabel=multilabel)
    targets, _ = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=None)
    ndim = len(ops.shape(y_pred))
    num_classes = ops.shape(y_pred)[class_axis]
    if not include_background:
        if num_classes < 2:
            raise ValueError(f"include_background=False leaves no class of the {num_classes} on class_axis")
        keep = along_axis(ops, [0.0] + [1.0] * (num_classes - 1), y_pred, class_axis)
        probs, targets = probs * keep, targets * keep  # a zeroed channel has an empty skeleton
    spatial = [a for a in range(1, ndim) if a != class_axis]
    skeleton_pred = soft_skeleton(ops, probs, spatial, iterations)
    skeleton_true = soft_skeleton(ops, targets, spatial, iterations)
    axes = list(range(ndim)) if batch else list(range(1, ndim))

    def ratio_and_complement(skeleton: Tensor, other: Tensor) -> tuple[Tensor, Tensor]:
        # 1 - ratio from its own sum of non-negative terms: no cancellation
        # in float32 near a perfect prediction
        hit = ops.sum(skeleton * other, axis=axes)
        miss = ops.sum(skeleton * (1.0 - other), axis=axes)
        denominator = hit + miss + smooth_dr
        return (hit + smooth_nr) / denominator, (miss + (smooth_dr - smooth_nr)) / denominator

    precision, precision_gap = ratio_and_complement(skeleton_pred, targets)
    sensitivity, sensitivity_gap = ratio_and_complement(skeleton_true, probs)
    # 1 - 2 P S / (P + S + s), written without subtracting from 1
    return (precision * sensitivity_gap + sensitivity * precision_gap + smooth) / (precision + sensitivity + smooth)


def soft_dice_cldice(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    multilabel: bool,
    iterations: int,
    alpha: float,
    smooth_nr: float,
    smooth_dr: float,
    smooth: float,
    include_background: bool,
    batch: bool,
) -> Tensor:
    r"""Soft Dice and soft clDice, mixed: :math:`(1 - \alpha)\,\ell_{Dice} + \alpha\,\ell_{clDice}`.

    .. math::

        \ell = (1 - \alpha)\,\frac{1}{|K|}\sum_{c \in K}
        \Bigl(1 - \frac{2 I_c + s_{nr}}{P_c + G_c + s_{dr}}\Bigr) + \alpha\,\ell_{clDice}

    with the Dice statistics :math:`I_c, P_c, G_c` of
    :func:`spec.losses._overlap.dice` per image and class (over the batch with
    ``batch=True``), :math:`K` the classes kept by ``include_background``,
    and :math:`\ell_{clDice}` the :func:`soft_cldice` loss with the same
    settings.

    Args:
        y_pred: logits or probabilities ``(N, C, *spatial)`` channels-first or
            ``(N, *spatial, C)`` channels-last.
        y_true: one-hot (or multi-label 0/1) targets with ``y_pred``'s shape,
            or integer labels ``(N, *spatial)``.
        class_axis: class axis of ``y_pred``.
        from_logits: apply a softmax over the classes (a sigmoid per class
            with ``multilabel``) to ``y_pred``.
        multilabel: classes are independent binary channels.
        iterations: number of soft erosions of the clDice skeleton (>= 0).
        alpha: :math:`\alpha \in [0, 1]`, the weight of clDice.
        smooth_nr: :math:`s_{nr}`, numerator smoothing of Dice and of both clDice ratios.
        smooth_dr: :math:`s_{dr}`, denominator smoothing of Dice and of both clDice ratios.
        smooth: :math:`s`, added to the clDice harmonic mean's denominator.
        include_background: when False, class 0 is left out of both parts.
        batch: one loss for the whole batch instead of one per image.

    Returns:
        One loss per image ``(N,)``, or a scalar with ``batch=True``.

        Equivalence (tested in ``tests/test_peers_lovasz_cldice.py``, values
        and gradients): MONAI 1.6.1 ``SoftDiceclDiceLoss(iter_=i, alpha=a,
        smooth_nr=n, smooth_dr=d, smooth=s, include_background=K,
        softmax=True, to_onehot_y=True)`` = ``iterations=i, alpha=a,
        smooth_nr=n, smooth_dr=d, smooth=s, include_background=K`` with
        ``reduction="mean"`` (``sigmoid=True`` = ``multilabel=True``; no
        activation = ``from_logits=False``).
        MONAI's ``"sum"`` adds a sum over images *and classes* of Dice to a
        sum over images of clDice, and its ``"none"`` broadcasts the two
        parts' shapes into ``(B, C', 1, B)``; this loss reproduces neither,
        the compat class ``SoftDiceclDiceLoss`` does, by combining the parts
        as MONAI does (``tests/test_compat_monai.py``).

    References:
        Shit, Paetzold, Sekuboyina, Ezhov, Unger, Zhylka, Pluim, Bauer,
        Menze, "clDice - a Novel Topology-Preserving Loss Function for Tubular
        Structure Segmentation", CVPR 2021.
        Milletari, Navab, Ahmadi, "V-Net: Fully Convolutional Neural Networks
        for Volumetric Medical Image Segmentation", 3DV 2016.
    """
    shared = dict(class_axis=class_axis, from_logits=from_logits, multilabel=multilabel, batch=batch)
    overlap = dice(
        ops,
        y_pred,
        y_true,
        smooth=smooth_nr,
        smooth_nr=smooth_nr,
        smooth_dr=smooth_dr,
        include_background=include_background,
        class_weights=None,
        ignore_index=None,
        squared=False,
        **shared,
    )
    topology = soft_cldice(
        ops,
        y_pred,
        y_true,
        iterations=iterations,
        smooth_nr=smooth_nr,
        smooth_dr=smooth_dr,
        smooth=smooth,
        include_background=include_background,
        **shared,
    )
    return (1.0 - alpha) * overlap + alpha * topology


# ---------------------------------------------------------------------------
# Sample inputs.  Pooling and the skeleton's relu have kinks where two
# different pixels of one channel hold nearly equal probabilities: "smooth"
# samples are redrawn until those are well apart.
# ---------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def skeleton_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """2-D and 3-D maps (redrawn until every channel's probabilities are well
    apart), an absent class, a background-only image, multi-label targets,
    perfect and saturated predictions."""
    multilabel = params.get("multilabel", False)
    from_logits = params.get("from_logits", True)

    def prediction(shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
        # Every pooling comparison is between two probabilities of one image
        # and channel; no finite-difference probe may reorder such a pair.
        rows = (shape[0] * shape[1], -1)
        if multilabel:
            # independent channels: each a shuffled grid of logits in [-3, 3]
            grid = np.linspace(-3.0, 3.0, int(np.prod(shape[2:])))
            logits = np.stack([rng.permutation(grid) for _ in range(shape[0] * shape[1])]).reshape(shape)
            return (logits if from_logits else _sigmoid(logits)), True
        for _ in range(1000):  # a softmax couples the channels: redraw
            logits = rng.normal(0.0, 1.5, shape)
            probs = _softmax(logits)
            moves = probability_moves(logits, probs, from_logits)
            if fd_separated(probs.reshape(rows), moves.reshape(rows)):
                return (logits if from_logits else probs), True
        return (logits if from_logits else probs), False

    def sample(name: str, labels: np.ndarray, **extra: Any) -> Sample:
        shape = (labels.shape[0], 3, *labels.shape[1:])
        y_pred, smooth = prediction(shape)
        if multilabel:
            dense = rng.integers(0, 2, shape).astype(np.float64)
            return Sample(name, y_pred, dense=dense, smooth=smooth, **extra)
        return Sample(name, y_pred, labels=labels, smooth=smooth, **extra)

    samples = [
        sample("random-2d", rng.integers(0, 3, (2, 5, 4))),
        sample("random-3d", rng.integers(0, 3, (2, 3, 4, 2))),
    ]
    empty = rng.integers(0, 2, (2, 5, 4))  # class 2 absent from the batch
    empty[1] = 0  # a background-only image
    if multilabel:
        dense = one_hot(empty, 3)
        dense[1] = 0.0  # an image without any foreground
        y_pred, smooth = prediction(dense.shape)
        samples.append(Sample("empty-class", y_pred, dense=dense, smooth=smooth))
    else:
        samples.append(sample("empty-class", empty))
    labels = rng.integers(0, 3, (2, 5, 4))
    exact = one_hot(labels, 3)
    if from_logits:
        perfect, wrong = SATURATION * (2.0 * exact - 1.0), -SATURATION * (2.0 * exact - 1.0)
    else:  # exact 0/1 probabilities (no float32 subnormals)
        perfect, wrong = exact, one_hot((labels + 1) % 3, 3)
    samples += [
        # 0/1 maps tie everywhere: kinks of every pooling window
        Sample("perfect", perfect, dense=exact, smooth=False),
        Sample("saturated-wrong", wrong, dense=exact, smooth=False),
    ]
    if not params.get("batch"):
        samples.append(sample("sample-weight", labels, sample_weight=rng.uniform(0.2, 2.0, (2,))))
    return samples


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------

_COMMON = (
    CLASS_AXIS,
    FROM_LOGITS,
    Param("multilabel", "bool", False, "classes are independent: sigmoid per class, 0/1 targets per class"),
    Param("iterations", "int", 3, "number of soft erosions of the skeleton", low=0),
)
_SMOOTHING = (
    Param("smooth_nr", "float", 1.0, "added to the numerators", low=0.0),
    # > 0: a zero (or float32-subnormal) denominator has an infinite gradient
    Param("smooth_dr", "float", 1.0, "added to the denominators", low=0.0, low_open=True),
    Param("smooth", "float", 1e-4, "added to the denominator of the harmonic mean", low=0.0, low_open=True),
    Param("include_background", "bool", True, "keep channel 0"),
    Param("batch", "bool", False, "one loss for the whole batch instead of one per image"),
)
_INPUTS = Inputs(
    "classes",
    labels=True,
    target_range=(0.0, 1.0),
    min_ndim=3,
    prediction="logits or probabilities over the class axis (2-D or 3-D maps)",
)


def _presets(extra: dict[str, dict]) -> dict[str, dict]:
    presets = {
        "default": {},
        "probabilities": {"from_logits": False},
        "multilabel_no_background": {"multilabel": True, "include_background": False},
        "batch_nearly_unsmoothed": {"batch": True, "smooth_nr": 0.0, "smooth_dr": 1e-6, "smooth": 1e-8},
        "one_iteration_smooth": {"iterations": 1, "smooth_nr": 0.5, "smooth_dr": 2.0, "smooth": 1e-2},
        "no_iteration_multilabel_probabilities": {"iterations": 0, "multilabel": True, "from_logits": False},
    }
    presets.update(extra)
    return presets


register(
    LossSpec(
        name="soft_cldice",
        formula=soft_cldice,
        params=ParamSet(_COMMON + _SMOOTHING),
        inputs=_INPUTS,
        family="segmentation",
        presets=_presets({}),
        samples=skeleton_samples,
    )
)

register(
    LossSpec(
        name="soft_dice_cldice",
        formula=soft_dice_cldice,
        params=ParamSet(
            (
                *_COMMON,
                Param("alpha", "float", 0.5, "weight of clDice, 1 - alpha of Dice", low=0.0, high=1.0),
                *_SMOOTHING,
            )
        ),
        inputs=_INPUTS,
        family="segmentation",
        presets=_presets({"mostly_dice": {"alpha": 0.2}, "cldice_only_batch": {"alpha": 1.0, "batch": True}}),
        samples=skeleton_samples,
    )
)
