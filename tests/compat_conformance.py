"""The conformance check shared by ``tests/test_compat_<peer>.py``: a compat
class against the installed peer it imitates, in values and gradients, run
by our torch class, our TensorFlow class and the peer on the same arrays.

A case is the peer's constructor arguments and its call arrays by the peer's
argument names; the arrays the loss is differentiated with respect to are
named in ``wrt``.  A non-scalar value is contracted with a fixed random
cotangent before differentiating, so every entry's gradient is checked.

Tolerance: ``|ours - peer| <= rtol * max|peer|`` entrywise, for the value and
each gradient (relative to the largest entry, so a gradient's tiny entries
are held to the same absolute error as its large ones), with ``rtol`` 1e-5 in
float32 and tighter in float64 (``RTOL``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# torch must be imported before tensorflow (see conftest.py): keep this order.
# isort: off
import numpy as np
import torch

import tensorflow as tf

# isort: on

RTOL = {"float32": 1e-5, "float64": 1e-10}


@dataclass
class Case:
    """One conformance case: constructor arguments and call arrays (float64 or integer)."""

    args: dict[str, Any]
    call: dict[str, Any]
    wrt: tuple[str, ...]
    label: str = ""
    rtol: Mapping[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return self.label or repr(self.args)


def rng_for(*key: object) -> np.random.Generator:
    """A generator seeded by the case (stable across runs, unlike ``hash``)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


Result = tuple[np.ndarray, dict[str, np.ndarray]]


def _cotangent(shape: tuple[int, ...]) -> np.ndarray | None:
    return None if not shape else rng_for("cotangent", shape).normal(size=shape)


def _is_float(value: Any) -> bool:
    return isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)


def run_torch(fn: Callable[..., torch.Tensor], case: Case, order: Sequence[str], dtype: str) -> Result:
    """``fn(*call)`` in torch (positional, in ``order``) and its gradients with respect to ``case.wrt``."""
    torch_dtype = getattr(torch, dtype)
    tensors = {}
    for name, value in case.call.items():
        if _is_float(value):
            tensors[name] = torch.tensor(value, dtype=torch_dtype, requires_grad=name in case.wrt)
        elif isinstance(value, np.ndarray):
            tensors[name] = torch.as_tensor(value)
        else:
            tensors[name] = value
    value = fn(*[tensors[name] for name in order if name in tensors])
    cotangent = _cotangent(tuple(value.shape))
    total = value.sum() if cotangent is None else (value * torch.as_tensor(cotangent, dtype=value.dtype)).sum()
    grads = torch.autograd.grad(total, [tensors[name] for name in case.wrt], allow_unused=True)
    return value.detach().double().numpy(), {
        name: np.zeros(case.call[name].shape) if g is None else g.double().numpy()
        for name, g in zip(case.wrt, grads, strict=True)
    }


def run_tf(fn: Callable[..., tf.Tensor], case: Case, order: Sequence[str], dtype: str) -> Result:
    """The same in TensorFlow, by ``tf.GradientTape``."""
    tensors = {}
    for name, value in case.call.items():
        if _is_float(value):
            tensors[name] = tf.constant(value, dtype=dtype)
        elif isinstance(value, np.ndarray):
            tensors[name] = tf.constant(value)
        else:
            tensors[name] = value
    with tf.GradientTape() as tape:
        for name in case.wrt:
            tape.watch(tensors[name])
        value = fn(*[tensors[name] for name in order if name in tensors])
        cotangent = _cotangent(tuple(value.shape))
        total = tf.reduce_sum(value if cotangent is None else value * tf.constant(cotangent, dtype=value.dtype))
    grads = tape.gradient(
        total, [tensors[name] for name in case.wrt], unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return np.asarray(value, dtype=np.float64), {
        name: np.asarray(g, dtype=np.float64) for name, g in zip(case.wrt, grads, strict=True)
    }


def torch_args(args: Mapping[str, Any], dtype: str) -> dict[str, Any]:
    """Constructor arguments with float arrays as torch tensors of ``dtype`` (the peer's weights)."""
    return {k: torch.tensor(v, dtype=getattr(torch, dtype)) if _is_float(v) else v for k, v in args.items()}


def tf_args(args: Mapping[str, Any], dtype: str) -> dict[str, Any]:
    """Constructor arguments with float arrays as TensorFlow tensors of ``dtype``."""
    return {k: tf.constant(v, dtype=dtype) if _is_float(v) else v for k, v in args.items()}


def assert_conforms(ours: Result, peer: Result, rtol: float, what: str) -> None:
    """Our value and gradients equal the peer's within ``rtol`` of the largest entry."""
    value, grads = ours
    peer_value, peer_grads = peer
    assert np.shape(value) == np.shape(peer_value), f"{what}: value shape {np.shape(value)} vs {np.shape(peer_value)}"
    assert np.isfinite(peer_value).all(), f"{what}: the peer's value is not finite"
    _close(value, peer_value, rtol, f"{what}: value")
    moved = False
    for name, peer_grad in peer_grads.items():
        assert np.isfinite(peer_grad).all(), f"{what}: the peer's gradient w.r.t. {name} is not finite"
        _close(grads[name], peer_grad, rtol, f"{what}: gradient w.r.t. {name}")
        moved = moved or np.abs(peer_grad).max(initial=0.0) > 0.0
    assert moved or not peer_grads, f"{what}: the peer's gradient is identically zero (the case proves nothing)"


def _close(ours: np.ndarray, peer: np.ndarray, rtol: float, what: str) -> None:
    scale = float(np.abs(peer).max(initial=0.0))
    np.testing.assert_allclose(ours, peer, rtol=0.0, atol=rtol * max(scale, 1e-30), err_msg=what)
