"""Peer equivalences of ``spec/losses/_focal.py`` (focal, sigmoid_focal,
generalized_crossentropy, poly1_crossentropy), proven in values and gradients.

Every test checks one "Equivalences (tested ...)" claim of those docstrings
against the peer itself -- Keras 3 (``CategoricalFocalCrossentropy``,
``BinaryFocalCrossentropy``, ``CategoricalGeneralizedCrossEntropy``), MONAI
``FocalLoss``, kornia ``focal_loss`` / ``binary_focal_loss_with_logits``,
segmentation_models_pytorch ``FocalLoss`` and torchvision 0.28.0's
``sigmoid_focal_loss`` (its own code, loaded by
``peer_libraries.torchvision_losses``: the package does not import beside
torch 2.13) -- or against the PolyLoss paper's reference code, written out
here.  Our torch module and our Keras loss must both agree with the peer, in
float64, on seeded random inputs.

torchvision computes ``1 - p_t`` from ``p = sigmoid(x)``, which cancels for
confident logits (relative error ~1e-16 / (1 - p_t), on losses that shrink
as (1 - p_t) ** gamma); ours takes ``1 - p`` as ``sigmoid(-x)``.  On the
test's logits (normal, scale 2) the worst measured relative differences are
2e-13 in values and 4e-14 in gradients (entries above 1e-3; 9e-16 absolute
below), inside ``RTOL``.  Where ``1 - p_t`` rounds to 0 (|x| >= 38 on the
target's side) torchvision's value is 0 and its gradient NaN for gamma < 1:
a test of its own.

Peer precision note: MONAI's ``FocalLoss`` casts its input to float32
(``input.float()``) before computing, so the class is compared at a float32
tolerance (relative 2e-6 of the largest entry); MONAI's module-level
``softmax_focal_loss`` / ``sigmoid_focal_loss``, which hold the whole
formula, run in float64 and are compared strictly.  MONAI builds the softmax
class factors ``[1 - a, a, ...]`` of a float ``alpha`` as a float32 tensor,
smp stores ``class_weights`` and Keras a list ``alpha`` in float32: those
tests use values exact in float32 (0.25, 0.75, dyadic weights).
"""

from __future__ import annotations

import os
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
import monai.losses
from monai.losses.focal_loss import sigmoid_focal_loss as monai_sigmoid_focal
from monai.losses.focal_loss import softmax_focal_loss as monai_softmax_focal
from peer_libraries import smp_losses, torchvision_losses

import keras
import tensorflow as tf

import losses_tf
import losses_torch
from spec import registry

import autodiff
from autodiff import tf_value_and_grad, torch_value_and_grad

# isort: on

