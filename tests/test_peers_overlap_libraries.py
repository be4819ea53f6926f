"""Dice, Jaccard and Tversky against smp, kornia and MONAI's MaskedDiceLoss, in values and gradients.

Every test computes the peer's loss on seeded random inputs and checks that
our torch module (channels-first) and our Keras loss (channels-last, axes
moved) give the same value and the same gradient with respect to the
prediction (logits, or probabilities where the peer takes probabilities).
Installed peers: segmentation_models_pytorch 0.6.0 (its ``losses``
subpackage, loaded by ``tests/peer_libraries.py``), kornia 0.9.0, MONAI 1.6.1.

Tolerances: everything runs in float64 and is compared at ``rtol=1e-12,
atol=1e-14``.  smp computes the intersection as ``(P + G - sum|p - g|) / 2``
rather than ``sum(p g)``; for 0/1 targets and ``0 < p < 1`` the two are equal
up to rounding (measured below 1e-15 relative) and so are their gradients, since
``d|p - g|/dp = 1 - 2g`` there.  smp's ``class_weights`` are float32: the
weights used are exact in float32.  kornia keeps float64 throughout (its
gather path for inputs of at least 2**15 values included, tested with the
``large`` layout).  MONAI's ``to_onehot_y`` one-hot is float32: exact for
the plain sums, but with ``squared_pred=True`` MONAI computes ``sum(g^2)`` as
``vector_norm(g)**2`` in float32, so those cases alone are compared at
``rtol=1e-6, atol=1e-9`` (measured ~1e-8); float64 one-hot targets are
compared strictly.

Equivalences proven here (ours = ``DiceLoss``, ``JaccardLoss``,
``TverskyLoss``, ``GeneralizedDiceLoss`` in both frameworks):

* smp ``DiceLoss(mode, smooth=s, eps=e, classes=K, class_weights=w,
  from_logits=F)`` = ``dice(smooth=2s, batch=True, multilabel=mode !=
  "multiclass", from_logits=F, class_weights=w)`` (``classes=K``: weight 1 on
  ``K``, 0 elsewhere; ``K = 1..C-1``: ``include_background=False``), when
  every class has a target pixel in the batch and ``eps`` is below every
  clamped denominator ``(P + G)/2 + s`` (always true for ``eps <= 1/2`` with
  hard targets): ``test_smp_dice_jaccard``.  smp ``JaccardLoss`` likewise =
  ``jaccard(smooth=s, ...)`` (no doubling).  ``ignore_index=k`` in multiclass
  mode = ``ignore_index=k``; in binary mode it equals ours on two channels
  (the background logit arbitrary, ``include_background=False``,
  ``multilabel=True``, one-hot target with all-zero rows where ignored and an
  out-of-range ``ignore_index``): ``test_smp_ignore_index``.  smp
  ``TverskyLoss(mode, alpha=a, beta=b, smooth=s, gamma=1)`` =
  ``tversky(alpha=a, beta=b, gamma=1, smooth=s, batch=True, ...)``:
  ``test_smp_tversky``.
* kornia ``DiceLoss(average="macro", eps=e, weight=w, ignore_index=k)`` =
  ``dice(smooth_nr=0, smooth_dr=e, class_weights=w, ignore_index=k,
  batch=False)`` when every class is present in every sample's kept target
  (``weight = [0, 1, ...]`` = ``include_background=False``):
  ``test_kornia_dice_macro``.  kornia ``average="micro"`` pools the classes
  into one ratio per sample; it is ``generalized_dice(weight_type="uniform",
  class_weights=w, smooth_nr=0, smooth_dr=e, ignore_index=k)``, with or
  without absent classes, and not ``dice``: ``test_kornia_dice_micro``.
  kornia ``TverskyLoss(alpha=a, beta=b, eps=e, ignore_index=k)`` (``alpha``
  weighs false positives) = ``tversky(alpha=a, beta=b, gamma=1,
  smooth_nr=0, smooth_dr=e, ignore_index=k, batch=False)``, same condition:
  ``test_kornia_tversky``.
* MONAI ``MaskedDiceLoss(softmax=True, smooth_nr=a, smooth_dr=b, batch=B,
  include_background=K, squared_pred=S)(x, one_hot, mask=m)`` with a 0/1
  mask (``B1...`` or ``11...``) = ``dice(from_logits=True, smooth_nr=a,
  smooth_dr=b, batch=B, include_background=K, squared=S,
  ignore_index=255)`` on the labels set to 255 where ``m = 0``; with
  ``to_onehot_y=True`` only for ``include_background=False``;
  ``sigmoid=True`` = ``multilabel=True`` with the dense target zeroed where
  ``m = 0`` and an out-of-range ``ignore_index``, provided every kept
  position has a positive label (always so for one-hot targets);
  ``jaccard=True, smooth_nr=2a, smooth_dr=2b`` = ``jaccard(smooth_nr=a,
  smooth_dr=b, ...)``: ``test_monai_masked_dice``.

Peer behaviours the default settings do not reproduce, each measured by a test
against those defaults.  The first four have spec parameters since issue 10,
proven through the compat classes in ``tests/test_compat_smp.py``; the tests
here keep the size of each divergence at the defaults measured:

* smp scores a class with no target pixel in the whole batch 0 but keeps it
  in the class mean: smp = ``(C - 1)/C`` times ours with that class weighted
  0 (``test_smp_absent_class_divergence``); ``empty_class="zero"`` is smp's rule.
* smp ``log_loss=True`` is ``mean_c -log(max(score_c, eps))``
  (``test_smp_log_loss_divergence``); ours ``log_loss=True, log_epsilon=eps``.
* smp's ``eps`` is a clamp of the denominator, not an additive smoothing
  (``test_smp_eps_clamp_divergence``); ours ``min_denominator``.
* smp's L1-form intersection has the sub-gradient 0 of ``|p - g|`` where a
  probability equals its 0/1 target exactly: same values, other gradients
  there (``test_smp_tied_probabilities_gradient_divergence``);
  ``intersection="l1"`` is smp's form.
* smp ``ignore_index`` in multilabel mode masks single (position, class)
  entries; ours ignores whole positions (``test_smp_multilabel_ignore_index_divergence``).
* kornia ``macro`` Dice and Tversky average each sample's classes over the
  classes present in that sample's kept target; ours keeps every class
  (``test_kornia_absent_class_divergence``).
* kornia scores a fully ignored sample 1 even at ``eps=0``; ours, with a
  zero denominator, scores it 0 (``test_kornia_eps_zero_fully_ignored_sample``).
* MONAI ``MaskedDiceLoss(to_onehot_y=True)`` masks the label map before the
  one-hot, so masked positions become class-0 targets with zero prediction
  (``test_monai_masked_dice_label_map_background_divergence``).
* MONAI ``MaskedDiceLoss(sigmoid=True)`` keeps kept positions without any
  positive label; our dense-target ignore rule drops them with the masked ones
  (``test_monai_masked_dice_multilabel_empty_rows_divergence``).
* A MONAI mask with values strictly between 0 and 1 weights ``p`` and ``g``;
  ours only ignores positions (``test_monai_masked_dice_soft_mask_divergence``).
* MONAI 1.5 ``MaskedDiceLoss`` applied the mask before the activation; the
  equivalence above is that of MONAI 1.6.
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

import kornia.losses
import losses_torch
import monai.losses
from peer_libraries import smp_losses


import losses_tf

import autodiff
from autodiff import torch_value_and_grad

# isort: on

RTOL = 1e-12
ATOL = 1e-14
# Only for MONAI's float32 one-hot under squared_pred (module docstring).
MONAI_F32_RTOL = 1e-6
MONAI_F32_ATOL = 1e-9
SHAPES = {"2d": (2, 4, 5, 6), "3d": (2, 3, 4, 3, 5)}
IGNORE = 255

assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by the test case (stable across runs, unlike ``hash``)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Channels-first float64 one-hot; labels outside ``[0, C)`` give all-zero rows."""
    in_range = (labels >= 0) & (labels < num_classes)
    dense = np.eye(num_classes)[np.where(in_range, labels, 0)] * in_range[..., None]
    return np.moveaxis(dense, -1, 1)


