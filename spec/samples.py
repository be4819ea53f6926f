"""Sample inputs for the parity matrix, edge cases included.

Every generator returns channels-first float64/int64 NumPy arrays; the parity
runner derives the channels-last layout and the dense (one-hot) target form
from them.  ``smooth=False`` marks inputs that sit on a kink of the loss (a
clip boundary), where finite differences do not measure the gradient; such
samples are still compared across frameworks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SATURATION = 50.0  # |logit| of the saturated and perfect-prediction edge cases


@dataclass
class Sample:
    """One input of the matrix.

    Attributes:
        name: what the sample exercises (``"random"``, ``"perfect"``, ...).
        y_pred: float64 predictions, class axis 1 where the loss has one.
        labels: int64 labels without the class axis, or None.
        dense: float64 targets with ``y_pred``'s shape, or None (then derived
            from ``labels`` by one-hot encoding).
        sample_weight: per-sample weights ``(N,)`` or None.
        smooth: the loss is differentiable at this point.
        float32: float32 rounding of the inputs stays within the float32
            tolerances here.  False where the loss is not Lipschitz at the
            sample (``(1 - T)^g``, ``g < 1``, at a perfect prediction): one
            ulp of a framework's softmax becomes ``ulp^g``, so float32 values
            and gradients are checked for NaN/inf only.
        extras: the loss's extra inputs by name (channels-first), or None.
    """

    name: str
    y_pred: np.ndarray
    labels: np.ndarray | None = None
    dense: np.ndarray | None = None
    sample_weight: np.ndarray | None = None
    smooth: bool = True
    extras: dict[str, np.ndarray] | None = None
    float32: bool = True


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Channels-first one-hot; labels outside ``[0, num_classes)`` give zero rows."""
    encoded = labels[:, None, ...] == np.arange(num_classes).reshape((1, num_classes) + (1,) * (labels.ndim - 1))
    return encoded.astype(np.float64)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _as_prediction(logits: np.ndarray, params: Mapping[str, Any], *, multilabel: bool = False) -> np.ndarray:
    if params.get("from_logits", True):
        return logits
    # Halved logits keep random probabilities above ~1e-3, far from the clip
    # bound, where gradcheck's fixed 1e-6 step resolves log p; saturated
    # samples (|logit| = 50) still reach 0 and 1.
    return _sigmoid(0.5 * logits) if multilabel else _softmax(0.5 * logits)


def _with_ignored(rng: np.random.Generator, labels: np.ndarray, ignore_index: int) -> np.ndarray:
    labels = labels.copy()
    labels[rng.random(labels.shape) < 0.25] = ignore_index
    return labels


def classification_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Inputs for losses over a class axis with labels or one-hot/soft targets
    (vectors ``(N, C)`` and 2-D/3-D maps)."""
    from_logits = params.get("from_logits", True)
    ignore_index = params.get("ignore_index")
    samples = []
    for shape in [(5, 4), (2, 4, 3, 5), (2, 4, 3, 2, 2)]:
        num_classes = shape[1]
        label_shape = (shape[0], *shape[2:])
        labels = rng.integers(0, num_classes, label_shape)
        logits = rng.normal(0.0, 2.0, shape)
        dim = f"{len(shape) - 2}d" if len(shape) > 2 else "vector"
        samples.append(Sample(f"random-{dim}", _as_prediction(logits, params), labels=labels))
        if ignore_index is not None:
            ignored = _with_ignored(rng, labels, ignore_index)
            samples.append(Sample(f"ignored-{dim}", _as_prediction(logits, params), labels=ignored))
    shape = (2, 4, 3, 5)
    labels = rng.integers(0, 4, (2, 3, 5))
    signs = 2.0 * one_hot(labels, 4) - 1.0
    samples += [
        Sample(
            "perfect",
            _as_prediction(SATURATION * signs, params),
            labels=labels,
            smooth=from_logits,
        ),
        Sample(
            "saturated-wrong",
            _as_prediction(-SATURATION * signs, params),
            labels=labels,
            smooth=from_logits,
        ),
        Sample(
            "absent-class",
            _as_prediction(rng.normal(0.0, 1.0, shape), params),
            labels=rng.integers(0, 3, (2, 3, 5)),
        ),
        Sample(
            "sample-weight",
            _as_prediction(rng.normal(0.0, 1.0, shape), params),
            labels=rng.integers(0, 4, (2, 3, 5)),
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    if ignore_index is not None:
        samples.append(
            Sample(
                "all-ignored",
                _as_prediction(rng.normal(0.0, 1.0, shape), params),
                labels=np.full((2, 3, 5), ignore_index),
            )
        )
    else:
        soft = rng.dirichlet(np.ones(4), (2, 3, 5)).transpose(0, 3, 1, 2)
        samples.append(Sample("soft-targets", _as_prediction(rng.normal(0.0, 1.0, shape), params), dense=soft))
    return samples


def segmentation_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Inputs for overlap losses on 2-D and 3-D maps: random maps, empty
    classes, an image with no foreground, perfect and saturated predictions,
    ignored pixels.  Multi-label presets get independent 0/1 targets."""
    multilabel = params.get("multilabel", False)
    ignore_index = params.get("ignore_index")
    batch = params.get("batch", False)
    samples = []

    def targets(labels: np.ndarray, num_classes: int) -> dict:
        if multilabel:
            dense = rng.integers(0, 2, (labels.shape[0], num_classes, *labels.shape[1:])).astype(np.float64)
            return {"dense": dense}
        return {"labels": labels}

    def pred(logits: np.ndarray) -> np.ndarray:
        return _as_prediction(logits, params, multilabel=multilabel)

    for shape in [(2, 3, 5, 4), (2, 3, 3, 4, 3)]:
        dim = f"{len(shape) - 2}d"
        labels = rng.integers(0, shape[1], (shape[0], *shape[2:]))
        samples.append(Sample(f"random-{dim}", pred(rng.normal(0.0, 1.5, shape)), **targets(labels, shape[1])))
        if ignore_index is not None and not multilabel:
            samples.append(
                Sample(
                    f"ignored-{dim}", pred(rng.normal(0.0, 1.5, shape)), labels=_with_ignored(rng, labels, ignore_index)
                )
            )
    shape = (2, 3, 4, 4)
    labels = rng.integers(0, 3, (2, 4, 4))
    if multilabel:
        dense = rng.integers(0, 2, shape).astype(np.float64)
        dense[:, 2] = 0.0  # a class absent from the whole batch
        dense[1] = 0.0  # an image with no foreground at all
        exact = {"dense": dense}
        signs = 2.0 * dense - 1.0
        empty = {"dense": dense}
    else:
        empty_labels = rng.integers(0, 2, (2, 4, 4))  # class 2 absent from the batch
        empty_labels[1] = 0  # second image: background only
        empty = {"labels": empty_labels}
        exact = {"labels": labels}
        signs = 2.0 * one_hot(labels, 3) - 1.0
    # Probabilities of exactly 0 or 1 sit on the boundary of the input domain:
    # finite differences there step outside [0, 1].
    on_domain = params.get("from_logits", True)
    samples += [
        Sample("empty-class", pred(rng.normal(0.0, 1.0, shape)), **empty),
        Sample("perfect", pred(SATURATION * signs), **exact, smooth=on_domain),
        Sample("saturated-wrong", pred(-SATURATION * signs), **exact, smooth=on_domain),
    ]
    if not batch:
        samples.append(
            Sample(
                "sample-weight",
                pred(rng.normal(0.0, 1.0, shape)),
                **targets(labels, 3),
                sample_weight=rng.uniform(0.2, 2.0, (2,)),
            )
        )
    return samples


