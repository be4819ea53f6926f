"""Loss weighting methods for multi-task losses, formulas written once.

A weighting turns the task terms ``v_i = w_i * L_i`` (``w_i`` the fixed
``loss_weights``, ``L_i`` the reduced per-output losses, ``i = 1..T``) into
the training objective.  Each method declares

* its parameters (validated like loss parameters);
* what it needs from the framework (``requires``): the terms only
  (``"losses"``), the T x T Gramian ``G_ij = <g_i, g_j>`` of the per-task
  gradients ``g_i = d v_i / d theta_shared`` (``"gramian"``), or the per-task
  gradient norms at the last shared layer (``"gradient_norms"``);
* its trainable state (a vector optimised with the model, no weight decay:
  an ``nn.Parameter`` in torch, a Keras weight in Keras) and its buffers
  (non-trainable, serialisable state: step and epoch counters, loss history,
  initial losses), both created by the framework from the initial values
  given here and saved with its checkpoints;
* ``objective(...)``: the scalar to differentiate, whose value is logged as
  ``loss`` (for GradNorm the value is the model's objective and the weight
  loss contributes only its gradient);
* ``step_update`` (per training step, traceable) and ``epoch_update`` (at the
  end of each training epoch, host-side NumPy) for the buffers.

Methods:

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
  ``sigma`` itself.
* ``convex`` -- the seed's learnable convex weight for two terms,
  ``alpha v_1 + (1 - alpha) v_2`` with ``alpha = sigmoid(a)`` kept in (0, 1).
  On its own it drifts to the smaller loss: ``d/d alpha = v_1 - v_2``, so
  alpha runs to 0 or 1.  ``barrier > 0`` adds
  ``-barrier * (log alpha + log(1 - alpha))``, which keeps alpha inside with
  an interior optimum where ``v_1 - v_2 = barrier (1/alpha - 1/(1 - alpha))``.
* ``dwa`` -- Dynamic Weight Average, Liu, Johns, Davison, "End-to-End
  Multi-Task Learning with Attention", CVPR 2019:
  ``lambda_i = T softmax_i(r / temperature)`` with ``r_i = Lbar_i(e-1) /
  Lbar_i(e-2)`` the ratio of the task's epoch-mean losses of the two previous
  training epochs; ``lambda_i = 1`` in the first two epochs.  Epoch means are
  batch-size-weighted, as Keras and Lightning aggregate epoch logs (the
  reference code averages batches equally: the same when batches are equal).
* ``rlw`` -- Random Loss Weighting, Lin et al., "Reasonable Effectiveness of
  Random Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022:
  ``lambda = softmax(z)``, ``z ~ N(0, I)`` drawn every training step from
  ``numpy.random.default_rng([seed, step])``, so both frameworks draw the same
  weights; weights sum to 1.
* ``gradnorm`` -- Chen et al., "GradNorm: Gradient Normalization for
  Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018, the paper's
  version: learnable ``w_i`` (start 1); the model is trained on
  ``sum_i w_i v_i`` with ``w`` held constant; ``w`` is trained on
  ``L_grad = sum_i |G_i - Gbar r_i^alpha|`` where ``G_i = w_i ||d v_i / d W||``
  at the last shared layer ``W``, ``Gbar = mean_i G_i``, ``r_i = Ltilde_i /
  mean_j Ltilde_j`` and ``Ltilde_i = v_i(t) / v_i(0)`` with ``v_i(0)`` the
  losses of the first training step; the target ``Gbar r_i^alpha`` is a
  constant.  Before every training step ``w`` is renormalised to sum to T
  (the paper renormalises after each update: the same trajectory).  Because
  ``G_i`` is linear in ``w_i`` the gradient of ``L_grad`` needs only the norms,
  no second-order derivatives.
* ``mgda``, ``pcgrad``, ``cagrad`` -- Gramian-based methods
  (:mod:`spec.gramian`): coefficients ``c = f(G)`` give the update direction
  ``sum_i c_i g_i``, applied by differentiating ``sum_i c_i v_i`` with ``c``
  constant.  Parameters that are not shared (task heads) therefore receive
  their task's gradient scaled by ``c_i``.

In evaluation (validation) the objective is the method's current weighting
where it has one (uncertainty, convex, DWA, GradNorm) and the plain sum
``sum_i v_i`` where the weights come from random draws or gradients (RLW,
MGDA, PCGrad, CAGrad).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from spec import gramian
from spec.ops import safe_divide
from spec.params import Param, ParamSet

Tensor = Any
Buffers = Mapping[str, Tensor]

UNCERTAINTY_VARIANTS = ("kendall_regression", "kendall_classification", "log_variance", "liebel")


def _sum(terms: Sequence[Tensor]) -> Tensor:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


class Weighting:
    """A weighting method (see the module docstring).  Subclasses set
    ``name``, ``parameters``, ``requires`` and override what they use."""

    name: ClassVar[str]
    parameters: ClassVar[ParamSet] = ParamSet(())
    requires: ClassVar[str] = "losses"

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self.params = self.parameters.bind(f"weighting {self.name}", dict(params or {}))

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    def check_terms(self, num_terms: int) -> None:
        """Raise when the method cannot combine ``num_terms`` terms."""

    def trainable_state(self, num_terms: int) -> list[float] | None:
        """Initial value of the trainable state (``None``: none)."""
        return None

    def buffers(self, num_terms: int) -> dict[str, np.ndarray]:
        """Initial non-trainable state: int64 counters and float64 vectors."""
        return {}

    def prepare(self, ops: Any, trainable: Tensor) -> Tensor | None:
        """New value of the trainable state before a training step (``None``: keep)."""
        return None

    def coefficients(self, step: int, num_terms: int, gram: np.ndarray | None) -> np.ndarray | None:
        """Host-side (NumPy) task coefficients of a training step, for methods
        whose weights are drawn or solved rather than differentiated."""
        return None

    def objective(
        self,
        ops: Any,
        values: Sequence[Tensor],
        trainable: Tensor | None,
        buffers: Buffers,
        *,
        training: bool,
        coefficients: Tensor | None = None,
        norms: Sequence[Tensor] | None = None,
    ) -> Tensor:
        return _sum(values)

    def step_update(
        self, ops: Any, values: Sequence[Tensor], buffers: Buffers, batch_size: Tensor
    ) -> dict[str, Tensor]:
        """New buffer values after a training step (``values`` are detached)."""
        return {}

    def epoch_update(self, buffers: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """New buffer values at the end of a training epoch."""
        return {}


class Fixed(Weighting):
    """``sum_i v_i``."""

    name = "fixed"


class Uncertainty(Weighting):
    """Homoscedastic-uncertainty weighting (Kendall et al. 2018), variant named."""

    name = "uncertainty"
    parameters = ParamSet(
        (
            Param("variant", "choice", "kendall_regression", "which uncertainty term", choices=UNCERTAINTY_VARIANTS),
            Param("init", "float", None, "initial state (log-variance 0, or sigma 1 for liebel)", optional=True),
        )
    )

    def trainable_state(self, num_terms: int) -> list[float]:
        init = self.params.get("init")
        if init is None:
            init = 1.0 if self.params["variant"] == "liebel" else 0.0
        return [float(init)] * num_terms

    def objective(self, ops, values, trainable, buffers, *, training, coefficients=None, norms=None):
        variant = self.params["variant"]
        terms = []
        for index, value in enumerate(values):
            s = trainable[index]
            if variant == "kendall_regression":
                terms.append(0.5 * ops.exp(-s) * value + 0.5 * s)
            elif variant == "kendall_classification":
                terms.append(ops.exp(-s) * value + 0.5 * s)
            elif variant == "log_variance":
                terms.append(ops.exp(-s) * value + s)
            else:  # liebel: s is sigma
                square = s * s
                terms.append(value / (2.0 * square) + ops.log(1.0 + square))
        return _sum(terms)


class Convex(Weighting):
    """``alpha v_1 + (1 - alpha) v_2``, ``alpha = sigmoid(a)``, optional log barrier."""

    name = "convex"
    parameters = ParamSet(
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
    )

    def check_terms(self, num_terms: int) -> None:
        if num_terms != 2:
            raise ValueError(f"weighting 'convex' combines exactly 2 loss terms, got {num_terms}")

    def trainable_state(self, num_terms: int) -> list[float]:
        alpha = self.params["alpha"]
        return [math.log(alpha) - math.log1p(-alpha)]

    def objective(self, ops, values, trainable, buffers, *, training, coefficients=None, norms=None):
        logit = trainable[0]
        log_alpha, log_rest = ops.log_sigmoid(logit), ops.log_sigmoid(-logit)
        total = ops.exp(log_alpha) * values[0] + ops.exp(log_rest) * values[1]
        if self.params["barrier"]:
            total = total - self.params["barrier"] * (log_alpha + log_rest)
        return total


class DynamicWeightAverage(Weighting):
    """DWA (Liu et al. 2019): weights from the ratio of the last two epoch-mean losses."""

    name = "dwa"
    parameters = ParamSet((Param("temperature", "float", 2.0, "softmax temperature T", low=0.0, low_open=True),))

    def buffers(self, num_terms: int) -> dict[str, np.ndarray]:
        return {
            "weights": np.ones(num_terms),
            "history": np.zeros((2, num_terms)),  # epoch means of epochs e-2, e-1
            "epoch": np.array(0, dtype=np.int64),
            "epoch_sum": np.zeros(num_terms),
            "epoch_count": np.array(0.0),
        }

    def objective(self, ops, values, trainable, buffers, *, training, coefficients=None, norms=None):
        weights = buffers["weights"]
        return _sum([weights[i] * value for i, value in enumerate(values)])

    def step_update(self, ops, values, buffers, batch_size):
        return {
            "epoch_sum": buffers["epoch_sum"] + batch_size * ops.stack(values),
            "epoch_count": buffers["epoch_count"] + batch_size,
        }

    def epoch_update(self, buffers):
        count = float(buffers["epoch_count"])
        if count == 0:  # an epoch without training steps leaves the history alone
            return {}
        mean = np.asarray(buffers["epoch_sum"], dtype=np.float64) / count
        history = np.stack([np.asarray(buffers["history"])[1], mean])
        epoch = int(buffers["epoch"]) + 1
        weights = np.ones_like(mean)
        if epoch >= 2:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = history[1] / history[0]
            if not np.all(np.isfinite(ratio)):
                raise ValueError(
                    f"weighting 'dwa': epoch-mean losses {history.tolist()} give ratios {ratio.tolist()}; "
                    "expected positive finite epoch losses"
                )
            logits = ratio / self.params["temperature"]
            weights = np.exp(logits - logits.max())
            weights = len(mean) * weights / weights.sum()
        return {
            "weights": weights,
            "history": history,
            "epoch": np.array(epoch, dtype=np.int64),
            "epoch_sum": np.zeros_like(mean),
            "epoch_count": np.array(0.0),
        }


class _Coefficients(Weighting):
    """Trains on ``sum_i c_i v_i`` with the step's host-side coefficients
    ``c`` held constant; evaluates the plain sum."""

    def objective(self, ops, values, trainable, buffers, *, training, coefficients=None, norms=None):
        if not training:
            return _sum(values)
        return _sum([coefficients[i] * value for i, value in enumerate(values)])


class _Seeded(Weighting):
    """A method drawing from ``numpy.random.default_rng([seed, step])``: its
    only state is the step counter, so both frameworks and a resumed run draw
    the same numbers."""

    parameters = ParamSet((Param("seed", "int", 0, "seed of the draws", low=0),))

    def buffers(self, num_terms: int) -> dict[str, np.ndarray]:
        return {"step": np.array(0, dtype=np.int64)}

    def rng(self, step: int) -> np.random.Generator:
        return np.random.default_rng([self.params["seed"], int(step)])

    def step_update(self, ops, values, buffers, batch_size):
        return {"step": buffers["step"] + 1}


class RandomLossWeighting(_Seeded, _Coefficients):
    """RLW (Lin et al. 2022): ``softmax(z)``, ``z ~ N(0, I)`` seeded per step."""

    name = "rlw"

    def coefficients(self, step, num_terms, gram):
        z = self.rng(step).standard_normal(num_terms)
        z = np.exp(z - z.max())
        return z / z.sum()


class GradNorm(Weighting):
    """GradNorm (Chen et al. 2018), paper version (see the module docstring)."""

    name = "gradnorm"
    requires = "gradient_norms"
    parameters = ParamSet((Param("alpha", "float", 1.5, "restoring-force strength alpha", low=0.0),))

    def trainable_state(self, num_terms: int) -> list[float]:
        return [1.0] * num_terms

    def buffers(self, num_terms: int) -> dict[str, np.ndarray]:
        return {"initial": np.ones(num_terms), "step": np.array(0, dtype=np.int64)}

    def prepare(self, ops, trainable):
        return trainable * (ops.shape(trainable)[0] / ops.sum(trainable))

    def objective(self, ops, values, trainable, buffers, *, training, coefficients=None, norms=None):
        count = len(values)
        weights = [trainable[i] for i in range(count)]
        if not training:
            scale = count / ops.sum(trainable)
            return _sum([w * scale * v for w, v in zip(weights, values, strict=True)])
        model = _sum([ops.stop_gradient(w) * v for w, v in zip(weights, values, strict=True)])
        first = ops.equal(buffers["step"], 0)
        ratios = []
        for i, value in enumerate(values):
            value = ops.stop_gradient(value)
            initial = ops.where(first, value, buffers["initial"][i])
            ratios.append(safe_divide(ops, value, initial, when_zero=1.0))
        mean_ratio = _sum(ratios) / count
        norms_w = [w * n for w, n in zip(weights, norms, strict=True)]
        mean_norm = ops.stop_gradient(_sum(norms_w) / count)
        weight_loss = _sum(
            [
                ops.abs(g - ops.stop_gradient(mean_norm * ops.power(r / mean_ratio, self.params["alpha"])))
                for g, r in zip(norms_w, ratios, strict=True)
            ]
        )
        # the value is the model's objective; the weight loss adds only its gradient (to w)
        return model + (weight_loss - ops.stop_gradient(weight_loss))

    def step_update(self, ops, values, buffers, batch_size):
        first = ops.equal(buffers["step"], 0)
        return {"initial": ops.where(first, ops.stack(values), buffers["initial"]), "step": buffers["step"] + 1}


class _GramianWeighting(_Coefficients):
    requires = "gramian"


class MGDA(_GramianWeighting):
    """MGDA-UB (Sener & Koltun 2018): the min-norm point of the task gradients' hull."""

    name = "mgda"
    parameters = ParamSet(
        (Param("normalization", "choice", "none", "gradient normalisation before the solve", choices=("none", "l2")),)
    )

    def coefficients(self, step, num_terms, gram):
        return gramian.mgda_weights(gram, normalization=self.params["normalization"])