def _labels(rng: np.random.Generator, shape, *, per_sample: bool = False, absent: int | None = None) -> np.ndarray:
    """Integer labels ``(N, *spatial)`` for ``shape = (N, C, *spatial)``: every
    class present in the batch (in every sample with ``per_sample``), except
    class ``absent``, which is missing from the whole batch."""
    num_classes = shape[1]
    classes = [c for c in range(num_classes) if c != absent]
    while True:
        labels = rng.choice(classes, size=(shape[0], *shape[2:]))
        groups = list(labels) if per_sample else [labels]
        if all(len(np.unique(g)) == len(classes) for g in groups):
            return labels.astype(np.int64)


def _ignore(rng: np.random.Generator, labels: np.ndarray, *, per_sample: bool = False) -> np.ndarray:
    """About 30% of the labels set to ``IGNORE``, every class of ``labels``
    still present among the kept ones (in every sample with ``per_sample``)."""
    groups = list(labels) if per_sample else [labels]
    present = [np.unique(g) for g in groups]
    while True:
        ignored = np.where(rng.random(labels.shape) < 0.3, IGNORE, labels)
        kept = list(ignored) if per_sample else [ignored]
        if (ignored == IGNORE).any() and all(np.isin(p, k).all() for p, k in zip(present, kept, strict=True)):
            return ignored


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


