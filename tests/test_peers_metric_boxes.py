"""Peer equivalences of the metric-learning and box losses, in values and gradients.

Every test checks one equivalence claimed in ``spec/losses/_metric.py`` or
``spec/losses/_boxes.py``: our torch module and our Keras loss against the
peer on seeded inputs, float64, over a grid of the peer's parameters.
Gradients are compared with respect to every input the peer differentiates
(not only ``y_pred``): the formulas are differentiable in all of them.

Tolerances:

* ``RTOL = 1e-12`` (``ATOL = 1e-13`` for entries near 0): the same float64
  arithmetic in another order; the worst measured relative difference is
  9e-14 (Circle's gradients, of size ~100 at gamma = 256).
* MONAI's ``BoxGIoULoss`` casts the boxes to float32 and computes there
  (``COMPUTE_DTYPE``): coordinates up to ~20 carry float32 rounding of 1e-6,
  and values and gradients follow it (measured: 9e-7 absolute, 3e-6
  relative on entries above 1e-2), hence ``rtol = 1e-5``, ``atol = 2e-6``.
* The torchvision box losses are torchvision 0.28.0's own code
  (``generalized_box_iou_loss``, ``distance_box_iou_loss``,
  ``complete_box_iou_loss``, loaded by ``peer_libraries.torchvision_losses``:
  the package does not import beside torch 2.13), in float64 at
  ``RTOL``/``ATOL``: every reduction it has, boxes ``(N, 4)`` and
  ``(B, N, 4)``, gradients with respect to both box sets.  Worst measured
  relative differences: values 2e-16, gradients 3e-15 (rounding of the same
  float64 formula).  Its CIoU uses ``eps`` only in alpha's denominator (its
  DIoU part always takes 1e-7), so CIoU is compared at the default eps; the
  difference at other eps, which no setting of ours reproduces, is a test of
  its own.
"""

from __future__ import annotations

import zlib
from functools import partial

# torch before tensorflow (see tests/conftest.py)
# isort: off
import numpy as np
import pytest
import torch

import losses_torch
import monai.losses
from peer_libraries import torchvision_losses

import keras
import tensorflow as tf

import losses_tf

import autodiff
from autodiff import tf_value_and_grad, torch_value_and_grad

# isort: on

RTOL = 1e-12
ATOL = 1e-13
MONAI_F32_RTOL = 1e-5
MONAI_F32_ATOL = 2e-6


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# Values and gradients at this module's tolerances; looser ones are passed explicitly.
assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


REDUCTIONS = ["mean", "sum", "none"]
KERAS_REDUCTION = {"mean": "sum_over_batch_size", "sum": "sum", "none": None}


# --------------------------------------------------------------------------- contrastive (no peer)


@pytest.mark.parametrize("margin", [1.0, 0.3, 2.5])
def test_contrastive_is_twice_hadsells_loss_with_flipped_labels(margin):
    """No installed library has it: the docstring's convention against the
    paper's formula, L = (1 - Y) D^2 / 2 + Y max(0, m - D)^2 / 2 with Y = 0
    for similar pairs."""
    rng = _rng("contrastive", margin)
    d = rng.uniform(0.0, 2.0 * margin, (12,))
    d[:2] = 0.0  # zero-distance pairs: similar costs 0, dissimilar m^2
    y = rng.integers(0, 2, 12).astype(np.float64)
    y[:2] = [1.0, 0.0]
    paper_y = 1.0 - y

    def paper(t: torch.Tensor) -> torch.Tensor:
        return (1 - torch.tensor(paper_y)) * t**2 / 2 + torch.tensor(paper_y) * torch.clamp_min(margin - t, 0) ** 2 / 2

    peer = torch_value_and_grad(lambda t: 2.0 * paper(t), d)
    ours = torch_value_and_grad(
        lambda t: losses_torch.ContrastiveLoss(margin=margin, reduction="none")(t, torch.tensor(y)), d
    )
    assert_same(ours, peer, what="torch")
    keras_loss = losses_tf.ContrastiveLoss(margin=margin, reduction=None, dtype="float64")
    assert_same(tf_value_and_grad(lambda t: keras_loss(tf.constant(y), t), d), peer, what="keras")


