"""``KerasStyleModule``: a LightningModule that trains a multi-output torch
model with Keras' ``compile(loss=..., loss_weights=...)`` semantics and logs
the same names as a Keras ``History``.

Logged keys (epoch values are batch-size-weighted means, like Keras' ``Mean``
trackers; Lightning's ``on_epoch`` aggregation computes exactly that when the
batch size is given):

* training: ``loss`` and ``<term>_loss`` (unweighted, one per loss term);
* validation: ``val_loss`` and ``val_<term>_loss``.

Importing this module imports pytorch_lightning; ``import losses_torch`` does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from losses_torch.multitask import MultiTaskLoss


def _batch_size(x: Any) -> int:
    """Keras counts the first leaf of the inputs."""
    while isinstance(x, (list, tuple, Mapping)):
        x = next(iter(x.values())) if isinstance(x, Mapping) else x[0]
    return int(x.shape[0])


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
            optimizer, e.g. ``lambda params: torch.optim.SGD(params, lr=0.01)``.
        output_names: output names in order, when ``loss`` is a single loss
            or a list.

    A batch is ``(x, y)``: ``x`` is the model's input (a tuple/list is
    unpacked into positional arguments), ``y`` a dict of targets by output name.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Any,
        loss_weights: Any = None,
        weighting: Any = None,
        optimizer: Callable[[Iterable[dict]], torch.optim.Optimizer] | None = None,
        output_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss = (
            loss
            if isinstance(loss, MultiTaskLoss)
            else MultiTaskLoss(loss, loss_weights, weighting, output_names=output_names)
        )
        self._optimizer = optimizer or (lambda params: torch.optim.SGD(params, lr=0.01))

    def forward(self, x: Any) -> Any:
        return self.model(*x) if isinstance(x, (list, tuple)) else self.model(x)

    def _step(self, batch: Any, prefix: str) -> torch.Tensor:
        x, y = batch
        total, parts = self.loss(self(x), y)
        size = _batch_size(x)
        training = prefix == ""
        self.log(f"{prefix}loss", total, on_step=training, on_epoch=True, prog_bar=True, batch_size=size)
        for name, value in parts.items():
            self.log(f"{prefix}{name}_loss", value, on_step=training, on_epoch=True, batch_size=size)
        return total

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "")

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val_")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = [{"params": list(self.model.parameters())}]
        weighting = [p for p in self.loss.parameters() if p.requires_grad]
        if weighting:  # loss-weighting state gets its own group, without weight decay
            groups.append({"params": weighting, "weight_decay": 0.0})
        return self._optimizer(groups)