def peer_vg(loss, x: np.ndarray, target, **extras):
    """A torch peer's value and gradient w.r.t. ``x``; ``extras`` (e.g. a mask) passed by keyword."""
    target_t = torch.as_tensor(target)
    extras_t = {k: torch.as_tensor(v) for k, v in extras.items()}
    return torch_value_and_grad(lambda t: loss(t, target_t, **extras_t), x)


def _value(loss, x: np.ndarray, target, **extras) -> float:
    """A loss value alone (for the divergence measurements)."""
    extras_t = {k: torch.as_tensor(v) for k, v in extras.items()}
    with torch.no_grad():
        return float(loss(torch.as_tensor(x), torch.as_tensor(target), **extras_t))


def _our_value(class_name: str, params: dict, x: np.ndarray, target) -> float:
    return _value(getattr(losses_torch, class_name)(**params), x, target)


# --------------------------------------------------------------------------- smp Dice / Jaccard / Tversky

SMP_LOSSES = {"dice": ("DiceLoss", "DiceLoss", 2.0), "jaccard": ("JaccardLoss", "JaccardLoss", 1.0)}
# (smooth, eps): eps stays below every clamped denominator (P + G)/2 + s >= 1/2 of a present class
SMP_SMOOTH_EPS = [(0.0, 1e-7), (1e-5, 1e-7), (0.5, 0.25)]
SMP_WEIGHTS = [0.5, 2.0, 1.0, 0.25]  # exact in float32 (smp stores its class_weights as float32)


def _smp_problem(rng: np.random.Generator, mode: str, shape, space: str, *, absent: int | None = None):
    """``(x, target)`` for an smp mode: logits or probabilities (softmax in
    multiclass, sigmoid otherwise) and integer labels (multiclass) or 0/1
    float targets, every class present in the batch except ``absent``."""
    if mode == "binary":
        shape = (shape[0], 1, *shape[2:])
    logits = rng.normal(size=shape) * 1.5
    if mode == "multiclass":
        target = _labels(rng, shape, absent=absent)
        probs = _softmax(logits)
    else:
        while True:
            target = (rng.random(shape) < 0.4).astype(np.float64)
            if absent is not None:
                target[:, absent] = 0.0
            volumes = target.sum(axis=(0, *range(2, len(shape))))
            if all((v > 0) == (c != absent) for c, v in enumerate(volumes)):
                break
        probs = _sigmoid(logits)
    return (logits if space == "logits" else probs), target


def _smp_selection(selection: str, num_classes: int) -> tuple[dict, dict]:
    """smp's ``classes``/``class_weights`` and our equivalent parameters."""
    if selection == "all":
        return {}, {}
    if selection == "weighted":
        weights = SMP_WEIGHTS[:num_classes]
        return {"class_weights": weights}, {"class_weights": weights}
    if selection == "classes":  # a subset: weight 1 on it, 0 elsewhere
        kept = [0, 2]
        return {"classes": kept}, {"class_weights": [1.0 if c in kept else 0.0 for c in range(num_classes)]}
    assert selection == "no_background"
    return {"classes": list(range(1, num_classes))}, {"include_background": False}


SMP_CASES = [
    (mode, selection)
    for mode in ("binary", "multiclass", "multilabel")
    for selection in (("all",) if mode == "binary" else ("all", "weighted", "classes", "no_background"))
]


@pytest.mark.parametrize("space", ["logits", "probabilities"])
@pytest.mark.parametrize("smooth_eps", SMP_SMOOTH_EPS, ids=str)
@pytest.mark.parametrize(("mode", "selection"), SMP_CASES, ids=["-".join(c) for c in SMP_CASES])
@pytest.mark.parametrize("loss", sorted(SMP_LOSSES))
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_smp_dice_jaccard(dims, loss, mode, selection, smooth_eps, space):
    shape = SHAPES[dims]
    smp_name, our_name, smooth_factor = SMP_LOSSES[loss]
    rng = _rng("smp", dims, loss, mode, selection, smooth_eps, space)
    x, target = _smp_problem(rng, mode, shape, space)
    smooth, eps = smooth_eps
    smp_params, our_params = _smp_selection(selection, shape[1])
    peer_loss = getattr(smp_losses(), smp_name)(
        mode, smooth=smooth, eps=eps, from_logits=space == "logits", **smp_params
    )
    peer = peer_vg(peer_loss, x, target)
    params = dict(
        smooth=smooth_factor * smooth,
        batch=True,
        multilabel=mode != "multiclass",
        from_logits=space == "logits",
        **our_params,
    )
    assert_ours_match(our_name, params, x, target, peer)


