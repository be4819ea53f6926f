"""An empty batch (``N = 0``) is not an error and not a NaN: ``"mean"`` and
``"sum"`` give 0 with an empty gradient, ``"none"`` gives no element -- what
Keras' ``sum_over_batch_size`` and torchvision's box losses give, where a plain
mean would be 0/0 (torch's own ``MSELoss`` returns NaN).  Every registered
loss and preset, in both frameworks.
"""

import numpy as np
import pytest
import tensorflow as tf
import torch

import losses_tf
import losses_torch
import spec

CASES = [(name, preset) for name in spec.names() for preset in spec.get(name).presets]


def _empty_inputs(name: str, preset: str):
    loss = spec.get(name)
    sample = loss.samples(np.random.default_rng(0), loss.bind(loss.presets[preset]))[0]
    target = sample.labels if sample.labels is not None else sample.dense
    extras = {key: value[:0] for key, value in (sample.extras or {}).items()}
    return loss.presets[preset], sample.y_pred[:0], target[:0], extras


def _torch(name, params, y_pred, y_true, extras, reduction):
    loss = losses_torch.loss_class(name)(reduction=reduction, **params)
    x = torch.tensor(y_pred, requires_grad=True)
    value = loss(x, torch.tensor(y_true), **{key: torch.tensor(v) for key, v in extras.items()})
    (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
    return value.detach().numpy(), None if grad is None else grad.numpy()


def _keras(name, params, y_pred, y_true, extras, reduction):
    params = dict(params)
    if "class_axis" in losses_tf.loss_class(name).spec.params.names():
        params.setdefault("class_axis", 1)  # the channels-first arrays of the samples
    loss = losses_tf.loss_class(name)(reduction=reduction, dtype="float64", **params)
    x = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(tf.constant(y_true), x, **{key: tf.constant(v) for key, v in extras.items()})
        total = tf.reduce_sum(value)
    grad = tape.gradient(total, x)
    return value.numpy(), None if grad is None else grad.numpy()


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize(("name", "preset"), CASES)
def test_empty_batch(name, preset, framework):
    params, y_pred, y_true, extras = _empty_inputs(name, preset)
    run = _torch if framework == "torch" else _keras
    for reduction in ("mean", "sum"):
        value, grad = run(name, params, y_pred, y_true, extras, reduction)
        assert value.shape == () and value == 0.0, f"{reduction}: {value!r}"
        assert grad is None or (grad.shape == y_pred.shape and grad.size == 0)
    value, _ = run(name, params, y_pred, y_true, extras, "none")
    assert value.size <= 1 and np.all(value == 0.0), f"none: {value!r}"


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_barlow_twins_single_sample_is_an_error(framework):
    """One sample has no per-feature standard deviation: an error, where an empty batch is 0."""
    params, y_pred, _, extras = _empty_inputs("barlow_twins", "default")
    one = np.ones((1, y_pred.shape[1]))
    run = _torch if framework == "torch" else _keras
    with pytest.raises(ValueError, match=r"barlow_twins: needs a batch of at least 2 samples, got y_pred shape \(1, "):
        run("barlow_twins", params, one, one, extras, "mean")
