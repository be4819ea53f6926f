"""Cross-entropy peers beyond ``tests/test_peers.py``: ``torch.nn.BCELoss``,
``torch.nn.NLLLoss`` and smp 0.6.0's ``SoftBCEWithLogitsLoss`` and
``SoftCrossEntropyLoss``, against ``binary_crossentropy`` and
``categorical_crossentropy`` in values and gradients (with respect to the
prediction), for our torch module and our Keras loss (channels-last: the class
axis is moved), float64, seeded random inputs.

What is proven (the "Equivalences" of ``spec/losses/_classification.py``):

* ``BCELoss(weight=w, reduction=r)`` = ``binary_crossentropy(from_logits=False,
  epsilon=e)`` with ``sample_weight`` = ``w`` broadcast to the input's shape, every
  reduction, for every ``p`` with ``e <= p`` and ``e <= 1 - p`` (the clip is
  inactive); with ``epsilon=exp(-100)`` the values agree for every ``p`` in
  ``[0, 1]`` (torch clamps each log at -100, our clip at ``exp(-100)`` is the same
  clamp in float64, where ``1 - exp(-100) == 1``) and the gradients wherever
  ``p (1 - p) >= 1e-11``.
* ``NLLLoss(weight=w, ignore_index=k, reduction=r)`` on log-probabilities
  ``log p`` = ``categorical_crossentropy(from_logits=True, class_weights=w,
  ignore_index=k)`` on ``log p``, or ``from_logits=False`` on ``exp(log p)`` while
  the target's probability lies in ``[epsilon, 1 - epsilon]``, in values; the
  gradients agree once ``log p = log_softmax(z)`` and are taken w.r.t. ``z``.
* smp ``SoftBCEWithLogitsLoss(weight=w, pos_weight=q, smooth_factor=s,
  ignore_index=k, reduction=r)`` = ``binary_crossentropy(from_logits=True,
  pos_weight=q, label_smoothing=2 s)`` with ``sample_weight`` = ``w`` broadcast
  times the mask ``y != k``, the ignored targets replaced by 0.
* smp ``SoftCrossEntropyLoss(smooth_factor=s, ignore_index=k, reduction=r,
  dim=d)`` = ``categorical_crossentropy(from_logits=True, label_smoothing=s)``
  (class axis ``d``) with ``sample_weight`` = the mask ``labels != k``, ignored
  labels replaced by 0; for ``"sum"``/``"none"`` also ``ignore_index=k`` itself.

Peer behaviour no parameter setting reproduces (each measured by a test):

* ``BCELoss`` outside the clip range of the default ``epsilon=1e-7``: torch's
  ``-log p`` grows to 100 where ours stays at ``-log(1e-7) = 16.118`` (per element,
  up to 83.88 apart) and our gradient there is 0
  (``test_torch_bce_outside_the_clip_range``).
* ``BCELoss`` gradient where ``p (1 - p) < 1e-12``: torch's hand-written backward
  is ``(p - y) / max(p (1 - p), 1e-12)`` (its 1e-12 a float32 constant,
  9.99999996e-13); ours is the exact derivative (larger, e.g. -1e13 vs -1e12 at
  ``p = 1e-13, y = 1``), and 0 for the clipped term at ``p = 0`` or ``1``
  (``test_torch_bce_gradient_clamp``).
* ``NLLLoss``'s gradient w.r.t. its input is ``-w_y onehot / W``; ours is
  ``w_y (p - onehot) / W`` (``W`` the total target weight for ``"mean"``, 1
  otherwise): the difference ``w_y p / W`` lies along the normal of the
  normalisation constraint.  On inputs that are not normalised log-probabilities
  the values differ too, by ``w_y logsumexp(x) / W`` (measured: ours 2.94, NLL
  -0.18).  Measured gradient gap: up to 0.136 against NLL's largest entry 0.156
  (``"mean"``).  With every position ignored ``NLLLoss`` ``"mean"`` is NaN, ours
  0 (``test_torch_nll_divergences``).
* ``from_logits=False`` on ``exp(log p)`` with ``p_y < epsilon``: ours
  ``-log(epsilon)`` with zero gradient, NLL ``-log p_y``
  (``test_torch_nll_probabilities_outside_the_clip``).
* smp ``SoftCrossEntropyLoss`` ``"mean"`` divides by all positions, ignored ones
  included: it is ``ours(ignore_index=k)`` times the valid fraction (measured:
  smp 1.7035 vs ours 2.6898 at a valid fraction of 0.633); ``"none"`` with
  ``ignore_index`` set keeps the class axis with size 1; the default
  ``smooth_factor=None`` raises ``TypeError``
  (``test_smp_soft_cross_entropy_divergences``).
* smp smoothing factors beyond our ``label_smoothing`` range ``[0, 1]``
  (``SoftBCEWithLogitsLoss`` with ``s > 0.5``, ``SoftCrossEntropyLoss`` with
  ``s > 1``) are accepted by smp and rejected by ours; for the binary loss,
  targets smoothed beforehand reproduce it (``test_smp_smoothing_beyond_our_range``).

Tolerances: relative 1e-12 with absolute 1e-14, as in ``tests/test_peers.py``.
One comparison relies on the absolute part: for ``p`` near 0 our
``binary_crossentropy(from_logits=False)`` evaluates ``log(1 - p)`` where
torch's ``BCELoss`` evaluates ``log1p(-p)``; the rounding of ``1 - p`` (about
1.1e-16 absolute) exceeds 1e-12 *relative* to an element ``(1 - y) p`` when
``p < 1e-4``.  ``test_torch_bce_log1p_rounding`` measures that difference.
"""

