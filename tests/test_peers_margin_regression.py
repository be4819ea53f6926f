"""Peer equivalences of ``spec/losses/_margin.py`` and ``spec/losses/_robust_regression.py``.

Every test proves one claim of a docstring's ``Returns:`` section against the peer
itself (torch.nn / torch.nn.functional 2.13, Keras 3.15.1 on TensorFlow, kornia
0.9.0), on seeded random inputs over a grid of parameters: the value *and* the
gradient with respect to the prediction must agree, for our torch module and
for our Keras loss.  Everything runs in float64.

Tolerances: relative 1e-12, absolute 1e-14, on values and gradients alike, with
no exception (the peers do the same arithmetic in another order, which costs a
few ulp; the one systematic deviation, Keras' LogCosh, is corrected explicitly).
Inputs are drawn away from the kinks of ``max(0, .)``, ``|.|`` and the
Smooth-L1 switch, where sub-gradients are conventions, not arithmetic;
the kink conventions are pinned by dedicated tests instead.

Peer behaviours that no parameter setting reproduces (each one measured here):

* Keras' elementwise losses (``Hinge``, ``SquaredHinge``, ``Poisson``, ``MAPE``,
  ``MSLE``, ``LogCosh``) average the last axis *before* sample weighting and
  reduction.  ``"mean"`` is the same number; Keras' ``reduction=None`` is our
  ``"none"`` averaged over the last axis and Keras' ``"sum"`` is our ``"sum"``
  divided by the last axis' size (``test_keras_elementwise_reductions``).
  Keras also refuses ``(N,)`` sample weights for N-D losses; ``(N, 1, 1)``
  there equals our ``(N,)``.
* At the hinge kink ``1 - s * y_pred == 0`` Keras' gradient is ``-s``
  (TensorFlow's ``maximum`` sends a tie to its first argument); ours is 0,
  like torch's ``MultiMarginLoss`` at its own kink (``test_hinge_kink_gradient``).
* Keras' ``LogCosh`` subtracts ``ops.log(2.0)``, which TensorFlow evaluates
  in float32 whatever ``floatx()`` is (the Python float becomes a float32
  tensor before the cast): its float64 values are ``float32(log 2) - log 2 =
  1.9e-9`` per element below the exact ones; gradients are unaffected.  The
  comparisons add that constant back through Keras' own reduction
  (``keras_log_cosh_exact_log2``); ``test_keras_log_cosh_float32_log2`` pins it.
* torch's ``F.cosine_similarity`` clamps the norms at ``eps`` in place under
  ``no_grad``: below ``eps`` its value is ours, its gradient is that of the
  unclamped norm, which is not the derivative of its own value
  (``test_torch_cosine_similarity_norm_below_epsilon``).  Ours and Keras'
  differentiate the clamped value.
* torch's ``MultiMarginLoss`` and ``MultiLabelMarginLoss`` accept only
  ``(N, C)``/``(C,)`` scores and ``MultiLabelSoftMarginLoss`` always averages
  the *last* axis; ours take any class axis (compared at the axis torch uses).
* torch's ``HingeEmbeddingLoss`` passes the gradient through its kink
  ``y_pred == margin`` (``clamp_min``), ours gives 0 there
  (``test_hinge_embedding_kink_gradient``).
* torch's ``MultiLabelMarginLoss`` takes class indices padded with -1 and
  counts a repeated index twice; ours takes multi-hot rows
  (``test_torch_multilabel_margin_counts_a_repeated_class_twice``).
* Keras' ``CategoricalHinge`` takes the maximum over all classes with the true
  class' score zeroed, not over the wrong classes (kept as Keras defines it:
  there is no Crammer-Singer setting).
* kornia's ``charbonnier_loss`` has no scale: it is ours with
  ``epsilon=c, subtract_epsilon=True`` divided by ``c`` on inputs divided by ``c``.
* The pinball (``quantile``) loss has no torch.nn or keras.losses peer; only
  its ``quantile=0.5`` case (half the L1 loss) is a peer equivalence, and the
  general case is checked against the definition.
"""

from __future__ import annotations

import math
import os
import warnings
import zlib
from functools import partial

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# torch must be imported before tensorflow: keep this order.
# isort: off
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import kornia.losses
import losses_torch

import keras
import tensorflow as tf

import losses_tf

import autodiff
from autodiff import tf_value_and_grad, torch_value_and_grad

# isort: on

RTOL = 1e-12
ATOL = 1e-14
REDUCTIONS = ["mean", "sum", "none"]


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by the test case (stable across runs, unlike ``hash``)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _away_from_zero(rng: np.random.Generator, make, distance) -> np.ndarray:
    """``make()`` redrawn (whole) until ``distance(x)`` is at least 1e-3 everywhere."""
    for _ in range(100):
        x = make()
        if np.all(distance(x) >= 1e-3):
            return x
    raise AssertionError("no draw away from the kinks")


# Values and gradients at this module's tolerances; looser ones are passed explicitly.
assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


def _tensor(a) -> torch.Tensor:
    a = np.asarray(a)
    return torch.tensor(a) if np.issubdtype(a.dtype, np.integer) else torch.tensor(a, dtype=torch.float64)


def ours_torch(name: str, x: np.ndarray, y, *, reduction="mean", sample_weight=None, **params):
    loss = getattr(losses_torch, name)(reduction=reduction, **params)
    y_t = _tensor(y)
    sw = None if sample_weight is None else _tensor(sample_weight)
    return torch_value_and_grad(lambda t: loss(t, y_t, sample_weight=sw), x)


