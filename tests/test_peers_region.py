"""Peer equivalences claimed by ``spec/losses/_region.py``, proven in values and gradients.

Every test computes a peer library's loss on seeded random inputs and checks
that our torch module and our Keras loss give the same value and the same
gradient with respect to the prediction (logits, or probabilities where the
peer takes probabilities).  Peers: MONAI (1.6.1 installed) for the asymmetric
unified focal family, MCC, log-cosh of Dice and the generalized Wasserstein
Dice; segmentation_models_pytorch 0.6.0 for focal Tversky and binary MCC; a
direct NumPy implementation of the paper's formula (with its analytic
gradient) for sensitivity-specificity, which no installed library has.
Keras 3.15.1 has none of these losses.

Tolerances: everything runs in float64 and is compared at ``rtol=1e-12,
atol=1e-14`` -- these peers keep float64 throughout; their float32 pieces
(MONAI's one-hot targets and ignore masks, its 0/1 Wasserstein weights) are
exact.  One exception: MONAI's ``GeneralizedWassersteinDiceLoss`` computes
the GDL weights ``1/(V_c + 1)`` in float32, so the strict GDL tests use
class volumes with ``V_c + 1`` a power of two (exact reciprocals) and random
volumes are compared at ``rtol=1e-6``.

Peer behaviours no parameter reproduces (written down, with the test that
measures them where one can):

* smp zeroes the Tversky loss of a class absent from the whole batch but
  keeps it in the class average
  (``test_smp_tversky_absent_class_divergence``).
* MONAI ``MCCLoss`` with ``smooth_dr=0`` gives NaN for a class absent from
  the target; ours defines its MCC as 0, i.e. loss 1
  (``test_monai_mcc_unsmoothed_absent_class``).
* MONAI ``AsymmetricUnifiedFocalLoss(ignore_index=k)`` keeps ignored
  positions in its focal mean and their clamped prediction in the Tversky
  false positives; ours excludes them, so only its components are compared
  with ``ignore_index``.
* MONAI <= 1.5 ``GeneralizedWassersteinDiceLoss`` mixes the samples of a
  batch; with such a version the batched comparison uses the mean of
  single-sample MONAI values (``test_monai_gwdl_batch_equals_single_samples``
  records which behaviour the installed version has).
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
import monai
import monai.losses
from monai.losses import unified_focal_loss
from peer_libraries import smp_losses


import losses_tf

import autodiff
from autodiff import torch_value_and_grad

# isort: on

RTOL = 1e-12
ATOL = 1e-14
MONAI_VERSION = tuple(int(part) for part in monai.__version__.split(".")[:2])
SHAPES = {"2d": (2, 4, 5, 6), "3d": (2, 3, 4, 3, 5)}
BINARY_SHAPES = {"2d": (2, 2, 5, 6), "3d": (2, 2, 4, 3, 5)}


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.moveaxis(np.eye(num_classes)[labels], -1, 1)


def _labels(rng: np.random.Generator, shape: tuple[int, ...], *, absent: bool = False) -> np.ndarray:
    """Integer labels ``(N, *spatial)`` for ``shape = (N, C, *spatial)``, every
    class present in the batch, or (``absent``) the last class missing from sample 0."""
    num_classes, spatial = shape[1], shape[2:]
    while True:
        labels = rng.integers(0, num_classes, size=(shape[0], *spatial))
        if absent:
            labels[0] = rng.integers(0, num_classes - 1, size=spatial)
        if len(np.unique(labels)) == num_classes:
            return labels.astype(np.int64)


# Values and gradients at this module's tolerances; looser ones are passed explicitly.
assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


def ours(class_name: str, params: dict, x: np.ndarray, target: np.ndarray) -> dict:
    """Value and gradient of our torch module (channels-first) and of our Keras
    loss (run channels-last, gradient moved back) for channels-first inputs;
    ``target`` is integer labels or a dense channels-first array."""
    torch_loss = getattr(losses_torch, class_name)(**params)
    keras_loss = getattr(losses_tf, class_name)(dtype="float64", **params)
    return autodiff.channels_first_both(torch_loss, keras_loss, x, target)


def assert_ours_match(class_name: str, params: dict, x, target, peer, **tolerance) -> None:
    for framework, result in ours(class_name, params, x, target).items():
        assert_same(result, peer, what=framework, **tolerance)


def peer_vg(loss, x: np.ndarray, target, *, activation=None):
    """A torch peer's value and gradient; ``activation`` (e.g. a softmax) is
    applied to ``x`` inside the graph, so the gradient is w.r.t. ``x``."""
    target_t = torch.as_tensor(target)
    return torch_value_and_grad(lambda t: loss(t if activation is None else activation(t), target_t), x)


def softmax_1(t: torch.Tensor) -> torch.Tensor:
    return torch.softmax(t, 1)


# --------------------------------------------------------------------------- focal Tversky vs smp


@pytest.mark.parametrize("class_weights", [None, [0.5, 2.0, 1.0, 0.25]], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smooth", [0.0, 0.5])
@pytest.mark.parametrize("gamma", [1.0, 0.75, 2.0])
@pytest.mark.parametrize("alpha_beta", [(0.5, 0.5), (0.3, 0.7), (0.8, 0.2)], ids=str)
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_smp_focal_tversky_multiclass(dims, alpha_beta, gamma, smooth, class_weights):
    shape = SHAPES[dims]
    rng = _rng("ft-multiclass", dims, alpha_beta, gamma, smooth, class_weights)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape)
    weights = None if class_weights is None else class_weights[: shape[1]]
    alpha, beta = alpha_beta
    peer = peer_vg(
        smp_losses().TverskyLoss(
            "multiclass", alpha=alpha, beta=beta, gamma=gamma, smooth=smooth, class_weights=weights
        ),
        x,
        labels,
    )
    params = dict(
        alpha=alpha, beta=beta, gamma=gamma, smooth=smooth, focal_scope="mean", batch=True, class_weights=weights
    )
    assert_ours_match("FocalTverskyLoss", params, x, labels, peer)


@pytest.mark.parametrize("class_weights", [None, [0.5, 2.0, 1.0, 0.25]], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smooth", [0.0, 0.25])
@pytest.mark.parametrize("gamma", [1.0, 0.75, 2.0])
@pytest.mark.parametrize("alpha_beta", [(0.3, 0.7), (0.8, 0.2)], ids=str)
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_smp_focal_tversky_multilabel(dims, alpha_beta, gamma, smooth, class_weights):
    shape = SHAPES[dims]
    rng = _rng("ft-multilabel", dims, alpha_beta, gamma, smooth, class_weights)
    x = rng.normal(size=shape) * 1.5
    y = (rng.random(shape) < 0.4).astype(np.float64)
    assert (y.sum(axis=(0, *range(2, len(shape)))) > 0).all()
    weights = None if class_weights is None else class_weights[: shape[1]]
    alpha, beta = alpha_beta
    peer_loss = smp_losses().TverskyLoss(
        "multilabel", alpha=alpha, beta=beta, gamma=gamma, smooth=smooth, class_weights=weights
    )
    peer = peer_vg(peer_loss, x, y)
    params = dict(alpha=alpha, beta=beta, gamma=gamma, smooth=smooth, focal_scope="mean", batch=True,
                  multilabel=True, class_weights=weights)
    assert_ours_match("FocalTverskyLoss", params, x, y, peer)


@pytest.mark.parametrize("focal_scope", ["class", "mean"])
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_smp_focal_tversky_binary(dims, focal_scope):
    """One foreground channel: both scopes are smp's binary mode."""
    shape = (SHAPES[dims][0], 1, *SHAPES[dims][2:])
    rng = _rng("ft-binary", dims, focal_scope)
    x = rng.normal(size=shape) * 1.5
    y = (rng.random(shape) < 0.3).astype(np.float64)
    peer = peer_vg(smp_losses().TverskyLoss("binary", alpha=0.3, beta=0.7, gamma=0.75), x, y)
    params = dict(gamma=0.75, smooth=0.0, focal_scope=focal_scope, batch=True, multilabel=True)
    assert_ours_match("FocalTverskyLoss", params, x, y, peer)