# --------------------------------------------------------------------------- torch TripletMarginLoss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("eps", [1e-6, 0.0, 0.05])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 1.5])
@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_triplet_margin_equals_torch(margin, p, eps, swap, reduction):
    rng = _rng("triplet", margin, p, eps, swap, reduction)
    anchor = rng.normal(size=(7, 5))
    positive = anchor + rng.normal(0.0, 0.6, (7, 5))
    negative = anchor + rng.normal(0.0, 0.8, (7, 5))
    negative[2] = positive[2] + rng.normal(0.0, 0.2, 5)  # the swap picks d(p, n) here
    if eps == 0.0:
        positive[0] = anchor[0]  # zero distance: torch's norm has gradient 0 there, so does ours
    arrays = (anchor, positive, negative)
    peer_loss = torch.nn.TripletMarginLoss(margin=margin, p=p, eps=eps, swap=swap, reduction=reduction)
    peer = torch_value_and_grad(peer_loss, *arrays)
    params = dict(margin=margin, p=p, eps=eps, swap=swap)
    ours = losses_torch.TripletMarginLoss(reduction=reduction, **params)
    assert_same(torch_value_and_grad(lambda a, b, c: ours(a, b, negative=c), *arrays), peer, what="torch")
    keras_loss = losses_tf.TripletMarginLoss(reduction=KERAS_REDUCTION[reduction], dtype="float64", **params)
    assert_same(tf_value_and_grad(lambda a, b, c: keras_loss(b, a, negative=c), *arrays), peer, what="keras")


# --------------------------------------------------------------------------- torch CosineEmbeddingLoss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5, 0.9])
def test_cosine_embedding_equals_torch(margin, reduction):
    rng = _rng("cosine", margin, reduction)
    x1 = rng.normal(size=(8, 5))
    x2 = rng.normal(size=(8, 5))
    x2[1] = -0.5 * x1[1]  # cosine -1
    x2[2] = x1[2]  # cosine 1, zero distance
    x1[3] = 0.0  # zero vector: cosine 0, finite gradient (eps = 1e-12 inside the root)
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0])
    peer_loss = torch.nn.CosineEmbeddingLoss(margin=margin, reduction=reduction)
    peer = torch_value_and_grad(lambda a, b: peer_loss(a, b, torch.tensor(y)), x1, x2)
    ours = losses_torch.CosineEmbeddingLoss(margin=margin, reduction=reduction)
    assert_same(torch_value_and_grad(lambda a, b: ours(a, torch.tensor(y), x2=b), x1, x2), peer, what="torch")
    keras_loss = losses_tf.CosineEmbeddingLoss(margin=margin, reduction=KERAS_REDUCTION[reduction], dtype="float64")
    assert_same(tf_value_and_grad(lambda a, b: keras_loss(tf.constant(y), a, x2=b), x1, x2), peer, what="keras")


def test_cosine_embedding_ignores_labels_other_than_plus_minus_one_like_torch():
    rng = _rng("cosine-labels")
    x1, x2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    y = np.array([1.0, 0.0, -1.0, 0.5, -0.25])
    peer = torch.nn.CosineEmbeddingLoss(reduction="none")(torch.tensor(x1), torch.tensor(x2), torch.tensor(y))
    ours = losses_torch.CosineEmbeddingLoss(reduction="none")(torch.tensor(x1), torch.tensor(y), x2=torch.tensor(x2))
    np.testing.assert_allclose(ours.numpy(), peer.numpy(), rtol=RTOL, atol=ATOL)
    assert (ours.numpy()[[1, 3, 4]] == 0.0).all()


def test_cosine_embedding_takes_one_label_per_pair():
    loss = losses_torch.CosineEmbeddingLoss()
    with pytest.raises(ValueError, match=r"cosine_embedding: y_true must hold one target per sample, shape \(4,\)"):
        loss(torch.zeros(4, 3), torch.ones(4, 3), x2=torch.ones(4, 3))
    # Keras' (N, 1) label column is accepted
    value = losses_tf.CosineEmbeddingLoss(dtype="float64")(np.ones((4, 1)), np.ones((4, 3)), x2=np.ones((4, 3)))
    assert abs(float(value)) < 1e-12