from __future__ import annotations

import math
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

import losses_torch

import tensorflow as tf

import losses_tf

import autodiff
from autodiff import tf_value_and_grad, torch_value_and_grad
from peer_libraries import smp_losses

# isort: on

smp = smp_losses()

RTOL = 1e-12
ATOL = 1e-14
REDUCTIONS = ["mean", "sum", "none"]
# torch's BCELoss clamps each log at -100: the same clamp as clipping p to [exp(-100), 1] (1 - exp(-100) == 1).
TORCH_LOG_CLAMP = math.exp(-100.0)
# torch's BCELoss backward divides by max(p (1 - p), 1e-12), its 1e-12 a float32 constant; we stay a factor
# 10 inside.
TORCH_BCE_GRAD_EPSILON = float(np.float32(1e-12))  # 9.99999996e-13
GRADIENT_SAFE = 1e-11

assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by the test case (stable across runs, unlike ``hash``)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _to_last(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1)


def _to_first(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, -1, 1)


def _labels(rng: np.random.Generator, shape: tuple[int, ...], num_classes: int, ignore: int | None) -> np.ndarray:
    """Integer labels; with ``ignore`` about 30% of them (at least one, not all) are ``ignore``."""
    labels = rng.integers(0, num_classes, size=shape)
    if ignore is not None:
        mask = rng.random(shape) < 0.3
        mask.flat[0] = True
        mask.flat[-1] = False
        labels = np.where(mask, ignore, labels)
    return labels.astype(np.int64)


def _binary_targets(rng: np.random.Generator, shape, kind: str) -> np.ndarray:
    if kind == "hard":
        return (rng.random(shape) < 0.4).astype(np.float64)
    return rng.random(shape)


def run_torch(loss, x: np.ndarray, y, sample_weight=None, prepare=None):
    """``loss(prepare(x), y)`` and its gradient w.r.t. ``x``."""
    y_t = torch.as_tensor(y)
    kwargs = {} if sample_weight is None else {"sample_weight": torch.as_tensor(sample_weight)}
    prepare = prepare or (lambda t: t)
    return torch_value_and_grad(lambda t: loss(prepare(t), y_t, **kwargs), x)


def run_keras(loss, y, x: np.ndarray, sample_weight=None, prepare=None):
    """A Keras-convention loss ``loss(y_true, prepare(y_pred), sample_weight)``."""
    y_t = tf.constant(y)
    kwargs = {} if sample_weight is None else {"sample_weight": tf.constant(sample_weight, dtype=tf.float64)}
    prepare = prepare or (lambda t: t)
    return tf_value_and_grad(lambda t: loss(y_t, prepare(t), **kwargs), x)


def ours(name: str, params: dict, reduction: str, x: np.ndarray, y, sample_weight=None, *, channels_first=True,
         elementwise=False, prepare=(None, None)):
    """Our torch module and our Keras loss on the same problem, both in the peer's layout.

    ``x`` has the class axis at 1 (``channels_first``) or last.  Keras always gets it last: ``x`` is moved,
    and so are ``y``, ``sample_weight`` and the ``"none"`` value when the loss is ``elementwise`` (they then
    carry the class axis); the gradient is moved back.  ``prepare`` = (torch fn, tf fn) applied to the
    prediction inside the differentiated function (gradients are w.r.t. ``x``).
    """
    torch_params = dict(params) if channels_first else dict(params, class_axis=-1)
    torch_result = run_torch(getattr(losses_torch, name)(reduction=reduction, **torch_params), x, y, sample_weight,
                             prepare[0])
    keras_loss = getattr(losses_tf, name)(dtype="float64", reduction=reduction, **params)
    if not channels_first:
        return torch_result, run_keras(keras_loss, y, x, sample_weight, prepare[1])
    carried = _to_last if elementwise else (lambda a: a)
    y_k = carried(y) if isinstance(y, np.ndarray) else y
    sw_k = None if sample_weight is None else carried(sample_weight)
    value, grad = run_keras(keras_loss, y_k, _to_last(x), sw_k, prepare[1])
    if elementwise and reduction == "none":
        value = _to_first(value)
    return torch_result, (value, _to_first(grad))


