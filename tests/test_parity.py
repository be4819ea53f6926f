"""The parity matrix, driven by the registry: one test per (loss, preset).

Each test runs every layout, target form, sample (edge cases included) and,
for the default preset, every reduction, in float64 and float32, comparing
NumPy float64 <-> PyTorch <-> TensorFlow values, PyTorch <-> TensorFlow
gradients, and the absence of NaN/inf on every case; both frameworks' float64
gradients against finite differences of the NumPy reference (in two random
directions) and ``torch.autograd.gradcheck`` (fast mode) run on every smooth
sample once per preset and layout (``lossbridge parity`` differentiates
by every element of every smooth case).
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
    [row] = parity.check(
        loss, {preset: loss.presets[preset]}, frameworks=frameworks, finite_differences="per_sample", fd_directions=2
    )
    assert row.cases > 0
    expected = {"value torch float64", "value tensorflow float64", "grad torch-tf float64", "grad torch-tf float32"}
    assert expected <= set(row.errors), f"missing comparisons: {expected - set(row.errors)}"
    assert any(key.startswith("fd ") for key in row.errors), "no smooth sample: finite differences never ran"
    assert row.passed, "\n".join(row.failures[:20])


# the losses whose formula calls a fused op (native kernel behind the ops protocol)
# (TensorFlow float64 always runs the composite CTC, so the matrix above covers it
# per preset; test_native_and_composite_ctc_agree covers the blank positions.)
CROSS_ENTROPY_PRESETS = ["default", "ignore_index", "class_weights", "label_smoothing", "torch_full"]
# class_statistics: labels and one-hot targets, ignore_index, batch, squared and multilabel, probabilities
OVERLAP_PRESETS = ["default", "ignore_index", "batch", "multilabel_squared", "probabilities"]
FUSED = (
    [("categorical_crossentropy", p) for p in CROSS_ENTROPY_PRESETS]
    + [("ctc", "default")]
    + [(name, p) for name in ("dice", "jaccard", "tversky") for p in OVERLAP_PRESETS]
    + [("generalized_dice", p) for p in ("default", "ignore_index", "batch_epsilon_simple")]
    + [("dice_crossentropy", "default"), ("log_cosh_dice", "default")]
)


@pytest.mark.parametrize(("name", "preset"), FUSED, ids=[f"{n}-{p}" for n, p in FUSED])
def test_composite_path_matches_the_matrix(name, preset, frameworks, monkeypatch):
    """A fused native kernel (cross-entropy, CTC) is an override behind the ops
    protocol; forcing the composite formula must pass the same matrix."""
    monkeypatch.setenv("LOSSBRIDGE_COMPOSITE_OPS", "1")
    loss = spec.get(name)
    [row] = parity.check(loss, {preset: loss.presets[preset]}, frameworks=frameworks, finite_differences=False)
    assert row.passed, "\n".join(row.failures[:20])


@pytest.mark.parametrize("preset", CROSS_ENTROPY_PRESETS)
def test_cross_entropy_kernel_at_every_size_matches_the_matrix(preset, frameworks, monkeypatch):
    """torch's fused cross-entropy kernel serves large inputs only (small ones
    take F.cross_entropy); forced at every size it must pass the matrix, finite
    differences and gradcheck included."""
    from losses_torch import ops as torch_ops

    monkeypatch.setattr(torch_ops, "FUSED_MIN_SIZE", 0)
    loss = spec.get("categorical_crossentropy")
    [row] = parity.check(
        loss, {preset: loss.presets[preset]}, frameworks=frameworks, finite_differences="per_sample", fd_directions=2
    )
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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_native_and_composite_ctc_agree(rng, dtype):
    """torch's ``F.ctc_loss`` and TensorFlow's ``tf.nn.ctc_loss`` (float32) against
    the composite forward recursion, values and gradients, blank first, inside
    and last, lengths varying within the batch."""
    import numpy as np
    import tensorflow as tf
    import torch

    from losses_tf.ops import TensorFlowOps
    from losses_torch.ops import TorchOps
    from spec.ops import Ops

    tolerance = {"float32": 2e-5, "float64": 1e-11}[dtype]
    logits = rng.normal(0, 2, (4, 9, 5)).astype(dtype)
    frames = np.array([9, 7, 4, 0])
    lengths = np.array([3, 2, 0, 0])
    for blank in (0, 2, 4):
        labels = rng.choice([c for c in range(5) if c != blank], (4, 9))
        runs = {}
        for ops in (TorchOps(), TensorFlowOps()):
            for path, call in (("native", ops.ctc_loss), ("composite", lambda *a, ops=ops: Ops.ctc_loss(ops, *a))):
                if ops.name == "torch":
                    x = torch.tensor(logits, requires_grad=True)
                    nll = call(x, torch.tensor(labels), torch.tensor(frames), torch.tensor(lengths), blank)
                    (grad,) = torch.autograd.grad((nll * torch.arange(1, 5, dtype=x.dtype)).sum(), x)
                    runs[ops.name, path] = (nll.detach().numpy(), grad.numpy())
                else:
                    x = tf.constant(logits)
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        nll = call(x, tf.constant(labels), tf.constant(frames), tf.constant(lengths), blank)
                        total = tf.reduce_sum(nll * tf.range(1, 5, dtype=x.dtype))
                    runs[ops.name, path] = (nll.numpy(), tape.gradient(total, x).numpy())
        reference = runs["torch", "composite"]
        for key, (value, grad) in runs.items():
            np.testing.assert_allclose(value, reference[0], rtol=tolerance, atol=tolerance, err_msg=str((key, blank)))
            np.testing.assert_allclose(grad, reference[1], rtol=tolerance, atol=tolerance, err_msg=str((key, blank)))
