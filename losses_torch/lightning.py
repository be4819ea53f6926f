"""``KerasStyleModule``: a LightningModule that trains a multi-output torch
model with Keras' ``compile(loss=..., loss_weights=...)`` semantics and logs
the same names as a Keras ``History``.

Logged keys (epoch values are batch-size-weighted means, like Keras' ``Mean``
trackers; Lightning's ``on_epoch`` aggregation computes exactly that when the
batch size is given):

* training: ``loss`` and ``<term>_loss`` (unweighted, one per loss term);
* validation: ``val_loss`` and ``val_<term>_loss``;
* metrics given as ``metrics=``: ``<output>_<name>`` and ``val_<output>_<name>``.

Importing this module imports pytorch_lightning; ``import losses_torch`` does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from losses_torch.multitask import MultiTaskLoss
from spec import multitask


def _metric_name(metric: Any) -> str:
    if isinstance(metric, str):
        return metric
    name = getattr(metric, "__name__", type(metric).__name__)
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def accuracy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Share of samples whose arg-max class (class axis 1, torch layout)
    matches the target's: integer labels, or one-hot/soft targets (their arg-max)."""
    predicted = output.argmax(dim=1) if output.shape[1] > 1 else (output[:, 0] > 0.5).long()
    if target.shape == output.shape:
        target = target.argmax(dim=1) if output.shape[1] > 1 else (target[:, 0] > 0.5).long()
    return (predicted == target.reshape(predicted.shape)).to(output.dtype).mean()


METRICS = {"accuracy": accuracy, "categorical_accuracy": accuracy}


class KerasStyleModule(pl.LightningModule):
    """Train ``model`` on a Keras-style multi-output loss.

    Args:
        model: an ``nn.Module`` returning a dict of outputs keyed by output
            name (or a list/tuple in ``output_names`` order).
        loss: as ``losses`` of :class:`losses_torch.MultiTaskLoss` (dict,
            list, single loss, Keras strings, configs), or a ready
            ``MultiTaskLoss``.
        loss_weights: as in Keras' ``compile``.
        weighting: ``None`` (fixed ``loss_weights``) or a method of
            :mod:`spec.weighting`; trainable weighting state is optimised in
            its own parameter group without weight decay.
        optimizer: a callable taking parameter groups and returning a torch
            optimizer, e.g. ``lambda params: torch.optim.SGD(params, lr=0.01)``
            (default: SGD, lr 0.01, Keras' default).
        metrics: Keras-style metrics by output name: ``{"out": ["accuracy"]}``
            or ``{"out": {"name": callable}}``; a metric is ``"accuracy"`` or
            a callable ``(output, target) -> scalar``, logged as
            ``<output>_<name>`` (just ``<name>`` for a single output) and
            ``val_...``, batch-size-weighted over the epoch as in Keras.
        output_names: output names in order, when ``loss`` is a single loss
            or a list.
        shared: the shared parameters (module or parameters) for the
            gradient-based weightings (the last shared layer for GradNorm).
        gradient_clip_val, gradient_clip_algorithm: gradient clipping for the
            gradient-based weightings, which train with manual optimization
            (Lightning's ``Trainer(gradient_clip_val=...)`` is for automatic
            optimization only).

    A batch is ``(x, y)``: ``x`` is the model's input (a tuple/list is
    unpacked into positional arguments), ``y`` a dict of targets by output
    name.  Gradient-based weightings (``gradnorm``, ``mgda``, ``pcgrad``,
    ``cagrad``) use manual optimization with ``manual_backward`` (so AMP
    scaling applies to the backward pass) and ``clip_gradients``.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Any,
        loss_weights: Any = None,
        weighting: Any = None,
        optimizer: Callable[[Iterable[dict]], torch.optim.Optimizer] | None = None,
        metrics: Mapping[str, Any] | None = None,
        output_names: Sequence[str] | None = None,
        shared: nn.Module | Iterable[nn.Parameter] | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
    ) -> None:
        super().__init__()
        self.model = model
        self.loss = (
            loss
            if isinstance(loss, MultiTaskLoss)
            else MultiTaskLoss(loss, loss_weights, weighting, output_names=output_names)
        )
        if shared is not None:
            self.loss.share(shared)
        self._optimizer = optimizer or (lambda params: torch.optim.SGD(params, lr=0.01))
        self.metrics = self._resolve_metrics(metrics or {})
        self.automatic_optimization = self.loss.weighting.requires == "losses"
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm

    def _resolve_metrics(self, metrics: Mapping[str, Any]) -> list[tuple[str, str, Callable]]:
        unknown = sorted(set(metrics) - set(self.loss.output_names))
        if unknown:
            raise ValueError(f"metrics has keys {unknown} that are not outputs {self.loss.output_names}")
        resolved = []
        for output, entries in metrics.items():
            if isinstance(entries, Mapping):
                items = list(entries.items())
            else:
                items = [(_metric_name(m), m) for m in (entries if isinstance(entries, (list, tuple)) else [entries])]
            for name, metric in items:
                if isinstance(metric, str):
                    if metric not in METRICS:
                        raise ValueError(
                            f"metric {metric!r} for output {output!r} is unknown; expected one of "
                            f"{sorted(METRICS)} or a callable (output, target) -> scalar"
                        )
                    metric = METRICS[metric]
                key = name if len(self.loss.output_names) == 1 else f"{output}_{name}"
                resolved.append((key, output, metric))
        return resolved

    def forward(self, x: Any) -> Any:
        return self.model(*x) if isinstance(x, (list, tuple)) else self.model(x)

    def _step(self, batch: Any, prefix: str) -> torch.Tensor:
        x, y = batch
        outputs = self(x)
        total, parts = self.loss(outputs, y)
        size = multitask.batch_size(x)
        training = prefix == ""
        self.log(f"{prefix}loss", total, on_step=training, on_epoch=True, prog_bar=True, batch_size=size)
        for name, value in parts.items():
            self.log(f"{prefix}{name}_loss", value, on_step=training, on_epoch=True, batch_size=size)
        if self.metrics:
            named = multitask.by_output(outputs, self.loss.output_names, "outputs")
            for key, output, metric in self.metrics:
                with torch.no_grad():
                    value = metric(named[output], y[output])
                self.log(f"{prefix}{key}", value, on_step=training, on_epoch=True, batch_size=size)
        return total

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.automatic_optimization:
            return self._step(batch, "")
        optimizer = self.optimizers()
        optimizer.zero_grad()
        total = self._step(batch, "")
        self.manual_backward(total)
        if self.gradient_clip_val is not None:
            self.clip_gradients(
                optimizer,
                gradient_clip_val=self.gradient_clip_val,
                gradient_clip_algorithm=self.gradient_clip_algorithm,
            )
        optimizer.step()
        return total.detach()

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val_")

    def on_train_epoch_end(self) -> None:
        self.loss.end_epoch()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = [{"params": list(self.model.parameters())}]
        weighting = [p for p in self.loss.parameters() if p.requires_grad]
        if weighting:  # loss-weighting state gets its own group, without weight decay
            groups.append({"params": weighting, "weight_decay": 0.0})
        return self._optimizer(groups)
