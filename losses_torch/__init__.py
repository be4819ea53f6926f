"""lossbridge for PyTorch: an ``nn.Module`` per registered loss.

Classes are ``CamelCase(name) + "Loss"`` (``DiceLoss``, ``CategoricalCrossentropyLoss``,
...), with keyword-only parameters, ``reduction=`` and ``forward(input, target,
sample_weight=None)``; the layout is channels-first (class axis 1) unless
``class_axis`` is given.  Importing this package never imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

import spec as _spec
from losses_torch import functional as functional
from losses_torch.deep_supervision import DeepSupervisionLoss
from losses_torch.distance import distance_maps as distance_maps
from losses_torch.modules import SpecLoss, from_config, loss_class
from losses_torch.multitask import MultiTaskLoss

__all__ = [
    "DeepSupervisionLoss",
    "distance_maps",
    "MultiTaskLoss",
    "SpecLoss",
    "from_config",
    "functional",
    "loss_class",
]

for _name in _spec.names():
    _cls = loss_class(_name)
    globals()[_cls.__name__] = _cls
    __all__.append(_cls.__name__)


def __getattr__(name: str) -> Any:
    # classes of losses registered after import (user-defined specs)
    for spec in _spec.specs():
        if spec.class_name == name:
            return loss_class(spec)
    raise AttributeError(f"module 'losses_torch' has no attribute {name!r}")
