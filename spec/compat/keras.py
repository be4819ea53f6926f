"""Keras 3.15.1 built-in losses (``keras.losses``), as compat definitions (see :mod:`spec.compat._core`).

Every class keeps Keras' constructor (``reduction``, ``name`` and ``dtype`` in
Keras' positions, with Keras' defaults), Keras' call ``(y_true, y_pred,
sample_weight=None)`` and Keras' channels-last layout, whichever framework runs
it.  A Keras loss is two steps, and each definition follows them:

1. the loss *function* returns per-sample losses (``MeanSquaredError``: the mean
   of the squared errors over the last axis, so ``(N, D)`` inputs give
   ``(N,)``).  Here: the spec loss evaluated with ``reduction="none"``, then the
   axis mean or reshape Keras does (``KerasInputs.per_sample``);
2. ``keras.losses.Loss.__call__`` weighs those by ``sample_weight`` (Keras'
   rank rule), applies the Keras mask (``ignore_class``, ``Circle``) and
   reduces: :func:`reduce_weighted`, written once here with the ops protocol.

Before step 1, ``y_true`` and ``y_pred`` go through Keras' rank rule
(:func:`same_rank`), as in ``LossFunctionWrapper.call``.  Keras' epsilon is
``keras.config.epsilon()``'s default, 1e-7 (a changed global epsilon is not
read: this module does not import Keras).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from spec.compat._core import Arg, Inputs, Mapped, PeerLoss, as_array, define, refuse
from spec.ops import Ops, clip, safe_divide

Tensor = Any

REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")
MEANS = ("sum_over_batch_size", "mean")
DTYPES = (None, "float16", "bfloat16", "float32", "float64")
EPSILON = 1e-7  # keras.config.epsilon()
# Keras' LogCosh subtracts ops.log(2.0), computed in float32 (floatx) whatever the loss dtype
FLOAT32_LOG2_EXCESS = float(np.float32(math.log(2.0))) - math.log(2.0)

CALL = (Arg("y_true"), Arg("y_pred"), Arg("sample_weight", None))
ROLES = {"y_true": "y_true", "y_pred": "y_pred", "sample_weight": "sample_weight"}
DTYPE_NOTE = (
    "`dtype`: TensorFlow computes in the loss's compute dtype (floatx, float32, unless `dtype` is given), "
    "as Keras; torch keeps the inputs' dtype when `dtype=None` and casts to a given `dtype`. A float16/bfloat16 "
    "`dtype` or input is computed in float32 and gives a float32 loss (lossbridge's mixed-precision rule; "
    "Keras computes in the half dtype)."
)
UNSUPPORTED_DTYPE = {"dtype": "dtype policies (`keras.DTypePolicy`, `'mixed_float16'`): give a float dtype name"}


def reduction_arg(default: str = "sum_over_batch_size") -> Arg:
    return Arg("reduction", default, "Keras' reduction of the per-sample losses (its own rule, `reduce_weighted`)")


def name_arg(default: str) -> Arg:
    return Arg("name", default, "the Keras loss name")


DTYPE = Arg("dtype", None, "compute dtype (see notes)")


@dataclass
class KerasInputs(Inputs):
    """A Keras call in the spec's terms, and what ``finish`` needs to turn the
    spec's unreduced value into Keras' result.

    Attributes:
        weight: Keras' ``sample_weight``, applied by :func:`reduce_weighted`
            (the spec is evaluated without it).
        per_sample: the spec's unreduced value -> Keras' per-sample losses (an
            axis mean, a reshape); ``None`` when they are the same.
        mask: per-sample losses -> the Keras mask attached to them, or ``None``.
        scale: a constant factor of the per-sample losses.
        params: spec parameters for this call only (a shape-dependent setting).
    """

    weight: Tensor | None = None
    per_sample: Callable[[Ops, Tensor], Tensor] | None = None
    mask: Callable[[Ops, Tensor], Tensor] | None = None
    scale: float = 1.0
    params: Mapping[str, Any] | None = None


Convert = Callable[[Ops, Tensor, Tensor], KerasInputs]


# --------------------------------------------------------------------------- Keras' rules, once


def same_rank(ops: Ops, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    """Keras' ``squeeze_or_expand_to_same_rank``: when the ranks differ by one
    and the longer tensor ends in a size-1 axis, that axis is squeezed, or the
    shorter tensor expanded when it has rank 1."""
    s1, s2 = ops.shape(x1), ops.shape(x2)
    if len(s1) == len(s2) + 1 and s1[-1] == 1:
        if len(s2) == 1:
            x2 = ops.expand_dims(x2, -1)
        else:
            x1 = ops.reshape(x1, s1[:-1])
    if len(s2) == len(s1) + 1 and s2[-1] == 1:
        if len(s1) == 1:
            x1 = ops.expand_dims(x1, -1)
        else:
            x2 = ops.reshape(x2, s2[:-1])
    return x1, x2


def _size(ops: Ops, x: Tensor) -> Tensor:
    """The number of entries of ``x`` as a 0-d tensor of its dtype (counted
    in the graph when a dimension is unknown; ``x != nan`` holds everywhere)."""
    shape = ops.shape(x)
    if -1 not in shape:
        return ops.constant(float(math.prod(shape)), x)
    return ops.sum(ops.cast(ops.not_equal(x, math.nan), x))


def _times(ops: Ops, owner: str, losses: Tensor, weight: Tensor) -> Tensor:
    """``losses * weight`` with NumPy broadcasting, as Keras multiplies them."""
    shapes = ops.shape(losses), ops.shape(weight)
    if -1 not in (*shapes[0], *shapes[1]):
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(
                f"{owner}: sample_weight of shape {shapes[1]} does not broadcast against the per-sample losses of "
                f"shape {shapes[0]} (Keras squeezes or expands a trailing size-1 axis, then broadcasts); expected "
                f"sample_weight of shape {shapes[0]}" + (f" or ({shapes[0][0]}, 1)" if len(shapes[0]) > 1 else "")
            ) from None
    return losses * weight


def reduce_weighted(
    ops: Ops, owner: str, losses: Tensor, sample_weight: Tensor | None, mask: Tensor | None, reduction: str | None
) -> Tensor:
    """``keras.losses.Loss.__call__``'s weighting, masking and reduction
    (``reduce_weighted_values``, ``apply_mask``, ``reduce_values`` of Keras
    3.15.1's ``keras/src/losses/loss.py``).

    * A mask turns into weights: for ``"sum_over_batch_size"``/``"mean"`` a
      valid entry weighs ``total / valid`` (0 when nothing is valid), so the
      mean runs over the valid entries; otherwise 1.  It multiplies
      ``sample_weight`` after :func:`same_rank`.
    * ``sample_weight`` and the losses go through :func:`same_rank`, then are
      multiplied with broadcasting (``(N, 1)`` weights make a rank-1 result
      ``(N, 1)``; a 0-d loss times ``(N,)`` weights is ``(N,)``).
    * ``None``/``"none"``, a 0-d result and an empty ``(0,)`` result are
      returned as they are; ``"sum"`` sums; ``"sum_over_batch_size"``/``"mean"``
      divide the sum by the number of entries, ``"mean_with_sample_weight"`` by
      the sum of the weights (entries when there are none), 0 for a zero divisor.
    """
    if mask is not None:
        mask = ops.cast(mask, losses)
        if reduction in MEANS:
            mask = mask * safe_divide(ops, _size(ops, mask), ops.sum(mask))
        if sample_weight is None:
            sample_weight = mask
        else:
            mask, sample_weight = same_rank(ops, mask, ops.cast(sample_weight, losses))
            sample_weight = _times(ops, owner, sample_weight, mask)
    if sample_weight is not None:
        losses, sample_weight = same_rank(ops, losses, ops.cast(sample_weight, losses))
        losses = _times(ops, owner, losses, sample_weight)
    if reduction in (None, "none") or ops.shape(losses) in ((), (0,)):
        return losses
    total = ops.sum(losses)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return safe_divide(ops, total, ops.sum(sample_weight))
    return safe_divide(ops, total, _size(ops, losses))


def _sample_weight(ops: Ops, value: Any, like: Tensor) -> Tensor | None:
    """A ``sample_weight`` given as a number, a sequence or an array, as a tensor."""
    if value is None or not isinstance(value, (int, float, list, tuple, np.ndarray)):
        return value
    return ops.constant(np.asarray(value, dtype=np.float64).tolist(), like)


def _mapped(owner: str, loss: str, params: Mapping[str, Any], reduction: str | None, convert: Convert) -> Mapped:
    """A Keras configuration: ``convert`` builds the spec's inputs from Keras'
    ``(y_true, y_pred)``; the spec runs unreduced; ``finish`` applies
    :func:`reduce_weighted`."""

    def prepare(ops: Ops, call: dict[str, Any]) -> KerasInputs:
        y_true, y_pred = same_rank(ops, call["y_true"], call["y_pred"])
        inputs = convert(ops, y_true, y_pred)
        inputs.weight = _sample_weight(ops, call.get("sample_weight"), inputs.y_pred)
        if inputs.params is not None:
            inputs.mapped = Mapped(loss, inputs.params, "none", prepare=prepare, finish=finish)
        return inputs

    def finish(ops: Ops, value: Tensor, inputs: KerasInputs) -> Tensor:
        losses = value if inputs.per_sample is None else inputs.per_sample(ops, value)
        if inputs.scale != 1.0:
            losses = losses * inputs.scale
        mask = None if inputs.mask is None else inputs.mask(ops, losses)
        return reduce_weighted(ops, owner, losses, inputs.weight, mask, reduction)

    return Mapped(loss, params, "none", prepare=prepare, finish=finish)


def common(owner: str, args: dict[str, Any]) -> str | None:
    """Check ``reduction`` and ``dtype`` (every Keras loss has them); returns the reduction."""
    reduction = args["reduction"]
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{owner}: reduction must be one of {', '.join(map(repr, REDUCTIONS))} (Keras' reductions), "
            f"got {reduction!r}"
        )
    dtype = args["dtype"]
    if dtype not in DTYPES:
        refuse(owner, "dtype", dtype, f"None or one of {', '.join(map(repr, DTYPES[1:]))}")
    return reduction


def _int_axis(owner: str, value: Any, argument: str = "axis") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        refuse(owner, argument, value, "an int")
    return int(value)


def _normalized(owner: str, axis: int, ndim: int, argument: str = "axis") -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{owner}: {argument}={axis} is out of range for inputs of rank {ndim}")
    return axis % ndim


def _in_range(owner: str, argument: str, value: Any, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        refuse(owner, argument, value, what)
    return float(value)


def _mean_over(axis: int | tuple[int, ...]) -> Callable[[Ops, Tensor], Tensor]:
    return lambda ops, value: ops.mean(value, axis=axis)


def _broadcast(ops: Ops, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor]:
    """Both tensors at their common broadcast shape (Keras' pointwise losses
    broadcast ``y_true`` against ``y_pred``)."""
    true_shape, pred_shape = ops.shape(y_true), ops.shape(y_pred)
    if true_shape == pred_shape or -1 in (*true_shape, *pred_shape):
        return y_true, y_pred
    try:
        common_shape = np.broadcast_shapes(true_shape, pred_shape)
    except ValueError:
        return y_true, y_pred  # the spec names the mismatch
    ones = np.ones(common_shape).tolist()
    if true_shape != common_shape:
        y_true = y_true * ops.constant(ones, y_pred)
    if pred_shape != common_shape:
        y_pred = y_pred * ops.constant(ones, y_pred)
    return y_true, y_pred


def _keras(
    name: str,
    args: tuple[Arg, ...],
    build: Callable[[dict[str, Any]], Mapped],
    losses: tuple[str, ...],
    *,
    unsupported: Mapping[str, str] | None = None,
    notes: str = "",
    integer_inputs: tuple[str, ...] = (),
) -> PeerLoss:
    return define(
        PeerLoss(
            peer="keras",
            name=name,
            args=args,
            call=CALL,
            build=build,
            losses=losses,
            roles=ROLES,
            unsupported={**(unsupported or {}), **UNSUPPORTED_DTYPE},
            notes=(notes + " " if notes else "") + DTYPE_NOTE,
            keras_loss=True,
            integer_inputs=integer_inputs,
        )
    )


def _owner(name: str) -> str:
    return f"keras.losses.{name}"


# --------------------------------------------------------------------------- pointwise losses (mean over an axis)


def _pointwise(axis: int = -1, *, broadcast: bool = True) -> Convert:
    """Elementwise spec losses, then Keras' mean over ``axis``."""

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        y_true = ops.cast(y_true, y_pred)
        if broadcast:
            y_true, y_pred = _broadcast(ops, y_true, y_pred)
        return KerasInputs(y_pred, y_true, per_sample=_mean_over(axis))

    return convert


def _simple(name: str, loss: str, **params: Any) -> Callable[[dict[str, Any]], Mapped]:
    def build(args: dict[str, Any]) -> Mapped:
        owner = _owner(name)
        return _mapped(owner, loss, params, common(owner, args), _pointwise())

    return build


_SIMPLE = (
    ("MeanSquaredError", "mean_squared_error", "mean_squared_error", {}, ""),
    ("MeanAbsoluteError", "mean_absolute_error", "mean_absolute_error", {}, ""),
    (
        "MeanAbsolutePercentageError",
        "mean_absolute_percentage_error",
        "mean_absolute_percentage_error",
        {"epsilon": EPSILON},
        "",
    ),
    (
        "MeanSquaredLogarithmicError",
        "mean_squared_logarithmic_error",
        "mean_squared_logarithmic_error",
        {"epsilon": EPSILON},
        "",
    ),
    ("Poisson", "poisson", "poisson", {"epsilon": EPSILON}, ""),
    (
        "Hinge",
        "hinge",
        "hinge",
        {"target_encoding": "auto"},
        '`target_encoding="auto"`: Keras maps targets to -1/1 when every target of the call is 0 or 1. '
        "At the kink `y * y_pred = 1` Keras' gradient is `-y`, ours 0.",
    ),
    (
        "SquaredHinge",
        "squared_hinge",
        "squared_hinge",
        {"target_encoding": "auto"},
        '`target_encoding="auto"`: Keras maps targets to -1/1 when every target of the call is 0 or 1.',
    ),
)
for _name, _default_name, _loss, _params, _note in _SIMPLE:
    _keras(
        _name,
        (reduction_arg(), name_arg(_default_name), DTYPE),
        _simple(_name, _loss, **_params),
        (_loss,),
        notes=f"`{_loss}`"
        + (f" ({', '.join(f'{k}={v!r}' for k, v in _params.items())})" if _params else "")
        + ", averaged over the last axis (Keras' per-sample losses); `y_true` broadcasts against `y_pred`. "
        + _note,
    )


def _huber(args: dict[str, Any]) -> Mapped:
    owner = _owner("Huber")
    delta = args["delta"]
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
        refuse(owner, "delta", delta, "a float > 0")
    return _mapped(owner, "huber", {"delta": float(delta)}, common(owner, args), _pointwise())


_keras(
    "Huber",
    (Arg("delta", 1.0, "delta"), reduction_arg(), name_arg("huber_loss"), DTYPE),
    _huber,
    ("huber",),
    unsupported={"delta": "values <= 0"},
    notes="`huber(delta)`, averaged over the last axis.",
)


def _log_cosh_per_sample(ops: Ops, value: Tensor) -> Tensor:
    mean = ops.mean(value, axis=-1)
    if ops.dtype_name(mean) == "float64":
        mean = mean - FLOAT32_LOG2_EXCESS
    return mean


def _log_cosh(args: dict[str, Any]) -> Mapped:
    owner = _owner("LogCosh")
    pointwise = _pointwise()

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        inputs = pointwise(ops, y_true, y_pred)
        inputs.per_sample = _log_cosh_per_sample
        return inputs

    return _mapped(owner, "log_cosh", {}, common(owner, args), convert)


_keras(
    "LogCosh",
    (reduction_arg(), name_arg("log_cosh"), DTYPE),
    _log_cosh,
    ("log_cosh",),
    notes="`log_cosh`, averaged over the last axis. Keras 3.15.1 subtracts `log 2` rounded to float32 also in "
    "float64; the float64 per-sample losses are lowered by that rounding (1.9e-9) to reproduce it.",
)


# --------------------------------------------------------------------------- binary cross-entropies


def _binary_crossentropy(args: dict[str, Any]) -> Mapped:
    owner = _owner("BinaryCrossentropy")
    reduction = common(owner, args)
    axis = _int_axis(owner, args["axis"])
    smoothing = _in_range(owner, "label_smoothing", args["label_smoothing"], 0.0, 1.0, "a float in [0, 1]")
    params = dict(from_logits=bool(args["from_logits"]), label_smoothing=smoothing, epsilon=EPSILON)
    return _mapped(owner, "binary_crossentropy", params, reduction, _pointwise(axis, broadcast=False))


_keras(
    "BinaryCrossentropy",
    (
        Arg("from_logits", False, "from_logits"),
        Arg("label_smoothing", 0.0, "label_smoothing"),
        Arg("axis", -1, "the axis Keras averages"),
        reduction_arg(),
        name_arg("binary_crossentropy"),
        DTYPE,
    ),
    _binary_crossentropy,
    ("binary_crossentropy",),
    unsupported={"label_smoothing": "values outside [0, 1]", "axis": "anything but an int"},
    notes="`binary_crossentropy(from_logits, label_smoothing, epsilon=1e-7)` per element, then the mean over "
    "`axis`. From probabilities Keras clips `p` to `[1e-7, 1 - 1e-7]`; ours clips `p` and `1 - p`, which differ "
    "only within 1e-7 of 0 or 1 in float32. On TensorFlow, Keras uses the logits of a `Sigmoid` op's output "
    "(`_get_logits`) when `from_logits=False`; ours takes the probabilities as given.",
)


def _binary_focal(args: dict[str, Any]) -> Mapped:
    owner = _owner("BinaryFocalCrossentropy")
    reduction = common(owner, args)
    axis = _int_axis(owner, args["axis"])
    smoothing = _in_range(owner, "label_smoothing", args["label_smoothing"], 0.0, 1.0, "a float in [0, 1]")
    gamma = _in_range(owner, "gamma", args["gamma"], 0.0, math.inf, "a float >= 0")
    alpha = None
    if args["apply_class_balancing"]:
        alpha = _in_range(owner, "alpha", args["alpha"], 0.0, 1.0, "a float in [0, 1]")
    params = dict(
        from_logits=bool(args["from_logits"]),
        alpha=alpha,
        gamma=gamma,
        soft_form="p_t",
        label_smoothing=smoothing,
        epsilon=EPSILON,
    )
    return _mapped(owner, "sigmoid_focal", params, reduction, _pointwise(axis, broadcast=False))


_keras(
    "BinaryFocalCrossentropy",
    (
        Arg("apply_class_balancing", False, "alpha=None when False"),
        Arg("alpha", 0.25, "alpha (with apply_class_balancing)"),
        Arg("gamma", 2.0, "gamma"),
        Arg("from_logits", False, "from_logits"),
        Arg("label_smoothing", 0.0, "label_smoothing"),
        Arg("axis", -1, "the axis Keras averages"),
        reduction_arg(),
        name_arg("binary_focal_crossentropy"),
        DTYPE,
    ),
    _binary_focal,
    ("sigmoid_focal",),
    unsupported={
        "alpha": "values outside [0, 1] with apply_class_balancing=True",
        "gamma": "values < 0",
        "label_smoothing": "values outside [0, 1]",
        "axis": "anything but an int",
    },
    notes='`sigmoid_focal(soft_form="p_t", from_logits, epsilon=1e-7)` per element, then the mean over `axis`; '
    "`alpha` only with `apply_class_balancing=True` (Keras ignores it otherwise). With `from_logits=True` Keras "
    "applies its sigmoid and calls its probability cross-entropy, which on TensorFlow recovers the logits from "
    "the sigmoid's output (`_keras_logits`): no clip, as here (Keras' torch and JAX backends clip instead, so "
    "their values saturate at 16.1). From probabilities, within 1e-7 of 0 or 1 (float32) Keras clips `p`, ours "
    "`p` and `1 - p`. Where Keras' `1 - p_t` rounds to 0 (confident logits) and `gamma < 1`, its gradient is "
    "NaN; ours is finite.",
)


# --------------------------------------------------------------------------- losses over a class axis


def _class_last(ops: Ops, y_true: Tensor, y_pred: Tensor, axis: int, labels: bool = False) -> KerasInputs:
    """Keras' class ``axis`` moved last (the spec's ``class_axis=-1``); a
    rank-1 input is a batch of one whose per-sample loss is 0-d, as in Keras."""
    ndim = len(ops.shape(y_pred))
    if ndim == 1:
        y_pred = ops.expand_dims(y_pred, 0)
        y_true = ops.expand_dims(y_true, 0) if not labels else ops.reshape(y_true, (1,))
        return KerasInputs(y_pred, y_true, per_sample=lambda ops, value: ops.reshape(value, ()))
    if axis != ndim - 1:
        y_pred = ops.moveaxis(y_pred, axis, -1)
        if not labels:
            y_true = ops.moveaxis(y_true, axis, -1)
    return KerasInputs(y_pred, y_true)


def _dense_targets(owner: str, ops: Ops, y_true: Tensor, y_pred: Tensor) -> None:
    if ops.shape(y_true) != ops.shape(y_pred):
        raise ValueError(
            f"{owner}: y_true of shape {ops.shape(y_true)} must have y_pred's shape {ops.shape(y_pred)} "
            f"(one-hot or soft targets; SparseCategoricalCrossentropy takes integer labels)"
        )


def _categorical(owner: str, params: dict[str, Any], axis: int, *, softmax: bool = False) -> Convert:
    """Keras' categorical losses over ``axis``.  Keras 3.15.1 smooths labels
    with ``label_smoothing / y_true.shape[-1]``, not over the class count when
    ``axis`` is another axis: the smoothed targets are linear in that count, so
    ``scale * loss(label_smoothing=e')`` with ``e' = eC / (W(1 - e) + eC)`` and
    ``scale = 1 - e + eC / W`` (C classes, W = the last axis' size) is exactly it."""
    smoothing = params["label_smoothing"]

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        y_true = ops.cast(y_true, y_pred)
        _dense_targets(owner, ops, y_true, y_pred)
        shape = ops.shape(y_pred)
        class_axis = _normalized(owner, axis, len(shape))
        inputs = _class_last(ops, y_true, y_pred, class_axis)
        if softmax:  # Keras applies it, then renormalises and clips
            inputs.y_pred = ops.softmax(inputs.y_pred, -1)
        classes, width = shape[class_axis], shape[-1]
        if smoothing and classes != width:
            inputs.params = {
                **params,
                "label_smoothing": smoothing * classes / (width * (1.0 - smoothing) + smoothing * classes),
            }
            inputs.scale = 1.0 - smoothing + smoothing * classes / width
        return inputs

    return convert


def _categorical_crossentropy(args: dict[str, Any]) -> Mapped:
    owner = _owner("CategoricalCrossentropy")
    reduction = common(owner, args)
    axis = _int_axis(owner, args["axis"])
    smoothing = _in_range(owner, "label_smoothing", args["label_smoothing"], 0.0, 1.0, "a float in [0, 1]")
    params = dict(class_axis=-1, from_logits=bool(args["from_logits"]), label_smoothing=smoothing, epsilon=EPSILON)
    return _mapped(owner, "categorical_crossentropy", params, reduction, _categorical(owner, params, axis))


_SMOOTHING_BUG = (
    "Keras 3.15.1 divides `label_smoothing` by `y_true.shape[-1]` also when `axis` is another axis (fixed on "
    "master): reproduced exactly, as `label_smoothing` e' = eC / (W(1 - e) + eC) times 1 - e + eC / W "
    "(C classes, W the last axis' size; the smoothed targets are linear in 1 / W)."
)
_keras(
    "CategoricalCrossentropy",
    (
        Arg("from_logits", False, "from_logits"),
        Arg("label_smoothing", 0.0, "label_smoothing"),
        Arg("axis", -1, "class_axis"),
        reduction_arg(),
        name_arg("categorical_crossentropy"),
        DTYPE,
    ),
    _categorical_crossentropy,
    ("categorical_crossentropy",),
    unsupported={"label_smoothing": "values outside [0, 1]", "axis": "anything but an int"},
    notes="`categorical_crossentropy(class_axis=axis, epsilon=1e-7)` on one-hot or soft targets of `y_pred`'s "
    "shape; from probabilities they are renormalised and clipped to [1e-7, 1 - 1e-7], as Keras does. "
    + _SMOOTHING_BUG
    + " With `from_logits=True` and targets that do not sum to 1 (that smoothing included), TensorFlow's fused "
    "kernel returns the gradient `softmax - targets`, which is not the derivative of its value; ours is (values "
    "agree). On TensorFlow, Keras uses the logits of a `Softmax` op's output or of a tensor carrying "
    "`_keras_logits` (`keras.ops.softmax`) when `from_logits=False` (`_get_logits`); ours takes the "
    "probabilities as given.",
)


def _categorical_focal(args: dict[str, Any]) -> Mapped:
    owner = _owner("CategoricalFocalCrossentropy")
    reduction = common(owner, args)
    axis = _int_axis(owner, args["axis"])
    smoothing = _in_range(owner, "label_smoothing", args["label_smoothing"], 0.0, 1.0, "a float in [0, 1]")
    gamma = _in_range(owner, "gamma", args["gamma"], 0.0, math.inf, "a float >= 0")
    alpha = as_array(args["alpha"])
    if isinstance(args["alpha"], (list, tuple)):  # Keras converts a Python list with floatx, float32
        alpha = alpha.astype(np.float32).astype(np.float64)
    if alpha is None or alpha.ndim > 1 or (alpha < 0).any():
        refuse(owner, "alpha", args["alpha"], "a float >= 0 or a list of one weight >= 0 per class")
    params = dict(
        class_axis=-1,
        from_logits=False,
        gamma=gamma,
        alpha=float(alpha) if alpha.ndim == 0 else alpha.tolist(),
        alpha_mode="scale",
        mean_over="positions",
        label_smoothing=smoothing,
        epsilon=EPSILON,
    )
    categorical = _categorical(owner, params, axis, softmax=bool(args["from_logits"]))

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        if alpha.ndim == 1 and _normalized(owner, axis, len(ops.shape(y_pred))) != len(ops.shape(y_pred)) - 1:
            refuse(
                owner,
                "alpha",
                args["alpha"],
                "a float when axis is not the last axis (Keras broadcasts a list along the last axis)",
            )
        return categorical(ops, y_true, y_pred)

    return _mapped(owner, "focal", params, reduction, convert)


_keras(
    "CategoricalFocalCrossentropy",
    (
        Arg("alpha", 0.25, 'alpha (alpha_mode="scale")'),
        Arg("gamma", 2.0, "gamma"),
        Arg("from_logits", False, "softmax, then from_logits=False"),
        Arg("label_smoothing", 0.0, "label_smoothing"),
        Arg("axis", -1, "class_axis"),
        reduction_arg(),
        name_arg("categorical_focal_crossentropy"),
        DTYPE,
    ),
    _categorical_focal,
    ("focal",),
    unsupported={
        "alpha": "negative values; a list when axis is not the last axis",
        "gamma": "values < 0",
        "label_smoothing": "values outside [0, 1]",
        "axis": "anything but an int",
    },
    notes='`focal(alpha_mode="scale", mean_over="positions", from_logits=False, epsilon=1e-7)`: Keras\' scalar '
    "`alpha` is a global scale, a list weighs the classes (Keras converts a Python list with floatx: its "
    "entries are rounded to float32, as here; an array keeps its dtype). Keras 3.15.1 clips the softmax output "
    "even with `from_logits=True` (softmax, renormalisation, clip to [1e-7, 1 - 1e-7]): reproduced by applying "
    "the softmax in `prepare` and evaluating `from_logits=False`. " + _SMOOTHING_BUG,
)


def _sparse_categorical(args: dict[str, Any]) -> Mapped:
    owner = _owner("SparseCategoricalCrossentropy")
    reduction = common(owner, args)
    axis = _int_axis(owner, args["axis"])
    ignore = args["ignore_class"]
    if ignore is not None and (isinstance(ignore, bool) or not isinstance(ignore, (int, np.integer))):
        refuse(owner, "ignore_class", ignore, "None or an int label")
    ignore = None if ignore is None else int(ignore)
    from_probabilities = not args["from_logits"]
    # From probabilities Keras' TensorFlow backend takes log(clip(p)) as the logits of its sparse kernel
    params = dict(class_axis=-1, from_logits=True, ignore_index=ignore)

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        pred_shape = ops.shape(y_pred)
        if _normalized(owner, axis, len(pred_shape)) != len(pred_shape) - 1:
            refuse(owner, "axis", axis, "-1, the last axis (Keras' TensorFlow backend supports no other)")
        if len(ops.shape(y_true)) == len(pred_shape) and ops.shape(y_true)[-1] == 1:
            y_true = ops.reshape(y_true, ops.shape(y_true)[:-1])
        inputs = _class_last(ops, y_true, y_pred, len(pred_shape) - 1, labels=True)
        if from_probabilities:
            inputs.y_pred = ops.log(clip(ops, inputs.y_pred, EPSILON, 1.0 - EPSILON))
        if ignore is not None:
            labels = y_true
            inputs.mask = lambda ops, losses: ops.reshape(ops.not_equal(labels, ignore), ops.shape(losses))
        return inputs

    return _mapped(owner, "categorical_crossentropy", params, reduction, convert)


_keras(
    "SparseCategoricalCrossentropy",
    (
        Arg("from_logits", False, "from_logits"),
        Arg("ignore_class", None, "ignore_index, and the Keras mask"),
        reduction_arg(),
        Arg("axis", -1, "class_axis (the last axis only)"),
        name_arg("sparse_categorical_crossentropy"),
        DTYPE,
    ),
    _sparse_categorical,
    ("categorical_crossentropy",),
    unsupported={"axis": "any axis but the last (Keras' TensorFlow backend raises too)"},
    integer_inputs=("y_true",),
    notes="`categorical_crossentropy(class_axis=-1, from_logits=True, ignore_index=ignore_class)` on integer "
    "labels (`(N, ..., 1)` is squeezed; float labels are cast). From probabilities (`from_logits=False`) Keras' "
    "TensorFlow backend passes `log(clip(p, 1e-7, 1 - 1e-7))` to its sparse softmax kernel (clip, then "
    "renormalise; its torch backend renormalises first): `prepare` does the same. `ignore_class` also sets "
    'Keras\' mask: `"sum_over_batch_size"` averages over the valid positions, and a per-sample `(N,)` '
    "`sample_weight` with `(N, d1, ...)` losses fails as in Keras (give the losses' shape or `(N, 1)`). On "
    "TensorFlow, Keras uses the logits of a `Softmax` op's output (`_get_logits`) when `from_logits=False`; ours "
    "takes the probabilities as given.",
)


def _generalized_crossentropy(args: dict[str, Any]) -> Mapped:
    owner = _owner("CategoricalGeneralizedCrossEntropy")
    q = args["q"]
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
        refuse(owner, "q", q, "a float in the open interval (0, 1) (Keras raises too)")
    reduction = common(owner, args)

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        pred_shape = ops.shape(y_pred)
        if len(ops.shape(y_true)) != len(pred_shape) - 1:
            raise ValueError(
                f"{owner}: y_true must hold integer labels of shape {pred_shape[:-1]} (y_pred's shape without the "
                f"class axis), got shape {ops.shape(y_true)}; Keras one-hot encodes y_true, so other shapes "
                f"broadcast into a different loss"
            )
        return _class_last(ops, y_true, y_pred, len(pred_shape) - 1, labels=True)

    params = dict(class_axis=-1, from_logits=False, q=float(q))
    return _mapped(owner, "generalized_crossentropy", params, reduction, convert)


_keras(
    "CategoricalGeneralizedCrossEntropy",
    (Arg("q", 0.5, "q"), reduction_arg(), name_arg("categorical_generalized_cross_entropy"), DTYPE),
    _generalized_crossentropy,
    ("generalized_crossentropy",),
    unsupported={"q": "values outside (0, 1) (Keras raises too)"},
    integer_inputs=("y_true",),
    notes="`generalized_crossentropy(class_axis=-1, from_logits=False, q)` on integer labels (Keras 3.15.1 takes "
    "labels despite the name, and casts float labels); probabilities as given. Keras' one-hot of a label outside "
    "[0, C) is a zero row (loss 1/q); ours raises.",
)


def _cosine_similarity(args: dict[str, Any]) -> Mapped:
    owner = _owner("CosineSimilarity")
    reduction = common(owner, args)
    axis = _int_axis(owner, args["axis"])

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        y_true = ops.cast(y_true, y_pred)
        return _class_last(ops, y_true, y_pred, _normalized(owner, axis, len(ops.shape(y_pred))))

    return _mapped(owner, "cosine_similarity", dict(class_axis=-1, epsilon=EPSILON), reduction, convert)


_keras(
    "CosineSimilarity",
    (Arg("axis", -1, "class_axis (moved last)"), reduction_arg(), name_arg("cosine_similarity"), DTYPE),
    _cosine_similarity,
    ("cosine_similarity",),
    unsupported={"axis": "anything but an int"},
    notes="`cosine_similarity(epsilon=1e-7)` over `axis` (any axis, the batch axis included: the per-sample "
    "losses then have the other axes).",
)


def _last_axis(owner: str, *, broadcast: bool) -> Convert:
    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        y_true = ops.cast(y_true, y_pred)
        if broadcast:
            y_true, y_pred = _broadcast(ops, y_true, y_pred)
        return _class_last(ops, y_true, y_pred, len(ops.shape(y_pred)) - 1)

    return convert


def _kl_divergence(args: dict[str, Any]) -> Mapped:
    owner = _owner("KLDivergence")
    params = dict(class_axis=-1, input_space="probabilities", target_space="probabilities", epsilon=EPSILON)
    return _mapped(owner, "kl_divergence", params, common(owner, args), _last_axis(owner, broadcast=True))


_keras(
    "KLDivergence",
    (reduction_arg(), name_arg("kl_divergence"), DTYPE),
    _kl_divergence,
    ("kl_divergence",),
    notes='`kl_divergence(class_axis=-1, epsilon=1e-7, sum_over="classes")`: both tensors clipped to [1e-7, 1], '
    "as Keras.",
)


def _categorical_hinge(args: dict[str, Any]) -> Mapped:
    owner = _owner("CategoricalHinge")
    return _mapped(
        owner, "categorical_hinge", dict(class_axis=-1), common(owner, args), _last_axis(owner, broadcast=False)
    )


_keras(
    "CategoricalHinge",
    (reduction_arg(), name_arg("categorical_hinge"), DTYPE),
    _categorical_hinge,
    ("categorical_hinge",),
    notes="`categorical_hinge(class_axis=-1)` on targets of `y_pred`'s shape. At the kink Keras' gradient "
    "passes, ours is 0.",
)


# --------------------------------------------------------------------------- overlap losses over Keras' axes


def _transpose(ops: Ops, x: Tensor, order: list[int]) -> Tensor:
    """``x`` with its axes in ``order``, by successive ``moveaxis``."""
    current = list(range(len(order)))
    for position, axis in enumerate(order):
        source = current.index(axis)
        if source != position:
            x = ops.moveaxis(x, source, position)
            current.insert(position, current.pop(source))
    return x


def _product(sizes: list[int]) -> int:
    return -1 if -1 in sizes else math.prod(sizes)


def _overlap_axes(owner: str, value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple)) else (value,)
    return tuple(_int_axis(owner, v) for v in values)


