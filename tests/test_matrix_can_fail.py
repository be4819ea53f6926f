"""The parity matrix must be able to fail: losses that are deliberately wrong
in one framework, in the gradient only, or NaN at an edge are caught."""

import pytest

import spec
from spec import parity
from spec.registry import unregister


@pytest.fixture
def broken_loss():
    names = []

    def define(name, formula):
        spec.define_loss(name, replace=True)(formula)
        names.append(name)
        return spec.get(name)

    yield define
    for name in names:
        unregister(name)


def _failures(loss, frameworks):
    [row] = parity.check(loss, frameworks=frameworks)
    return row.failures


def test_value_drift_in_one_framework_fails(broken_loss, frameworks):
    def drifting(ops, y_pred, y_true):
        """Squared error, 1e-6 too large in PyTorch only."""
        scale = 1.000001 if ops.name == "torch" else 1.0
        return scale * (y_pred - y_true) * (y_pred - y_true)

    failures = _failures(broken_loss("test_drifting", drifting), frameworks)
    assert any(f.startswith("value torch float64") for f in failures)
    assert not any(f.startswith("value tensorflow float64") for f in failures)


def test_wrong_gradient_fails(broken_loss, frameworks):
    def detached(ops, y_pred, y_true):
        """Squared error whose gradient is cut in TensorFlow only."""
        error = y_pred - y_true
        if ops.name == "tensorflow":
            return error * ops.stop_gradient(error)
        return error * error

    failures = _failures(broken_loss("test_detached", detached), frameworks)
    assert any(f.startswith("grad torch-tf float64") for f in failures)
    assert any(f.startswith("fd tensorflow float64") for f in failures)


@pytest.mark.parametrize("fd_directions", [None, 2], ids=["every_element", "two_directions"])
def test_a_gradient_wrong_in_both_frameworks_fails_finite_differences(broken_loss, frameworks, fd_directions):
    def half_detached(ops, y_pred, y_true):
        """Squared error whose gradient is half the true one, in both frameworks alike."""
        error = y_pred - y_true
        return error * error + ops.stop_gradient(error * error) - error * ops.stop_gradient(error)

    loss = broken_loss("test_half_detached", half_detached)
    [row] = parity.check(loss, frameworks=frameworks, finite_differences="per_sample", fd_directions=fd_directions)
    assert not any(f.startswith("grad torch-tf") for f in row.failures), "the frameworks agree with each other"
    assert any(f.startswith("fd torch float64") for f in row.failures)
    assert any(f.startswith("fd tensorflow float64") for f in row.failures)
    assert any(f.startswith("gradcheck failed") for f in row.failures)


def test_nan_gradient_fails(broken_loss, frameworks):
    def root(ops, y_pred, y_true):
        """sqrt(|error|): infinite gradient at a perfect prediction."""
        return ops.power(ops.abs(y_pred - y_true), 0.5)

    failures = _failures(broken_loss("test_root", root), frameworks)
    assert any("NaN/inf" in f for f in failures)


def test_cli_exits_non_zero_on_a_failing_row(broken_loss, capsys):
    from spec.cli import main

    def drifting(ops, y_pred, y_true):
        """Absolute error, doubled in TensorFlow only."""
        return ops.abs(y_pred - y_true) * (2.0 if ops.name == "tensorflow" else 1.0)

    broken_loss("test_cli_drifting", drifting)
    assert main(["parity", "--loss", "test_cli_drifting", "--no-finite-differences"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "FAILED: 1 failing row(s)" in out


def test_value_drift_in_the_onnx_graph_fails(broken_loss, frameworks):
    def drifting(ops, y_pred, y_true):
        """Squared error, 1e-5 too large in the ONNX graph only."""
        scale = 1.00001 if ops.name == "onnx" else 1.0
        return scale * (y_pred - y_true) * (y_pred - y_true)

    failures = _failures(broken_loss("test_onnx_drifting", drifting), frameworks)
    assert any(f.startswith("value onnx float64") for f in failures)
    assert any(f.startswith("value onnx float32") for f in failures)
    assert not any(f.startswith(("value torch", "value tensorflow")) for f in failures)