def ours_keras(name: str, x: np.ndarray, y, *, reduction="mean", sample_weight=None, **params):
    loss = getattr(losses_tf, name)(reduction=reduction, dtype="float64", **params)
    y_t = tf.constant(y)
    sw = None if sample_weight is None else tf.constant(sample_weight, dtype=tf.float64)
    return tf_value_and_grad(lambda t: loss(y_t, t, sample_weight=sw), x)


def ours_keras_channels_first(name: str, x_first: np.ndarray, y_first, *, reduction="mean", **params):
    """Our Keras loss in its own layout (class axis last) on a channels-first problem;
    per-position values and the gradient are moved back to channels-first."""
    value, grad = ours_keras(
        name, np.moveaxis(x_first, 1, -1), np.moveaxis(y_first, 1, -1), reduction=reduction, **params
    )
    return value, np.moveaxis(grad, -1, 1)


def keras_peer(loss, x: np.ndarray, y, sample_weight=None):
    y_t = tf.constant(y)
    if sample_weight is None:
        return tf_value_and_grad(lambda t: loss(y_t, t), x)
    sw = tf.constant(sample_weight, dtype=tf.float64)
    return tf_value_and_grad(lambda t: loss(y_t, t, sample_weight=sw), x)


def torch_peer(loss, x: np.ndarray, y):
    y_t = _tensor(y)
    return torch_value_and_grad(lambda t: loss(t, y_t), x)


def _keras_sample_weight(weights: np.ndarray, loss_rank: int) -> np.ndarray:
    """Per-sample weights shaped as Keras needs them for a loss of ``loss_rank`` (it does not
    broadcast ``(N,)`` against ``(N, H, W)``)."""
    return weights.reshape((-1,) + (1,) * (loss_rank - 1))


def _compare_with_keras(name: str, peer_loss, x, y, *, weighted: bool, rng, keras_rank: int, **params) -> None:
    """Our losses (default reduction) against a Keras peer, with and without per-sample weights."""
    weights = rng.uniform(0.2, 2.0, x.shape[0]) if weighted else None
    peer_weights = None if weights is None else _keras_sample_weight(weights, keras_rank)
    peer = keras_peer(peer_loss, x, y, peer_weights)
    assert_same(ours_keras(name, x, y, sample_weight=weights, **params), peer, what="keras")
    torch_params = dict(params)
    if "class_axis" in getattr(losses_torch, name).spec.params.names():
        torch_params.setdefault("class_axis", -1)  # the Keras layout
    assert_same(ours_torch(name, x, y, sample_weight=weights, **torch_params), peer, what="torch")


SHAPES = {"vector": (6, 5), "map2d": (2, 3, 4, 5)}


# --------------------------------------------------------------------------- 1. Keras Hinge / SquaredHinge


def _hinge_targets(rng: np.random.Generator, shape, kind: str) -> np.ndarray:
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(np.float64)
    if kind == "signed":
        return 2.0 * rng.integers(0, 2, shape) - 1.0
    if kind == "soft":
        return rng.uniform(-1.0, 1.0, shape)
    return rng.uniform(0.0, 1.0, shape)  # "soft01": in [0, 1] but not binary, so Keras keeps it


def _keras_signs(y: np.ndarray) -> np.ndarray:
    return 2.0 * y - 1.0 if np.all((y == 0.0) | (y == 1.0)) else y


# (targets, target_encoding) pairs on which the encoding agrees with Keras' rule
HINGE_CASES = [
    ("binary", "auto"),
    ("binary", "binary"),
    ("signed", "auto"),
    ("signed", "signed"),
    ("soft", "auto"),
    ("soft", "signed"),
    ("soft01", "auto"),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("targets", "encoding"), HINGE_CASES, ids=[f"{t}-{e}" for t, e in HINGE_CASES])
@pytest.mark.parametrize("layout", sorted(SHAPES))
@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_keras_hinge(loss, layout, targets, encoding, weighted):
    shape = SHAPES[layout]
    rng = _rng("hinge", loss, layout, targets, encoding, weighted)
    y = _hinge_targets(rng, shape, targets)
    signs = _keras_signs(y)
    x = _away_from_zero(rng, lambda: rng.normal(0.0, 1.5, shape), lambda x: np.abs(1.0 - signs * x))
    peer_class = keras.losses.Hinge if loss == "hinge" else keras.losses.SquaredHinge
    name = "HingeLoss" if loss == "hinge" else "SquaredHingeLoss"
    _compare_with_keras(
        name,
        peer_class(dtype="float64"),
        x,
        y,
        weighted=weighted,
        rng=rng,
        keras_rank=len(shape) - 1,
        target_encoding=encoding,
    )


def test_hinge_kink_gradient():
    """At 1 - s * y_pred == 0 Keras' gradient is -s (TF maximum on a tie), ours 0; elsewhere equal."""
    y = np.array([[1.0, -1.0, 1.0, -1.0]])
    x = np.array([[1.0, -1.0, 0.5, 2.0]])  # the first two sit on the kink
    peer = keras_peer(keras.losses.Hinge(dtype="float64"), x, y)
    ours = ours_keras("HingeLoss", x, y)
    np.testing.assert_allclose(ours[0], peer[0], rtol=RTOL)
    np.testing.assert_array_equal(peer[1], [[-0.25, 0.25, -0.25, 0.25]])
    np.testing.assert_array_equal(ours[1], [[0.0, 0.0, -0.25, 0.25]])
    np.testing.assert_array_equal(ours_torch("HingeLoss", x, y)[1], ours[1])


