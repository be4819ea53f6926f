"""lossbridge for TensorFlow / Keras 3: a ``keras.losses.Loss`` per registered loss.

Classes are ``CamelCase(name) + "Loss"`` (``DiceLoss``, ``CategoricalCrossentropyLoss``,
...), called as ``loss(y_true, y_pred, sample_weight=None)``, registered for
Keras serialization (package ``lossbridge``) so compiled models save and load.
The layout is channels-last (class axis -1) unless ``class_axis`` is given.
Importing this package never imports torch.
"""

from __future__ import annotations

from typing import Any

import spec as _spec
from losses_tf import functional as functional
from losses_tf.deep_supervision import DeepSupervisionLoss
from losses_tf.distance import distance_maps as distance_maps
from losses_tf.losses import SpecLoss, from_config, loss_class
from losses_tf.multitask import KerasStyleModel, MultiTaskLoss

__all__ = [
    "DeepSupervisionLoss",
    "distance_maps",
    "KerasStyleModel",
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
    for spec in _spec.specs():
        if spec.class_name == name:
            return loss_class(spec)
    raise AttributeError(f"module 'losses_tf' has no attribute {name!r}")
