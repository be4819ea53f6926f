"""``MultiTaskLoss``: Keras' multi-output ``compile(loss=..., loss_weights=...)``
semantics as an ``nn.Module`` (the rule is written in :mod:`spec.multitask`),
with the weighting methods of :mod:`spec.weighting`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from losses_torch.ops import TorchOps
from spec import multitask
from spec.weighting import resolve as resolve_weighting

_OPS = TorchOps()


class MultiTaskLoss(nn.Module):
    """Weighted sum of per-output losses, or a weighting method over them.

    Args:
        losses: one loss for every output, a list (one per output) or a dict by
            output name; entries are ``nn.Module`` losses, registered spec
            names, Keras strings (``"categorical_crossentropy"``, ``"mse"``,
            ...), neutral configs, ``None``, or lists of these.
        loss_weights: None, a float, a list or a dict by output name.
        weighting: ``None`` (fixed ``loss_weights``) or a method of
            :mod:`spec.weighting`, e.g. ``{"name": "uncertainty", "params":
            {"variant": "kendall_regression"}}``.  Trainable state is the
            parameter ``weighting_state`` (optimise it without weight decay);
            other state (counters, loss history, initial losses) lives in
            buffers ``weighting_<name>``, so ``state_dict`` and Lightning
            checkpoints carry it.
        output_names: output names in order, for a single loss or a list.
        shared: the shared parameters (an ``nn.Module`` or an iterable of
            parameters) whose per-task gradients the gradient-based methods
            read: all shared parameters for MGDA/PCGrad/CAGrad, the last shared
            layer for GradNorm.  Can also be set later with :meth:`share`.

    Call: ``total, parts = loss(outputs, targets)`` with ``outputs`` and
    ``targets`` dicts keyed by output name (or lists in output order);
    ``parts`` maps each term's name to its unweighted value and ``total`` is
    the objective to back-propagate.  Like ``BatchNorm``, the module advances
    its weighting state only in training mode with gradients enabled (a
    training step); in ``eval()`` mode it evaluates without changing state.
    Call :meth:`end_epoch` after each training epoch (``KerasStyleModule``
    does) for the methods that use epoch statistics (DWA).
    """

    def __init__(
        self,
        losses: Any,
        loss_weights: Any = None,
        weighting: Any = None,
        *,
        output_names: Sequence[str] | None = None,
        shared: nn.Module | Iterable[nn.Parameter] | None = None,
    ) -> None:
        super().__init__()
        from losses_torch.modules import from_config

        self.weighting = resolve_weighting(weighting)
        self.terms = multitask.plan(losses, loss_weights, output_names, lambda v: isinstance(v, nn.Module))
        self.weighting.check_terms(len(self.terms))
        self.output_names = multitask.output_order(self.terms, output_names)
        self.term_losses = nn.ModuleDict(
            {t.name: t.loss if isinstance(t.loss, nn.Module) else from_config(t.loss) for t in self.terms}
        )
        initial = self.weighting.trainable_state(len(self.terms))
        self.weighting_state = None if initial is None else nn.Parameter(torch.tensor(initial))
        self.buffer_names = []
        for name, value in self.weighting.buffers(len(self.terms)).items():
            dtype = torch.int64 if value.dtype.kind == "i" else torch.get_default_dtype()
            self.register_buffer(f"weighting_{name}", torch.tensor(value, dtype=dtype))
            self.buffer_names.append(name)
        self.shared_parameters: list[nn.Parameter] | None = None
        if shared is not None:
            self.share(shared)

    def share(self, shared: nn.Module | Iterable[nn.Parameter]) -> MultiTaskLoss:
        """Set the shared parameters read by the gradient-based methods."""
        params = list(shared.parameters() if isinstance(shared, nn.Module) else shared)
        if not params or not all(isinstance(p, torch.Tensor) and p.requires_grad for p in params):
            raise ValueError(
                f"shared must be an nn.Module or parameters that require grad, got {len(params)} item(s) "
                f"of types {sorted({type(p).__name__ for p in params})}"
            )
        # a plain list: the loss reads these parameters but does not own them
        self.__dict__["shared_parameters"] = params
        return self

    def weighting_buffers(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, f"weighting_{name}") for name in self.buffer_names}

    def _task_gradients(self, values: list[torch.Tensor]) -> torch.Tensor:
        """Per-task gradients of the shared parameters, flattened: (T, P)."""
        if self.shared_parameters is None:
            raise ValueError(
                f"weighting {self.weighting.name!r} needs the shared parameters: pass shared= (an nn.Module "
                "or parameters; the last shared layer for gradnorm) or call loss.share(...)"
            )
        rows = []
        for value in values:
            grads = torch.autograd.grad(value, self.shared_parameters, retain_graph=True, allow_unused=True)
            rows.append(
                torch.cat(
                    [
                        (g if g is not None else torch.zeros_like(p)).reshape(-1)
                        for g, p in zip(grads, self.shared_parameters, strict=True)
                    ]
                )
            )
        return torch.stack(rows)

    def forward(self, outputs: Any, targets: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        outputs = multitask.by_output(outputs, self.output_names, "outputs")
        targets = multitask.by_output(targets, self.output_names, "targets")
        parts = {t.name: self.term_losses[t.name](outputs[t.output], targets[t.output]) for t in self.terms}
        values = multitask.term_values(parts, self.terms)
        method, buffers = self.weighting, self.weighting_buffers()
        training = self.training and torch.is_grad_enabled()
        coefficients = norms = None
        if training:
            if self.weighting_state is not None:
                prepared = method.prepare(_OPS, self.weighting_state.detach())
                if prepared is not None:
                    with torch.no_grad():
                        self.weighting_state.copy_(prepared)
            gram = None
            if method.requires != "losses":
                flat = self._task_gradients(values)
                if method.requires == "gramian":
                    gram = (flat @ flat.T).detach().double().cpu().numpy()
                else:
                    norms = list(torch.linalg.vector_norm(flat, dim=1))
            step = int(buffers["step"]) if "step" in buffers else 0
            host = method.coefficients(step, len(values), gram)
            if host is not None:
                coefficients = torch.as_tensor(np.asarray(host), dtype=values[0].dtype, device=values[0].device)
        total = method.objective(
            _OPS, values, self.weighting_state, buffers, training=training, coefficients=coefficients, norms=norms
        )
        if training and buffers:
            size = multitask.batch_size(outputs)
            detached = [v.detach() for v in values]
            with torch.no_grad():
                for name, value in method.step_update(_OPS, detached, buffers, size).items():
                    buffers[name].copy_(value)
        return total, parts

    def end_epoch(self) -> None:
        """Advance the epoch statistics of the weighting (DWA); call after each training epoch."""
        buffers = self.weighting_buffers()
        update = self.weighting.epoch_update({k: v.detach().cpu().numpy() for k, v in buffers.items()})
        with torch.no_grad():
            for name, value in update.items():
                buffers[name].copy_(torch.as_tensor(value))

    def get_config(self) -> dict[str, Any]:
        """The neutral multi-task config (both frameworks' ``from_config`` accept it)."""
        return multitask.to_config(self.terms, self.term_losses, self.weighting.config())

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MultiTaskLoss:
        losses, loss_weights, weighting = multitask.parse_config(config)
        return cls(losses, loss_weights, weighting)
