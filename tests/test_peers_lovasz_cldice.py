"""Peer equivalences of the Lovász, clDice and top-k losses, in values and gradients.

Every test checks one "Equivalence (tested ...)" claim of
``spec/losses/_lovasz.py``, ``spec/losses/_skeleton.py`` or
``spec/losses/_topk.py`` against the peer itself -- smp 0.6.0
(``LovaszLoss``), kornia 0.9.0 (``lovasz_hinge_loss``,
``lovasz_softmax_loss``), MONAI 1.6.1 (``SoftclDiceLoss``,
``SoftDiceclDiceLoss``) -- or, for SegLoss' ``TopKLoss`` (not installable), a
NumPy transcription written here.  Our torch module and our Keras loss
(channels-last) must both agree with the peer, value and gradient, in float64.

Tolerances: ``RTOL = 1e-12``, ``ATOL = 1e-14``, except for smp's Lovász,
which only runs in float32 (its Jaccard weights go through ``.float()`` and
``torch.dot`` then refuses float64 logits or probabilities): there smp
runs in float32 on float32-representable logits, ours in float64, compared at
``rtol = 1e-6`` and ``atol = 4e-7`` (measured worst: 9e-8 relative in values,
8e-8 absolute in gradient entries of size ~0.03).  Elsewhere the peers run
the same float64 arithmetic up to summation order (kornia sorts, sums and
takes cumulative sums as the spec does; MONAI's ``to_onehot_y`` target
is float32, but a 0/1 map and its skeleton are exact in float32).

Ties: the Lovász losses and the pooling of the soft skeleton are piecewise
linear, and at ties the peers pick other subgradients (smp's ``torch.sort``
is not stable; torch's ``max_pool`` gives a tied window's gradient to one
position, the spec shares it).  The inputs below therefore keep every sorted
error and every pooled probability distinct (random logits, or logits built
from shuffled grids); ties are covered by the parity matrix, not here.

Peer behaviours no parameter setting reproduces are pinned by the
``test_*_not_reproduced`` tests at the end of each section.
"""

from __future__ import annotations

import os
import warnings
import zlib
from functools import partial

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# torch must be imported before tensorflow: keep this order.
# isort: off
import numpy as np
import pytest
import torch

import kornia.losses
import monai.losses
from peer_libraries import smp_losses as load_smp_losses

import losses_torch
import tensorflow as tf
import losses_tf

import autodiff
from autodiff import tf_value_and_grad, torch_value_and_grad

# isort: on

RTOL = 1e-12
ATOL = 1e-14
# smp's Lovász only runs in float32 (see test_smp_lovasz_hinge):
# float32 rounding of O(1) values and of gradient entries of size ~1/pixels.
SMP_F32_RTOL = 1e-6
SMP_F32_ATOL = 4e-7

