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

Fused ops (``sparse_softmax_cross_entropy``, ``ctc_loss``, ``class_statistics``,
``sigmoid_pair``, ``sigmoid_cross_entropy``, ``softmax_cross_entropy``, and the edge-safe
``clip``/``safe_divide``/``safe_power`` behind the helpers of the same names)
have a composite default written with the primitives; a backend may override
them with a native kernel for speed, keeping the conventions above.  A formula
hands a fused op that can also reduce to the reduction step as
:class:`spec.reduction.Fused`, so ``"mean"`` and ``"sum"`` reach the kernel.
Setting ``LOSSBRIDGE_COMPOSITE_OPS=1`` forces the composite path, and the
parity tests run both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

Tensor = Any


# os.environ.get of an unset variable raises and catches a KeyError inside the mapping, ~2 us on
# every loss call; CPython's os.environ keeps its encoded entries in a dict that a plain .get reads
_ENVIRON_DATA = getattr(os.environ, "_data", None)
_FAST_ENVIRON = isinstance(_ENVIRON_DATA, dict) and hasattr(os.environ, "encodekey")


def environment_variable(name: str) -> str | None:
    """``os.environ.get(name)``, without the cost of a miss (read on every loss call)."""
    if _FAST_ENVIRON:
        value = _ENVIRON_DATA.get(os.environ.encodekey(name))
        return None if value is None else os.environ.decodevalue(value)
    return os.environ.get(name)


def composite_forced() -> bool:
    """Whether native fused-op overrides are disabled (``LOSSBRIDGE_COMPOSITE_OPS=1``)."""
    return environment_variable("LOSSBRIDGE_COMPOSITE_OPS") not in (None, "", "0")


# Floating dtypes too narrow to compute a loss in: 11 (float16) or 8 (bfloat16)
# significant bits, and float16 overflows above 65504 (a 512x512 sum of ones).
HALF_PRECISION = ("float16", "bfloat16")