@pytest.mark.parametrize("smooth", [0.0, 0.5])
@pytest.mark.parametrize("mode", ["binary", "multiclass"])
@pytest.mark.parametrize("loss", sorted(SMP_LOSSES))
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_smp_ignore_index(dims, loss, mode, smooth):
    shape = SHAPES[dims]
    smp_name, our_name, smooth_factor = SMP_LOSSES[loss]
    rng = _rng("smp-ignore", dims, loss, mode, smooth)
    peer_loss = getattr(smp_losses(), smp_name)(mode, smooth=smooth, ignore_index=IGNORE)
    params = dict(smooth=smooth_factor * smooth, batch=True)
    if mode == "multiclass":
        x = rng.normal(size=shape) * 1.5
        labels = _ignore(rng, _labels(rng, shape))
        peer = peer_vg(peer_loss, x, labels)
        assert_ours_match(our_name, dict(params, ignore_index=IGNORE), x, labels, peer)
        return
    # binary: smp's one channel is our channel 1 of a two-channel multilabel problem whose
    # background channel is left out; ignored positions are all-zero rows of the one-hot target
    labels = _ignore(rng, (rng.random((shape[0], *shape[2:])) < 0.4).astype(np.int64))
    x = rng.normal(size=(shape[0], 2, *shape[2:])) * 1.5
    peer = peer_vg(peer_loss, x[:, 1:], labels[:, None].astype(np.float64))
    params = dict(params, multilabel=True, include_background=False, ignore_index=-1)
    for framework, (value, grad) in ours(our_name, params, x, _one_hot(labels, 2)).items():
        np.testing.assert_array_equal(grad[:, 0], 0.0, err_msg=framework)
        assert_same((value, grad[:, 1:]), peer, what=framework)