def assert_ours_same(results, peer, **tolerances):
    torch_result, keras_result = results
    assert_same(torch_result, peer, what="torch", **tolerances)
    assert_same(keras_result, peer, what="keras", **tolerances)


# --------------------------------------------------------------------------- 1. torch.nn.BCELoss on probabilities

BCE_SHAPES = {"vector": (6, 3), "map2d": (2, 3, 4, 5)}
BCE_WEIGHTS = ["none", "per_class", "per_sample", "full"]


def _bce_weight(rng: np.random.Generator, shape, kind: str) -> np.ndarray | None:
    """A ``BCELoss(weight=...)`` that broadcasts against the input (torch's rule: the trailing axes)."""
    if kind == "none":
        return None
    if kind == "per_class":  # (C,) for (N, C); (C, 1, 1) for (N, C, H, W)
        return rng.uniform(0.2, 3.0, size=(shape[1],) + (1,) * (len(shape) - 2))
    if kind == "per_sample":
        return rng.uniform(0.2, 3.0, size=(shape[0],) + (1,) * (len(shape) - 1))
    return rng.uniform(0.0, 3.0, size=shape)


def _probabilities_in(rng: np.random.Generator, shape, low: float) -> np.ndarray:
    """Probabilities in ``[low, 1 - low]`` (``1 - p >= low`` in float64): a third uniform, a third
    log-uniformly close to 0, a third close to 1, and both ends exactly."""
    kind = rng.integers(0, 3, size=shape)
    near = np.exp(rng.uniform(np.log(low), np.log(0.5), size=shape))
    p = np.where(kind == 0, rng.uniform(low, 1.0 - low, size=shape), np.where(kind == 1, near, 1.0 - near))
    high = 1.0 - low
    while 1.0 - high < low:
        high = np.nextafter(high, 0.0)
    p.flat[0], p.flat[1] = low, high
    p = np.clip(p, low, high)
    assert (p >= low).all() and (1.0 - p >= low).all()
    return p


def _bce_peer(weight, reduction, p, t):
    weight_t = None if weight is None else torch.as_tensor(weight)
    return run_torch(torch.nn.BCELoss(weight=weight_t, reduction=reduction), p, t)


def _full_weight(weight, shape):
    return None if weight is None else np.array(np.broadcast_to(weight, shape))


