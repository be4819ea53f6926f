"""The TensorFlow classes of the compat definitions.

A Keras definition becomes a ``keras.losses.Loss`` (``loss(y_true, y_pred,
sample_weight=None)``, serializable, usable in ``compile``); the other peers'
definitions become plain callables with the peer's call ``(input, target,
...)``, which ``compile`` must not be given (it would pass the arguments in
Keras' order).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from losses_tf.ops import TensorFlowOps
from spec import compat
from spec.compat import PeerLoss
from spec.ops import upcast_half

OPS = TensorFlowOps()


def _tensor(value: Any, integer: bool, dtype: Any = None) -> Any:
    if isinstance(value, np.ndarray) or (value is not None and tf.is_tensor(value)):
        value = tf.convert_to_tensor(value)
        if integer and value.dtype.is_floating:
            value = tf.cast(value, tf.int64)
        elif dtype is not None and value.dtype.is_floating and value.dtype != dtype:
            value = tf.cast(value, dtype)
        # mixed precision: half-precision tensors are computed in float32 (before the mapping's
        # prepare/finish steps, which combine them with the spec loss's float32 value)
        value = upcast_half(OPS, value)
    return value


def _call_tensors(definition: PeerLoss, call: dict[str, Any], dtype: Any = None) -> dict[str, Any]:
    return {name: _tensor(value, name in definition.integer_inputs, dtype) for name, value in call.items()}


def _config_value(value: Any) -> Any:
    """A constructor argument in a JSON-friendly form (tensors and arrays as lists)."""
    if tf.is_tensor(value) or isinstance(value, np.ndarray):
        return np.asarray(value).tolist()
    if isinstance(value, tuple):
        return list(value)
    return value


class PeerKerasLoss(keras.losses.Loss):
    """Base of the generated Keras compat losses."""

    definition: PeerLoss

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.peer_args = self.definition.bind(args, kwargs)
        self.mapped = self.definition.configure(self.peer_args)
        super().__init__(
            name=self.peer_args.get("name"),
            reduction=self.peer_args.get("reduction"),
            dtype=self.peer_args.get("dtype"),
        )

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> tf.Tensor:
        # Keras computes in the loss's dtype (floatx unless dtype= is given)
        call = _call_tensors(
            self.definition, {"y_true": y_true, "y_pred": y_pred, "sample_weight": sample_weight}, self.dtype
        )
        with tf.name_scope(self.name):
            return compat.evaluate(self.definition, self.mapped, OPS, call)

    def call(self, y_true: Any, y_pred: Any) -> tf.Tensor:
        """The unreduced losses (``reduction="none"``)."""
        unreduced = self.definition.configure({**self.peer_args, "reduction": "none"})
        call = _call_tensors(
            self.definition, {"y_true": y_true, "y_pred": y_pred, "sample_weight": None}, self.dtype
        )
        return compat.evaluate(self.definition, unreduced, OPS, call)

    def get_config(self) -> dict[str, Any]:
        return {name: _config_value(value) for name, value in self.peer_args.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PeerKerasLoss:
        return cls(**config)


class PeerCallable:
    """Base of the generated compat classes of torch-convention peers."""

    definition: PeerLoss

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.peer_args = self.definition.bind(args, kwargs)
        self.mapped = self.definition.configure(self.peer_args)

    def __call__(self, *args: Any, **kwargs: Any) -> tf.Tensor:
        call = _call_tensors(self.definition, self.definition.bind_call(args, kwargs))
        return compat.evaluate(self.definition, self.mapped, OPS, call)

    forward = __call__

    def __repr__(self) -> str:
        defaults = {arg.name: arg.default for arg in self.definition.args}
        shown = ", ".join(f"{k}={v!r}" for k, v in self.peer_args.items() if not _same(v, defaults[k]))
        return f"{type(self).__name__}({shown})"


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default)
    except Exception:  # tensors compare elementwise
        return False


def _with_self(signature: inspect.Signature) -> inspect.Signature:
    return signature.replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *signature.parameters.values()]
    )


@functools.cache
def build(definition: PeerLoss) -> type | Callable[..., tf.Tensor]:
    """The TensorFlow class (or function) of one compat definition."""
    doc = compat.docstring(definition, "tensorflow")
    module = f"losses_tf.compat.{definition.peer}"
    if definition.function:

        def function(*args: Any, **kwargs: Any) -> tf.Tensor:
            bound = compat.bind_function(definition, args, kwargs)
            call = _call_tensors(definition, {a.name: bound.pop(a.name) for a in definition.call})
            return compat.evaluate(definition, definition.configure(bound), OPS, call)

        function.__name__ = function.__qualname__ = definition.name
        function.__doc__ = doc
        function.__module__ = module
        function.__signature__ = definition.signature()  # type: ignore[attr-defined]
        return function

    base = PeerKerasLoss if definition.keras_loss else PeerCallable

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, *args, **kwargs)

    __init__.__signature__ = _with_self(definition.signature())  # type: ignore[attr-defined]
    namespace = {"definition": definition, "__init__": __init__, "__doc__": doc, "__module__": module}
    if not definition.keras_loss:

        def __call__(self, *args: Any, **kwargs: Any) -> tf.Tensor:
            return PeerCallable.__call__(self, *args, **kwargs)

        __call__.__signature__ = _with_self(definition.call_signature())  # type: ignore[attr-defined]
        namespace.update(__call__=__call__, forward=__call__)
    cls = type(definition.name, (base,), namespace)
    if definition.keras_loss:
        cls = keras.saving.register_keras_serializable(package="lossbridge.compat", name=definition.name)(cls)
    return cls


def export(peer: str, namespace: dict[str, Any]) -> list[str]:
    """Put every compat class of ``peer`` into a module's namespace; returns ``__all__``."""
    names = []
    for definition in compat.definitions(peer):
        namespace[definition.name] = build(definition)
        names.append(definition.name)
    return names
