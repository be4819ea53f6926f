"""TensorFlow's fast paths keep the spec's values and conventions.

* The native kernels behind the fused ops (``clip``, ``safe_divide``,
  ``safe_power``, ``sigmoid_pair``, ``sigmoid_cross_entropy``,
  ``softmax_cross_entropy``) against their composite defaults
  (``LOSSBRIDGE_COMPOSITE_OPS=1``), eager, in ``tf.function`` and compiled by
  XLA, edge points included (clip bounds, zero denominators, zero bases,
  target rows that do not sum to 1).
* Repeated eager calls of a loss run one traced graph (``losses_tf._eager``):
  the same values and gradients as the op-by-op call, the eager input checks
  still raise, the composite switch reaches the graph, and the number of
  traced signatures is bounded.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

import losses_tf
import losses_tf.functional
import losses_tf.losses
from losses_tf import _eager
from losses_tf.ops import TensorFlowOps

OPS = TensorFlowOps()
MODES = ["eager", "function", "xla"]
ROWS = np.array([[0.2, 0.3, 0.5], [0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])


def _softmax_targets() -> np.ndarray:
    """Soft rows summing to 1, to 0.4, to 0 (an ignored row) and one-hot."""
    return np.array([[0.2, 0.3, 0.5], [0.1, 0.0, 0.3], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


FUSED = {
    "clip": (lambda x: OPS.clip(x, 0.0, 1.0), [-0.5, 0.0, 0.3, 1.0, 1.5, math.nan]),
    "clip_half_open": (lambda x: OPS.clip(x, -math.inf, 1.0) + OPS.clip(x, 0.0, math.inf), [-2.0, 0.0, 1.0, 2.0]),
    "safe_divide": (lambda x: OPS.safe_divide(x * 2.0, x * x), [0.0, 2.0, -3.0]),
    "safe_divide_rows": (lambda x: OPS.safe_divide(x, OPS.sum(x, axis=1, keepdims=True)), ROWS),
    "safe_power_2": (lambda x: OPS.safe_power(x, 2.0), [-1.0, 0.0, 0.5, 3.0]),
    "safe_power_2.5": (lambda x: OPS.safe_power(x, 2.5), [-1.0, 0.0, 0.5, 3.0]),
    "safe_power_0.5": (lambda x: OPS.safe_power(x, 0.5), [-1.0, 0.0, 0.5, 3.0]),
    "sigmoid_pair": (lambda x: OPS.sigmoid_pair(x)[0] * 2.0 + OPS.sigmoid_pair(x)[1] * 3.0, [-60.0, -1.0, 0.0, 2.0]),
    "sigmoid_cross_entropy": (
        lambda x: OPS.sigmoid_cross_entropy(x, tf.constant([0.0, 1.0, 0.3, 0.5], x.dtype)),
        [-60.0, -1.0, 0.0, 60.0],
    ),
    "softmax_cross_entropy_last": (
        lambda x: OPS.softmax_cross_entropy(x, tf.constant(_softmax_targets(), x.dtype), -1),
        [[1.0, 2.0, -1.0], [0.0, 0.0, 0.0], [50.0, -50.0, 3.0], [0.5, -0.5, 2.0]],
    ),
    "softmax_cross_entropy_axis_0": (
        lambda x: OPS.softmax_cross_entropy(x, tf.constant(_softmax_targets().T, x.dtype), 0),
        [[1.0, 0.0, 50.0, 0.5], [2.0, 0.0, -50.0, -0.5], [-1.0, 0.0, 3.0, 2.0]],
    ),
}


def _value_and_grad(fn, x: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    def value_and_grad(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            value = fn(t)
            total = tf.reduce_sum(value)
        return value, tape.gradient(total, t)

    if mode != "eager":
        value_and_grad = tf.function(value_and_grad, jit_compile=mode == "xla")
    value, grad = value_and_grad(tf.constant(np.asarray(x, dtype=np.float64)))
    return value.numpy(), grad.numpy()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(FUSED))
def test_native_fused_op_matches_its_composite_default(name, mode, monkeypatch):
    fn, x = FUSED[name]
    native = _value_and_grad(fn, x, mode)
    monkeypatch.setenv("LOSSBRIDGE_COMPOSITE_OPS", "1")
    composite = _value_and_grad(fn, x, mode)
    np.testing.assert_allclose(native[0], composite[0], rtol=1e-13, atol=0, err_msg="value")
    np.testing.assert_allclose(native[1], composite[1], rtol=1e-12, atol=1e-15, err_msg="gradient")


def test_fused_ops_reach_native_kernels():
    """Without the composite switch the TensorFlow kernels are used (else the
    comparison above would compare the composite with itself)."""

    def kernels(fn, x) -> set[str]:
        graph = tf.function(fn).get_concrete_function(tf.TensorSpec(np.shape(x), tf.float64)).graph
        return {op.type for op in graph.get_operations()}

    assert "ClipByValue" in kernels(FUSED["clip"][0], FUSED["clip"][1])
    assert "DivNoNan" in kernels(FUSED["safe_divide"][0], FUSED["safe_divide"][1])
    assert "Relu" in kernels(FUSED["safe_power_2"][0], FUSED["safe_power_2"][1])
    assert "Sigmoid" in kernels(FUSED["sigmoid_pair"][0], FUSED["sigmoid_pair"][1])
    assert "Log1p" in kernels(FUSED["sigmoid_cross_entropy"][0], FUSED["sigmoid_cross_entropy"][1])
    fn, x = FUSED["softmax_cross_entropy_last"]
    compiled = tf.function(fn, jit_compile=True).get_concrete_function(tf.TensorSpec(np.shape(x), tf.float64))
    assert "SoftmaxCrossEntropyWithLogits" in {op.type for op in compiled.graph.get_operations()}


# --------------------------------------------------------------------------- eager calls through a traced graph

RNG = np.random.default_rng(11)
PROBS = tf.constant(tf.nn.softmax(RNG.normal(size=(6, 5))).numpy())
LABELS = tf.constant(RNG.integers(0, 5, 6))


def _step(loss, y_true, y_pred):
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        value = loss(y_true, y_pred)
    return value.numpy(), tape.gradient(value, y_pred).numpy()


def _count_op_by_op_calls(monkeypatch, module) -> list[int]:
    """Count the calls that go op by op through ``module.evaluate``."""
    calls = [0]
    evaluate = module.evaluate

    def counting(*args, **kwargs):
        calls[0] += 1
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(module, "evaluate", counting)
    return calls


def test_repeated_eager_calls_run_a_traced_graph_with_the_same_values(monkeypatch):
    calls = _count_op_by_op_calls(monkeypatch, losses_tf.losses)
    loss = losses_tf.FocalLoss(from_logits=False, alpha=0.25, alpha_mode="scale", dtype="float64")
    steps = [_step(loss, tf.one_hot(LABELS, 5, dtype=tf.float64), PROBS) for _ in range(4)]
    assert calls[0] == 1, "only the first call of a signature runs op by op"
    for value, grad in steps[1:]:
        np.testing.assert_allclose(value, steps[0][0], rtol=1e-14)
        np.testing.assert_allclose(grad, steps[0][1], rtol=1e-13, atol=1e-16)


def test_functional_calls_run_a_traced_graph(monkeypatch):
    # a fresh cache: earlier tests may have filled it or already traced these parameters
    monkeypatch.setattr(losses_tf.functional, "_GRAPHS", {})
    calls = _count_op_by_op_calls(monkeypatch, losses_tf.functional)
    values = [losses_tf.functional.generalized_crossentropy(LABELS, PROBS, from_logits=False, q=0.6) for _ in range(3)]
    assert calls[0] == 1
    np.testing.assert_allclose(values[2], values[0], rtol=1e-14)


def test_eager_input_checks_still_run_on_a_traced_signature():
    loss = losses_tf.CategoricalCrossentropyLoss(from_logits=False, dtype="float64")
    targets = tf.one_hot(LABELS, 5, dtype=tf.float64)
    for _ in range(3):
        loss(targets, PROBS)
    with pytest.raises(ValueError, match="from_logits=False expects probabilities in"):
        loss(targets, PROBS * 3.0)
    labels_loss = losses_tf.GeneralizedCrossentropyLoss(dtype="float64")
    for _ in range(3):
        labels_loss(LABELS, PROBS)
    with pytest.raises(ValueError, match="integer labels in y_true must be in"):
        labels_loss(LABELS + 5, PROBS)


def test_composite_switch_reaches_traced_graphs(monkeypatch):
    loss = losses_tf.BinaryCrossentropyLoss(from_logits=False, dtype="float64")
    targets = tf.constant(RNG.random((6, 5)))

    def kernels() -> set[str]:
        graphs = [g for g in losses_tf.losses._GRAPHS[loss]._graphs.values() if g is not None]
        return {op.type for op in graphs[-1].graph.get_operations()}

    native = [_step(loss, targets, PROBS) for _ in range(2)][-1]
    assert "ClipByValue" in kernels()
    monkeypatch.setenv("LOSSBRIDGE_COMPOSITE_OPS", "1")
    composite = [_step(loss, targets, PROBS) for _ in range(2)][-1]
    assert "ClipByValue" not in kernels()
    np.testing.assert_allclose(composite[0], native[0], rtol=1e-14)
    np.testing.assert_allclose(composite[1], native[1], rtol=1e-13)


def test_traced_signatures_are_bounded():
    loss = losses_tf.MeanSquaredErrorLoss(dtype="float64")
    for rows in range(1, _eager.MAX_GRAPHS + 4):
        x, t = tf.constant(RNG.normal(size=(rows, 3))), tf.constant(RNG.normal(size=(rows, 3)))
        expected = np.mean((x.numpy() - t.numpy()) ** 2)
        for _ in range(3):
            np.testing.assert_allclose(loss(t, x).numpy(), expected, rtol=1e-14)
    graphs = losses_tf.losses._GRAPHS[loss]._graphs
    assert len(graphs) == _eager.MAX_GRAPHS