@pytest.mark.parametrize("gamma", [1.0, 0.75])
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_smp_focal_tversky_ignore_index(dims, gamma):
    shape = SHAPES[dims]
    rng = _rng("ft-ignore", dims, gamma)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape)
    ignored = rng.random(labels.shape) < 0.3
    labels = np.where(ignored, 255, labels)
    assert ignored.any() and all((labels == c).any() for c in range(shape[1]))
    peer = peer_vg(smp_losses().TverskyLoss("multiclass", gamma=gamma, ignore_index=255), x, labels)
    params = dict(alpha=0.5, beta=0.5, gamma=gamma, smooth=0.0, focal_scope="mean", batch=True, ignore_index=255)
    assert_ours_match("FocalTverskyLoss", params, x, labels, peer)


@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_smp_tversky_absent_class_divergence(gamma):
    """Measured divergence: smp scores a class absent from the whole batch 0 but
    keeps it in the class mean, so smp = ((C - 1)/C * ours(that class weighted 0))^gamma,
    a data-dependent rescaling no parameter gives."""
    shape = SHAPES["2d"]
    rng = _rng("ft-absent", gamma)
    x = rng.normal(size=shape) * 1.5
    labels = rng.integers(0, shape[1] - 1, size=(shape[0], *shape[2:]))  # last class absent from the batch
    smp_value = float(smp_losses().TverskyLoss("multiclass", gamma=gamma)(torch.tensor(x), torch.tensor(labels)))
    weights = [1.0] * (shape[1] - 1) + [0.0]
    loss = losses_torch.FocalTverskyLoss(
        alpha=0.5, beta=0.5, gamma=1.0, smooth=0.0, batch=True, focal_scope="mean", class_weights=weights
    )
    mean_over_present = float(loss(torch.tensor(x), torch.tensor(labels)))
    np.testing.assert_allclose(smp_value, ((shape[1] - 1) / shape[1] * mean_over_present) ** gamma, rtol=RTOL)
    unweighted = losses_torch.FocalTverskyLoss(
        alpha=0.5, beta=0.5, gamma=gamma, smooth=0.0, batch=True, focal_scope="mean"
    )
    assert abs(float(unweighted(torch.tensor(x), torch.tensor(labels))) - smp_value) > 1e-3


