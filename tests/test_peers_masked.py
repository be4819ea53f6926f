"""Masked losses: a mask of ones gives the wrapped loss; a 0/1 mask gives the
mean over kept positions (torch's ignore_index rule for cross-entropy)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losses_torch

import tensorflow as tf  # isort: skip  (torch first, as in every test module)

import losses_tf  # isort: skip


@pytest.mark.parametrize(
    ("name", "shape", "labels"),
    [
        ("categorical_crossentropy", (3, 4, 5, 2), True),
        ("binary_crossentropy", (3, 4, 5), False),
        ("mean_squared_error", (3, 4, 5), False),
        ("mean_absolute_error", (6, 2), False),
        ("huber", (3, 4, 5), False),
    ],
)
def test_mask_of_ones_is_the_wrapped_loss(name, shape, labels):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=shape), requires_grad=True)
    if labels:
        t = torch.tensor(rng.integers(0, shape[1], (shape[0], *shape[2:])))
        mask = torch.ones(t.shape, dtype=torch.float64)
    else:
        t = torch.tensor(rng.uniform(size=shape))
        mask = torch.ones(shape, dtype=torch.float64)
    base = losses_torch.loss_class(name)()(x, t)
    ours = losses_torch.loss_class(f"masked_{name}")()(x, t, mask=mask)
    np.testing.assert_allclose(ours.item(), base.item(), rtol=1e-12)
    g1, g2 = (torch.autograd.grad(v, x)[0] for v in (ours, base))
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-12, atol=1e-16)


def test_masked_cross_entropy_equals_ignore_index():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(2, 3, 4, 5)), requires_grad=True)
    labels = rng.integers(0, 3, (2, 4, 5))
    keep = rng.uniform(size=labels.shape) > 0.4
    theirs = F.cross_entropy(x, torch.tensor(np.where(keep, labels, -100)), ignore_index=-100)
    ours = losses_torch.MaskedCategoricalCrossentropyLoss()(x, torch.tensor(labels), mask=torch.tensor(keep * 1.0))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    g_theirs, g_ours = (torch.autograd.grad(v, x)[0].numpy() for v in (theirs, ours))
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-12, atol=1e-16)
    keras_loss = losses_tf.MaskedCategoricalCrossentropyLoss(class_axis=1, dtype="float64")
    x_tf = tf.constant(x.detach().numpy())
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        keras_value = keras_loss(labels, x_tf, mask=keep * 1.0)
    np.testing.assert_allclose(float(keras_value), theirs.item(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(keras_value, x_tf).numpy(), g_theirs, rtol=1e-12, atol=1e-16)


def test_masked_mse_is_the_mean_over_kept_positions_and_zero_when_nothing_is_kept():
    rng = np.random.default_rng(2)
    x, t = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    mask = (rng.uniform(size=(4, 6)) > 0.5) * 1.0
    ours = losses_torch.MaskedMeanSquaredErrorLoss()(torch.tensor(x), torch.tensor(t), mask=torch.tensor(mask))
    np.testing.assert_allclose(ours.item(), ((x - t) ** 2 * mask).sum() / mask.sum(), rtol=1e-12)
    xt = torch.tensor(x, requires_grad=True)
    empty = losses_torch.MaskedMeanSquaredErrorLoss()(xt, torch.tensor(t), mask=torch.zeros(4, 6, dtype=torch.float64))
    (grad,) = torch.autograd.grad(empty, xt)
    assert empty.item() == 0.0 and torch.count_nonzero(grad) == 0