def upcast_half(ops: Ops, x: Tensor) -> Tensor:
    """``x`` in float32 if it is a float16/bfloat16 tensor, else ``x`` itself.

    The mixed-precision rule: a loss computes in float32 whatever half
    precision its inputs arrive in, and returns float32 (like the float32 loss
    of a Keras ``mixed_float16`` policy).  ``spec.registry.evaluate`` and the
    compat shells apply it to every floating input; float32 and float64 inputs
    are untouched, so their values stay bit-for-bit what they were.  The
    gradient reaches a half-precision ``y_pred`` in its own dtype.
    """
    return ops.to_float32(x) if ops.is_half(x) else x


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

    def is_half(self, x: Tensor) -> bool:
        """Whether ``x`` is a float16 or bfloat16 tensor (:func:`upcast_half`)."""
        return self.is_floating(x) and self.dtype_name(x) in HALF_PRECISION

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

    # -- precision (the mixed-precision rule, see upcast_half) -----------------
    def to_float32(self, x: Tensor) -> Tensor:
        """Floating ``x`` converted to float32 (same device).  Differentiable:
        the gradient flows back to ``x`` in ``x``'s own dtype.  Used by
        :func:`upcast_half`, which formulas never call themselves."""
        raise NotImplementedError(f"backend {self.name} has no to_float32")

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

    def square(self, x: Tensor) -> Tensor:
        """``x * x``; gradient ``2 x``.  A backend may map it to one op whose
        gradient is one op too (TensorFlow's graphs)."""
        return x * x

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

    # -- replicas of a distributed run (spec.distributed) ----------------------
    def all_reduce_sum(self, x: Tensor) -> Tensor:
        """``x`` summed over the replicas of a data-parallel run; ``x`` itself
        in one process.  Differentiable: the gradient is the all-reduce (sum)
        of the incoming gradients.  Only ``sync=True`` losses call it."""
        return x

    def all_reduce_sums(self, xs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """Each of ``xs`` summed over the replicas, as :meth:`all_reduce_sum`;
        a backend sends them in one collective (one round trip per step, not
        one per statistic)."""
        return tuple(self.all_reduce_sum(x) for x in xs)

    # -- fused ops: composite default, native override allowed -----------------
    def sparse_softmax_cross_entropy(
        self,
        logits: Tensor,
        labels: Tensor,
        axis: int,
        reduction: str = "none",
        *,
        class_weights: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
        ignore_index: int | None = None,
    ) -> Tensor:
        """Softmax cross-entropy of integer ``labels`` per position (class ``axis`` removed).

        Per position: ``v [(1 - e) w_t (-log p_t) + (e / C) sum_c w_c (-log p_c)]``
        with ``p = softmax(logits)`` over ``axis``, ``t`` the label, ``w`` the
        ``class_weights`` (all 1 without), ``e`` the ``label_smoothing`` and
        ``v = 0`` where the label equals ``ignore_index`` (1 elsewhere).  Labels
        lie in ``[0, C)`` or equal ``ignore_index``.  ``reduction="mean"``/``"sum"``
        folds the positions in the same call, so a native kernel skips the
        per-position gradient: ``"mean"`` divides the sum by the total target
        weight ``sum_i v_i w_{t_i}`` (the number of positions without class
        weights and ignored labels; 0 when the total is 0), the rule of
        ``torch.nn.CrossEntropyLoss``.
        """
        log_p = self.log_softmax(logits, axis)
        valid = weight = None
        if ignore_index is not None:
            kept = self.not_equal(labels, ignore_index)
            labels = self.where(kept, labels, 0)
            valid = weight = self.cast(kept, logits)
        picked = self.take_along_axis(log_p, self.expand_dims(labels, axis), axis)
        nll = -self.sum(picked, axis=axis)
        if class_weights is not None:
            label_weight = self.gather(self.constant(list(class_weights), logits), labels)
            nll = nll * label_weight
            weight = label_weight if weight is None else label_weight * weight
        if label_smoothing:
            num_classes = self.shape(logits)[axis]
            if class_weights is not None:
                shape = [1] * len(self.shape(logits))
                shape[axis] = num_classes
                log_p = log_p * self.reshape(self.constant(list(class_weights), logits), shape)
            uniform = self.sum(log_p, axis=axis)
            nll = (1.0 - label_smoothing) * nll - (label_smoothing / num_classes) * uniform
        if valid is not None:
            nll = nll * valid
        if reduction == "none":
            return nll
        if reduction == "sum":
            return self.sum(nll)
        return self.mean(nll) if weight is None else safe_divide(self, self.sum(nll), self.sum(weight))

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

    def class_statistics(
        self,
        y_pred: Tensor,
        y_true: Tensor,
        axis: int,
        *,
        activation: str,
        batch: bool,
        mask: Tensor | None = None,
        squared: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The overlap family's sufficient statistics ``(I, P, G)`` per sample and class.

        ``I = sum(p g)``, ``P = sum(p)`` and ``G = sum(g)`` (``sum(p^2)``,
        ``sum(g^2)`` when ``squared``) over every axis but the class ``axis``
        and the batch axis (the batch axis too with ``batch=True``), where
        ``p`` is ``y_pred`` after ``activation`` (``"softmax"`` over ``axis``,
        ``"sigmoid"`` or ``"none"``) and ``g`` the targets: ``y_true`` itself
        (dense, ``y_pred``'s shape) or the one-hot encoding of sanitised
        integer labels (``y_pred``'s shape without ``axis``).  ``mask`` (0/1,
        ``y_pred``'s rank with size 1 on ``axis``) zeroes ``p`` and ``g`` at
        ignored positions.  Returns three ``(N, C)`` tensors, ``(C,)`` with
        ``batch``.  A native kernel may compute them from the labels without
        building the one-hot tensor.
        """
        if activation not in ("softmax", "sigmoid", "none"):
            raise ValueError(f"class_statistics: activation must be 'softmax', 'sigmoid' or 'none', got {activation!r}")
        shape = self.shape(y_pred)
        probs = y_pred
        if activation == "softmax":
            probs = self.softmax(y_pred, axis)
        elif activation == "sigmoid":
            probs = self.sigmoid(y_pred)
        targets = y_true
        if len(self.shape(y_true)) == len(shape) - 1:
            targets = self.one_hot(y_true, shape[axis], axis, y_pred)
        if mask is not None:
            probs, targets = probs * mask, targets * mask
        axes = tuple(a for a in range(len(shape)) if a != axis % len(shape) and (batch or a != 0))
        second = (probs * probs, targets * targets) if squared else (probs, targets)
        return self.sum(probs * targets, axis=axes), self.sum(second[0], axis=axes), self.sum(second[1], axis=axes)

    # -- edge-safe elementwise helpers as fused ops: formulas call them through
    # clip / safe_divide / safe_power below; a backend may override them with
    # native kernels that keep the same values and gradient convention.
    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        """``x`` limited to ``[low, high]`` by nested ``where``: gradient 1 for
        ``low <= x <= high`` (boundaries included), 0 outside; NaN stays NaN."""
        return self.where(self.less(x, low), low, self.where(self.greater(x, high), high, x))

    def safe_divide(self, numerator: Tensor, denominator: Tensor, when_zero: float = 0.0) -> Tensor:
        """``numerator / denominator`` (broadcasting), ``when_zero`` with zero
        gradient (for both operands) where the denominator is exactly 0."""
        is_zero = self.equal(denominator, 0.0)
        ratio = numerator / self.where(is_zero, 1.0, denominator)
        return self.where(is_zero, when_zero, ratio)

    def safe_power(self, base: Tensor, exponent: float) -> Tensor:
        """``base ** exponent`` (``exponent != 1``) for ``base >= 0``: where
        ``base <= 0`` the value is 0 (1 for ``exponent == 0``) and the
        gradient 0, never the infinite derivative of a fractional power."""
        is_zero = self.less_equal(base, 0.0)
        powered = self.power(self.where(is_zero, 1.0, base), exponent)
        return self.where(is_zero, 1.0 if exponent == 0.0 else 0.0, powered)

    # -- cross-entropies of logits against dense targets ------------------------
    def sigmoid_pair(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """``(sigmoid(x), sigmoid(-x))``, both accurate where either is tiny
        (each as ``exp(log_sigmoid(.))``)."""
        return self.exp(self.log_sigmoid(logits)), self.exp(self.log_sigmoid(-logits))

    def sigmoid_cross_entropy(self, logits: Tensor, targets: Tensor, reduction: str = "none") -> Tensor:
        """``-t log sigmoid(x) - (1 - t) log sigmoid(-x)`` per element, for
        targets ``t`` in ``[0, 1]`` (hard or soft), computed as
        ``t softplus(-x) + (1 - t) softplus(x)``: finite for every finite
        logit, gradient ``sigmoid(x) - t``.  ``reduction`` ``"mean"`` or
        ``"sum"`` reduces over every element (a backend kernel may fold it in)."""
        elements = targets * softplus(self, -logits) + (1.0 - targets) * softplus(self, logits)
        return reduce_elements(self, elements, reduction)

    def softmax_cross_entropy(self, logits: Tensor, targets: Tensor, axis: int) -> Tensor:
        """``-sum_c t_c log_softmax(x)_c`` per position (class ``axis`` removed),
        for dense (one-hot or soft) targets with ``logits``' shape.  The
        gradient is the derivative of that value, ``softmax(x) sum_c t_c - t``,
        also where the targets do not sum to 1 (an all-zero row: 0)."""
        return -self.sum(targets * self.log_softmax(logits, axis), axis=axis)


# ---------------------------------------------------------------------------
# Edge-safe helpers written once over the primitives.  Their gradient
# convention is the same in every backend by construction.
# ---------------------------------------------------------------------------


def clip(ops: Ops, x: Tensor, low: float, high: float) -> Tensor:
    """``x`` limited to ``[low, high]`` (the fused op :meth:`Ops.clip`).

    Gradient: 1 for ``low <= x <= high`` (boundaries included), 0 outside.
    """
    return ops.clip(x, low, high)


def safe_divide(ops: Ops, numerator: Tensor, denominator: Tensor, *, when_zero: float = 0.0) -> Tensor:
    """``numerator / denominator``, equal to ``when_zero`` (with zero gradient)
    where the denominator is exactly 0 (the fused op :meth:`Ops.safe_divide`)."""
    return ops.safe_divide(numerator, denominator, when_zero)


def safe_power(ops: Ops, base: Tensor, exponent: float) -> Tensor:
    """``base ** exponent`` for ``base >= 0``; at ``base == 0`` the value is 0
    (1 for ``exponent == 0``) and the gradient is 0, not inf (the fused op
    :meth:`Ops.safe_power`)."""
    if exponent == 1.0:
        return base
    return ops.safe_power(base, exponent)


def relu(ops: Ops, x: Tensor) -> Tensor:
    """``max(x, 0)`` by ``where``.  Gradient 1 above 0, 0 at and below 0
    (``torch.nn.functional.relu``'s convention, kept in every backend)."""
    return ops.where(ops.greater(x, 0.0), x, 0.0)


def reduce_elements(ops: Ops, elements: Tensor, reduction: str) -> Tensor:
    """``elements`` as they are (``"none"``), or their mean or sum over every
    element: the plain reductions a fused op folds in (``spec.reduction.Fused``)."""
    if reduction == "mean":
        return ops.mean(elements)
    if reduction == "sum":
        return ops.sum(elements)
    return elements


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