def test_focal_tversky_class_scope_is_tversky():
    """focal_scope="class" is the tversky loss itself (a preset-style spec, not a second formula)."""
    shape = SHAPES["3d"]
    rng = _rng("ft-is-tversky")
    x = rng.normal(size=shape)
    labels = _labels(rng, shape, absent=True)
    params = dict(alpha=0.3, beta=0.7, gamma=0.75, smooth_nr=0.5, smooth_dr=1e-3, class_weights=[1.0, 2.0, 0.5])
    focal = ours("FocalTverskyLoss", {**params, "focal_scope": "class"}, x, labels)
    plain = ours("TverskyLoss", params, x, labels)
    for framework in focal:
        assert_same(focal[framework], plain[framework], rtol=0.0, atol=0.0, what=framework)


# --------------------------------------------------------------------------- asymmetric unified focal family vs MONAI


def _binary_problem(rng: np.random.Generator, dims: str, probabilities: bool):
    """Two-class logits or probabilities (channels-first) and labels.  Logits
    within [-2, 2] keep every probability inside [1e-2, 1 - 1e-2], where
    MONAI's clamp (epsilon <= 1e-2) is inactive when it is fed softmax(x)."""
    shape = BINARY_SHAPES[dims]
    x = np.clip(rng.normal(size=shape) * 1.2, -2.0, 2.0)
    probs = _softmax(x)
    assert probs.min() > 1e-2
    labels = _labels(rng, shape)
    return (probs if probabilities else x), labels


def _with_ignored(rng: np.random.Generator, labels: np.ndarray, ignore_index: int | None) -> np.ndarray:
    if ignore_index is None:
        return labels
    mask = rng.random(labels.shape) < 0.3
    mask.flat[0] = True
    return np.where(mask, ignore_index, labels)


def _monai_target(labels: np.ndarray, form: str, num_classes: int = 2) -> tuple[np.ndarray, dict]:
    """MONAI's target for ``labels``: a ``(N, 1, ...)`` label map with
    ``to_onehot_y=True``, or a float one-hot (all-zero rows where the label is out of range)."""
    if form == "labels":
        return labels[:, None], {"to_onehot_y": True}
    in_range = (labels >= 0) & (labels < num_classes)
    dense = _one_hot(np.where(in_range, labels, 0), num_classes) * in_range[:, None]
    return dense, {}


def _our_target(labels: np.ndarray, form: str, num_classes: int = 2) -> np.ndarray:
    return labels if form == "labels" else _monai_target(labels, form, num_classes)[0]


