"""Peer equivalences of the CTC loss (``spec/losses/_ctc.py``), in values and
gradients with respect to the prediction.

* torch (``F.ctc_loss``, ``nn.CTCLoss``): float64, relative 1e-12, every
  reduction, ``zero_infinity``, blanks 0, inside and last, log-probabilities
  and logits, both of our layouts and dense (one-hot) targets.
* TensorFlow (``tf.nn.ctc_loss``) and Keras 3 (``keras.losses.CTC``): their
  dense CTC only runs in float32 (``tf.nn.ctc_loss`` raises on float64 and
  Keras casts float64 inputs to float32), so they are compared with our
  float64 loss at ``TF_RTOL``/``TF_ATOL`` -- the float32 rounding of a sum of
  ``T`` log-probabilities -- and with our float32 loss the same way.

Peer behaviours no setting reproduces are pinned by tests too (so the day a
peer changes, a test says so): torch's inf and NaN gradient for impossible
targets without ``zero_infinity``, its value on log-probabilities that are not
normalised, TensorFlow's finite but arbitrary value for impossible targets and
its refusal of float64.
"""

from __future__ import annotations

import os
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

import keras
import tensorflow as tf

import losses_tf
from spec.losses._ctc import IMPOSSIBLE_LOSS

import autodiff
from autodiff import tf_value_and_grad, torch_value_and_grad

# isort: on

RTOL, ATOL = 1e-12, 1e-14
# TensorFlow/Keras compute in float32.  Measured against our float64 loss (T = 10,
# C = 5, losses up to ~25): values within 1.5e-7 relative, gradients within 4e-7
# absolute (float32 sums of T log-probabilities and their posteriors).
TF_RTOL, TF_ATOL = 1e-6, 1e-6

C, T = 5, 10


def _problem(seed: int, blank: int, *, impossible: bool = False, padding: int | None = None):
    """A batch of 4 (5 with ``impossible``): varying input and target lengths,
    repeated labels, an empty target, a target using every frame.

    Returns ``(logits (N, T, C), targets (N, S) padded for the peers,
    y_true (N, T) padded to T for us, input_lengths, target_lengths)``.
    """
    rng = np.random.default_rng(seed)
    b = blank % C
    choices = [c for c in range(C) if c != b]
    sequences = [
        list(rng.choice(choices, 3)),  # random, 3 labels
        [choices[0], choices[0], choices[1], choices[1]],  # repeats: needs 6 frames
        [],  # empty target
        [choices[(k * 2) % len(choices)] for k in range(6)],  # 6 labels over 7 frames
    ]
    frames = [T, 7, 8, 7]
    if impossible:
        sequences.append([choices[2]] * 3)  # needs 5 frames, gets 4
        frames.append(4)
    n = len(sequences)
    longest = max(len(s) for s in sequences)
    fill = b if padding is None else padding
    targets = np.full((n, longest), fill, np.int64)
    y_true = np.full((n, T), fill, np.int64)
    for i, seq in enumerate(sequences):
        targets[i, : len(seq)] = seq
        y_true[i, : len(seq)] = seq
    logits = rng.normal(0.0, 1.5, (n, T, C))
    return logits, targets, y_true, np.array(frames, np.int64), np.array([len(s) for s in sequences], np.int64)


# Values and gradients at this module's tolerances; looser ones are passed explicitly.
assert_same = partial(autodiff.assert_same, rtol=RTOL, atol=ATOL)


def _ours_torch(y_true, frames, lengths, **params):
    loss = losses_torch.CtcLoss(**params)
    extras = {"input_lengths": torch.tensor(frames), "target_lengths": torch.tensor(lengths)}
    return lambda x: loss(x, torch.tensor(y_true), **extras)


def _ours_keras(y_true, frames, lengths, dtype="float64", **params):
    loss = losses_tf.CtcLoss(dtype=dtype, **params)
    extras = {"input_lengths": tf.constant(frames), "target_lengths": tf.constant(lengths)}
    return lambda x: loss(tf.constant(y_true), x, **extras)


def _keras_reduction(reduction: str) -> str:
    return {"mean": "sum_over_batch_size", "sum": "sum", "none": "none"}[reduction]


# --------------------------------------------------------------------------- torch


