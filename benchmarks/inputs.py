"""Benchmark inputs for any registered loss, derived from its own sample generator.

A loss's ``samples`` generator (the parity matrix's inputs) already knows what
the loss accepts: value ranges, label conventions, extra inputs, sequence
lengths, box coordinates.  The benchmark scales one of those samples up to a
benchmark size instead of restating that knowledge per loss:

* the template is the loss's first ``random*`` smooth sample of the size's
  rank (2 for the classification size, 4 for 2-D and 5 for 3-D segmentation),
  built with the parameters being benchmarked (so ``from_logits=False`` gives
  probabilities);
* every axis gets an index map from the benchmark size into the template
  (random indices; the class axis of a class-axis loss cycles through the
  template's classes), applied alike to the prediction, the target and each
  extra input according to its declared shape (``spec.inputs.Extra``).  Every
  value is thus one the loss accepts, and positions that belong together
  (a prediction and its target, a pair of embeddings) stay together;
* the prediction is shrunk towards 0 by a random 0-0.1% per element (so
  probabilities stay probabilities): resized copies of one value would
  otherwise tie, and ties in max-pooling or sorting route the gradient
  differently in different implementations;
* a loss whose sample has fixed non-batch sizes (4 box coordinates, a CTC
  sequence) fails at the resized shape; the classification size then keeps
  the template's non-batch sizes and only resizes the batch.

A size applies to a loss when its generator has a sample of that rank (the
shapes its parity matrix proves) and the loss evaluates on the built inputs;
the caller checks the latter.  Labels keep the template's class range, so a
template with 3 classes scaled to 4 has an empty fourth class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spec.registry import LossSpec
from spec.samples import Sample, one_hot

SEED = 0
JITTER = 1e-3  # relative jitter of the resized prediction


@dataclass(frozen=True)
class Size:
    """One benchmark size: a name and the channels-first prediction shape."""

    name: str
    shape: tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def label(self) -> str:
        return "x".join(str(d) for d in self.shape)


# the sizes: classification (N, C), 2-D segmentation (N, C, H, W), 3-D (N, C, D, H, W)
FULL_SIZES = (Size("cls", (16, 10)), Size("2d", (8, 4, 128, 128)), Size("3d", (2, 4, 64, 64, 64)))
QUICK_SIZES = (Size("cls", (16, 10)), Size("2d", (2, 4, 32, 32)), Size("3d", (1, 4, 16, 16, 16)))
CHECK_SIZES = (Size("cls", (6, 5)), Size("2d", (2, 4, 6, 5)), Size("3d", (2, 4, 3, 4, 3)))
SIZE_SETS = {"full": FULL_SIZES, "quick": QUICK_SIZES, "check": CHECK_SIZES}

LABELS, ONE_HOT, DENSE = "labels", "one-hot", "dense"


@dataclass
class CaseInputs:
    """Channels-first NumPy inputs of one benchmark case.

    Attributes:
        y_pred: float32 predictions.
        y_true: the target in the case's form: int64 labels, float32 one-hot or
            dense targets, or one target per sample.
        extras: the loss's extra inputs by name (float32 or int64).
        form: ``"labels"``, ``"one-hot"`` or ``"dense"``.
        labels: the int64 labels when the loss takes labels (peers may need
            them in another form), else None.
        source: how the inputs were built (for the report).
    """

    y_pred: np.ndarray
    y_true: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    form: str = DENSE
    labels: np.ndarray | None = None
    source: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.y_pred.shape)


def target_forms(spec: LossSpec, size: Size, one_hot_too: bool) -> tuple[str, ...]:
    """The target forms benchmarked: labels (and, if asked, one-hot) for a
    loss that takes integer labels, the dense target otherwise."""
    if spec.inputs.kind == "classes" and spec.inputs.labels:
        return (LABELS, ONE_HOT) if one_hot_too and size.rank > 2 else (LABELS,)
    return (DENSE,)


def _fits(spec: LossSpec, sample: Sample, form: str) -> bool:
    if sample.sample_weight is not None:
        return False
    if form == LABELS:
        return sample.labels is not None
    if form == ONE_HOT:  # a dense target of the prediction's shape: one-hot, or 0/1 for multi-label parameters
        return sample.labels is not None or sample.dense is not None
    return sample.dense is not None or (sample.labels is not None and spec.inputs.kind == "classes")


def template(spec: LossSpec, params: dict[str, Any], rank: int, form: str) -> Sample | None:
    """The loss's own sample of ``rank`` to scale up: ``random*`` and smooth first."""
    samples = spec.samples(np.random.default_rng(SEED), params)
    fits = [s for s in samples if s.y_pred.ndim == rank and _fits(spec, s, form)]
    fits.sort(key=lambda s: (not s.name.startswith("random"), not s.smooth))
    return fits[0] if fits else None


