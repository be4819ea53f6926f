"""Masked losses: a pointwise loss averaged over the positions a mask keeps.

``masked_<name>`` is registered for each pointwise loss below, built from the
registered loss itself (no formula restated).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from spec.inputs import Extra
from spec.losses import _classification, _regression  # noqa: F401  (the wrapped losses register first)
from spec.reduction import Fused, Weighted
from spec.registry import LossSpec, get, register
from spec.samples import Sample

Tensor = Any


def _masked_doc(base: LossSpec) -> str:
    """The wrapped loss's docstring with the mask added to ``Args:`` and a
    ``Returns:`` of its own (the base's peer equivalences do not carry over)."""
    doc = base.doc
    head, _, rest = doc.partition("Args:")
    args, _, rest = rest.partition("Returns:")
    _, _, references = rest.partition("References:")
    summary, _, description = head.partition("\n")
    indent = "    "
    lines = [
        f"Masked {summary[0].lower()}{summary[1:]}",
        "",
        f"``{base.name}`` averaged over the positions a mask keeps,",
        ":math:`\\sum_i m_i \\ell_i / \\sum_i m_i` (0 with zero gradient when nothing is kept).",
        *description.splitlines(),
        "Args:",
        *args.strip("\n").splitlines(),
        f"{indent}mask: extra input, position weights (0/1 or soft) with the shape of the loss elements.",
        "",
        "Returns:",
        f"{indent}Weighted elements; with a mask of ones it equals ``{base.name}``",
        f"{indent}(tested in ``tests/test_peers_masked.py``).",
    ]
    if references.strip():
        lines += ["", "References:", *references.strip("\n").splitlines()]
    return "\n".join(indent + line if line and i else line for i, line in enumerate(lines)) + "\n"


def masked(name: str) -> LossSpec:
    """Register ``masked_<name>``: ``sum_i m_i l_i / sum_i m_i`` over positions.

    The mask (extra input ``mask``, 0/1 or soft weights) has the shape of the
    loss elements: ``y_pred``'s shape for elementwise losses, ``y_pred``'s
    shape without the class axis for losses over a class axis.  A mask that
    keeps nothing gives 0 with zero gradient.
    """
    base = get(name)
    positions = "positions" if base.has_class_axis and base.inputs.kind == "classes" else "prediction"

    def formula(ops: Any, y_pred: Tensor, y_true: Tensor, *, mask: Tensor, **params: Any) -> Weighted:
        elements = base.formula(ops, y_pred, y_true, **base.formula_kwargs(params))
        if isinstance(elements, Fused):
            elements = elements.compute("none")
        if isinstance(elements, Weighted):
            return Weighted(elements.values * mask, elements.weights * mask)
        return Weighted(elements * mask, mask + 0.0 * elements)

    formula.__name__ = formula.__qualname__ = f"masked_{name}"
    formula.__doc__ = _masked_doc(base)

    def samples(rng: np.random.Generator, params: dict) -> list[Sample]:
        result = []
        for index, sample in enumerate(base.samples(rng, params)):
            shape = (
                sample.y_pred.shape if positions == "prediction" else (sample.y_pred.shape[0], *sample.y_pred.shape[2:])
            )
            mask = (rng.uniform(size=shape) > 0.3).astype(np.float64)
            if index == 0:
                mask[:] = 0.0  # nothing kept
            result.append(replace(sample, extras={**(sample.extras or {}), "mask": mask}))
        return result

    return register(
        LossSpec(
            name=f"masked_{name}",
            formula=formula,
            params=base.params,
            inputs=replace(
                base.inputs, extras=(*base.inputs.extras, Extra("mask", "position weights", shape=positions))
            ),
            family=base.family,
            presets=base.presets,
            samples=samples,
        )
    )


for _name in ("categorical_crossentropy", "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "huber"):
    masked(_name)