@pytest.mark.parametrize("smooth", [0.0, 0.5])
@pytest.mark.parametrize("alpha_beta", [(0.3, 0.7), (0.8, 0.2), (1.0, 1.0)], ids=str)
@pytest.mark.parametrize("mode", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_smp_tversky(dims, mode, alpha_beta, smooth):
    """smp's TverskyLoss with gamma=1 (where its focal exponent is inert) is our tversky."""
    shape = SHAPES[dims]
    rng = _rng("smp-tversky", dims, mode, alpha_beta, smooth)
    x, target = _smp_problem(rng, mode, shape, "logits")
    alpha, beta = alpha_beta
    peer = peer_vg(smp_losses().TverskyLoss(mode, alpha=alpha, beta=beta, gamma=1.0, smooth=smooth), x, target)
    params = dict(alpha=alpha, beta=beta, gamma=1.0, smooth=smooth, batch=True, multilabel=mode != "multiclass")
    assert_ours_match("TverskyLoss", params, x, target, peer)


# --------------------------------------------------------------------------- smp divergences


@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
@pytest.mark.parametrize("loss", sorted(SMP_LOSSES))
def test_smp_absent_class_divergence(loss, mode):
    """smp zeroes the loss of a class absent from the whole batch but keeps it in
    the class mean: smp = (C - 1)/C * ours(that class weighted 0), a data-dependent
    rescaling no parameter gives."""
    shape = SHAPES["2d"]
    smp_name, our_name, smooth_factor = SMP_LOSSES[loss]
    rng = _rng("smp-absent", loss, mode)
    absent = shape[1] - 1
    x, target = _smp_problem(rng, mode, shape, "logits", absent=absent)
    smp_value = _value(getattr(smp_losses(), smp_name)(mode, smooth=0.5), x, target)
    params = dict(smooth=smooth_factor * 0.5, batch=True, multilabel=mode != "multiclass")
    weights = [0.0 if c == absent else 1.0 for c in range(shape[1])]
    present_mean = _our_value(our_name, dict(params, class_weights=weights), x, target)
    np.testing.assert_allclose(smp_value, (shape[1] - 1) / shape[1] * present_mean, rtol=RTOL)
    difference = abs(_our_value(our_name, params, x, target) - smp_value)
    assert difference > 0.1, difference  # measured: 0.19 (dice), 0.20 (jaccard) multiclass


def _per_class(our_name: str, params: dict, x: np.ndarray, target, num_classes: int) -> np.ndarray:
    """Our per-class losses, each read off as the loss with all weight on that class."""
    return np.array([
        _our_value(our_name, dict(params, class_weights=[float(c == k) for c in range(num_classes)]), x, target)
        for k in range(num_classes)
    ])


@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
@pytest.mark.parametrize("loss", sorted(SMP_LOSSES))
def test_smp_log_loss_divergence(loss, mode):
    """smp log_loss=True is mean_c -log(max(score_c, eps)): the log of our per-class
    score, which no parameter of ours gives."""
    shape = SHAPES["2d"]
    smp_name, our_name, _ = SMP_LOSSES[loss]
    rng = _rng("smp-log", loss, mode)
    x, target = _smp_problem(rng, mode, shape, "logits")
    smp_value = _value(getattr(smp_losses(), smp_name)(mode, log_loss=True), x, target)
    params = dict(smooth=0.0, batch=True, multilabel=mode != "multiclass")
    per_class = _per_class(our_name, params, x, target, shape[1])
    np.testing.assert_allclose(smp_value, np.mean(-np.log(np.maximum(1.0 - per_class, 1e-7))), rtol=RTOL)
    difference = abs(_our_value(our_name, params, x, target) - smp_value)
    assert difference > 0.1, difference


@pytest.mark.parametrize("loss", sorted(SMP_LOSSES))
def test_smp_eps_clamp_divergence(loss):
    """smp's eps clamps the denominator: above every denominator it gives
    1 - mean_c (I_c + s)/eps, which no additive smoothing reproduces."""
    shape = SHAPES["2d"]
    smp_name, our_name, smooth_factor = SMP_LOSSES[loss]
    rng = _rng("smp-eps", loss)
    x, labels = _smp_problem(rng, "multiclass", shape, "logits")
    eps, smooth = 100.0, 0.5  # every denominator here is below 31
    smp_value = _value(getattr(smp_losses(), smp_name)("multiclass", smooth=smooth, eps=eps), x, labels)
    axes = (0, 2, 3)
    probs, dense = _softmax(x), _one_hot(labels, shape[1])
    intersection = (probs * dense).sum(axis=axes)
    np.testing.assert_allclose(smp_value, 1.0 - np.mean((intersection + smooth) / eps), rtol=RTOL)
    difference = abs(_our_value(our_name, dict(smooth=smooth_factor * smooth, batch=True), x, labels) - smp_value)
    assert difference > 0.1, difference


def test_smp_tied_probabilities_gradient_divergence():
    """Probabilities exactly equal to their 0/1 targets: smp's L1 intersection
    (P + G - sum|p - g|)/2 takes the sub-gradient 0 of |p - g| there, our
    sum(p g) the gradient g.  Values agree; gradients agree away from the ties only."""
    shape = SHAPES["2d"]
    rng = _rng("smp-ties")
    _, labels = _smp_problem(rng, "multiclass", shape, "logits")
    probs = _softmax(rng.normal(size=shape) * 1.5)
    probs[:, :, 0] = _one_hot(labels, shape[1])[:, :, 0]  # first image row predicted exactly
    peer_value, peer_grad = peer_vg(smp_losses().DiceLoss("multiclass", from_logits=False), probs, labels)
    for framework, (value, grad) in ours("DiceLoss", dict(from_logits=False, smooth=0.0, batch=True), probs,
                                         labels).items():
        np.testing.assert_allclose(value, peer_value, rtol=RTOL, atol=ATOL, err_msg=framework)
        np.testing.assert_allclose(grad[:, :, 1:], peer_grad[:, :, 1:], rtol=RTOL, atol=ATOL, err_msg=framework)
        difference = np.abs(grad[:, :, 0] - peer_grad[:, :, 0]).min()
        assert difference > 1e-3, (framework, difference)  # every tied entry differs


def test_smp_multilabel_ignore_index_divergence():
    """smp's multilabel ignore_index masks single (position, class) entries.  Ours
    ignores whole positions; the two agree when the ignored entries fill whole
    positions and every kept position has a positive label, and differ otherwise."""
    shape = SHAPES["2d"]
    rng = _rng("smp-multilabel-ignore")
    x, target = _smp_problem(rng, "multilabel", shape, "logits")
    peer_loss = smp_losses().DiceLoss("multilabel", ignore_index=-1)
    params = dict(smooth=0.0, batch=True, multilabel=True)

    # whole positions ignored, every kept position with a positive: ours (dense rule, all-zero rows) = smp
    whole = rng.random((shape[0], 1, *shape[2:])) < 0.3
    target_pos = target.copy()
    target_pos[:, 0] = np.where(target_pos.sum(axis=1) == 0, 1.0, target_pos[:, 0])
    peer = peer_vg(peer_loss, x, np.where(whole, -1.0, target_pos))
    assert_ours_match("DiceLoss", dict(params, ignore_index=-1), x, target_pos * ~whole, peer)

    # single entries ignored: neither dropping their positions nor keeping the entries gives smp
    entries = rng.random(shape) < 0.2
    smp_value = _value(peer_loss, x, np.where(entries, -1.0, target_pos))
    positions = entries.any(axis=1, keepdims=True)
    drop = _our_value("DiceLoss", dict(params, ignore_index=-1), x, target_pos * ~positions)
    keep = _our_value("DiceLoss", params, x, target_pos * ~entries)
    assert min(abs(drop - smp_value), abs(keep - smp_value)) > 1e-3, (smp_value, drop, keep)


# --------------------------------------------------------------------------- kornia Dice / Tversky

KORNIA_SHAPES = {"small": (2, 4, 5, 6), "large": (2, 4, 64, 64)}  # large: 2**15 values, kornia's gather path
KORNIA_WEIGHTS = {
    "unweighted": ({}, {}),
    "weighted": ({"weight": [0.5, 2.0, 1.0, 0.3]}, {"class_weights": [0.5, 2.0, 1.0, 0.3]}),
    "no_background": ({"weight": [0.0, 1.0, 1.0, 1.0]}, {"include_background": False}),
}


def _kornia_problem(rng: np.random.Generator, shape, ignore: bool, *, per_sample: bool = True):
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape, per_sample=per_sample)
    return x, (_ignore(rng, labels, per_sample=per_sample) if ignore else labels)


