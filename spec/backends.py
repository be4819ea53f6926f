"""Backend selection from the tensor type.

The spec never imports a framework.  A backend module is imported only when a
tensor of its framework arrives, which means the framework is already loaded
(the einops rule).  Third parties add a backend with :func:`register_backend`.
"""

from __future__ import annotations

import importlib
from typing import Any

from spec.ops import Ops

# top-level module of the tensor type -> "module:attribute" of the Ops class
_BACKENDS: dict[str, str] = {
    "numpy": "spec.numpy_ops:NumpyOps",
    "torch": "losses_torch.ops:TorchOps",
    "tensorflow": "losses_tf.ops:TensorFlowOps",
    "keras": "losses_tf.ops:TensorFlowOps",
}
_by_type: dict[type, Ops] = {}
_instances: dict[str, Ops] = {}


def register_backend(module: str, ops_path: str) -> None:
    """Serve tensors whose type lives in top-level ``module`` with the Ops
    class at ``ops_path`` (``"package.module:ClassName"``)."""
    _BACKENDS[module] = ops_path
    _by_type.clear()


def _load(ops_path: str) -> Ops:
    if ops_path not in _instances:
        module_name, attribute = ops_path.split(":")
        _instances[ops_path] = getattr(importlib.import_module(module_name), attribute)()
    return _instances[ops_path]


def get_ops(tensor: Any) -> Ops:
    """The backend for ``tensor``'s framework (NumPy for arrays and numbers)."""
    cls = type(tensor)
    ops = _by_type.get(cls)
    if ops is None:
        root = cls.__module__.split(".")[0]
        if root == "builtins":
            root = "numpy"
        if root not in _BACKENDS:
            raise TypeError(
                f"y_pred: no lossbridge backend for tensors of type {cls.__module__}.{cls.__qualname__}; "
                f"expected a NumPy array, a torch.Tensor or a tf.Tensor"
            )
        ops = _load(_BACKENDS[root])
        _by_type[cls] = ops
    return ops
