"""The parity matrix, driven by the registry: one test per (loss, preset).

Each test runs every layout, target form, sample (edge cases included) and,
for the default preset, every reduction, in float64 and float32, comparing
NumPy float64 <-> PyTorch <-> TensorFlow values, PyTorch <-> TensorFlow
gradients, and the absence of NaN/inf on every case; both frameworks' float64
gradients against finite differences of the NumPy reference and
``torch.autograd.gradcheck`` run on every smooth sample once per preset and
layout (``lossbridge parity`` probes every smooth case).
Registering a loss adds its rows here; ``test_registry.py`` makes sure its
presets move every parameter.
"""

import pytest

import spec
from spec import parity

CELLS = [(s.name, preset) for s in spec.specs() for preset in s.presets]


@pytest.mark.parametrize(("name", "preset"), CELLS, ids=[f"{n}-{p}" for n, p in CELLS])
def test_parity(name, preset, frameworks):
    loss = spec.get(name)
    [row] = parity.check(loss, {preset: loss.presets[preset]}, frameworks=frameworks, finite_differences="per_sample")
    assert row.cases > 0
    expected = {"value torch float64", "value tensorflow float64", "grad torch-tf float64", "grad torch-tf float32"}
    assert expected <= set(row.errors), f"missing comparisons: {expected - set(row.errors)}"
    assert any(key.startswith("fd ") for key in row.errors), "no smooth sample: finite differences never ran"
    assert row.passed, "\n".join(row.failures[:20])


CE_PRESETS = ["default", "ignore_index", "class_weights", "torch_full"]


@pytest.mark.parametrize("preset", CE_PRESETS)
def test_composite_path_matches_the_matrix(preset, frameworks, monkeypatch):
    """The fused native cross-entropy is an override behind the ops protocol;
    forcing the composite formula must pass the same matrix."""
    monkeypatch.setenv("LOSSBRIDGE_COMPOSITE_OPS", "1")
    loss = spec.get("categorical_crossentropy")
    [row] = parity.check(loss, {preset: loss.presets[preset]}, frameworks=frameworks, finite_differences=False)
    assert row.passed, "\n".join(row.failures[:20])


def test_native_and_composite_cross_entropy_agree(rng):
    import numpy as np
    import tensorflow as tf
    import torch

    from losses_tf.ops import TensorFlowOps
    from losses_torch.ops import TorchOps
    from spec.ops import Ops

    logits = rng.normal(0, 3, (3, 5, 4, 2))
    labels = rng.integers(0, 5, (3, 4, 2))
    for ops, as_tensor in [(TorchOps(), torch.tensor), (TensorFlowOps(), tf.constant)]:
        for axis, x in [(1, logits), (3, np.moveaxis(logits, 1, -1))]:
            native = ops.sparse_softmax_cross_entropy(as_tensor(x), as_tensor(labels), axis)
            composite = Ops.sparse_softmax_cross_entropy(ops, as_tensor(x), as_tensor(labels), axis)
            np.testing.assert_allclose(np.asarray(native), np.asarray(composite), rtol=1e-13, atol=0)