def _pooled(owner: str, axes: tuple[int, ...] | None) -> Convert:
    """Keras' ``dice``/``tversky`` sum over ``axes`` (all for ``None``) and keep
    the others: the kept axes become the spec's batch, the summed ones its
    positions, with one class; the per-sample losses have the kept shape."""

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        y_true = ops.cast(y_true, y_pred)
        shape = ops.shape(y_pred)
        ndim = len(shape)
        summed = sorted({_normalized(owner, a, ndim) for a in (range(ndim) if axes is None else axes)})
        kept = [a for a in range(ndim) if a not in summed]
        flat = (_product([shape[a] for a in kept]), _product([shape[a] for a in summed]), 1)
        kept_shape = tuple(shape[a] for a in kept)

        def pooled(x: Tensor) -> Tensor:
            return ops.reshape(_transpose(ops, x, kept + summed), flat)

        return KerasInputs(pooled(y_pred), pooled(y_true), per_sample=lambda ops, v: ops.reshape(v, kept_shape))

    return convert


_OVERLAP = dict(class_axis=-1, from_logits=False, multilabel=True, smooth_nr=0.0, smooth_dr=EPSILON, batch=False)


def _dice(args: dict[str, Any]) -> Mapped:
    owner = _owner("Dice")
    return _mapped(owner, "dice", _OVERLAP, common(owner, args), _pooled(owner, _overlap_axes(owner, args["axis"])))


