"""ONNX side of the parity matrix: a case's value from the graph exported from
its spec, evaluated in onnxruntime (forward only: ONNX graphs are not
differentiated here).

One model serves every case with the same loss, parameters, reduction and
input ranks: its symbolic sizes take each sample's batch and spatial sizes (a
model whose formula fixed some sizes is exported again for other sizes).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import numpy as np

from spec import onnx as onnx_export

# the sessions of the most recent configurations (a matrix run visits one loss at a time)
_SESSIONS: OrderedDict[tuple, list[tuple[list, Any]]] = OrderedDict()
_CACHED_CONFIGURATIONS = 256


def _feeds(case: Any, dtype: str) -> dict[str, np.ndarray]:
    def cast(array: np.ndarray) -> np.ndarray:
        return array if np.issubdtype(array.dtype, np.integer) else array.astype(dtype)

    feeds = {"y_pred": case.y_pred.astype(dtype), "y_true": cast(case.y_true)}
    feeds.update({name: cast(array) for name, array in (case.extras or {}).items()})
    if case.sample_weight is not None:
        feeds["sample_weight"] = cast(case.sample_weight)
    return {
        name: np.ascontiguousarray(array.astype(np.int64) if np.issubdtype(array.dtype, np.integer) else array)
        for name, array in feeds.items()
    }


def _fits(dims: list, feeds: dict[str, np.ndarray]) -> bool:
    return all(
        len(shape) == len(feeds[name].shape)
        and all(d is None or d == s for d, s in zip(shape, feeds[name].shape, strict=True))
        for name, shape in dims
    )


def session(spec: Any, params: dict, reduction: str, feeds: dict[str, np.ndarray]) -> Any:
    """An onnxruntime session of the loss whose inputs fit ``feeds`` (exported on first use)."""
    key = (
        spec.name,
        json.dumps(params, sort_keys=True),
        reduction,
        tuple((name, array.ndim, str(array.dtype)) for name, array in feeds.items()),
    )
    for dims, cached in _SESSIONS.get(key, []):
        if _fits(dims, feeds):
            _SESSIONS.move_to_end(key)
            return cached
    config = {"name": spec.name, "params": params, "reduction": reduction}
    model = onnx_export.export(config, {name: (array.shape, str(array.dtype)) for name, array in feeds.items()})
    dims = [
        (i.name, [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim])
        for i in model.graph.input
    ]
    created = onnx_export.session_of(model)
    _SESSIONS.setdefault(key, []).append((dims, created))
    _SESSIONS.move_to_end(key)
    while len(_SESSIONS) > _CACHED_CONFIGURATIONS:
        _SESSIONS.popitem(last=False)
    return created


def value(case: Any, dtype: str) -> np.ndarray:
    """The case's loss value from the exported graph, in ``dtype``, as float64."""
    feeds = _feeds(case, dtype)
    (loss, *_) = session(case.spec, case.params, case.reduction, feeds).run(None, feeds)
    return np.asarray(loss, dtype=np.float64)