@pytest.mark.parametrize("ignore_index", [None, 255, 1], ids=["no_ignore", "ignore_255", "ignore_class_1"])
@pytest.mark.parametrize("form", ["labels", "one_hot"])
@pytest.mark.parametrize("delta_gamma", [(0.7, 2.0), (0.4, 0.5), (0.9, 0.0)], ids=str)
@pytest.mark.parametrize("space", ["logits", "probabilities"])
@pytest.mark.parametrize("dims", sorted(BINARY_SHAPES))
def test_monai_asymmetric_focal(dims, space, delta_gamma, form, ignore_index):
    rng = _rng("afl", dims, space, delta_gamma, form, ignore_index)
    x, labels = _binary_problem(rng, dims, space == "probabilities")
    labels = _with_ignored(rng, labels, ignore_index)  # one-hot form: all-zero rows, or class 1, are ignored
    delta, gamma = delta_gamma
    target, flags = _monai_target(labels, form)
    peer_loss = unified_focal_loss.AsymmetricFocalLoss(delta=delta, gamma=gamma, ignore_index=ignore_index, **flags)
    peer = peer_vg(peer_loss, x, target, activation=softmax_1 if space == "logits" else None)
    params = dict(from_logits=space == "logits", delta=delta, gamma=gamma, ignore_index=ignore_index)
    assert_ours_match("AsymmetricFocalLoss", params, x, _our_target(labels, form), peer)


@pytest.mark.parametrize("epsilon", [1e-7, 1e-2])
@pytest.mark.parametrize("dims", sorted(BINARY_SHAPES))
def test_monai_asymmetric_focal_clamped_probabilities(dims, epsilon):
    """Probabilities reaching 0 and 1: MONAI's clamp is ours (from_logits=False)."""
    rng = _rng("afl-clamp", dims, epsilon)
    x, labels = _binary_problem(rng, dims, probabilities=True)
    x = x.copy()
    x[0, 0, 0], x[0, 1, 0] = 1.0, 0.0  # saturated positions, clamped in both
    x[1, 0, 1], x[1, 1, 1] = 0.995, 0.005  # inside the clip for 1e-7, outside for 1e-2
    peer = peer_vg(unified_focal_loss.AsymmetricFocalLoss(to_onehot_y=True, epsilon=epsilon), x, labels[:, None])
    assert_ours_match("AsymmetricFocalLoss", dict(from_logits=False, epsilon=epsilon), x, labels, peer)


@pytest.mark.parametrize("ignore_index", [None, 255, 1], ids=["no_ignore", "ignore_255", "ignore_class_1"])
@pytest.mark.parametrize("form", ["labels", "one_hot"])
@pytest.mark.parametrize("delta_gamma", [(0.7, 0.75), (0.4, 0.3), (0.6, 0.0)], ids=str)
@pytest.mark.parametrize("epsilon", [1e-7, 1e-2])
@pytest.mark.parametrize("space", ["logits", "probabilities"])
@pytest.mark.parametrize("dims", sorted(BINARY_SHAPES))
def test_monai_asymmetric_focal_tversky(dims, space, epsilon, delta_gamma, form, ignore_index):
    rng = _rng("aftl", dims, space, epsilon, delta_gamma, form, ignore_index)
    x, labels = _binary_problem(rng, dims, space == "probabilities")
    labels = _with_ignored(rng, labels, ignore_index)
    delta, gamma = delta_gamma
    target, flags = _monai_target(labels, form)
    peer_loss = unified_focal_loss.AsymmetricFocalTverskyLoss(
        delta=delta, gamma=gamma, epsilon=epsilon, ignore_index=ignore_index, **flags
    )
    peer = peer_vg(peer_loss, x, target, activation=softmax_1 if space == "logits" else None)
    params = dict(from_logits=space == "logits", delta=delta, gamma=gamma, epsilon=epsilon, ignore_index=ignore_index)
    assert_ours_match("AsymmetricFocalTverskyLoss", params, x, _our_target(labels, form), peer)


@pytest.mark.parametrize("form", ["labels", "one_hot"])
@pytest.mark.parametrize("weight_delta_gamma", [(0.5, 0.7, 0.5), (0.2, 0.6, 0.2), (0.9, 0.3, 0.8)], ids=str)
@pytest.mark.parametrize("space", ["logits", "probabilities"])
@pytest.mark.parametrize("dims", sorted(BINARY_SHAPES))
def test_monai_asymmetric_unified_focal(dims, space, weight_delta_gamma, form):
    rng = _rng("aufl", dims, space, weight_delta_gamma, form)
    x, labels = _binary_problem(rng, dims, space == "probabilities")
    weight, delta, gamma = weight_delta_gamma
    target, flags = _monai_target(labels, form)
    peer_loss = monai.losses.AsymmetricUnifiedFocalLoss(weight=weight, delta=delta, gamma=gamma, **flags)
    peer = peer_vg(peer_loss, x, target, activation=softmax_1 if space == "logits" else None)
    params = dict(from_logits=space == "logits", focal_weight=weight, delta=delta, gamma=gamma)
    assert_ours_match("AsymmetricUnifiedFocalLoss", params, x, _our_target(labels, form), peer)