class PCGrad(_Seeded, _GramianWeighting):
    """PCGrad (Yu et al. 2020): project away conflicting components, seeded random task order."""

    name = "pcgrad"

    def coefficients(self, step, num_terms, gram):
        return gramian.pcgrad_weights(gram, gramian.pcgrad_orders(len(gram), self.rng(step)))


class CAGrad(_GramianWeighting):
    """CAGrad (Liu et al. 2021), LibMTL's variant."""

    name = "cagrad"
    parameters = ParamSet(
        (
            Param("c", "float", 0.5, "radius of the conflict-averse ball, relative to ||g0||", low=0.0),
            Param("rescale", "int", 1, "0: none, 1: divide by 1 + c^2, 2: divide by 1 + c", low=0, high=2),
        )
    )

    def coefficients(self, step, num_terms, gram):
        return gramian.cagrad_weights(gram, c=self.params["c"], rescale=self.params["rescale"])


WEIGHTINGS: dict[str, type[Weighting]] = {
    cls.name: cls
    for cls in (Fixed, Uncertainty, Convex, DynamicWeightAverage, RandomLossWeighting, GradNorm, MGDA, PCGrad, CAGrad)
}


def resolve(weighting: Any) -> Weighting:
    """The method described by ``None``, a name or ``{"name": ..., "params": ...}``."""
    if weighting is None:
        weighting = "fixed"
    if isinstance(weighting, Weighting):
        return weighting
    if isinstance(weighting, str):
        weighting = {"name": weighting}
    if not isinstance(weighting, Mapping) or "name" not in weighting:
        raise TypeError(f"weighting must be None, a name or {{'name': ..., 'params': ...}}, got {weighting!r}")
    unknown = sorted(set(weighting) - {"name", "params"})
    if unknown:
        raise ValueError(f"weighting has unknown key(s) {unknown}; expected 'name' and 'params'")
    name = weighting["name"]
    if name not in WEIGHTINGS:
        raise ValueError(f"weighting {name!r} is not available; expected one of {list(WEIGHTINGS)} or None")
    return WEIGHTINGS[name](weighting.get("params"))
