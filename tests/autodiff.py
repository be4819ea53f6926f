"""Values and gradients of one function in torch and in TensorFlow, and the
comparison of two such results.

The peer tests compute a loss and its gradient with respect to its inputs --
ours in both frameworks, the peer's in its own -- and compare them.  This is
the one definition of both steps they share; each test module keeps its own
tolerances and passes them to ``assert_same``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# torch must be imported before tensorflow (see conftest.py): keep this order.
# isort: off
import numpy as np
import torch

import tensorflow as tf

# isort: on

# One input's gradient, or the list of every input's gradient.
Gradients = np.ndarray | Sequence[np.ndarray]
ValueAndGrad = tuple[np.ndarray, Gradients]


def torch_value_and_grad(
    fn: Callable[..., torch.Tensor],
    *arrays: np.ndarray,
    dtype: str = "float64",
    cotangent: np.ndarray | None = None,
) -> ValueAndGrad:
    """``fn(*tensors)`` and the gradient of ``sum(value * cotangent)`` (of
    ``sum(value)`` without a cotangent) with respect to each input, by torch
    autograd.

    The inputs become leaf tensors of ``dtype``, and the value must have that
    dtype.  An input the value does not depend on gets a zero gradient.
    Returns ``(value, grad)`` for one input, ``(value, [grad, ...])`` for
    several, as float64 NumPy arrays (float32 results widen exactly).
    """
    torch_dtype = getattr(torch, dtype)
    tensors = [torch.tensor(a, dtype=torch_dtype, requires_grad=True) for a in arrays]
    value = fn(*tensors)
    assert value.dtype == torch_dtype, f"value is {value.dtype}, inputs are {torch_dtype}"
    weighted = value if cotangent is None else value * torch.as_tensor(cotangent, dtype=torch_dtype)
    grads = torch.autograd.grad(weighted.sum(), tensors, allow_unused=True)
    return _as_result(
        value.detach().numpy(),
        [np.zeros(np.shape(a)) if g is None else g.numpy() for a, g in zip(arrays, grads, strict=True)],
    )


def tf_value_and_grad(
    fn: Callable[..., tf.Tensor],
    *arrays: np.ndarray,
    dtype: str = "float64",
    cotangent: np.ndarray | None = None,
) -> ValueAndGrad:
    """The same as ``torch_value_and_grad``, by ``tf.GradientTape``.

    The inputs are plain constants (EagerTensors), so Keras' TensorFlow
    backend cannot swap a probability input for the logits it came from
    (``_get_logits``): a Keras loss sees exactly the array given.
    """
    tf_dtype = tf.as_dtype(dtype)
    tensors = [tf.constant(a, dtype=tf_dtype) for a in arrays]
    with tf.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        value = fn(*tensors)
        weighted = value if cotangent is None else value * tf.constant(cotangent, dtype=tf_dtype)
        total = tf.reduce_sum(weighted)
    assert value.dtype == tf_dtype, f"value is {value.dtype.name}, inputs are {tf_dtype.name}"
    grads = tape.gradient(total, tensors, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return _as_result(value.numpy(), [g.numpy() for g in grads])


def _as_result(value: np.ndarray, grads: list[np.ndarray]) -> ValueAndGrad:
    value = np.asarray(value, dtype=np.float64)
    grads = [np.asarray(g, dtype=np.float64) for g in grads]
    return (value, grads[0]) if len(grads) == 1 else (value, grads)


def _grad_list(grads: Gradients) -> list[np.ndarray]:
    """Several inputs' gradients come as a list or tuple; one input's as an array."""
    return list(grads) if isinstance(grads, list | tuple) else [grads]


def assert_same(
    ours: ValueAndGrad,
    peer: ValueAndGrad,
    *,
    rtol: float,
    atol: float,
    what: str = "",
    constant: bool = False,
) -> None:
    """Our ``(value, gradients)`` equal the peer's, elementwise within
    ``rtol``/``atol``, values and gradients alike.

    The peer's result must be usable as a reference: its value and gradients
    finite and, unless ``constant`` (a loss that legitimately does not depend
    on its inputs there), its gradients not all zero -- two zero gradients
    would agree without proving anything.
    """
    (value, grads), (peer_value, peer_grads) = ours, peer
    grads, peer_grads = _grad_list(grads), _grad_list(peer_grads)
    # assert_allclose broadcasts a scalar against an array: compare shapes first.
    assert np.shape(value) == np.shape(peer_value), f"{what}: value shapes {np.shape(value)} vs {np.shape(peer_value)}"
    np.testing.assert_allclose(value, peer_value, rtol=rtol, atol=atol, err_msg=f"{what}: value")
    assert np.isfinite(peer_value).all(), f"{what}: peer value not finite"
    assert len(grads) == len(peer_grads), f"{what}: {len(grads)} gradients vs {len(peer_grads)}"
    for index, (g, peer_g) in enumerate(zip(grads, peer_grads, strict=True)):
        name = "gradient" if len(grads) == 1 else f"gradient {index}"
        assert np.isfinite(peer_g).all(), f"{what}: peer {name} not finite"
        np.testing.assert_allclose(g, peer_g, rtol=rtol, atol=atol, err_msg=f"{what}: {name}")
    assert constant or any(np.abs(g).max() > 0.0 for g in peer_grads), f"{what}: peer gradient is identically zero"


def channels_first_both(torch_loss: Callable, keras_loss: Callable, x: np.ndarray, target: np.ndarray) -> dict:
    """``{"torch": ..., "keras": ...}``: value and gradient of a torch loss
    (``loss(input, target)``, channels-first) and of a Keras loss
    (``loss(y_true, y_pred)``, run channels-last, gradient moved back) on
    channels-first ``x``; ``target`` is integer labels (no class axis) or a
    dense channels-first array."""
    target_t = torch.as_tensor(target)
    results = {"torch": torch_value_and_grad(lambda t: torch_loss(t, target_t), x)}
    target_k = tf.constant(target if np.issubdtype(target.dtype, np.integer) else np.moveaxis(target, 1, -1))
    value, grad = tf_value_and_grad(lambda t: keras_loss(target_k, t), np.moveaxis(x, 1, -1))
    results["keras"] = (value, np.moveaxis(grad, -1, 1))
    return results
