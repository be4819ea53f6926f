"""Loss weighting methods for multi-task losses, formulas written once.

A weighting combines the terms ``v_i = w_i * L_i`` (``w_i`` the fixed
``loss_weights``) into the training objective.  Trainable state (e.g.
log-variances) is owned natively by each framework -- an ``nn.Parameter`` in
torch, a Keras variable in Keras -- and handed to the formula as a vector.

Methods available so far:

* ``fixed`` -- ``sum_i v_i`` (Keras' ``loss_weights``).
* ``uncertainty`` -- Kendall, Gal, Cipolla, "Multi-Task Learning Using
  Uncertainty to Weigh Losses for Scene Geometry and Semantics", CVPR 2018,
  with the variant named explicitly (they differ by factors and optima):

  ===============================  ==================================  ===============
  variant                          term for task i (state s_i)          optimum
  ===============================  ==================================  ===============
  ``kendall_regression``           ``exp(-s) v / 2 + s / 2``            ``exp(s) = v``
  ``kendall_classification``       ``exp(-s) v + s / 2``                ``exp(s) = 2 v``
  ``log_variance``                 ``exp(-s) v + s``                    ``exp(s) = v``
  ``liebel``                       ``v / (2 s^2) + log(1 + s^2)``       see Liebel & Körner 2018
  ===============================  ==================================  ===============

  ``s`` is the log-variance ``log sigma^2`` except for ``liebel`` (Liebel &
  Körner, "Auxiliary Tasks in Multi-task Learning", 2018), which learns
  ``sigma`` itself.  Give these parameters no weight decay.
* ``convex`` -- the seed's learnable convex weight for two terms,
  ``alpha v_1 + (1 - alpha) v_2`` with ``alpha = sigmoid(a)`` kept in (0, 1).
  On its own it drifts to the smaller loss: ``d/d alpha = v_1 - v_2``, so
  alpha runs to 0 or 1.  ``barrier > 0`` adds
  ``-barrier * (log alpha + log(1 - alpha))``, which keeps alpha inside with
  an interior optimum where ``v_1 - v_2 = barrier (1/alpha - 1/(1 - alpha))``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spec.backends import get_ops
from spec.params import Param, ParamSet

Tensor = Any

UNCERTAINTY_VARIANTS = ("kendall_regression", "kendall_classification", "log_variance", "liebel")


def fixed(ops: Any, values: Sequence[Tensor], state: Tensor | None) -> Tensor:
    """``sum_i v_i``."""
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def uncertainty(ops: Any, values: Sequence[Tensor], state: Tensor, *, variant: str) -> Tensor:
    """Homoscedastic-uncertainty weighting; see the module docstring for the variants."""
    total = None
    for index, value in enumerate(values):
        s = state[index]
        if variant == "kendall_regression":
            term = 0.5 * ops.exp(-s) * value + 0.5 * s
        elif variant == "kendall_classification":
            term = ops.exp(-s) * value + 0.5 * s
        elif variant == "log_variance":
            term = ops.exp(-s) * value + s
        else:  # liebel: s is sigma
            square = s * s
            term = value / (2.0 * square) + ops.log(1.0 + square)
        total = term if total is None else total + term
    return total


def convex(ops: Any, values: Sequence[Tensor], state: Tensor, *, barrier: float) -> Tensor:
    """Learnable convex combination of two terms (see the module docstring)."""
    logit = state[0]
    log_alpha, log_rest = ops.log_sigmoid(logit), ops.log_sigmoid(-logit)
    total = ops.exp(log_alpha) * values[0] + ops.exp(log_rest) * values[1]
    if barrier:
        total = total - barrier * (log_alpha + log_rest)
    return total


@dataclass(frozen=True)
class Weighting:
    """A weighting method: its parameters, its trainable state and its formula."""

    name: str
    params: ParamSet
    formula: Any

    def bind(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return self.params.bind(f"weighting {self.name}", dict(params or {}))

    def initial_state(self, params: Mapping[str, Any], num_terms: int) -> list[float] | None:
        """Initial values of the trainable state (None: stateless)."""
        if self.name == "convex":
            if num_terms != 2:
                raise ValueError(f"weighting 'convex' combines exactly 2 loss terms, got {num_terms}")
            alpha = params["alpha"]
            return [math.log(alpha) - math.log1p(-alpha)]
        if self.name != "uncertainty":
            return None
        init = params.get("init")
        if init is None:
            init = 1.0 if params["variant"] == "liebel" else 0.0
        return [float(init)] * num_terms

    def combine(self, values: Sequence[Tensor], state: Tensor | None, params: Mapping[str, Any]) -> Tensor:
        ops = get_ops(values[0])
        if self.name == "fixed":
            return fixed(ops, values, state)
        if self.name == "convex":
            return self.formula(ops, values, state, barrier=params["barrier"])
        return self.formula(ops, values, state, variant=params["variant"])


WEIGHTINGS = {
    "fixed": Weighting("fixed", ParamSet(()), fixed),
    "uncertainty": Weighting(
        "uncertainty",
        ParamSet(
            (
                Param(
                    "variant", "choice", "kendall_regression", "which uncertainty term", choices=UNCERTAINTY_VARIANTS
                ),
                Param("init", "float", None, "initial state (log-variance 0, or sigma 1 for liebel)", optional=True),
            )
        ),
        uncertainty,
    ),
    "convex": Weighting(
        "convex",
        ParamSet(
            (
                Param(
                    "alpha",
                    "float",
                    0.5,
                    "initial weight of the first term",
                    low=0.0,
                    high=1.0,
                    low_open=True,
                    high_open=True,
                ),
                Param("barrier", "float", 0.0, "strength of the log barrier keeping alpha inside (0, 1)", low=0.0),
            )
        ),
        convex,
    ),
}


def resolve(weighting: Any) -> tuple[Weighting, dict[str, Any]]:
    """``(method, bound params)`` from ``None``, a name or ``{"name": ..., "params": ...}``."""
    if weighting is None:
        weighting = "fixed"
    if isinstance(weighting, str):
        weighting = {"name": weighting}
    if not isinstance(weighting, Mapping) or "name" not in weighting:
        raise TypeError(f"weighting must be None, a name or {{'name': ..., 'params': ...}}, got {weighting!r}")
    name = weighting["name"]
    if name not in WEIGHTINGS:
        raise ValueError(f"weighting {name!r} is not available; expected one of {list(WEIGHTINGS)} or None")
    method = WEIGHTINGS[name]
    return method, method.bind(weighting.get("params"))