# --------------------------------------------------------------------------- torch MarginRankingLoss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(9,), (4, 3)])
@pytest.mark.parametrize("margin", [0.0, 0.5, -0.2])
def test_margin_ranking_equals_torch(margin, shape, reduction):
    rng = _rng("ranking", margin, shape, reduction)
    x1, x2 = rng.normal(size=shape), rng.normal(size=shape)
    y = rng.choice([-1.0, 1.0], shape)
    x1.flat[0] = x2.flat[0]  # tied scores: at margin 0 the hinge's kink, gradient 1 as torch's clamp_min
    peer_loss = torch.nn.MarginRankingLoss(margin=margin, reduction=reduction)
    peer = torch_value_and_grad(lambda a, b: peer_loss(a, b, torch.tensor(y)), x1, x2)
    ours = losses_torch.MarginRankingLoss(margin=margin, reduction=reduction)
    assert_same(torch_value_and_grad(lambda a, b: ours(a, torch.tensor(y), x2=b), x1, x2), peer, what="torch")
    keras_loss = losses_tf.MarginRankingLoss(margin=margin, reduction=KERAS_REDUCTION[reduction], dtype="float64")
    assert_same(tf_value_and_grad(lambda a, b: keras_loss(tf.constant(y), a, x2=b), x1, x2), peer, what="keras")


# --------------------------------------------------------------------------- keras.losses.Circle

CIRCLE_LABELS = {
    "balanced": np.array([0, 1, 2, 0, 1, 2, 0, 1]),
    # anchors 6 and 7 have no positive (with remove_diagonal): weight 0 in both
    "singletons": np.array([0, 1, 2, 0, 1, 2, 5, 7]),
}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("labels", sorted(CIRCLE_LABELS))
@pytest.mark.parametrize("remove_diagonal", [True, False])
@pytest.mark.parametrize(("gamma", "margin"), [(80.0, 0.4), (256.0, 0.25), (32.0, 0.1), (10.0, -0.1)])
def test_circle_equals_keras(gamma, margin, remove_diagonal, labels, reduction, weighted):
    rng = _rng("circle", gamma, margin, remove_diagonal, labels, reduction, weighted)
    y = CIRCLE_LABELS[labels]
    x = _unit(rng.normal(size=(8, 4)))
    sample_weight = rng.uniform(0.2, 2.0, 8) if weighted else None
    params = dict(gamma=gamma, margin=margin, remove_diagonal=remove_diagonal)
    peer_loss = keras.losses.Circle(reduction=KERAS_REDUCTION[reduction], dtype="float64", **params)
    keras_loss = losses_tf.CircleLoss(reduction=KERAS_REDUCTION[reduction], dtype="float64", **params)
    peer = tf_value_and_grad(lambda t: peer_loss(y, t, sample_weight=sample_weight), x)
    assert_same(tf_value_and_grad(lambda t: keras_loss(y, t, sample_weight=sample_weight), x), peer, what="keras")
    ours = losses_torch.CircleLoss(reduction=reduction, **params)
    weight = None if sample_weight is None else torch.tensor(sample_weight)
    assert_same(torch_value_and_grad(lambda t: ours(t, torch.tensor(y), sample_weight=weight), x), peer, what="torch")


