"""Deep supervision: one loss over the outputs of several decoder scales.

``total = sum_k w_k * loss(output_k, resize(target, output_k))``: the target
is resized to each output's spatial size by nearest-neighbour selection,
written here once (the frameworks' own nearest resizes pick different source
pixels: ``torch`` "nearest" takes ``floor(d * s)``, TensorFlow and torch
"nearest-exact" take ``floor((d + 1/2) * s)``).  The level weights follow
MONAI's ``DeepSupervisionLoss`` (not normalised).

Tested in ``tests/test_deep_supervision.py``: the source indices against
``torch.nn.functional.interpolate`` (both modes) and TensorFlow's "nearest"
resize, and the value of ``DeepSupervisionLoss(DiceCrossentropyLoss(),
weight_mode=m)`` against MONAI's ``DeepSupervisionLoss(DiceCELoss(softmax=True,
to_onehot_y=True), weight_mode=m)`` for every ``m`` (values only, at MONAI's
float32 precision); the Keras class's value equals the torch class's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spec.ops import Ops

Tensor = Any

WEIGHT_MODES = ("same", "exp", "two")
RESIZE_MODES = ("nearest-exact", "nearest")


def level_weights(levels: int, weight_mode: str = "exp", weights: Sequence[float] | None = None) -> list[float]:
    """Weights of ``levels`` outputs, finest first.

    Args:
        levels: number of outputs.
        weight_mode: ``"same"`` (all 1), ``"exp"`` (``max(0.5**k, 1/16)``) or
            ``"two"`` (1, then 0.5 for every coarser level).
        weights: explicit weights; used when it has at least ``levels`` entries.
    """
    if weights is not None and len(weights) >= levels:
        return [float(w) for w in weights[:levels]]
    if weight_mode not in WEIGHT_MODES:
        raise ValueError(f"weight_mode must be one of {WEIGHT_MODES}, got {weight_mode!r}")
    if weight_mode == "same":
        return [1.0] * levels
    if weight_mode == "exp":
        return [max(0.5**k, 0.0625) for k in range(levels)]
    return [1.0 if k == 0 else 0.5 for k in range(levels)]


def source_indices(in_size: int, out_size: int, mode: str = "nearest-exact") -> np.ndarray:
    """For each output position, the input position nearest-neighbour resizing reads."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
    scale = in_size / out_size
    positions = np.arange(out_size, dtype=np.float64)
    if mode == "nearest-exact":
        positions = positions + 0.5
    return np.minimum(np.floor(positions * scale).astype(np.int64), in_size - 1)


def resize_nearest(
    ops: Ops, x: Tensor, size: Sequence[int], axes: Sequence[int], mode: str = "nearest-exact"
) -> Tensor:
    """``x`` resized to ``size`` along ``axes`` by nearest-neighbour selection
    (a gather per axis; labels stay integers)."""
    for axis, out_size in zip(axes, size, strict=True):
        shape = list(ops.shape(x))
        if shape[axis] == out_size:
            continue
        index = source_indices(shape[axis], out_size, mode)
        view = [1] * len(shape)
        view[axis] = out_size
        shape[axis] = out_size
        index = np.broadcast_to(index.reshape(view), shape)
        # indices in x's own dtype (exact below 2**24); every backend casts them to int64
        x = ops.take_along_axis(x, ops.constant(np.ascontiguousarray(index), x), axis)
    return x


def deep_supervision(
    ops: Ops,
    loss: Callable[[Tensor, Tensor], Tensor],
    outputs: Sequence[Tensor],
    target: Tensor,
    *,
    spatial_axes: Callable[[Tensor, Tensor], tuple[list[int], list[int]]],
    weight_mode: str = "exp",
    weights: Sequence[float] | None = None,
    mode: str = "nearest-exact",
) -> Tensor:
    """``sum_k w_k loss(outputs[k], target resized to outputs[k])``.

    Args:
        ops: the backend.
        loss: a framework loss called as ``loss(output, target)`` (in the
            framework's own argument order, wrapped by the caller).
        outputs: the outputs, finest first.
        target: the full-resolution target (labels or dense).
        spatial_axes: ``(output, target) -> (output spatial axes, target spatial axes)``.
        weight_mode, weights: see :func:`level_weights`.
        mode: ``"nearest-exact"`` (MONAI's default) or ``"nearest"``.

    Returns:
        The weighted sum of the per-level losses (each reduced by ``loss``).

    References:
        Lee, Xie, Gallagher, Zhang, Tu, "Deeply-Supervised Nets", AISTATS 2015.
    """
    if not outputs:
        raise ValueError("outputs is empty; expected one tensor per scale, finest first")
    total = None
    for weight, output in zip(level_weights(len(outputs), weight_mode, weights), outputs, strict=True):
        out_axes, target_axes = spatial_axes(output, target)
        size = [ops.shape(output)[a] for a in out_axes]
        term = loss(output, resize_nearest(ops, target, size, target_axes, mode)) * weight
        total = term if total is None else total + term
    return total