@pytest.mark.parametrize("inputs", ["log_probs", "logits"])
@pytest.mark.parametrize("blank", [0, 2, C - 1, -1])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_torch_functional_ctc_loss(reduction, zero_infinity, blank, inputs):
    """``F.ctc_loss`` on (T, N, C) = ours on the (N, T, C) transpose with
    ``class_axis=-1``; torch's "mean" (per-sample loss / target length, then
    the batch mean) = ``normalize_by_length=True`` with "mean".  Impossible
    targets only with ``zero_infinity`` (torch gives inf otherwise)."""
    logits, targets, y_true, frames, lengths = _problem(11 + blank, blank, impossible=zero_infinity)
    x = F.log_softmax(torch.tensor(logits), -1).numpy() if inputs == "log_probs" else logits

    def peer(t):
        log_probs = t if inputs == "log_probs" else F.log_softmax(t, -1)
        return F.ctc_loss(
            log_probs.transpose(0, 1),
            torch.tensor(targets),
            torch.tensor(frames),
            torch.tensor(lengths),
            blank=blank % C,
            reduction=reduction,
            zero_infinity=zero_infinity,
        )

    expected = torch_value_and_grad(peer, x)
    assert np.isfinite(expected[0]).all()
    params = dict(
        class_axis=-1,
        blank=blank,
        zero_infinity=zero_infinity,
        normalize_by_length=reduction == "mean",
        reduction=reduction,
    )
    assert_same(torch_value_and_grad(_ours_torch(y_true, frames, lengths, **params), x), expected, what="torch")
    assert_same(tf_value_and_grad(_ours_keras(y_true, frames, lengths, **params), x), expected, what="keras")


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("target_form", ["labels", "dense"])
def test_torch_ctc_module_in_its_own_layout(reduction, target_form):
    """``nn.CTCLoss`` on torch's (T, N, C) log-probabilities = our torch
    module on ``log_probs.permute(1, 2, 0)`` (N, C, T), its default layout
    (``class_axis=1``), with integer or one-hot targets; gradients with
    respect to the same (T, N, C) tensor."""
    blank = 3
    logits, targets, y_true, frames, lengths = _problem(5, blank, impossible=True)
    x = np.ascontiguousarray(F.log_softmax(torch.tensor(logits), -1).transpose(0, 1).numpy())  # (T, N, C)
    peer_loss = torch.nn.CTCLoss(blank=blank, reduction=reduction, zero_infinity=True)
    expected = torch_value_and_grad(
        lambda t: peer_loss(t, torch.tensor(targets), torch.tensor(frames), torch.tensor(lengths)), x
    )

    ours_loss = losses_torch.CtcLoss(
        blank=blank, zero_infinity=True, normalize_by_length=reduction == "mean", reduction=reduction
    )
    target = torch.tensor(y_true)
    if target_form == "dense":
        target = F.one_hot(target, C).permute(0, 2, 1).to(torch.float64)  # (N, C, T)

    def ours(t):
        return ours_loss(
            t.permute(1, 2, 0), target, input_lengths=torch.tensor(frames), target_lengths=torch.tensor(lengths)
        )

    assert_same(torch_value_and_grad(ours, x), expected, what=f"torch module, {target_form}")


def test_torch_probabilities_through_their_log():
    """Probabilities: ``F.ctc_loss(log(p))`` = ours on ``log(p)``; the gradient
    with respect to ``p`` is ``1 - posterior / p`` in both."""
    blank = 0
    logits, targets, y_true, frames, lengths = _problem(8, blank)
    p = F.softmax(torch.tensor(logits), -1).numpy()

    def peer(t):
        return F.ctc_loss(
            torch.log(t).transpose(0, 1), torch.tensor(targets), torch.tensor(frames), torch.tensor(lengths)
        )

    ours = _ours_torch(y_true, frames, lengths, class_axis=-1, normalize_by_length=True)
    assert_same(
        torch_value_and_grad(lambda t: ours(torch.log(t)), p), torch_value_and_grad(peer, p), rtol=1e-11, atol=1e-13
    )


def test_torch_impossible_target_without_zero_infinity():
    """Not reproduced: torch returns inf and a NaN gradient for a target no
    alignment can produce; ours is the constant ``IMPOSSIBLE_LOSS`` with zero
    gradient, and the other samples are untouched."""
    logits, targets, y_true, frames, lengths = _problem(3, 0, impossible=True)
    x = F.log_softmax(torch.tensor(logits), -1).numpy()

    def peer(t):
        return F.ctc_loss(
            t.transpose(0, 1), torch.tensor(targets), torch.tensor(frames), torch.tensor(lengths), reduction="none"
        )

    v_peer, g_peer = torch_value_and_grad(peer, x)
    assert np.isinf(v_peer[-1]) and np.isnan(g_peer[-1]).any()
    v_ours, g_ours = torch_value_and_grad(_ours_torch(y_true, frames, lengths, class_axis=-1, reduction="none"), x)
    assert v_ours[-1] == IMPOSSIBLE_LOSS and not g_ours[-1].any()
    assert_same((v_ours[:-1], g_ours[:-1]), (v_peer[:-1], g_peer[:-1]), what="possible samples")


def test_torch_unnormalised_log_probs_are_renormalised():
    """Not reproduced: torch reads ``log_probs`` as they are, normalised or not,
    and returns ``exp(log_probs) - posterior`` as their gradient; ours applies
    ``log_softmax`` first, so on unnormalised input it equals torch on the
    normalised ``log_softmax(log_probs)`` instead."""
    logits, targets, y_true, frames, lengths = _problem(4, 0)
    shifted = F.log_softmax(torch.tensor(logits), -1).numpy() + 0.3  # log-probabilities summing to e^0.3

    def peer(t):
        return F.ctc_loss(t.transpose(0, 1), torch.tensor(targets), torch.tensor(frames), torch.tensor(lengths))

    ours = torch_value_and_grad(_ours_torch(y_true, frames, lengths, class_axis=-1, normalize_by_length=True), shifted)
    raw = torch_value_and_grad(peer, shifted)
    assert not np.allclose(ours[0], raw[0])
    assert_same(ours, torch_value_and_grad(lambda t: peer(F.log_softmax(t, -1)), shifted), what="renormalised")


