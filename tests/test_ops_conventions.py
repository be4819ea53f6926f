"""The edge conventions of the ops protocol hold in every backend: gradients at
clip boundaries, 0/0, fractional powers at 0, ties in max, saturated
log-sigmoid/log-softmax.  Native framework ops disagree at these points; the
spec's helpers must not."""

import itertools
from functools import partial

import numpy as np
import pytest
import tensorflow as tf
import torch
from autodiff import tf_value_and_grad, torch_value_and_grad

from losses_tf.ops import TensorFlowOps
from losses_torch.ops import TorchOps
from spec.numpy_ops import NumpyOps
from spec.ops import clip, relu, safe_divide, safe_power, softplus


def torch_grad(fn, x):
    """``fn(ops, x)`` with the torch ops, and the gradient of its sum."""
    return torch_value_and_grad(partial(fn, TorchOps()), x)


def tf_grad(fn, x):
    """``fn(ops, x)`` with the TensorFlow ops, and the gradient of its sum."""
    return tf_value_and_grad(partial(fn, TensorFlowOps()), x)


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


# --------------------------------------------------------------------------- sorting, scans, pooling

BACKENDS = [
    pytest.param((NumpyOps(), np.asarray), id="numpy"),
    pytest.param((TorchOps(), torch.tensor), id="torch"),
    pytest.param((TensorFlowOps(), tf.constant), id="tensorflow"),
]


def _stable_order(x, axis, descending):
    """The reference permutation: stable, lower index first among equal values."""
    return np.argsort(-x if descending else x, axis=axis, kind="stable")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("descending", [True, False])
def test_sort_is_stable_in_both_directions(backend, descending):
    ops, as_tensor = backend
    x = np.array([[1.0, 3.0, 1.0, 3.0, -0.0, 2.0, 0.0, 3.0], [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]])
    for axis, data in [(1, x), (0, x.T.copy())]:
        values, order = ops.sort(as_tensor(data), axis, descending)
        expected = _stable_order(data, axis, descending)
        np.testing.assert_array_equal(np.asarray(order), expected)
        np.testing.assert_array_equal(np.asarray(values), np.take_along_axis(data, expected, axis))
    labels = np.array([2, 0, 2, 1, 0, 2])  # integers sort too
    _, order = ops.sort(as_tensor(labels), 0, descending)
    np.testing.assert_array_equal(np.asarray(order), _stable_order(labels, 0, descending))


@pytest.mark.parametrize("grad", GRADIENTS)
def test_sort_gradient_follows_the_stable_permutation(grad):
    # Tied values: the gradient of sorted slot i goes to the element the
    # stable order put there, so the slot weights below land on fixed positions.
    x = np.array([[2.0, 7.0, 2.0, 7.0, 5.0, 2.0]])
    slot_weight = np.arange(1.0, 7.0)

    def weighted_sorted(ops, t):
        values, _ = ops.sort(t, 1, descending=True)
        return values * ops.constant(slot_weight, t)

    value, g = grad(weighted_sorted, x)
    np.testing.assert_array_equal(value, [[7.0, 14.0, 15.0, 8.0, 10.0, 12.0]])
    # descending stable order: 1, 3, 4, 0, 2, 5
    np.testing.assert_array_equal(g, [[4.0, 1.0, 5.0, 2.0, 3.0, 6.0]])


@pytest.mark.parametrize("grad", GRADIENTS)
def test_reorder_scatters_the_gradient_back(grad):
    x = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, 1.0]])

    def permuted(ops, t):
        _, order = ops.sort(t, 1, descending=False)
        return ops.reorder(t * t, order, 1) * ops.constant([1.0, 10.0, 100.0], t)

    value, g = grad(permuted, x)
    np.testing.assert_array_equal(value, [[1.0, 2.5, 400.0], [1.0, 90.0, 900.0]])
    np.testing.assert_array_equal(g, [[2 * 0.5 * 10.0, -2.0, 400.0], [6.0 * 10.0, 6.0 * 100.0, 2.0]])


@pytest.mark.parametrize("grad", GRADIENTS)
def test_cumsum_value_and_reversed_gradient(grad):
    x = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -0.5, 0.25, 0.0]])

    def scan(ops, t):
        return ops.cumsum(t, 1) * ops.constant([1.0, 2.0, 3.0, 4.0], t)

    value, g = grad(scan, x)
    np.testing.assert_allclose(value, np.cumsum(x, 1) * [1.0, 2.0, 3.0, 4.0], rtol=1e-15)
    np.testing.assert_array_equal(g, [[10.0, 9.0, 7.0, 4.0]] * 2)
    _, g0 = grad(lambda ops, t: ops.cumsum(t, 0), x)
    np.testing.assert_array_equal(g0, [[2.0] * 4, [1.0] * 4])