def template_for(spec: LossSpec, params: dict[str, Any], size: Size, form: str) -> tuple[Sample | None, bool]:
    """The template for ``size`` and whether only its batch axis may be resized.

    The classification size falls back to the loss's lowest-rank sample when
    it has no rank-2 one (a CTC sequence), resizing its batch only."""
    found = template(spec, params, size.rank, form)
    if found is not None or size.rank != 2:
        return found, False
    ranks = sorted({s.y_pred.ndim for s in spec.samples(np.random.default_rng(SEED), params)})
    if ranks and ranks[0] == 3:
        return template(spec, params, 3, form), True
    return None, False


def _index_maps(
    rng: np.random.Generator, have: Sequence[int], want: Sequence[int], class_axis: int | None, batch_only: bool
) -> list[np.ndarray]:
    """Per axis, the template index of each benchmark index: random, except
    the class axis (cycled) and, resizing the batch only, the other axes (kept)."""
    maps = []
    for axis, (n_have, n_want) in enumerate(zip(have, want, strict=True)):
        if axis == class_axis or (batch_only and axis > 0):
            maps.append(np.arange(n_want) % n_have)
        else:
            maps.append(rng.integers(0, n_have, n_want))
    return maps


def _take(array: np.ndarray, maps: Sequence[np.ndarray]) -> np.ndarray:
    return np.ascontiguousarray(array[np.ix_(*maps)])


def _without(maps: list[np.ndarray], axis: int | None) -> list[np.ndarray]:
    return maps if axis is None else maps[:axis] + maps[axis + 1 :]


def _float(array: np.ndarray) -> np.ndarray:
    return array.astype(np.float32)


def build(
    spec: LossSpec, params: dict[str, Any], size: Size, form: str, *, batch_only: bool = False
) -> CaseInputs | None:
    """Inputs of ``spec`` at ``size`` in target ``form`` (None where the loss
    has no sample to scale to that size)."""
    sample, forced = template_for(spec, params, size, form)
    if sample is None:
        return None
    batch_only = batch_only or forced
    have = sample.y_pred.shape
    want = (size.shape[0], *have[1:]) if batch_only else size.shape
    class_axis = 1 if spec.inputs.kind == "classes" else None
    rng = np.random.default_rng([SEED, size.rank])
    maps = _index_maps(rng, have, want, class_axis, batch_only)
    y_pred = _float(_jittered(rng, _take(sample.y_pred, maps)))
    labels = None if sample.labels is None else _take(sample.labels, _without(maps, class_axis)).astype(np.int64)
    if form == LABELS:
        y_true = labels
    elif labels is not None and (form == ONE_HOT or sample.dense is None):
        y_true = _float(one_hot(labels, want[1]))
    elif spec.inputs.target == "sample":
        y_true = _float(sample.dense[maps[0]])
    else:
        y_true = _float(_take(sample.dense, maps))
    extras = {e.name: _extra(e, sample.extras[e.name], maps, class_axis) for e in spec.inputs.extras}
    how = "batch resized" if batch_only else "resized"
    source = f"sample {sample.name!r} {tuple(have)} {how}"
    return CaseInputs(y_pred, y_true, extras, form, labels if spec.inputs.labels else None, source)


def _jittered(rng: np.random.Generator, resized: np.ndarray) -> np.ndarray:
    """``resized`` times ``1 - u``, ``0 <= u < JITTER``: every value moves towards 0 by at most
    0.1%, so a probability stays a probability, a positive value positive, and copies of one
    value no longer tie (exact zeros stay zeros)."""
    return resized * (1.0 - JITTER * rng.random(resized.shape))


def _extra(extra: Any, value: np.ndarray, maps: list[np.ndarray], class_axis: int | None) -> np.ndarray:
    """An extra input resized by the maps of its declared shape."""
    chosen = {
        "prediction": maps,
        "positions": _without(maps, class_axis),
        "sample": maps[:1],
        "classes": [maps[0], maps[class_axis if class_axis is not None else -1]],
    }[extra.shape]
    resized = _take(value, chosen)
    return resized.astype(np.int64) if extra.integer else _float(resized)


def channels_last(spec: LossSpec, inputs: CaseInputs) -> CaseInputs:
    """The same inputs in the Keras layout: the class axis of the prediction,
    of a dense target and of prediction-shaped extras moved last."""
    if not spec.has_class_axis:
        return inputs

    def last(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(array, 1, -1)) if array.ndim > 1 else array

    shaped = {e.name: e.shape for e in spec.inputs.extras}
    y_true = inputs.y_true if inputs.form == LABELS or inputs.y_true.ndim != inputs.y_pred.ndim else last(inputs.y_true)
    extras = {k: last(v) if shaped[k] == "prediction" else v for k, v in inputs.extras.items()}
    return CaseInputs(last(inputs.y_pred), y_true, extras, inputs.form, inputs.labels, inputs.source)
