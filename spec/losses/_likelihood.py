"""Negative log-likelihoods with a predicted spread."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spec.inputs import Extra, Inputs
from spec.ops import Ops, clip
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import Sample, regression_samples

Tensor = Any


def gaussian_nll(ops: Ops, y_pred: Tensor, y_true: Tensor, *, var: Tensor, full: bool, eps: float) -> Tensor:
    r"""Gaussian negative log-likelihood with a predicted variance.

    .. math::

        \ell = \tfrac12\Big(\log \max(\sigma^2, \epsilon)
              + \frac{(\hat y - y)^2}{\max(\sigma^2, \epsilon)}\Big)
              \;[+\ \tfrac12 \log 2\pi \text{ if full}]

    Args:
        y_pred: predicted means, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.
        var: extra input, predicted variances :math:`\sigma^2 \ge 0` with
            ``y_pred``'s shape (expand a shared variance to that shape).
        full: add the constant :math:`\tfrac12\log 2\pi`.
        eps: lower clamp of the variance's value, for stability (the
            gradient with respect to ``var`` is not clamped, as in torch).

    Returns:
        Elementwise losses; every reduction equals
        ``torch.nn.GaussianNLLLoss(full, eps, reduction)`` with a variance of
        the input's shape, in values and in the gradients with respect to the
        input and the variance (tested in ``tests/test_peers_likelihood.py``,
        torch module).  Keras has no built-in counterpart.

    References:
        Nix & Weigend, "Estimating the mean and variance of the target
        probability distribution", ICNN 1994.
    """
    # the clamp sets the value only; the variance's gradient passes through
    # it unchanged, as in torch (which clamps a copy under no_grad)
    variance = var + ops.stop_gradient(clip(ops, var, eps, math.inf) - var)
    error = y_pred - y_true
    loss = 0.5 * (ops.log(variance) + error * error / variance)
    return loss + 0.5 * math.log(2.0 * math.pi) if full else loss


def _variance_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Regression samples with positive variances, one below ``eps`` (clamped)."""
    samples = []
    for sample in regression_samples(rng, params):
        var = np.exp(rng.normal(0.0, 1.0, sample.y_pred.shape))
        if sample.name == "sample-weight" and params["eps"] >= 1e-3:
            # clamped entries (the loss sees eps there); with a tiny eps the
            # curvature 1/eps would only measure finite-difference round-off
            var.reshape(-1)[::3] = 0.5 * params["eps"]
        samples.append(
            Sample(
                sample.name, sample.y_pred, dense=sample.dense, sample_weight=sample.sample_weight, extras={"var": var}
            )
        )
    return samples


register(
    LossSpec(
        name="gaussian_nll",
        formula=gaussian_nll,
        params=ParamSet(
            (
                Param("full", "bool", False, "add the constant log(2 pi) / 2"),
                Param("eps", "float", 1e-6, "lower clamp of the variance", low=0.0, low_open=True),
            )
        ),
        inputs=Inputs(
            "elementwise",
            prediction="predicted means",
            extras=(Extra("var", "predicted variances, y_pred's shape"),),
        ),
        family="regression",
        presets={"default": {}, "full": {"full": True}, "large_eps": {"eps": 0.05}},
        samples=_variance_samples,
    )
)