# --------------------------------------------------------------------------- MONAI ContrastiveLoss (NT-Xent)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3), (1, 3), (8, 16)])
@pytest.mark.parametrize("temperature", [0.5, 0.1, 1.0, 0.05])
def test_nt_xent_equals_monai_contrastive(temperature, shape):
    rng = _rng("nt_xent", temperature, shape)
    a = rng.normal(size=shape)
    b = a + rng.normal(0.0, 0.7, shape)
    if shape[0] > 2:
        b[1] = a[1]  # identical views of one sample
    peer = torch_value_and_grad(monai.losses.ContrastiveLoss(temperature=temperature), a, b)
    alone = shape[0] == 1  # one pair, nothing to tell it from: loss 0, gradient 0 in both
    # MONAI keeps the temperature in a float32 tensor: 0.1 acts as float32(0.1)
    temperature = float(np.float32(temperature))
    ours = losses_torch.NtXentLoss(temperature=temperature)
    assert_same(torch_value_and_grad(ours, a, b), peer, what="torch", constant=alone)
    keras_loss = losses_tf.NtXentLoss(temperature=temperature, dtype="float64")
    assert_same(tf_value_and_grad(lambda u, v: keras_loss(v, u), a, b), peer, what="keras", constant=alone)


# --------------------------------------------------------------------------- MONAI BarlowTwinsLoss


@pytest.mark.parametrize("shape", [(6, 4), (3, 5), (16, 8)])
@pytest.mark.parametrize("lambd", [5e-3, 0.1, 0.0, 1.0])
def test_barlow_twins_equals_monai(lambd, shape):
    rng = _rng("barlow", lambd, shape)
    a = rng.normal(size=shape)
    b = a + rng.normal(0.0, 0.5, shape)
    peer = torch_value_and_grad(monai.losses.BarlowTwinsLoss(lambd=lambd), a, b)
    lambd = float(np.float32(lambd))  # MONAI keeps lambd in a float32 tensor
    ours = losses_torch.BarlowTwinsLoss(lambd=lambd)
    assert_same(torch_value_and_grad(ours, a, b), peer, what="torch")
    keras_loss = losses_tf.BarlowTwinsLoss(lambd=lambd, dtype="float64")
    assert_same(tf_value_and_grad(lambda u, v: keras_loss(v, u), a, b), peer, what="keras")


def test_barlow_twins_needs_two_samples_and_refuses_sample_weights():
    with pytest.raises(ValueError, match=r"barlow_twins: needs a batch of at least 2 samples"):
        losses_torch.BarlowTwinsLoss()(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"sample_weight cannot be used with a loss that returns one value"):
        losses_torch.BarlowTwinsLoss()(torch.randn(4, 3), torch.randn(4, 3), sample_weight=torch.ones(4))


# --------------------------------------------------------------------------- boxes: torchvision 0.28.0


def _torchvision() -> dict:
    tv = torchvision_losses()
    return {
        "giou": tv.generalized_box_iou_loss,
        "diou": tv.distance_box_iou_loss,
        "ciou": tv.complete_box_iou_loss,
    }


CLASSES = {"giou": "GiouLoss", "diou": "DiouLoss", "ciou": "CiouLoss"}


def _box_pairs(rng: np.random.Generator, *, zero_width: bool) -> tuple[np.ndarray, np.ndarray]:
    """Valid boxes: overlapping, nested, disjoint, touching, identical, same
    centre, mixed aspect; optionally zero-width ones (positive height)."""
    n = 10
    corner, size = rng.uniform(0.0, 10.0, (n, 2)), rng.uniform(1.0, 5.0, (n, 2))
    target = np.concatenate([corner, corner + size], axis=1)
    pred_corner = corner + rng.normal(0.0, 0.8, (n, 2))
    pred = np.concatenate([pred_corner, pred_corner + size * rng.uniform(0.5, 1.6, (n, 2))], axis=1)
    pred[1] = [*(corner[1] + 0.2 * size[1]), *(corner[1] + 0.6 * size[1])]  # nested
    pred[2] = [*(corner[2] + size[2] + 1.0), *(corner[2] + 2 * size[2] + 1.0)]  # disjoint
    pred[3] = [target[3, 2], target[3, 1], target[3, 2] + 2.0, target[3, 3]]  # touching the right edge
    pred[4] = target[4]  # identical: every min/max ties
    pred[5] = [*(corner[5] - 0.5 * size[5]), *(corner[5] + 1.5 * size[5])]  # same centre
    if zero_width:
        pred[6, 2] = pred[6, 0]
        target[7, 2] = target[7, 0]
    return pred, target


