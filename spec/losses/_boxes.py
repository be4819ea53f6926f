"""Bounding-box regression losses on corner boxes ``(x1, y1, x2, y2)``.

Boxes are ``(N, 4)`` (or ``(N, ..., 4)``): coordinates on the last axis, one
loss per box.  The epsilon convention is torchvision's (``eps = 1e-7``): it
is added to the union in the IoU, to the enclosing area in GIoU, to the
squared enclosing diagonal in DIoU and to the denominator of CIoU's
trade-off, so identical, non-overlapping and zero-area boxes all give finite
values and gradients.

Minima and maxima of coordinates go through ``amax`` so that ties (identical
edges) share the gradient evenly, as ``torch.min``/``torch.max`` of two
tensors do; the intersection is counted only where both sides are strictly
positive (torchvision's mask), so touching boxes have zero intersection
gradient.

The equivalences marked "tested" below are proven in
``tests/test_peers_metric_boxes.py`` (every reduction, our torch module and
our Keras loss), those with torchvision against the code of torchvision
0.28.0 itself (``torchvision.ops``, loaded without importing the package).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spec.inputs import Inputs
from spec.ops import Ops, safe_divide
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import Sample

Tensor = Any


# --------------------------------------------------------------------------- helpers


def _corners(ops: Ops, boxes: Tensor, loss: str) -> list[Tensor]:
    """``x1, y1, x2, y2`` of ``(..., 4)`` boxes (a one-hot row summed out:
    the protocol has no slicing, and the sum of one term and three zeros is exact)."""
    shape = ops.shape(boxes)
    if shape[-1] != 4:
        raise ValueError(f"{loss}: boxes must have 4 coordinates (x1, y1, x2, y2) on the last axis, got shape {shape}")
    # Python lists (not NumPy) so that torch.compile captures the constants
    rows = [[1.0 if i == j else 0.0 for j in range(4)] for i in range(4)]
    return [ops.sum(boxes * ops.constant(row, boxes), axis=-1) for row in rows]


def _maximum(ops: Ops, a: Tensor, b: Tensor) -> Tensor:
    """Elementwise maximum; at a tie each argument gets half the gradient."""
    return ops.amax(ops.stack([a, b]), axis=0)


def _minimum(ops: Ops, a: Tensor, b: Tensor) -> Tensor:
    return -_maximum(ops, -a, -b)


def _geometry(ops: Ops, y_pred: Tensor, y_true: Tensor, eps: float, loss: str) -> dict[str, Tensor]:
    """IoU, enclosing box and centre offsets of two sets of boxes."""
    x1, y1, x2, y2 = _corners(ops, y_pred, loss)
    gx1, gy1, gx2, gy2 = _corners(ops, y_true, loss)
    overlap_w = _minimum(ops, x2, gx2) - _maximum(ops, x1, gx1)
    overlap_h = _minimum(ops, y2, gy2) - _maximum(ops, y1, gy1)
    overlapping = ops.logical_and(ops.greater(overlap_w, 0.0), ops.greater(overlap_h, 0.0))
    intersection = ops.where(overlapping, overlap_w * overlap_h, 0.0)
    union = (x2 - x1) * (y2 - y1) + (gx2 - gx1) * (gy2 - gy1) - intersection
    # union + eps > 0 for valid boxes; safe_divide only guards inverted boxes
    iou = safe_divide(ops, intersection, union + eps)
    enclosing_w = _maximum(ops, x2, gx2) - _minimum(ops, x1, gx1)
    enclosing_h = _maximum(ops, y2, gy2) - _minimum(ops, y1, gy1)
    return {
        "iou": iou,
        "union": union,
        "enclosing_w": enclosing_w,
        "enclosing_h": enclosing_h,
        # twice the centre offsets: (x1 + x2) / 2 - (gx1 + gx2) / 2, halved when squared below
        "dx": (x1 + x2) - (gx1 + gx2),
        "dy": (y1 + y2) - (gy1 + gy2),
        "w": x2 - x1,
        "h": y2 - y1,
        "gw": gx2 - gx1,
        "gh": gy2 - gy1,
    }


def _diou_penalty(ops: Ops, g: dict[str, Tensor], eps: float) -> Tensor:
    """Squared centre distance over the squared enclosing diagonal plus ``eps``
    (no square roots: zero distance is smooth)."""
    centre = 0.25 * (g["dx"] * g["dx"] + g["dy"] * g["dy"])
    diagonal = g["enclosing_w"] * g["enclosing_w"] + g["enclosing_h"] * g["enclosing_h"]
    return safe_divide(ops, centre, diagonal + eps)


# Taylor coefficients of atan on |u| <= tan(pi/12): 15 terms reach 1e-18 relative
_ATAN_TERMS = [(-1.0) ** k / (2 * k + 1) for k in range(15)]
_TAN_PI_12 = 2.0 - math.sqrt(3.0)
_SQRT3 = math.sqrt(3.0)


def _atan_unit(ops: Ops, t: Tensor) -> Tensor:
    """``atan(t)`` for ``|t| <= 1`` within 1e-15 relative, from arithmetic alone
    (the ops protocol has no ``atan``).

    ``|t|`` above ``tan(pi/12)`` is reduced by ``atan(t) = pi/6 + atan((t
    sqrt3 - 1) / (t + sqrt3))`` and the rest is a Taylor polynomial.  Odd by
    construction; the gradient is the polynomial's, ``1 / (1 + t^2)`` to
    rounding.
    """
    negative = ops.less(t, 0.0)
    a = ops.where(negative, -t, t)  # |t| with gradient +-1 (1 at 0, not abs's 0)
    reduced = ops.greater(a, _TAN_PI_12)
    u = ops.where(reduced, (a * _SQRT3 - 1.0) / (a + _SQRT3), a)  # denominator >= sqrt3
    u2 = u * u
    series = _ATAN_TERMS[-2] + _ATAN_TERMS[-1] * u2  # Horner
    for coefficient in reversed(_ATAN_TERMS[:-2]):
        series = coefficient + u2 * series
    angle = u * series
    angle = ops.where(reduced, angle + math.pi / 6.0, angle)
    return ops.where(negative, -angle, angle)


def _aspect_angle(ops: Ops, w: Tensor, h: Tensor) -> Tensor:
    """``atan(w / h)`` as torchvision computes it, without dividing by zero.

    Where ``|w| > |h|`` it uses ``atan(w/h) = sign(w/h) pi/2 - atan(h/w)``; at
    ``h = 0`` that is the limit from ``h > 0`` (value ``+-pi/2``, finite
    gradient; torchvision divides by zero there).  A point box (``w = h =
    0``) has angle 0 with zero gradient.
    """
    steep = ops.greater(ops.abs(w), ops.abs(h))
    ratio = safe_divide(ops, ops.where(steep, h, w), ops.where(steep, w, h))  # |ratio| <= 1
    angle = _atan_unit(ops, ratio)
    # sign(w / h) with h = 0 counted as positive
    opposite = ops.not_equal(ops.less(w, 0.0), ops.less(h, 0.0))
    quarter = ops.where(opposite, ops.constant(-0.5 * math.pi, w), ops.constant(0.5 * math.pi, w))
    return ops.where(steep, quarter - angle, angle)


# --------------------------------------------------------------------------- formulas


def giou(ops: Ops, y_pred: Tensor, y_true: Tensor, *, eps: float) -> Tensor:
    r"""Generalized IoU loss of paired boxes.

    .. math::

        \ell = 1 - \frac{|A \cap B|}{|A \cup B| + \epsilon}
               + \frac{|C| - |A \cup B|}{|C| + \epsilon}

    with :math:`C` the smallest box enclosing :math:`A` and :math:`B`; it
    stays informative (:math:`\ell > 1`) for non-overlapping boxes.

    Args:
        y_pred: predicted boxes :math:`A`, ``(N, 4)`` as ``(x1, y1, x2, y2)``
            with ``x1 <= x2``, ``y1 <= y2`` (leading axes beyond ``N`` are kept).
        y_true: target boxes :math:`B` with ``y_pred``'s shape.
        eps: :math:`\epsilon > 0` in both denominators (torchvision's
            ``1e-7``).

    Returns:
        One loss per box, ``y_pred.shape[:-1]``, in :math:`[0, 2)`.  Equals
        torchvision 0.28.0's ``generalized_box_iou_loss(y_pred, y_true,
        reduction=r, eps=eps)`` for any ``eps`` and each of its reductions
        (``"none"``, ``"mean"``, ``"sum"``: ours of the same name), boxes
        ``(N, 4)`` or ``(B, N, 4)``, float64 to rounding, gradients with
        respect to both box sets (tested against its code), and
        ``monai.losses.BoxGIoULoss()`` with ``eps=2**-23`` (float32's epsilon;
        MONAI computes in float32, so that check holds to float32 precision)
        (tested, values and gradients).  One MONAI difference no setting
        reproduces: for boxes that touch exactly (an intersection side of 0)
        MONAI's clamp passes the intersection's gradient, torchvision's mask
        and this loss do not (same values; tested).

    References:
        Rezatofighi et al., "Generalized Intersection over Union: A Metric
        and A Loss for Bounding Box Regression", CVPR 2019.
    """
    g = _geometry(ops, y_pred, y_true, eps, "giou")
    enclosing = g["enclosing_w"] * g["enclosing_h"]
    return 1.0 - g["iou"] + safe_divide(ops, enclosing - g["union"], enclosing + eps)


def diou(ops: Ops, y_pred: Tensor, y_true: Tensor, *, eps: float) -> Tensor:
    r"""Distance-IoU loss of paired boxes: IoU loss plus the normalised
    distance of the centres.

    .. math::

        \ell = 1 - \frac{|A \cap B|}{|A \cup B| + \epsilon}
               + \frac{\rho^2(a, b)}{c^2 + \epsilon}

    with :math:`\rho` the distance of the box centres :math:`a, b` and
    :math:`c` the diagonal of the smallest enclosing box.  Only squared
    distances appear, so coincident centres are smooth.

    Args:
        y_pred: predicted boxes :math:`A`, ``(N, 4)`` as ``(x1, y1, x2, y2)``
            with ``x1 <= x2``, ``y1 <= y2`` (leading axes beyond ``N`` are kept).
        y_true: target boxes :math:`B` with ``y_pred``'s shape.
        eps: :math:`\epsilon > 0` added to the union and to :math:`c^2`
            (torchvision's ``1e-7``).

    Returns:
        One loss per box, ``y_pred.shape[:-1]``.  Equals torchvision
        0.28.0's ``distance_box_iou_loss(y_pred, y_true, reduction=r,
        eps=eps)`` for any ``eps`` and each of its reductions (``"none"``,
        ``"mean"``, ``"sum"``: ours of the same name), boxes ``(N, 4)`` or
        ``(B, N, 4)``, float64 to rounding, gradients with respect to both
        box sets (tested against its code).

    References:
        Zheng et al., "Distance-IoU Loss: Faster and Better Learning for
        Bounding Box Regression", AAAI 2020.
    """
    g = _geometry(ops, y_pred, y_true, eps, "diou")
    return 1.0 - g["iou"] + _diou_penalty(ops, g, eps)


def ciou(ops: Ops, y_pred: Tensor, y_true: Tensor, *, eps: float) -> Tensor:
    r"""Complete-IoU loss of paired boxes: DIoU plus an aspect-ratio term.

    .. math::

        \ell = \ell_{\mathrm{DIoU}} + \alpha v,\qquad
        v = \frac{4}{\pi^2}\Big(\arctan\frac{w_B}{h_B} - \arctan\frac{w_A}{h_A}\Big)^2,\qquad
        \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}

    :math:`\alpha` carries no gradient (the authors' code and torchvision
    compute it under ``no_grad``), so the gradient is not the derivative of
    the value wherever :math:`v > 0`.  The paper's further suggestion of
    dropping :math:`1/(w^2 + h^2)` from :math:`\partial v` is not applied
    (nor is it in torchvision).  :math:`\arctan(w/h)` at :math:`h = 0` takes
    its limit from :math:`h > 0`, and a zero-size box has angle 0.

    Args:
        y_pred: predicted boxes :math:`A`, ``(N, 4)`` as ``(x1, y1, x2, y2)``
            with ``x1 <= x2``, ``y1 <= y2`` (leading axes beyond ``N`` are kept).
        y_true: target boxes :math:`B` with ``y_pred``'s shape.
        eps: :math:`\epsilon > 0` added to the union, to :math:`c^2` and to
            :math:`\alpha`'s denominator (torchvision's ``1e-7``).

    Returns:
        One loss per box, ``y_pred.shape[:-1]``.  Equals torchvision
        0.28.0's ``complete_box_iou_loss(y_pred, y_true, reduction=r)`` at
        its default ``eps=1e-7`` for boxes of positive height, each of its
        reductions (``"none"``, ``"mean"``, ``"sum"``: ours of the same
        name), boxes ``(N, 4)`` or ``(B, N, 4)``, float64 to rounding,
        gradients with respect to both box sets (tested against its code).
        At another ``eps`` no setting of this loss reproduces torchvision's:
        it passes ``eps`` only to alpha's denominator and keeps 1e-7 in the
        IoU and the DIoU penalty (tested; relative differences 1e-10 at
        ``eps=2**-23``, up to 0.2 at ``eps=0.5``).  torchvision's gradient is
        NaN for a zero-height box and its value NaN for a zero-size one; this
        one is finite (tested).

    References:
        Zheng et al., "Distance-IoU Loss: Faster and Better Learning for
        Bounding Box Regression", AAAI 2020.
    """
    g = _geometry(ops, y_pred, y_true, eps, "ciou")
    difference = _aspect_angle(ops, g["gw"], g["gh"]) - _aspect_angle(ops, g["w"], g["h"])
    v = (4.0 / math.pi**2) * difference * difference
    alpha = ops.stop_gradient(safe_divide(ops, v, 1.0 - g["iou"] + v + eps))
    return 1.0 - g["iou"] + _diou_penalty(ops, g, eps) + alpha * v


# --------------------------------------------------------------------------- samples


def _boxes(corner: np.ndarray, size: np.ndarray) -> np.ndarray:
    return np.concatenate([corner, corner + size], axis=-1)


def _box_samples(rng: np.random.Generator, params: dict, *, aspect_free: bool) -> list[Sample]:
    """Overlapping, nested, disjoint, touching, identical and zero-area boxes.

    ``aspect_free`` (CIoU): the trade-off alpha carries no gradient, so
    finite differences apply only where the aspect ratios agree (v = 0);
    samples with differing aspect ratios are marked not smooth.
    """
    n = 6
    target = _boxes(rng.uniform(0.0, 10.0, (n, 2)), rng.uniform(1.0, 5.0, (n, 2)))
    size = target[:, 2:] - target[:, :2]
    jitter = _boxes(target[:, :2] + rng.normal(0.0, 0.6, (n, 2)), size * rng.uniform(0.6, 1.5, (n, 2)))
    # same aspect ratio, shifted and scaled: v = 0
    similar = _boxes(target[:, :2] + rng.normal(0.0, 0.6, (n, 2)), size * rng.uniform(0.6, 1.5, (n, 1)))
    nested = _boxes(target[:, :2] + 0.2 * size, 0.5 * size)
    disjoint = _boxes(target[:, :2] + size + rng.uniform(0.5, 3.0, (n, 2)), size[::-1] * 0.8)
    # starts exactly at the target's right edge
    touching = np.stack([target[:, 2], target[:, 1], target[:, 2] + size[:, 0], target[:, 3]], axis=1)
    same_centre = _boxes(target[:, :2] - 0.25 * size, 1.5 * size)  # zero centre distance, same aspect
    degenerate = target.copy()
    degenerate[0::2, 2] = degenerate[0::2, 0]  # zero width
    degenerate[1::2, 3] = degenerate[1::2, 1]  # zero height
    point = np.tile(target[:, :2], (1, 2))  # zero-size boxes
    batched_target = _boxes(rng.uniform(0.0, 10.0, (2, 3, 2)), rng.uniform(1.0, 5.0, (2, 3, 2)))
    batched = batched_target + rng.normal(0.0, 0.5, (2, 3, 4))
    return [
        Sample("overlapping", jitter, dense=target, smooth=not aspect_free),
        Sample("same-aspect", similar, dense=target),
        Sample("nested", nested, dense=target),
        Sample("disjoint", disjoint, dense=target, smooth=not aspect_free),
        # an intersection side exactly 0: the mask's edge
        Sample("touching", touching, dense=target, smooth=False),
        Sample("same-centre", same_centre, dense=target),
        # identical boxes: every min/max ties
        Sample("perfect", target.copy(), dense=target, smooth=False),
        Sample("degenerate-pred", degenerate, dense=target, smooth=False),
        Sample("degenerate-both", point, dense=point.copy(), smooth=False),
        Sample("degenerate-target", target, dense=degenerate, smooth=False),
        Sample("batched", batched, dense=batched_target, smooth=not aspect_free),
        Sample(
            "sample-weight",
            similar[::-1].copy(),
            dense=target[::-1].copy(),
            sample_weight=rng.uniform(0.2, 2.0, (n,)),
        ),
    ]


# --------------------------------------------------------------------------- registration

_EPS = Param("eps", "float", 1e-7, "stabiliser of the ratios (torchvision's convention)", low=0.0, low_open=True)
_BOX_INPUTS = Inputs("elementwise", min_ndim=2, prediction="boxes (N, 4) as (x1, y1, x2, y2)")

for _formula, _aspect_free in [(giou, False), (diou, False), (ciou, True)]:
    register(
        LossSpec(
            name=_formula.__name__,
            formula=_formula,
            params=ParamSet((_EPS,)),
            inputs=_BOX_INPUTS,
            family="detection",
            presets={"default": {}, "float32_eps": {"eps": 2.0**-23}, "large_eps": {"eps": 0.5}},
            samples=lambda rng, params, aspect_free=_aspect_free: _box_samples(rng, params, aspect_free=aspect_free),
        )
    )
