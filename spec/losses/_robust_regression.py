"""Elementwise regression losses beyond MSE/MAE/Huber: relative and
logarithmic errors, smooth and robust penalties, quantiles.

The tests named in the docstrings below (``test_*``) are in
``tests/test_peers_margin_regression.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from spec.inputs import Inputs
from spec.ops import Ops, safe_power, softplus
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import Sample

Tensor = Any


def mean_absolute_percentage_error(ops: Ops, y_pred: Tensor, y_true: Tensor, *, epsilon: float) -> Tensor:
    r"""Absolute percentage error per element (Keras' MAPE).

    .. math::

        \ell = 100\,\frac{|\hat y - y|}{\max(|y|, \epsilon)}

    Args:
        y_pred: predictions, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.
        epsilon: :math:`\epsilon > 0`, the smallest denominator; a target of
            0 gives :math:`100\,|\hat y| / \epsilon`, large but finite.

    Returns:
        Elementwise losses (percent) with ``y_pred``'s shape; the gradient
        at a zero error is 0.  ``"mean"`` equals
        ``keras.losses.MeanAbsolutePercentageError()`` with the default
        ``epsilon=1e-7`` (Keras' ``backend.epsilon()``; tested:
        ``test_keras_regression``); Keras' ``None``/``"sum"`` act on
        last-axis means (``test_keras_elementwise_reductions``).

    References:
        ``keras.losses.MeanAbsolutePercentageError``.
    """
    magnitude = ops.abs(y_true)
    return 100.0 * ops.abs(y_pred - y_true) / ops.where(ops.less(magnitude, epsilon), epsilon, magnitude)


def mean_squared_logarithmic_error(ops: Ops, y_pred: Tensor, y_true: Tensor, *, epsilon: float) -> Tensor:
    r"""Squared logarithmic error per element (Keras' MSLE).

    .. math::

        \ell = \bigl(\log(1 + \max(\hat y, \epsilon)) - \log(1 + \max(y, \epsilon))\bigr)^2

    Values below :math:`\epsilon` (negative predictions included) are raised
    to :math:`\epsilon`, where the gradient is 0.

    Args:
        y_pred: non-negative predictions, any shape ``(N, ...)``.
        y_true: non-negative targets with ``y_pred``'s shape.
        epsilon: :math:`\epsilon \ge 0`, the floor of both arguments.

    Returns:
        Elementwise losses with ``y_pred``'s shape; ``"mean"`` equals
        ``keras.losses.MeanSquaredLogarithmicError()`` with the default
        ``epsilon=1e-7`` (tested: ``test_keras_regression``); Keras'
        ``None``/``"sum"`` act on last-axis means
        (``test_keras_elementwise_reductions``).

    References:
        ``keras.losses.MeanSquaredLogarithmicError``.
    """
    predicted = ops.log(ops.where(ops.less(y_pred, epsilon), epsilon, y_pred) + 1.0)
    observed = ops.log(ops.where(ops.less(y_true, epsilon), epsilon, y_true) + 1.0)
    error = predicted - observed
    return error * error


def smooth_l1(ops: Ops, y_pred: Tensor, y_true: Tensor, *, beta: float) -> Tensor:
    r"""Smooth L1 loss per element: quadratic below ``beta``, absolute above.

    .. math::

        \ell = \begin{cases} \dfrac{r^2}{2\beta} & |r| < \beta \\
                             |r| - \dfrac{\beta}{2} & |r| \ge \beta \end{cases},\qquad r = \hat y - y

    It is the Huber loss with :math:`\delta = \beta` divided by :math:`\beta`,
    and the absolute error for :math:`\beta = 0`.

    Args:
        y_pred: predictions, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.
        beta: :math:`\beta \ge 0`, where the loss turns linear.

    Returns:
        Elementwise losses with ``y_pred``'s shape; equals
        ``torch.nn.SmoothL1Loss(beta=b)`` in every reduction (``beta=0``
        included, where it is ``torch.nn.L1Loss``; tested:
        ``test_torch_smooth_l1``).

    References:
        Girshick, "Fast R-CNN", ICCV 2015; ``torch.nn.SmoothL1Loss``.
    """
    error = y_pred - y_true
    magnitude = ops.abs(error)
    if beta == 0.0:  # a parameter, not a tensor value: the quadratic branch is empty
        return magnitude
    return ops.where(ops.less(magnitude, beta), 0.5 * error * error / beta, magnitude - 0.5 * beta)


def log_cosh(ops: Ops, y_pred: Tensor, y_true: Tensor) -> Tensor:
    r"""Logarithm of the hyperbolic cosine of the error, per element.

    .. math::

        \ell = \log\cosh r = r + \mathrm{softplus}(-2r) - \log 2,\qquad r = \hat y - y

    The right-hand form never evaluates :math:`\cosh`, which overflows for
    :math:`|r| > 710` in float64 (89 in float32); it is exact for any error.
    :math:`\ell \approx r^2/2` for small and :math:`|r| - \log 2` for large
    errors, with gradient :math:`\tanh r`.

    Args:
        y_pred: predictions, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.

    Returns:
        Elementwise losses with ``y_pred``'s shape; ``"mean"`` equals
        ``keras.losses.LogCosh()`` in gradients, and in values up to Keras'
        ``log 2`` rounded to float32: Keras' float64 values are lower by
        :math:`1.9\cdot 10^{-9}` per element (tested:
        ``test_keras_regression``, ``test_keras_log_cosh_float32_log2``).

    References:
        ``keras.losses.LogCosh``; Chen et al., "Log Hyperbolic Cosine Loss
        Improves Variational Auto-Encoder", 2019.
    """
    error = y_pred - y_true
    return error + softplus(ops, -2.0 * error) - math.log(2.0)


def quantile(ops: Ops, y_pred: Tensor, y_true: Tensor, *, quantile: float) -> Tensor:
    r"""Pinball (quantile) loss per element.

    .. math::

        \ell = \max\bigl(\tau u,\ (\tau - 1)\,u\bigr) = \tfrac12 |u| + (\tau - \tfrac12)\,u,
        \qquad u = y - \hat y

    Its minimiser over :math:`\hat y` is the :math:`\tau`-quantile of the
    targets.  Written with :math:`|u|`, the gradient at a zero residual is
    :math:`\tfrac12 - \tau`, the mean of the two one-sided slopes.

    Args:
        y_pred: predicted quantiles, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.
        quantile: :math:`\tau \in (0, 1)`.

    Returns:
        Elementwise losses with ``y_pred``'s shape.  Neither torch nor Keras
        ships this loss; at ``quantile=0.5`` it is half of
        ``torch.nn.L1Loss()`` and of ``keras.losses.MeanAbsoluteError()``
        (tested: ``test_quantile_median_is_half_l1``).

    References:
        Koenker & Bassett, "Regression Quantiles", Econometrica 1978.
    """
    residual = y_true - y_pred
    return 0.5 * ops.abs(residual) + (quantile - 0.5) * residual


def charbonnier(ops: Ops, y_pred: Tensor, y_true: Tensor, *, epsilon: float, subtract_epsilon: bool) -> Tensor:
    r"""Charbonnier penalty per element, a differentiable L1.

    .. math::

        \ell = \sqrt{r^2 + \epsilon^2} - [\text{subtract\_epsilon}]\,\epsilon,
        \qquad r = \hat y - y

    The shifted form is computed as :math:`r^2 / (\sqrt{r^2+\epsilon^2} + \epsilon)`,
    which has no cancellation for small :math:`r`.

    Args:
        y_pred: predictions, any shape ``(N, ...)``.
        y_true: targets with ``y_pred``'s shape.
        epsilon: :math:`\epsilon > 0`, the scale below which the penalty is
            quadratic.
        subtract_epsilon: subtract :math:`\epsilon` so that the loss is 0 at
            a zero error (Barron's general loss at :math:`\alpha = 1`, scaled
            by :math:`c = \epsilon`).

    Returns:
        Elementwise losses with ``y_pred``'s shape.
        ``kornia.losses.charbonnier_loss(y_pred / c, y_true / c)`` (kornia
        0.9.0, :math:`\sqrt{r^2 + 1} - 1`) equals this loss with
        ``epsilon=c, subtract_epsilon=True`` divided by ``c``, in every
        reduction (tested: ``test_kornia_charbonnier``).

    References:
        Charbonnier et al., "Two deterministic half-quadratic regularization
        algorithms for computed imaging", ICIP 1994; Barron, "A General and
        Adaptive Robust Loss Function", CVPR 2019; ``kornia.losses.charbonnier_loss``.
    """
    error = y_pred - y_true
    squared = error * error
    root = safe_power(ops, squared + epsilon * epsilon, 0.5)
    if subtract_epsilon:
        return squared / (root + epsilon)
    return root


# --------------------------------------------------------------------------- sample inputs


def _away_from(rng: np.random.Generator, residual: np.ndarray, kinks: list[float], scale: float) -> np.ndarray:
    """``residual`` with entries within 0.02 of a kink redrawn, so that finite
    differences never straddle one (exact zeros are drawn on purpose elsewhere)."""
    residual = residual.copy()
    for _ in range(200):
        bad = np.zeros(residual.shape, dtype=bool)
        for kink in kinks:
            bad |= np.abs(residual - kink) < 0.02
        if not bad.any():
            return residual
        residual[bad] = rng.normal(0.0, scale, int(bad.sum()))
    raise AssertionError("could not draw residuals away from the kinks")


def residual_samples(kinks: Callable[[Mapping[str, Any]], list[float]]):
    """Sample generator for a loss of the residual ``y_pred - y_true`` with
    kinks (or regions narrower than the finite-difference step) at ``kinks(params)``."""

    def generate(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
        at = kinks(params)
        samples = []

        def sample(name: str, shape: tuple[int, ...], scale: float, **extra: Any) -> Sample:
            target = rng.normal(0.0, 1.0, shape)
            return Sample(
                name, target + _away_from(rng, rng.normal(0.0, scale, shape), at, scale), dense=target, **extra
            )

        samples.append(sample("random-vector", (6, 3), 0.7))
        samples.append(sample("random-2d", (2, 3, 4, 4), 0.7))
        samples.append(sample("large-errors", (2, 3, 4, 4), 10.0))
        huge = rng.normal(0.0, 1.0, (2, 3, 4, 4))
        signs = np.where(rng.random(huge.shape) < 0.5, 1.0, -1.0)
        samples.append(Sample("huge-errors", huge + signs * rng.uniform(500.0, 2000.0, huge.shape), dense=huge))
        target = rng.normal(0.0, 1.0, (2, 3, 4, 4))
        samples.append(Sample("perfect", target.copy(), dense=target))
        samples.append(sample("sample-weight", (2, 3, 4, 4), 1.0, sample_weight=rng.uniform(0.2, 2.0, (2,))))
        return samples

    return generate


def _target_away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    target = rng.normal(0.0, 2.0, shape)
    return np.where(np.abs(target) < 0.1, np.sign(target) * 0.1 + target, target)


def percentage_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Targets of both signs away from 0, zero and sub-epsilon targets, perfect
    predictions; errors are kept away from the kink of ``|error|``."""
    samples = []

    def sample(name: str, target: np.ndarray, scale: float, **extra: Any) -> Sample:
        error = _away_from(rng, rng.normal(0.0, scale, target.shape), [0.0], scale)
        return Sample(name, target + error, dense=target, **extra)

    samples.append(sample("random-vector", _target_away_from_zero(rng, (6, 3)), 0.7))
    samples.append(sample("random-2d", _target_away_from_zero(rng, (2, 3, 4, 4)), 0.7))
    samples.append(sample("large-errors", _target_away_from_zero(rng, (2, 3, 4, 4)), 20.0))
    # Only zero and sub-epsilon targets: their losses are ~1/epsilon times larger than the others,
    # whose gradients would drown in the finite-difference round-off of such a sum.
    target = np.array([[0.0, 0.0, 1e-9], [-1e-9, 0.5 * params["epsilon"], 0.0]])
    samples.append(sample("zero-targets", target, 0.5))
    target = _target_away_from_zero(rng, (2, 3, 4, 4))
    samples.append(Sample("perfect", target.copy(), dense=target))
    samples.append(
        sample(
            "sample-weight", _target_away_from_zero(rng, (2, 3, 4, 4)), 1.0, sample_weight=rng.uniform(0.2, 2.0, (2,))
        )
    )
    return samples


def logarithmic_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Non-negative targets (zeros included) and predictions, negative
    predictions (floored at epsilon, zero gradient), large values; predictions
    are kept 0.02 away from the floor's kink."""
    eps = params["epsilon"]

    def positive(shape: tuple[int, ...], scale: float) -> np.ndarray:
        return np.exp(rng.normal(0.0, scale, shape))

    def clear(x: np.ndarray) -> np.ndarray:
        return np.where(np.abs(x - eps) < 0.02, x + 0.05, x)

    shape = (2, 3, 4, 4)
    target = positive(shape, 1.0)
    target.flat[:4] = [0.0, 0.0, 1e-9, 1.0]
    samples = [
        Sample("random-vector", clear(positive((6, 3), 1.0)), dense=positive((6, 3), 1.0)),
        Sample("random-2d", clear(positive(shape, 1.0)), dense=target),
        Sample("negative-predictions", clear(rng.normal(0.0, 1.0, shape)), dense=positive(shape, 1.0)),
        Sample("large-values", clear(positive(shape, 3.0)), dense=positive(shape, 3.0)),
        Sample("perfect", target.copy(), dense=target, smooth=False),  # zeros sit on the floor's kink
        Sample(
            "sample-weight",
            clear(positive(shape, 0.5)),
            dense=positive(shape, 0.5),
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    return samples


# --------------------------------------------------------------------------- registration

_INPUTS = Inputs("elementwise", prediction="real-valued predictions")
_KERAS_EPSILON = Param(
    "epsilon", "float", 1e-7, "smallest denominator |y_true| (Keras' backend.epsilon())", low=0.0, low_open=True
)

register(
    LossSpec(
        name="mean_absolute_percentage_error",
        formula=mean_absolute_percentage_error,
        params=ParamSet((_KERAS_EPSILON,)),
        inputs=_INPUTS,
        family="regression",
        presets={"default": {}, "large_epsilon": {"epsilon": 0.3}},
        samples=percentage_samples,
    )
)

register(
    LossSpec(
        name="mean_squared_logarithmic_error",
        formula=mean_squared_logarithmic_error,
        params=ParamSet((Param("epsilon", "float", 1e-7, "floor of y_pred and y_true before the log", low=0.0),)),
        inputs=_INPUTS,
        family="regression",
        presets={"default": {}, "floor_zero": {"epsilon": 0.0}, "floor_high": {"epsilon": 0.5}},
        samples=logarithmic_samples,
    )
)

register(
    LossSpec(
        name="smooth_l1",
        formula=smooth_l1,
        params=ParamSet((Param("beta", "float", 1.0, "threshold where the loss turns linear; 0 is L1", low=0.0),)),
        inputs=_INPUTS,
        family="regression",
        presets={"default": {}, "small_beta": {"beta": 0.1}, "large_beta": {"beta": 3.0}, "l1": {"beta": 0.0}},
        samples=residual_samples(lambda params: [0.0, params["beta"], -params["beta"]]),
    )
)

register(
    LossSpec(
        name="log_cosh",
        formula=log_cosh,
        params=ParamSet(()),
        inputs=_INPUTS,
        family="regression",
        presets={"default": {}},
        samples=residual_samples(lambda params: []),
    )
)

register(
    LossSpec(
        name="quantile",
        formula=quantile,
        params=ParamSet(
            (
                Param(
                    "quantile",
                    "float",
                    0.5,
                    "the quantile tau to estimate",
                    low=0.0,
                    high=1.0,
                    low_open=True,
                    high_open=True,
                ),
            )
        ),
        inputs=_INPUTS,
        family="regression",
        presets={"default": {}, "low": {"quantile": 0.1}, "high": {"quantile": 0.9}},
        samples=residual_samples(lambda params: [0.0]),
    )
)

register(
    LossSpec(
        name="charbonnier",
        formula=charbonnier,
        params=ParamSet(
            (
                Param("epsilon", "float", 1e-3, "scale of the quadratic core", low=0.0, low_open=True),
                Param("subtract_epsilon", "bool", False, "subtract epsilon so a zero error costs 0"),
            )
        ),
        inputs=_INPUTS,
        family="regression",
        presets={
            "default": {},
            "kornia": {"epsilon": 1.0, "subtract_epsilon": True},
            "shifted_small": {"epsilon": 1e-6, "subtract_epsilon": True},
            "wide": {"epsilon": 2.0},
        },
        # below |r| ~ 10 epsilon the penalty bends faster than the finite-difference step resolves
        samples=residual_samples(lambda params: [0.0] if params["epsilon"] < 0.1 else []),
    )
)
