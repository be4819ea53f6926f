"""Compound losses against MONAI (values and gradients, float64): the parts
are the registered losses, so this checks the combination rule.  MONAI's
focal term computes in float32 (its FocalLoss casts), so the focal compounds
are held to relative 2e-6 (values) and 1e-5 / absolute 1e-7 (gradients)."""

import monai.losses
import numpy as np
import pytest
import torch

import losses_torch


def _inputs(seed, shape=(2, 3, 5, 4)):
    rng = np.random.default_rng(seed)
    logits = torch.tensor(rng.normal(0, 2, shape), requires_grad=True)
    labels = rng.integers(0, shape[1], (shape[0], 1, *shape[2:]))
    return logits, torch.tensor(labels)


@pytest.mark.parametrize("lambdas", [(1.0, 1.0), (0.3, 1.7), (0.0, 1.0), (1.0, 0.0)])
@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("smooth", [1e-5, 1.0])
def test_dice_crossentropy_equals_monai_dice_ce(lambdas, batch, include_background, smooth):
    logits, labels = _inputs(hash((lambdas, batch, include_background, smooth)) % 2**32)
    theirs_loss = monai.losses.DiceCELoss(
        softmax=True,
        to_onehot_y=True,
        lambda_dice=lambdas[0],
        lambda_ce=lambdas[1],
        smooth_nr=smooth,
        smooth_dr=smooth,
        batch=batch,
        include_background=include_background,
    )
    ours_loss = losses_torch.DiceCrossentropyLoss(
        lambda_dice=lambdas[0], lambda_ce=lambdas[1], smooth=smooth, batch=batch, include_background=include_background
    )
    theirs = theirs_loss(logits, labels)
    ours = ours_loss(logits, labels)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    (g_theirs,) = torch.autograd.grad(theirs, logits)
    (g_ours,) = torch.autograd.grad(ours, logits)
    np.testing.assert_allclose(g_ours.numpy(), g_theirs.numpy(), rtol=1e-10, atol=1e-15)


def test_compound_none_gives_one_value_per_sample_that_averages_to_mean():
    logits, labels = _inputs(7)
    labels = labels[:, 0]
    loss = losses_torch.DiceCrossentropyLoss(reduction="none", lambda_ce=0.5)
    per_sample = loss(logits, labels)
    assert per_sample.shape == (2,)
    mean = losses_torch.DiceCrossentropyLoss(lambda_ce=0.5)(logits, labels)
    np.testing.assert_allclose(per_sample.mean().item(), mean.item(), rtol=1e-12)
    dice = losses_torch.DiceLoss(reduction="none")(logits, labels)
    ce = losses_torch.CategoricalCrossentropyLoss(reduction="none")(logits, labels).mean(dim=(1, 2))
    np.testing.assert_allclose(per_sample.detach().numpy(), (dice + 0.5 * ce).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("alpha", [None, 0.25, 0.75])
@pytest.mark.parametrize("gamma", [0.0, 2.0, 3.5])
@pytest.mark.parametrize("lambdas", [(1.0, 1.0), (0.4, 2.0)])
@pytest.mark.parametrize("batch", [False, True])
def test_dice_focal_equals_monai(gamma, alpha, lambdas, batch):
    logits, labels = _inputs(int(gamma * 10) + int(batch) + int(100 * (alpha or 0)))
    theirs_loss = monai.losses.DiceFocalLoss(
        softmax=True, to_onehot_y=True, gamma=gamma, alpha=alpha, lambda_dice=lambdas[0], lambda_focal=lambdas[1],
        batch=batch,
    )
    ours_loss = losses_torch.DiceFocalLoss(
        gamma=gamma, alpha=alpha, lambda_dice=lambdas[0], lambda_focal=lambdas[1], batch=batch
    )
    theirs, ours = theirs_loss(logits, labels), ours_loss(logits, labels)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=2e-6)
    (g_theirs,) = torch.autograd.grad(theirs, logits)
    (g_ours,) = torch.autograd.grad(ours, logits)
    np.testing.assert_allclose(g_ours.numpy(), g_theirs.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("gamma", [0.0, 2.0, 3.5])
@pytest.mark.parametrize("weight_type", ["square", "simple", "uniform"])
@pytest.mark.parametrize("lambdas", [(1.0, 1.0), (0.4, 2.0)])
def test_generalized_dice_focal_equals_monai(weight_type, gamma, lambdas):
    logits, labels = _inputs(len(weight_type) + int(gamma * 10))
    theirs_loss = monai.losses.GeneralizedDiceFocalLoss(
        softmax=True, to_onehot_y=True, w_type=weight_type, gamma=gamma, lambda_gdl=lambdas[0],
        lambda_focal=lambdas[1],
    )
    ours_loss = losses_torch.GeneralizedDiceFocalLoss(
        weight_type=weight_type, gamma=gamma, lambda_gdl=lambdas[0], lambda_focal=lambdas[1]
    )
    theirs, ours = theirs_loss(logits, labels), ours_loss(logits, labels)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=2e-6)
    (g_theirs,) = torch.autograd.grad(theirs, logits)
    (g_ours,) = torch.autograd.grad(ours, logits)
    np.testing.assert_allclose(g_ours.numpy(), g_theirs.numpy(), rtol=1e-5, atol=1e-7)