_OVERLAP_NOTE = (
    "`axis=None` pools every axis (batch and channels included) into one ratio, a 0-d per-sample loss (a "
    "`sample_weight` then broadcasts it, as in Keras); an int or tuple `axis` is summed and the other axes kept: "
    "the kept axes are flattened into the spec's batch and the summed ones into its positions, one class, "
    "`multilabel=True, from_logits=False, smooth_nr=0, smooth_dr=1e-7`; the result has the kept axes' shape."
)
_keras(
    "Dice",
    (reduction_arg(), name_arg("dice"), Arg("axis", None, "the summed axes (see notes)"), DTYPE),
    _dice,
    ("dice",),
    unsupported={"axis": "anything but None, an int or a tuple of ints"},
    notes="`dice`: " + _OVERLAP_NOTE,
)


def _tversky(args: dict[str, Any]) -> Mapped:
    owner = _owner("Tversky")
    reduction = common(owner, args)
    alpha = _in_range(owner, "alpha", args["alpha"], 0.0, math.inf, "a float >= 0")
    beta = _in_range(owner, "beta", args["beta"], 0.0, math.inf, "a float >= 0")
    # Keras 3.15.1 weighs false negatives by alpha and false positives by beta
    params = dict(_OVERLAP, alpha=beta, beta=alpha, gamma=1.0)
    return _mapped(owner, "tversky", params, reduction, _pooled(owner, _overlap_axes(owner, args["axis"])))


