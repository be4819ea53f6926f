"""Elementwise regression losses."""

from __future__ import annotations

from typing import Any

from spec.inputs import Inputs
from spec.ops import Ops
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import regression_samples

Tensor = Any

_INPUTS = Inputs("elementwise", prediction="real-valued predictions")


def mean_squared_error(ops: Ops, y_pred: Tensor, y_true: Tensor) -> Tensor:
    r"""Squared error per element.

    .. math::

        \ell = (\hat y - y)^2

    Args:
        y_pred: predictions, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.

    Returns:
        Elementwise losses with ``y_pred``'s shape; ``"mean"`` is the mean over
        all elements, as ``torch.nn.MSELoss()`` and
        ``keras.losses.MeanSquaredError()`` (tested in ``tests/test_peers.py``).
    """
    return ops.square(y_pred - y_true)


def mean_absolute_error(ops: Ops, y_pred: Tensor, y_true: Tensor) -> Tensor:
    r"""Absolute error per element.

    .. math::

        \ell = |\hat y - y|

    The gradient at a zero error is 0 in every framework.

    Args:
        y_pred: predictions, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.

    Returns:
        Elementwise losses; ``"mean"`` equals ``torch.nn.L1Loss()`` and
        ``keras.losses.MeanAbsoluteError()`` (tested in ``tests/test_peers.py``).
    """
    return ops.abs(y_pred - y_true)


def huber(ops: Ops, y_pred: Tensor, y_true: Tensor, *, delta: float) -> Tensor:
    r"""Huber loss: quadratic near zero, linear beyond ``delta``.

    .. math::

        \ell = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\
        \delta\,(|r| - \tfrac12\delta) & |r| > \delta \end{cases},\qquad r = \hat y - y

    Args:
        y_pred: predictions, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.
        delta: :math:`\delta > 0`, where the loss turns linear.

    Returns:
        Elementwise losses; ``"mean"`` equals ``torch.nn.HuberLoss(delta=d)``
        and ``keras.losses.Huber(delta=d)`` (tested in ``tests/test_peers.py``).

    References:
        Huber, "Robust Estimation of a Location Parameter", Ann. Math.
        Statist. 1964.
    """
    error = y_pred - y_true
    magnitude = ops.abs(error)
    quadratic = 0.5 * ops.square(error)
    linear = delta * (magnitude - 0.5 * delta)
    return ops.where(ops.less_equal(magnitude, delta), quadratic, linear)


for _formula, _params, _presets in [
    (mean_squared_error, (), {"default": {}}),
    (mean_absolute_error, (), {"default": {}}),
    (
        huber,
        (Param("delta", "float", 1.0, "threshold where the loss turns linear", low=0.0, low_open=True),),
        {"default": {}, "small_delta": {"delta": 0.3}, "large_delta": {"delta": 4.0}},
    ),
]:
    register(
        LossSpec(
            name=_formula.__name__,
            formula=_formula,
            params=ParamSet(_params),
            inputs=_INPUTS,
            family="regression",
            presets=_presets,
            samples=regression_samples,
        )
    )