RTOL = 1e-12
ATOL = 1e-14
MONAI_F32 = 2e-6  # relative to the largest entry: MONAI's FocalLoss computes in float32


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _to_last(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def _to_first(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def _one_hot(labels: np.ndarray, num_classes: int, axis: int) -> np.ndarray:
    dense = np.eye(num_classes, dtype=np.float64)[labels]
    return dense if axis == -1 else np.moveaxis(dense, -1, axis)


# Values and gradients at this module's tolerances; looser ones are passed explicitly.
assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


def assert_close_f32(ours, peer, *, what: str = "") -> None:
    """Agreement up to float32 rounding: max error <= MONAI_F32 x the largest entry."""
    for name, a, b in (("value", ours[0], peer[0]), ("gradient", ours[1], peer[1])):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, f"{what}: {name} shape {a.shape} vs {b.shape}"
        scale = max(float(np.abs(b).max()), 1e-30)
        error = float(np.abs(a - b).max()) / scale
        assert error <= MONAI_F32, f"{what}: {name} relative error {error:.3g} > {MONAI_F32:g}"


def ours_torch(class_name: str, x: np.ndarray, y, *, sample_weight=None, reduction="mean", cotangent=None, **params):
    loss = getattr(losses_torch, class_name)(reduction=reduction, **params)
    y_t = torch.as_tensor(y)
    sw = None if sample_weight is None else torch.as_tensor(sample_weight)
    return torch_value_and_grad(lambda t: loss(t, y_t, sample_weight=sw), x, cotangent=cotangent)


def ours_keras(class_name: str, x: np.ndarray, y, *, sample_weight=None, reduction="mean", cotangent=None, **params):
    loss = getattr(losses_tf, class_name)(reduction=reduction, dtype="float64", **params)
    y_t = tf.constant(y)
    sw = None if sample_weight is None else tf.constant(sample_weight, dtype=tf.float64)
    return tf_value_and_grad(lambda t: loss(y_t, t, sample_weight=sw), x, cotangent=cotangent)


def ours_both_channels_first(class_name: str, x: np.ndarray, y, *, labels: bool, sample_weight=None,
                             reduction="mean", cotangent=None, **params):
    """Our torch loss on the channels-first problem, and our Keras loss on its channels-last form
    (values and gradients moved back to channels-first)."""
    torch_result = ours_torch(class_name, x, y, sample_weight=sample_weight, reduction=reduction,
                              cotangent=cotangent, **params)
    y_last = y if labels else _to_last(y)
    per_element = reduction == "none" and cotangent is not None and cotangent.shape == x.shape
    sw_last = _to_last(sample_weight) if sample_weight is not None and sample_weight.shape == x.shape else sample_weight
    cot_last = _to_last(cotangent) if per_element else cotangent
    value, grad = ours_keras(class_name, _to_last(x), y_last, sample_weight=sw_last, reduction=reduction,
                             cotangent=cot_last, **params)
    return torch_result, (_to_first(value) if per_element else value, _to_first(grad))


def check_both(class_name: str, x, y, peer, *, labels: bool, compare=assert_same, what: str = "", **kwargs):
    torch_result, keras_result = ours_both_channels_first(class_name, x, y, labels=labels, **kwargs)
    compare(torch_result, peer, what=f"{what} torch")
    compare(keras_result, peer, what=f"{what} keras")


def _class_problem(rng, shape, target: str):
    """Channels-first logits, labels, and the dense (one-hot or soft) targets."""
    num_classes = shape[1]
    x = rng.normal(size=shape) * 1.5
    labels = rng.integers(0, num_classes, size=(shape[0], *shape[2:])).astype(np.int64)
    if target == "soft":
        dense = _to_first(rng.dirichlet(np.ones(num_classes), size=(shape[0], *shape[2:])))
    else:
        dense = _one_hot(labels, num_classes, 1)
    return x, labels, dense


def _binary_targets(rng, shape, kind: str) -> np.ndarray:
    return (rng.random(shape) < 0.4).astype(np.float64) if kind == "hard" else rng.random(shape)


def _background_alpha(alpha: float, num_classes: int) -> list[float]:
    return [1.0 - alpha] + [alpha] * (num_classes - 1)


# --------------------------------------------------------------------------- 1. Keras CategoricalFocalCrossentropy

KERAS_SHAPES = {"vector": (6, 5), "map2d": (2, 3, 4, 5)}
# exactly representable in float32: Keras turns a list alpha into a float32 constant
KERAS_ALPHAS = {"0.25": 0.25, "1": 1.0, "list": [0.25, 0.5, 1.5, 0.75, 1.0]}


@pytest.mark.parametrize("target", ["one_hot", "soft"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("alpha", sorted(KERAS_ALPHAS))
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("layout", sorted(KERAS_SHAPES))
def test_keras_categorical_focal_crossentropy(layout, from_logits, alpha, gamma, label_smoothing, target):
    shape = KERAS_SHAPES[layout]
    rng = _rng("keras-cfce", layout, from_logits, alpha, gamma, label_smoothing, target)
    num_classes = shape[-1]
    logits = rng.normal(size=shape) * 1.5
    x = logits if from_logits else _softmax(logits, -1)
    if target == "one_hot":
        y = _one_hot(rng.integers(0, num_classes, size=shape[:-1]), num_classes, -1)
    else:
        y = rng.dirichlet(np.ones(num_classes), size=shape[:-1])
    a = KERAS_ALPHAS[alpha]

    peer_loss = keras.losses.CategoricalFocalCrossentropy(
        alpha=a, gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, dtype="float64"
    )
    peer = tf_value_and_grad(lambda t: peer_loss(tf.constant(y), t), x)
    params = dict(alpha=a, alpha_mode="scale", gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing)
    assert_same(ours_keras("FocalLoss", x, y, **params), peer, what="keras")
    assert_same(ours_torch("FocalLoss", x, y, class_axis=-1, **params), peer, what="torch")


# --------------------------------------------------------------------------- 2. MONAI FocalLoss(use_softmax=True)

SEG_SHAPES = {"2d": (2, 4, 3, 5), "3d": (2, 3, 3, 2, 4)}
# MONAI builds the class factors [1 - a, a, ...] of a float alpha as a float32 tensor: values exact in float32
MONAI_SOFTMAX_ALPHAS = {"none": None, "0.25": 0.25, "0.75": 0.75, "list": [0.5, 2.0, 1.0, 0.25]}


def _alpha_for(alpha, num_classes: int):
    """MONAI/kornia alpha as our (alpha, alpha_mode)."""
    if isinstance(alpha, list):
        return dict(alpha=alpha[:num_classes])
    return dict(alpha=alpha, alpha_mode="background")


@pytest.mark.parametrize("target", ["one_hot", "soft"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", sorted(MONAI_SOFTMAX_ALPHAS))
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_softmax_focal_formula(dims, alpha, gamma, target):
    """MONAI's softmax_focal_loss (the whole formula, float64): the per-class map and its mean."""
    shape = SEG_SHAPES[dims]
    rng = _rng("monai-softmax-formula", dims, alpha, gamma, target)
    x, _, dense = _class_problem(rng, shape, target)
    a = MONAI_SOFTMAX_ALPHAS[alpha]
    a = a[: shape[1]] if isinstance(a, list) else a
    monai_alpha = torch.tensor(a, dtype=torch.float64) if isinstance(a, list) else a
    dense_t = torch.as_tensor(dense)
    cotangent = rng.normal(size=shape)
    params = dict(gamma=gamma, mean_over="positions_and_classes", **_alpha_for(a, shape[1]))

    peer_map = torch_value_and_grad(lambda t: monai_softmax_focal(t, dense_t, gamma, monai_alpha), x,
                                    cotangent=cotangent)
    check_both("FocalLoss", x, dense, peer_map, labels=False, reduction="none", cotangent=cotangent, what="none",
               **params)
    peer_mean = torch_value_and_grad(lambda t: monai_softmax_focal(t, dense_t, gamma, monai_alpha).mean(), x)
    check_both("FocalLoss", x, dense, peer_mean, labels=False, what="mean", **params)


@pytest.mark.parametrize("weight", [None, [2.0, 0.5, 1.0, 3.0]], ids=["no_weight", "weight"])
@pytest.mark.parametrize("alpha", sorted(MONAI_SOFTMAX_ALPHAS))
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_softmax_focal_class(dims, reduction, alpha, weight):
    """The FocalLoss class with to_onehot_y labels; MONAI weight=w folds into our per-class alpha."""
    shape = SEG_SHAPES[dims]
    num_classes = shape[1]
    rng = _rng("monai-softmax-class", dims, reduction, alpha, weight)
    x, labels, _ = _class_problem(rng, shape, "one_hot")
    x = x.astype(np.float32).astype(np.float64)  # MONAI's float32 input is then exact
    a = MONAI_SOFTMAX_ALPHAS[alpha]
    a = a[:num_classes] if isinstance(a, list) else a
    w = None if weight is None else weight[:num_classes]
    peer_loss = monai.losses.FocalLoss(use_softmax=True, to_onehot_y=True, gamma=2.0, alpha=a, weight=w,
                                       reduction=reduction)
    labels_t = torch.as_tensor(labels[:, None])
    cotangent = rng.normal(size=shape) if reduction == "none" else None
    # MONAI returns float32
    peer = torch_value_and_grad(lambda t: peer_loss(t, labels_t).double(), x, cotangent=cotangent)

    if w is None:
        params = _alpha_for(a, num_classes)
    else:
        factors = _background_alpha(a, num_classes) if a is not None and not isinstance(a, list) else a
        factors = [1.0] * num_classes if factors is None else factors
        params = dict(alpha=[f * wc for f, wc in zip(factors, w, strict=True)])
    check_both("FocalLoss", x, labels, peer, labels=True, reduction=reduction, cotangent=cotangent,
               compare=assert_close_f32, mean_over="positions_and_classes", **params)


@pytest.mark.parametrize("ignore_index", [255, -1, 2])
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_softmax_focal_ignore_index_divides_by_valid_positions(dims, ignore_index):
    """MONAI 1.6.1 ignore_index: the (N, C, ...) sum over valid positions, i.e. our per-position mean."""
    shape = SEG_SHAPES[dims]
    rng = _rng("monai-softmax-ignore", dims, ignore_index)
    x, labels, _ = _class_problem(rng, shape, "one_hot")
    x = x.astype(np.float32).astype(np.float64)
    labels = np.where(rng.random(labels.shape) < 0.3, ignore_index, labels)
    assert (labels == ignore_index).any() and (labels != ignore_index).any()
    peer_loss = monai.losses.FocalLoss(use_softmax=True, to_onehot_y=True, gamma=2.0, alpha=0.25,
                                       ignore_index=ignore_index)
    labels_t = torch.as_tensor(labels[:, None])
    peer = torch_value_and_grad(lambda t: peer_loss(t, labels_t).double(), x)  # MONAI returns float32
    check_both("FocalLoss", x, labels, peer, labels=True, compare=assert_close_f32, mean_over="positions",
               alpha=0.25, ignore_index=ignore_index)


# --------------------------------------------------------------------------- 3. kornia focal_loss

KORNIA_ALPHAS = {"none": None, "0.25": 0.25, "0.6": 0.6}


@pytest.mark.parametrize("ignore_index", [None, -100, 1], ids=["no_ignore", "ignore_-100", "ignore_1"])
@pytest.mark.parametrize("weight", [None, [2.0, 0.5, 1.0, 3.0]], ids=["no_weight", "weight"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", sorted(KORNIA_ALPHAS))
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_kornia_focal_loss(dims, alpha, gamma, weight, ignore_index):
    shape = SEG_SHAPES[dims]
    num_classes = shape[1]
    rng = _rng("kornia-focal", dims, alpha, gamma, weight, ignore_index)
    x, labels, _ = _class_problem(rng, shape, "one_hot")
    if ignore_index is not None:
        labels = np.where(rng.random(labels.shape) < 0.3, ignore_index, labels)
        assert (labels == ignore_index).any()
    a = KORNIA_ALPHAS[alpha]
    w = None if weight is None else weight[:num_classes]
    if w is None:
        params = _alpha_for(a, num_classes)
    else:
        factors = _background_alpha(a, num_classes) if a is not None else [1.0] * num_classes
        params = dict(alpha=[f * wc for f, wc in zip(factors, w, strict=True)])
    params.update(mean_over="positions_and_classes", gamma=gamma, ignore_index=ignore_index)
    labels_t = torch.as_tensor(labels)
    w_t = None if w is None else torch.tensor(w, dtype=torch.float64)

    def peer(reduction, cotangent=None):
        return torch_value_and_grad(
            lambda t: kornia.losses.focal_loss(t, labels_t, alpha=a, gamma=gamma, reduction=reduction, weight=w_t,
                                               ignore_index=ignore_index),
            x, cotangent=cotangent,
        )

    cotangent = rng.normal(size=shape)
    check_both("FocalLoss", x, labels, peer("none", cotangent), labels=True, reduction="none", cotangent=cotangent,
               what="none", **params)
    check_both("FocalLoss", x, labels, peer("sum"), labels=True, reduction="sum", what="sum", **params)
    mean = peer("mean")
    if ignore_index is None:
        check_both("FocalLoss", x, labels, mean, labels=True, what="mean", **params)
    else:  # kornia keeps ignored pixels in the denominator: its mean is our sum / y_pred.size
        mean = (mean[0] * x.size, mean[1] * x.size)
        check_both("FocalLoss", x, labels, mean, labels=True, reduction="sum", what="mean*size", **params)


# --------------------------------------------------------------------------- 4. softmax focal identities


# soft targets are combined with ignore_index=None only: a soft row with mass on an in-range ignore_index is ignored
GAMMA_ZERO_CASES = [(ignore, target) for ignore in (None, -100, 2) for target in ("labels", "one_hot")] + [
    (None, "soft")
]


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize(("ignore_index", "target"), GAMMA_ZERO_CASES)
def test_focal_gamma_zero_is_categorical_crossentropy(ignore_index, target, label_smoothing, from_logits):
    shape = (2, 4, 3, 5)
    rng = _rng("focal-ce", ignore_index, target, label_smoothing)
    x, labels, dense = _class_problem(rng, shape, "soft" if target == "soft" else "one_hot")
    if not from_logits:
        x = _softmax(x, axis=1)
    if ignore_index is not None:
        labels = np.where(rng.random(labels.shape) < 0.3, ignore_index, labels)
        if target == "one_hot":
            dense = _one_hot(np.where(labels < 0, 0, labels), shape[1], 1) * (labels >= 0)[:, None]
    y = labels if target == "labels" else dense
    common = dict(ignore_index=ignore_index, label_smoothing=label_smoothing, from_logits=from_logits)
    ce = ours_both_channels_first("CategoricalCrossentropyLoss", x, y, labels=target == "labels", **common)
    for reference in ce:
        check_both("FocalLoss", x, y, reference, labels=target == "labels", gamma=0.0, **common)


# --------------------------------------------------------------------------- 5. torchvision sigmoid_focal_loss

BINARY_SHAPES = {"vector": (6, 3), "map2d": (2, 3, 4, 5)}


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [0.25, 0.6, 0.0, 1.0, -1.0])
@pytest.mark.parametrize("layout", sorted(BINARY_SHAPES))
def test_torchvision_sigmoid_focal_loss(layout, alpha, gamma, targets, reduction):
    """torchvision 0.28.0's own ``sigmoid_focal_loss``; its ``alpha=-1`` (the only value outside
    [0, 1] it accepts) is our ``alpha=None``."""
    shape = BINARY_SHAPES[layout]
    rng = _rng("torchvision", layout, alpha, gamma, targets, reduction)
    x = rng.normal(size=shape) * 2.0
    t = _binary_targets(rng, shape, targets)
    cotangent = rng.normal(size=shape) if reduction == "none" else None
    t_t = torch.as_tensor(t)
    focal = torchvision_losses().sigmoid_focal_loss
    peer = torch_value_and_grad(lambda z: focal(z, t_t, alpha=alpha, gamma=gamma, reduction=reduction), x,
                                cotangent=cotangent)
    check_both("SigmoidFocalLoss", x, t, peer, labels=False, reduction=reduction, cotangent=cotangent,
               alpha=alpha if alpha >= 0 else None, gamma=gamma, soft_form="p_t")


def test_torchvision_sigmoid_focal_defaults_are_our_torchvision_preset():
    """``sigmoid_focal_loss(x, t)`` (alpha 0.25, gamma 2, no reduction) = the registry's "torchvision" preset."""
    rng = _rng("torchvision-defaults")
    x, t = rng.normal(size=(4, 3)) * 2.0, _binary_targets(rng, (4, 3), "hard")
    t_t = torch.as_tensor(t)
    cotangent = rng.normal(size=(4, 3))
    peer = torch_value_and_grad(lambda z: torchvision_losses().sigmoid_focal_loss(z, t_t), x, cotangent=cotangent)
    preset = registry.get("sigmoid_focal").presets["torchvision"]
    check_both("SigmoidFocalLoss", x, t, peer, labels=False, reduction="none", cotangent=cotangent, **preset)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_sigmoid_focal_is_finite_where_torchvision_saturates(gamma):
    """Confident correct logits (|x| >= 38 with the matching 0/1 target): torchvision's
    ``1 - p_t`` from ``p = sigmoid(x)`` rounds to 0, so its value is 0 and, for gamma < 1, its
    gradient is NaN (0 ** (gamma - 1) times 0).  Ours takes ``1 - p`` as ``sigmoid(-x)``: a
    finite gradient and the true tiny value (below 1e-20 here), which no setting changes."""
    x = np.array([[-50.0, -38.0, 38.0, 50.0, -3.0, 3.0]])
    t = np.array([[0.0, 0.0, 1.0, 1.0, 0.0, 1.0]])
    t_t = torch.as_tensor(t)
    value, grad = torch_value_and_grad(lambda z: torchvision_losses().sigmoid_focal_loss(z, t_t, gamma=gamma), x)
    assert (value[0, :4] == 0.0).all()
    assert np.isnan(grad[0, :4]).all() if gamma < 1.0 else np.isfinite(grad).all()
    for ours_value, ours_grad in ours_both_channels_first("SigmoidFocalLoss", x, t, labels=False, reduction="none",
                                                          cotangent=np.ones_like(x), alpha=0.25, gamma=gamma):
        assert np.isfinite(ours_grad).all() and (0.0 < ours_value[0, :4]).all() and (ours_value[0, :4] < 1e-20).all()
        # the unsaturated entries agree as in the test above
        np.testing.assert_allclose(ours_value[0, 4:], value[0, 4:], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ours_grad[0, 4:], grad[0, 4:], rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- 6. Keras BinaryFocalCrossentropy

KERAS_BINARY_SHAPES = {"vector": (5, 3), "map2d": (2, 4, 5, 3)}
BALANCING = {"off": (False, 0.25), "alpha_0.25": (True, 0.25), "alpha_0.6": (True, 0.6)}


@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("balancing", sorted(BALANCING))
@pytest.mark.parametrize("layout", sorted(KERAS_BINARY_SHAPES))
def test_keras_binary_focal_crossentropy(layout, balancing, gamma, from_logits, label_smoothing, targets):
    shape = KERAS_BINARY_SHAPES[layout]
    rng = _rng("keras-bfce", layout, balancing, gamma, from_logits, label_smoothing, targets)
    logits = rng.normal(size=shape) * 1.5
    x = logits if from_logits else _sigmoid(logits)
    t = _binary_targets(rng, shape, targets)
    apply, alpha = BALANCING[balancing]

    peer_loss = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=apply, alpha=alpha, gamma=gamma, from_logits=from_logits,
        label_smoothing=label_smoothing, dtype="float64",
    )
    peer = tf_value_and_grad(lambda z: peer_loss(tf.constant(t), z), x)
    params = dict(alpha=alpha if apply else None, gamma=gamma, from_logits=from_logits,
                  label_smoothing=label_smoothing, soft_form="p_t")
    assert_same(ours_keras("SigmoidFocalLoss", x, t, **params), peer, what="keras")
    assert_same(ours_torch("SigmoidFocalLoss", x, t, **params), peer, what="torch")


# --------------------------------------------------------------------------- 7. MONAI FocalLoss (sigmoid)

MONAI_SIGMOID_ALPHAS = {"none": None, "0.25": 0.25, "0.7": 0.7, "list": [0.5, 2.0, 1.0, 0.25]}


def _sigmoid_alpha_for(alpha, num_classes: int) -> dict:
    """MONAI sigmoid alpha as ours: a float is alpha_t; a sequence weights targets == 1 only (pos_weight)."""
    if isinstance(alpha, list):
        return dict(alpha=None, pos_weight=alpha[:num_classes])
    return dict(alpha=alpha)


# MONAI's per-class alpha weights only targets exactly equal to 1: claimed (and tested) for 0/1 targets only
MONAI_SIGMOID_CASES = [
    (alpha, targets) for alpha in sorted(MONAI_SIGMOID_ALPHAS) for targets in ("hard", "soft")
    if not (alpha == "list" and targets == "soft")
]


@pytest.mark.parametrize(("alpha", "targets"), MONAI_SIGMOID_CASES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_sigmoid_focal_formula(dims, gamma, alpha, targets):
    """MONAI's sigmoid_focal_loss (float64): soft_form='logit'; a per-class alpha is our pos_weight."""
    a = MONAI_SIGMOID_ALPHAS[alpha]
    shape = SEG_SHAPES[dims]
    rng = _rng("monai-sigmoid-formula", dims, alpha, gamma, targets)
    x = rng.normal(size=shape) * 2.0
    t = _binary_targets(rng, shape, targets)
    a = a[: shape[1]] if isinstance(a, list) else a
    monai_alpha = torch.tensor(a, dtype=torch.float64) if isinstance(a, list) else a
    t_t = torch.as_tensor(t)
    cotangent = rng.normal(size=shape)
    params = dict(gamma=gamma, soft_form="logit", **_sigmoid_alpha_for(a, shape[1]))
    peer_map = torch_value_and_grad(lambda z: monai_sigmoid_focal(z, t_t, gamma, monai_alpha), x, cotangent=cotangent)
    check_both("SigmoidFocalLoss", x, t, peer_map, labels=False, reduction="none", cotangent=cotangent,
               what="none", **params)
    peer_mean = torch_value_and_grad(lambda z: monai_sigmoid_focal(z, t_t, gamma, monai_alpha).mean(), x)
    check_both("SigmoidFocalLoss", x, t, peer_mean, labels=False, what="mean", **params)


@pytest.mark.parametrize("weight", [None, [2.0, 0.5, 1.0, 3.0]], ids=["no_weight", "weight"])
@pytest.mark.parametrize(("alpha", "targets"), MONAI_SIGMOID_CASES)
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_sigmoid_focal_class(dims, alpha, targets, weight):
    """The FocalLoss class (float32 inside); MONAI weight=w is a sample_weight of y_pred's shape."""
    a = MONAI_SIGMOID_ALPHAS[alpha]
    shape = SEG_SHAPES[dims]
    num_classes = shape[1]
    rng = _rng("monai-sigmoid-class", dims, targets, alpha, weight)
    x = (rng.normal(size=shape) * 2.0).astype(np.float32).astype(np.float64)
    t = _binary_targets(rng, shape, targets).astype(np.float32).astype(np.float64)
    a = a[:num_classes] if isinstance(a, list) else a
    w = None if weight is None else weight[:num_classes]
    peer_loss = monai.losses.FocalLoss(gamma=2.0, alpha=a, weight=w)
    t_t = torch.as_tensor(t)
    peer = torch_value_and_grad(lambda z: peer_loss(z, t_t).double(), x)  # MONAI returns float32
    sample_weight = None
    if w is not None:
        sample_weight = np.broadcast_to(np.reshape(w, (1, -1) + (1,) * (len(shape) - 2)), shape).copy()
    check_both("SigmoidFocalLoss", x, t, peer, labels=False, sample_weight=sample_weight, compare=assert_close_f32,
               gamma=2.0, soft_form="logit", **_sigmoid_alpha_for(a, num_classes))


# --------------------------------------------------------------------------- 8. kornia binary_focal_loss_with_logits


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weights", ["none", "pos_weight", "weight", "both"])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.7])
@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_kornia_binary_focal_loss_with_logits(dims, targets, alpha, gamma, weights, reduction):
    shape = SEG_SHAPES[dims]
    num_classes = shape[1]
    rng = _rng("kornia-binary", dims, targets, alpha, gamma, weights, reduction)
    x = rng.normal(size=shape) * 2.0
    t = _binary_targets(rng, shape, targets)
    pos_weight = [0.5, 2.0, 1.0, 3.0][:num_classes] if weights in ("pos_weight", "both") else None
    weight = [2.0, 0.25, 1.5, 1.0][:num_classes] if weights in ("weight", "both") else None
    t_t = torch.as_tensor(t)
    pw_t = None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float64)
    w_t = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    cotangent = rng.normal(size=shape) if reduction == "none" else None
    peer = torch_value_and_grad(
        lambda z: kornia.losses.binary_focal_loss_with_logits(z, t_t, alpha=alpha, gamma=gamma, reduction=reduction,
                                                              pos_weight=pw_t, weight=w_t),
        x, cotangent=cotangent,
    )
    sample_weight = None
    if weight is not None:
        sample_weight = np.broadcast_to(np.reshape(weight, (1, -1) + (1,) * (len(shape) - 2)), shape).copy()
    check_both("SigmoidFocalLoss", x, t, peer, labels=False, sample_weight=sample_weight, reduction=reduction,
               cotangent=cotangent, alpha=alpha, pos_weight=pos_weight, gamma=gamma, soft_form="per_term")


# --------------------------------------------------------------------------- 9. segmentation_models_pytorch FocalLoss


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("mode", ["binary", "multilabel"])
def test_smp_focal_binary_and_multilabel(mode, targets, alpha, gamma, from_logits):
    shape = (2, 1, 4, 5) if mode == "binary" else (2, 3, 4, 5)
    rng = _rng("smp-focal", mode, targets, alpha, gamma, from_logits)
    logits = rng.normal(size=shape) * 2.0
    x = logits if from_logits else _sigmoid(logits)
    t = _binary_targets(rng, shape, targets)
    peer_loss = smp_losses().FocalLoss(mode, alpha=alpha, gamma=gamma, from_logits=from_logits)
    t_t = torch.as_tensor(t)
    peer = torch_value_and_grad(lambda z: peer_loss(z, t_t), x)
    # from probabilities smp clamps p to [1e-7, 1 - 1e-7] and goes back to logits: equal up to rounding
    tol = {} if from_logits else dict(rtol=1e-10, atol=1e-13)
    check_both("SigmoidFocalLoss", x, t, peer, labels=False,
               compare=lambda a, b, what: assert_same(a, b, what=what, **tol),
               alpha=alpha, gamma=gamma, from_logits=from_logits, epsilon=1e-7, soft_form="exp_bce")


@pytest.mark.parametrize("alpha", [None, 0.25])
def test_smp_focal_multilabel_class_weights(alpha):
    """class_weights=w: sum_c w_c L_c / sum(w) = our mean with sample_weight w_c * C / sum(w)."""
    shape = (2, 4, 3, 5)
    rng = _rng("smp-focal-cw", alpha)
    x = rng.normal(size=shape) * 2.0
    t = _binary_targets(rng, shape, "hard")
    w = np.array([0.5, 2.0, 1.0, 4.0])  # exact in float32 (smp stores them as float32)
    peer_loss = smp_losses().FocalLoss("multilabel", alpha=alpha, class_weights=list(w))
    t_t = torch.as_tensor(t)
    peer = torch_value_and_grad(lambda z: peer_loss(z, t_t), x)
    sample_weight = np.broadcast_to((w * len(w) / w.sum()).reshape(1, -1, 1, 1), shape).copy()
    check_both("SigmoidFocalLoss", x, t, peer, labels=False, sample_weight=sample_weight, alpha=alpha,
               soft_form="exp_bce")


@pytest.mark.parametrize("ignore_index", [None, 255])
@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_smp_focal_multiclass_is_one_vs_rest_sigmoid(dims, alpha, ignore_index):
    """smp "multiclass" mode = sigmoid_focal on the one-hot targets (not a softmax focal loss).
    With ignore_index smp averages each class over the valid pixels: our sum with the valid mask
    as sample_weight, divided by C x the valid pixels."""
    shape = SEG_SHAPES[dims]
    num_classes = shape[1]
    rng = _rng("smp-focal-multiclass", dims, alpha, ignore_index)
    x, labels, _ = _class_problem(rng, shape, "one_hot")
    if ignore_index is not None:
        labels = np.where(rng.random(labels.shape) < 0.3, ignore_index, labels)
    valid = labels != ignore_index
    one_hot = _one_hot(np.where(valid, labels, 0), num_classes, 1) * valid[:, None]
    peer_loss = smp_losses().FocalLoss("multiclass", alpha=alpha, ignore_index=ignore_index)
    labels_t = torch.as_tensor(labels)
    peer = torch_value_and_grad(lambda z: peer_loss(z, labels_t), x)
    params = dict(alpha=alpha, soft_form="exp_bce")
    if ignore_index is None:
        check_both("SigmoidFocalLoss", x, one_hot, peer, labels=False, **params)
    else:
        mask = np.broadcast_to(valid[:, None].astype(np.float64), shape).copy()
        count = num_classes * valid.sum()
        peer = (peer[0] * count, peer[1] * count)
        check_both("SigmoidFocalLoss", x, one_hot, peer, labels=False, sample_weight=mask, reduction="sum", **params)


# --------------------------------------------------------------------------- 10. sigmoid focal identities


# binary_crossentropy weights only the positive *term* by pos_weight, as soft_form="per_term" does; the other
# forms weight the whole loss by a_t = w t + (1 - t), which is the same for 0/1 targets only
BCE_CASES = [
    (form, pos_weight, smoothing, targets)
    for form in ("p_t", "per_term", "logit", "exp_bce")
    for pos_weight, smoothing in ((None, 0.0), (None, 0.2), (2.5, 0.0), ([0.5, 1.0, 3.0], 0.2))
    for targets in ("hard", "soft")
    if form == "per_term" or pos_weight is None or (targets == "hard" and smoothing == 0.0)
]


@pytest.mark.parametrize(("soft_form", "pos_weight", "label_smoothing", "targets"), BCE_CASES, ids=str)
@pytest.mark.parametrize("from_logits", [True, False])
def test_sigmoid_focal_gamma_zero_is_binary_crossentropy(from_logits, soft_form, pos_weight, label_smoothing,
                                                         targets):
    shape = (2, 3, 4, 5)
    rng = _rng("sigmoid-focal-bce", from_logits, pos_weight, label_smoothing, soft_form, targets)
    logits = rng.normal(size=shape) * 2.0
    x = logits if from_logits else _sigmoid(logits)
    t = _binary_targets(rng, shape, targets)
    common = dict(from_logits=from_logits, pos_weight=pos_weight, label_smoothing=label_smoothing)
    bce = ours_both_channels_first("BinaryCrossentropyLoss", x, t, labels=False, **common)
    for reference in bce:
        check_both("SigmoidFocalLoss", x, t, reference, labels=False, gamma=0.0, soft_form=soft_form, **common)


@pytest.mark.parametrize("soft_form", ["per_term", "logit", "exp_bce"])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_sigmoid_focal_soft_forms_agree_on_hard_targets(alpha, soft_form):
    shape = (2, 3, 4, 5)
    rng = _rng("soft-forms", alpha, soft_form)
    x = rng.normal(size=shape) * 2.0
    t = _binary_targets(rng, shape, "hard")
    params = dict(alpha=alpha, pos_weight=[0.5, 1.0, 3.0])
    reference = ours_torch("SigmoidFocalLoss", x, t, soft_form="p_t", **params)
    check_both("SigmoidFocalLoss", x, t, reference, labels=False, soft_form=soft_form, **params)
    # and they do differ on soft targets
    soft = rng.random(shape)
    values = {form: ours_torch("SigmoidFocalLoss", x, soft, soft_form=form, **params)[0]
              for form in ("p_t", "per_term", "logit", "exp_bce")}
    assert len({round(float(v), 9) for v in values.values()}) == 4, values


# ----------------------------------------------------------------- 11. Keras CategoricalGeneralizedCrossEntropy


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("layout", sorted(KERAS_SHAPES))
def test_keras_categorical_generalized_cross_entropy(layout, q, from_logits):
    """Keras takes integer labels and probabilities; from logits, the peer is applied to their softmax."""
    shape = KERAS_SHAPES[layout]
    rng = _rng("keras-gce", layout, q, from_logits)
    num_classes = shape[-1]
    logits = rng.normal(size=shape) * 1.5
    x = logits if from_logits else _softmax(logits, -1)
    labels = rng.integers(0, num_classes, size=shape[:-1]).astype(np.int64)
    peer_loss = keras.losses.CategoricalGeneralizedCrossEntropy(q=q, dtype="float64")
    labels_tf = tf.constant(labels)
    peer = tf_value_and_grad(lambda z: peer_loss(labels_tf, tf.nn.softmax(z, axis=-1) if from_logits else z), x)
    params = dict(q=q, from_logits=from_logits)
    assert_same(ours_keras("GeneralizedCrossentropyLoss", x, labels, **params), peer, what="keras")
    assert_same(ours_torch("GeneralizedCrossentropyLoss", x, labels, class_axis=-1, **params), peer, what="torch")
    dense = _one_hot(labels, num_classes, -1)
    assert_same(ours_torch("GeneralizedCrossentropyLoss", x, dense, class_axis=-1, **params), peer,
                what="torch one-hot")


@pytest.mark.parametrize("ignore_index", [None, -100, 1])
def test_generalized_crossentropy_limits(ignore_index):
    """q = 1 is 1 - p_y; q -> 0 tends to the cross-entropy (both over the valid positions)."""
    shape = (2, 4, 3, 5)
    rng = _rng("gce-limits", ignore_index)
    x, labels, _ = _class_problem(rng, shape, "one_hot")
    if ignore_index is not None:
        labels = np.where(rng.random(labels.shape) < 0.3, ignore_index, labels)
    valid = labels != ignore_index
    p = _softmax(x, 1)
    p_y = np.take_along_axis(p, np.where(valid, labels, 0)[:, None], 1)[:, 0]
    value, _ = ours_torch("GeneralizedCrossentropyLoss", x, labels, q=1.0, ignore_index=ignore_index)
    np.testing.assert_allclose(value, (1.0 - p_y)[valid].mean(), rtol=RTOL)
    ce = ours_torch("CategoricalCrossentropyLoss", x, labels, ignore_index=ignore_index)
    near = ours_torch("GeneralizedCrossentropyLoss", x, labels, q=1e-7, ignore_index=ignore_index)
    np.testing.assert_allclose(near[0], ce[0], rtol=1e-6)
    np.testing.assert_allclose(near[1], ce[1], rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 12. PolyLoss reference code


def poly1_reference(logits, labels, epsilon: float, label_smoothing: float, ignore_index: int | None):
    """Leng et al. 2022, Appendix code (``poly1_cross_entropy`` and ``poly1_cross_entropy_label_smooth``), in
    torch, channels-first, per position; ignored positions (label ``ignore_index``) give 0."""
    num_classes = logits.shape[1]
    valid = torch.ones_like(labels, dtype=torch.bool) if ignore_index is None else labels != ignore_index
    safe = torch.where(valid, labels, 0)
    one_hot = F.one_hot(safe, num_classes).movedim(-1, 1).to(logits.dtype)
    smooth_labels = one_hot * (1 - label_smoothing) + label_smoothing / num_classes
    one_minus_pt = (smooth_labels * (1 - torch.softmax(logits, 1))).sum(1)
    ce = F.cross_entropy(logits, one_hot, label_smoothing=label_smoothing, reduction="none")
    return torch.where(valid, ce + epsilon * one_minus_pt, 0.0), valid


@pytest.mark.parametrize("target", ["labels", "one_hot"])
@pytest.mark.parametrize("ignore_index", [None, -100, 2])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("poly_epsilon", [-1.0, 1.0, 2.5])
@pytest.mark.parametrize("layout", ["vector", "map2d"])
def test_poly1_paper_reference(layout, poly_epsilon, label_smoothing, ignore_index, target):
    shape = (7, 4) if layout == "vector" else (2, 4, 3, 5)
    rng = _rng("poly1", layout, poly_epsilon, label_smoothing, ignore_index, target)
    x, labels, _ = _class_problem(rng, shape, "one_hot")
    if ignore_index is not None:
        labels = np.where(rng.random(labels.shape) < 0.3, ignore_index, labels)
    labels_t = torch.as_tensor(labels)

    def reference(z):
        loss, valid = poly1_reference(z, labels_t, poly_epsilon, label_smoothing, ignore_index)
        return loss.sum() / valid.sum()

    peer = torch_value_and_grad(reference, x)
    if target == "labels":
        y = labels
    else:
        # dense targets mark an ignored row as a one-hot encoding of ignore_index would: its channel when
        # ignore_index is a class index, an all-zero row otherwise
        valid = (labels != ignore_index) | (0 <= (ignore_index or 0) < shape[1])
        y = _one_hot(np.where(valid, labels, 0), shape[1], 1) * valid[:, None]
    check_both("Poly1CrossentropyLoss", x, y, peer, labels=target == "labels", poly_epsilon=poly_epsilon,
               label_smoothing=label_smoothing, ignore_index=ignore_index)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize(("label_smoothing", "ignore_index"), [(0.0, None), (0.2, -100), (0.1, 1)])
def test_poly1_epsilon_zero_is_categorical_crossentropy(label_smoothing, ignore_index, from_logits):
    shape = (2, 4, 3, 5)
    rng = _rng("poly1-ce", label_smoothing, ignore_index, from_logits)
    x, labels, _ = _class_problem(rng, shape, "one_hot")
    x = x if from_logits else _softmax(x, 1)
    if ignore_index is not None:
        labels = np.where(rng.random(labels.shape) < 0.3, ignore_index, labels)
    common = dict(label_smoothing=label_smoothing, ignore_index=ignore_index, from_logits=from_logits)
    ce = ours_both_channels_first("CategoricalCrossentropyLoss", x, labels, labels=True, **common)
    for reference in ce:
        check_both("Poly1CrossentropyLoss", x, labels, reference, labels=True, poly_epsilon=0.0, **common)
