"""PyTorch side of the parity matrix: value and gradient of a loss class."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from losses_torch.modules import loss_class
from spec.registry import LossSpec

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _tensor(array: np.ndarray, dtype: str) -> torch.Tensor:
    return torch.tensor(array) if np.issubdtype(array.dtype, np.integer) else torch.tensor(array, dtype=_DTYPES[dtype])


def _inputs(y_pred: np.ndarray, y_true: np.ndarray, sample_weight: np.ndarray | None, dtype: str, extras: dict):
    x = torch.tensor(y_pred, dtype=_DTYPES[dtype], requires_grad=True)
    w = None if sample_weight is None else _tensor(sample_weight, dtype)
    return x, _tensor(y_true, dtype), w, {k: _tensor(v, dtype) for k, v in (extras or {}).items()}


def value_and_grad(
    spec: LossSpec,
    params: dict[str, Any],
    reduction: str,
    y_pred: np.ndarray,
    y_true: np.ndarray,
    sample_weight: np.ndarray | None,
    dtype: str,
    extras: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss value and d(sum of value)/d y_pred through the ``nn.Module`` class."""
    module = loss_class(spec)(reduction=reduction, **params)
    x, t, w, e = _inputs(y_pred, y_true, sample_weight, dtype, extras)
    value = module(x, t, sample_weight=w, **e)
    (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
    grad = torch.zeros_like(x) if grad is None else grad
    return value.detach().numpy().astype(np.float64), grad.numpy().astype(np.float64)


def gradcheck(
    spec: LossSpec,
    params: dict[str, Any],
    reduction: str,
    y_pred: np.ndarray,
    y_true: np.ndarray,
    sample_weight: np.ndarray | None,
    extras: dict[str, np.ndarray] | None = None,
    fast_mode: bool = False,
) -> bool:
    """``torch.autograd.gradcheck`` in float64 (raises on mismatch);
    ``fast_mode`` checks random projections of the Jacobian only."""
    module = loss_class(spec)(reduction=reduction, **params)
    x, t, w, e = _inputs(y_pred, y_true, sample_weight, "float64", extras)
    return torch.autograd.gradcheck(
        lambda inp: module(inp, t, sample_weight=w, **e), (x,), eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=fast_mode
    )


def call_value_and_grad(fn: Any, y_pred: np.ndarray, y_true: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A user's torch loss ``fn(input, target)`` and d(sum of value)/d input (``lossbridge crosscheck``)."""
    x = torch.tensor(y_pred, dtype=_DTYPES[dtype], requires_grad=True)
    value = fn(x, _tensor(y_true, dtype))
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"the torch loss returned {type(value).__name__}, expected a torch.Tensor")
    (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
    grad = torch.zeros_like(x) if grad is None else grad
    return value.detach().double().numpy(), grad.double().numpy()
