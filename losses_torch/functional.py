"""Functional form of every registered loss: ``functional.<name>(input, target, ...)``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from losses_torch.ops import TorchOps
from spec.registry import evaluate, get, names

OPS = TorchOps()
CLASS_AXIS = 1


@functools.cache
def _function(name: str) -> Callable[..., torch.Tensor]:
    spec = get(name)

    def loss(
        input: torch.Tensor,
        target: torch.Tensor,
        *,
        sample_weight: torch.Tensor | None = None,
        reduction: str = "mean",
        **params: Any,
    ) -> torch.Tensor:
        extras = {e.name: params.pop(e.name) for e in spec.inputs.extras if e.name in params}
        return evaluate(
            spec,
            spec.bind(params),
            input,
            target,
            sample_weight=sample_weight,
            reduction=reduction,
            default_class_axis=CLASS_AXIS,
            extras=extras,
            ops=OPS,
        )

    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = spec.doc
    loss.__module__ = __name__
    return loss


def __getattr__(name: str) -> Callable[..., torch.Tensor]:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return _function(name)
    except ValueError:
        raise AttributeError(f"module {__name__!r} has no loss {name!r}; registered: {', '.join(names())}") from None


def __dir__() -> list[str]:
    return sorted(names())
