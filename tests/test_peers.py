"""Peer equivalences claimed in the spec docstrings, proven in values and gradients.

Every test here checks one "Equivalences (tested ...)" claim of
``spec/losses/_classification.py``, ``spec/losses/_regression.py`` or
``spec/losses/_overlap.py`` against the peer library itself (torch.nn, Keras 3,
MONAI), computed in the test on seeded random inputs: the value and the
gradient with respect to the prediction must agree for our torch module and
for our Keras loss.  Everything runs in float64.

Peer precision notes (why a few comparisons are arranged the way they are):

* MONAI's ``to_onehot_y`` one-hot is float32.  That is exact for the plain
  sums, but with ``squared_pred=True`` MONAI computes ``sum(g^2)`` as
  ``vector_norm(g)**2`` in float32, which rounds for about half of all target
  volumes; those comparisons use a 1e-6 tolerance, and a float64 one-hot
  target (``to_onehot_y=False``) is compared strictly.
* MONAI's generalized Dice computes the class weights ``1/G`` / ``1/G^2`` in
  float32 (``ground_o.float()``).  The strict tests use target volumes that are
  powers of two, where float32 reciprocals are exact; random volumes are
  compared at 1e-6.
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

import losses_torch
import monai.losses

import keras
import tensorflow as tf

import losses_tf

import autodiff
from autodiff import tf_value_and_grad, torch_value_and_grad

# isort: on

RTOL = 1e-12
ATOL = 1e-14
# Only for comparisons that go through MONAI's float32 intermediates (see module docstring).
MONAI_F32_RTOL = 1e-6
MONAI_F32_ATOL = 1e-9


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by the test case (stable across runs, unlike ``hash``)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _to_last(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1)


def _to_first(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, -1, 1)


def _one_hot(labels: np.ndarray, num_classes: int, axis: int) -> np.ndarray:
    dense = np.eye(num_classes, dtype=np.float64)[labels]  # (..., C)
    return dense if axis == -1 else np.moveaxis(dense, -1, axis)


# Values and gradients at this module's tolerances; looser ones are passed explicitly.
assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


def run_torch(loss, x: np.ndarray, y, sample_weight=None):
    y_t = torch.as_tensor(y)
    if sample_weight is None:
        return torch_value_and_grad(lambda t: loss(t, y_t), x)
    sw = torch.as_tensor(sample_weight)
    return torch_value_and_grad(lambda t: loss(t, y_t, sample_weight=sw), x)


def run_keras(loss, y, x: np.ndarray, sample_weight=None):
    """A Keras-convention loss ``loss(y_true, y_pred, sample_weight)``."""
    y_t = tf.constant(y)
    if sample_weight is None:
        return tf_value_and_grad(lambda t: loss(y_t, t), x)
    sw = tf.constant(sample_weight, dtype=tf.float64)
    return tf_value_and_grad(lambda t: loss(y_t, t, sample_weight=sw), x)


def run_keras_channels_first(loss, y_last, x_first: np.ndarray):
    """Our Keras loss (channels-last) on a channels-first problem; gradient moved back to channels-first."""
    value, grad = run_keras(loss, y_last, _to_last(x_first))
    return value, _to_first(grad)


def _labels(rng: np.random.Generator, shape: tuple[int, ...], num_classes: int, ignore: int | None) -> np.ndarray:
    labels = rng.integers(0, num_classes, size=shape)
    if ignore is not None:
        mask = rng.random(shape) < 0.3
        mask.flat[0] = True
        mask.flat[-1] = False
        labels = np.where(mask, ignore, labels)
    return labels.astype(np.int64)


# --------------------------------------------------------------------------- 1. torch CE, integer targets

CE_SHAPES = {"vector": (7, 4), "map2d": (2, 4, 3, 5)}


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("ignore_index", [None, -100, 255, 1])
@pytest.mark.parametrize("class_weights", [None, [0.2, 1.0, 3.0, 0.7]])
@pytest.mark.parametrize("layout", sorted(CE_SHAPES))
def test_torch_cross_entropy_integer_targets(layout, class_weights, ignore_index, label_smoothing):
    shape = CE_SHAPES[layout]
    rng = _rng("ce-int", layout, class_weights, ignore_index, label_smoothing)
    num_classes = shape[1]
    x = rng.normal(size=shape) * 2.0
    labels = _labels(rng, (shape[0], *shape[2:]), num_classes, ignore_index)
    if ignore_index is not None:
        assert (labels == ignore_index).any()

    peer_loss = torch.nn.CrossEntropyLoss(
        weight=None if class_weights is None else torch.tensor(class_weights, dtype=torch.float64),
        ignore_index=-100 if ignore_index is None else ignore_index,
        label_smoothing=label_smoothing,
    )
    peer = run_torch(peer_loss, x, labels)
    params = dict(from_logits=True, class_weights=class_weights, ignore_index=ignore_index,
                  label_smoothing=label_smoothing)
    assert_same(run_torch(losses_torch.CategoricalCrossentropyLoss(**params), x, labels), peer, what="torch")
    keras_loss = losses_tf.CategoricalCrossentropyLoss(dtype="float64", **params)
    assert_same(run_keras_channels_first(keras_loss, labels, x), peer, what="keras")


# --------------------------------------------------------------------------- 2. torch CE, probability targets


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("layout", sorted(CE_SHAPES))
def test_torch_cross_entropy_probability_targets(layout, label_smoothing):
    shape = CE_SHAPES[layout]
    rng = _rng("ce-soft", layout, label_smoothing)
    num_classes = shape[1]
    x = rng.normal(size=shape) * 2.0
    soft_last = rng.dirichlet(np.ones(num_classes), size=(shape[0], *shape[2:]))
    soft = _to_first(soft_last)

    peer = run_torch(torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing), x, soft)
    params = dict(from_logits=True, label_smoothing=label_smoothing)
    assert_same(run_torch(losses_torch.CategoricalCrossentropyLoss(**params), x, soft), peer, what="torch")
    keras_loss = losses_tf.CategoricalCrossentropyLoss(dtype="float64", **params)
    assert_same(run_keras_channels_first(keras_loss, soft_last, x), peer, what="keras")


# --------------------------------------------------------------------------- 3. Keras CCE, channels-last

KERAS_SHAPES = {"vector": (6, 5), "map2d": (2, 3, 4, 5)}


def _keras_prediction(rng: np.random.Generator, shape, from_logits: bool) -> np.ndarray:
    logits = rng.normal(size=shape) * 1.5
    # from_logits=False: a plain numpy softmax, fed as a constant (not a Softmax op)
    return logits if from_logits else _softmax(logits, axis=-1)


@pytest.mark.parametrize("target", ["one_hot", "soft"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("layout", sorted(KERAS_SHAPES))
def test_keras_categorical_crossentropy(layout, from_logits, label_smoothing, target):
    shape = KERAS_SHAPES[layout]
    rng = _rng("keras-cce", layout, from_logits, label_smoothing, target)
    num_classes = shape[-1]
    x = _keras_prediction(rng, shape, from_logits)
    if target == "one_hot":
        y = _one_hot(rng.integers(0, num_classes, size=shape[:-1]), num_classes, -1)
    else:
        y = rng.dirichlet(np.ones(num_classes), size=shape[:-1])

    peer_loss = keras.losses.CategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, dtype="float64"
    )
    peer = run_keras(peer_loss, y, x)
    params = dict(from_logits=from_logits, label_smoothing=label_smoothing)
    assert_same(run_keras(losses_tf.CategoricalCrossentropyLoss(dtype="float64", **params), y, x), peer, what="keras")
    torch_loss = losses_torch.CategoricalCrossentropyLoss(class_axis=-1, **params)
    assert_same(run_torch(torch_loss, x, y), peer, what="torch")


# --------------------------------------------------------------------------- 4. Keras sparse CCE with ignore_class


@pytest.mark.parametrize("ignore_class", [None, -1, 255, 0, 2])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("layout", sorted(KERAS_SHAPES))
def test_keras_sparse_categorical_crossentropy_ignore_class(layout, from_logits, ignore_class):
    shape = KERAS_SHAPES[layout]
    rng = _rng("keras-scce", layout, from_logits, ignore_class)
    num_classes = shape[-1]
    x = _keras_prediction(rng, shape, from_logits)
    labels = _labels(rng, shape[:-1], num_classes, ignore_class)
    if ignore_class is not None:
        assert (labels == ignore_class).any() and (labels != ignore_class).any()

    peer_loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=from_logits, ignore_class=ignore_class, dtype="float64"
    )
    peer = run_keras(peer_loss, labels, x)
    params = dict(from_logits=from_logits, ignore_index=ignore_class)
    assert_same(run_keras(losses_tf.CategoricalCrossentropyLoss(dtype="float64", **params), labels, x), peer,
                what="keras")
    torch_loss = losses_torch.CategoricalCrossentropyLoss(class_axis=-1, **params)
    assert_same(run_torch(torch_loss, x, labels), peer, what="torch")


# --------------------------------------------------------------------------- 5. Keras CCE with sample_weight = w[y]


@pytest.mark.parametrize("our_target", ["labels", "one_hot"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("from_logits", [True, False])
def test_keras_sample_weight_per_position(from_logits, label_smoothing, our_target):
    shape = (2, 3, 4, 4)
    rng = _rng("keras-sw", from_logits, label_smoothing, our_target)
    num_classes = shape[-1]
    x = _keras_prediction(rng, shape, from_logits)
    labels = rng.integers(0, num_classes, size=shape[:-1])
    class_weights = np.array([0.2, 1.0, 3.0, 0.7])
    sample_weight = class_weights[labels]  # (N, H, W): the shape of the loss elements
    one_hot = _one_hot(labels, num_classes, -1)
    y_ours = labels if our_target == "labels" else one_hot

    peer_loss = keras.losses.CategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, dtype="float64"
    )
    peer = run_keras(peer_loss, one_hot, x, sample_weight)
    params = dict(from_logits=from_logits, label_smoothing=label_smoothing)
    keras_loss = losses_tf.CategoricalCrossentropyLoss(dtype="float64", **params)
    assert_same(run_keras(keras_loss, y_ours, x, sample_weight), peer, what="keras")
    torch_loss = losses_torch.CategoricalCrossentropyLoss(class_axis=-1, **params)
    assert_same(run_torch(torch_loss, x, y_ours, sample_weight), peer, what="torch")


# --------------------------------------------------------------------------- 6. binary cross-entropy


def _binary_targets(rng: np.random.Generator, shape, kind: str) -> np.ndarray:
    if kind == "hard":
        return (rng.random(shape) < 0.4).astype(np.float64)
    return rng.random(shape)


@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("pos_weight", [None, 2.5, [0.5, 1.0, 3.0]])
@pytest.mark.parametrize("layout", ["vector", "map2d"])
def test_torch_bce_with_logits_pos_weight(layout, pos_weight, targets):
    shape = (5, 3) if layout == "vector" else (2, 3, 4, 5)
    rng = _rng("bce-torch", layout, pos_weight, targets)
    x = rng.normal(size=shape) * 2.0
    t = _binary_targets(rng, shape, targets)

    if pos_weight is None:
        torch_pw = None
    elif isinstance(pos_weight, list):
        # torch broadcasts pos_weight against the trailing axes: (C, 1, 1) for (N, C, H, W)
        torch_pw = torch.tensor(pos_weight, dtype=torch.float64).reshape((-1,) + (1,) * (len(shape) - 2))
    else:
        torch_pw = torch.tensor(pos_weight, dtype=torch.float64)
    peer = run_torch(torch.nn.BCEWithLogitsLoss(pos_weight=torch_pw), x, t)
    params = dict(from_logits=True, pos_weight=pos_weight)
    assert_same(run_torch(losses_torch.BinaryCrossentropyLoss(**params), x, t), peer, what="torch")
    keras_loss = losses_tf.BinaryCrossentropyLoss(dtype="float64", **params)
    assert_same(run_keras_channels_first(keras_loss, _to_last(t), x), peer, what="keras")


@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("layout", ["vector", "map2d"])
def test_keras_binary_crossentropy_label_smoothing(layout, label_smoothing, targets):
    shape = (5, 3) if layout == "vector" else (2, 4, 5, 3)
    rng = _rng("bce-keras", layout, label_smoothing, targets)
    x = rng.normal(size=shape) * 2.0
    t = _binary_targets(rng, shape, targets)

    peer_loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing, dtype="float64")
    peer = run_keras(peer_loss, t, x)
    params = dict(from_logits=True, label_smoothing=label_smoothing)
    assert_same(run_keras(losses_tf.BinaryCrossentropyLoss(dtype="float64", **params), t, x), peer, what="keras")
    assert_same(run_torch(losses_torch.BinaryCrossentropyLoss(**params), x, t), peer, what="torch")


# --------------------------------------------------------------------------- 7. regression

REGRESSION = {
    "mse": (lambda: torch.nn.MSELoss(), lambda: keras.losses.MeanSquaredError(dtype="float64"),
            "MeanSquaredErrorLoss", {}),
    "mae": (lambda: torch.nn.L1Loss(), lambda: keras.losses.MeanAbsoluteError(dtype="float64"),
            "MeanAbsoluteErrorLoss", {}),
    **{
        f"huber-{d}": (
            lambda d=d: torch.nn.HuberLoss(delta=d),
            lambda d=d: keras.losses.Huber(delta=d, dtype="float64"),
            "HuberLoss",
            {"delta": d},
        )
        for d in (0.3, 1.0, 4.0)
    },
}


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 5)], ids=["2d", "4d"])
@pytest.mark.parametrize("case", sorted(REGRESSION))
def test_regression_peers(case, shape):
    make_torch_peer, make_keras_peer, class_name, params = REGRESSION[case]
    rng = _rng("regression", case, shape)
    x = rng.normal(size=shape) * 2.0
    y = rng.normal(size=shape) * 2.0
    if "delta" in params:  # both branches of the Huber loss are exercised
        residual = np.abs(x - y)
        assert (residual < params["delta"]).any() and (residual > params["delta"]).any()

    torch_peer = run_torch(make_torch_peer(), x, y)
    keras_peer = run_keras(make_keras_peer(), y, x)
    ours_t = run_torch(getattr(losses_torch, class_name)(**params), x, y)
    ours_k = run_keras(getattr(losses_tf, class_name)(dtype="float64", **params), y, x)
    assert_same(ours_t, torch_peer, what="torch vs torch.nn")
    assert_same(ours_k, torch_peer, what="keras vs torch.nn")
    assert_same(ours_t, keras_peer, what="torch vs keras.losses")
    assert_same(ours_k, keras_peer, what="keras vs keras.losses")


# --------------------------------------------------------------------------- 8-11. MONAI overlap losses

SEG_SHAPES = {"2d": (2, 4, 5, 6), "3d": (2, 3, 4, 3, 5)}
SMOOTHING = [(1e-5, 1e-5), (0.0, 1e-6), (0.5, 2.0)]


def _seg_problem(rng: np.random.Generator, shape, absent: bool):
    """Logits (N, C, *spatial) and integer labels (N, *spatial).

    With ``absent`` the last class is missing from the target of sample 0."""
    num_classes = shape[1]
    x = rng.normal(size=shape) * 1.5
    labels = rng.integers(0, num_classes, size=(shape[0], *shape[2:]))
    if absent:
        labels[0] = rng.integers(0, num_classes - 1, size=shape[2:])
        assert not (labels[0] == num_classes - 1).any()
    return x, labels.astype(np.int64)


def _monai_vg(loss, x: np.ndarray, target: np.ndarray):
    target_t = torch.as_tensor(target)
    return torch_value_and_grad(lambda t: loss(t, target_t), x)


def _compare_with_monai(our_name: str, params: dict, x, labels, peer, *, rtol=RTOL, atol=ATOL, scale=1.0):
    """Our torch and Keras losses (integer labels) against a MONAI value/gradient."""
    peer = (peer[0] * scale, peer[1] * scale) if scale != 1.0 else peer
    ours_t = run_torch(getattr(losses_torch, our_name)(**params), x, labels)
    assert_same(ours_t, peer, rtol=rtol, atol=atol, what="torch")
    keras_loss = getattr(losses_tf, our_name)(dtype="float64", **params)
    assert_same(run_keras_channels_first(keras_loss, labels, x), peer, rtol=rtol, atol=atol, what="keras")


@pytest.mark.parametrize("absent", [False, True], ids=["all_present", "class_absent"])
@pytest.mark.parametrize("squared", [False, True], ids=["linear", "squared"])
@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("smoothing", SMOOTHING, ids=str)
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_dice_softmax(dims, smoothing, batch, include_background, squared, absent):
    shape = SEG_SHAPES[dims]
    rng = _rng("dice-softmax", dims, smoothing, batch, include_background, squared, absent)
    x, labels = _seg_problem(rng, shape, absent)
    a, b = smoothing
    peer_loss = monai.losses.DiceLoss(
        softmax=True, to_onehot_y=True, smooth_nr=a, smooth_dr=b, batch=batch,
        include_background=include_background, squared_pred=squared,
    )
    peer = _monai_vg(peer_loss, x, labels[:, None])
    params = dict(from_logits=True, smooth_nr=a, smooth_dr=b, batch=batch,
                  include_background=include_background, squared=squared)
    # squared_pred: MONAI's float32 one-hot makes vector_norm(g)**2 inexact (module docstring)
    tol = dict(rtol=MONAI_F32_RTOL, atol=MONAI_F32_ATOL) if squared else {}
    _compare_with_monai("DiceLoss", params, x, labels, peer, **tol)


@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_dice_softmax_squared_float64_one_hot(dims, batch, include_background):
    """squared_pred=True compared strictly: the same MONAI loss given a float64 one-hot target."""
    shape = SEG_SHAPES[dims]
    rng = _rng("dice-squared64", dims, batch, include_background)
    x, labels = _seg_problem(rng, shape, absent=True)
    peer_loss = monai.losses.DiceLoss(
        softmax=True, smooth_nr=1e-5, smooth_dr=1e-5, batch=batch,
        include_background=include_background, squared_pred=True,
    )
    peer = _monai_vg(peer_loss, x, _one_hot(labels, shape[1], 1))
    params = dict(from_logits=True, smooth_nr=1e-5, smooth_dr=1e-5, batch=batch,
                  include_background=include_background, squared=True)
    _compare_with_monai("DiceLoss", params, x, labels, peer)


@pytest.mark.parametrize("targets", ["multilabel", "one_hot"])
@pytest.mark.parametrize("squared", [False, True], ids=["linear", "squared"])
@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("smoothing", SMOOTHING[:2], ids=str)
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_dice_sigmoid_multilabel(dims, smoothing, batch, include_background, squared, targets):
    """MONAI DiceLoss(sigmoid=True) with one-hot or multi-label float targets = ours with multilabel=True."""
    shape = SEG_SHAPES[dims]
    rng = _rng("dice-sigmoid", dims, smoothing, batch, include_background, squared, targets)
    x = rng.normal(size=shape) * 1.5
    if targets == "multilabel":
        y = (rng.random(shape) < 0.4).astype(np.float64)
    else:
        y = _one_hot(rng.integers(0, shape[1], size=(shape[0], *shape[2:])), shape[1], 1)
    a, b = smoothing
    peer_loss = monai.losses.DiceLoss(
        sigmoid=True, smooth_nr=a, smooth_dr=b, batch=batch,
        include_background=include_background, squared_pred=squared,
    )
    peer = _monai_vg(peer_loss, x, y)
    params = dict(from_logits=True, multilabel=True, smooth_nr=a, smooth_dr=b, batch=batch,
                  include_background=include_background, squared=squared)
    assert_same(run_torch(losses_torch.DiceLoss(**params), x, y), peer, what="torch")
    keras_loss = losses_tf.DiceLoss(dtype="float64", **params)
    assert_same(run_keras_channels_first(keras_loss, _to_last(y), x), peer, what="keras")


@pytest.mark.parametrize("weights", [[0.2, 1.0, 3.0, 0.7], [2.0, 0.5, 0.0, 1.5]], ids=str)
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_dice_class_weight(dims, batch, weights):
    """ours(class_weights=w) * sum(w) / C == MONAI DiceLoss(weight=w)."""
    shape = SEG_SHAPES[dims]
    rng = _rng("dice-weight", dims, batch, weights)
    x, labels = _seg_problem(rng, shape, absent=True)
    num_classes = shape[1]
    weights = weights[:num_classes]
    peer_loss = monai.losses.DiceLoss(
        softmax=True, to_onehot_y=True, batch=batch, weight=torch.tensor(weights, dtype=torch.float64),
    )
    peer = _monai_vg(peer_loss, x, labels[:, None])
    # compare ours to MONAI * C / sum(w), i.e. ours * sum(w) / C == MONAI
    _compare_with_monai("DiceLoss", dict(from_logits=True, batch=batch, class_weights=weights), x, labels, peer,
                        scale=num_classes / sum(weights))


@pytest.mark.parametrize("squared", [False, True], ids=["linear", "squared"])
@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("smoothing", SMOOTHING, ids=str)
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_jaccard(dims, smoothing, batch, include_background, squared):
    shape = SEG_SHAPES[dims]
    rng = _rng("jaccard", dims, smoothing, batch, include_background, squared)
    x, labels = _seg_problem(rng, shape, absent=True)
    a, b = smoothing
    if squared:  # strict: float64 one-hot target (module docstring)
        peer_loss = monai.losses.DiceLoss(
            softmax=True, jaccard=True, smooth_nr=2 * a, smooth_dr=2 * b, batch=batch,
            include_background=include_background, squared_pred=True,
        )
        peer = _monai_vg(peer_loss, x, _one_hot(labels, shape[1], 1))
    else:
        peer_loss = monai.losses.DiceLoss(
            softmax=True, to_onehot_y=True, jaccard=True, smooth_nr=2 * a, smooth_dr=2 * b, batch=batch,
            include_background=include_background,
        )
        peer = _monai_vg(peer_loss, x, labels[:, None])
    params = dict(from_logits=True, smooth_nr=a, smooth_dr=b, batch=batch,
                  include_background=include_background, squared=squared)
    _compare_with_monai("JaccardLoss", params, x, labels, peer)


@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("smoothing", SMOOTHING, ids=str)
@pytest.mark.parametrize("alpha_beta", [(0.5, 0.5), (0.3, 0.7), (0.7, 0.3), (1.0, 1.0)], ids=str)
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_tversky(dims, alpha_beta, smoothing, batch, include_background):
    shape = SEG_SHAPES[dims]
    rng = _rng("tversky", dims, alpha_beta, smoothing, batch, include_background)
    x, labels = _seg_problem(rng, shape, absent=True)
    alpha, beta = alpha_beta
    a, b = smoothing
    peer_loss = monai.losses.TverskyLoss(
        softmax=True, to_onehot_y=True, alpha=alpha, beta=beta, smooth_nr=a, smooth_dr=b, batch=batch,
        include_background=include_background,
    )
    peer = _monai_vg(peer_loss, x, labels[:, None])
    params = dict(from_logits=True, alpha=alpha, beta=beta, gamma=1.0, smooth_nr=a, smooth_dr=b, batch=batch,
                  include_background=include_background)
    _compare_with_monai("TverskyLoss", params, x, labels, peer)


@pytest.mark.parametrize("smoothing", [(1.0, 0.0), (1.0, 0.5)], ids=str)
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_tversky_index_above_one(dims, smoothing):
    """smooth_nr > smooth_dr with a class absent and barely predicted: MONAI's per-class loss 1 - T_c
    goes negative; the claim (gamma=1, same smoothing) must hold there too."""
    shape = SEG_SHAPES[dims]
    rng = _rng("tversky-above-one", dims, smoothing)
    x, labels = _seg_problem(rng, shape, absent=True)
    x[0, -1] -= 8.0  # the class absent from sample 0 is (almost) not predicted there
    a, b = smoothing
    per_class = monai.losses.TverskyLoss(
        softmax=True, to_onehot_y=True, smooth_nr=a, smooth_dr=b, reduction="none",
    )(torch.as_tensor(x), torch.as_tensor(labels[:, None]))
    assert (per_class < 0).any(), "the case 1 - T_c < 0 is not exercised"
    peer_loss = monai.losses.TverskyLoss(softmax=True, to_onehot_y=True, alpha=0.5, beta=0.5, smooth_nr=a,
                                         smooth_dr=b)
    peer = _monai_vg(peer_loss, x, labels[:, None])
    params = dict(from_logits=True, alpha=0.5, beta=0.5, gamma=1.0, smooth_nr=a, smooth_dr=b)
    _compare_with_monai("TverskyLoss", params, x, labels, peer)


# Generalized Dice: per-sample class volumes out of 16 voxels, all powers of two (or 0), and so are
# the per-class batch totals, so MONAI's float32 weights 1/G and 1/G^2 are exact.
GDL_VOLUMES = {
    "all_present": [[8, 4, 2, 2], [8, 4, 2, 2]],
    "absent_in_one_sample": [[8, 4, 4, 0], [8, 4, 0, 4]],  # class 3 / class 2 missing from one sample each
    "absent_in_batch": [[8, 4, 4, 0], [8, 4, 4, 0]],  # class 3 missing from the whole batch
    "only_background_sample": [[16, 0, 0, 0], [0, 8, 4, 4]],  # sample 0 has no foreground class at all
}
GDL_SPATIAL = {"2d": (4, 4), "3d": (2, 4, 2)}


def _labels_with_volumes(rng: np.random.Generator, volumes: list[list[int]], spatial) -> np.ndarray:
    rows = []
    for counts in volumes:
        flat = np.repeat(np.arange(len(counts)), counts)
        assert flat.size == int(np.prod(spatial))
        rows.append(rng.permutation(flat).reshape(spatial))
    return np.stack(rows).astype(np.int64)


@pytest.mark.parametrize("scenario", sorted(GDL_VOLUMES))
@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("w_type", ["square", "simple", "uniform"])
@pytest.mark.parametrize("dims", sorted(GDL_SPATIAL))
def test_monai_generalized_dice(dims, w_type, batch, include_background, scenario):
    spatial = GDL_SPATIAL[dims]
    volumes = GDL_VOLUMES[scenario]
    rng = _rng("gdl", dims, w_type, batch, include_background, scenario)
    labels = _labels_with_volumes(rng, volumes, spatial)
    num_classes = len(volumes[0])
    x = rng.normal(size=(len(volumes), num_classes, *spatial)) * 1.5
    peer_loss = monai.losses.GeneralizedDiceLoss(
        softmax=True, to_onehot_y=True, w_type=w_type, batch=batch, include_background=include_background,
    )
    peer = _monai_vg(peer_loss, x, labels[:, None])
    params = dict(from_logits=True, weight_type=w_type, weight_epsilon=0.0, batch=batch,
                  include_background=include_background)
    _compare_with_monai("GeneralizedDiceLoss", params, x, labels, peer)


@pytest.mark.parametrize("absent", [False, True], ids=["all_present", "class_absent"])
@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("w_type", ["square", "simple"])
@pytest.mark.parametrize("dims", sorted(SEG_SHAPES))
def test_monai_generalized_dice_random_volumes(dims, w_type, batch, include_background, absent):
    """Arbitrary target volumes: MONAI rounds its weights to float32, hence the looser tolerance."""
    shape = SEG_SHAPES[dims]
    rng = _rng("gdl-random", dims, w_type, batch, include_background, absent)
    x, labels = _seg_problem(rng, shape, absent)
    peer_loss = monai.losses.GeneralizedDiceLoss(
        softmax=True, to_onehot_y=True, w_type=w_type, batch=batch, include_background=include_background,
    )
    peer = _monai_vg(peer_loss, x, labels[:, None])
    params = dict(from_logits=True, weight_type=w_type, weight_epsilon=0.0, batch=batch,
                  include_background=include_background)
    _compare_with_monai("GeneralizedDiceLoss", params, x, labels, peer, rtol=MONAI_F32_RTOL, atol=MONAI_F32_ATOL)


# --------------------------------------------------------------------------- 12. Keras Dice and Tversky

# Keras 3.15.1's dice/tversky: one ratio over the summed axes, backend.epsilon() (1e-7) in the
# denominator only, then the mean over what is left.  Leaving the channel axis out of ``axis``
# gives per-class ratios, i.e. our multilabel class average.
KERAS_OVERLAP_AXES = {
    "one_channel_whole_batch": ((3, 4, 5, 1), None, True),
    "one_channel_per_sample": ((3, 4, 5, 1), (1, 2, 3), False),
    "channels_per_sample": ((3, 4, 5, 3), (1, 2), False),
    "channels_whole_batch": ((3, 4, 5, 3), (0, 1, 2), True),
}
KERAS_EPSILON = 1e-7


def _keras_overlap_problem(case: str, *key: object) -> tuple[np.ndarray, np.ndarray]:
    shape = KERAS_OVERLAP_AXES[case][0]
    rng = _rng("keras-overlap", case, *key)
    probs = rng.uniform(0.02, 0.98, size=shape)
    targets = (rng.random(shape) < 0.4).astype(np.float64)
    return probs, targets


@pytest.mark.parametrize("case", sorted(KERAS_OVERLAP_AXES))
def test_keras_dice(case):
    _, axis, batch = KERAS_OVERLAP_AXES[case]
    probs, targets = _keras_overlap_problem(case, "dice")
    peer = run_keras(keras.losses.Dice(axis=axis, dtype="float64"), targets, probs)
    params = dict(class_axis=-1, from_logits=False, multilabel=True, smooth_nr=0.0, smooth_dr=KERAS_EPSILON,
                  batch=batch)
    assert_same(run_torch(losses_torch.DiceLoss(**params), probs, targets), peer, what="torch")
    assert_same(run_keras(losses_tf.DiceLoss(dtype="float64", **params), targets, probs), peer, what="keras")


@pytest.mark.parametrize("alpha_beta", [(0.3, 0.7), (0.7, 0.3), (0.5, 0.5), (1.0, 0.2)], ids=str)
@pytest.mark.parametrize("case", sorted(KERAS_OVERLAP_AXES))
def test_keras_tversky_swaps_alpha_and_beta(case, alpha_beta):
    """Keras 3.15.1 weighs false negatives by ``alpha``: ours with the two swapped equals it."""
    _, axis, batch = KERAS_OVERLAP_AXES[case]
    keras_alpha, keras_beta = alpha_beta
    probs, targets = _keras_overlap_problem(case, "tversky", alpha_beta)
    peer = run_keras(keras.losses.Tversky(alpha=keras_alpha, beta=keras_beta, axis=axis, dtype="float64"),
                     targets, probs)
    params = dict(class_axis=-1, from_logits=False, multilabel=True, alpha=keras_beta, beta=keras_alpha, gamma=1.0,
                  smooth_nr=0.0, smooth_dr=KERAS_EPSILON, batch=batch)
    assert_same(run_torch(losses_torch.TverskyLoss(**params), probs, targets), peer, what="torch")
    assert_same(run_keras(losses_tf.TverskyLoss(dtype="float64", **params), targets, probs), peer, what="keras")