# torchvision's default eps, float32's epsilon (MONAI's) and a large one; CIoU only at the default, see below
BOX_EPS = [1e-7, 2.0**-23, 0.5]
BOX_CASES = [(name, eps) for name in ("giou", "diou") for eps in BOX_EPS] + [("ciou", 1e-7)]
# one box per row, or boxes with a leading batch axis (torchvision unbinds the last axis either way)
BOX_LAYOUTS = {"flat": (10, 4), "batched": (2, 5, 4)}


@pytest.mark.parametrize("layout", sorted(BOX_LAYOUTS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "eps"), BOX_CASES)
def test_box_losses_equal_torchvision(name, eps, reduction, layout):
    """torchvision's own ``generalized/distance/complete_box_iou_loss(boxes1=pred, boxes2=target,
    reduction, eps)``; gradients with respect to both box sets."""
    rng = _rng("boxes", name, eps, reduction)
    pred, target = (a.reshape(BOX_LAYOUTS[layout]) for a in _box_pairs(rng, zero_width=True))
    peer_fn = _torchvision()[name]
    peer = torch_value_and_grad(lambda p, t: peer_fn(p, t, reduction=reduction, eps=eps), pred, target)
    ours = getattr(losses_torch, CLASSES[name])(eps=eps, reduction=reduction)
    assert_same(torch_value_and_grad(ours, pred, target), peer, what="torch")
    keras_loss = getattr(losses_tf, CLASSES[name])(eps=eps, reduction=KERAS_REDUCTION[reduction], dtype="float64")
    assert_same(tf_value_and_grad(lambda p, t: keras_loss(t, p), pred, target), peer, what="keras")


@pytest.mark.parametrize("eps", [2.0**-23, 0.5])
def test_torchvision_ciou_keeps_eps_1e7_in_its_diou_part(eps):
    """``complete_box_iou_loss`` calls ``_diou_iou_loss(boxes1, boxes2)`` without its ``eps``:
    the IoU and the DIoU penalty always use 1e-7, only alpha's denominator uses ``eps``.  Ours
    uses ``eps`` in all three, so away from eps = 1e-7 no setting of ours reproduces it.

    Same-aspect boxes (v = 0, the alpha term vanishes) show where ``eps`` goes: torchvision at
    ``eps`` is ours at 1e-7, not ours at ``eps``.  Boxes of differing aspect need 1e-7 in the
    IoU and ``eps`` in alpha, and differ from ours at either.
    """
    rng = _rng("ciou-eps", eps)
    corner, size = rng.uniform(0.0, 10.0, (8, 2)), rng.uniform(1.0, 5.0, (8, 2))
    target = np.concatenate([corner, corner + size], axis=1)
    corner = corner + rng.normal(0.0, 0.6, (8, 2))
    same_aspect = np.concatenate([corner, corner + size * rng.uniform(0.6, 1.5, (8, 1))], axis=1)
    other_aspect = np.concatenate([corner, corner + size * rng.uniform(0.6, 1.5, (8, 2))], axis=1)
    peer_fn = _torchvision()["ciou"]

    def peer(pred):
        return torch_value_and_grad(lambda p, t: peer_fn(p, t, eps=eps), pred, target)

    def ours(pred, e):
        return torch_value_and_grad(losses_torch.CiouLoss(eps=e, reduction="none"), pred, target)

    assert_same(ours(same_aspect, 1e-7), peer(same_aspect), what="v = 0, ours at 1e-7")
    keras_loss = losses_tf.CiouLoss(eps=1e-7, reduction=None, dtype="float64")
    keras = tf_value_and_grad(lambda p, t: keras_loss(t, p), same_aspect, target)
    assert_same(keras, peer(same_aspect), what="v = 0, keras at 1e-7")

    def relative(a, b):
        return float(np.max(np.abs(a[0] - b[0]) / np.abs(b[0])))

    # beyond this module's tolerance by a margin; measured (max relative value difference): v = 0, ours at eps:
    # 1e-8 (eps = 2**-23), 0.06 (0.5); v > 0, ours at eps: 3e-9, 0.22; ours at 1e-7: 1.1e-10, 2.6e-3
    assert relative(ours(same_aspect, eps), peer(same_aspect)) > 10 * RTOL
    for e in (eps, 1e-7):
        assert relative(ours(other_aspect, e), peer(other_aspect)) > 10 * RTOL, e