@pytest.mark.parametrize("dims", sorted(BINARY_SHAPES))
def test_monai_asymmetric_unified_focal_single_channel(dims):
    """MONAI's one-channel input p = sigmoid(x), expanded to [1 - p, p], is our
    two-channel logits [0, x] (softmax([0, x]) = [1 - sigmoid(x), sigmoid(x)])."""
    shape = (BINARY_SHAPES[dims][0], 1, *BINARY_SHAPES[dims][2:])
    rng = _rng("aufl-1ch", dims)
    x = rng.normal(size=shape) * 1.5
    y = (rng.random(shape) < 0.4).astype(np.int64)
    peer = peer_vg(monai.losses.AsymmetricUnifiedFocalLoss(), x, y.astype(np.float64), activation=torch.sigmoid)
    two_channel = np.concatenate([np.zeros_like(x), x], axis=1)
    for framework, (value, grad) in ours("AsymmetricUnifiedFocalLoss", {}, two_channel, y[:, 0]).items():
        assert_same((value, grad[:, 1:]), peer, what=framework)


# --------------------------------------------------------------------------- MCC vs MONAI and smp


@pytest.mark.parametrize("absent", [False, True], ids=["all_present", "class_absent"])
@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("smoothing", [(0.0, 1e-5), (0.5, 1e-3), (1e-5, 1.0)], ids=str)
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_mcc_softmax(dims, smoothing, batch, include_background, absent):
    shape = SHAPES[dims]
    rng = _rng("mcc-softmax", dims, smoothing, batch, include_background, absent)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape, absent=absent)
    a, b = smoothing
    peer_loss = monai.losses.MCCLoss(
        softmax=True, to_onehot_y=True, smooth_nr=a, smooth_dr=b, batch=batch, include_background=include_background
    )
    peer = peer_vg(peer_loss, x, labels[:, None])
    params = dict(smooth_nr=a, smooth_dr=b, batch=batch, include_background=include_background)
    assert_ours_match("MccLoss", params, x, labels, peer)


@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("smoothing", [(0.0, 0.0), (0.5, 1e-3), (1e-5, 1.0)], ids=str)
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_mcc_sigmoid_multilabel(dims, smoothing, batch, include_background):
    shape = SHAPES[dims]
    rng = _rng("mcc-sigmoid", dims, smoothing, batch, include_background)
    x = rng.normal(size=shape) * 1.5
    y = (rng.random(shape) < 0.4).astype(np.float64)
    a, b = smoothing
    peer_loss = monai.losses.MCCLoss(
        sigmoid=True, smooth_nr=a, smooth_dr=b, batch=batch, include_background=include_background
    )
    peer = peer_vg(peer_loss, x, y)
    params = dict(multilabel=True, smooth_nr=a, smooth_dr=b, batch=batch, include_background=include_background)
    assert_ours_match("MccLoss", params, x, y, peer)


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_mcc_perfect_prediction_rule(dims):
    """A class predicted exactly (FP = FN = 0) scores 0 in both, even where
    its margins make the plain formula degenerate (TP = 0 for an absent class)."""
    shape = SHAPES[dims]
    rng = _rng("mcc-perfect", dims)
    labels = _labels(rng, shape, absent=True)
    probs = _softmax(rng.normal(size=shape))
    probs[0] = _one_hot(labels, shape[1])[0]  # sample 0 exact (its last class absent), sample 1 random
    peer = peer_vg(monai.losses.MCCLoss(to_onehot_y=True), probs, labels[:, None])
    np.testing.assert_allclose(peer[1][0], 0.0, atol=0.0)
    assert_ours_match("MccLoss", dict(from_logits=False), probs, labels, peer)


def test_monai_mcc_unsmoothed_absent_class():
    """Measured divergence: with smooth_dr=0 MONAI divides 0 by 0 for an absent class; ours scores it 0."""
    shape = SHAPES["2d"]
    rng = _rng("mcc-nan")
    x = rng.normal(size=shape)
    labels = _labels(rng, shape, absent=True)
    peer_loss = monai.losses.MCCLoss(softmax=True, to_onehot_y=True, smooth_dr=0.0, reduction="none")
    per_class = peer_loss(torch.tensor(x), torch.tensor(labels[:, None])).numpy()
    assert np.isnan(per_class[0, -1]) and np.isfinite(np.delete(per_class.ravel(), shape[1] - 1)).all()
    for framework, (value, grad) in ours("MccLoss", dict(smooth_dr=0.0), x, labels).items():
        assert np.isfinite(value) and np.isfinite(grad).all(), framework
    per_sample = losses_torch.MccLoss(smooth_dr=0.0, reduction="none")(torch.tensor(x), torch.tensor(labels)).numpy()
    expected = np.where(np.isnan(per_class), 1.0, per_class).mean(axis=1)  # absent class: MCC 0, loss 1
    np.testing.assert_allclose(per_sample, expected, rtol=RTOL)