def _kornia_params(weights: str, ignore: bool) -> tuple[dict, dict]:
    theirs, mine = KORNIA_WEIGHTS[weights]
    theirs = {k: torch.tensor(v, dtype=torch.float64) for k, v in theirs.items()}
    if ignore:
        return dict(theirs, ignore_index=IGNORE), dict(mine, ignore_index=IGNORE)
    return theirs, mine  # kornia's default ignore_index=-100 never occurs in the labels


@pytest.mark.parametrize("ignore", [False, True], ids=["all_kept", "ignored"])
@pytest.mark.parametrize("weights", sorted(KORNIA_WEIGHTS))
@pytest.mark.parametrize("eps", [1e-8, 1e-3, 0.5])
@pytest.mark.parametrize("layout", sorted(KORNIA_SHAPES))
def test_kornia_dice_macro(layout, eps, weights, ignore):
    shape = KORNIA_SHAPES[layout]
    rng = _rng("kornia-macro", layout, eps, weights, ignore)
    x, labels = _kornia_problem(rng, shape, ignore)
    theirs, mine = _kornia_params(weights, ignore)
    peer = peer_vg(kornia.losses.DiceLoss(average="macro", eps=eps, **theirs), x, labels)
    assert_ours_match("DiceLoss", dict(smooth_nr=0.0, smooth_dr=eps, batch=False, **mine), x, labels, peer)


@pytest.mark.parametrize("ignore", [False, True], ids=["all_kept", "ignored"])
@pytest.mark.parametrize("weights", sorted(KORNIA_WEIGHTS))
@pytest.mark.parametrize("eps", [1e-8, 1e-3, 0.5])
@pytest.mark.parametrize("layout", sorted(KORNIA_SHAPES))
def test_kornia_dice_micro(layout, eps, weights, ignore):
    """kornia's micro Dice is one ratio over all classes of a sample: our uniform
    generalized Dice, also with a class absent from a sample; not our Dice."""
    shape = KORNIA_SHAPES[layout]
    rng = _rng("kornia-micro", layout, eps, weights, ignore)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape, absent=shape[1] - 2)  # one class missing from the whole batch
    labels = _ignore(rng, labels) if ignore else labels
    theirs, mine = _kornia_params(weights, ignore)
    peer = peer_vg(kornia.losses.DiceLoss(average="micro", eps=eps, **theirs), x, labels)
    params = dict(weight_type="uniform", weight_epsilon=0.0, smooth_nr=0.0, smooth_dr=eps, batch=False, **mine)
    assert_ours_match("GeneralizedDiceLoss", params, x, labels, peer)
    dice = _our_value("DiceLoss", dict(smooth_nr=0.0, smooth_dr=eps, **mine), x, labels)
    assert abs(dice - peer[0]) > 1e-3, (dice, peer[0])


@pytest.mark.parametrize("ignore", [False, True], ids=["all_kept", "ignored"])
@pytest.mark.parametrize("eps", [1e-8, 0.5])
@pytest.mark.parametrize("alpha_beta", [(0.5, 0.5), (0.3, 0.7), (0.7, 0.3), (1.0, 1.0), (0.2, 1.5)], ids=str)
def test_kornia_tversky(alpha_beta, eps, ignore):
    shape = KORNIA_SHAPES["small"]
    rng = _rng("kornia-tversky", alpha_beta, eps, ignore)
    x, labels = _kornia_problem(rng, shape, ignore)
    alpha, beta = alpha_beta
    theirs = {"ignore_index": IGNORE} if ignore else {}
    peer = peer_vg(kornia.losses.TverskyLoss(alpha=alpha, beta=beta, eps=eps, **theirs), x, labels)
    params = dict(alpha=alpha, beta=beta, gamma=1.0, smooth_nr=0.0, smooth_dr=eps, batch=False, **theirs)
    assert_ours_match("TverskyLoss", params, x, labels, peer)


# --------------------------------------------------------------------------- kornia divergences

KORNIA_PEERS = {
    "dice_macro": (lambda eps, **kw: kornia.losses.DiceLoss(average="macro", eps=eps, **kw), "DiceLoss", {}),
    "tversky": (
        lambda eps, **kw: kornia.losses.TverskyLoss(alpha=0.3, beta=0.7, eps=eps, **kw),
        "TverskyLoss",
        {"alpha": 0.3, "beta": 0.7},
    ),
}