# --------------------------------------------------------------------------- 2. Keras CategoricalHinge


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("target", ["one_hot", "labels", "soft"])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_keras_categorical_hinge(layout, target, weighted):
    shape = SHAPES[layout]
    num_classes = shape[-1]
    rng = _rng("categorical-hinge", layout, target, weighted)
    labels = rng.integers(0, num_classes, shape[:-1])
    one_hot = np.eye(num_classes)[labels]
    dense = rng.dirichlet(np.ones(num_classes), shape[:-1]) if target == "soft" else one_hot

    def margin(x):
        return np.abs(((1.0 - dense) * x).max(-1) - (dense * x).sum(-1) + 1.0)

    x = _away_from_zero(rng, lambda: rng.normal(0.0, 2.0, shape), margin)
    weights = rng.uniform(0.2, 2.0, shape[0]) if weighted else None
    peer = keras_peer(
        keras.losses.CategoricalHinge(dtype="float64"),
        x,
        dense,
        None if weights is None else _keras_sample_weight(weights, len(shape) - 1),
    )
    y_ours = labels if target == "labels" else dense
    assert_same(ours_keras("CategoricalHingeLoss", x, y_ours, sample_weight=weights), peer, what="keras")
    assert_same(ours_torch("CategoricalHingeLoss", x, y_ours, sample_weight=weights, class_axis=-1), peer, what="torch")


def test_keras_categorical_hinge_per_position():
    """reduction='none' is the same per-position vector (no averaging of a last axis here)."""
    rng = _rng("categorical-hinge-none")
    x = rng.normal(0.0, 2.0, (2, 3, 4, 5))
    y = np.eye(5)[rng.integers(0, 5, (2, 3, 4))]
    peer = keras_peer(keras.losses.CategoricalHinge(reduction=None, dtype="float64"), x, y)
    assert_same(ours_keras("CategoricalHingeLoss", x, y, reduction="none"), peer)


# --------------------------------------------------------------------------- 3. torch MultiMarginLoss

MM_WEIGHTS = [0.2, 1.0, 3.0, 0.7]


