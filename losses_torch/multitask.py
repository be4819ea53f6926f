"""``MultiTaskLoss``: Keras' multi-output ``compile(loss=..., loss_weights=...)``
semantics as an ``nn.Module`` (the rule is written in :mod:`spec.multitask`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from spec import multitask
from spec.weighting import resolve as resolve_weighting


class MultiTaskLoss(nn.Module):
    """Weighted sum of per-output losses.

    Args:
        losses: one loss for every output, a list (one per output) or a dict by
            output name; entries are ``nn.Module`` losses, registered spec
            names, Keras strings (``"categorical_crossentropy"``, ``"mse"``,
            ...), neutral configs, ``None``, or lists of these.
        loss_weights: None, a float, a list or a dict by output name.
        weighting: ``None`` (fixed ``loss_weights``) or a method of
            :mod:`spec.weighting`, e.g. ``{"name": "uncertainty", "params":
            {"variant": "kendall_regression"}}``; its trainable state is the
            parameter ``weighting_state``.
        output_names: output names in order, for a single loss or a list.

    Call: ``total, parts = loss(outputs, targets)`` with ``outputs`` and
    ``targets`` dicts keyed by output name (or lists in output order);
    ``parts`` maps each term's name to its unweighted value.
    """

    def __init__(
        self,
        losses: Any,
        loss_weights: Any = None,
        weighting: Any = None,
        *,
        output_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        from losses_torch.modules import from_config

        self.weighting, self.weighting_params = resolve_weighting(weighting)
        self.terms = multitask.plan(losses, loss_weights, output_names, lambda v: isinstance(v, nn.Module))
        self.output_names = multitask.output_order(self.terms, output_names)
        self.term_losses = nn.ModuleDict(
            {t.name: t.loss if isinstance(t.loss, nn.Module) else from_config(t.loss) for t in self.terms}
        )
        initial = self.weighting.initial_state(self.weighting_params, len(self.terms))
        # trainable weighting state (e.g. log-variances); optimise it without weight decay
        self.weighting_state = None if initial is None else nn.Parameter(torch.tensor(initial))

    def forward(self, outputs: Any, targets: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        outputs = multitask.by_output(outputs, self.output_names, "outputs")
        targets = multitask.by_output(targets, self.output_names, "targets")
        parts = {t.name: self.term_losses[t.name](outputs[t.output], targets[t.output]) for t in self.terms}
        total = multitask.total_loss(parts, self.terms, self.weighting, self.weighting_params, self.weighting_state)
        return total, parts

    def get_config(self) -> dict[str, Any]:
        """The neutral multi-task config (both frameworks' ``from_config`` accept it)."""
        weighting = {"name": self.weighting.name, "params": dict(self.weighting_params)}
        return multitask.to_config(self.terms, self.term_losses, weighting)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MultiTaskLoss:
        losses, loss_weights, weighting = multitask.parse_config(config)
        return cls(losses, loss_weights, weighting)