@pytest.mark.parametrize("peer_name", sorted(KORNIA_PEERS))
def test_kornia_absent_class_divergence(peer_name):
    """A class absent from one sample's target: kornia averages that sample over
    its present classes only, i.e. the batch mean of ours per sample with that
    sample's absent classes weighted 0 -- per-sample weights no parameter gives."""
    make_peer, our_name, extra = KORNIA_PEERS[peer_name]
    shape = KORNIA_SHAPES["small"]
    rng = _rng("kornia-absent", peer_name)
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape, per_sample=True)
    labels[0] = np.where(labels[0] == shape[1] - 1, 0, labels[0])  # last class missing from sample 0
    peer_value = _value(make_peer(1e-8), x, labels)
    params = dict(smooth_nr=0.0, smooth_dr=1e-8, **extra)
    per_sample = [
        _our_value(our_name, dict(params, class_weights=[float((labels[n] == c).any()) for c in range(shape[1])]),
                   x[n : n + 1], labels[n : n + 1])
        for n in range(shape[0])
    ]
    np.testing.assert_allclose(peer_value, np.mean(per_sample), rtol=RTOL)
    difference = abs(_our_value(our_name, params, x, labels) - peer_value)
    assert difference > 1e-2, difference


@pytest.mark.parametrize("peer_name", sorted(KORNIA_PEERS))
def test_kornia_eps_zero_fully_ignored_sample(peer_name):
    """A sample whose pixels are all ignored: kornia scores it 1 at any eps; ours
    scores it 1 for eps > 0 and, with smooth_dr=0 (zero denominator), 0 -- so at
    eps=0 kornia exceeds ours by exactly 1/N."""
    make_peer, our_name, extra = KORNIA_PEERS[peer_name]
    shape = KORNIA_SHAPES["small"]
    rng = _rng("kornia-ignored-sample", peer_name)
    x, labels = _kornia_problem(rng, shape, ignore=False)
    labels[1] = IGNORE
    for eps in (1e-8, 0.0):
        peer_value = _value(make_peer(eps, ignore_index=IGNORE), x, labels)
        our_value = _our_value(our_name, dict(smooth_nr=0.0, smooth_dr=eps, ignore_index=IGNORE, **extra), x, labels)
        expected = 0.0 if eps > 0.0 else 1.0 / shape[0]
        np.testing.assert_allclose(peer_value - our_value, expected, rtol=RTOL, atol=1e-15)


# --------------------------------------------------------------------------- MONAI MaskedDiceLoss

# (activation, target given to MONAI, include_background)
MASKED_CASES = [
    ("softmax", "one_hot", True),
    ("softmax", "one_hot", False),
    ("softmax", "label_map", False),  # to_onehot_y=True: only without background (see the divergence test)
    ("sigmoid", "one_hot", True),
    ("sigmoid", "one_hot", False),
    ("sigmoid", "multilabel", True),  # every kept position has a positive label
    ("sigmoid", "multilabel", False),
]
MASKED_SMOOTHING = [(1e-5, 1e-5), (0.5, 2.0)]


def _keep_mask(rng: np.random.Generator, shape, *, shared: bool = False) -> np.ndarray:
    """A 0/1 float mask ``(N, 1, *spatial)`` (``(1, 1, *spatial)`` when ``shared``)."""
    mask_shape = (1 if shared else shape[0], 1, *shape[2:])
    while True:
        keep = (rng.random(mask_shape) > 0.3).astype(np.float64)
        if 0.0 < keep.mean() < 1.0:
            return keep


def _masked_problem(rng: np.random.Generator, shape, activation: str, target: str, shared: bool):
    """Logits, MONAI's target, the mask, our target and our extra parameters."""
    x = rng.normal(size=shape) * 1.5
    keep = _keep_mask(rng, shape, shared=shared)
    kept = np.broadcast_to(keep, (shape[0], 1, *shape[2:])) > 0
    labels = _labels(rng, shape)
    if target == "multilabel":
        dense = (rng.random(shape) < 0.4).astype(np.float64)
        dense[:, 0] = np.where(dense.sum(axis=1) == 0, 1.0, dense[:, 0])  # a positive at every position
        return x, dense, keep, dense * kept, {"multilabel": True, "ignore_index": -1}
    monai_target = labels[:, None] if target == "label_map" else _one_hot(labels, shape[1])
    if activation == "sigmoid":
        return x, monai_target, keep, _one_hot(labels, shape[1]) * kept, {"multilabel": True, "ignore_index": -1}
    return x, monai_target, keep, np.where(kept[:, 0], labels, IGNORE), {"ignore_index": IGNORE}