@pytest.mark.parametrize("space", ["logits", "probabilities"])
@pytest.mark.parametrize("eps", [1e-5, 0.1])
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_smp_mcc_binary(dims, eps, space):
    shape = (SHAPES[dims][0], 1, *SHAPES[dims][2:])
    rng = _rng("mcc-smp", dims, eps, space)
    logits = rng.normal(size=shape) * 1.5
    y = (rng.random(shape) < 0.4).astype(np.float64)
    x = logits if space == "logits" else _sigmoid(logits)
    activation = torch.sigmoid if space == "logits" else None
    peer = peer_vg(smp_losses().MCCLoss(eps=eps), x, y, activation=activation)
    params = dict(from_logits=space == "logits", multilabel=True, batch=True, epsilon=eps, smooth_nr=0.0, smooth_dr=0.0)
    assert_ours_match("MccLoss", params, x, y, peer)


# --------------------------------------------------------------------------- sensitivity-specificity vs NumPy


def _ss_reference(probs: np.ndarray, targets: np.ndarray, *, r: float, smooth: float, batch: bool, keep: list[int]):
    """Brosch et al.'s sensitivity-specificity loss per class and its gradient
    w.r.t. the probabilities, written directly from the paper's formula."""
    axes = tuple(range(2, probs.ndim)) if not batch else (0, *range(2, probs.ndim))
    error = (targets - probs) ** 2
    positives, negatives = targets.sum(axis=axes, keepdims=True), (1.0 - targets).sum(axis=axes, keepdims=True)
    sens_den, spec_den = positives + smooth, negatives + smooth
    sens = np.divide(
        (error * targets).sum(axis=axes, keepdims=True), sens_den, out=np.zeros_like(sens_den), where=sens_den > 0
    )
    spec = np.divide(
        (error * (1 - targets)).sum(axis=axes, keepdims=True), spec_den, out=np.zeros_like(spec_den), where=spec_den > 0
    )
    per_class = (r * sens + (1.0 - r) * spec)[:, keep]
    value = per_class.mean()
    # d/dp of (g - p)^2 * w is -2 (g - p) w; each per-class term enters the mean with weight 1/count
    count = per_class.size
    safe_sens = np.where(sens_den > 0, sens_den, 1.0)
    safe_spec = np.where(spec_den > 0, spec_den, 1.0)
    grad = -2.0 * (targets - probs) * (r * targets / safe_sens + (1.0 - r) * (1.0 - targets) / safe_spec)
    kept = np.zeros(probs.shape[1])
    kept[keep] = 1.0
    grad = grad * kept.reshape((1, -1) + (1,) * (probs.ndim - 2)) / count
    return value, grad


