"""Repeated eager calls of a loss run as one traced graph.

An eager TensorFlow op costs tens of microseconds of Python dispatch and
gradient-tape bookkeeping, so a loss of 20 to 60 ops called eagerly (a custom
training loop, ``model.fit(run_eagerly=True)``) spends most of its time outside
the kernels: Keras' own losses take 1 to 4 ms per eager step at (64, 10).
Once a loss has been called twice with the same input signature (shapes,
dtypes, reduction), :class:`EagerGraphs` evaluates it through a
``tf.function`` traced for that signature instead, so the tape records one op.

Nothing else changes: the value-dependent input checks (label and probability
ranges) still run eagerly before the graph, with their own error messages,
and shape errors are raised by the same checks; the first call of a signature
always runs op by op.  At most ``MAX_GRAPHS`` signatures are traced per loss
(varying shapes fall back to eager calls, not to a retrace per call), and
``LOSSBRIDGE_COMPOSITE_OPS`` is part of the signature, so forcing the
composite path applies to traced graphs too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

from losses_tf.ops import TensorFlowOps
from spec.inputs import check_inputs
from spec.ops import composite_forced
from spec.registry import LossSpec, evaluate

OPS = TensorFlowOps()
CLASS_AXIS = -1  # Keras layout: channels-last
HOT_AFTER = 2  # calls with one signature before it gets a graph
MAX_GRAPHS = 8  # traced signatures per loss
MAX_SIGNATURES = 64  # signatures counted per loss

Signature = tuple[Any, ...]


def _spec_of(x: tf.Tensor | None) -> tuple[tuple[int | None, ...], str] | None:
    return None if x is None else (tuple(x.shape), x.dtype.name)


def _eager_tensors(*tensors: Any) -> bool:
    """Whether every given value is an eager ``tf.Tensor`` (not a variable, a
    symbolic Keras tensor or a ragged tensor: those keep the op-by-op path)."""
    return tf.executing_eagerly() and all(t is None or isinstance(t, tf.Tensor) for t in tensors)


class EagerGraphs:
    """Traced graphs of one loss (spec and bound parameters) for eager calls."""

    def __init__(self, spec: LossSpec, params: Mapping[str, Any]) -> None:
        self._spec = spec
        self._params = dict(params)
        self._calls: dict[Signature, int] = {}
        # None: tracing failed, the signature stays eager
        self._graphs: dict[Signature, Callable[..., tf.Tensor] | None] = {}

    def __call__(
        self,
        y_pred: tf.Tensor,
        y_true: tf.Tensor,
        sample_weight: tf.Tensor | None,
        extras: dict[str, tf.Tensor],
        reduction: str,
    ) -> tf.Tensor | None:
        """The loss through a traced graph, or ``None`` when this call runs op by
        op (not eager, not plain tensors, a first call, or no graph left)."""
        if not _eager_tensors(y_pred, y_true, sample_weight, *extras.values()):
            return None
        names = tuple(sorted(extras))
        weights = [] if sample_weight is None else [sample_weight]
        tensors = [y_pred, y_true, *weights, *(extras[name] for name in names)]
        signature = (tuple(_spec_of(t) for t in tensors), bool(weights), names, reduction, composite_forced())
        graph = self._graphs[signature] if signature in self._graphs else self._trace_when_hot(signature, tensors)
        if graph is None:
            return None
        self._check_values(y_pred, y_true)
        return graph(*tensors)

    def _trace_when_hot(self, signature: Signature, tensors: list[tf.Tensor]) -> Callable[..., tf.Tensor] | None:
        """Count a call of ``signature`` and trace its graph on the
        ``HOT_AFTER``-th (within the ``MAX_GRAPHS`` budget)."""
        if signature not in self._calls and len(self._calls) >= MAX_SIGNATURES:
            return None
        count = self._calls[signature] = self._calls.get(signature, 0) + 1
        if count < HOT_AFTER or len(self._graphs) >= MAX_GRAPHS:
            return None
        _, weighted, names, reduction, _ = signature
        function = tf.function(functools.partial(self._graph, weighted, names, reduction), autograph=False)
        try:
            graph = function.get_concrete_function(*(tf.TensorSpec(t.shape, t.dtype) for t in tensors))
        except Exception:  # a speed-up only: the op-by-op call raises any real error itself
            graph = None
        self._graphs[signature] = graph
        return graph

    def _graph(self, weighted: bool, names: tuple[str, ...], reduction: str, *tensors: tf.Tensor) -> tf.Tensor:
        """The loss on the flat tensors of a signature, while tracing."""
        y_pred, y_true, *rest = tensors
        sample_weight = rest.pop(0) if weighted else None
        return evaluate(
            self._spec,
            self._params,
            y_pred,
            y_true,
            sample_weight=sample_weight,
            reduction=reduction,
            default_class_axis=CLASS_AXIS,
            check_values=False,
            extras=dict(zip(names, rest, strict=True)),
            ops=OPS,
        )

    def _check_values(self, y_pred: tf.Tensor, y_true: tf.Tensor) -> None:
        """The eager input checks of :func:`spec.registry.evaluate` (label and
        probability ranges), which the traced graph skips."""
        class_axis = None
        if "class_axis" in self._params:
            class_axis = self._params["class_axis"] if self._params["class_axis"] is not None else CLASS_AXIS
        check_inputs(OPS, self._spec.name, self._spec.inputs, self._params, y_pred, y_true, class_axis)