# --------------------------------------------------------------------------- TensorFlow and Keras


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("blank", [0, 2, -1])
def test_tf_nn_ctc_loss(blank, time_major):
    """``tf.nn.ctc_loss(labels, logits, label_length, logit_length,
    logits_time_major, blank_index)`` (per-sample losses, float32) = ours with
    ``reduction="none"`` on batch-major logits, in float64 and in float32."""
    logits, targets, y_true, frames, lengths = _problem(21 + blank, blank)
    x = logits.astype(np.float32)

    def peer(t):
        return tf.nn.ctc_loss(
            labels=tf.constant(targets, tf.int32),
            logits=tf.transpose(t, [1, 0, 2]) if time_major else t,
            label_length=tf.constant(lengths, tf.int32),
            logit_length=tf.constant(frames, tf.int32),
            logits_time_major=time_major,
            blank_index=blank,
        )

    expected = tf_value_and_grad(peer, x, dtype="float32")
    for dtype in ["float64", "float32"]:
        ours = _ours_keras(y_true, frames, lengths, dtype=dtype, blank=blank, reduction="none")
        assert_same(tf_value_and_grad(ours, x, dtype=dtype), expected, rtol=TF_RTOL, atol=TF_ATOL, what=dtype)


def test_tf_nn_ctc_loss_refuses_float64():
    """Not reproduced (a TensorFlow limitation): its dense CTC mixes float32
    constants into the computation and fails on float64 logits."""
    logits, targets, _, frames, lengths = _problem(1, 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="double tensor but is a float tensor"):
        tf.nn.ctc_loss(
            tf.constant(targets, tf.int32),
            tf.constant(logits, tf.float64),
            tf.constant(lengths, tf.int32),
            tf.constant(frames, tf.int32),
            logits_time_major=False,
        )


def test_tf_impossible_target_is_finite_but_arbitrary():
    """Not reproduced: TensorFlow gives an impossible target a finite value
    (its float32 log(0) stand-in is log(1e-307) ~ -707) with a non-zero
    gradient; ours is ``IMPOSSIBLE_LOSS`` with zero gradient (0 with
    ``zero_infinity``), the possible samples agree."""
    logits, targets, y_true, frames, lengths = _problem(6, 0, impossible=True)
    x = logits.astype(np.float32)

    def peer(t):
        return tf.nn.ctc_loss(
            tf.constant(targets, tf.int32),
            t,
            tf.constant(lengths, tf.int32),
            tf.constant(frames, tf.int32),
            logits_time_major=False,
        )

    v_peer, g_peer = tf_value_and_grad(peer, x, dtype="float32")
    assert 700.0 < v_peer[-1] < IMPOSSIBLE_LOSS and np.abs(g_peer[-1]).max() > 0.0
    v_ours, g_ours = tf_value_and_grad(_ours_keras(y_true, frames, lengths, reduction="none"), x)
    assert v_ours[-1] == IMPOSSIBLE_LOSS and not g_ours[-1].any()
    assert_same((v_ours[:-1], g_ours[:-1]), (v_peer[:-1], g_peer[:-1]), rtol=TF_RTOL, atol=TF_ATOL)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_keras_ctc(reduction, weighted):
    """``keras.losses.CTC`` (blank 0, every frame valid, ``label_length`` = the
    number of non-zero labels, logits (N, T, C)) = ours with ``blank=0``,
    ``input_lengths=T``, ``target_lengths`` = that count and ``y_true`` padded
    with zeros to ``T``; the same reduction and sample weights."""
    logits, targets, y_true, _, lengths = _problem(9, 0, padding=0)
    frames = np.full(len(lengths), T, np.int64)
    assert (np.count_nonzero(targets, axis=1) == lengths).all()
    weight = np.random.default_rng(2).uniform(0.2, 2.0, len(lengths)) if weighted else None
    sw = None if weight is None else tf.constant(weight)
    peer_loss = keras.losses.CTC(reduction=_keras_reduction(reduction), dtype="float64")
    expected = tf_value_and_grad(lambda t: peer_loss(tf.constant(targets), t, sample_weight=sw), logits)
    loss = losses_tf.CtcLoss(reduction=_keras_reduction(reduction), dtype="float64")
    extras = {"input_lengths": tf.constant(frames), "target_lengths": tf.constant(lengths)}
    ours = tf_value_and_grad(lambda t: loss(tf.constant(y_true), t, sample_weight=sw, **extras), logits)
    assert_same(ours, expected, rtol=TF_RTOL, atol=TF_ATOL, what="keras")