def _softmax_backward(probs: np.ndarray, grad_p: np.ndarray) -> np.ndarray:
    return probs * (grad_p - (grad_p * probs).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("target", ["labels", "multilabel"])
@pytest.mark.parametrize("absent", [False, True], ids=["all_present", "class_absent"])
@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("r_smooth", [(0.1, 1.0), (0.5, 0.0), (0.95, 1e-3)], ids=str)
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_sensitivity_specificity_paper_formula(dims, r_smooth, batch, include_background, absent, target):
    shape = SHAPES[dims]
    rng = _rng("ss", dims, r_smooth, batch, include_background, absent, target)
    x = rng.normal(size=shape) * 1.5
    if target == "labels":
        labels = _labels(rng, shape, absent=absent)
        y, dense, probs = labels, _one_hot(labels, shape[1]), _softmax(x)
    else:
        dense = (rng.random(shape) < 0.4).astype(np.float64)
        if absent:
            dense[0, -1] = 0.0
        y, probs = dense, _sigmoid(x)
    r, smooth = r_smooth
    keep = list(range(0 if include_background else 1, shape[1]))
    value, grad_p = _ss_reference(probs, dense, r=r, smooth=smooth, batch=batch, keep=keep)
    grad_x = _softmax_backward(probs, grad_p) if target == "labels" else grad_p * probs * (1.0 - probs)
    params = dict(
        sensitivity_weight=r,
        smooth=smooth,
        batch=batch,
        include_background=include_background,
        multilabel=target == "multilabel",
    )
    assert_ours_match("SensitivitySpecificityLoss", params, x, y, (value, grad_x))


# --------------------------------------------------------------------------- log-cosh Dice vs MONAI Dice


@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("smoothing", [(1e-5, 1e-5), (0.0, 1e-6), (0.5, 2.0)], ids=str)
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_log_cosh_dice(dims, smoothing, batch, include_background):
    shape = SHAPES[dims]
    rng = _rng("log-cosh-dice", dims, smoothing, batch, include_background)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape, absent=True)
    a, b = smoothing
    dice = monai.losses.DiceLoss(
        softmax=True,
        to_onehot_y=True,
        smooth_nr=a,
        smooth_dr=b,
        batch=batch,
        include_background=include_background,
        reduction="none",
    )

    def peer_loss(t: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per_class = dice(t, target)  # (N, C, 1, ...) or (C, 1, ...) with batch
        per_sample = per_class.reshape(per_class.shape[0], -1).mean(dim=1) if not batch else per_class.mean()
        return torch.log(torch.cosh(per_sample)).mean()

    peer = peer_vg(peer_loss, x, labels[:, None])
    params = dict(smooth_nr=a, smooth_dr=b, batch=batch, include_background=include_background)
    assert_ours_match("LogCoshDiceLoss", params, x, labels, peer)


# --------------------------------------------------------------------------- generalized Wasserstein Dice vs MONAI

GWDL_MATRICES = {
    "none": None,  # ours: 1 off the diagonal; MONAI gets that matrix explicitly
    "tree": [[0.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.5, 0.7], [1.0, 0.5, 0.0, 0.6], [1.0, 0.7, 0.6, 0.0]],
    "unscaled_asymmetric": [[0.0, 3.0, 2.0, 4.0], [2.5, 0.0, 1.0, 2.0], [2.0, 1.5, 0.0, 1.0], [4.0, 2.0, 0.5, 0.0]],
    "nonzero_diagonal": [[0.2, 1.0, 1.0, 1.0], [1.0, 0.1, 0.5, 0.5], [1.0, 0.5, 0.0, 0.5], [1.0, 0.5, 0.5, 0.3]],
}


def _monai_matrix(name: str, num_classes: int) -> np.ndarray:
    matrix = GWDL_MATRICES[name]
    if matrix is None:
        return 1.0 - np.eye(num_classes)
    return np.asarray(matrix, dtype=np.float64)[:num_classes, :num_classes]


def _our_matrix(name: str, num_classes: int):
    matrix = GWDL_MATRICES[name]
    return None if matrix is None else [row[:num_classes] for row in matrix[:num_classes]]


def _gwdl_peer(loss, x: np.ndarray, labels: np.ndarray):
    """MONAI's batched value (>= 1.6), or the mean of its single-sample values
    where older versions mix the samples of a batch."""
    if MONAI_VERSION >= (1, 6):
        return peer_vg(loss, x, labels)
    target = torch.as_tensor(labels)
    return torch_value_and_grad(
        lambda t: torch.stack([loss(t[i : i + 1], target[i : i + 1]) for i in range(len(t))]).mean(), x
    )


@pytest.mark.parametrize("smoothing", [(1e-5, 1e-5), (0.0, 1e-6), (0.5, 2.0)], ids=str)
@pytest.mark.parametrize("absent", [False, True], ids=["all_present", "class_absent"])
@pytest.mark.parametrize("matrix", sorted(GWDL_MATRICES))
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_gwdl_default(dims, matrix, absent, smoothing):
    shape = SHAPES[dims]
    rng = _rng("gwdl", dims, matrix, absent, smoothing)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape, absent=absent)
    a, b = smoothing
    peer_loss = monai.losses.GeneralizedWassersteinDiceLoss(
        dist_matrix=_monai_matrix(matrix, shape[1]), smooth_nr=a, smooth_dr=b
    )
    peer = _gwdl_peer(peer_loss, x, labels)
    params = dict(dist_matrix=_our_matrix(matrix, shape[1]), smooth_nr=a, smooth_dr=b)
    assert_ours_match("GeneralizedWassersteinDiceLoss", params, x, labels, peer)


# Class volumes out of 16 positions with V + 1 a power of two, so MONAI's float32 weights 1/(V + 1) are exact.
GWDL_VOLUMES = {
    "spread": [[7, 3, 3, 3], [7, 7, 1, 1]],
    "absent": [[15, 1, 0, 0], [3, 3, 3, 7]],
    "foreground_only": [[0, 15, 1, 0], [0, 1, 0, 15]],
}
GWDL_SPATIAL = {"2d": (4, 4), "3d": (2, 4, 2)}


