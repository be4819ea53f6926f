"""Lovász losses: convex surrogates of the Jaccard loss (1 - IoU) for segmentation.

The Jaccard loss of a set of mispredicted pixels is submodular, so its Lovász
extension is a tight convex surrogate: sort the per-pixel errors in decreasing
order and weigh each by how much the Jaccard loss grows when its pixel joins
the mispredicted set.  The weights depend on the targets only; the loss is
piecewise linear in the errors, with kinks where two errors tie.

Ties are broken by the stable order of :meth:`spec.ops.Ops.sort` (lower index
first), so every backend picks the same subgradient.  Ignored pixels get
foreground and background weight 0 in the running counts: wherever the sort
puts them they change no weight, and their error is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

import numpy as np

from spec.inputs import Inputs
from spec.losses._classification import CLASS_AXIS, CLASS_INPUTS, FROM_LOGITS, check_class_weights
from spec.losses._targets import class_probabilities, dense_targets
from spec.ops import Ops, relu, safe_divide
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import SATURATION, Sample, one_hot

Tensor = Any


def lovasz_jaccard_weights(ops: Ops, foreground: Tensor, background: Tensor) -> Tensor:
    r"""Lovász gradient of the Jaccard loss along the last axis.

    .. math::

        J_j = 1 - \frac{G - \sum_{l \le j} f_l}{G + \sum_{l \le j} b_l},\qquad
        w_j = J_j - J_{j-1},\quad J_0 = 0

    Args:
        ops: the backend.
        foreground: ``(..., P)`` target foreground of the pixels in sorted
            order (0 for ignored pixels).
        background: ``(..., P)`` target background, ``1 - foreground`` (0 for
            ignored pixels).

    Returns:
        ``(..., P)`` weights :math:`w_j`.  :math:`J_{j-1}` is computed from the
        cumulative sums minus the current pixel (no shifted copy needed);
        where a union is 0 (no foreground and only ignored pixels so far)
        :math:`J = 0`.
    """
    total = ops.sum(foreground, axis=-1, keepdims=True)
    seen_fg = ops.cumsum(foreground, -1)
    seen_bg = ops.cumsum(background, -1)
    jaccard = 1.0 - safe_divide(ops, total - seen_fg, total + seen_bg, when_zero=1.0)
    before = 1.0 - safe_divide(ops, total - seen_fg + foreground, total + seen_bg - background, when_zero=1.0)
    return jaccard - before


def _lovasz_extension(ops: Ops, errors: Tensor, foreground: Tensor, background: Tensor) -> Tensor:
    """``sum_j errors_(j) w_j`` over the last axis, errors sorted in decreasing order."""
    ordered, permutation = ops.sort(errors, -1, descending=True)
    weights = lovasz_jaccard_weights(
        ops, ops.reorder(foreground, permutation, -1), ops.reorder(background, permutation, -1)
    )
    return ops.sum(ordered * weights, axis=-1)


def lovasz_hinge(ops: Ops, y_pred: Tensor, y_true: Tensor, *, batch: bool, ignore_index: int | None) -> Tensor:
    r"""Lovász hinge loss: the Lovász extension of the Jaccard loss at the hinge errors of binary logits.

    .. math::

        e_i = 1 - x_i\,(2 t_i - 1),\qquad
        \ell = \sum_j \max(e_{\pi(j)}, 0)\,(J_j - J_{j-1}),\qquad
        J_j = 1 - \frac{G - \sum_{l \le j} t_{\pi(l)}}{G + \sum_{l \le j} (1 - t_{\pi(l)})}

    with :math:`\pi` sorting the errors in decreasing order (ties in their
    original order), :math:`G = \sum_i t_i` and :math:`J_0 = 0`.  All channels
    and positions of an image are one binary problem (binary or multi-label
    maps alike); ``batch=True`` pools the whole batch into one problem.  An
    image without foreground scores its largest positive error; an image
    (or batch) whose pixels are all ignored scores 0.

    Args:
        y_pred: logits ``(N, ...)`` -- e.g. ``(N, 1, H, W)`` for a binary map,
            ``(N, C, H, W)`` or ``(N, H, W, C)`` for multi-label maps (the
            layout does not matter: every position of an image is pooled).
        y_true: 0/1 targets with ``y_pred``'s shape; entries equal to
            ``ignore_index`` are ignored.
        batch: one loss for the whole batch instead of one per image.
        ignore_index: target value whose positions are left out of the sort
            and the Jaccard counts (``None``: nothing is ignored).

    Returns:
        One loss per image ``(N,)``, or a scalar with ``batch=True``.

        Equivalences (tested in ``tests/test_peers_lovasz_cldice.py``, values
        and gradients): smp 0.6.0 ``LovaszLoss(mode, per_image=P,
        ignore_index=k)`` with ``mode`` ``"binary"`` or ``"multilabel"`` =
        ``batch=not P, ignore_index=k`` with ``reduction="mean"``; kornia
        0.9.0 ``lovasz_hinge_loss(pred, target)`` (``pred`` ``(N, 1, H, W)``)
        = the defaults, ``reduction="mean"``.

    References:
        Berman, Rannen Triki, Blaschko, "The Lovász-Softmax loss: A tractable
        surrogate for the optimization of the intersection-over-union measure
        in neural networks", CVPR 2018.
    """
    targets, valid = y_true, None
    if ignore_index is not None:
        valid = ops.cast(ops.not_equal(y_true, ignore_index), y_pred)
        targets = y_true * valid  # the ignore value itself never enters the arithmetic
    errors = 1.0 - y_pred * (2.0 * targets - 1.0)
    background = 1.0 - targets
    if valid is not None:
        errors, background = errors * valid, background * valid
    # -1 (not a product of the shape) where a traced batch size may be unknown
    shape = ops.shape(y_pred)
    rows = (1, -1) if batch else (shape[0], prod(shape[1:]))
    # Sorting max(e, 0) rather than e reorders only the non-positive errors,
    # which weigh nothing and come after every positive one: same value.
    loss = _lovasz_extension(
        ops, relu(ops, ops.reshape(errors, rows)), ops.reshape(targets, rows), ops.reshape(background, rows)
    )
    return ops.reshape(loss, ()) if batch else loss


def lovasz_softmax(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    class_axis: int,
    from_logits: bool,
    classes: str,
    batch: bool,
    ignore_index: int | None,
    class_weights: list[float] | None,
) -> Tensor:
    r"""Lovász-Softmax loss: per class, the Lovász extension of the Jaccard loss at the errors :math:`|g - p|`.

    .. math::

        e_{ic} = |g_{ic} - p_{ic}|,\qquad
        \ell_c = \sum_j e_{\pi_c(j)c}\,(J_{jc} - J_{j-1,c}),\qquad
        \ell = \frac{\sum_c w_c\,a_c\,\ell_c}{\sum_c w_c\,a_c}

    with :math:`p = \mathrm{softmax}(x)` over the classes, :math:`\pi_c`
    sorting class :math:`c`'s errors in decreasing order (ties in their
    original order), :math:`J_{jc}` the Jaccard loss of the first :math:`j`
    sorted pixels against class :math:`c`'s foreground (see
    :func:`lovasz_hinge`), :math:`w_c` the class weights and :math:`a_c = 1`
    for ``classes="all"`` or :math:`a_c = [\sum_i g_{ic} > 0]` for
    ``classes="present"``.  When no class is present (every pixel ignored)
    the loss is 0.  A class absent from the target scores its largest
    predicted probability (``classes="all"``).

    Args:
        y_pred: logits or probabilities ``(N, C, ...)`` channels-first or
            ``(N, ..., C)`` channels-last, any number of spatial axes.
        y_true: integer labels ``(N, ...)``, or one-hot (or soft) targets with
            ``y_pred``'s shape.
        class_axis: class axis of ``y_pred``.
        from_logits: apply a softmax over ``class_axis`` to ``y_pred``.
        classes: ``"present"`` -- average over the classes present in the
            target of the image (of the batch with ``batch=True``);
            ``"all"`` -- average over every class.
        batch: one loss for the whole batch (each class's pixels pooled over
            the batch) instead of one per image.
        ignore_index: label whose pixels are left out of every class's sort
            and counts; with dense targets the rows a one-hot encoding of it
            would give (see :func:`spec.losses._targets.dense_targets`).
        class_weights: weights :math:`w_c` of the class average, length ``C``.

    Returns:
        One loss per image ``(N,)``, or a scalar with ``batch=True``.

        Equivalences (tested in ``tests/test_peers_lovasz_cldice.py``, values
        and gradients): smp 0.6.0 ``LovaszLoss("multiclass", per_image=P,
        ignore_index=k)`` = ``classes="present", batch=not P,
        ignore_index=k`` (logits, ``reduction="mean"``); kornia 0.9.0
        ``lovasz_softmax_loss(pred, target)`` = ``classes="all"`` (logits,
        ``reduction="mean"``), and with ``weight=w`` it equals
        ``classes="all", class_weights=w`` times :math:`\sum_c w_c / C`
        (kornia averages :math:`w_c \ell_c` without dividing by
        :math:`\sum w`).

    References:
        Berman, Rannen Triki, Blaschko, "The Lovász-Softmax loss: A tractable
        surrogate for the optimization of the intersection-over-union measure
        in neural networks", CVPR 2018.
    """
    probs = class_probabilities(ops, y_pred, class_axis=class_axis, from_logits=from_logits, multilabel=False)
    targets, mask = dense_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    errors = ops.abs(targets - probs)
    background = 1.0 - targets
    if mask is not None:
        errors, background = errors * mask, background * mask
    shape = ops.shape(y_pred)
    num_classes = shape[class_axis]
    pixels = prod([d for axis, d in enumerate(shape) if axis not in (0, class_axis)])

    def rows(x: Tensor) -> Tensor:
        # (N, C, P) per image, (C, N * P) for the batch: the last axis is sorted
        x = ops.reshape(ops.moveaxis(x, class_axis, 1), (shape[0], num_classes, pixels))
        return ops.reshape(ops.moveaxis(x, 1, 0), (num_classes, -1)) if batch else x

    foreground = rows(targets)
    per_class = _lovasz_extension(ops, rows(errors), foreground, rows(background))
    weights = ops.constant(class_weights if class_weights is not None else [1.0] * num_classes, per_class)
    if classes == "present":
        weights = weights * ops.cast(ops.greater(ops.sum(foreground, axis=-1), 0.0), per_class)
    return safe_divide(ops, ops.sum(weights * per_class, axis=-1), ops.sum(weights, axis=-1))


# ---------------------------------------------------------------------------
# Sample inputs.  The loss is piecewise linear with kinks where two errors of
# one sort tie (and, for the hinge, where an error crosses 0): "smooth"
# samples keep the errors well apart so finite differences stay on one piece.
# ---------------------------------------------------------------------------


def _hinge_logits(rng: np.random.Generator, targets: np.ndarray, gap: float = 0.05) -> np.ndarray:
    """Logits whose hinge errors are distinct over the whole batch, at least
    ``gap`` apart and at least ``gap / 2`` away from 0."""
    grid = (np.arange(-60, 140) + 0.5) * gap  # errors in [-3, 7]
    errors = rng.choice(grid, size=targets.shape, replace=False)
    return (1.0 - errors) * (2.0 * targets - 1.0)


def lovasz_hinge_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Binary and multi-label maps with well-separated hinge errors, an image
    without foreground, an empty channel, ignored pixels and a fully ignored
    image, perfect and saturated predictions."""
    ignore_index = params.get("ignore_index")
    samples = []

    def ignored(targets: np.ndarray) -> np.ndarray:
        targets = targets.copy()
        targets[rng.random(targets.shape) < 0.25] = ignore_index
        return targets

    for name, shape in [
        ("binary-2d", (2, 1, 5, 4)),
        ("multilabel-2d", (2, 3, 4, 4)),
        ("multilabel-3d", (2, 2, 3, 4, 3)),
    ]:
        targets = rng.integers(0, 2, shape).astype(np.float64)
        samples.append(Sample(name, _hinge_logits(rng, targets), dense=targets))
        if ignore_index is not None:
            samples.append(Sample(f"ignored-{name}", _hinge_logits(rng, targets), dense=ignored(targets)))
    shape = (2, 3, 4, 4)
    targets = rng.integers(0, 2, shape).astype(np.float64)
    targets[:, 2] = 0.0  # a channel without foreground in the whole batch
    targets[1] = 0.0  # an image without foreground
    samples.append(Sample("empty-class", _hinge_logits(rng, targets), dense=targets))
    if ignore_index is not None:
        partly = ignored(targets)
        partly[1] = ignore_index  # an image whose pixels are all ignored
        samples.append(Sample("all-ignored-image", _hinge_logits(rng, targets), dense=partly))
    exact = rng.integers(0, 2, shape).astype(np.float64)
    signs = 2.0 * exact - 1.0
    samples += [
        # every error is 1 - 50 < 0: the loss is 0 on a neighbourhood
        Sample("perfect", SATURATION * signs, dense=exact),
        # every error is 51: a tie of all pixels, a kink
        Sample("saturated-wrong", -SATURATION * signs, dense=exact, smooth=False),
    ]
    if not params.get("batch"):
        targets = rng.integers(0, 2, shape).astype(np.float64)
        samples.append(
            Sample(
                "sample-weight",
                _hinge_logits(rng, targets),
                dense=targets,
                sample_weight=rng.uniform(0.2, 2.0, (shape[0],)),
            )
        )
    return samples


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fd_separated(values: np.ndarray, moves: np.ndarray) -> bool:
    """Whether, in every row of ``values`` ``(R, P)``, any two entries are
    further apart than twice the larger of their ``moves`` (how far one
    finite-difference probe can shift each), so no probe reorders them.
    Checking neighbours in sorted order suffices."""
    order = np.argsort(values, axis=1)
    ordered, moved = np.take_along_axis(values, order, 1), np.take_along_axis(moves, order, 1)
    return bool(np.all(np.diff(ordered, axis=1) > 2.0 * np.maximum(moved[:, 1:], moved[:, :-1])))