@pytest.mark.parametrize("shared_mask", [False, True], ids=["mask_per_sample", "mask_shared"])
@pytest.mark.parametrize("squared", [False, True], ids=["linear", "squared"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("smoothing", MASKED_SMOOTHING, ids=str)
@pytest.mark.parametrize("loss", ["dice", "jaccard"])
@pytest.mark.parametrize("case", MASKED_CASES, ids=["-".join(map(str, c)) for c in MASKED_CASES])
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_masked_dice(dims, case, loss, smoothing, batch, squared, shared_mask):
    activation, target, include_background = case
    shape = SHAPES[dims]
    rng = _rng("monai-masked", dims, case, loss, smoothing, batch, squared, shared_mask)
    x, monai_target, keep, our_target, our_extra = _masked_problem(rng, shape, activation, target, shared_mask)
    a, b = smoothing
    scale = 2.0 if loss == "jaccard" else 1.0  # MONAI's jaccard=True smoothing is twice ours
    peer_loss = monai.losses.MaskedDiceLoss(
        softmax=activation == "softmax",
        sigmoid=activation == "sigmoid",
        to_onehot_y=target == "label_map",
        jaccard=loss == "jaccard",
        smooth_nr=scale * a,
        smooth_dr=scale * b,
        batch=batch,
        include_background=include_background,
        squared_pred=squared,
    )
    peer = peer_vg(peer_loss, x, monai_target, mask=keep)
    params = dict(smooth_nr=a, smooth_dr=b, batch=batch, include_background=include_background, squared=squared,
                  **our_extra)
    # MONAI's float32 one-hot makes vector_norm(g)**2 inexact (module docstring)
    tolerance = dict(rtol=MONAI_F32_RTOL, atol=MONAI_F32_ATOL) if squared and target == "label_map" else {}
    assert_ours_match("DiceLoss" if loss == "dice" else "JaccardLoss", params, x, our_target, peer, **tolerance)


# --------------------------------------------------------------------------- MONAI MaskedDiceLoss divergences


def test_monai_masked_dice_label_map_background_divergence():
    """With to_onehot_y=True MONAI masks the label map before the one-hot: masked
    positions become class-0 targets with zero prediction.  MONAI equals our Dice
    of exactly those masked probabilities and targets, and differs from ours with
    the masked positions ignored."""
    shape = SHAPES["2d"]
    rng = _rng("monai-masked-label-map")
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape)
    keep = _keep_mask(rng, shape)
    peer_value = _value(monai.losses.MaskedDiceLoss(softmax=True, to_onehot_y=True), x, labels[:, None], mask=keep)
    as_background = _our_value("DiceLoss", dict(from_logits=False), _softmax(x) * keep, labels * keep[:, 0].astype(int))
    np.testing.assert_allclose(peer_value, as_background, rtol=RTOL)
    ignored = _our_value("DiceLoss", dict(ignore_index=IGNORE), x, np.where(keep[:, 0] > 0, labels, IGNORE))
    assert abs(ignored - peer_value) > 1e-3, (ignored, peer_value)


def test_monai_masked_dice_multilabel_empty_rows_divergence():
    """MONAI (sigmoid) keeps kept positions that have no positive label; our dense
    target marks ignored positions as all-zero rows, so it drops those too.  MONAI
    equals our Dice of the masked probabilities and targets with nothing ignored."""
    shape = SHAPES["2d"]
    rng = _rng("monai-masked-empty-rows")
    x = rng.normal(size=shape) * 1.5
    dense = (rng.random(shape) < 0.3).astype(np.float64)
    keep = _keep_mask(rng, shape)
    assert ((dense.sum(axis=1, keepdims=True) == 0) & (keep > 0)).any()  # kept positions without a positive
    peer_value = _value(monai.losses.MaskedDiceLoss(sigmoid=True), x, dense, mask=keep)
    plain = _our_value("DiceLoss", dict(from_logits=False, multilabel=True), _sigmoid(x) * keep, dense * keep)
    np.testing.assert_allclose(peer_value, plain, rtol=RTOL)
    ignored = _our_value("DiceLoss", dict(multilabel=True, ignore_index=-1), x, dense * keep)
    assert abs(ignored - peer_value) > 1e-3, (ignored, peer_value)


def test_monai_masked_dice_soft_mask_divergence():
    """A mask strictly between 0 and 1 weights p and g (MONAI = our Dice of m p
    and m g, fed as probabilities); ignoring positions (mask > 0 or mask >= 1/2)
    cannot reproduce it."""
    shape = SHAPES["2d"]
    rng = _rng("monai-masked-soft")
    x = rng.normal(size=shape) * 1.5
    labels = _labels(rng, shape)
    soft = rng.uniform(0.05, 1.0, size=(shape[0], 1, *shape[2:]))
    peer_value = _value(monai.losses.MaskedDiceLoss(softmax=True), x, _one_hot(labels, shape[1]), mask=soft)
    weighted = _our_value("DiceLoss", dict(from_logits=False), _softmax(x) * soft, _one_hot(labels, shape[1]) * soft)
    np.testing.assert_allclose(peer_value, weighted, rtol=RTOL)
    for threshold in (0.0, 0.5):
        kept = np.where(soft[:, 0] > threshold, labels, IGNORE)
        ignored = _our_value("DiceLoss", dict(ignore_index=IGNORE), x, kept)
        assert abs(ignored - peer_value) > 1e-3, (threshold, ignored, peer_value)
