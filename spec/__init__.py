"""lossbridge's framework-neutral core.

One definition of every loss: the ops protocol (:mod:`spec.ops`), the formulas
(:mod:`spec.losses`), their parameters (:mod:`spec.params`), reductions
(:mod:`spec.reduction`), the neutral JSON config (:mod:`spec.config`) and the
NumPy float64 reference backend (:mod:`spec.numpy_ops`).  Importing ``spec``
imports neither PyTorch nor TensorFlow.
"""

from spec import losses as losses  # registers the built-in losses
from spec.backends import get_ops, register_backend
from spec.config import from_config, to_config
from spec.inputs import Inputs
from spec.ops import Ops, clip, safe_divide, safe_power, softplus
from spec.params import Param
from spec.reduction import Fused, Weighted
from spec.registry import LossSpec, define_loss, evaluate, get, names, register, specs

__version__ = "0.1.0"

__all__ = [
    "Fused",
    "Inputs",
    "LossSpec",
    "Ops",
    "Param",
    "Weighted",
    "clip",
    "define_loss",
    "evaluate",
    "from_config",
    "get",
    "get_ops",
    "names",
    "register",
    "register_backend",
    "safe_divide",
    "safe_power",
    "softplus",
    "specs",
    "to_config",
]