@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("weight", BCE_WEIGHTS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("epsilon", [1e-7, 1e-3, TORCH_LOG_CLAMP], ids=["eps_default", "eps_1e-3", "eps_exp_m100"])
@pytest.mark.parametrize("layout", sorted(BCE_SHAPES))
def test_torch_bce_probabilities(layout, epsilon, reduction, weight, targets):
    """BCELoss(weight=w, reduction=r) = ours(from_logits=False, epsilon=e) with sample_weight=w, for every p
    where our clip is inactive (e <= p, e <= 1 - p) and torch's gradient is unclamped (p (1 - p) >= 1e-11)."""
    shape = BCE_SHAPES[layout]
    rng = _rng("bce-probabilities", layout, epsilon, reduction, weight, targets)
    p = _probabilities_in(rng, shape, max(epsilon, GRADIENT_SAFE))
    t = _binary_targets(rng, shape, targets)
    w = _bce_weight(rng, shape, weight)

    peer = _bce_peer(w, reduction, p, t)
    results = ours("BinaryCrossentropyLoss", dict(from_logits=False, epsilon=epsilon), reduction, p, t,
                   _full_weight(w, shape), elementwise=True)
    assert_ours_same(results, peer)


FULL_RANGE = np.array([0.0, 1e-300, 1e-50, 3e-44, 4e-44, 1e-20, 1e-13, 1e-12, 1e-9, 1e-7, 0.3, 0.5,
                       1 - 1e-7, 1 - 1e-9, 1 - 1e-12, 1 - 1e-13, 1 - 2**-53, 1.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets", ["zero", "one", "soft"])
def test_torch_bce_values_on_all_of_0_1(targets, reduction):
    """epsilon=exp(-100): the values agree for every p in [0, 1], torch's log clamp included (p = 0, 1 and
    p < exp(-100) give 100 per unit target); the gradients agree where p (1 - p) >= 1e-11."""
    rng = _rng("bce-full-range", targets, reduction)
    p = np.tile(FULL_RANGE, (3, 1))  # (3, 18): class axis 1
    t = {"zero": np.zeros_like(p), "one": np.ones_like(p), "soft": rng.random(p.shape)}[targets]
    w = rng.uniform(0.2, 3.0, size=p.shape)

    peer_value, peer_grad = _bce_peer(w, reduction, p, t)
    for what, (value, grad) in zip(("torch", "keras"), ours(
            "BinaryCrossentropyLoss", dict(from_logits=False, epsilon=TORCH_LOG_CLAMP), reduction, p, t, w,
            elementwise=True), strict=True):
        np.testing.assert_allclose(value, peer_value, rtol=RTOL, atol=ATOL, err_msg=f"{what}: value")
        smooth = p * (1.0 - p) >= GRADIENT_SAFE
        np.testing.assert_allclose(grad[smooth], peer_grad[smooth], rtol=RTOL, atol=ATOL, err_msg=f"{what}: grad")
    if targets != "zero":  # the clamp is reached: 100 per unit target at p = 0
        elements = _bce_peer(None, "none", p, t)[0]
        np.testing.assert_allclose(elements[:, 0], 100.0 * t[:, 0], rtol=RTOL)


def test_torch_bce_outside_the_clip_range():
    """Default epsilon=1e-7, p outside [1e-7, 1 - 1e-7]: torch's -log p (clamped at 100) vs our -log(1e-7),
    our gradient of the clipped term is 0, torch's is (p - y) / max(p (1 - p), 1e-12)."""
    eps = 1e-7
    p = np.array([[0.0, 1e-50, 1e-20, 1e-12, 1e-9, 5e-8, 1 - 5e-8, 1 - 1e-9, 1 - 1e-12, 1.0]])
    y = np.where(p < 0.5, 1.0, 0.0)  # the term that is clipped is the one that counts
    peer_value, peer_grad = _bce_peer(None, "none", p, y)
    for what, (value, grad) in zip(("torch", "keras"), ours(
            "BinaryCrossentropyLoss", dict(from_logits=False), "none", p, y, elementwise=True), strict=True):
        np.testing.assert_allclose(value, -np.log(eps), rtol=RTOL, err_msg=what)
        np.testing.assert_array_equal(grad, 0.0, err_msg=what)
    with np.errstate(divide="ignore"):
        clipped_log = np.minimum(-np.log(np.where(p < 0.5, p, 1.0 - p)), 100.0)
    np.testing.assert_allclose(peer_value, clipped_log, rtol=RTOL)
    np.testing.assert_allclose(peer_grad, (p - y) / np.maximum(p * (1.0 - p), TORCH_BCE_GRAD_EPSILON), rtol=RTOL)
    divergence = peer_value - (-np.log(eps))
    assert divergence.min() > 0.0 and divergence.max() == pytest.approx(100.0 + np.log(eps), rel=1e-12)  # 83.88


def test_torch_bce_gradient_clamp():
    """epsilon=exp(-100), p (1 - p) < 1e-12: the values agree, the gradients do not -- torch divides by
    max(p (1 - p), 1e-12), ours is the exact derivative (0 for a term clipped at p = 0 or 1)."""
    p = np.array([[1e-13, 1e-20, 1 - 2**-50, 1 - 2**-53, 0.0, 1.0]])
    y = np.array([[1.0, 0.3, 0.0, 0.6, 1.0, 0.0]])
    peer_value, peer_grad = _bce_peer(None, "none", p, y)
    inside = (p > 0.0) & (p < 1.0)
    # the exact derivative -y / p + (1 - y) / (1 - p); at p = 0 (p = 1) only the unclipped term (1 - y) (-y) is left
    exact = np.where(inside, -y / np.where(inside, p, 1.0) + (1.0 - y) / np.where(inside, 1.0 - p, 1.0),
                     np.where(p == 0.0, 1.0 - y, -y))
    for what, (value, grad) in zip(("torch", "keras"), ours(
            "BinaryCrossentropyLoss", dict(from_logits=False, epsilon=TORCH_LOG_CLAMP), "none", p, y,
            elementwise=True), strict=True):
        np.testing.assert_allclose(value, peer_value, rtol=RTOL, atol=ATOL, err_msg=what)
        np.testing.assert_allclose(grad, exact, rtol=RTOL, atol=ATOL, err_msg=what)
    np.testing.assert_allclose(peer_grad, (p - y) / TORCH_BCE_GRAD_EPSILON, rtol=RTOL)
    assert (np.abs(peer_grad - exact) > 1e9).all()  # e.g. -1e12 (torch) vs -1e13 (ours) at p = 1e-13, y = 1


def test_torch_bce_log1p_rounding():
    """y = 0, p small: torch evaluates -log1p(-p), ours -log(1 - p); the absolute difference stays below
    1.2e-16 (the rounding of 1 - p), the relative one grows like 1e-16 / p."""
    p = np.geomspace(1e-7, 1e-1, 61)[None, :]
    y = np.zeros_like(p)
    peer_value = _bce_peer(None, "none", p, y)[0]
    np.testing.assert_allclose(peer_value, -np.log1p(-p), rtol=1e-15)
    for what, (value, _) in zip(("torch", "keras"), ours(
            "BinaryCrossentropyLoss", dict(from_logits=False), "none", p, y, elementwise=True), strict=True):
        np.testing.assert_allclose(value, -np.log(1.0 - p), rtol=1e-15, err_msg=what)
        difference = np.abs(value - peer_value)
        assert difference.max() < 1.2e-16, what
        assert (difference / peer_value).max() > 1e-12, what  # beyond the relative tolerance: atol covers it


# --------------------------------------------------------------------------- 2. torch.nn.NLLLoss on log-probabilities

CE_SHAPES = {"vector": (7, 4), "map2d": (2, 4, 3, 5)}
CLASS_WEIGHTS = [0.2, 1.0, 3.0, 0.7]
# (ignore_index given to the peer, label put into the targets or None)
NLL_IGNORE = {
    "default_absent": (-100, None),
    "default_present": (-100, -100),
    "255": (255, 255),
    "in_range": (1, 1),
}
NLL_MODES = {
    # ours on log p (log_softmax of a log-probability vector is the vector itself)
    "from_logits": (dict(from_logits=True), (lambda t: F.log_softmax(t, dim=1), lambda t: tf.nn.log_softmax(t))),
    # ours on exp(log p)
    "probabilities": (dict(from_logits=False), (lambda t: torch.exp(F.log_softmax(t, dim=1)),
                                                lambda t: tf.exp(tf.nn.log_softmax(t)))),
}


def _nll_problem(layout: str, ignore: str, *key: object):
    shape = CE_SHAPES[layout]
    peer_ignore, label_ignore = NLL_IGNORE[ignore]
    rng = _rng("nll", layout, ignore, *key)
    z = rng.normal(size=shape) * 2.0
    labels = _labels(rng, (shape[0], *shape[2:]), shape[1], label_ignore)
    return z, labels, peer_ignore


def _nll_peer(weights, ignore_index, reduction):
    weight = None if weights is None else torch.tensor(weights, dtype=torch.float64)
    return torch.nn.NLLLoss(weight=weight, ignore_index=ignore_index, reduction=reduction)


@pytest.mark.parametrize("mode", sorted(NLL_MODES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore", sorted(NLL_IGNORE))
@pytest.mark.parametrize("class_weights", [None, CLASS_WEIGHTS], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("layout", sorted(CE_SHAPES))
def test_torch_nll_log_probabilities(layout, class_weights, ignore, reduction, mode):
    """NLLLoss(weight=w, ignore_index=k, reduction=r)(log p) = ours(class_weights=w, ignore_index=k) on log p
    (from_logits=True) or on exp(log p) (from_logits=False): values, and gradients w.r.t. z for
    log p = log_softmax(z) (the gradients w.r.t. log p itself differ: test_torch_nll_divergences)."""
    z, labels, peer_ignore = _nll_problem(layout, ignore, class_weights, reduction, mode)
    params, prepare = NLL_MODES[mode]
    log_p = F.log_softmax(torch.as_tensor(z), dim=1).numpy()
    target_p = np.take_along_axis(np.exp(log_p), np.where((labels >= 0) & (labels < 4), labels, 0)[:, None], axis=1)
    assert (target_p >= 1e-7).all() and (target_p <= 1 - 1e-7).all()  # from_logits=False: clip inactive

    peer_loss = _nll_peer(class_weights, peer_ignore, reduction)
    peer = run_torch(peer_loss, z, labels, prepare=lambda t: F.log_softmax(t, dim=1))
    our_params = dict(params, class_weights=class_weights, ignore_index=peer_ignore)
    assert_ours_same(ours("CategoricalCrossentropyLoss", our_params, reduction, z, labels, prepare=prepare), peer)
    # the values on log p itself (no log_softmax in between on the peer's side)
    peer_on_log_p = peer_loss(torch.as_tensor(log_p), torch.as_tensor(labels)).numpy()
    np.testing.assert_allclose(peer[0], peer_on_log_p, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("mode", sorted(NLL_MODES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore", ["default_absent", "default_present", "in_range"])
@pytest.mark.parametrize("class_weights", [None, CLASS_WEIGHTS], ids=["unweighted", "weighted"])
def test_torch_nll_divergences(class_weights, ignore, reduction, mode):
    """What no setting reproduces: gradients w.r.t. log p (ours minus NLL's = w_y p / W), values on inputs
    that are not normalised log-probabilities (ours minus NLL's = w_y logsumexp(x) / W), and a batch with
    every position ignored ("mean": NLL NaN, ours 0)."""
    z, labels, peer_ignore = _nll_problem("map2d", ignore, "divergence", class_weights, reduction, mode)
    params, _ = NLL_MODES[mode]
    our_params = dict(params, class_weights=class_weights, ignore_index=peer_ignore)
    peer_loss = _nll_peer(class_weights, peer_ignore, reduction)
    valid = labels != peer_ignore
    safe = np.where(valid, labels, 0)
    w_y = (np.ones(4) if class_weights is None else np.array(class_weights))[safe] * valid  # (N, H, W)
    total = w_y.sum() if reduction == "mean" else 1.0
    one_hot = _to_first(np.eye(4)[safe]) * (w_y / total)[:, None]

    # 1. gradients w.r.t. log p
    log_p = F.log_softmax(torch.as_tensor(z), dim=1).numpy()
    p = np.exp(log_p)
    peer_value, peer_grad = run_torch(peer_loss, log_p, labels)
    np.testing.assert_allclose(peer_grad, -one_hot, rtol=RTOL, atol=ATOL)
    x = log_p if mode == "from_logits" else p
    for what, (value, grad) in zip(("torch", "keras"), ours("CategoricalCrossentropyLoss", our_params, reduction, x,
                                                            labels), strict=True):
        np.testing.assert_allclose(value, peer_value, rtol=RTOL, atol=ATOL, err_msg=what)
        grad_log_p = grad if mode == "from_logits" else grad * p  # chain rule through p = exp(log p)
        expected = p * (w_y / total)[:, None]
        np.testing.assert_allclose(grad_log_p - peer_grad, expected, rtol=1e-9, atol=1e-15, err_msg=what)
        assert np.abs(expected).max() > 0.01

    # 2. values on scores that are not log-probabilities (from_logits=True only: probabilities must lie in [0, 1])
    if mode == "from_logits":
        scores = z + 1.5
        lse = np.log(np.exp(scores).sum(axis=1))
        peer_value = run_torch(peer_loss, scores, labels)[0]
        for what, (value, _) in zip(("torch", "keras"), ours("CategoricalCrossentropyLoss", our_params, reduction,
                                                             scores, labels), strict=True):
            expected = w_y * lse / total
            expected = expected if reduction == "none" else expected.sum()
            np.testing.assert_allclose(value - peer_value, expected, rtol=1e-10, err_msg=what)

    # 3. every position ignored
    if ignore != "default_absent" and reduction == "mean":
        ignored = np.full_like(labels, peer_ignore)
        assert np.isnan(peer_loss(torch.as_tensor(log_p), torch.as_tensor(ignored)).item())
        for what, (value, grad) in zip(("torch", "keras"), ours("CategoricalCrossentropyLoss", our_params, reduction,
                                                                x, ignored), strict=True):
            assert value == 0.0 and not grad.any(), what


def test_torch_nll_probabilities_outside_the_clip():
    """from_logits=False on exp(log p) where the target's p_y < epsilon: ours -log(epsilon), gradient 0;
    NLL -log p_y, gradient -1 (per unit weight) w.r.t. log p_y."""
    log_p = F.log_softmax(torch.tensor([[0.0, 30.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64), dim=1).numpy()
    labels = np.array([0, 2])
    assert np.exp(log_p[0, 0]) < 1e-7
    peer_value, peer_grad = run_torch(torch.nn.NLLLoss(reduction="none"), log_p, labels)
    for what, (value, grad) in zip(("torch", "keras"), ours(
            "CategoricalCrossentropyLoss", dict(from_logits=False), "none", np.exp(log_p), labels), strict=True):
        np.testing.assert_allclose(value[0], -np.log(1e-7), rtol=RTOL, err_msg=what)
        np.testing.assert_allclose(value[1], peer_value[1], rtol=RTOL, err_msg=what)
        assert not grad[0].any(), what
    assert peer_value[0] == pytest.approx(30.0, rel=1e-12) and peer_grad[0, 0] == -1.0  # vs ours 16.118, 0


# --------------------------------------------------------------------------- 3. smp SoftBCEWithLogitsLoss

# (weight kind, pos_weight kind)
SMP_BCE_WEIGHTS = [("none", None), ("none", "scalar"), ("none", "per_class"), ("per_class", None),
                   ("full", "per_class")]
SMP_IGNORE = {"none": (None, False), "default_absent": (-100, False), "default_present": (-100, True)}


def _class_vector(values: list[float], shape) -> np.ndarray:
    """Per-class values shaped for torch's trailing-axes broadcasting: (C,) or (C, 1, 1)."""
    return np.array(values).reshape((-1,) + (1,) * (len(shape) - 2))


@pytest.mark.parametrize("targets", ["hard", "soft"])
@pytest.mark.parametrize("smooth_factor", [None, 0.1, 0.5])
@pytest.mark.parametrize("ignore", sorted(SMP_IGNORE))
@pytest.mark.parametrize("weights", SMP_BCE_WEIGHTS, ids=lambda w: f"w={w[0]}-pw={w[1]}")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", sorted(BCE_SHAPES))
def test_smp_soft_bce_with_logits(layout, reduction, weights, ignore, smooth_factor, targets):
    """smp SoftBCEWithLogitsLoss(weight=w, pos_weight=q, smooth_factor=s, ignore_index=k, reduction=r) =
    ours(from_logits=True, pos_weight=q, label_smoothing=2 s) with sample_weight = w * (y != k), the ignored
    targets replaced by 0 (smp's "mean" counts the ignored elements)."""
    shape = BCE_SHAPES[layout]
    weight_kind, pos_kind = weights
    ignore_index, present = SMP_IGNORE[ignore]
    rng = _rng("smp-bce", layout, reduction, weights, ignore, smooth_factor, targets)
    x = rng.normal(size=shape) * 2.0
    t = _binary_targets(rng, shape, targets)
    if present:
        t.flat[0] = -100.0
        t[rng.random(shape) < 0.3] = -100.0
        assert (t != -100).any()
    weight = None if weight_kind == "none" else (
        _class_vector([0.5, 2.0, 1.3], shape) if weight_kind == "per_class" else rng.uniform(0.0, 3.0, size=shape))
    pos_values = {None: None, "scalar": 2.5, "per_class": [0.5, 1.0, 3.0]}[pos_kind]
    pos_torch = None if pos_values is None else torch.as_tensor(
        _class_vector(pos_values, shape) if isinstance(pos_values, list) else np.array(pos_values))

    peer_loss = smp.SoftBCEWithLogitsLoss(
        weight=None if weight is None else torch.as_tensor(weight), ignore_index=ignore_index, reduction=reduction,
        smooth_factor=smooth_factor, pos_weight=pos_torch,
    )
    peer = run_torch(peer_loss, x, t)
    mask = (t != -100).astype(np.float64) if present else None
    sample_weight = _full_weight(weight, shape)
    if mask is not None:
        sample_weight = mask if sample_weight is None else sample_weight * mask
    params = dict(from_logits=True, pos_weight=pos_values, label_smoothing=2.0 * (smooth_factor or 0.0))
    y = np.where(t == -100, 0.0, t)
    assert_ours_same(ours("BinaryCrossentropyLoss", params, reduction, x, y, sample_weight, elementwise=True), peer)


# --------------------------------------------------------------------------- 4. smp SoftCrossEntropyLoss

SMP_CE_LAYOUTS = {"vector": ((7, 4), True), "map2d": ((2, 4, 3, 5), True), "map2d_last": ((2, 3, 5, 4), False)}
SMP_CE_IGNORE = {
    "none": (None, None),
    "default_absent": (-100, None),
    "default_present": (-100, -100),
    "255": (255, 255),
    "in_range": (1, 1),
}


def _smp_ce_problem(layout: str, ignore: str, *key: object):
    shape, channels_first = SMP_CE_LAYOUTS[layout]
    peer_ignore, label_ignore = SMP_CE_IGNORE[ignore]
    rng = _rng("smp-ce", layout, ignore, *key)
    x = rng.normal(size=shape) * 2.0
    label_shape = (shape[0], *shape[2:]) if channels_first else shape[:-1]
    labels = _labels(rng, label_shape, 4, label_ignore)
    return x, labels, peer_ignore, channels_first


@pytest.mark.parametrize("smooth_factor", [0.0, 0.1, 0.3, 1.0])
@pytest.mark.parametrize("ignore", sorted(SMP_CE_IGNORE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", sorted(SMP_CE_LAYOUTS))
def test_smp_soft_cross_entropy(layout, reduction, ignore, smooth_factor):
    """smp SoftCrossEntropyLoss(smooth_factor=s, ignore_index=k, reduction=r, dim=d) = ours(from_logits=True,
    label_smoothing=s) with class axis d and sample_weight = (labels != k), ignored labels replaced by 0;
    for "sum"/"none" also ours(ignore_index=k).  smp's "none" keeps a size-1 class axis when ignore_index is
    set: it is squeezed here (the shape itself is test_smp_soft_cross_entropy_divergences)."""
    x, labels, peer_ignore, channels_first = _smp_ce_problem(layout, ignore, reduction, smooth_factor)
    dim = 1 if channels_first else -1
    peer_loss = smp.SoftCrossEntropyLoss(reduction=reduction, smooth_factor=smooth_factor, ignore_index=peer_ignore,
                                         dim=dim)
    labels_t = torch.as_tensor(labels)
    squeeze = reduction == "none" and peer_ignore is not None
    peer = torch_value_and_grad(lambda t: peer_loss(t, labels_t).squeeze(dim) if squeeze else peer_loss(t, labels_t),
                                x)

    params = dict(from_logits=True, label_smoothing=smooth_factor)
    valid = np.ones(labels.shape) if peer_ignore is None else (labels != peer_ignore).astype(np.float64)
    masked = ours("CategoricalCrossentropyLoss", params, reduction, x, np.where(valid > 0, labels, 0), valid,
                  channels_first=channels_first)
    assert_ours_same(masked, peer)
    if reduction != "mean":
        direct = ours("CategoricalCrossentropyLoss", dict(params, ignore_index=peer_ignore), reduction, x, labels,
                      channels_first=channels_first)
        assert_ours_same(direct, peer)


@pytest.mark.parametrize("smooth_factor", [0.0, 0.1])
@pytest.mark.parametrize("layout", sorted(SMP_CE_LAYOUTS))
def test_smp_soft_cross_entropy_divergences(layout, smooth_factor):
    """smp's "mean" with ignored labels = ours(ignore_index=k) times the valid fraction (values and
    gradients); smp's "none" with ignore_index set has shape (N, 1, ...) (dim=1) or (..., 1) (dim=-1);
    the default smooth_factor=None raises TypeError."""
    x, labels, peer_ignore, channels_first = _smp_ce_problem(layout, "default_present", "divergence",
                                                             smooth_factor)
    dim = 1 if channels_first else -1
    fraction = (labels != peer_ignore).mean()
    assert 0.0 < fraction < 1.0
    peer = run_torch(smp.SoftCrossEntropyLoss(smooth_factor=smooth_factor, dim=dim), x, labels)
    params = dict(from_logits=True, label_smoothing=smooth_factor, ignore_index=peer_ignore)
    for what, (value, grad) in zip(("torch", "keras"), ours("CategoricalCrossentropyLoss", params, "mean", x, labels,
                                                            channels_first=channels_first), strict=True):
        assert_same((value * fraction, grad * fraction), peer, what=what)
        assert abs(value - peer[0]) > 0.1 * value, what  # e.g. 2.69 (ours) vs 1.70 (smp) at fraction 0.633

    none = smp.SoftCrossEntropyLoss(smooth_factor=smooth_factor, dim=dim, reduction="none")(
        torch.as_tensor(x), torch.as_tensor(labels))
    assert tuple(none.shape) == tuple(np.expand_dims(labels, dim).shape)
    no_ignore = np.where(labels == peer_ignore, 0, labels)
    none = smp.SoftCrossEntropyLoss(smooth_factor=smooth_factor, dim=dim, reduction="none", ignore_index=None)(
        torch.as_tensor(x), torch.as_tensor(no_ignore))
    assert tuple(none.shape) == labels.shape
    with pytest.raises(TypeError):
        smp.SoftCrossEntropyLoss(dim=dim)(torch.as_tensor(x), torch.as_tensor(no_ignore))


def test_smp_smoothing_beyond_our_range():
    """smp accepts SoftBCEWithLogitsLoss(smooth_factor > 0.5) and SoftCrossEntropyLoss(smooth_factor > 1);
    ours rejects label_smoothing > 1.  The binary case is reproduced by smoothing the targets beforehand."""
    rng = _rng("smp-smoothing-range")
    x = rng.normal(size=(6, 3)) * 2.0
    t = (rng.random((6, 3)) < 0.4).astype(np.float64)
    s = 0.7
    peer = run_torch(smp.SoftBCEWithLogitsLoss(smooth_factor=s), x, t)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses_torch.BinaryCrossentropyLoss(label_smoothing=2 * s)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses_tf.BinaryCrossentropyLoss(label_smoothing=2 * s)
    smoothed = (1.0 - t) * s + t * (1.0 - s)
    assert_ours_same(ours("BinaryCrossentropyLoss", dict(from_logits=True), "mean", x, smoothed, elementwise=True),
                     peer)

    labels = rng.integers(0, 3, size=6)
    value = smp.SoftCrossEntropyLoss(smooth_factor=1.5)(torch.as_tensor(x), torch.as_tensor(labels))
    assert np.isfinite(value.item())
    with pytest.raises(ValueError, match="label_smoothing"):
        losses_torch.CategoricalCrossentropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses_tf.CategoricalCrossentropyLoss(label_smoothing=1.5)
