"""MONAI 1.6.1's losses (``monai.losses``), as compat definitions (see :mod:`spec.compat._core`).

Every class keeps MONAI's constructor (order, defaults; its enum defaults are
the strings they equal), MONAI's call ``(input, target)`` and its
channels-first layout ``(B, C, *spatial)``, whichever framework runs it.  The
mappings share MONAI's conventions, each written once below:

* activation: ``sigmoid`` is the spec's ``from_logits=True, multilabel=True``,
  ``softmax`` (more than one channel) ``from_logits=True``; ``other_act`` is the
  user's own framework function, applied to the input before the spec, which
  then reads probabilities (``from_logits=False``, values in [0, 1]);
* targets: ``to_onehot_y`` one-hot encodes a label map ``(B, 1, *spatial)``
  (integer or float) by comparing it with each class, so a label outside
  ``[0, C)`` gives an all-zero row; with one channel MONAI ignores
  ``to_onehot_y``, ``softmax`` and ``include_background``, and so do these;
* ``ignore_index``: MONAI's ``create_ignore_mask`` (``target != k`` for a label
  map; for a one-hot target ``1 - target[:, k]`` when ``k`` is a class, else
  the positions whose row is all zero) multiplies the activated input and the
  target, then the spec reads probabilities;
* reductions: MONAI reduces per-(sample, class) values, which the spec's
  ``class_reduction="none"`` returns (class weights not normalised, class 0
  left out without the background); ``"none"`` keeps MONAI's output shapes.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spec.compat._core import (
    REQUIRED,
    Arg,
    Composed,
    Inputs,
    Mapped,
    PeerLoss,
    Sum,
    as_array,
    define,
    get_definition,
    refuse,
)
from spec.deep_supervision import WEIGHT_MODES, deep_supervision
from spec.distance import distance_maps
from spec.ops import Ops

Tensor = Any

REDUCTIONS = ("mean", "sum", "none")
CALL = (Arg("input"), Arg("target"))
ROLES = {"input": "y_pred", "target": "y_true"}
# MONAI clamps its ignore-mask counts at float32's machine epsilon
MASK_EPSILON = float(np.finfo(np.float32).eps)

INCLUDE_BACKGROUND = Arg("include_background", True, "include_background (ignored for one channel)")
TO_ONEHOT_Y = Arg("to_onehot_y", False, "label map (B, 1, ...) one-hot encoded (ignored for one channel)")
SIGMOID = Arg("sigmoid", False, "from_logits=True, multilabel=True")
SOFTMAX = Arg("softmax", False, "from_logits=True (ignored for one channel)")
OTHER_ACT = Arg("other_act", None, "applied to the input first; from_logits=False")
REDUCTION = Arg("reduction", "mean", 'reduction of the per-(sample, class) values (class_reduction="none")')
SMOOTH_NR = Arg("smooth_nr", 1e-5, "smooth_nr")
SMOOTH_DR = Arg("smooth_dr", 1e-5, "smooth_dr")
BATCH = Arg("batch", False, "batch")
SOFT_LABEL = Arg("soft_label", False, 'intersection="l1"')
IGNORE_INDEX = Arg("ignore_index", None, "MONAI's ignore mask on the activated input and the target")
ACTIVATION_ARGS = (INCLUDE_BACKGROUND, TO_ONEHOT_Y, SIGMOID, SOFTMAX, OTHER_ACT)
PROBABILITIES_NOTE = (
    "Without `sigmoid`/`softmax` the input (after `other_act`) must be probabilities in [0, 1], "
    "the spec's `from_logits=False` contract (MONAI accepts any values)."
)
OTHER_ACT_UNSUPPORTED = "an activation whose output leaves [0, 1] (the spec then reads probabilities)"


def _owner(name: str) -> str:
    return f"monai.losses.{name}"


def _monai(name: str, args: tuple[Arg, ...], build, losses: tuple[str, ...], **options: Any) -> PeerLoss:
    return define(
        PeerLoss(
            peer="monai",
            name=name,
            args=args,
            call=options.pop("call", CALL),
            build=build,
            losses=losses,
            roles=options.pop("roles", ROLES),
            **options,
        )
    )


# --------------------------------------------------------------------------- shared conventions


def reduction_of(owner: str, value: Any, choices: tuple[str, ...] = REDUCTIONS) -> str:
    """MONAI's ``reduction`` (a string or a ``LossReduction`` member) as a string."""
    value = getattr(value, "value", value)
    if value not in choices:
        raise ValueError(f"{owner}: reduction must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class Activation:
    """MONAI's ``sigmoid`` / ``softmax`` / ``other_act`` (at most one)."""

    sigmoid: bool = False
    softmax: bool = False
    other_act: Callable[[Tensor], Tensor] | None = None

    def params(self, num_classes: int) -> dict[str, bool]:
        """The spec's ``from_logits`` and ``multilabel`` for ``num_classes`` channels."""
        if self.sigmoid:
            return {"from_logits": True, "multilabel": True}
        if self.softmax and num_classes > 1:
            return {"from_logits": True, "multilabel": False}
        return {"from_logits": False, "multilabel": False}

    def before(self, x: Tensor) -> Tensor:
        """The input the spec reads: ``other_act(input)``, or the input."""
        return x if self.other_act is None else self.other_act(x)

    def probabilities(self, ops: Ops, x: Tensor) -> Tensor:
        """MONAI's activated input, from :meth:`before`'s output (for masks and maps)."""
        if self.sigmoid:
            return ops.sigmoid(x)
        if self.softmax and ops.shape(x)[1] > 1:
            return ops.softmax(x, 1)
        return x


PROBABILITIES = {"from_logits": False, "multilabel": False}


def activation_of(owner: str, args: dict[str, Any]) -> Activation:
    other_act = args.get("other_act")
    if other_act is not None and not callable(other_act):
        raise TypeError(f"{owner}: other_act must be None or a callable, got {type(other_act).__name__}")
    sigmoid, softmax = bool(args.get("sigmoid", False)), bool(args.get("softmax", False))
    if sigmoid + softmax + (other_act is not None) > 1:
        raise ValueError(
            f"{owner}: sigmoid={sigmoid}, softmax={softmax}, other_act={other_act!r}: "
            "expected at most one of sigmoid=True, softmax=True, other_act"
        )
    return Activation(sigmoid, softmax, other_act)


def class_weight_of(owner: str, argument: str, value: Any) -> float | list[float] | None:
    """A MONAI class weight: None, one number for every class, or one per class (>= 0)."""
    weight = as_array(value)
    if weight is None:
        return None
    if weight.ndim > 1:
        raise ValueError(f"{owner}: {argument} must be a number or a sequence of one weight per class, got {value!r}")
    if (weight < 0).any():
        raise ValueError(f"{owner}: {argument} must be >= 0, got {weight.tolist()}")
    return float(weight) if weight.ndim == 0 else weight.tolist()


def _selector(ops: Ops, like: Tensor, channel: int) -> Tensor:
    """A constant ``(1, C, 1, ...)`` that is 1 on ``channel`` and 0 elsewhere."""
    shape = ops.shape(like)
    values = np.zeros((1, shape[1]) + (1,) * (len(shape) - 2))
    values[0, channel] = 1.0
    return ops.constant(values, like)


def channel(ops: Ops, x: Tensor, index: int) -> Tensor:
    """``x[:, index:index + 1]``."""
    return ops.sum(x * _selector(ops, x, index), axis=1, keepdims=True)


def drop_background(ops: Ops, x: Tensor) -> Tensor:
    """``x[:, 1:]``: MONAI's ``include_background=False`` before an activation."""
    channels = [ops.sum(x * _selector(ops, x, c), axis=1) for c in range(1, ops.shape(x)[1])]
    return ops.stack(channels, axis=1)


def one_hot(owner: str, ops: Ops, labels: Tensor, num_classes: int, like: Tensor) -> Tensor:
    """MONAI's ``one_hot`` of a label map ``(B, 1, *spatial)``, as ``like``'s dtype;
    a label outside ``[0, C)`` gives an all-zero row."""
    shape = ops.shape(labels)
    if len(shape) != len(ops.shape(like)) or shape[1] != 1:
        raise ValueError(
            f"{owner}: to_onehot_y=True expects a label map of shape (B, 1, *spatial), got target shape {shape} "
            f"for input shape {ops.shape(like)}"
        )
    flat = ops.reshape(labels, shape[:1] + shape[2:])
    integer = ops.is_integer(flat)
    rows = [ops.cast(ops.equal(flat, c if integer else float(c)), like) for c in range(num_classes)]
    return ops.stack(rows, axis=1)


def ignore_mask(ops: Ops, target: Tensor, ignore_index: int, like: Tensor) -> Tensor:
    """MONAI's ``create_ignore_mask`` of the original target: ``(B, 1, *spatial)``, 1 = kept."""
    channels = ops.shape(target)[1]
    if channels == 1:
        value = ignore_index if ops.is_integer(target) else float(ignore_index)
        return ops.cast(ops.not_equal(target, value), like)
    target = ops.cast(target, like)
    if 0 <= ignore_index < channels:
        return 1.0 - channel(ops, target, ignore_index)
    return ops.cast(ops.greater(ops.sum(target, axis=1, keepdims=True), 0.0), like)


def targets(owner: str, ops: Ops, x: Tensor, target: Tensor, to_onehot_y: bool, *, spatial: bool = True) -> Tensor:
    """MONAI's target: one-hot encoded with ``to_onehot_y`` (ignored for one
    channel), then of the input's shape, as the input's dtype."""
    shape = ops.shape(x)
    if spatial and len(shape) < 3:
        raise ValueError(f"{owner}: input must be (B, C, *spatial) with at least one spatial axis, got shape {shape}")
    if to_onehot_y and shape[1] > 1:
        target = one_hot(owner, ops, target, shape[1], x)
    if ops.shape(target) != shape:
        raise ValueError(
            f"{owner}: target of shape {ops.shape(target)} does not match input of shape {shape}; expected the "
            "input's shape, or a label map (B, 1, *spatial) with to_onehot_y=True"
        )
    return ops.cast(target, x)


def per_sample_class_shape(ops: Ops, value: Tensor, inputs: Inputs) -> Tensor:
    """MONAI's broadcastable ``"none"``: ``value.shape[:2] + (1,) * spatial``."""
    return ops.reshape(value, ops.shape(value)[:2] + (1,) * (len(ops.shape(inputs.y_pred)) - 2))


def region_prepare(
    owner: str,
    args: dict[str, Any],
    variant: Callable[[int, bool], Mapped],
    *,
    ignore_index: int | None = None,
) -> Callable[[Ops, dict[str, Any]], Inputs]:
    """MONAI's region-loss call: ``other_act``, ``to_onehot_y``, the ignore mask
    (on the activated input and the target; the spec then reads probabilities)
    and the spec configuration for the input's channels, ``variant(C, probabilities)``."""
    activation = activation_of(owner, args)
    to_onehot_y = bool(args["to_onehot_y"])

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        x = activation.before(call["input"])
        target = targets(owner, ops, x, call["target"], to_onehot_y)
        num_classes = ops.shape(x)[1]
        if ignore_index is None:
            return Inputs(x, target, mapped=variant(num_classes, False))
        mask = ignore_mask(ops, call["target"], ignore_index, x)
        x = activation.probabilities(ops, x) * mask
        return Inputs(x, target * mask, mapped=variant(num_classes, True))

    return prepare


def _kept(args: dict[str, Any], num_classes: int) -> tuple[bool, int]:
    """MONAI's ``include_background`` for ``num_classes`` channels, and the classes kept."""
    include = bool(args["include_background"]) or num_classes == 1
    return include, num_classes - (0 if include else 1)


# --------------------------------------------------------------------------- Dice family


def _dice_weights(owner: str, weight: float | list[float] | None, include: bool, kept: int) -> list[float] | None:
    """MONAI's Dice ``weight`` as the spec's ``class_weights`` (one per channel):
    MONAI applies none when a single class is kept."""
    if weight is None or kept == 1:
        return None
    values = [weight] * kept if isinstance(weight, float) else list(weight)
    if len(values) != kept:
        raise ValueError(
            f"{owner}: weight has {len(values)} entries but {kept} classes are kept (include_background={include}); "
            f"expected {kept} weights, without the background when include_background=False"
        )
    return values if include else [1.0, *values]  # class 0 is left out: its weight is unused


def _dice(args: dict[str, Any], owner: str = _owner("DiceLoss"), *, masked: bool = False) -> Mapped:
    reduction = reduction_of(owner, args["reduction"])
    activation = activation_of(owner, args)
    weight = class_weight_of(owner, "weight", args["weight"])
    jaccard = bool(args["jaccard"])
    scale = 0.5 if jaccard else 1.0  # MONAI's Jaccard doubles I and U: halve the smoothing
    fixed = dict(
        class_axis=1,
        smooth_nr=float(args["smooth_nr"]) * scale,
        smooth_dr=float(args["smooth_dr"]) * scale,
        batch=bool(args["batch"]),
        squared=bool(args["squared_pred"]),
        intersection="l1" if args["soft_label"] else "product",
        class_reduction="none",
    )

    def variant(num_classes: int, probabilities: bool) -> Mapped:
        include, kept = _kept(args, num_classes)
        params = dict(
            fixed,
            include_background=include,
            class_weights=_dice_weights(owner, weight, include, kept),
            **(PROBABILITIES if probabilities else activation.params(num_classes)),
        )
        return Mapped(
            "jaccard" if jaccard else "dice",
            params,
            reduction,
            finish=per_sample_class_shape if reduction == "none" else None,
        )

    variant = functools.cache(variant)
    if masked:
        return Mapped("dice", {}, reduction, prepare=_masked_prepare(owner, args, variant))
    return Mapped(
        "dice", {}, reduction, prepare=region_prepare(owner, args, variant, ignore_index=args["ignore_index"])
    )


def _masked_prepare(owner: str, args: dict[str, Any], variant: Callable[[int, bool], Mapped]):
    """``MaskedDiceLoss``: the activation first, then input and target times the
    mask (MONAI's ``MaskedLoss``), then ``DiceLoss`` without an activation."""
    activation = activation_of(owner, args)
    to_onehot_y = bool(args["to_onehot_y"])

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        x, target, mask = activation.before(call["input"]), call["target"], call.get("mask")
        x = activation.probabilities(ops, x)
        if mask is None:
            warnings.warn(f"{owner}: no mask given; the loss is the unmasked Dice loss", stacklevel=4)
        else:
            shape, mask_shape = ops.shape(x), ops.shape(mask)
            if mask_shape[0] not in (1, shape[0]):
                raise ValueError(f"{owner}: mask of shape {mask_shape} must have batch size 1 or {shape[0]}")
            if len(ops.shape(target)) > 1 and mask_shape[1] != 1:
                raise ValueError(f"{owner}: mask of shape {mask_shape} must have one channel, (B, 1, *spatial)")
            mask = ops.cast(mask, x)
            x, target = x * mask, ops.cast(target, x) * mask
        target = targets(owner, ops, x, target, to_onehot_y)
        return Inputs(x, target, mapped=variant(ops.shape(x)[1], True))

    return prepare


DICE_ARGS = (
    *ACTIVATION_ARGS,
    Arg("squared_pred", False, "squared"),
    Arg("jaccard", False, "the jaccard loss, smooth_nr / 2 and smooth_dr / 2"),
    REDUCTION,
    SMOOTH_NR,
    SMOOTH_DR,
    BATCH,
    Arg("weight", None, "class_weights, not normalised (none when one class is kept)"),
    SOFT_LABEL,
)
DICE_NOTES = (
    "`dice` (`jaccard` with `jaccard=True`: MONAI's (2I + s_nr)/(2U + s_dr) is the spec's Jaccard with halved "
    'smoothing), `class_axis=1, class_reduction="none"`: MONAI averages `w_c * l_c` over samples and classes '
    'without dividing by sum(w) (`"mean"`), sums them (`"sum"`) or keeps them as `(B, C\', 1, ...)` (`"none"`; '
    "`(C', 1, ...)` with `batch=True`); a `weight` is not applied when one class is kept, as in MONAI. "
    "`soft_label=True` is the L1 intersection `(sum p + sum g - sum |p - g|) / 2` (`squared_pred=True` uses "
    "MONAI's squared form, which equals the product). " + PROBABILITIES_NOTE
)
DICE_UNSUPPORTED = {"other_act": OTHER_ACT_UNSUPPORTED}

_monai(
    "DiceLoss",
    (*DICE_ARGS, IGNORE_INDEX),
    _dice,
    ("dice", "jaccard"),
    unsupported=DICE_UNSUPPORTED,
    notes=DICE_NOTES
    + " `ignore_index`: MONAI's mask (labels equal to it; for one-hot targets the positions of that class, or "
    "all-zero rows for a value outside the classes) multiplies the activated input and the target, soft "
    "targets included.",
)
_monai(
    "MaskedDiceLoss",
    DICE_ARGS,
    lambda args: _dice(args, _owner("MaskedDiceLoss"), masked=True),
    ("dice", "jaccard"),
    call=(*CALL, Arg("mask", None)),
    roles={**ROLES, "mask": "mask"},
    unsupported=DICE_UNSUPPORTED,
    notes="MONAI 1.6.1's order: the activation first, then input and target times the mask `(B, 1, ...)` or "
    "`(1, 1, ...)` (a label map times the mask makes masked positions class 0 with `to_onehot_y=True`), then "
    "`DiceLoss` on probabilities. " + DICE_NOTES,
)


def _generalized_dice(args: dict[str, Any], owner: str = _owner("GeneralizedDiceLoss")) -> Mapped:
    reduction = reduction_of(owner, args["reduction"])
    activation = activation_of(owner, args)
    w_type = getattr(args["w_type"], "value", args["w_type"])
    if w_type not in ("square", "simple", "uniform"):
        raise ValueError(f"{owner}: w_type must be one of 'square', 'simple', 'uniform', got {w_type!r}")
    batch = bool(args["batch"])

    def variant(num_classes: int, probabilities: bool) -> Mapped:
        include, _ = _kept(args, num_classes)
        params = dict(
            class_axis=1,
            weight_type=str(w_type),
            weight_epsilon=0.0,
            smooth_nr=float(args["smooth_nr"]),
            smooth_dr=float(args["smooth_dr"]),
            batch=batch,
            include_background=include,
            intersection="l1" if args["soft_label"] else "product",
            **activation.params(num_classes),
        )
        return Mapped("generalized_dice", params, reduction, finish=_gdl_shape(batch) if reduction == "none" else None)

    return Mapped("generalized_dice", {}, reduction, prepare=region_prepare(owner, args, functools.cache(variant)))


def _gdl_shape(batch: bool):
    """MONAI's ``"none"`` of GeneralizedDiceLoss: ``(B, 1, 1, ...)``, ``(1, 1, ...)`` with ``batch``."""

    def finish(ops: Ops, value: Tensor, inputs: Inputs) -> Tensor:
        spatial = (1,) * (len(ops.shape(inputs.y_pred)) - 2)
        return ops.reshape(value, ((1,) if batch else (ops.shape(value)[0], 1)) + spatial)

    return finish


GDL_ARGS = (
    *ACTIVATION_ARGS,
    Arg("w_type", "square", "weight_type"),
    REDUCTION,
    SMOOTH_NR,
    SMOOTH_DR,
    BATCH,
    SOFT_LABEL,
)
_monai(
    "GeneralizedDiceLoss",
    GDL_ARGS,
    _generalized_dice,
    ("generalized_dice",),
    unsupported=DICE_UNSUPPORTED,
    notes="`generalized_dice(weight_epsilon=0)`: MONAI's rule replaces the infinite weight of an absent class by "
    'the largest finite weight of the sample (of the batch with `batch=True`); `"none"` is `(B, 1, 1, ...)` '
    "(`(1, 1, ...)` with `batch`). MONAI computes the weights in float32. " + PROBABILITIES_NOTE,
)


def _tversky(args: dict[str, Any], owner: str = _owner("TverskyLoss")) -> Mapped:
    reduction = reduction_of(owner, args["reduction"])
    activation = activation_of(owner, args)

    def variant(num_classes: int, probabilities: bool) -> Mapped:
        include, _ = _kept(args, num_classes)
        params = dict(
            class_axis=1,
            alpha=float(args["alpha"]),
            beta=float(args["beta"]),
            gamma=1.0,
            smooth_nr=float(args["smooth_nr"]),
            smooth_dr=float(args["smooth_dr"]),
            batch=bool(args["batch"]),
            include_background=include,
            intersection="l1" if args["soft_label"] else "product",
            class_reduction="none",
            **(PROBABILITIES if probabilities else activation.params(num_classes)),
        )
        return Mapped("tversky", params, reduction)

    prepare = region_prepare(owner, args, functools.cache(variant), ignore_index=args["ignore_index"])
    return Mapped("tversky", {}, reduction, prepare=prepare)


_monai(
    "TverskyLoss",
    (
        *ACTIVATION_ARGS,
        Arg("alpha", 0.5, "alpha (false positives)"),
        Arg("beta", 0.5, "beta (false negatives)"),
        REDUCTION,
        SMOOTH_NR,
        SMOOTH_DR,
        BATCH,
        SOFT_LABEL,
        IGNORE_INDEX,
    ),
    _tversky,
    ("tversky",),
    unsupported=DICE_UNSUPPORTED,
    notes='`tversky(gamma=1, class_reduction="none")`: `"none"` is `(B, C\')` (`(C\',)` with `batch`); a '
    "negative per-class loss (`smooth_nr > smooth_dr`) is kept, as in MONAI. `ignore_index` as for `DiceLoss`. "
    + PROBABILITIES_NOTE,
)


def _mcc(args: dict[str, Any], owner: str = _owner("MCCLoss")) -> Mapped:
    reduction = reduction_of(owner, args["reduction"])
    activation = activation_of(owner, args)

    def variant(num_classes: int, probabilities: bool) -> Mapped:
        include, _ = _kept(args, num_classes)
        params = dict(
            class_axis=1,
            smooth_nr=float(args["smooth_nr"]),
            smooth_dr=float(args["smooth_dr"]),
            epsilon=0.0,
            batch=bool(args["batch"]),
            include_background=include,
            class_reduction="none",
            **activation.params(num_classes),
        )
        return Mapped("mcc", params, reduction)

    return Mapped("mcc", {}, reduction, prepare=region_prepare(owner, args, functools.cache(variant)))


_monai(
    "MCCLoss",
    (*ACTIVATION_ARGS, REDUCTION, Arg("smooth_nr", 0.0, "smooth_nr"), Arg("smooth_dr", 1e-5, "smooth_dr"), BATCH),
    _mcc,
    ("mcc",),
    unsupported=DICE_UNSUPPORTED,
    notes='`mcc(epsilon=0, class_reduction="none")`: `"none"` is `(B, C\')` (`(C\',)` with `batch`); a class '
    "with no false positive and no false negative scores 0 (MONAI's rule). " + PROBABILITIES_NOTE,
)


# --------------------------------------------------------------------------- focal


@dataclass
class MaskedInputs(Inputs):
    """:class:`Inputs` with MONAI's ignore mask ``(B, 1, *spatial)`` for the focal reduction."""

    mask: Tensor | None = None


def _focal(args: dict[str, Any], owner: str = _owner("FocalLoss")) -> Mapped:
    reduction = reduction_of(owner, args["reduction"])
    gamma = float(args["gamma"])
    weight = class_weight_of(owner, "weight", args["weight"])
    alpha = args["alpha"]
    if alpha is not None:
        alpha = float(alpha) if isinstance(alpha, (int, float)) else class_weight_of(owner, "alpha", alpha)
    use_softmax = bool(args["use_softmax"])
    to_onehot_y = bool(args["to_onehot_y"])
    ignore_index = args["ignore_index"]

    def variant(kept: int, dropped: bool) -> Mapped:
        weights = _focal_weights(owner, weight, kept)
        if isinstance(alpha, list) and len(alpha) != kept:
            raise ValueError(f"{owner}: alpha has {len(alpha)} entries; expected one per kept class, {kept}")
        finish = _focal_reduction(reduction)
        if use_softmax:
            params = dict(class_axis=1, from_logits=True, gamma=gamma, mean_over="positions_and_classes")
            params.update(_softmax_alpha(owner, alpha, weights, kept, dropped))
            return Mapped("focal", params, "none", finish=finish)
        # a per-class alpha weighs the targets equal to 1 (a sample weight, in prepare)
        params = dict(class_axis=1, from_logits=True, gamma=gamma, soft_form="logit")
        params.update(alpha=None if isinstance(alpha, list) else alpha)
        return Mapped("sigmoid_focal", params, "none", finish=finish)

    variant = functools.cache(variant)

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        x, target = call["input"], call["target"]
        num_classes = ops.shape(x)[1]
        target = targets(owner, ops, x, target, to_onehot_y, spatial=False)
        dropped = not args["include_background"] and num_classes > 1
        if dropped:  # before the activation, as MONAI slices
            x, target = drop_background(ops, x), drop_background(ops, target)
        mask = None if ignore_index is None else ignore_mask(ops, call["target"], ignore_index, x)
        if mask is not None:
            x, target = x * mask, target * mask
        kept = ops.shape(x)[1]
        mapped = variant(kept, dropped)  # checks the lengths of alpha and weight
        sample_weight = None
        if not use_softmax:
            positives = alpha if isinstance(alpha, list) else None
            sample_weight = _focal_sample_weight(ops, x, target, mask, _focal_weights(owner, weight, kept), positives)
        elif mask is not None:
            sample_weight = _focal_sample_weight(ops, x, target, mask, None, None)
        return MaskedInputs(x, target, sample_weight=sample_weight, mapped=mapped, mask=mask)

    return Mapped("sigmoid_focal", {}, "none", prepare=prepare)


def _softmax_alpha(
    owner: str, alpha: float | list[float] | None, weights: list[float] | None, kept: int, dropped: bool
) -> dict[str, Any]:
    """The spec ``focal``'s ``alpha`` for MONAI's softmax ``alpha`` times its class ``weight``:
    ``(1 - a, a, ..., a)`` for a scalar (ignored, with MONAI's warning, once class 0 is dropped)."""
    if isinstance(alpha, float) and dropped:
        warnings.warn(f"{owner}: include_background=False, scalar alpha ignored when using softmax", stacklevel=6)
        alpha = None
    if isinstance(alpha, float) and weights is None:
        return {"alpha": alpha, "alpha_mode": "background"}
    factors = [1.0 - alpha] + [alpha] * (kept - 1) if isinstance(alpha, float) else alpha
    if weights is not None:
        factors = [w * f for w, f in zip(weights, factors or [1.0] * kept, strict=True)]
    return {"alpha": factors}


def _focal_weights(owner: str, weight: float | list[float] | None, kept: int) -> list[float] | None:
    """MONAI's focal ``weight`` per kept class (a scalar for all)."""
    if weight is None:
        return None
    if isinstance(weight, float):
        return [weight] * kept
    if kept == 1:
        raise ValueError(f"{owner}: a per-class weight is not supported for single-channel outputs (MONAI's rule)")
    if len(weight) != kept:
        raise ValueError(f"{owner}: weight has {len(weight)} entries; expected one per output channel, {kept}")
    return list(weight)


def _focal_sample_weight(
    ops: Ops,
    x: Tensor,
    target: Tensor,
    mask: Tensor | None,
    weights: list[float] | None,
    positives: list[float] | None,
) -> Tensor | None:
    """MONAI's factors of the sigmoid focal loss, with the input's shape: a
    per-class ``alpha`` where the target equals 1 (1 elsewhere), the ignore mask
    and the class ``weight``."""
    if mask is None and weights is None and positives is None:
        return None
    shape = ops.shape(x)
    view = (1, shape[1]) + (1,) * (len(shape) - 2)
    per_class = np.ones(view) if weights is None else np.reshape(np.asarray(weights, dtype=np.float64), view)
    factor = ops.constant(np.broadcast_to(per_class, shape), x)
    if positives is not None:
        hits = ops.cast(ops.equal(target, 1.0), x)
        factor = factor * (1.0 + hits * ops.constant(np.reshape(positives, view) - 1.0, x))
    return factor if mask is None else factor * mask


def _focal_reduction(reduction: str):
    """MONAI's FocalLoss reduction of the per-element losses: ``"mean"`` over
    every element, or the masked sum over the valid *positions* (not times C);
    ``"sum"`` of the per-(sample, class) spatial means (valid positions only)."""

    def finish(ops: Ops, value: Tensor, inputs: Inputs) -> Tensor:
        mask = getattr(inputs, "mask", None)
        spatial = tuple(range(2, len(ops.shape(value))))
        if reduction == "none":
            return value
        if reduction == "mean" or not spatial:  # no spatial axis: MONAI's spatial mean is the full mean
            if mask is None:
                return ops.mean(value)
            return ops.sum(value) / _at_least(ops, ops.sum(mask))
        if mask is None:
            return ops.sum(ops.mean(value, axis=spatial))
        counts = _at_least(ops, ops.sum(mask, axis=spatial, keepdims=True))
        return ops.sum(ops.sum(value, axis=spatial, keepdims=True) / counts)

    return finish


def _at_least(ops: Ops, count: Tensor) -> Tensor:
    return ops.where(ops.less(count, MASK_EPSILON), MASK_EPSILON, count)


FOCAL_ARGS = (
    INCLUDE_BACKGROUND,
    TO_ONEHOT_Y,
    Arg("gamma", 2.0, "gamma"),
    Arg("alpha", None, 'alpha (softmax: alpha_mode="background" or a list; sigmoid: alpha, or a list on targets = 1)'),
    Arg("weight", None, "class weights (softmax: in alpha; sigmoid: sample_weight), not normalised"),
    Arg("reduction", "mean", "MONAI's focal reduction of the elements"),
    Arg("use_softmax", False, "focal (softmax) instead of sigmoid_focal"),
    IGNORE_INDEX,
)
FOCAL_NOTES = (
    '`sigmoid_focal(from_logits=True, soft_form="logit")`, or with `use_softmax=True` '
    '`focal(mean_over="positions_and_classes")`, evaluated per element; MONAI\'s reduction follows: `"mean"` '
    'over B x C x spatial, `"sum"` the sum over samples and classes of the spatial means (the full mean for an '
    "input without spatial axes). With `ignore_index` the masked sum is divided by the number of valid *positions* "
    '(MONAI 1.6.1 makes the loss C times larger than without it: reproduced) and `"sum"` by each sample\'s valid '
    "positions. `include_background=False` drops channel 0 before the softmax; a scalar `alpha` is then ignored "
    "with softmax (MONAI's warning). In sigmoid mode a per-class `alpha` multiplies the loss where the target "
    "equals 1 exactly and leaves it elsewhere (soft targets included), and `weight` multiplies it per class: "
    "`sample_weight`s of the input's shape (for 0/1 targets the spec's `pos_weight`). MONAI computes in float32."
)
_monai("FocalLoss", FOCAL_ARGS, _focal, ("sigmoid_focal", "focal"), notes=FOCAL_NOTES)


# --------------------------------------------------------------------------- compounds


def _lambda(owner: str, name: str, value: Any) -> float:
    if value < 0.0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return float(value)


def _dice_part(args: dict[str, Any], owner: str, **overrides: Any) -> Mapped:
    defaults = dict(
        include_background=True,
        to_onehot_y=False,
        sigmoid=False,
        softmax=False,
        other_act=None,
        squared_pred=False,
        jaccard=False,
        reduction="mean",
        smooth_nr=1e-5,
        smooth_dr=1e-5,
        batch=False,
        weight=None,
        soft_label=False,
        ignore_index=None,
    )
    chosen = {k: args[k] for k in defaults if k in args}
    return _dice({**defaults, **chosen, **overrides}, owner)


def _cross_entropy_part(owner: str, weight: Any, reduction: str, label_smoothing: float) -> Mapped:
    """MONAI's CE term: ``torch.nn.CrossEntropyLoss(weight, label_smoothing)`` on
    the logits (a label map ``(B, 1, ...)`` squeezed to labels), or
    ``torch.nn.BCEWithLogitsLoss(pos_weight=weight)`` for one channel -- torch's
    own compat mappings."""
    torch_ce = get_definition("torch", "CrossEntropyLoss")
    ce = torch_ce.configure(
        torch_ce.bind((), dict(weight=weight, reduction=reduction, label_smoothing=label_smoothing))
    )
    bce: list[Mapped] = []

    def binary() -> Mapped:
        if not bce:
            torch_bce = get_definition("torch", "BCEWithLogitsLoss")
            bce.append(torch_bce.configure(torch_bce.bind((), dict(pos_weight=weight, reduction=reduction))))
        return bce[0]

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        x, target = call["input"], call["target"]
        num_classes, shape = ops.shape(x)[1], ops.shape(target)
        chosen = binary() if num_classes == 1 else ce
        if num_classes > 1 and shape[1] == 1:  # a label map: torch's integer targets
            if ops.is_integer(target):
                target = ops.reshape(target, shape[:1] + shape[2:])
            elif weight is not None:
                raise ValueError(
                    f"{owner}: a floating-point label map with weight= cannot be turned into torch's integer "
                    "targets here; pass the label map as an integer tensor (or one-hot targets)"
                )
            else:  # equal to the integer-label loss without class weights
                target = one_hot(owner, ops, target, num_classes, x)
        elif not ops.is_floating(target):
            target = ops.cast(target, x)
        inputs = chosen.prepare(ops, {"input": x, "target": target})
        inputs.mapped = inputs.mapped or chosen
        return inputs

    return Mapped(ce.loss, ce.params, ce.reduction, prepare=prepare, finish=ce.finish)


def _dice_ce(args: dict[str, Any], owner: str = _owner("DiceCELoss")) -> Sum:
    reduction = reduction_of(owner, args["reduction"], ("mean", "sum"))
    weight = as_array(args["weight"])
    dice_weight = weight[1:] if weight is not None and not args["include_background"] else weight
    label_smoothing = float(args["label_smoothing"])
    dice = _dice_part(args, owner, weight=dice_weight)
    ce = _cross_entropy_part(owner, weight, reduction, label_smoothing)
    return Sum(
        (
            (_lambda(owner, "lambda_dice", args["lambda_dice"]), dice),
            (_lambda(owner, "lambda_ce", args["lambda_ce"]), ce),
        )
    )


_monai(
    "DiceCELoss",
    (
        *ACTIVATION_ARGS,
        Arg("squared_pred", False, "squared (Dice)"),
        Arg("jaccard", False, "jaccard (Dice)"),
        Arg("reduction", "mean", "reduction of both terms"),
        SMOOTH_NR,
        SMOOTH_DR,
        BATCH,
        Arg("weight", None, "Dice class_weights (without class 0 when include_background=False), CE weight"),
        Arg("lambda_dice", 1.0, "weight of the Dice term"),
        Arg("lambda_ce", 1.0, "weight of the CE term"),
        Arg("label_smoothing", 0.0, "label_smoothing (CE)"),
    ),
    _dice_ce,
    ("dice", "jaccard", "categorical_crossentropy", "binary_crossentropy"),
    unsupported={
        "reduction": '"none" (MONAI refuses it too)',
        "weight": "with a floating-point label map target (raised at the call; pass an integer label map)",
        **DICE_UNSUPPORTED,
    },
    notes="`lambda_dice * DiceLoss + lambda_ce * CE`, each term reduced on its own: the Dice term is "
    "`DiceLoss`'s mapping, the CE term torch's `CrossEntropyLoss(weight, label_smoothing)` mapping on the logits "
    '(a label map squeezed to labels; `"mean"` divides by the total weight of the targets) or, for one channel, '
    "`BCEWithLogitsLoss(pos_weight=weight)`. The activation flags act on the Dice term only.",
)


def _sigmoid_focal_term(args: dict[str, Any], owner: str, *, alpha: Any, reduction: str) -> Mapped:
    """The focal term of MONAI's Dice + focal compounds: ``FocalLoss`` without softmax or ignore_index."""
    focal_args = dict(
        include_background=args["include_background"],
        to_onehot_y=args["to_onehot_y"],
        gamma=args["gamma"],
        alpha=alpha,
        weight=args["weight"],
        reduction=reduction,
        use_softmax=False,
        ignore_index=None,
    )
    return _focal(focal_args, owner)


def _dice_focal(args: dict[str, Any], owner: str = _owner("DiceFocalLoss")) -> Sum:
    reduction = reduction_of(owner, args["reduction"])
    dice = _dice_part(args, owner)
    focal = _sigmoid_focal_term(args, owner, alpha=args["alpha"], reduction=reduction)
    lambdas = _lambda(owner, "lambda_dice", args["lambda_dice"]), _lambda(owner, "lambda_focal", args["lambda_focal"])
    return Sum(((lambdas[0], dice), (lambdas[1], focal)))


_monai(
    "DiceFocalLoss",
    (
        *ACTIVATION_ARGS,
        Arg("squared_pred", False, "squared (Dice)"),
        Arg("jaccard", False, "jaccard (Dice)"),
        Arg("reduction", "mean", "reduction of both terms"),
        SMOOTH_NR,
        SMOOTH_DR,
        BATCH,
        Arg("gamma", 2.0, "gamma (focal)"),
        Arg("weight", None, "class weights of both terms"),
        Arg("lambda_dice", 1.0, "weight of the Dice term"),
        Arg("lambda_focal", 1.0, "weight of the focal term"),
        Arg("alpha", None, "alpha (focal)"),
    ),
    _dice_focal,
    ("dice", "jaccard", "sigmoid_focal"),
    unsupported=DICE_UNSUPPORTED,
    notes="`lambda_dice * DiceLoss + lambda_focal * FocalLoss`, each with its own mapping and reduction: the focal "
    'term is always the sigmoid focal loss on the logits (MONAI passes no `use_softmax`); `"none"` broadcasts '
    "the Dice term's `(B, C', 1, ...)` against the focal term's `(B, C', ...)`, as MONAI does.",
)


def _generalized_dice_focal(args: dict[str, Any], owner: str = _owner("GeneralizedDiceFocalLoss")) -> Sum:
    reduction = reduction_of(owner, args["reduction"])
    gdl = _generalized_dice({**args, "soft_label": False}, owner)
    focal = _sigmoid_focal_term(args, owner, alpha=None, reduction=reduction)
    lambdas = _lambda(owner, "lambda_gdl", args["lambda_gdl"]), _lambda(owner, "lambda_focal", args["lambda_focal"])
    return Sum(((lambdas[0], gdl), (lambdas[1], focal)))


_monai(
    "GeneralizedDiceFocalLoss",
    (
        *ACTIVATION_ARGS,
        Arg("w_type", "square", "weight_type (generalized Dice)"),
        Arg("reduction", "mean", "reduction of both terms"),
        SMOOTH_NR,
        SMOOTH_DR,
        BATCH,
        Arg("gamma", 2.0, "gamma (focal)"),
        Arg("weight", None, "class weights of the focal term"),
        Arg("lambda_gdl", 1.0, "weight of the generalized Dice term"),
        Arg("lambda_focal", 1.0, "weight of the focal term"),
    ),
    _generalized_dice_focal,
    ("generalized_dice", "sigmoid_focal"),
    unsupported=DICE_UNSUPPORTED,
    notes="`lambda_gdl * GeneralizedDiceLoss + lambda_focal * FocalLoss` (sigmoid focal on the logits), each with "
    'its own mapping and reduction; `"none"` broadcasts `(B, 1, 1, ...)` against `(B, C\', ...)`, as MONAI does.',
)


# --------------------------------------------------------------------------- generalized Wasserstein Dice


def _wasserstein(args: dict[str, Any], owner: str = _owner("GeneralizedWassersteinDiceLoss")) -> Mapped:
    reduction = reduction_of(owner, args["reduction"])
    matrix = as_array(args["dist_matrix"])
    if matrix is None or matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        shape = None if matrix is None else matrix.shape
        raise ValueError(f"{owner}: dist_matrix must be a C x C matrix, got shape {shape}")
    if args["weighting_mode"] not in ("default", "GDL"):
        raise ValueError(f"{owner}: weighting_mode must be 'default' or 'GDL', got {args['weighting_mode']!r}")
    params = dict(
        class_axis=1,
        from_logits=True,
        dist_matrix=matrix.tolist(),
        weighting_mode=args["weighting_mode"],
        smooth_nr=float(args["smooth_nr"]),
        smooth_dr=float(args["smooth_dr"]),
    )

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        x, target = call["input"], call["target"]
        shape = ops.shape(x)
        labels = ops.reshape(target, shape[:1] + shape[2:])  # MONAI flattens the target to (B, positions)
        if not ops.is_integer(labels):  # MONAI's .long(): a float label map, one-hot by comparison
            labels = one_hot(owner, ops, ops.reshape(labels, (shape[0], 1, *shape[2:])), shape[1], x)
        return Inputs(x, labels)

    return Mapped("generalized_wasserstein_dice", params, reduction, prepare=prepare)


_monai(
    "GeneralizedWassersteinDiceLoss",
    (
        Arg("dist_matrix", REQUIRED, "dist_matrix (scaled to a largest entry of 1)"),
        Arg("weighting_mode", "default", "weighting_mode"),
        Arg("reduction", "mean", "reduction of the per-sample values"),
        SMOOTH_NR,
        SMOOTH_DR,
    ),
    _wasserstein,
    ("generalized_wasserstein_dice",),
    notes="`generalized_wasserstein_dice(from_logits=True)` on the logits and a label map of any shape with "
    "`B x spatial` entries (MONAI 1.6.1 computes one value per sample: its batch-mixing bug of 1.5 is fixed). "
    "MONAI keeps `dist_matrix` in its own dtype and the GDL weights in float32.",
)


# --------------------------------------------------------------------------- Hausdorff distance transform


def _hausdorff(args: dict[str, Any], owner: str, log: bool) -> Mapped:
    reduction = reduction_of(owner, args["reduction"])
    activation = activation_of(owner, args)
    batch = bool(args["batch"])
    loss = "log_hausdorff_dt" if log else "hausdorff_dt"

    def variant(num_classes: int) -> Mapped:
        params = dict(
            class_axis=1,
            alpha=float(args["alpha"]),
            include_background=bool(args["include_background"]),
            batch=batch,
            class_reduction="none",
            **activation.params(num_classes),
        )
        spec_reduction = reduction
        if log:  # MONAI takes the logarithm after its reduction
            params["log_of"] = {"none": "elements", "mean": "mean", "sum": "sum"}[reduction]
            spec_reduction = "none" if reduction == "none" else "mean"
        return Mapped(loss, params, spec_reduction, finish=_hausdorff_shape(batch) if reduction == "none" else None)

    variant = functools.cache(variant)
    to_onehot_y = bool(args["to_onehot_y"])

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        x = call["input"]
        if len(ops.shape(x)) not in (4, 5):
            raise ValueError(f"{owner}: only 2-D (B, C, H, W) and 3-D (B, C, H, W, D) inputs, got {ops.shape(x)}")
        if ops.is_tracing(x):
            raise ValueError(
                f"{owner}: the distance maps are computed on the host (SciPy), as MONAI does; call the loss eagerly, "
                "not inside tf.function or torch.compile"
            )
        x = activation.before(x)
        target = targets(owner, ops, x, call["target"], to_onehot_y)
        # MONAI's distance fields: the detached probabilities and the target, thresholded at 0.5, on the host
        probabilities = ops.stop_gradient(activation.probabilities(ops, x))
        extras = {
            "pred_distance": ops.constant(distance_maps(as_array(probabilities)), x),
            "target_distance": ops.constant(distance_maps(as_array(target)), x),
        }
        return Inputs(x, target, extras, mapped=variant(ops.shape(x)[1]))

    return Mapped(loss, {}, reduction, prepare=prepare)


def _hausdorff_shape(batch: bool):
    """MONAI's ``"none"``: ``(B, C', 1, ...)``, ``(1, C', 1, ...)`` with ``batch``."""

    def finish(ops: Ops, value: Tensor, inputs: Inputs) -> Tensor:
        spatial = (1,) * (len(ops.shape(inputs.y_pred)) - 2)
        per_class = ops.shape(value)[-1]
        return ops.reshape(value, ((1,) if batch else (ops.shape(value)[0],)) + (per_class,) + spatial)

    return finish


HAUSDORFF_ARGS = (
    Arg("alpha", 2.0, "alpha"),
    Arg("include_background", False, "include_background (ignored for one channel)"),
    TO_ONEHOT_Y,
    SIGMOID,
    SOFTMAX,
    OTHER_ACT,
    REDUCTION,
    BATCH,
)
HAUSDORFF_NOTES = (
    "The distance maps are computed inside the call as MONAI does: SciPy's exact transform "
    "(`spec.distance.distance_maps`) of the detached probabilities and of the target thresholded at 0.5, per "
    "sample and class, on the host (eager execution only); MONAI rounds them to float32. "
    'With `class_reduction="none"` MONAI\'s `"none"` is `(B, C\', 1, ...)` (`(1, C\', 1, ...)` with `batch`). '
    + PROBABILITIES_NOTE
)
_monai(
    "HausdorffDTLoss",
    HAUSDORFF_ARGS,
    lambda args: _hausdorff(args, _owner("HausdorffDTLoss"), log=False),
    ("hausdorff_dt",),
    unsupported=DICE_UNSUPPORTED,
    notes="`hausdorff_dt`. " + HAUSDORFF_NOTES,
)
_monai(
    "LogHausdorffDTLoss",
    HAUSDORFF_ARGS,
    lambda args: _hausdorff(args, _owner("LogHausdorffDTLoss"), log=True),
    ("log_hausdorff_dt",),
    unsupported=DICE_UNSUPPORTED,
    notes='`log_hausdorff_dt`: MONAI takes `log(1 + x)` after its reduction, `log_of="mean"`/`"sum"` of the '
    'per-(sample, class) values (`"elements"` for `"none"`). ' + HAUSDORFF_NOTES,
)


# --------------------------------------------------------------------------- clDice


def _cldice_part(args: dict[str, Any], owner: str) -> Mapped:
    reduction = reduction_of(owner, args["reduction"])
    activation = activation_of(owner, args)
    iterations = args["iter_"]
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise TypeError(f"{owner}: iter_ must be an integer, got {type(iterations).__name__}")
    if iterations < 0:
        raise ValueError(f"{owner}: iter_ must be a non-negative integer, got {iterations}")
    if args["smooth"] <= 0:
        raise ValueError(f"{owner}: smooth must be a positive value, got {args['smooth']}")
    if args["smooth_dr"] <= 0:
        refuse(owner, "smooth_dr", args["smooth_dr"], "a value > 0 (the spec keeps every ratio's denominator positive)")
    if args["smooth_nr"] < 0:
        refuse(owner, "smooth_nr", args["smooth_nr"], "a value >= 0")

    def variant(num_classes: int, probabilities: bool) -> Mapped:
        include, _ = _kept(args, num_classes)
        params = dict(
            class_axis=1,
            iterations=iterations,
            smooth_nr=float(args["smooth_nr"]),
            smooth_dr=float(args["smooth_dr"]),
            smooth=float(args["smooth"]),
            include_background=include,
            **activation.params(num_classes),
        )
        return Mapped("soft_cldice", params, reduction)

    return Mapped("soft_cldice", {}, reduction, prepare=region_prepare(owner, args, functools.cache(variant)))


CLDICE_ARGS = (
    Arg("iter_", 3, "iterations"),
    Arg("smooth_nr", 1.0, "smooth_nr"),
    Arg("smooth_dr", 1.0, "smooth_dr"),
    Arg("smooth", 1e-4, "smooth"),
    *ACTIVATION_ARGS,
    Arg("reduction", "mean", "reduction of the per-sample values"),
)
CLDICE_UNSUPPORTED = {
    "smooth_dr": "values <= 0 (the spec's ratios need a positive denominator)",
    "smooth_nr": "negative values",
    **DICE_UNSUPPORTED,
}
_monai(
    "SoftclDiceLoss",
    CLDICE_ARGS,
    lambda args: _cldice_part(args, _owner("SoftclDiceLoss")),
    ("soft_cldice",),
    unsupported=CLDICE_UNSUPPORTED,
    notes='`soft_cldice`: MONAI 1.6.1\'s call `(input, target)` and per-sample values, the classes pooled (`"none"` '
    "is `(B,)`). " + PROBABILITIES_NOTE,
)


def _dice_cldice(args: dict[str, Any], owner: str = _owner("SoftDiceclDiceLoss")) -> Sum:
    alpha = args["alpha"]
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{owner}: alpha must be in [0, 1], got {alpha}")
    reduction_of(owner, args["reduction"])
    dice = _dice_part(args, owner, smooth_nr=args["smooth_nr"], smooth_dr=args["smooth_dr"])
    return Sum(((1.0 - alpha, dice), (alpha, _cldice_part(args, owner))))


_monai(
    "SoftDiceclDiceLoss",
    (
        Arg("iter_", 3, "iterations (clDice)"),
        Arg("alpha", 0.5, "weight of clDice, 1 - alpha of Dice"),
        Arg("smooth_nr", 1.0, "smooth_nr of both terms"),
        Arg("smooth_dr", 1.0, "smooth_dr of both terms"),
        Arg("smooth", 1e-4, "smooth (clDice)"),
        *ACTIVATION_ARGS,
        Arg("reduction", "mean", "reduction of both terms"),
    ),
    _dice_cldice,
    ("dice", "soft_cldice"),
    unsupported=CLDICE_UNSUPPORTED,
    notes='`(1 - alpha) * DiceLoss + alpha * SoftclDiceLoss`, each with its own mapping and reduction: `"sum"` '
    'adds a sum over samples and classes of Dice to a sum over samples of clDice, and `"none"` broadcasts the '
    "Dice term's `(B, C', 1, ...)` against clDice's `(B,)` (MONAI's shapes, e.g. `(B, C', 1, B)` in 2-D).",
)


# --------------------------------------------------------------------------- asymmetric unified focal


def _unified_focal(args: dict[str, Any], owner: str = _owner("AsymmetricUnifiedFocalLoss")) -> Mapped:
    reduction_of(owner, args["reduction"])
    if args["num_classes"] != 2:
        refuse(owner, "num_classes", args["num_classes"], "2 (MONAI's loss uses channels 0 and 1 only)")
    ignore_index, to_onehot_y = args["ignore_index"], bool(args["to_onehot_y"])
    params = dict(
        class_axis=1,
        from_logits=False,
        focal_weight=float(args["weight"]),
        delta=float(args["delta"]),
        gamma=float(args["gamma"]),
        epsilon=1e-7,
        batch=False,
    )

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        p, target = call["y_pred"], call["y_true"]
        shape = ops.shape(p)
        if len(shape) not in (4, 5):
            raise ValueError(f"{owner}: y_pred must be (B, C, H, W) or (B, C, H, W, D), got shape {shape}")
        if shape[1] > 2:
            raise ValueError(f"{owner}: y_pred has {shape[1]} channels; MONAI's loss is binary (1 or 2 channels)")
        if shape[1] == 1:  # a foreground probability: [1 - p, p]
            flat = ops.reshape(p, shape[:1] + shape[2:])
            p = ops.stack([1.0 - flat, flat], axis=1)
        if to_onehot_y and shape[1] != 1:
            target = one_hot(owner, ops, target, 2, p)
        elif ops.shape(target)[1] == 1 and shape[1] == 1:
            flat = ops.reshape(ops.cast(target, p), shape[:1] + shape[2:])
            target = ops.stack([1.0 - flat, flat], axis=1)
        if ops.shape(target) != ops.shape(p):
            raise ValueError(f"{owner}: y_true of shape {ops.shape(target)} does not match y_pred {ops.shape(p)}")
        target = ops.cast(target, p)
        if ignore_index is not None:  # the mask zeroes both; the inner losses still count those positions
            mask = ignore_mask(ops, call["y_true"], ignore_index, p)
            p, target = p * mask, target * mask
        return Inputs(p, target, output_shape=())

    return Mapped("asymmetric_unified_focal", params, "mean", prepare=prepare)


_monai(
    "AsymmetricUnifiedFocalLoss",
    (
        TO_ONEHOT_Y,
        Arg("num_classes", 2, "2 only"),
        Arg("weight", 0.5, "focal_weight"),
        Arg("gamma", 0.5, "gamma"),
        Arg("delta", 0.7, "delta"),
        Arg("reduction", "mean", "none (MONAI's terms are already means: every reduction gives the same 0-d value)"),
        Arg("ignore_index", None, "MONAI's ignore mask on y_pred and y_true"),
    ),
    _unified_focal,
    ("asymmetric_unified_focal",),
    call=(Arg("y_pred"), Arg("y_true")),
    roles={"y_pred": "y_pred", "y_true": "y_true"},
    unsupported={"num_classes": "values other than 2", "y_pred": "more than 2 channels (raised at the call)"},
    notes="`asymmetric_unified_focal(from_logits=False, epsilon=1e-7)` on probabilities (MONAI applies no "
    "activation despite its docstring); a one-channel `y_pred` (and `y_true`) becomes `[1 - p, p]`. Every "
    "`reduction` returns the same 0-d value, as MONAI's inner terms are already means. `ignore_index` "
    "reproduces MONAI 1.6.1: the mask zeroes `y_pred` and `y_true`, but the inner losses still count the "
    "masked positions in the focal mean and their clamped prediction (1e-7) in the Tversky false positives.",
)


# --------------------------------------------------------------------------- self-supervised


def _contrastive(args: dict[str, Any]) -> Mapped:
    if args["batch_size"] != -1:
        warnings.warn(
            "monai.losses.ContrastiveLoss: batch_size is no longer required (MONAI only warns); it is ignored",
            stacklevel=4,
        )
    # MONAI keeps the temperature in a float32 tensor
    return Mapped("nt_xent", dict(temperature=float(np.float32(args["temperature"])), eps=1e-8), "mean")


_monai(
    "ContrastiveLoss",
    (
        Arg("temperature", 0.5, "temperature (its float32 value)"),
        Arg("batch_size", -1, "ignored with MONAI's warning (the batch size is the input's)"),
    ),
    _contrastive,
    ("nt_xent",),
    notes='`nt_xent(eps=1e-8)` (torch\'s `cosine_similarity`) with `"mean"` over the pairs, on `(B, F)` views.',
)


def _barlow_twins(args: dict[str, Any]) -> Mapped:
    lambd = float(np.float32(args["lambd"]))  # MONAI keeps it in a float32 tensor
    return Mapped("barlow_twins", dict(lambd=lambd, eps=1e-6, unbiased=True), "mean")


_monai(
    "BarlowTwinsLoss",
    (Arg("lambd", 5e-3, "lambd (its float32 value)"),),
    _barlow_twins,
    ("barlow_twins",),
    notes="`barlow_twins(eps=1e-6, unbiased=True)` on `(B, F)` views, B >= 2.",
)


# --------------------------------------------------------------------------- deep supervision


def _deep_supervision(args: dict[str, Any], owner: str = _owner("DeepSupervisionLoss")) -> Composed:
    loss = args["loss"]
    if not callable(loss):
        raise TypeError(f"{owner}: loss must be a loss instance (callable), got {type(loss).__name__}")
    weights = args["weights"]
    # MONAI falls back to equal weights for an unknown weight_mode
    mode = args["weight_mode"] if args["weight_mode"] in WEIGHT_MODES else "same"

    def compute(ops: Ops, call: dict[str, Any]) -> Tensor:
        outputs, target = call["input"], call["target"]
        if outputs is None:
            raise ValueError(f"{owner}: input must be a tensor or a list of tensors, got None")
        if not isinstance(outputs, (list, tuple)):
            return loss(outputs, target)
        if not outputs:
            refuse(owner, "input", outputs, "a non-empty list of tensors (MONAI returns 0 for an empty list)")
        return deep_supervision(
            ops, loss, list(outputs), target, spatial_axes=_spatial_axes, weight_mode=mode, weights=weights
        )

    return Composed(compute)


def _spatial_axes(output: Tensor, target: Tensor) -> tuple[list[int], list[int]]:
    """Channels-first: the spatial axes of an output and of the (channel-first) target."""
    return list(range(2, len(output.shape))), list(range(2, len(target.shape)))


_monai(
    "DeepSupervisionLoss",
    (
        Arg("loss", REQUIRED, "a compat loss of the same framework (any loss callable)"),
        Arg("weight_mode", "exp", "spec.deep_supervision weight_mode (an unknown mode: 'same', as MONAI)"),
        Arg("weights", None, "weights (used when long enough)"),
    ),
    _deep_supervision,
    (),
    unsupported={"input": "an empty list"},
    notes="`spec.deep_supervision`: `sum_k w_k loss(input[k], target resized to input[k])` with MONAI's "
    "nearest-exact resize of the `(B, C, ...)` target (integer targets too, which MONAI cannot resize); a single "
    "tensor is passed to `loss` as it is. MONAI casts every output to float32 and sums in float32.",
)

__all__ = ["Activation", "MaskedInputs", "reduction_of"]
