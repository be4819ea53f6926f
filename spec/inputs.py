"""Input contracts and the eager checks that enforce them.

Checks run before a formula, in every backend, and raise ``ValueError`` /
``TypeError`` messages that name the argument, what it got and what was
expected.  Shape checks always run; checks that need tensor *values* (label
range, probability range) run only eagerly: while a graph is being traced
(``tf.function``, ``torch.compile``) they are skipped, since formulas must stay
free of value-dependent Python branches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from spec.ops import Ops, normalize_axis

Tensor = Any


@dataclass(frozen=True)
class Extra:
    """An input besides ``y_pred`` and ``y_true`` (a variance, a distance
    map, sequence lengths ...), passed by keyword in both frameworks and to
    the formula.

    Attributes:
        name: keyword, identical in the spec, both frameworks and the formula.
        doc: what it is, for the docs and error messages.
        shape: ``"prediction"`` -- ``y_pred``'s shape (it follows ``y_pred``'s
            layout); ``"sample"`` -- one value per sample, ``(N,)``;
            ``"classes"`` -- one value per sample and class, ``(N, C)`` in
            every layout; ``"positions"`` -- ``y_pred``'s shape without the
            class axis (the shape of integer labels).
        integer: integer values (else floating, cast to ``y_pred``'s dtype).

    Gradients are taken with respect to ``y_pred`` only; an extra is data.
    """

    name: str
    doc: str
    shape: str = "prediction"
    integer: bool = False


@dataclass(frozen=True)
class Inputs:
    """What a loss takes.

    Attributes:
        kind: ``"classes"`` -- ``y_pred`` has a class axis (``class_axis``) and
            ``y_true`` is either one-hot/soft with ``y_pred``'s shape or, when
            ``labels`` is true, integer labels with the class axis removed;
            ``"elementwise"`` -- ``y_true`` has ``y_pred``'s shape.
        labels: integer-label targets are accepted.
        target_range: dense targets must lie in this closed interval (or None).
        min_ndim: smallest rank of ``y_pred``.
        prediction: human description of ``y_pred`` for the docs.
        extras: further inputs (:class:`Extra`), keyword-only.
        target: for ``"elementwise"``: ``"prediction"`` -- ``y_true`` has
            ``y_pred``'s shape; ``"sample"`` -- one target per sample, ``(N,)``
            (``(N, 1)`` is accepted and flattened), e.g. a pair label or a
            class id for ``(N, D)`` embeddings.
    """

    kind: str
    labels: bool = False
    target_range: tuple[float, float] | None = None
    min_ndim: int = 1
    prediction: str = "predictions"
    extras: tuple[Extra, ...] = ()
    target: str = "prediction"


class Prepared(NamedTuple):
    """Checked inputs handed to a formula (a tuple: built on every call)."""

    y_pred: Tensor
    y_true: Tensor
    class_axis: int | None
    is_labels: bool


def _fmt(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_inputs(
    ops: Ops,
    name: str,
    inputs: Inputs,
    params: Mapping[str, Any],
    y_pred: Tensor,
    y_true: Tensor,
    class_axis: int | None,
    *,
    check_values: bool = True,
) -> Prepared:
    """Validate ``y_pred``/``y_true`` against ``inputs`` and ``params``."""
    if not ops.is_floating(y_pred):
        raise TypeError(
            f"{name}: y_pred must be a floating-point tensor ({inputs.prediction}), got dtype {ops.dtype_name(y_pred)}"
        )
    def eager() -> bool:
        # value checks run eagerly only; asked only when one is due (the
        # tracing query costs every call of a small loss)
        return check_values and not ops.is_tracing(y_pred)

    pred_shape, true_shape = ops.shape(y_pred), ops.shape(y_true)
    if len(pred_shape) < inputs.min_ndim:
        raise ValueError(
            f"{name}: y_pred must have at least {inputs.min_ndim} dimensions, got shape {_fmt(pred_shape)}"
        )
    axis = None
    if class_axis is not None:
        axis = normalize_axis(class_axis, len(pred_shape))
    is_labels = False
    if inputs.kind == "classes":
        if axis == 0:
            raise ValueError(
                f"{name}: class_axis={class_axis} is the batch axis of y_pred shape {_fmt(pred_shape)}; "
                f"expected the class axis to follow the batch axis (1 for channels-first, -1 for channels-last)"
            )
        num_classes = pred_shape[axis]
        label_shape = pred_shape[:axis] + pred_shape[axis + 1 :]
        if (
            inputs.labels
            and len(true_shape) == len(pred_shape)
            and ops.is_integer(y_true)
            and true_shape[axis] == 1
            and num_classes > 1
            and true_shape[:axis] + true_shape[axis + 1 :] == label_shape
        ):
            # labels given with a singleton class axis (MONAI's B1HW, Keras' (N, 1))
            y_true = ops.reshape(y_true, label_shape)
            true_shape = label_shape
        if true_shape == pred_shape:
            pass
        elif len(true_shape) == len(pred_shape) - 1 and inputs.labels:
            if true_shape != label_shape:
                raise ValueError(
                    f"{name}: integer labels y_true must have shape {_fmt(label_shape)} "
                    f"(y_pred {_fmt(pred_shape)} without class axis {axis}), got {_fmt(true_shape)}"
                )
            if params.get("multilabel"):
                raise ValueError(
                    f"{name}: multilabel=True needs y_true with y_pred's shape {_fmt(pred_shape)} "
                    f"(independent 0/1 targets per class), got integer labels of shape {_fmt(true_shape)}"
                )
            if not ops.is_integer(y_true):
                raise TypeError(
                    f"{name}: y_true of shape {_fmt(true_shape)} has no class axis, so it must hold integer "
                    f"labels, got dtype {ops.dtype_name(y_true)}; pass one-hot targets of shape "
                    f"{_fmt(pred_shape)} instead"
                )
            is_labels = True
            if not ops.index_ops_validate and eager():
                check_labels(ops, name, y_true, num_classes, params.get("ignore_index"))
        else:
            expected = f"{_fmt(pred_shape)}" + (
                f" or integer labels of shape {_fmt(label_shape)}" if inputs.labels else ""
            )
            raise ValueError(
                f"{name}: y_true shape {_fmt(true_shape)} does not match y_pred shape {_fmt(pred_shape)} "
                f"with {num_classes} classes on class_axis={class_axis}; expected y_true of shape {expected}"
            )
        weights = params.get("class_weights")
        if weights is not None and len(weights) != num_classes:
            raise ValueError(
                f"{name}: class_weights has {len(weights)} entries but y_pred has {num_classes} classes "
                f"on class_axis={class_axis} (shape {_fmt(pred_shape)}); expected {num_classes} weights"
            )
    elif inputs.target == "sample":
        if len(true_shape) == 2 and true_shape[1] == 1 and len(pred_shape) > 1:
            y_true = ops.reshape(y_true, true_shape[:1])  # Keras' (N, 1) column of labels
            true_shape = true_shape[:1]
        if true_shape != pred_shape[:1]:
            raise ValueError(
                f"{name}: y_true must hold one target per sample, shape {_fmt(pred_shape[:1])} for y_pred "
                f"shape {_fmt(pred_shape)}, got {_fmt(true_shape)}"
            )
    else:
        if true_shape != pred_shape:
            raise ValueError(
                f"{name}: y_true shape {_fmt(true_shape)} does not match y_pred shape {_fmt(pred_shape)}; "
                f"expected identical shapes (no broadcasting)"
            )
        pos_weight = params.get("pos_weight")
        if isinstance(pos_weight, list):
            if axis is None or len(pos_weight) != pred_shape[axis]:
                size = pred_shape[axis] if axis is not None else None
                raise ValueError(
                    f"{name}: pos_weight has {len(pos_weight)} entries; expected one per class, "
                    f"i.e. {size} along class_axis={class_axis} of y_pred shape {_fmt(pred_shape)}"
                )
    if not is_labels and not ops.is_floating(y_true):
        y_true = ops.cast(y_true, y_pred)
    probabilities = params.get("from_logits") is False
    if (probabilities or (inputs.target_range is not None and not is_labels)) and eager():
        if probabilities:
            low, high = ops.value_range(y_pred)
            if low < 0.0 or high > 1.0:
                raise ValueError(
                    f"{name}: from_logits=False expects probabilities in [0, 1] as y_pred, got values in "
                    f"[{low:.6g}, {high:.6g}]; pass from_logits=True if these are logits"
                )
        if inputs.target_range is not None and not is_labels:
            lo, hi = inputs.target_range
            # an elementwise target marks ignored entries by value (class-axis
            # targets mark them by row: dense_targets)
            ignore_index = params.get("ignore_index") if inputs.kind == "elementwise" else None
            kept = y_true if ignore_index is None else ops.where(ops.equal(y_true, float(ignore_index)), lo, y_true)
            low, high = ops.value_range(kept)
            if low < lo or high > hi:
                also = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
                raise ValueError(
                    f"{name}: y_true must lie in [{lo:g}, {hi:g}]{also}, got values in [{low:.6g}, {high:.6g}]"
                )
    return Prepared(y_pred, y_true, axis, is_labels)


def check_extras(
    ops: Ops, name: str, inputs: Inputs, y_pred: Tensor, extras: Mapping[str, Tensor], class_axis: int | None = None
) -> dict:
    """Validate the extra inputs against ``inputs.extras``; floating extras
    are cast to ``y_pred``'s dtype."""
    expected = {extra.name: extra for extra in inputs.extras}
    unknown = sorted(set(extras) - set(expected))
    if unknown:
        accepted = ", ".join(expected) or "none"
        raise TypeError(f"{name}: unexpected input(s) {unknown}; extra inputs accepted: {accepted}")
    prepared = {}
    pred_shape = ops.shape(y_pred)
    for extra in inputs.extras:
        if extras.get(extra.name) is None:
            raise TypeError(f"{name}: missing input {extra.name}= ({extra.doc})")
        value = extras[extra.name]
        shape = ops.shape(value)
        positions = pred_shape
        if class_axis is not None:
            axis = class_axis % len(pred_shape)
            positions = pred_shape[:axis] + pred_shape[axis + 1 :]
        wanted = {
            "prediction": pred_shape,
            "positions": positions,
            "sample": pred_shape[:1],
            "classes": (*pred_shape[:1], pred_shape[class_axis] if class_axis is not None else -1),
        }[extra.shape]
        if shape != wanted:
            which = {
                "prediction": "y_pred's shape",
                "positions": "y_pred's shape without the class axis",
                "sample": "one value per sample",
                "classes": "one value per sample and class",
            }[extra.shape]
            raise ValueError(f"{name}: {extra.name} must have {which} {_fmt(wanted)}, got shape {_fmt(shape)}")
        if extra.integer != ops.is_integer(value):
            kind = "integer" if extra.integer else "floating-point"
            raise TypeError(f"{name}: {extra.name} must be a {kind} tensor, got dtype {ops.dtype_name(value)}")
        prepared[extra.name] = value if extra.integer else ops.cast(value, y_pred)
    return prepared


def check_labels(ops: Ops, name: str, labels: Tensor, num_classes: int, ignore_index: int | None) -> None:
    """Raise the spec's ``ValueError`` if a label lies outside ``[0, num_classes)``
    and is not ``ignore_index``."""
    low, high = ops.value_range(labels)
    if low >= 0 and high < num_classes:
        return
    in_range = ops.logical_and(ops.greater(labels, -1), ops.less(labels, num_classes))
    bad = ops.equal(in_range, False)
    if ignore_index is not None:
        bad = ops.logical_and(bad, ops.not_equal(labels, ignore_index))
    count = ops.count_where(bad)
    if count:
        example = ops.first_where(bad, labels)
        allowed = f"[0, {num_classes})" + (f" or ignore_index={ignore_index}" if ignore_index is not None else "")
        raise ValueError(
            f"{name}: integer labels in y_true must be in {allowed} for {num_classes} classes, "
            f"got {count} label(s) outside it, e.g. {example}"
        )
