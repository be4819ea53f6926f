"""Knowledge distillation: a student matches a teacher's softened outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from spec.inputs import Extra, Inputs
from spec.losses._classification import CLASS_AXIS
from spec.losses._targets import along_axis
from spec.ops import Ops
from spec.params import Param, ParamSet
from spec.reduction import Combined
from spec.registry import LossSpec, get, register
from spec.samples import SATURATION, Sample, classification_samples

Tensor = Any

# logits added to the classes a term leaves out: exp() of it is exactly 0
_EXCLUDED = -1e9


def knowledge_distillation(
    ops: Ops, y_pred: Tensor, y_true: Tensor, *, class_axis: int, temperature: float, teacher: str
) -> Tensor:
    r"""Temperature-softened KL divergence from the teacher to the student, scaled by :math:`T^2`.

    .. math::

        \ell = T^2 \sum_c q_c \left(\log q_c - \log \mathrm{softmax}(z / T)_c\right),
        \qquad q = \mathrm{softmax}(t / T)

    Args:
        y_pred: student logits :math:`z`, class axis ``class_axis``, shape ``(N, C, ...)``.
        y_true: teacher logits :math:`t` (``teacher="logits"``) or teacher
            probabilities :math:`q` used as given (``teacher="probabilities"``),
            with ``y_pred``'s shape.
        class_axis: axis of the classes.
        temperature: :math:`T > 0`; the :math:`T^2` factor keeps gradient
            magnitudes comparable across temperatures (Hinton et al.).
        teacher: ``"logits"`` or ``"probabilities"``.

    Returns:
        One value per position (the class axis summed); ``"mean"`` over ``(N, C)``
        inputs equals ``T**2 * torch.nn.KLDivLoss(reduction="batchmean")(
        log_softmax(z / T), softmax(t / T))`` (tested in
        ``tests/test_peers_distillation.py``, values and gradients of the torch
        module, ``teacher="logits"``).

    References:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", NIPS DL workshop 2015.
    """
    if teacher == "logits":
        log_q = ops.log_softmax(y_true / temperature, class_axis)
        q = ops.exp(log_q)
    else:
        q = y_true
        positive = ops.greater(q, 0.0)
        log_q = ops.log(ops.where(positive, q, 1.0))
    log_p = ops.log_softmax(y_pred / temperature, class_axis)
    return (temperature * temperature) * ops.sum(q * (log_q - log_p), axis=class_axis)


def incremental_distillation(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    teacher: Tensor,
    class_axis: int,
    old_classes: int,
    temperature: float,
    lambda_distill: float,
    ce_classes: str,
    ignore_index: int | None,
) -> Combined:
    r"""Class-incremental learning: distillation on the old classes, cross-entropy on the new data.

    .. math::

        \ell = \mathrm{CE}(z_{S}, y) + \lambda\, T^2\,
        \mathrm{KL}\big(\mathrm{softmax}(t_{1..K}/T)\,\|\,\mathrm{softmax}(z_{1..K}/T)\big)

    where :math:`K` = ``old_classes`` (the first :math:`K` entries of the class
    axis are the classes the teacher learned) and :math:`S` is the class set of
    the cross-entropy: the new classes :math:`K+1..C` (``ce_classes="new"``,
    Learning without Forgetting with a shared head) or all classes
    (``"all"``, iCaRL/end-to-end incremental style).  Both terms are the
    registered ``categorical_crossentropy`` and ``knowledge_distillation`` on
    the logits restricted by masking; each is reduced on its own.

    Args:
        y_pred: student logits :math:`z`, shape ``(N, C, ...)``, all classes.
        y_true: integer labels of the current data (or one-hot targets) over all
            ``C`` classes; with ``ce_classes="new"`` they must be new classes.
        teacher: extra input, the old model's logits :math:`t` with
            ``y_pred``'s shape; only the first ``old_classes`` entries are read.
        class_axis: axis of the classes.
        old_classes: :math:`K \ge 1`, the number of old classes (the split).
        temperature: :math:`T` of the distillation term.
        lambda_distill: :math:`\lambda`, the weight of the distillation term.
        ce_classes: ``"new"`` or ``"all"``, the classes the cross-entropy normalises over.
        ignore_index: label excluded from the cross-entropy.

    Returns:
        A combined loss (cross-entropy elements per position, distillation
        elements per position); ``"none"`` gives one value per sample.  For
        ``(N, C)`` logits, integer labels and ``"mean"`` it equals
        ``F.cross_entropy(z[:, K:], y - K)`` (``ce_classes="new"``) or
        ``F.cross_entropy(z, y)`` (``"all"``) plus ``lambda * T**2 *
        F.kl_div(F.log_softmax(z[:, :K] / T, 1), F.softmax(t[:, :K] / T, 1),
        reduction="batchmean")`` (tested in ``tests/test_peers_distillation.py``,
        values and gradients of the torch module).

    References:
        Li & Hoiem, "Learning without Forgetting", ECCV 2016 / TPAMI 2018;
        Rebuffi et al., "iCaRL: Incremental Classifier and Representation Learning", CVPR 2017.
    """
    num_classes = ops.shape(y_pred)[class_axis]
    old = along_axis(ops, [0.0] * old_classes + [_EXCLUDED] * (num_classes - old_classes), y_pred, class_axis)
    new = along_axis(ops, [_EXCLUDED] * old_classes + [0.0] * (num_classes - old_classes), y_pred, class_axis)
    ce_logits = y_pred + new if ce_classes == "new" else y_pred
    ce = get("categorical_crossentropy").formula(
        ops,
        ce_logits,
        y_true,
        class_axis=class_axis,
        from_logits=True,
        label_smoothing=0.0,
        class_weights=None,
        ignore_index=ignore_index,
        epsilon=1e-7,
    )
    distill = knowledge_distillation(
        ops, y_pred + old, teacher + old, class_axis=class_axis, temperature=temperature, teacher="logits"
    )
    return Combined(((1.0, ce), (lambda_distill, distill)))


def _teacher_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Student and teacher logits, including an exact match and saturated teachers."""
    samples = []
    for shape in [(5, 4), (2, 4, 3, 5)]:
        dim = "vector" if len(shape) == 2 else "2d"
        teacher = rng.normal(0.0, 2.0, shape)
        dense = teacher if params["teacher"] == "logits" else _softmax(teacher / params["temperature"])
        samples.append(Sample(f"random-{dim}", rng.normal(0.0, 2.0, shape), dense=dense))
    teacher = rng.normal(0.0, 2.0, (2, 4, 3, 5))
    exact = teacher if params["teacher"] == "logits" else _softmax(teacher / params["temperature"])
    saturated = SATURATION * np.sign(rng.normal(size=(2, 4, 3, 5)))
    # a perfect student on confident outputs: the gradient is 0 to rounding in
    # every dtype (on moderate logits float32 leaves ~1e-7 of p - q)
    confident = (
        params["temperature"] * SATURATION * (np.arange(4).reshape(1, 4, 1, 1) == rng.integers(0, 4, (2, 1, 3, 5)))
    )
    samples += [
        Sample(
            "perfect",
            confident,
            dense=confident if params["teacher"] == "logits" else _softmax(confident / params["temperature"]),
        ),
        Sample(
            "saturated",
            saturated,
            dense=-saturated if params["teacher"] == "logits" else _softmax(-saturated),
            smooth=False,
        ),
        Sample(
            "sample-weight",
            rng.normal(0.0, 1.0, (2, 4, 3, 5)),
            dense=exact,
            sample_weight=rng.uniform(0.2, 2.0, (2,)),
        ),
    ]
    return samples


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _incremental_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Classification samples whose labels are new classes (for ``ce_classes="new"``), with teachers."""
    samples = []
    for sample in classification_samples(rng, params):
        num_classes = sample.y_pred.shape[1]
        labels = sample.labels
        if labels is not None and params["ce_classes"] == "new":
            shift = params["old_classes"]
            labels = np.where(labels == params.get("ignore_index"), labels, shift + labels % (num_classes - shift))
        if sample.dense is not None:
            continue  # soft targets: covered by the cross-entropy's own matrix
        y_pred = sample.y_pred
        teacher = rng.normal(0.0, 2.0, y_pred.shape)
        if sample.name == "perfect":
            # the label far ahead, one old class confidently ahead of the other
            # old ones, teacher = student: both terms vanish to rounding in every dtype
            scale = 2.0 * SATURATION * params["temperature"]
            classes = np.arange(num_classes).reshape((1, num_classes) + (1,) * (y_pred.ndim - 2))
            favourite = rng.integers(0, params["old_classes"], (y_pred.shape[0], 1, *y_pred.shape[2:]))
            y_pred = np.where(classes == favourite, scale, -scale)
            y_pred = np.where(classes == np.expand_dims(labels, 1), 2.0 * scale, y_pred)
            teacher = y_pred.copy()
        samples.append(
            Sample(
                sample.name,
                y_pred,
                labels=labels,
                sample_weight=sample.sample_weight,
                smooth=sample.smooth,
                extras={"teacher": teacher},
            )
        )
    return samples


register(
    LossSpec(
        name="knowledge_distillation",
        formula=knowledge_distillation,
        params=ParamSet(
            (
                CLASS_AXIS,
                Param("temperature", "float", 4.0, "softmax temperature T", low=0.0, low_open=True),
                Param(
                    "teacher",
                    "choice",
                    "logits",
                    "y_true holds teacher logits or probabilities",
                    choices=("logits", "probabilities"),
                ),
            )
        ),
        inputs=Inputs("classes", prediction="student logits", min_ndim=2),
        family="distillation",
        presets={
            "default": {},
            "cold": {"temperature": 1.0},
            "probabilities": {"teacher": "probabilities", "temperature": 2.0},
        },
        samples=_teacher_samples,
    )
)

register(
    LossSpec(
        name="incremental_distillation",
        formula=incremental_distillation,
        params=ParamSet(
            (
                CLASS_AXIS,
                Param("old_classes", "int", 2, "number of old classes, the first entries of the class axis", low=1),
                Param("temperature", "float", 2.0, "temperature T of the distillation term", low=0.0, low_open=True),
                Param("lambda_distill", "float", 1.0, "weight of the distillation term", low=0.0),
                Param("ce_classes", "choice", "new", "classes the cross-entropy covers", choices=("new", "all")),
                Param("ignore_index", "int", None, "label excluded from the cross-entropy", optional=True),
            )
        ),
        inputs=Inputs(
            "classes",
            labels=True,
            prediction="student logits over old and new classes",
            min_ndim=2,
            extras=(Extra("teacher", "the old model's logits, y_pred's shape"),),
        ),
        family="distillation",
        presets={
            "default": {},
            "all_classes": {"ce_classes": "all", "old_classes": 3, "temperature": 1.0},
            "weighted_ignore": {"lambda_distill": 0.3, "ignore_index": 255},
        },
        samples=_incremental_samples,
    )
)
