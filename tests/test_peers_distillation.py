"""Distillation losses against their definitions written with torch.nn and
Keras built-ins (values and gradients, float64)."""

import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losses_tf
import losses_torch


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0, 10.0])
def test_knowledge_distillation_equals_batchmean_kl_times_t_squared(temperature):
    rng = np.random.default_rng(int(temperature))
    student = torch.tensor(rng.normal(0, 3, (6, 5)), requires_grad=True)
    teacher = torch.tensor(rng.normal(0, 3, (6, 5)))
    theirs = temperature**2 * torch.nn.KLDivLoss(reduction="batchmean")(
        F.log_softmax(student / temperature, dim=1), F.softmax(teacher / temperature, dim=1)
    )
    ours = losses_torch.KnowledgeDistillationLoss(temperature=temperature)(student, teacher)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    (g_theirs,) = torch.autograd.grad(theirs, student)
    (g_ours,) = torch.autograd.grad(ours, student)
    np.testing.assert_allclose(g_ours.numpy(), g_theirs.numpy(), rtol=1e-11, atol=1e-16)
    # Keras: KLDivergence on the softened distributions (it clips them to [1e-7, 1])
    soft_t = keras.ops.softmax(teacher.numpy() / temperature, axis=-1)
    soft_s = keras.ops.softmax(student.detach().numpy() / temperature, axis=-1)
    keras_value = temperature**2 * float(keras.losses.KLDivergence()(soft_t, soft_s))
    ours_keras = float(
        losses_tf.KnowledgeDistillationLoss(temperature=temperature, dtype="float64")(
            teacher.numpy(), student.detach().numpy()
        )
    )
    np.testing.assert_allclose(ours_keras, keras_value, rtol=1e-6)
    probabilities = losses_torch.KnowledgeDistillationLoss(temperature=temperature, teacher="probabilities")(
        student, F.softmax(teacher / temperature, dim=1)
    )
    np.testing.assert_allclose(probabilities.item(), theirs.item(), rtol=1e-12)


@pytest.mark.parametrize("ce_classes", ["new", "all"])
@pytest.mark.parametrize(("old", "temperature", "weight"), [(2, 2.0, 1.0), (3, 1.0, 0.5), (1, 4.0, 2.0)])
def test_incremental_distillation_equals_its_definition(ce_classes, old, temperature, weight):
    rng = np.random.default_rng(old)
    student = torch.tensor(rng.normal(0, 2, (7, 5)), requires_grad=True)
    teacher = torch.tensor(rng.normal(0, 2, (7, 5)))
    low = old if ce_classes == "new" else 0
    labels = torch.tensor(rng.integers(low, 5, 7))
    ce_logits = student[:, old:] if ce_classes == "new" else student
    ce = F.cross_entropy(ce_logits, labels - low)
    kd = temperature**2 * F.kl_div(
        F.log_softmax(student[:, :old] / temperature, 1),
        F.softmax(teacher[:, :old] / temperature, 1),
        reduction="batchmean",
    )
    theirs = ce + weight * kd
    loss = losses_torch.IncrementalDistillationLoss(
        old_classes=old, temperature=temperature, lambda_distill=weight, ce_classes=ce_classes
    )
    ours = loss(student, labels, teacher=teacher)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    (g_theirs,) = torch.autograd.grad(theirs, student)
    (g_ours,) = torch.autograd.grad(ours, student)
    np.testing.assert_allclose(g_ours.numpy(), g_theirs.numpy(), rtol=1e-11, atol=1e-16)
