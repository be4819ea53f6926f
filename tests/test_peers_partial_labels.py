"""Partial-label losses against direct NumPy/torch implementations of their
definitions (float64), and against torch's cross-entropy when every class is
annotated."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losses_tf
import losses_torch


def _case(seed, shape=(3, 4, 5, 6)):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, shape)
    labelled = rng.integers(0, 2, shape[:2]).astype(float)
    labelled[:, 0] = 1.0
    labels = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    keep = np.take_along_axis(labelled, labels.reshape(shape[0], -1), 1).reshape(labels.shape)
    return logits, np.where(keep > 0, labels, 0), labelled


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("name", ["MissingAnnotationCrossentropyLoss", "MarginalCrossentropyLoss"])
def test_fully_annotated_equals_cross_entropy(name):
    logits, labels, labelled = _case(0)
    x = torch.tensor(logits, requires_grad=True)
    ours = getattr(losses_torch, name)()(x, torch.tensor(labels), labelled=torch.ones_like(torch.tensor(labelled)))
    theirs = F.cross_entropy(x, torch.tensor(labels))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    g1, g2 = (torch.autograd.grad(v, x)[0] for v in (ours, theirs))
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-10, atol=1e-16)


@pytest.mark.parametrize("seed", range(4))
def test_missing_annotation_zeroes_background_under_unannotated_predictions(seed):
    logits, labels, labelled = _case(seed)
    predicted = logits.argmax(axis=1)
    unannotated = np.take_along_axis(1 - labelled, predicted.reshape(len(labels), -1), 1).reshape(labels.shape) > 0
    weight = np.where((labels == 0) & unannotated & (predicted > 0), 0.0, 1.0)
    x = torch.tensor(logits, requires_grad=True)
    ce = F.cross_entropy(x, torch.tensor(labels), reduction="none")
    theirs = (ce * torch.tensor(weight)).sum() / weight.sum()
    ours = losses_torch.MissingAnnotationCrossentropyLoss()(x, torch.tensor(labels), labelled=torch.tensor(labelled))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    assert weight.min() == 0.0  # the rule is exercised
    g1, g2 = (torch.autograd.grad(v, x)[0] for v in (ours, theirs))
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-10, atol=1e-16)
    keras = losses_tf.MissingAnnotationCrossentropyLoss(class_axis=1, dtype="float64")(
        labels, logits, labelled=labelled
    )
    np.testing.assert_allclose(float(keras), theirs.item(), rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_marginal_merges_unannotated_classes_into_background(seed):
    logits, labels, labelled = _case(seed)
    p = _softmax(logits)
    merged = (1 - labelled).copy()
    merged[:, 0] = 1.0
    q = p * labelled[:, :, None, None]
    q[:, 0] = (p * merged[:, :, None, None]).sum(axis=1)
    expected = -np.log(np.take_along_axis(q, labels[:, None], 1)).mean()
    ours = losses_torch.MarginalCrossentropyLoss()(
        torch.tensor(logits), torch.tensor(labels), labelled=torch.tensor(labelled)
    )
    np.testing.assert_allclose(ours.item(), expected, rtol=1e-12)


@pytest.mark.parametrize("smooth", [1e-5, 1.0])
def test_exclusion_is_the_overlap_with_other_annotated_organs(smooth):
    logits, labels, labelled = _case(5)
    p = _softmax(logits)
    num_classes = logits.shape[1]
    g = np.moveaxis(np.eye(num_classes)[labels], -1, 1) * labelled[:, :, None, None]
    g[:, 0] = 0.0
    others = g.sum(axis=1, keepdims=True) - g
    overlap = (others * p).sum(axis=(2, 3))
    sizes = others.sum(axis=(2, 3)) + p.sum(axis=(2, 3))
    expected = (2 * overlap / (sizes + smooth))[:, 1:].mean(axis=1)
    ours = losses_torch.ExclusionLoss(smooth=smooth, reduction="none")(
        torch.tensor(logits), torch.tensor(labels), labelled=torch.tensor(labelled)
    )
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)
