"""PyTorch side of the parity matrix: value and gradient of a loss class."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from losses_torch.modules import loss_class
from spec.registry import LossSpec

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _inputs(y_pred: np.ndarray, y_true: np.ndarray, sample_weight: np.ndarray | None, dtype: str):
    x = torch.tensor(y_pred, dtype=_DTYPES[dtype], requires_grad=True)
    t = torch.tensor(y_true) if np.issubdtype(y_true.dtype, np.integer) else torch.tensor(y_true, dtype=_DTYPES[dtype])
    w = None if sample_weight is None else torch.tensor(sample_weight, dtype=_DTYPES[dtype])
    return x, t, w


def value_and_grad(
    spec: LossSpec,
    params: dict[str, Any],
    reduction: str,
    y_pred: np.ndarray,
    y_true: np.ndarray,
    sample_weight: np.ndarray | None,
    dtype: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss value and d(sum of value)/d y_pred through the ``nn.Module`` class."""
    module = loss_class(spec)(reduction=reduction, **params)
    x, t, w = _inputs(y_pred, y_true, sample_weight, dtype)
    value = module(x, t, sample_weight=w)
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
) -> bool:
    """``torch.autograd.gradcheck`` in float64 (raises on mismatch)."""
    module = loss_class(spec)(reduction=reduction, **params)
    x, t, w = _inputs(y_pred, y_true, sample_weight, "float64")
    return torch.autograd.gradcheck(lambda inp: module(inp, t, sample_weight=w), (x,), eps=1e-6, atol=1e-7, rtol=1e-5)
