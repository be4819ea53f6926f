"""Gaussian NLL against torch.nn.GaussianNLLLoss (values and gradients with
respect to the input and the variance, float64, relative 1e-12)."""

import numpy as np
import pytest
import tensorflow as tf
import torch

import losses_tf
import losses_torch


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("eps", [1e-6, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_nll_equals_torch(full, eps, reduction):
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.normal(size=(5, 4)), requires_grad=True)
    t = torch.tensor(rng.normal(size=(5, 4)))
    var = torch.tensor(np.exp(rng.normal(size=(5, 4))) * rng.choice([1.0, 0.01], size=(5, 4)), requires_grad=True)
    theirs = torch.nn.GaussianNLLLoss(full=full, eps=eps, reduction=reduction)(x, t, var)
    ours = losses_torch.GaussianNllLoss(full=full, eps=eps, reduction=reduction)(x, t, var=var)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    g_theirs = torch.autograd.grad(theirs.sum(), (x, var))
    g_ours = torch.autograd.grad(ours.sum(), (x, var))
    for a, b in zip(g_ours, g_theirs, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)
    keras_value = losses_tf.GaussianNllLoss(full=full, eps=eps, reduction=reduction, dtype="float64")(
        t.numpy(), x.detach().numpy(), var=var.detach().numpy()
    )
    np.testing.assert_allclose(np.asarray(keras_value), theirs.detach().numpy(), rtol=1e-12)


def test_gaussian_nll_needs_its_variance():
    loss = losses_torch.GaussianNllLoss()
    with pytest.raises(TypeError, match=r"gaussian_nll: missing input var="):
        loss(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"gaussian_nll: var must have y_pred's shape \(2, 3\), got shape \(2,\)"):
        loss(torch.zeros(2, 3), torch.zeros(2, 3), var=torch.ones(2))
    with pytest.raises(TypeError, match=r"unexpected input\(s\) \['variance'\]; extra inputs accepted: var"):
        losses_tf.GaussianNllLoss()(tf.zeros((2, 3)), tf.zeros((2, 3)), variance=tf.ones((2, 3)))