def test_ciou_is_finite_where_torchvision_divides_by_a_zero_height():
    """A zero-height box: torchvision's atan(w / 0) has a NaN gradient (a zero-size
    box a NaN value); ours takes the limit from h > 0 and stays finite."""
    pred = np.array([[1.0, 2.0, 4.0, 2.0], [1.0, 1.0, 1.0, 1.0]])  # zero height; a point
    target = np.array([[0.0, 0.0, 3.0, 3.0], [0.5, 0.5, 2.0, 3.0]])
    peer_value, peer_grads = torch_value_and_grad(_torchvision()["ciou"], pred, target)
    assert np.isnan(peer_value[1]) and np.isnan(peer_grads[0][0]).all()
    value, grads = torch_value_and_grad(losses_torch.CiouLoss(reduction="none"), pred, target)
    assert np.isfinite(value).all() and all(np.isfinite(g).all() for g in grads)
    np.testing.assert_allclose(value[0], peer_value[0], rtol=RTOL)  # the value agrees where defined
    # and so does the gradient with respect to the target, whose height is positive
    np.testing.assert_allclose(grads[1][0], peer_grads[1][0], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("seed", range(4))
def test_giou_equals_monai_box_giou(seed, reduction):
    """MONAI computes in float32 (see the module docstring) with float32's
    epsilon in both denominators: ``eps=2**-23``."""
    rng = _rng("monai-giou", seed, reduction)
    pred, target = _box_pairs(rng, zero_width=False)
    pred[3] = target[3] + [0.5, 0.5, 0.1, 0.2]  # no exactly touching edges: MONAI's clamp differs on the edge
    peer = torch_value_and_grad(monai.losses.giou_loss.BoxGIoULoss(reduction=reduction), pred, target)
    ours = losses_torch.GiouLoss(eps=2.0**-23, reduction=reduction)
    assert_same(torch_value_and_grad(ours, pred, target), peer, rtol=MONAI_F32_RTOL, atol=MONAI_F32_ATOL, what="torch")
    keras_loss = losses_tf.GiouLoss(eps=2.0**-23, reduction=KERAS_REDUCTION[reduction], dtype="float64")
    assert_same(
        tf_value_and_grad(lambda p, t: keras_loss(t, p), pred, target),
        peer,
        rtol=MONAI_F32_RTOL,
        atol=MONAI_F32_ATOL,
        what="keras",
    )


def test_giou_touching_boxes_follow_torchvision_not_monai():
    """Boxes sharing an edge: same value, but MONAI's clamp(min=0) passes the
    intersection's gradient at width 0, torchvision's strict mask does not."""
    target, pred = np.array([[0.0, 0.0, 2.0, 3.0]]), np.array([[2.0, 1.0, 4.0, 3.0]])
    monai_value, monai_grads = torch_value_and_grad(monai.losses.giou_loss.BoxGIoULoss(), pred, target)
    ours = torch_value_and_grad(losses_torch.GiouLoss(eps=2.0**-23), pred, target)
    giou = _torchvision()["giou"]
    torchvision = torch_value_and_grad(lambda p, t: giou(p, t, reduction="mean", eps=2.0**-23), pred, target)
    assert_same(ours, torchvision, what="torchvision")
    np.testing.assert_allclose(ours[0], monai_value, rtol=MONAI_F32_RTOL)
    assert abs(monai_grads[0][0, 0] - 0.2) < 1e-6 and abs(ours[1][0][0, 0] - 1.0 / 6.0) < 1e-6


@pytest.mark.parametrize("name", ["giou", "diou", "ciou"])
def test_boxes_need_four_coordinates(name):
    with pytest.raises(ValueError, match=rf"{name}: boxes must have 4 coordinates"):
        getattr(losses_torch, CLASSES[name])()(torch.zeros(3, 5), torch.zeros(3, 5))
