"""Target handling shared by the classification and segmentation formulas:
class probabilities, one-hot expansion of labels and the ignore mask."""

from __future__ import annotations

from typing import Any

from spec.ops import Ops, clip, safe_divide

Tensor = Any


def is_label_target(ops: Ops, y_pred: Tensor, y_true: Tensor) -> bool:
    """Integer labels have one dimension fewer than ``y_pred`` (no class axis)."""
    return len(ops.shape(y_true)) == len(ops.shape(y_pred)) - 1


def along_axis(ops: Ops, values: list[float], like: Tensor, axis: int) -> Tensor:
    """A constant vector shaped to broadcast along ``axis`` of ``like``."""
    shape = [1] * len(ops.shape(like))
    shape[axis] = len(values)
    return ops.reshape(ops.constant(values, like), shape)


def class_probabilities(ops: Ops, y_pred: Tensor, *, class_axis: int, from_logits: bool, multilabel: bool) -> Tensor:
    """Probabilities from ``y_pred``: softmax over classes, sigmoid per class
    when ``multilabel``, or ``y_pred`` itself when it already holds probabilities."""
    if not from_logits:
        return y_pred
    return ops.sigmoid(y_pred) if multilabel else ops.softmax(y_pred, class_axis)


def class_log_probabilities(ops: Ops, y_pred: Tensor, *, class_axis: int, from_logits: bool, epsilon: float) -> Tensor:
    """``log p`` over the class axis.  Logits go through ``log_softmax``;
    probabilities are renormalised to sum to 1 and clipped to
    ``[epsilon, 1 - epsilon]`` first (Keras' convention)."""
    if from_logits:
        return ops.log_softmax(y_pred, class_axis)
    total = ops.sum(y_pred, axis=class_axis, keepdims=True)
    return ops.log(clip(ops, safe_divide(ops, y_pred, total), epsilon, 1.0 - epsilon))


def sparse_targets(
    ops: Ops, y_pred: Tensor, y_true: Tensor, *, class_axis: int, ignore_index: int | None
) -> tuple[Tensor, Tensor | None]:
    """Targets in the form they came in, with the mask of valid positions.

    Integer labels stay labels (no one-hot encoding): a label equal to
    ``ignore_index`` is replaced by 0 and masked.  For dense targets the
    ignored positions are those a one-hot encoding of ``ignore_index`` would
    produce: rows whose channel ``ignore_index`` is set when it is a valid
    class index, rows that are all zero otherwise (MONAI's rule); dense rows
    are returned unmasked.

    Returns:
        ``(targets, mask)``; ``mask`` is ``None`` when nothing can be ignored,
        else a float tensor with ``y_pred``'s rank and size 1 on the class axis.
    """
    if ignore_index is None:
        return y_true, None
    if is_label_target(ops, y_pred, y_true):
        valid = ops.not_equal(y_true, ignore_index)
        return ops.where(valid, y_true, 0), ops.expand_dims(ops.cast(valid, y_pred), class_axis)
    num_classes = ops.shape(y_pred)[class_axis]
    if 0 <= ignore_index < num_classes:
        selector = [1.0 if c == ignore_index else 0.0 for c in range(num_classes)]
        marked = ops.sum(y_true * along_axis(ops, selector, y_pred, class_axis), axis=class_axis, keepdims=True)
        valid = ops.equal(marked, 0.0)
    else:
        valid = ops.greater(ops.sum(y_true, axis=class_axis, keepdims=True), 0.0)
    return y_true, ops.cast(valid, y_pred)


def dense_targets(
    ops: Ops, y_pred: Tensor, y_true: Tensor, *, class_axis: int, ignore_index: int | None
) -> tuple[Tensor, Tensor | None]:
    """Targets with ``y_pred``'s shape and the mask of valid positions.

    Integer labels are one-hot encoded; a label equal to ``ignore_index``
    becomes an all-zero row.  Dense targets are masked by the rule of
    :func:`sparse_targets`.  Masked rows are zeroed.

    Returns:
        ``(targets, mask)``; ``mask`` is ``None`` when nothing can be ignored,
        else a float tensor with size 1 on the class axis.
    """
    targets, mask = sparse_targets(ops, y_pred, y_true, class_axis=class_axis, ignore_index=ignore_index)
    if is_label_target(ops, y_pred, y_true):
        targets = ops.one_hot(targets, ops.shape(y_pred)[class_axis], class_axis, y_pred)
    return (targets, None) if mask is None else (targets * mask, mask)