def probability_moves(y_pred: np.ndarray, probs: np.ndarray, from_logits: bool) -> np.ndarray:
    """Largest shift of each probability ``(N, C, ...)`` under one probe of
    :func:`spec.parity.finite_difference_gradient` (steps up to ``2h``): from
    logits, ``h = 1e-4 max(|x|, 1)`` on any logit of the pixel moves each of its
    probabilities by at most ``h / 2``; given probabilities, only the probed
    one moves, by ``2h = 2e-3 min(p, 1 - p)``."""
    if not from_logits:
        return 2e-3 * np.minimum(probs, 1.0 - probs)
    largest = np.maximum(np.abs(y_pred).max(axis=1, keepdims=True), 1.0)
    return np.broadcast_to(0.5e-4 * largest, probs.shape)


def _class_rows(x: np.ndarray) -> np.ndarray:
    """``(N, C, ...)`` -> ``(C, N * pixels)``: each class over the whole batch."""
    return np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


def lovasz_softmax_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Maps (2-D, 3-D) whose per-class errors are drawn until they are well
    apart, an absent class, a background-only image, soft targets, ignored
    pixels and a fully ignored image, perfect and saturated predictions."""
    from_logits = params.get("from_logits", True)
    ignore_index = params.get("ignore_index")

    def prediction(shape: tuple[int, ...], dense: np.ndarray) -> tuple[np.ndarray, bool]:
        # redrawn until no finite-difference probe reorders a class's errors
        # (pooled over the batch, which covers the per-image sorts too)
        for _ in range(1000):
            logits = rng.normal(0.0, 1.5, shape)
            probs = _softmax(logits)
            moves = probability_moves(logits, probs, from_logits)
            if fd_separated(_class_rows(np.abs(dense - probs)), _class_rows(moves)):
                return (logits if from_logits else probs), True
        return (logits if from_logits else probs), False

    def sample(name: str, labels: np.ndarray, **extra: Any) -> Sample:
        num_classes = extra.pop("num_classes", 3)
        dense = extra.pop("dense", None)
        shape = (labels.shape[0], num_classes, *labels.shape[1:])
        y_pred, smooth = prediction(shape, dense if dense is not None else one_hot(labels, num_classes))
        target = {"dense": dense} if dense is not None else {"labels": labels}
        return Sample(name, y_pred, smooth=smooth, **target, **extra)

    def with_ignored(labels: np.ndarray) -> np.ndarray:
        labels = labels.copy()
        labels[rng.random(labels.shape) < 0.25] = ignore_index
        return labels

    samples = []
    for dim, label_shape in [("2d", (2, 4, 4)), ("3d", (2, 3, 2, 2))]:
        labels = rng.integers(0, 3, label_shape)
        samples.append(sample(f"random-{dim}", labels))
        if ignore_index is not None:
            samples.append(sample(f"ignored-{dim}", with_ignored(labels)))
    empty = rng.integers(0, 2, (2, 4, 4))  # class 2 absent from the batch
    empty[1] = 0  # a background-only image
    samples.append(sample("empty-class", empty))
    if ignore_index is not None:
        partly = with_ignored(empty)
        partly[0] = ignore_index  # an image whose pixels are all ignored
        samples.append(sample("all-ignored-image", partly))
    else:
        soft = rng.dirichlet(np.ones(3), (2, 4, 4)).transpose(0, 3, 1, 2)
        samples.append(sample("soft-targets", empty, dense=soft))
    labels = rng.integers(0, 3, (2, 4, 4))
    signs = 2.0 * one_hot(labels, 3) - 1.0
    saturated = [SATURATION * signs, -SATURATION * signs]
    if not from_logits:
        # exact 0/1 probabilities: softmax(+-50) would hold float32 subnormals,
        # which TensorFlow flushes to 0 and torch keeps (abs has a kink at 0)
        saturated = [one_hot(labels, 3), one_hot((labels + 1) % 3, 3)]
    samples += [
        # errors 0 (|1 - 1|) and ties everywhere: kinks
        Sample("perfect", saturated[0], labels=labels, smooth=False),
        Sample("saturated-wrong", saturated[1], labels=labels, smooth=False),
    ]
    if not params.get("batch"):
        samples.append(sample("sample-weight", labels, sample_weight=rng.uniform(0.2, 2.0, (2,))))
    return samples


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------

BATCH = Param("batch", "bool", False, "one loss for the whole batch instead of one per image")


register(
    LossSpec(
        name="lovasz_hinge",
        formula=lovasz_hinge,
        params=ParamSet(
            (
                BATCH,
                Param("ignore_index", "int", None, "target value whose positions are ignored", optional=True),
            )
        ),
        # no target range: ignored positions hold ignore_index (e.g. 255)
        inputs=Inputs(
            "elementwise", min_ndim=2, target_range=(0.0, 1.0), prediction="logits (binary or multi-label maps)"
        ),
        family="segmentation",
        presets={
            "default": {},
            "batch": {"batch": True},
            "ignore_index": {"ignore_index": 255},
            "batch_ignore_negative": {"batch": True, "ignore_index": -1},
        },
        samples=lovasz_hinge_samples,
    )
)

register(
    LossSpec(
        name="lovasz_softmax",
        formula=lovasz_softmax,
        params=ParamSet(
            (
                CLASS_AXIS,
                FROM_LOGITS,
                Param(
                    "classes",
                    "choice",
                    "present",
                    "average over the classes present in the target, or over all classes",
                    choices=("present", "all"),
                ),
                BATCH,
                Param("ignore_index", "int", None, "label whose pixels are ignored", optional=True),
                Param(
                    "class_weights", "floats", None, "weights of the class average, length C", optional=True, low=0.0
                ),
            ),
            checks=(check_class_weights,),
        ),
        inputs=CLASS_INPUTS,
        family="segmentation",
        presets={
            "default": {},
            "all_classes": {"classes": "all"},
            "batch": {"batch": True},
            "probabilities": {"from_logits": False},
            "ignore_index": {"ignore_index": 255},
            "ignore_in_range_batch": {"ignore_index": 1, "batch": True},
            "weighted_all": {"classes": "all", "class_weights": [0.5, 2.0, 1.0]},
            "weighted_present_probabilities": {"class_weights": [1.0, 0.0, 3.0], "from_logits": False},
        },
        samples=lovasz_softmax_samples,
    )
)
