"""The edge conventions of the ops protocol hold in every backend: gradients at
clip boundaries, 0/0, fractional powers at 0, ties in max, saturated
log-sigmoid/log-softmax.  Native framework ops disagree at these points; the
spec's helpers must not."""

import numpy as np
import pytest
import tensorflow as tf
import torch

from losses_tf.ops import TensorFlowOps
from losses_torch.ops import TorchOps
from spec.numpy_ops import NumpyOps
from spec.ops import clip, safe_divide, safe_power, softplus


def torch_grad(fn, x):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    value = fn(TorchOps(), t)
    (grad,) = torch.autograd.grad(value.sum(), t)
    return value.detach().numpy(), grad.numpy()


def tf_grad(fn, x):
    t = tf.constant(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(t)
        value = fn(TensorFlowOps(), t)
        total = tf.reduce_sum(value)
    return value.numpy(), tape.gradient(total, t, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()


GRADIENTS = [pytest.param(torch_grad, id="torch"), pytest.param(tf_grad, id="tensorflow")]


@pytest.mark.parametrize("grad", GRADIENTS)
def test_clip_gradient_is_one_on_the_bounds_and_zero_outside(grad):
    value, g = grad(lambda ops, x: clip(ops, x, 0.0, 1.0), np.array([-0.5, 0.0, 0.3, 1.0, 1.5]))
    np.testing.assert_array_equal(value, [0.0, 0.0, 0.3, 1.0, 1.0])
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("grad", GRADIENTS)
def test_safe_divide_at_zero_denominator(grad):
    def ratio(ops, x):
        return safe_divide(ops, x * 2.0, x * x, when_zero=1.0)

    value, g = grad(ratio, np.array([0.0, 2.0]))
    np.testing.assert_array_equal(value, [1.0, 1.0])
    np.testing.assert_allclose(g, [0.0, -0.5])


@pytest.mark.parametrize("grad", GRADIENTS)
def test_fractional_power_at_zero_has_zero_gradient(grad):
    value, g = grad(lambda ops, x: safe_power(ops, x, 0.5), np.array([0.0, 4.0]))
    np.testing.assert_array_equal(value, [0.0, 2.0])
    np.testing.assert_allclose(g, [0.0, 0.25])


@pytest.mark.parametrize("grad", GRADIENTS)
def test_amax_ties_share_the_gradient(grad):
    value, g = grad(lambda ops, x: ops.amax(x, axis=0), np.array([3.0, 1.0, 3.0]))
    assert value == 3.0
    np.testing.assert_allclose(g, [0.5, 0.0, 0.5])


@pytest.mark.parametrize("grad", GRADIENTS)
def test_saturated_activations_stay_finite_and_exact(grad):
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    value, g = grad(lambda ops, t: softplus(ops, t), x)
    np.testing.assert_allclose(value, np.logaddexp(0.0, x), rtol=1e-15)
    np.testing.assert_allclose(g, np.exp(-np.logaddexp(0.0, -x)), rtol=1e-14, atol=0)
    logits = np.array([[1000.0, 0.0, -1000.0]])
    value, g = grad(lambda ops, t: ops.log_softmax(t, 1), logits)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(value, [[0.0, -1000.0, -2000.0]])


@pytest.mark.parametrize(
    ("ops", "as_tensor"),
    [(NumpyOps(), np.asarray), (TorchOps(), torch.tensor), (TensorFlowOps(), tf.constant)],
    ids=["numpy", "torch", "tensorflow"],
)
def test_one_hot_places_the_class_axis(ops, as_tensor):
    labels = as_tensor(np.array([[0, 2], [1, 1]]))
    like = as_tensor(np.zeros(1))
    encoded = np.asarray(ops.one_hot(labels, 3, 1, like))
    assert encoded.shape == (2, 3, 2)
    np.testing.assert_array_equal(encoded[:, :, 0], [[1, 0, 0], [0, 1, 0]])
    last = np.asarray(ops.one_hot(labels, 3, 2, like))
    np.testing.assert_array_equal(np.moveaxis(last, 2, 1), encoded)
