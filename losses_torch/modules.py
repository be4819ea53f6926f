"""``torch.nn.Module`` classes generated from the spec registry."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from losses_torch.ops import TorchOps
from spec import config as neutral
from spec.framework import class_doc, init_signature, non_default
from spec.reduction import canonical_reduction
from spec.registry import LossSpec, evaluate, get

OPS = TorchOps()
CLASS_AXIS = 1  # torch layout: channels-first

_FRAMEWORK_ARGS = """        reduction: "mean" (default), "sum" or "none".

    Call: ``loss(input, target, sample_weight=None)`` with ``input`` the
    prediction and ``target`` the ground truth, like ``torch.nn`` losses;
    extra inputs (if the loss has any) by keyword."""


class SpecLoss(nn.Module):
    """Base of every generated loss module: a thin shell over the spec."""

    spec: LossSpec

    def __init__(self, *, reduction: str = "mean", **params: Any) -> None:
        super().__init__()
        self.params = self.spec.bind(params)
        self.reduction = canonical_reduction(reduction)

    def forward(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        sample_weight: torch.Tensor | None = None,
        **extras: torch.Tensor,
    ) -> torch.Tensor:
        return evaluate(
            self.spec,
            self.params,
            input,
            target,
            sample_weight=sample_weight,
            reduction=self.reduction,
            default_class_axis=CLASS_AXIS,
            extras=extras,
            ops=OPS,
        )

    def get_config(self) -> dict[str, Any]:
        """The neutral config; ``from_config`` in either framework rebuilds the loss."""
        return neutral.to_config(self.spec, self.params, reduction=self.reduction)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SpecLoss:
        spec, params, extras = neutral.from_config(config)
        if spec is not cls.spec:
            raise ValueError(f"{cls.__name__} is the {cls.spec.name!r} loss, got a config for {spec.name!r}")
        return cls(reduction=extras["reduction"], **params)

    def extra_repr(self) -> str:
        shown = {
            **non_default(self.spec, self.params),
            **({"reduction": self.reduction} if self.reduction != "mean" else {}),
        }
        return ", ".join(f"{k}={v!r}" for k, v in shown.items())


@functools.cache
def _build(spec: LossSpec) -> type[SpecLoss]:
    def __init__(self, *, reduction: str = "mean", **params: Any) -> None:
        SpecLoss.__init__(self, reduction=reduction, **params)

    __init__.__signature__ = init_signature(spec, [("reduction", "mean")])  # type: ignore[attr-defined]
    return type(
        spec.class_name,
        (SpecLoss,),
        {"spec": spec, "__init__": __init__, "__doc__": class_doc(spec, _FRAMEWORK_ARGS), "__module__": "losses_torch"},
    )


def loss_class(name: str | LossSpec) -> type[SpecLoss]:
    """The ``nn.Module`` class of a registered loss (built-in or user-defined)."""
    return _build(get(name) if isinstance(name, str) else name)


def from_config(config: Mapping[str, Any] | str) -> Any:
    """Build a loss module from a neutral config (written by either framework);
    a multi-task config (key ``"outputs"``) gives a ``MultiTaskLoss``."""
    config = neutral.load(config)
    if neutral.is_multitask(config):
        from losses_torch.multitask import MultiTaskLoss

        return MultiTaskLoss.from_config(config)
    spec, params, extras = neutral.from_config(config)
    return loss_class(spec)(reduction=extras["reduction"], **params)