smp_losses = load_smp_losses()


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by the test case (stable across runs)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _to_last(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def _to_first(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, -1, 1)


def _softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Channels-first one-hot; labels outside ``[0, C)`` give zero rows."""
    classes = np.arange(num_classes).reshape((1, num_classes) + (1,) * (labels.ndim - 1))
    return (labels[:, None] == classes).astype(np.float64)


# Values and gradients at this module's tolerances; looser ones are passed explicitly.
assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


def ours_torch(module, x: np.ndarray, target: np.ndarray):
    y = torch.as_tensor(target)
    return torch_value_and_grad(lambda t: module(t, y), x)


def ours_keras(loss, x_first: np.ndarray, target_last: np.ndarray):
    """Our Keras loss on channels-last copies; the gradient moved back to channels-first."""
    y = tf.constant(target_last)
    value, grad = tf_value_and_grad(lambda t: loss(y, t), _to_last(x_first))
    return value, _to_first(grad)


def hinge_logits(rng: np.random.Generator, targets: np.ndarray) -> np.ndarray:
    """Logits whose hinge errors ``1 - x (2t - 1)`` are pairwise distinct
    (0.05 apart) and never 0: no tie, no hinge kink."""
    errors = rng.choice((np.arange(-60, 140) + 0.5) * 0.05, size=targets.shape, replace=False)
    return (1.0 - errors) * (2.0 * targets - 1.0)


def with_ignored(rng: np.random.Generator, labels: np.ndarray, ignore: int | None, fraction: float = 0.25):
    if ignore is None:
        return labels
    labels = labels.copy()
    mask = rng.random(labels.shape) < fraction
    mask.flat[0] = True
    labels[mask] = ignore
    return labels


# --------------------------------------------------------------------------- 1. Lovász hinge: smp, kornia

HINGE_SHAPES = {"binary-2d": (3, 1, 5, 4), "binary-3d": (2, 1, 3, 4, 3), "multilabel-2d": (2, 3, 4, 4)}


@pytest.mark.parametrize("ignore_index", [None, 255, -1])
@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("case", sorted(HINGE_SHAPES))
def test_smp_lovasz_hinge(case, per_image, ignore_index):
    shape = HINGE_SHAPES[case]
    rng = _rng("smp-hinge", case, per_image, ignore_index)
    targets = rng.integers(0, 2, shape).astype(np.float64)
    targets[-1] = 0.0  # an image without foreground
    # smp computes the Jaccard weights with .float() and its dot product then
    # refuses float64 logits: smp runs in float32, ours in float64 on the
    # same (float32-representable) logits.
    x = hinge_logits(rng, targets).astype(np.float32).astype(np.float64)
    y = with_ignored(rng, targets, ignore_index)
    mode = "binary" if case.startswith("binary") else "multilabel"
    # smp's binary mode takes integer labels without the channel axis
    peer_target = torch.tensor(y[:, 0]).long() if mode == "binary" else torch.tensor(y, dtype=torch.float32)
    peer_loss = smp_losses.LovaszLoss(mode, per_image=per_image, ignore_index=ignore_index)
    peer = torch_value_and_grad(lambda t: peer_loss(t, peer_target), x, dtype="float32")
    params = dict(batch=not per_image, ignore_index=ignore_index)
    tolerance = dict(rtol=SMP_F32_RTOL, atol=SMP_F32_ATOL)
    assert_same(ours_torch(losses_torch.LovaszHingeLoss(**params), x, y), peer, what="torch", **tolerance)
    keras_loss = losses_tf.LovaszHingeLoss(dtype="float64", **params)
    assert_same(ours_keras(keras_loss, x, _to_last(y)), peer, what="keras", **tolerance)


@pytest.mark.parametrize("shape", [(3, 1, 5, 4), (1, 1, 6, 7), (4, 1, 2, 3)])
def test_kornia_lovasz_hinge(shape):
    rng = _rng("kornia-hinge", shape)
    targets = rng.integers(0, 2, shape).astype(np.float64)
    targets[0] = 0.0  # an image without foreground
    x = hinge_logits(rng, targets)
    peer_target = torch.tensor(targets[:, 0]).long()
    peer = torch_value_and_grad(lambda t: kornia.losses.lovasz_hinge_loss(t, peer_target), x)
    assert_same(ours_torch(losses_torch.LovaszHingeLoss(), x, targets), peer, what="torch")
    assert_same(ours_keras(losses_tf.LovaszHingeLoss(dtype="float64"), x, _to_last(targets)), peer, what="keras")


# --------------------------------------------------------------------------- 2. Lovász-Softmax: smp, kornia

SOFTMAX_SHAPES = {"2d": (3, 4, 5, 4), "3d": (2, 3, 3, 4, 3)}


def _multiclass_case(rng: np.random.Generator, shape: tuple[int, ...], ignore_index: int | None):
    """Logits and labels with an absent class and a background-only image;
    ignored pixels (if any) never fill a whole image."""
    label_shape = (shape[0], *shape[2:])
    labels = rng.integers(0, shape[1] - 1, label_shape)  # the last class is absent
    labels[-1] = 0  # a background-only image
    labels = with_ignored(rng, labels, ignore_index)
    return rng.normal(0.0, 1.5, shape), labels


@pytest.mark.parametrize("ignore_index", [None, 255, 1])
@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("dim", sorted(SOFTMAX_SHAPES))
def test_smp_lovasz_softmax(dim, per_image, ignore_index):
    shape = SOFTMAX_SHAPES[dim]
    x, labels = _multiclass_case(_rng("smp-softmax", dim, per_image, ignore_index), shape, ignore_index)
    x = x.astype(np.float32).astype(np.float64)  # smp runs in float32 (see test_smp_lovasz_hinge)
    peer_loss = smp_losses.LovaszLoss("multiclass", per_image=per_image, ignore_index=ignore_index)
    peer_target = torch.tensor(labels)
    peer = torch_value_and_grad(lambda t: peer_loss(t, peer_target), x, dtype="float32")
    params = dict(classes="present", batch=not per_image, ignore_index=ignore_index)
    tolerance = dict(rtol=SMP_F32_RTOL, atol=SMP_F32_ATOL)
    module = losses_torch.LovaszSoftmaxLoss(**params)
    assert_same(ours_torch(module, x, labels), peer, what="torch labels", **tolerance)
    dense = _one_hot(labels, shape[1])  # ignored labels: all-zero rows
    assert_same(ours_torch(module, x, dense), peer, what="torch one-hot", **tolerance)
    keras_loss = losses_tf.LovaszSoftmaxLoss(dtype="float64", **params)
    assert_same(ours_keras(keras_loss, x, labels), peer, what="keras labels", **tolerance)


@pytest.mark.parametrize("weight", [None, [0.5, 2.0, 1.0, 0.25]])
@pytest.mark.parametrize("shape", [(3, 4, 5, 4), (1, 4, 6, 5)])
def test_kornia_lovasz_softmax(shape, weight):
    rng = _rng("kornia-softmax", shape, weight)
    x, labels = _multiclass_case(rng, shape, None)
    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    peer = torch_value_and_grad(lambda t: kornia.losses.lovasz_softmax_loss(t, torch.tensor(labels), weight=w), x)
    # kornia averages w_c l_c over the C classes; ours divides by sum(w)
    scale = 1.0 if weight is None else sum(weight) / len(weight)
    peer = (peer[0] / scale, peer[1] / scale)
    params = dict(classes="all", class_weights=weight)
    assert_same(ours_torch(losses_torch.LovaszSoftmaxLoss(**params), x, labels), peer, what="torch")
    assert_same(ours_keras(losses_tf.LovaszSoftmaxLoss(dtype="float64", **params), x, labels), peer, what="keras")


def test_smp_lovasz_behaviours_not_reproduced():
    """smp 0.6.0: float64 inputs raise (see the module docstring);
    ``from_logits`` is ignored (multiclass always applies a softmax); and with
    ``per_image=True`` an image whose pixels are all ignored makes the
    multiclass loss an empty tensor (first image) or raises (later images).
    Ours takes probabilities as given with ``from_logits=False`` and scores
    such an image 0."""
    rng = _rng("smp-quirks")
    x = rng.normal(size=(2, 3, 4, 4))
    x32, labels = torch.tensor(x, dtype=torch.float32), rng.integers(0, 3, (2, 4, 4))
    with_softmax = smp_losses.LovaszLoss("multiclass", from_logits=True)(x32, torch.tensor(labels))
    without = smp_losses.LovaszLoss("multiclass", from_logits=False)(x32, torch.tensor(labels))
    assert float(with_softmax) == float(without)

    peer_loss = smp_losses.LovaszLoss("multiclass", per_image=True, ignore_index=255)
    ours_loss = losses_torch.LovaszSoftmaxLoss(ignore_index=255, reduction="none")
    for image in (0, 1):
        ignored = labels.copy()
        ignored[image] = 255
        if image == 0:  # the empty first term swallows the mean
            assert peer_loss(x32, torch.tensor(ignored)).numel() == 0
        else:  # adding it in place to the first image's loss fails
            with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
                peer_loss(x32, torch.tensor(ignored))
        ours = ours_loss(torch.tensor(x), torch.tensor(ignored)).numpy()
        assert ours[image] == 0.0 and np.isfinite(ours).all()


# --------------------------------------------------------------------------- 3. clDice: MONAI

CLDICE_SHAPES = {"2d": (2, 3, 6, 5), "3d": (2, 3, 4, 5, 3)}
ACTIVATIONS = {"softmax": {"softmax": True}, "sigmoid": {"sigmoid": True}, "none": {}}


def _cldice_case(rng: np.random.Generator, shape: tuple[int, ...], activation: str):
    """Prediction (logits, or probabilities without activation) and target:
    labels ``(N, 1, ...)`` for softmax / none, multi-label 0/1 maps for sigmoid."""
    x = rng.normal(0.0, 1.5, shape)
    if activation == "sigmoid":
        return x, rng.integers(0, 2, shape).astype(np.float64)
    labels = rng.integers(0, shape[1] - 1, (shape[0], 1, *shape[2:]))  # the last class is absent
    labels[-1] = 0  # a background-only image
    return (x if activation == "softmax" else _softmax(x)), labels


def _ours_for(activation: str) -> dict:
    return {"softmax": {}, "sigmoid": {"multilabel": True}, "none": {"from_logits": False}}[activation]


def _peer_target(target: np.ndarray, activation: str) -> tuple[torch.Tensor, dict]:
    if activation == "sigmoid":
        return torch.tensor(target), {}
    return torch.tensor(target), {"to_onehot_y": True}


def _our_targets(target: np.ndarray, activation: str) -> tuple[np.ndarray, np.ndarray]:
    """(channels-first target, channels-last target) for our losses."""
    if activation == "sigmoid":
        return target, _to_last(target)
    labels = target[:, 0]
    return labels, labels


SMOOTHING = {
    "monai_defaults": ({}, {}),
    "custom": (
        {"smooth_nr": 0.3, "smooth_dr": 2.0, "smooth": 1e-2},
        {"smooth_nr": 0.3, "smooth_dr": 2.0, "smooth": 1e-2},
    ),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", sorted(SMOOTHING))
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("iterations", [0, 1, 3])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dim", sorted(CLDICE_SHAPES))
def test_monai_soft_cldice(dim, activation, iterations, include_background, smoothing, reduction):
    shape = CLDICE_SHAPES[dim]
    x, target = _cldice_case(_rng("cldice", dim, activation, iterations), shape, activation)
    peer_smooth, our_smooth = SMOOTHING[smoothing]
    peer_y, onehot = _peer_target(target, activation)
    peer_loss = monai.losses.SoftclDiceLoss(
        iter_=iterations,
        include_background=include_background,
        reduction=reduction,
        **ACTIVATIONS[activation],
        **onehot,
        **peer_smooth,
    )
    peer = torch_value_and_grad(lambda t: peer_loss(t, peer_y), x)
    params = dict(iterations=iterations, include_background=include_background, **_ours_for(activation), **our_smooth)
    first, last = _our_targets(target, activation)
    module = losses_torch.SoftCldiceLoss(reduction=reduction, **params)
    assert_same(ours_torch(module, x, first), peer, what="torch")
    keras_loss = losses_tf.SoftCldiceLoss(dtype="float64", reduction=reduction, **params)
    assert_same(ours_keras(keras_loss, x, last), peer, what="keras")


@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("iterations", [1, 3])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dim", sorted(CLDICE_SHAPES))
def test_monai_soft_dice_cldice(dim, activation, iterations, alpha, include_background):
    shape = CLDICE_SHAPES[dim]
    x, target = _cldice_case(_rng("dice-cldice", dim, activation, iterations, alpha), shape, activation)
    peer_y, onehot = _peer_target(target, activation)
    smoothing = {"smooth_nr": 0.5, "smooth_dr": 1.5, "smooth": 1e-3} if alpha == 0.3 else {}
    peer_loss = monai.losses.SoftDiceclDiceLoss(
        iter_=iterations,
        alpha=alpha,
        include_background=include_background,
        **ACTIVATIONS[activation],
        **onehot,
        **smoothing,
    )
    peer = torch_value_and_grad(lambda t: peer_loss(t, peer_y), x)
    params = dict(
        iterations=iterations,
        alpha=alpha,
        include_background=include_background,
        **_ours_for(activation),
        **smoothing,
    )
    first, last = _our_targets(target, activation)
    assert_same(ours_torch(losses_torch.SoftDiceCldiceLoss(**params), x, first), peer, what="torch")
    keras_loss = losses_tf.SoftDiceCldiceLoss(dtype="float64", **params)
    assert_same(ours_keras(keras_loss, x, last), peer, what="keras")


def test_monai_dice_cldice_sum_is_not_reproduced():
    """MONAI's ``SoftDiceclDiceLoss(reduction="sum")`` adds Dice summed over
    images *and* classes to clDice summed over images; ours sums per-image
    mixes (Dice averaged over classes), which agrees only with one class.
    With ``reduction="none"`` MONAI broadcasts the (N, C, 1, 1) Dice against
    the (N,) clDice into an (N, C, 1, N) tensor."""
    rng = _rng("dice-cldice-sum")
    x = rng.normal(size=(2, 3, 6, 5))
    labels = rng.integers(0, 3, (2, 1, 6, 5))
    peer = monai.losses.SoftDiceclDiceLoss(softmax=True, to_onehot_y=True, reduction="sum")
    value = float(peer(torch.tensor(x), torch.tensor(labels)))
    ours = float(losses_torch.SoftDiceCldiceLoss(reduction="sum")(torch.tensor(x), torch.tensor(labels[:, 0])))
    dice_sum = float(
        monai.losses.DiceLoss(softmax=True, to_onehot_y=True, smooth_nr=1.0, smooth_dr=1.0, reduction="sum")(
            torch.tensor(x), torch.tensor(labels)
        )
    )
    cldice_sum = float(
        monai.losses.SoftclDiceLoss(softmax=True, to_onehot_y=True, reduction="sum")(
            torch.tensor(x), torch.tensor(labels)
        )
    )
    assert value == pytest.approx(0.5 * dice_sum + 0.5 * cldice_sum, rel=1e-12)
    assert ours == pytest.approx(0.5 * dice_sum / 3 + 0.5 * cldice_sum, rel=1e-12)
    assert abs(value - ours) > 0.1
    unreduced = monai.losses.SoftDiceclDiceLoss(softmax=True, to_onehot_y=True, reduction="none")(
        torch.tensor(x), torch.tensor(labels)
    )
    assert tuple(unreduced.shape) == (2, 3, 1, 2)


# --------------------------------------------------------------------------- 4. top-k CE: SegLoss transcription


def segloss_topk(logits: np.ndarray, labels: np.ndarray, k: float) -> tuple[float, np.ndarray]:
    """SegLoss ``TopKLoss(k=k)`` (``losses_pytorch/ND_Crossentropy.py``) in
    NumPy: per-voxel cross-entropy over the whole batch, the
    ``int(n * k / 100)`` largest, their mean; and the gradient of that mean
    w.r.t. the logits (softmax minus one-hot at the selected voxels, over m).
    Used only without ignored voxels and with ``int(n * k / 100) >= 1``."""
    log_p = _log_softmax(logits)
    nll = -np.take_along_axis(log_p, labels[:, None], 1)[:, 0]
    m = int(nll.size * k / 100)
    chosen = np.argsort(-nll.ravel(), kind="stable")[:m]
    mask = np.zeros(nll.size)
    mask[chosen] = 1.0
    mask = mask.reshape(nll.shape)[:, None]
    grad = mask * (np.exp(log_p) - _one_hot(labels, logits.shape[1])) / m
    return float(nll.ravel()[chosen].mean()), grad


def topk_reference(logits: np.ndarray, targets: np.ndarray, valid: np.ndarray, k: float):
    """The documented semantics with ignored positions: only the n valid
    positions are ranked, m = max(1, floor(n k / 100)) (0 when n = 0)."""
    log_p = _log_softmax(logits)
    nll = -(targets * log_p).sum(axis=1)
    n = int(valid.sum())
    m = min(n, max(1, int(n * k / 100))) if n else 0
    order = np.argsort(-np.where(valid, nll, -1.0).ravel(), kind="stable")[:m]
    mask = np.zeros(nll.size)
    mask[order] = 1.0
    mask = mask.reshape(nll.shape)[:, None]
    if m == 0:
        return 0.0, np.zeros_like(logits)
    grad = mask * (np.exp(log_p) * targets.sum(axis=1, keepdims=True) - targets) / m
    return float((nll.ravel()[order]).sum() / m), grad


TOPK_SHAPES = {"vector": (40, 5), "2d": (2, 4, 5, 6), "3d": (2, 3, 4, 3, 5)}


def _topk_logits(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(0.0, 2.0, shape)


@pytest.mark.parametrize("target_form", ["labels", "one-hot"])
@pytest.mark.parametrize("k", [10.0, 25.0, 7.5, 100.0])
@pytest.mark.parametrize("dim", sorted(TOPK_SHAPES))
def test_segloss_topk(dim, k, target_form):
    shape = TOPK_SHAPES[dim]
    rng = _rng("topk", dim, k, target_form)
    x = _topk_logits(rng, shape)
    labels = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    assert int(labels.size * k / 100) >= 1
    peer = segloss_topk(x, labels, k)
    target = labels if target_form == "labels" else _one_hot(labels, shape[1])
    assert_same(ours_torch(losses_torch.TopkCrossentropyLoss(k=k), x, target), peer, what="torch")
    keras_target = labels if target_form == "labels" else _to_last(target)
    assert_same(ours_keras(losses_tf.TopkCrossentropyLoss(k=k, dtype="float64"), x, keras_target), peer, what="keras")


@pytest.mark.parametrize("ignore_index", [255, 2])
@pytest.mark.parametrize("k", [10.0, 30.0, 1.0])
@pytest.mark.parametrize("dim", sorted(TOPK_SHAPES))
def test_topk_ignored_positions(dim, k, ignore_index):
    shape = TOPK_SHAPES[dim]
    rng = _rng("topk-ignore", dim, k, ignore_index)
    x = _topk_logits(rng, shape)
    labels = with_ignored(rng, rng.integers(0, shape[1], (shape[0], *shape[2:])), ignore_index, 0.4)
    valid = labels != ignore_index
    reference = topk_reference(x, _one_hot(np.where(valid, labels, -1), shape[1]), valid, k)
    params = dict(k=k, ignore_index=ignore_index)
    assert_same(ours_torch(losses_torch.TopkCrossentropyLoss(**params), x, labels), reference, what="torch")
    assert_same(
        ours_keras(losses_tf.TopkCrossentropyLoss(dtype="float64", **params), x, labels), reference, what="keras"
    )


def test_segloss_topk_behaviours_not_reproduced():
    """SegLoss selects ``int(n k / 100)`` voxels: none (a NaN mean) when that
    is 0, where ours keeps the single hardest position; and it ranks ignored
    voxels as 0-loss candidates counted in n, where ours leaves them out."""
    rng = _rng("topk-quirks")
    x = rng.normal(size=(2, 4, 3, 5))
    labels = rng.integers(0, 4, (2, 3, 5))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer_value, _ = segloss_topk(x, labels, 2.0)  # int(30 * 2 / 100) = 0
    assert np.isnan(peer_value)
    ours = float(losses_torch.TopkCrossentropyLoss(k=2.0)(torch.tensor(x), torch.tensor(labels)))
    nll = -np.take_along_axis(_log_softmax(x), labels[:, None], 1)
    assert ours == pytest.approx(nll.max(), rel=1e-13)