@pytest.mark.parametrize("target", ["labels", "one_hot"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", [None, MM_WEIGHTS], ids=["unweighted", "class_weights"])
@pytest.mark.parametrize("margin", [1.0, 0.3, 2.5])
@pytest.mark.parametrize("p", [1, 2])
def test_torch_multi_margin(p, margin, weights, reduction, target):
    rng = _rng("multi-margin", p, margin, weights, reduction, target)
    shape = (9, 4)
    labels = rng.integers(0, 4, shape[0])
    one_hot = np.eye(4)[labels]

    def distance(x):  # every violation margin - x_y + x_c (c != y) away from its kink
        violation = margin - (one_hot * x).sum(1, keepdims=True) + x
        return np.where(one_hot == 1.0, 1.0, np.abs(violation))

    x = _away_from_zero(rng, lambda: rng.normal(0.0, 1.5, shape), distance)
    peer_loss = torch.nn.MultiMarginLoss(
        p=p, margin=margin, weight=None if weights is None else _tensor(weights), reduction=reduction
    )
    peer = torch_peer(peer_loss, x, labels)
    y = labels if target == "labels" else one_hot
    params = dict(p=p, margin=margin, class_weights=weights, reduction=reduction)
    assert_same(ours_torch("MultiMarginLoss", x, y, **params), peer, what="torch")
    assert_same(ours_keras("MultiMarginLoss", x, y, **params), peer, what="keras")


def test_torch_multi_margin_kink_gradient():
    """On the kink m - x_y + x_c == 0 torch's gradient is 0, as ours."""
    x = np.array([[0.5, 1.5, -1.0], [2.0, 1.0, 0.25]])
    labels = np.array([1, 0])  # 1 - 1.5 + 0.5 == 0 and 1 - 2 + 1 == 0
    peer = torch_peer(torch.nn.MultiMarginLoss(), x, labels)
    ours = ours_torch("MultiMarginLoss", x, labels)
    np.testing.assert_allclose(ours[0], peer[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(ours[1], peer[1])


# --------------------------------------------------------------------------- 4. torch SoftMarginLoss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets", ["signed", "soft"])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_torch_soft_margin(layout, targets, reduction):
    shape = SHAPES[layout]
    rng = _rng("soft-margin", layout, targets, reduction)
    x = rng.normal(0.0, 3.0, shape)
    y = _hinge_targets(rng, shape, targets)
    peer = torch_peer(torch.nn.SoftMarginLoss(reduction=reduction), x, y)
    assert_same(ours_torch("SoftMarginLoss", x, y, reduction=reduction), peer, what="torch")
    assert_same(ours_keras("SoftMarginLoss", x, y, reduction=reduction), peer, what="keras")


# --------------------------------------------------------------------------- 5. torch MultiLabelSoftMarginLoss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("weights", [None, [0.5, 1.0, 3.0, 0.2]], ids=["unweighted", "class_weights"])
@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 4)], ids=["vector", "sequence"])
def test_torch_multilabel_soft_margin(shape, weights, targets, reduction):
    """torch averages the last axis: class_axis=-1 (its default layout for (N, C))."""
    rng = _rng("multilabel-soft-margin", shape, weights, targets, reduction)
    x = rng.normal(0.0, 3.0, shape)
    y = rng.integers(0, 2, shape).astype(np.float64) if targets == "hard" else rng.random(shape)
    peer_loss = torch.nn.MultiLabelSoftMarginLoss(
        weight=None if weights is None else _tensor(weights), reduction=reduction
    )
    peer = torch_peer(peer_loss, x, y)
    params = dict(class_weights=weights, reduction=reduction)
    assert_same(ours_torch("MultilabelSoftMarginLoss", x, y, class_axis=-1, **params), peer, what="torch")
    assert_same(ours_keras("MultilabelSoftMarginLoss", x, y, **params), peer, what="keras")


def test_torch_multilabel_soft_margin_channels_first():
    """(N, C) scores: torch's class axis is 1, our torch default."""
    rng = _rng("multilabel-soft-margin-first")
    x = rng.normal(0.0, 3.0, (8, 5))
    y = rng.integers(0, 2, (8, 5)).astype(np.float64)
    peer = torch_peer(torch.nn.MultiLabelSoftMarginLoss(), x, y)
    assert_same(ours_torch("MultilabelSoftMarginLoss", x, y), peer)


# --------------------------------------------------------------------------- 5b. torch HingeEmbeddingLoss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets", ["signed", "mixed"])
@pytest.mark.parametrize("margin", [1.0, 0.3, 2.5])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_torch_hinge_embedding(layout, margin, targets, reduction):
    """"mixed" targets also hold 0 and 0.5, which torch (and ours) give both terms."""
    shape = SHAPES[layout]
    rng = _rng("hinge-embedding", layout, margin, targets, reduction)
    values = [-1.0, 1.0] if targets == "signed" else [-1.0, 0.0, 0.5, 1.0]
    y = rng.choice(values, shape)
    x = _away_from_zero(rng, lambda: rng.normal(0.5, 2.0, shape), lambda x: np.abs(margin - x))
    peer = torch_peer(torch.nn.HingeEmbeddingLoss(margin=margin, reduction=reduction), x, y)
    params = dict(margin=margin, reduction=reduction)
    assert_same(ours_torch("HingeEmbeddingLoss", x, y, **params), peer, what="torch")
    assert_same(ours_keras("HingeEmbeddingLoss", x, y, **params), peer, what="keras")


def test_hinge_embedding_kink_gradient():
    """At y_pred == margin with y = -1 torch's clamp_min passes the tie (gradient -1); ours gives 0."""
    x = np.array([1.0, 0.25, 2.0])
    y = np.array([-1.0, -1.0, 1.0])
    peer = torch_peer(torch.nn.HingeEmbeddingLoss(reduction="sum"), x, y)
    ours = ours_torch("HingeEmbeddingLoss", x, y, reduction="sum")
    np.testing.assert_allclose(ours[0], peer[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(peer[1], [-1.0, -1.0, 1.0])
    np.testing.assert_array_equal(ours[1], [0.0, -1.0, 1.0])


# --------------------------------------------------------------------------- 5c. torch MultiLabelMarginLoss


def _torch_multilabel_indices(multi_hot: np.ndarray) -> np.ndarray:
    """torch's target form: each row's target classes, in a shuffled order, then -1 padding."""
    rng = np.random.default_rng(0)
    indices = np.full(multi_hot.shape, -1, dtype=np.int64)
    for row, hot in enumerate(multi_hot):
        classes = rng.permutation(np.flatnonzero(hot))
        indices[row, : len(classes)] = classes
    return indices


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("density", [0.2, 0.5, 0.8])
def test_torch_multilabel_margin(density, reduction):
    """Rows 0 and 1 have no target class and every class a target: loss 0, as in torch."""
    rng = _rng("multilabel-margin", density, reduction)
    shape = (9, 5)
    multi_hot = (rng.random(shape) < density).astype(np.float64)
    multi_hot[0], multi_hot[1] = 0.0, 1.0
    pairs = (multi_hot[:, :, None] == 1.0) & (multi_hot[:, None, :] == 0.0)

    def distance(x):  # every (target j, non-target i) violation 1 - x_j + x_i away from its kink
        violation = 1.0 - x[:, :, None] + x[:, None, :]
        return np.where(pairs, np.abs(violation), 1.0)

    x = _away_from_zero(rng, lambda: rng.normal(0.0, 1.5, shape), distance)
    peer = torch_peer(torch.nn.MultiLabelMarginLoss(reduction=reduction), x, _torch_multilabel_indices(multi_hot))
    assert_same(ours_torch("MultilabelMarginLoss", x, multi_hot, reduction=reduction), peer, what="torch")
    assert_same(ours_keras("MultilabelMarginLoss", x, multi_hot, reduction=reduction), peer, what="keras")


def test_torch_multilabel_margin_counts_a_repeated_class_twice():
    """A class listed twice in torch's index target counts twice there; a multi-hot row holds it once."""
    x = np.array([[0.2, 0.9, -0.4, 0.1]])
    once = torch_peer(torch.nn.MultiLabelMarginLoss(reduction="sum"), x, np.array([[1, -1, -1, -1]]))
    twice = torch_peer(torch.nn.MultiLabelMarginLoss(reduction="sum"), x, np.array([[1, 1, -1, -1]]))
    ours = ours_torch("MultilabelMarginLoss", x, np.array([[0.0, 1.0, 0.0, 0.0]]), reduction="sum")
    np.testing.assert_allclose(ours[0], once[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(twice[0], 2.0 * once[0], rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- 6. KL divergence


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("prediction", ["soft", "one_hot"])
@pytest.mark.parametrize("target", ["soft", "one_hot"])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_keras_kl_divergence(layout, target, prediction, weighted):
    """Keras clips both tensors to [1e-7, 1]; one-hot tensors hit both ends of the clip."""
    shape = SHAPES[layout]
    num_classes = shape[-1]
    rng = _rng("keras-kl", layout, target, prediction, weighted)

    def draw(kind: str) -> np.ndarray:
        if kind == "one_hot":
            return np.eye(num_classes)[rng.integers(0, num_classes, shape[:-1])]
        return 0.8 * rng.dirichlet(np.ones(num_classes), shape[:-1]) + 0.2 / num_classes

    y, q = draw(target), draw(prediction)
    _compare_with_keras(
        "KlDivergenceLoss",
        keras.losses.KLDivergence(dtype="float64"),
        q,
        y,
        weighted=weighted,
        rng=rng,
        keras_rank=len(shape) - 1,
    )


KL_REDUCTIONS = [  # torch reduction -> (our sum_over, our reduction)
    ("batchmean", "sample", "mean"),
    ("mean", "none", "mean"),
    ("sum", "classes", "sum"),
    ("sum", "sample", "sum"),
    ("sum", "none", "sum"),
    ("none", "none", "none"),
]


@pytest.mark.parametrize(
    ("torch_reduction", "sum_over", "reduction"), KL_REDUCTIONS, ids=[f"{t}-{s}" for t, s, _ in KL_REDUCTIONS]
)
@pytest.mark.parametrize("target", ["soft", "one_hot", "log_soft"])
@pytest.mark.parametrize("shape", [(6, 5), (2, 4, 3, 5)], ids=["vector", "map2d"])
def test_torch_kl_div(shape, target, torch_reduction, sum_over, reduction):
    """torch.nn.KLDivLoss on log-probabilities, class axis 1 (one-hot targets: torch's 0 log 0 = 0)."""
    rng = _rng("torch-kl", shape, target, torch_reduction, sum_over)
    num_classes = shape[1]
    x = _log_softmax(rng.normal(0.0, 1.5, shape), axis=1)
    soft = np.moveaxis(rng.dirichlet(np.ones(num_classes), (shape[0], *shape[2:])), -1, 1)
    if target == "one_hot":
        y = np.moveaxis(np.eye(num_classes)[rng.integers(0, num_classes, (shape[0], *shape[2:]))], -1, 1)
    else:
        y = np.log(soft) if target == "log_soft" else soft
    log_target = target == "log_soft"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns that 'mean' is not 'batchmean'
        peer = torch_peer(torch.nn.KLDivLoss(reduction=torch_reduction, log_target=log_target), x, y)
    params = dict(
        input_space="log_probabilities",
        target_space="log_probabilities" if log_target else "probabilities",
        epsilon=0.0,
        sum_over=sum_over,
        reduction=reduction,
    )
    assert_same(ours_torch("KlDivergenceLoss", x, y, **params), peer, what="torch")
    if sum_over == "classes":  # per-position elements follow the layout; the sum does not
        assert_same(ours_keras_channels_first("KlDivergenceLoss", x, y, **params), peer, what="keras")
    else:
        assert_same(ours_keras("KlDivergenceLoss", x, y, class_axis=1, **params), peer, what="keras")


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (2, 4, 3, 5)], ids=["vector", "map2d"])
def test_torch_kl_div_of_log_softmax(shape, log_target):
    """input_space='logits' = torch.nn.KLDivLoss(reduction='batchmean') on F.log_softmax(x, 1)."""
    rng = _rng("torch-kl-logits", shape, log_target)
    x = rng.normal(0.0, 2.0, shape)
    soft = np.moveaxis(rng.dirichlet(np.ones(shape[1]), (shape[0], *shape[2:])), -1, 1)
    y = np.log(soft) if log_target else soft
    peer_loss = torch.nn.KLDivLoss(reduction="batchmean", log_target=log_target)
    y_t = _tensor(y)
    peer = torch_value_and_grad(lambda t: peer_loss(F.log_softmax(t, dim=1), y_t), x)
    params = dict(
        input_space="logits",
        target_space="log_probabilities" if log_target else "probabilities",
        epsilon=0.0,
        sum_over="sample",
    )
    assert_same(ours_torch("KlDivergenceLoss", x, y, **params), peer, what="torch")
    assert_same(ours_keras("KlDivergenceLoss", x, y, class_axis=1, **params), peer, what="keras")


# --------------------------------------------------------------------------- 7. cosine similarity


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("scale", [1.0, 1e-8], ids=["unit", "below_epsilon"])
@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_keras_cosine_similarity(layout, axis, scale, weighted):
    """Keras' norm floor is backend.epsilon() = 1e-7: vectors of scale 1e-8 are below it."""
    shape = SHAPES[layout]
    rng = _rng("keras-cosine", layout, axis, scale, weighted)
    x = rng.normal(0.0, 1.0, shape) * scale
    y = rng.normal(0.0, 1.0, shape)
    weights = rng.uniform(0.2, 2.0, shape[0]) if weighted else None
    peer = keras_peer(
        keras.losses.CosineSimilarity(axis=axis, dtype="float64"),
        x,
        y,
        None if weights is None else _keras_sample_weight(weights, len(shape) - 1),
    )
    assert_same(ours_keras("CosineSimilarityLoss", x, y, sample_weight=weights, class_axis=axis), peer, what="keras")
    assert_same(ours_torch("CosineSimilarityLoss", x, y, sample_weight=weights, class_axis=axis), peer, what="torch")


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("eps", [1e-8, 0.5])
@pytest.mark.parametrize("dim", [1, -1])
@pytest.mark.parametrize("shape", [(6, 5), (2, 4, 3, 5)], ids=["vector", "map2d"])
def test_torch_cosine_similarity(shape, dim, eps, reduction):
    """-F.cosine_similarity(y_pred, y_true, dim, eps), every norm at least eps (see the next test)."""
    rng = _rng("torch-cosine", shape, dim, eps, reduction)

    def vectors() -> np.ndarray:
        return _away_from_zero(rng, lambda: rng.normal(0.0, 1.0, shape), lambda v: np.linalg.norm(v, axis=dim) - eps)

    x, y = vectors(), vectors()
    y_t = _tensor(y)

    def peer_fn(t):
        similarity = -F.cosine_similarity(t, y_t, dim=dim, eps=eps)
        return similarity.mean() if reduction == "mean" else similarity

    peer = torch_value_and_grad(peer_fn, x)
    params = dict(class_axis=dim, epsilon=eps, reduction=reduction)
    assert_same(ours_torch("CosineSimilarityLoss", x, y, **params), peer, what="torch")
    assert_same(ours_keras("CosineSimilarityLoss", x, y, **params), peer, what="keras")


def test_torch_cosine_similarity_norm_below_epsilon():
    """torch clamps the norms in place under no_grad: below eps its value is x / eps, as ours,
    but its gradient is that of x / |x|.  Ours is the derivative of the shared value (finite
    differences of torch's own value), torch's is not -- no setting reproduces it."""
    rng = _rng("torch-cosine-floor")
    x = rng.normal(0.0, 0.3, (6, 5))
    y = rng.normal(0.0, 1.0, (6, 5))
    eps = 0.5
    assert (np.linalg.norm(x, axis=1) < eps).any() and (np.linalg.norm(x, axis=1) > eps).any()
    y_t = _tensor(y)

    def torch_value(array: np.ndarray) -> float:
        return float(-F.cosine_similarity(_tensor(array), y_t, dim=1, eps=eps).mean())

    peer = torch_value_and_grad(lambda t: -F.cosine_similarity(t, y_t, dim=1, eps=eps).mean(), x)
    ours = ours_torch("CosineSimilarityLoss", x, y, epsilon=eps)
    np.testing.assert_allclose(ours[0], peer[0], rtol=RTOL, atol=ATOL)
    h = 1e-6
    finite_differences = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = h
        finite_differences[index] = (torch_value(x + step) - torch_value(x - step)) / (2 * h)
    np.testing.assert_allclose(ours[1], finite_differences, rtol=1e-7, atol=1e-9)
    assert not np.allclose(peer[1], finite_differences, rtol=1e-3, atol=1e-6)


def test_cosine_similarity_zero_prediction():
    """A zero prediction vector: value 0 and gradient -y / (epsilon |y|) in Keras, torch and ours."""
    rng = _rng("cosine-zero")
    x = rng.normal(size=(4, 3))
    x[1] = 0.0
    y = rng.normal(size=(4, 3))
    keras_result = keras_peer(keras.losses.CosineSimilarity(dtype="float64"), x, y)
    y_t = _tensor(y)
    torch_result = torch_value_and_grad(lambda t: -F.cosine_similarity(t, y_t, dim=1, eps=1e-7).mean(), x)
    expected_row = -y[1] / np.linalg.norm(y[1]) / 1e-7 / 4
    for peer in (keras_result, torch_result):
        np.testing.assert_allclose(peer[1][1], expected_row, rtol=1e-12)
        assert_same(ours_keras("CosineSimilarityLoss", x, y), peer)
        assert_same(ours_torch("CosineSimilarityLoss", x, y), peer)


# --------------------------------------------------------------------------- 8. Poisson


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_keras_poisson(layout, weighted):
    """Rates include exact zeros (log(0 + 1e-7)); the same numbers as torch's
    PoissonNLLLoss(log_input=False, eps=1e-7)."""
    shape = SHAPES[layout]
    rng = _rng("keras-poisson", layout, weighted)
    rates = np.exp(rng.normal(0.0, 1.0, shape))
    rates.flat[:3] = 0.0
    counts = rng.poisson(2.0, shape).astype(np.float64)
    _compare_with_keras(
        "PoissonLoss",
        keras.losses.Poisson(dtype="float64"),
        rates,
        counts,
        weighted=weighted,
        rng=rng,
        keras_rank=len(shape) - 1,
    )
    if not weighted:
        torch_result = torch_peer(torch.nn.PoissonNLLLoss(log_input=False, eps=1e-7), rates, counts)
        assert_same(ours_torch("PoissonLoss", rates, counts), torch_result, what="torch PoissonNLLLoss")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [1e-8, 1e-3])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_torch_poisson_nll(layout, log_input, full, eps, reduction):
    """Counts 0, 1 and above 1 (the Stirling term); rates include exact zeros when not log_input."""
    shape = SHAPES[layout]
    rng = _rng("torch-poisson-nll", layout, log_input, full, eps, reduction)
    rates = np.exp(rng.normal(0.5, 1.0, shape))
    counts = rng.poisson(3.0, shape).astype(np.float64)
    counts.flat[:3] = [0.0, 1.0, 7.0]
    if log_input:
        x = np.log(rates)
    else:
        x = rates
        x.flat[3:5] = 0.0
    peer = torch_peer(torch.nn.PoissonNLLLoss(log_input=log_input, full=full, eps=eps, reduction=reduction), x, counts)
    params = dict(log_input=log_input, full=full, epsilon=eps, reduction=reduction)
    assert_same(ours_torch("PoissonNllLoss", x, counts, **params), peer, what="torch")
    assert_same(ours_keras("PoissonNllLoss", x, counts, **params), peer, what="keras")
    if not log_input and not full:  # the Keras-style poisson with the same epsilon
        poisson = dict(epsilon=eps, reduction=reduction)
        assert_same(ours_torch("PoissonLoss", x, counts, **poisson), peer, what="poisson torch")
        assert_same(ours_keras("PoissonLoss", x, counts, **poisson), peer, what="poisson keras")


# --------------------------------------------------------------------------- 9. Keras MAPE / MSLE / LogCosh


def _regression_inputs(rng: np.random.Generator, name: str, shape) -> tuple[np.ndarray, np.ndarray]:
    if name == "mape":  # targets of both signs, exact zeros and sub-epsilon values
        y = rng.normal(0.0, 2.0, shape)
        y.flat[:4] = [0.0, 1e-9, -1e-9, 0.0]
        x = y + _away_from_zero(rng, lambda: rng.normal(0.0, 1.0, shape), np.abs)
        return x, y
    if name == "msle":  # non-negative targets with zeros; predictions partly negative (floored)
        y = np.exp(rng.normal(0.0, 1.0, shape))
        y.flat[:2] = 0.0
        x = _away_from_zero(rng, lambda: rng.normal(1.0, 1.5, shape), lambda x: np.abs(x - 1e-7))
        return x, y
    y = rng.normal(0.0, 1.0, shape)  # log_cosh: small and huge errors (cosh would overflow)
    x = y + rng.normal(0.0, 2.0, shape)
    x.flat[:2] = [y.flat[0] + 800.0, y.flat[1] - 900.0]
    return x, y


# float32(log 2) - log 2: Keras' LogCosh subtracts log 2 rounded to float32 (module docstring)
LOG2_OFFSET = float(np.float32(math.log(2.0))) - math.log(2.0)


def keras_log_cosh_exact_log2(reduction="sum_over_batch_size", dtype="float64"):
    """``keras.losses.LogCosh`` with its float32 ``log 2`` replaced by the float64 one: the offset
    is a constant per Keras element, added back through the same reduction (Keras'
    ``MeanAbsoluteError`` of ones against zeros is exactly that reduction of 1)."""
    log_cosh = keras.losses.LogCosh(reduction=reduction, dtype=dtype)
    ones = keras.losses.MeanAbsoluteError(reduction=reduction, dtype=dtype)

    def loss(y_true, y_pred, sample_weight=None):
        unit = ones(tf.zeros_like(y_pred), tf.ones_like(y_pred), sample_weight=sample_weight)
        return log_cosh(y_true, y_pred, sample_weight=sample_weight) + LOG2_OFFSET * unit

    return loss


KERAS_REGRESSION = {
    "mape": (keras.losses.MeanAbsolutePercentageError, "MeanAbsolutePercentageErrorLoss"),
    "msle": (keras.losses.MeanSquaredLogarithmicError, "MeanSquaredLogarithmicErrorLoss"),
    "log_cosh": (keras_log_cosh_exact_log2, "LogCoshLoss"),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("layout", sorted(SHAPES))
@pytest.mark.parametrize("loss", sorted(KERAS_REGRESSION))
def test_keras_regression(loss, layout, weighted):
    shape = SHAPES[layout]
    rng = _rng("keras-regression", loss, layout, weighted)
    x, y = _regression_inputs(rng, loss, shape)
    peer_class, name = KERAS_REGRESSION[loss]
    _compare_with_keras(name, peer_class(dtype="float64"), x, y, weighted=weighted, rng=rng, keras_rank=len(shape) - 1)


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_keras_log_cosh_float32_log2(floatx, request):
    """Keras' float64 LogCosh is short by float32(log 2) - log 2 = 1.9e-9 per element, whatever
    floatx is (TensorFlow converts the Python float 2.0 to float32); gradients are exact."""
    if floatx == "float64":
        request.getfixturevalue("float64_keras")
    rng = _rng("keras-log-cosh-offset")
    x, y = _regression_inputs(rng, "log_cosh", (6, 5))
    peer = keras_peer(keras.losses.LogCosh(dtype="float64"), x, y)
    ours = ours_keras("LogCoshLoss", x, y)
    assert 1.9e-9 < LOG2_OFFSET < 1.91e-9
    np.testing.assert_allclose(peer[0], ours[0] - LOG2_OFFSET, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(peer[1], ours[1], rtol=RTOL, atol=ATOL)


KERAS_ELEMENTWISE = {
    "hinge": (keras.losses.Hinge, "HingeLoss"),
    "squared_hinge": (keras.losses.SquaredHinge, "SquaredHingeLoss"),
    "poisson": (keras.losses.Poisson, "PoissonLoss"),
    **KERAS_REGRESSION,
}


@pytest.mark.parametrize("loss", sorted(KERAS_ELEMENTWISE))
def test_keras_elementwise_reductions(loss):
    """Keras' None/'sum' act on the last-axis means: ours 'none' averaged over it, ours 'sum' / its size."""
    shape = (2, 3, 4, 5)
    rng = _rng("keras-elementwise-reductions", loss)
    if loss in KERAS_REGRESSION:
        x, y = _regression_inputs(rng, loss, shape)
    elif loss == "poisson":
        x, y = np.exp(rng.normal(0.0, 1.0, shape)), rng.poisson(2.0, shape).astype(np.float64)
    else:
        y = _hinge_targets(rng, shape, "signed")
        x = _away_from_zero(rng, lambda: rng.normal(0.0, 1.5, shape), lambda x: np.abs(1.0 - y * x))
    peer_class, name = KERAS_ELEMENTWISE[loss]
    none = keras_peer(peer_class(reduction=None, dtype="float64"), x, y)
    ours = tf_value_and_grad(
        lambda t: tf.reduce_mean(getattr(losses_tf, name)(reduction="none", dtype="float64")(y, t), -1), x
    )
    assert_same(ours, none, what="none")
    total = keras_peer(peer_class(reduction="sum", dtype="float64"), x, y)
    ours_sum = ours_torch(name, x, y, reduction="sum")
    assert_same((ours_sum[0] / shape[-1], ours_sum[1] / shape[-1]), total, what="sum")


# --------------------------------------------------------------------------- 10. torch SmoothL1Loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.1, 1.0, 3.0])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_torch_smooth_l1(layout, beta, reduction):
    """Both branches are exercised; residuals stay away from 0 and +-beta."""
    shape = SHAPES[layout]
    rng = _rng("smooth-l1", layout, beta, reduction)
    y = rng.normal(0.0, 1.0, shape)
    residual = _away_from_zero(
        rng,
        lambda: rng.normal(0.0, 1.5 * max(beta, 0.5), shape),
        lambda r: np.minimum(np.abs(r), np.abs(np.abs(r) - beta)),
    )
    x = y + residual
    if beta > 0:
        assert (np.abs(residual) < beta).any() and (np.abs(residual) > beta).any()
    peer = torch_peer(torch.nn.SmoothL1Loss(beta=beta, reduction=reduction), x, y)
    assert_same(ours_torch("SmoothL1Loss", x, y, beta=beta, reduction=reduction), peer, what="torch")
    assert_same(ours_keras("SmoothL1Loss", x, y, beta=beta, reduction=reduction), peer, what="keras")
    if beta == 0.0:
        assert_same(
            ours_torch("SmoothL1Loss", x, y, beta=0.0, reduction=reduction),
            torch_peer(torch.nn.L1Loss(reduction=reduction), x, y),
            what="L1Loss",
        )


# --------------------------------------------------------------------------- 11. quantile (pinball)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_quantile_median_is_half_l1(layout, reduction):
    shape = SHAPES[layout]
    rng = _rng("quantile-median", layout, reduction)
    y = rng.normal(0.0, 1.0, shape)
    x = y + _away_from_zero(rng, lambda: rng.normal(0.0, 1.0, shape), np.abs)
    x.flat[0] = y.flat[0]  # a zero residual: |.| has gradient 0 there in both peers and here
    half = lambda result: (0.5 * result[0], 0.5 * result[1])
    torch_l1 = half(torch_peer(torch.nn.L1Loss(reduction=reduction), x, y))
    keras_l1 = half(keras_peer(keras.losses.MeanAbsoluteError(reduction=reduction, dtype="float64"), x, y))
    for ours in (
        ours_torch("QuantileLoss", x, y, reduction=reduction),
        ours_keras("QuantileLoss", x, y, reduction=reduction),
    ):
        assert_same(ours, torch_l1, what="torch L1Loss")
        if reduction == "mean":  # Keras' 'sum' adds last-axis means (test_keras_elementwise_reductions)
            assert_same(ours, keras_l1, what="keras MeanAbsoluteError")


@pytest.mark.parametrize("tau", [0.05, 0.3, 0.5, 0.9])
def test_quantile_pinball_definition(tau):
    """Not a peer: max(tau u, (tau - 1) u), u = y - y_pred, and its one-sided slopes."""
    rng = _rng("quantile-definition", tau)
    y = rng.normal(0.0, 1.0, (6, 5))
    x = y + _away_from_zero(rng, lambda: rng.normal(0.0, 1.0, (6, 5)), np.abs)
    u = y - x
    expected = (np.maximum(tau * u, (tau - 1.0) * u), -(tau - (u < 0)))
    for ours in (
        ours_torch("QuantileLoss", x, y, quantile=tau, reduction="none"),
        ours_keras("QuantileLoss", x, y, quantile=tau, reduction="none"),
    ):
        assert_same(ours, expected)


# --------------------------------------------------------------------------- 12. kornia charbonnier_loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [1.0, 0.3, 2.0])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_kornia_charbonnier(layout, scale, reduction):
    """kornia(x / c, y / c) == ours(epsilon=c, subtract_epsilon=True) / c; small and large residuals
    (kornia switches formulas at |r / c| = 1)."""
    shape = SHAPES[layout]
    rng = _rng("kornia-charbonnier", layout, scale, reduction)
    y = rng.normal(0.0, 1.0, shape)
    x = y + rng.normal(0.0, 1.5 * scale, shape)
    x.flat[0] = y.flat[0]
    y_t = _tensor(y)
    peer = torch_value_and_grad(
        lambda t: kornia.losses.charbonnier_loss(t / scale, y_t / scale, reduction=reduction), x
    )
    params = dict(epsilon=scale, subtract_epsilon=True, reduction=reduction)
    for framework, ours in [
        ("torch", ours_torch("CharbonnierLoss", x, y, **params)),
        ("keras", ours_keras("CharbonnierLoss", x, y, **params)),
    ]:
        assert_same((ours[0] / scale, ours[1] / scale), peer, what=framework)