def _labels_with_volumes(rng: np.random.Generator, volumes: list[list[int]], spatial) -> np.ndarray:
    rows = []
    for counts in volumes:
        flat = np.repeat(np.arange(len(counts)), counts)
        assert flat.size == int(np.prod(spatial))
        rows.append(rng.permutation(flat).reshape(spatial))
    return np.stack(rows).astype(np.int64)


@pytest.mark.parametrize("matrix", sorted(GWDL_MATRICES))
@pytest.mark.parametrize("volumes", sorted(GWDL_VOLUMES))
@pytest.mark.parametrize("dims", sorted(GWDL_SPATIAL))
def test_monai_gwdl_gdl_weighting(dims, volumes, matrix):
    spatial = GWDL_SPATIAL[dims]
    rng = _rng("gwdl-gdl", dims, volumes, matrix)
    labels = _labels_with_volumes(rng, GWDL_VOLUMES[volumes], spatial)
    counts = [np.bincount(row.ravel(), minlength=4) for row in labels]
    assert all(((c + 1) & c) == 0 for row in counts for c in row), counts  # every V + 1 a power of two
    x = rng.normal(size=(2, 4, *spatial)) * 1.5
    peer_loss = monai.losses.GeneralizedWassersteinDiceLoss(dist_matrix=_monai_matrix(matrix, 4), weighting_mode="GDL")
    peer = _gwdl_peer(peer_loss, x, labels)
    params = dict(dist_matrix=_our_matrix(matrix, 4), weighting_mode="GDL")
    assert_ours_match("GeneralizedWassersteinDiceLoss", params, x, labels, peer)


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_gwdl_gdl_random_volumes(dims):
    """Arbitrary volumes: MONAI's GDL weights are float32, hence rtol 1e-6."""
    shape = SHAPES[dims]
    rng = _rng("gwdl-gdl-random", dims)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape, absent=True)
    peer_loss = monai.losses.GeneralizedWassersteinDiceLoss(
        dist_matrix=_monai_matrix("tree", 4)[: shape[1], : shape[1]], weighting_mode="GDL"
    )
    peer = _gwdl_peer(peer_loss, x, labels)
    params = dict(dist_matrix=_our_matrix("tree", shape[1]), weighting_mode="GDL")
    assert_ours_match("GeneralizedWassersteinDiceLoss", params, x, labels, peer, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("weighting_mode", ["default", "GDL"])
def test_monai_gwdl_batch_equals_single_samples(weighting_mode):
    """Our value per sample (reduction="none") is MONAI's value on that sample
    alone, whatever the MONAI version; the batched MONAI value equals their
    mean from MONAI 1.6 on (issue 4650) and differs before."""
    shape = (3, 4, 5, 6)
    rng = _rng("gwdl-batch", weighting_mode)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape)
    matrix = _monai_matrix("tree", 4)
    peer_loss = monai.losses.GeneralizedWassersteinDiceLoss(dist_matrix=matrix, weighting_mode=weighting_mode)
    singles = np.array(
        [float(peer_loss(torch.tensor(x[i : i + 1]), torch.tensor(labels[i : i + 1]))) for i in range(3)]
    )
    ours_loss = losses_torch.GeneralizedWassersteinDiceLoss(
        dist_matrix=matrix, weighting_mode=weighting_mode, reduction="none"
    )
    per_sample = ours_loss(torch.tensor(x), torch.tensor(labels)).numpy()
    rtol = RTOL if weighting_mode == "default" else 1e-6
    np.testing.assert_allclose(per_sample, singles, rtol=rtol)
    batched = float(peer_loss(torch.tensor(x), torch.tensor(labels)))
    assert np.isclose(batched, singles.mean(), rtol=rtol) == (MONAI_VERSION >= (1, 6)), (monai.__version__, batched)


def test_gwdl_dist_matrix_must_match_the_classes():
    loss = losses_torch.GeneralizedWassersteinDiceLoss(dist_matrix=_our_matrix("tree", 4))
    with pytest.raises(ValueError, match=r"dist_matrix is 4x4 but y_pred has 3 classes"):
        loss(torch.zeros(2, 3, 4, 4, dtype=torch.float64), torch.zeros(2, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"dist_matrix must have a positive entry"):
        losses_torch.GeneralizedWassersteinDiceLoss(dist_matrix=[[0.0, 0.0], [0.0, 0.0]])
    with pytest.raises(TypeError, match=r"dist_matrix must be a square matrix"):
        losses_tf.GeneralizedWassersteinDiceLoss(dist_matrix=[[0.0, 1.0]])