_keras(
    "Tversky",
    (
        Arg("alpha", 0.5, "beta (Keras 3.15.1 weighs false negatives by alpha)"),
        Arg("beta", 0.5, "alpha"),
        reduction_arg(),
        name_arg("tversky"),
        Arg("axis", None, "the summed axes (see notes)"),
        DTYPE,
    ),
    _tversky,
    ("tversky",),
    unsupported={"alpha": "values < 0", "beta": "values < 0", "axis": "anything but None, an int or a tuple of ints"},
    notes="`tversky(gamma=1)` with `alpha` and `beta` swapped: Keras 3.15.1 weighs false negatives by `alpha` and "
    "false positives by `beta`, against its docstring (an upstream bug, fixed on master); the release is "
    "reproduced. " + _OVERLAP_NOTE,
)


# --------------------------------------------------------------------------- metric learning and sequences


def _circle(args: dict[str, Any]) -> Mapped:
    owner = _owner("Circle")
    reduction = common(owner, args)
    gamma = args["gamma"]
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma > 0:
        refuse(owner, "gamma", gamma, "a float > 0")
    margin = args["margin"]
    if isinstance(margin, bool) or not isinstance(margin, (int, float)):
        refuse(owner, "margin", margin, "a float")

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        # Keras masks the anchors whose loss is 0 (no positive or no negative)
        return KerasInputs(y_pred, y_true, mask=lambda ops, losses: ops.greater(losses, 0.0))

    params = dict(gamma=float(gamma), margin=float(margin), remove_diagonal=bool(args["remove_diagonal"]))
    return _mapped(owner, "circle", params, reduction, convert)


