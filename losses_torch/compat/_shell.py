"""The torch classes of the compat definitions: one generated ``nn.Module`` per peer loss."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from losses_torch.ops import TorchOps
from spec import compat
from spec.compat import PeerLoss
from spec.ops import upcast_half

OPS = TorchOps()


def _tensor(value: Any, integer: bool) -> Any:
    if isinstance(value, np.ndarray):
        value = torch.as_tensor(value)
    if integer and isinstance(value, torch.Tensor) and value.is_floating_point():
        value = value.long()
    return value


def _call_tensors(definition: PeerLoss, call: dict[str, Any], dtype: Any = None) -> dict[str, Any]:
    tensors = {name: _tensor(value, name in definition.integer_inputs) for name, value in call.items()}
    if dtype is not None:
        tensors = {
            name: value.to(dtype) if isinstance(value, torch.Tensor) and value.is_floating_point() else value
            for name, value in tensors.items()
        }
    # mixed precision: half-precision tensors are computed in float32 (before the mapping's
    # prepare/finish steps, which combine them with the spec loss's float32 value)
    return {name: upcast_half(OPS, v) if isinstance(v, torch.Tensor) else v for name, v in tensors.items()}


class PeerModule(nn.Module):
    """Base of the generated compat modules: the peer's constructor and call,
    lossbridge's computation."""

    definition: PeerLoss

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.peer_args = self.definition.bind(args, kwargs)
        self.mapped = self.definition.configure(self.peer_args)
        dtype = self.peer_args.get("dtype") if self.definition.keras_loss else None
        self._dtype = getattr(torch, dtype) if isinstance(dtype, str) else None

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        call = _call_tensors(self.definition, self.definition.bind_call(args, kwargs), self._dtype)
        return compat.evaluate(self.definition, self.mapped, OPS, call)

    def extra_repr(self) -> str:
        defaults = {arg.name: arg.default for arg in self.definition.args}
        return ", ".join(f"{k}={v!r}" for k, v in self.peer_args.items() if not _same(v, defaults[k]))


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default)
    except Exception:  # tensors compare elementwise
        return False


@functools.cache
def build(definition: PeerLoss) -> type[PeerModule] | Callable[..., torch.Tensor]:
    """The torch class (or function) of one compat definition."""
    doc = compat.docstring(definition, "torch")
    if definition.function:

        def function(*args: Any, **kwargs: Any) -> torch.Tensor:
            bound = compat.bind_function(definition, args, kwargs)
            call = _call_tensors(definition, {a.name: bound.pop(a.name) for a in definition.call})
            return compat.evaluate(definition, definition.configure(bound), OPS, call)

        function.__name__ = function.__qualname__ = definition.name
        function.__doc__ = doc
        function.__signature__ = definition.signature()  # type: ignore[attr-defined]
        return function

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        PeerModule.__init__(self, *args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return PeerModule.forward(self, *args, **kwargs)

    __init__.__signature__ = _with_self(definition.signature())  # type: ignore[attr-defined]
    forward.__signature__ = _with_self(definition.call_signature())  # type: ignore[attr-defined]
    return type(
        definition.name,
        (PeerModule,),
        {
            "definition": definition,
            "__init__": __init__,
            "forward": forward,
            "__doc__": doc,
            "__module__": f"losses_torch.compat.{definition.peer}",
        },
    )


def _with_self(signature):
    import inspect

    return signature.replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *signature.parameters.values()]
    )


def export(peer: str, namespace: dict[str, Any]) -> list[str]:
    """Put every compat class of ``peer`` into a module's namespace; returns ``__all__``."""
    names = []
    for definition in compat.definitions(peer):
        namespace[definition.name] = build(definition)
        names.append(definition.name)
    return names