def focal_segmentation_samples(
    exponent: Callable[[Mapping[str, Any]], float],
) -> Callable[[np.random.Generator, Mapping[str, Any]], list[Sample]]:
    """:func:`segmentation_samples` for a loss that raises ``1 - T`` to
    ``exponent(params)``: below 1 the perfect prediction is marked
    ``float32=False`` (the loss has an infinite slope there)."""

    def samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
        out = segmentation_samples(rng, params)
        if exponent(params) >= 1.0:
            return out
        return [dataclasses.replace(s, float32=False) if s.name == "perfect" else s for s in out]

    return samples


def binary_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Inputs for elementwise binary losses: 0/1 and soft targets, saturated
    logits of both signs, perfect predictions."""
    from_logits = params.get("from_logits", True)
    samples = []
    for shape in [(6, 3), (2, 3, 4, 4)]:
        dim = "vector" if len(shape) == 2 else "2d"
        hard = rng.integers(0, 2, shape).astype(np.float64)
        samples.append(
            Sample(f"random-{dim}", _as_prediction(rng.normal(0, 2, shape), params, multilabel=True), dense=hard)
        )
        samples.append(
            Sample(
                f"soft-{dim}", _as_prediction(rng.normal(0, 2, shape), params, multilabel=True), dense=rng.random(shape)
            )
        )
    shape = (2, 3, 4, 4)
    hard = rng.integers(0, 2, shape).astype(np.float64)
    signs = 2.0 * hard - 1.0
    samples += [
        Sample("perfect", _as_prediction(SATURATION * signs, params, multilabel=True), dense=hard, smooth=from_logits),
        Sample(
            "saturated-wrong",
            _as_prediction(-SATURATION * signs, params, multilabel=True),
            dense=hard,
            smooth=from_logits,
        ),
        Sample(
            "sample-weight",
            _as_prediction(rng.normal(0, 1, shape), params, multilabel=True),
            dense=hard,
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    return samples


def regression_samples(rng: np.random.Generator, params: Mapping[str, Any]) -> list[Sample]:
    """Inputs for elementwise regression losses: small and large errors and
    exact predictions (zero error)."""
    samples = []
    for shape in [(6, 3), (2, 3, 4, 4)]:
        dim = "vector" if len(shape) == 2 else "2d"
        target = rng.normal(0, 1, shape)
        samples.append(Sample(f"random-{dim}", target + rng.normal(0, 0.7, shape), dense=target))
    target = rng.normal(0, 1, (2, 3, 4, 4))
    samples += [
        Sample("large-errors", target + rng.normal(0, 10.0, target.shape), dense=target),
        Sample("perfect", target.copy(), dense=target),
        Sample(
            "sample-weight",
            target + rng.normal(0, 1.0, target.shape),
            dense=target,
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    return samples
