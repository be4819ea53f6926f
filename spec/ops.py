"""The ops protocol: the only primitives a loss formula may use.

A formula in :mod:`spec.losses` receives an ``ops`` object and the framework's
own tensors, and calls nothing but the methods below, the arithmetic operators
(``+ - * /`` and unary ``-``) and the edge-safe helpers at the end of this
module.  Three backends implement the protocol: NumPy (the float64 reference,
:mod:`spec.numpy_ops`), PyTorch (:mod:`losses_torch.ops`) and TensorFlow
(:mod:`losses_tf.ops`).  The protocol is deliberately small so that a future
ONNX builder backend can implement it too; formulas therefore never branch in
Python on tensor *values*, only on shapes and parameters.

Edge conventions (value, gradient) that every backend must honour:

* ``where(c, a, b)``: gradient flows only into the selected branch.  A NaN or
  inf in the *unselected* branch still poisons the gradient (0 * inf), so the
  helpers below use the double-``where`` pattern.
* ``amax`` along an axis: ties share the gradient evenly (TensorFlow's
  ``reduce_max`` and torch's ``amax`` agree; torch's ``max(dim)`` does not and
  is not used).
* ``abs(0)`` has gradient 0; ``sqrt`` and fractional ``power`` at 0 have
  infinite gradient and are only reached through :func:`safe_power`.
* ``sort`` is stable (equal values keep their order, lower index first, in
  both directions), so the permutation -- and the gradient routed through
  it at ties -- is the same everywhere; ``max_pool``/``min_pool`` share a
  window's tied extremes' gradient evenly, like ``amax`` (native pooling
  kernels pick one position).
* ``one_hot``/``take_along_axis``/``gather`` receive *sanitised* indices
  (inside ``[0, depth)``); callers mask invalid positions afterwards.  Native
  ops disagree on invalid indices (TensorFlow gives zeros, torch raises).
* Native ``clip``/``maximum``/``minimum``/``xlogy``/``norm`` are not part of
  the protocol: their gradients at the kink differ between frameworks (see
  ``shared/research/backends-onnx.md`` section 2.4).  :func:`clip` below is the
  one clip every formula uses: gradient 1 on and inside the bounds, 0 outside.

Fused ops (``sparse_softmax_cross_entropy``, ``ctc_loss``) have a composite default written
with the primitives; a backend may override them with a native kernel for
speed.  A formula hands a fused op that can also reduce to the reduction step
as :class:`spec.reduction.Fused`, so ``"mean"`` and ``"sum"`` reach the kernel.
Setting ``LOSSBRIDGE_COMPOSITE_OPS=1`` forces the composite path, and the
parity tests run both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

Tensor = Any


def composite_forced() -> bool:
    """Whether native fused-op overrides are disabled (``LOSSBRIDGE_COMPOSITE_OPS=1``)."""
    return os.environ.get("LOSSBRIDGE_COMPOSITE_OPS", "") not in ("", "0")


class Ops:
    """Base class of a backend.  Every method is a primitive of the protocol."""

    name = "abstract"
    # True when one_hot / take_along_axis / gather / sparse_softmax_cross_entropy
    # raise on any out-of-range index by themselves.  The spec then skips its
    # eager label-range pass (a full read of the labels on every call) and,
    # when a formula raises, re-checks the labels to replace the native error
    # with its own message.
    index_ops_validate = False

    # -- inspection ------------------------------------------------------------
    def shape(self, x: Tensor) -> tuple[int, ...]:
        """Static shape as a tuple of Python ints."""
        raise NotImplementedError(f"backend {self.name} has no shape")

    def is_integer(self, x: Tensor) -> bool:
        """Whether ``x`` holds integers (labels)."""
        raise NotImplementedError(f"backend {self.name} has no is_integer")

    def is_floating(self, x: Tensor) -> bool:
        raise NotImplementedError(f"backend {self.name} has no is_floating")

    def dtype_name(self, x: Tensor) -> str:
        """The dtype as a short string such as ``'float32'`` or ``'int64'``."""
        raise NotImplementedError(f"backend {self.name} has no dtype_name")

    def is_tracing(self, x: Tensor) -> bool:
        """True while a graph is being traced (tf.function, torch.compile):
        value-dependent input checks are skipped then."""
        return False

    def value_range(self, x: Tensor) -> tuple[float, float]:
        """Eager ``(min, max)`` of ``x`` as Python numbers; used only by input
        validation, never by formulas."""
        raise NotImplementedError(f"backend {self.name} has no value_range")

    def count_where(self, x: Tensor) -> int:
        """Eager number of true entries of a boolean tensor (validation only)."""
        raise NotImplementedError(f"backend {self.name} has no count_where")

    def first_where(self, cond: Tensor, values: Tensor) -> Any:
        """Eager first entry of ``values`` where ``cond`` holds (validation only)."""
        raise NotImplementedError(f"backend {self.name} has no first_where")

    # -- construction ----------------------------------------------------------
    def constant(self, value: Any, like: Tensor) -> Tensor:
        """A tensor holding ``value`` (number or nested sequence) with the
        floating dtype and device of ``like``."""
        raise NotImplementedError(f"backend {self.name} has no constant")

    def cast(self, x: Tensor, like: Tensor) -> Tensor:
        """``x`` (boolean, integer or float) converted to the dtype of ``like``."""
        raise NotImplementedError(f"backend {self.name} has no cast")

    # -- shape -----------------------------------------------------------------
    def reshape(self, x: Tensor, shape: Sequence[int]) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no reshape")

    def moveaxis(self, x: Tensor, source: int, destination: int) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no moveaxis")

    def expand_dims(self, x: Tensor, axis: int) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no expand_dims")

    # -- elementwise -----------------------------------------------------------
    def stack(self, xs: Sequence[Tensor], axis: int = 0) -> Tensor:
        """Join same-shape tensors along a new ``axis``."""
        raise NotImplementedError(f"backend {self.name} has no stack")

    def exp(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no exp")

    def log(self, x: Tensor) -> Tensor:
        """Natural log; ``log(0) = -inf``.  Formulas reach it only through
        :func:`safe_log` or on values clipped away from 0."""
        raise NotImplementedError(f"backend {self.name} has no log")

    def abs(self, x: Tensor) -> Tensor:
        """Absolute value; gradient 0 at 0 in every backend."""
        raise NotImplementedError(f"backend {self.name} has no abs")

    def power(self, x: Tensor, exponent: float) -> Tensor:
        """``x ** exponent`` for a constant exponent; used on positive bases only."""
        raise NotImplementedError(f"backend {self.name} has no power")

    def sigmoid(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no sigmoid")

    def log_sigmoid(self, x: Tensor) -> Tensor:
        """``log(sigmoid(x))``, finite for every finite ``x``; gradient ``sigmoid(-x)``."""
        raise NotImplementedError(f"backend {self.name} has no log_sigmoid")

    def softmax(self, x: Tensor, axis: int) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no softmax")

    def log_softmax(self, x: Tensor, axis: int) -> Tensor:
        """``x - logsumexp(x, axis)``, finite for every finite ``x``."""
        raise NotImplementedError(f"backend {self.name} has no log_softmax")

    # -- comparison and selection (no gradient through the condition) ---------
    def where(self, cond: Tensor, a: Tensor | float, b: Tensor | float) -> Tensor:
        """Select ``a`` where ``cond`` else ``b``; Python numbers take the
        dtype of the tensor branch."""
        raise NotImplementedError(f"backend {self.name} has no where")

    def equal(self, a: Tensor, b: Tensor | float) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no equal")

    def not_equal(self, a: Tensor, b: Tensor | float) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no not_equal")

    def less(self, a: Tensor, b: Tensor | float) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no less")

    def less_equal(self, a: Tensor, b: Tensor | float) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no less_equal")

    def greater(self, a: Tensor, b: Tensor | float) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no greater")

    def logical_and(self, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no logical_and")

    # -- reductions ------------------------------------------------------------
    def sum(self, x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Sum; ``axis=None`` sums everything, an empty tuple sums nothing."""
        raise NotImplementedError(f"backend {self.name} has no sum")

    def mean(self, x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no mean")

    def amax(self, x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum; ties share the gradient evenly."""
        raise NotImplementedError(f"backend {self.name} has no amax")

    # -- labels ----------------------------------------------------------------
    def one_hot(self, labels: Tensor, depth: int, axis: int, like: Tensor) -> Tensor:
        """One-hot encoding of sanitised integer ``labels`` inserted at
        ``axis`` (of the result), with the dtype of ``like``."""
        raise NotImplementedError(f"backend {self.name} has no one_hot")

    def take_along_axis(self, x: Tensor, index: Tensor, axis: int) -> Tensor:
        """``x`` gathered along ``axis`` at sanitised ``index``: same rank as
        ``x``, any size on ``axis``, ``x``'s size on every other axis."""
        raise NotImplementedError(f"backend {self.name} has no take_along_axis")

    def gather(self, vector: Tensor, index: Tensor) -> Tensor:
        """``vector[index]`` for a 1-D ``vector`` and sanitised integer ``index``."""
        raise NotImplementedError(f"backend {self.name} has no gather")

    # -- gradient control ------------------------------------------------------
    def stop_gradient(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no stop_gradient")

    # -- ordering, scans and sliding windows -----------------------------------
    def sort(self, x: Tensor, axis: int, descending: bool = False) -> tuple[Tensor, Tensor]:
        """``(values, permutation)``: ``x`` sorted along ``axis`` and the integer
        permutation that sorts it, ``values == reorder(x, permutation, axis)``.

        The sort is stable, ``descending`` included: equal values keep their
        original order (lower index first), so the permutation -- and every
        gradient routed through it -- is the same in every backend (ONNX
        ``TopK`` breaks ties the same way).  ``-0.0`` equals ``0.0``; NaN is
        not allowed.  Works on floats and integers.

        Gradient: each sorted value passes its gradient back to the one
        position the permutation took it from.  At ties that is the stable
        order's assignment, one subgradient of a piecewise-smooth function.
        """
        raise NotImplementedError(f"backend {self.name} has no sort")

    def reorder(self, x: Tensor, permutation: Tensor, axis: int) -> Tensor:
        """``x`` rearranged along ``axis`` by a ``permutation`` from :meth:`sort`
        (same shape as ``x``): ``result[..., i, ...] = x[..., permutation[..., i, ...], ...]``.

        Gradient: scattered back through the permutation (no index repeats, so
        nothing is summed)."""
        raise NotImplementedError(f"backend {self.name} has no reorder")

    def cumsum(self, x: Tensor, axis: int) -> Tensor:
        """Inclusive cumulative sum along ``axis``; the gradient is the reversed
        cumulative sum of the incoming gradient."""
        raise NotImplementedError(f"backend {self.name} has no cumsum")

    def max_pool(self, x: Tensor, window: Sequence[int], axes: Sequence[int]) -> Tensor:
        """Sliding-window maximum, stride 1, over ``axes`` with the odd window
        sizes ``window`` (one per axis), centred on each position.  Positions
        outside ``x`` are excluded ("SAME" padding with ``-inf``), so the result
        has ``x``'s shape; the other axes are untouched.

        Gradient: within each window, tied maxima share the gradient evenly
        (the ``amax`` convention).  Native pooling kernels route it to one
        position instead (torch: the first in scan order), which is why the
        backends build the windows explicitly; the values are the same.
        """
        raise NotImplementedError(f"backend {self.name} has no max_pool")

    def min_pool(self, x: Tensor, window: Sequence[int], axes: Sequence[int]) -> Tensor:
        """Sliding-window minimum: ``-max_pool(-x)``, with the same window,
        padding (outside positions excluded) and tie conventions."""
        return -self.max_pool(-x, window, axes)

    # -- fused ops: composite default, native override allowed -----------------
    def sparse_softmax_cross_entropy(
        self, logits: Tensor, labels: Tensor, axis: int, reduction: str = "none"
    ) -> Tensor:
        """``-log_softmax(logits)[label]`` per position (class ``axis`` removed),
        for sanitised ``labels``; ``reduction="mean"``/``"sum"`` folds the
        positions in the same call (a native kernel then skips the
        per-position gradient)."""
        log_p = self.log_softmax(logits, axis)
        picked = self.take_along_axis(log_p, self.expand_dims(labels, axis), axis)
        nll = -self.sum(picked, axis=axis)
        if reduction == "mean":
            return self.mean(nll)
        return self.sum(nll) if reduction == "sum" else nll

    def ctc_loss(
        self, logits: Tensor, labels: Tensor, input_lengths: Tensor, target_lengths: Tensor, blank: int
    ) -> Tensor:
        """CTC negative log-likelihood ``(N,)`` of ``softmax(logits)``
        (``(N, T, C)``) for padded ``labels`` ``(N, S)``, lengths ``(N,)`` in
        ``[0, T]`` and ``[0, S]``, and ``blank`` in ``[0, C)``.  Samples no
        alignment reaches get an arbitrary finite value with a finite
        gradient: the caller masks them."""
        from spec.losses._ctc import ctc_negative_log_likelihood  # the formula lives with its loss

        return ctc_negative_log_likelihood(self, logits, labels, input_lengths, target_lengths, blank)


# ---------------------------------------------------------------------------
# Edge-safe helpers written once over the primitives.  Their gradient
# convention is the same in every backend by construction.
# ---------------------------------------------------------------------------


def clip(ops: Ops, x: Tensor, low: float, high: float) -> Tensor:
    """``x`` limited to ``[low, high]`` by nested ``where``.

    Gradient: 1 for ``low <= x <= high`` (boundaries included), 0 outside.
    """
    return ops.where(ops.less(x, low), low, ops.where(ops.greater(x, high), high, x))


def safe_divide(ops: Ops, numerator: Tensor, denominator: Tensor, *, when_zero: float = 0.0) -> Tensor:
    """``numerator / denominator``, equal to ``when_zero`` (with zero gradient)
    where the denominator is exactly 0."""
    is_zero = ops.equal(denominator, 0.0)
    ratio = numerator / ops.where(is_zero, 1.0, denominator)
    return ops.where(is_zero, when_zero, ratio)


def safe_power(ops: Ops, base: Tensor, exponent: float) -> Tensor:
    """``base ** exponent`` for ``base >= 0``; at ``base == 0`` the value is 0
    (1 for ``exponent == 0``) and the gradient is 0, not inf."""
    if exponent == 1.0:
        return base
    is_zero = ops.less_equal(base, 0.0)
    powered = ops.power(ops.where(is_zero, 1.0, base), exponent)
    return ops.where(is_zero, 1.0 if exponent == 0.0 else 0.0, powered)


def relu(ops: Ops, x: Tensor) -> Tensor:
    """``max(x, 0)`` by ``where``.  Gradient 1 above 0, 0 at and below 0
    (``torch.nn.functional.relu``'s convention, kept in every backend)."""
    return ops.where(ops.greater(x, 0.0), x, 0.0)


def softplus(ops: Ops, x: Tensor) -> Tensor:
    """``log(1 + exp(x)) = -log_sigmoid(-x)``, stable for any ``x``."""
    return -ops.log_sigmoid(-x)


def normalize_axis(axis: int, ndim: int, *, argument: str = "class_axis") -> int:
    """``axis`` as a non-negative index into ``ndim`` dimensions."""
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{argument}={axis} is out of range for a prediction with {ndim} dimensions; "
            f"expected an axis in [{-ndim}, {ndim - 1}]"
        )
    return axis % ndim


def pool_padding(window: Sequence[int], axes: Sequence[int], ndim: int) -> list[tuple[int, int]]:
    """``(axis, half_window)`` pairs of a :meth:`Ops.max_pool` call, axes made
    non-negative; raises ``ValueError`` for even or non-positive windows,
    repeated axes or a window/axes length mismatch."""
    window, axes = [int(w) for w in window], [normalize_axis(a, ndim, argument="pool axis") for a in axes]
    if len(window) != len(axes):
        raise ValueError(f"max_pool: {len(window)} window size(s) {window} for {len(axes)} axes {axes}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"max_pool: repeated axes {axes}")
    if any(w < 1 or w % 2 == 0 for w in window):
        raise ValueError(f"max_pool: window sizes must be odd and positive (centred windows), got {window}")
    return [(a, w // 2) for a, w in zip(axes, window, strict=True)]