def _reference_pool(x, window, axes):
    """Brute-force sliding maximum over in-range positions only."""
    out = np.empty_like(x)
    for index in np.ndindex(x.shape):
        ranges = [range(i, i + 1) for i in index]
        for w, a in zip(window, axes, strict=True):
            a %= x.ndim
            ranges[a] = range(max(0, index[a] - w // 2), min(x.shape[a], index[a] + w // 2 + 1))
        out[index] = max(x[j] for j in itertools.product(*ranges))
    return out


POOLS = [((3, 3), (2, 3)), ((3, 1), (2, 3)), ((1, 3), (-2, -1)), ((5, 3), (1, 3)), ((3, 3, 3), (2, 3, 4))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("window", "axes"), POOLS, ids=[f"{w}@{a}" for w, a in POOLS])
def test_max_and_min_pool_exclude_outside_positions(backend, window, axes):
    ops, as_tensor = backend
    rng = np.random.default_rng(7)
    shape = (2, 3, 4, 5, 3) if len(axes) == 3 else (2, 3, 4, 5)
    x = rng.normal(size=shape) - 3.0  # negative: a zero padding would show
    np.testing.assert_array_equal(
        np.asarray(ops.max_pool(as_tensor(x), window, axes)), _reference_pool(x, window, axes)
    )
    np.testing.assert_array_equal(
        np.asarray(ops.min_pool(as_tensor(x), window, axes)), -_reference_pool(-x, window, axes)
    )


def test_max_pool_values_equal_torch_native_pooling():
    x = torch.tensor(np.random.default_rng(3).normal(size=(2, 3, 5, 4, 6)))
    ops = TorchOps()
    np.testing.assert_array_equal(
        ops.max_pool(x, (3, 3, 3), (2, 3, 4)).numpy(), torch.nn.functional.max_pool3d(x, 3, 1, 1).numpy()
    )
    np.testing.assert_array_equal(
        ops.max_pool(x[:, :, 0], (3, 1), (2, 3)).numpy(),
        torch.nn.functional.max_pool2d(x[:, :, 0], (3, 1), 1, (1, 0)).numpy(),
    )


@pytest.mark.parametrize("grad", GRADIENTS)
def test_max_pool_ties_share_the_gradient(grad):
    # 1 x 1 x 3 x 3 map; every window holds the centre 2, most hold further tied 2s.
    x = np.array([[[[2.0, 0.0, 2.0], [0.0, 2.0, 0.0], [2.0, 0.0, 1.0]]]])
    value, g = grad(lambda ops, t: ops.max_pool(t, (3, 3), (2, 3)), x)
    np.testing.assert_array_equal(value, np.full((1, 1, 3, 3), 2.0))
    # Windows (clipped at the border) holding k tied 2s give each 1/k:
    expected = np.zeros((3, 3))
    for i, j in itertools.product(range(3), range(3)):
        window = [(a, b) for a in range(max(0, i - 1), min(3, i + 2)) for b in range(max(0, j - 1), min(3, j + 2))]
        tied = [p for p in window if x[0, 0][p] == 2.0]
        for p in tied:
            expected[p] += 1.0 / len(tied)
    np.testing.assert_allclose(g[0, 0], expected, rtol=1e-15)
    assert g.sum() == pytest.approx(9.0)
    # min_pool mirrors it
    _, g_min = grad(lambda ops, t: ops.min_pool(t, (3, 3), (2, 3)), -x)
    np.testing.assert_allclose(g_min, g, rtol=1e-15)


@pytest.mark.parametrize("grad", GRADIENTS)
def test_max_pool_3d_ties_and_gradients_agree(grad):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 3, (2, 2, 3, 4, 3)).astype(np.float64)  # many ties
    weights = rng.normal(size=x.shape)

    def pooled(ops, t):
        return ops.max_pool(t, (3, 3, 3), (2, 3, 4)) * ops.constant(weights, t)

    _, g = grad(pooled, x)
    # reference: per output, split its weight evenly over the tied maxima of its window
    expected = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        b, c, *pos = index
        ranges = [range(max(0, p - 1), min(n, p + 2)) for p, n in zip(pos, x.shape[2:], strict=True)]
        window = [(b, c, *q) for q in itertools.product(*ranges)]
        top = max(x[q] for q in window)
        tied = [q for q in window if x[q] == top]
        for q in tied:
            expected[q] += weights[index] / len(tied)
    np.testing.assert_allclose(g, expected, rtol=1e-13, atol=1e-14)


def test_pool_window_must_be_odd():
    with pytest.raises(ValueError, match=r"window sizes must be odd"):
        NumpyOps().max_pool(np.zeros((1, 1, 4, 4)), (2, 3), (2, 3))
    with pytest.raises(ValueError, match=r"2 window size\(s\)"):
        TorchOps().max_pool(torch.zeros(1, 1, 4, 4), (3, 3), (2,))


@pytest.mark.parametrize("grad", GRADIENTS)
def test_relu_gradient_is_zero_at_zero(grad):
    value, g = grad(lambda ops, t: relu(ops, t), np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(value, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])


def test_environment_switches_are_read_on_every_call(monkeypatch):
    """``LOSSBRIDGE_COMPOSITE_OPS`` and ``LOSSBRIDGE_NATIVE`` are read from
    ``os.environ`` on each call (a fast read, not a copy taken at import)."""
    from losses_torch import _native
    from spec.ops import composite_forced, environment_variable

    monkeypatch.delenv("LOSSBRIDGE_COMPOSITE_OPS", raising=False)
    assert environment_variable("LOSSBRIDGE_COMPOSITE_OPS") is None and not composite_forced()
    for value, forced in (("1", True), ("0", False), ("", False), ("yes", True)):
        monkeypatch.setenv("LOSSBRIDGE_COMPOSITE_OPS", value)
        assert environment_variable("LOSSBRIDGE_COMPOSITE_OPS") == value
        assert composite_forced() is forced
    monkeypatch.delenv("LOSSBRIDGE_COMPOSITE_OPS")
    assert not composite_forced()
    monkeypatch.setenv("LOSSBRIDGE_NATIVE", "0")
    assert not _native.enabled()
    monkeypatch.delenv("LOSSBRIDGE_NATIVE")
    assert _native.enabled()