_keras(
    "Circle",
    (
        Arg("gamma", 80.0, "gamma"),
        Arg("margin", 0.4, "margin"),
        Arg("remove_diagonal", True, "remove_diagonal"),
        reduction_arg(),
        name_arg("circle"),
        DTYPE,
    ),
    _circle,
    ("circle",),
    unsupported={"gamma": "values <= 0"},
    integer_inputs=("y_true",),
    notes="`circle` on L2-normalised embeddings `(N, D)` and labels `(N,)` (float labels are cast); Keras' "
    'mask (losses > 0) is reproduced, so `"sum_over_batch_size"` averages over the anchors that have a positive '
    "and a negative. The function's `ref_labels`/`ref_embeddings` are not constructor arguments of the class. "
    "Inside `tf.function` the batch size must be static (the spec's `circle` builds its N x N masks from it).",
)


def _ctc(args: dict[str, Any]) -> Mapped:
    owner = _owner("CTC")

    def convert(ops: Ops, y_true: Tensor, y_pred: Tensor) -> KerasInputs:
        if len(ops.shape(y_true)) != 2 or len(ops.shape(y_pred)) != 3:
            raise ValueError(
                f"{owner}: expected integer y_true of shape (N, max_length) and logits y_pred of shape "
                f"(N, T, C), got {ops.shape(y_true)} and {ops.shape(y_pred)}"
            )
        width, frames = ops.shape(y_true)[1], ops.shape(y_pred)[1]
        zeros = ops.sum(y_true * 0, axis=1, keepdims=True)  # (N, 1) integer zeros
        lengths = ops.sum(ops.cast(ops.not_equal(y_true, 0), y_true), axis=1)  # Keras: count of labels != 0
        frames_of = ops.reshape(zeros, (-1,)) + frames
        # the spec wants (N, T) labels: pad by repeating the last column, or keep the first T
        index = ops.cast(ops.constant([float(min(t, max(width - 1, 0))) for t in range(frames)], y_pred), y_true)
        labels = ops.take_along_axis(y_true, ops.expand_dims(index, 0) + zeros, 1) if width else zeros + index * 0
        extras = {"input_lengths": frames_of, "target_lengths": lengths}
        return KerasInputs(y_pred, labels, extras=extras)

    params = dict(class_axis=-1, blank=0, normalize_by_length=False, zero_infinity=False)
    return _mapped(owner, "ctc", params, common(owner, args), convert)


_keras(
    "CTC",
    (reduction_arg(), name_arg("ctc"), DTYPE),
    _ctc,
    ("ctc",),
    integer_inputs=("y_true",),
    notes="`ctc(class_axis=-1, blank=0)` on logits `(N, T, C)`, every frame valid; Keras' label convention: 0 is "
    "the padding and the blank, the label length is the count of `y_true != 0` (Keras then takes the first that "
    "many entries, zeros inside included: the values agree, the gradients with respect to the blank's scores "
    "do not, TensorFlow's CTC gradient treats a blank inside a label differently). Keras computes in float32 "
    "even for float64 inputs. A target no alignment can produce costs `IMPOSSIBLE_LOSS` (1e4) with zero "
    "gradient where Keras gives a finite but arbitrary value (about 700 and more) with a non-zero gradient.",
)
