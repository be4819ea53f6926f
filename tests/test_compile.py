"""Every registered loss compiles as one graph: ``torch.compile(fullgraph=True)``
(TorchDynamo capture, no graph break) and ``tf.function(jit_compile=True)``
(XLA), with the same value and gradient as eager execution.

Registry-driven, like the parity matrix: the default preset of each loss on
its first smooth sample, float64.  Dynamo runs with the ``"eager"`` backend,
which checks the capture without paying Inductor's code generation on every
loss (``benchmarks/`` times the compiled kernels).
"""

import numpy as np
import pytest
import tensorflow as tf
import torch

import losses_tf
import losses_torch
import spec
from spec.samples import Sample

NAMES = [s.name for s in spec.specs()]


def first_smooth_sample(loss_spec: spec.LossSpec) -> Sample:
    rng = np.random.default_rng(5)
    return next(s for s in loss_spec.samples(rng, loss_spec.bind(loss_spec.presets["default"])) if s.smooth)


def target_of(sample) -> np.ndarray:
    return sample.labels if sample.labels is not None else sample.dense


@pytest.mark.parametrize("name", NAMES)
def test_torch_compile_captures_one_graph(name):
    loss_spec = spec.get(name)
    sample = first_smooth_sample(loss_spec)
    module = getattr(losses_torch, loss_spec.class_name)()
    target = torch.tensor(target_of(sample))
    extras = {k: torch.tensor(v) for k, v in (sample.extras or {}).items()}

    def value_and_grad(fn):
        x = torch.tensor(sample.y_pred, requires_grad=True)
        value = fn(x, target, **extras)
        (grad,) = torch.autograd.grad(value, x)
        return value.detach().numpy(), grad.numpy()

    torch._dynamo.reset()
    compiled = value_and_grad(torch.compile(module, fullgraph=True, backend="eager"))
    eager = value_and_grad(module)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-12, atol=0, err_msg="value")
    np.testing.assert_allclose(compiled[1], eager[1], rtol=1e-12, atol=1e-15, err_msg="gradient")


@pytest.mark.parametrize("name", NAMES)
def test_tf_function_compiles_with_xla(name):
    loss_spec = spec.get(name)
    sample = first_smooth_sample(loss_spec)
    layout = {"class_axis": 1} if "class_axis" in loss_spec.params.names() else {}
    loss = getattr(losses_tf, loss_spec.class_name)(dtype="float64", **layout)
    target = tf.constant(target_of(sample))
    extras = {k: tf.constant(v) for k, v in (sample.extras or {}).items()}

    def value_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(target, x, **extras)
        return value, tape.gradient(value, x)

    x = tf.constant(sample.y_pred)
    compiled = tf.function(value_and_grad, jit_compile=True)(x)
    eager = value_and_grad(x)
    # XLA fuses and reorders float64 arithmetic: agreement to rounding, not bits
    np.testing.assert_allclose(compiled[0].numpy(), eager[0].numpy(), rtol=1e-10, atol=0, err_msg="value")
    np.testing.assert_allclose(compiled[1].numpy(), eager[1].numpy(), rtol=1e-9, atol=1e-12, err_msg="gradient")
