"""Conformance of ``losses_torch.compat.keras`` / ``losses_tf.compat.keras`` with Keras 3.15.1's
``keras.losses`` on its TensorFlow backend.

For every compat class: a grid of constructor arguments (the defaults and
non-default values of each), every Keras reduction, ``sample_weight`` absent,
per sample and per element (where Keras takes it), random inputs of 2-D and
higher-rank shapes, values and gradients with respect to ``y_pred``.  The
real Keras class, our torch class and our TensorFlow class run on the same
arrays with the same ``dtype`` (see ``tests/compat_conformance.py``), in
float64 (relative 1e-10) and float32 (relative 1e-5).  One exception:
``keras.losses.CTC`` computes in float32 even for float64 inputs (it casts
before ``tf.nn.ctc_loss``), so its float64 cases are held to float32
tolerances.  Probabilities stay away from Keras' clip at 1e-7, and scores
away from the hinge kinks, where the peers' subgradients differ (the
definitions' notes say how).

Then Keras-native behaviour of the TensorFlow classes: ``get_config`` round
trips, Keras serialization, ``model.compile``/``fit``; the dtype rule of each
framework; and every refused argument's error.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# torch must be imported before tensorflow: keep this order.
# isort: off
import numpy as np
import pytest
import torch

import losses_torch.compat.keras as ours_torch

import keras
import tensorflow as tf

import losses_tf.compat.keras as ours_tf

from compat_conformance import RTOL, Case, assert_conforms, rng_for, run_tf, run_torch
from spec import compat

# isort: on

ORDER = ("y_true", "y_pred", "sample_weight")
REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")
SHAPES = {"2d": (4, 3), "3d": (2, 3, 4), "4d": (2, 3, 4, 2)}
FLOAT32_PEER = {"float64": 3e-5, "float32": 3e-5}  # keras.losses.CTC computes in float32


@dataclass
class KerasCase(Case):
    """A conformance case; ``values_only`` where the peer's gradient is not the derivative of its value."""

    values_only: bool = False

    __repr__ = Case.__repr__


def _grid(**axes) -> list[dict]:
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]


def _weights(rng, losses_shape: tuple[int, ...], batch: int, kinds) -> list[tuple[str, np.ndarray | None]]:
    """``sample_weight`` arrays Keras takes for per-sample losses of ``losses_shape``:
    ``(N,)`` (``(N, 1)`` for losses of rank 2 and more), the losses' own shape,
    and ``(N, 1)`` against rank-1 losses (Keras expands those to ``(N, 1)``)."""
    out = []
    for kind in kinds:
        if kind is None:
            out.append(("unweighted", None))
        elif kind == "sample":
            n = losses_shape[0] if losses_shape else batch
            shape = (n,) if len(losses_shape) <= 1 else (n, 1)
            out.append(("per-sample", rng.uniform(0.2, 2.0, shape)))
        elif kind == "element" and len(losses_shape) >= 2:
            out.append(("per-element", rng.uniform(0.2, 2.0, losses_shape)))
        elif kind == "column" and len(losses_shape) == 1:
            out.append(("column", rng.uniform(0.2, 2.0, (losses_shape[0], 1))))
    return out


def _cases(
    name: str,
    variants: list[tuple[str, dict, tuple[int, ...]]],
    inputs,
    losses_shape,
    *,
    reductions_on: tuple[str, ...] = ("2d", "3d"),
    rtol=None,
    values_only=lambda shape, args, inputs: False,
):
    """Every Keras reduction with every weight kind on the shapes in
    ``reductions_on`` (the kinds of inputs in turn), then each constructor
    variant (``(shape name, args, shape)``) with the default reduction, every
    kind of input, unweighted and weighted.

    ``inputs(rng, shape, args)`` gives ``[(label, {"y_true": ..., "y_pred": ...})]``;
    ``losses_shape(shape, args)`` Keras' per-sample losses' shape; cases where
    ``values_only(shape, args, input label)`` compare values only."""

    def make():
        cases = []
        plans = [
            (shape_name, {"reduction": reduction}, SHAPES[shape_name], (None, "sample", "element", "column"), index)
            for shape_name in reductions_on
            for index, reduction in enumerate(REDUCTIONS)
        ]
        plans += [(shape_name, args, shape, (None, "sample", "element"), None) for shape_name, args, shape in variants]
        for shape_name, args, shape, kinds, turn in plans:
            rng = rng_for("keras", name, shape_name, args)
            problems = inputs(rng, shape, args)
            if turn is not None:  # the reductions take the input kinds in turn
                problems = problems[turn % len(problems) :][:1]
            for input_label, call in problems:
                for weight_label, weight in _weights(rng, losses_shape(shape, args), shape[0], kinds):
                    full = dict(call) if weight is None else dict(call, sample_weight=weight)
                    label = f"{shape_name}-{input_label}-{args}-{weight_label}"
                    only = values_only(shape, args, input_label)
                    cases.append(KerasCase(args, full, ("y_pred",), label, rtol=rtol or {}, values_only=only))
        return cases

    return make


def _per_position(shape, args):
    return shape[:-1]


def _variants(**per_shape) -> list[tuple[str, dict, tuple[int, ...]]]:
    """``shape name -> list of args`` as the ``(shape name, args, shape)`` variants of :func:`_cases`."""
    return [(shape_name, args, SHAPES[shape_name]) for shape_name, grid in per_shape.items() for args in grid]


# --------------------------------------------------------------------------- inputs


def _regression(rng, shape, args):
    y = rng.normal(size=shape)
    return [("normal", {"y_true": y, "y_pred": y + rng.normal(0.0, 1.5, shape)})]


def _percentage(rng, shape, args):
    y = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)
    return [("away-from-0", {"y_true": y, "y_pred": y + rng.normal(0.0, 1.0, shape)})]


def _logarithmic(rng, shape, args):
    # non-negative targets; predictions partly negative (Keras floors both at epsilon)
    return [("floored", {"y_true": np.exp(rng.normal(size=shape)), "y_pred": rng.normal(1.0, 1.5, shape)})]


def _counts(rng, shape, args):
    return [("counts", {"y_true": rng.poisson(2.0, shape).astype(np.float64), "y_pred": rng.uniform(0.1, 3.0, shape)})]


def _hinge_targets(rng, shape, args):
    x = rng.normal(0.0, 1.5, shape)
    binary = (rng.random(shape) < 0.5).astype(np.float64)
    return [("binary", {"y_true": binary, "y_pred": x}), ("signed", {"y_true": 2.0 * binary - 1.0, "y_pred": x})]


def _binary(rng, shape, args):
    x = rng.normal(0.0, 2.0, shape) if args.get("from_logits") else rng.uniform(0.02, 0.98, shape)
    hard = (rng.random(shape) < 0.4).astype(np.float64)
    return [("hard", {"y_true": hard, "y_pred": x}), ("soft", {"y_true": rng.random(shape), "y_pred": x})]


def _simplex(rng, shape, axis=-1):
    p = rng.dirichlet(np.full(shape[axis], 2.0), tuple(np.delete(shape, axis)))
    return np.moveaxis(p, -1, axis)


def _one_hot(rng, shape, axis=-1):
    labels = rng.integers(0, shape[axis], tuple(np.delete(shape, axis)))
    return np.moveaxis(np.eye(shape[axis])[labels], -1, axis)


def _categorical(rng, shape, args):
    axis = args.get("axis", -1)
    x = rng.normal(0.0, 2.0, shape) if args.get("from_logits") else _simplex(rng, shape, axis)
    return [
        ("one-hot", {"y_true": _one_hot(rng, shape, axis), "y_pred": x}),
        ("soft", {"y_true": _simplex(rng, shape, axis), "y_pred": x}),
    ]


def _sparse(rng, shape, args):
    x = rng.normal(0.0, 2.0, shape) if args.get("from_logits") else _simplex(rng, shape)
    labels = rng.integers(0, shape[-1], shape[:-1])
    labels.flat[0] = 1  # ignore_class=1 is present, and so is a valid position
    labels.flat[-1] = 0
    return [("labels", {"y_true": labels, "y_pred": x}), ("labels-1", {"y_true": labels[..., None], "y_pred": x})]


def _generalized(rng, shape, args):
    return [("labels", {"y_true": rng.integers(0, shape[-1], shape[:-1]), "y_pred": _simplex(rng, shape)})]


def _vectors(rng, shape, args):
    return [("normal", {"y_true": rng.normal(size=shape), "y_pred": rng.normal(size=shape)})]


def _distributions(rng, shape, args):
    p = _simplex(rng, shape)
    return [
        ("soft", {"y_true": _simplex(rng, shape), "y_pred": p}),
        ("one-hot", {"y_true": _one_hot(rng, shape), "y_pred": p}),
    ]


def _scores(rng, shape, args):
    return [("one-hot", {"y_true": _one_hot(rng, shape), "y_pred": rng.normal(0.0, 1.5, shape)})]


def _masks(rng, shape, args):
    probs = rng.uniform(0.02, 0.98, shape)
    return [("binary", {"y_true": (rng.random(shape) < 0.4).astype(np.float64), "y_pred": probs})]


def _embeddings(rng, shape, args):
    x = rng.normal(size=shape)
    labels = np.array([0, 1, 0, 2, 1, 0])  # label 2 has no positive: Keras masks that anchor
    return [("unit", {"y_true": labels, "y_pred": x / np.linalg.norm(x, axis=1, keepdims=True)})]


def _sequences(rng, shape, args):
    batch, frames, classes = shape
    cases = []
    for width in (4, frames):
        lengths = rng.integers(1, 4, batch)
        labels = rng.integers(1, classes, (batch, width))
        labels[np.arange(width)[None, :] >= lengths[:, None]] = 0  # Keras pads with 0, its blank
        cases.append((f"width-{width}", {"y_true": labels, "y_pred": rng.normal(0.0, 1.5, shape)}))
    # a 0 inside a row: Keras' length counts the non-zeros and takes that many first entries, the 0 included
    inside = np.array([[1, 0, 2, 0], [3, 1, 0, 0], [2, 2, 0, 0]])[:batch]
    cases.append(("zero-inside", {"y_true": inside, "y_pred": rng.normal(0.0, 1.5, shape)}))
    return cases


# --------------------------------------------------------------------------- per-sample losses' shapes


def _unnormalised_logit_targets(shape, args):
    """Keras 3.15.1's CCE from logits with its smoothing over the last axis' size
    (``axis`` another axis): the smoothed targets do not sum to 1, and TensorFlow's
    fused kernel then returns ``softmax - targets``, not the gradient of its
    value (``test_cce_gradient_of_unnormalised_targets``)."""
    axis = args.get("axis", -1) % len(shape)
    return bool(args.get("from_logits")) and bool(args.get("label_smoothing")) and shape[axis] != shape[-1]


def _kept(shape, args):
    """Keras' Dice/Tversky keep the axes they do not sum."""
    axis = args.get("axis")
    if axis is None:
        return ()
    summed = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(d for a, d in enumerate(shape) if a not in summed)


def _without_axis(shape, args):
    axis = args.get("axis", -1) % len(shape)
    return shape[:axis] + shape[axis + 1 :]


POINTWISE = {
    "MeanSquaredError": _regression,
    "MeanAbsoluteError": _regression,
    "MeanAbsolutePercentageError": _percentage,
    "MeanSquaredLogarithmicError": _logarithmic,
    "LogCosh": _regression,
    "Poisson": _counts,
    "Hinge": _hinge_targets,
    "SquaredHinge": _hinge_targets,
}

CASES = {name: _cases(name, [], inputs, _per_position) for name, inputs in POINTWISE.items()}
CASES["Huber"] = _cases(
    "Huber", _variants(**{s: [{"delta": d} for d in (0.3, 2.5)] for s in ("2d", "3d")}), _regression, _per_position
)
CASES["BinaryCrossentropy"] = _cases(
    "BinaryCrossentropy",
    _variants(
        **{s: _grid(from_logits=[False, True], label_smoothing=[0.0, 0.2], axis=[-1, 1])[1:] for s in ("2d", "3d")}
    ),
    _binary,
    _without_axis,
)
_FOCAL_VARIANTS = [
    {"apply_class_balancing": True},
    {"apply_class_balancing": True, "alpha": 0.6, "gamma": 0.5},
    {"alpha": 0.6, "gamma": 0.0},
    {"from_logits": True},
    {"from_logits": True, "apply_class_balancing": True, "label_smoothing": 0.1},
    {"label_smoothing": 0.2, "axis": 1, "gamma": 3.0},
]
CASES["BinaryFocalCrossentropy"] = _cases(
    "BinaryFocalCrossentropy", _variants(**{s: _FOCAL_VARIANTS for s in ("2d", "3d")}), _binary, _without_axis
)
CASES["CategoricalCrossentropy"] = _cases(
    "CategoricalCrossentropy",
    _variants(
        **{"2d": _grid(from_logits=[False, True], label_smoothing=[0.0, 0.2])[1:]},
        **{"3d": _grid(from_logits=[False, True], label_smoothing=[0.0, 0.2], axis=[-1, 1])[1:]},
    ),
    _categorical,
    _without_axis,
    values_only=lambda shape, args, inputs: _unnormalised_logit_targets(shape, args),
)
CASES["CategoricalFocalCrossentropy"] = _cases(
    "CategoricalFocalCrossentropy",
    _variants(
        **{
            "2d": [
                {"alpha": 1.0, "gamma": 0.0},
                {"alpha": [0.2, 1.0, 3.0], "gamma": 1.5},
                {"from_logits": True, "label_smoothing": 0.1},
            ],
            "3d": [
                {"alpha": 0.5, "gamma": 3.0, "from_logits": True},
                {"alpha": [0.2, 1.0, 3.0, 0.7]},
                {"label_smoothing": 0.2, "axis": 1},
                {"label_smoothing": 0.1, "axis": 1, "from_logits": True, "gamma": 0.5},
            ],
        }
    ),
    _categorical,
    _without_axis,
)
CASES["SparseCategoricalCrossentropy"] = _cases(
    "SparseCategoricalCrossentropy",
    _variants(**{s: _grid(from_logits=[False, True], ignore_class=[None, 1, -1])[1:] for s in ("2d", "3d")})
    + _variants(**{"3d": [{"axis": 2, "ignore_class": 1, "from_logits": True}]}),
    _sparse,
    _per_position,
)
CASES["CategoricalGeneralizedCrossEntropy"] = _cases(
    "CategoricalGeneralizedCrossEntropy",
    _variants(**{s: [{"q": q} for q in (0.2, 0.9)] for s in ("2d", "3d")}),
    _generalized,
    _per_position,
)
CASES["CosineSimilarity"] = _cases(
    "CosineSimilarity",
    _variants(**{"2d": [{"axis": 0}, {"axis": 1}], "3d": [{"axis": 1}, {"axis": 0}, {"axis": -2}]}),
    _vectors,
    _without_axis,
)
CASES["KLDivergence"] = _cases("KLDivergence", [], _distributions, _per_position)
CASES["CategoricalHinge"] = _cases("CategoricalHinge", [], _scores, _per_position)
_DICE_AXES = {"2d": [{"axis": 1}, {"axis": (0,)}], "4d": [{"axis": (1, 2)}, {"axis": (0, 1, 2)}, {"axis": (1, 2, 3)}]}
CASES["Dice"] = _cases("Dice", _variants(**_DICE_AXES), _masks, _kept, reductions_on=("2d", "4d"))
CASES["Tversky"] = _cases(
    "Tversky",
    _variants(
        **{
            s: [dict(axis, alpha=a, beta=b) for axis in [{}, *_DICE_AXES[s][:1]] for a, b in [(0.3, 0.7), (1.0, 0.2)]]
            for s in ("2d", "4d")
        }
    ),
    _masks,
    _kept,
    reductions_on=("2d", "4d"),
)
SHAPES["embeddings"] = (6, 3)
SHAPES["sequences"] = (3, 6, 4)
CASES["Circle"] = _cases(
    "Circle",
    _variants(embeddings=_grid(gamma=[80.0, 16.0], margin=[0.4, 0.25], remove_diagonal=[True, False])[1:]),
    _embeddings,
    lambda shape, args: shape[:1],
    reductions_on=("embeddings",),
)
CASES["CTC"] = _cases(
    "CTC",
    [],
    _sequences,
    lambda shape, args: shape[:1],
    reductions_on=("sequences",),
    rtol=FLOAT32_PEER,
    # a blank inside a label: the values agree, TensorFlow's gradient w.r.t. the blank's scores does not
    values_only=lambda shape, args, inputs: inputs == "zero-inside",
)


def _all_cases():
    for name, make in CASES.items():
        for index, case in enumerate(make()):
            yield pytest.param(name, case, id=f"{name}-{index}-{case.label}")


def test_every_keras_compat_class_has_cases():
    assert set(CASES) == {d.name for d in compat.definitions("keras")}
    assert len(CASES) == 22


def test_keras_runs_on_tensorflow():
    assert keras.backend.backend() == "tensorflow"


@pytest.mark.parametrize(("name", "case"), list(_all_cases()))
def test_keras_compat_conforms(name, case):
    compare = _same_values if case.values_only else assert_conforms
    for dtype in ("float64", "float32"):
        rtol = case.rtol.get(dtype, RTOL[dtype])
        args = dict(case.args, dtype=dtype)
        expected = run_tf(getattr(keras.losses, name)(**args), case, ORDER, dtype)
        compare(run_torch(getattr(ours_torch, name)(**args), case, ORDER, dtype), expected, rtol, f"torch {dtype}")
        compare(run_tf(getattr(ours_tf, name)(**args), case, ORDER, dtype), expected, rtol, f"tensorflow {dtype}")


def _same_values(ours, peer, rtol, what):
    """The values of a case whose peer gradient is not the derivative of its value."""
    scale = max(float(np.abs(peer[0]).max(initial=0.0)), 1e-30)
    np.testing.assert_allclose(ours[0], peer[0], rtol=0.0, atol=rtol * scale, err_msg=f"{what}: value")


# --------------------------------------------------------------------------- Keras' own rules, beyond the grid


def _keras_and_ours(name, args, call):
    case = Case(args, call, ("y_pred",))
    expected = run_tf(getattr(keras.losses, name)(**args), case, ORDER, "float64")
    for framework, module, run in (("torch", ours_torch, run_torch), ("tensorflow", ours_tf, run_tf)):
        assert_conforms(
            run(getattr(module, name)(**args), case, ORDER, "float64"), expected, RTOL["float64"], framework
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_rank_rule_and_broadcasting_of_y_true(reduction):
    """Keras expands ``(N,)`` targets against ``(N, 1)`` predictions (and the
    reverse), and broadcasts ``(N, 1)`` targets against ``(N, D)`` in its
    pointwise losses."""
    rng = rng_for("keras-rank", reduction)
    args = {"reduction": reduction, "dtype": "float64"}
    _keras_and_ours("MeanSquaredError", args, {"y_true": rng.normal(size=4), "y_pred": rng.normal(size=(4, 1))})
    _keras_and_ours("MeanAbsoluteError", args, {"y_true": rng.normal(size=(4, 1)), "y_pred": rng.normal(size=4)})
    _keras_and_ours("Huber", args, {"y_true": rng.normal(size=(4, 1)), "y_pred": rng.normal(size=(4, 3))})
    _keras_and_ours(
        "BinaryCrossentropy", args, {"y_true": rng.integers(0, 2, 4) * 1.0, "y_pred": rng.uniform(0.1, 0.9, (4, 1))}
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_rank_one_inputs_give_a_0d_per_sample_loss(reduction):
    rng = rng_for("keras-rank-1", reduction)
    args = {"reduction": reduction, "dtype": "float64"}
    p = _simplex(rng, (4,))
    _keras_and_ours("MeanSquaredError", args, {"y_true": rng.normal(size=5), "y_pred": rng.normal(size=5)})
    _keras_and_ours(
        "MeanSquaredError",
        args,
        {"y_true": rng.normal(size=5), "y_pred": rng.normal(size=5), "sample_weight": rng.uniform(size=5)},
    )
    _keras_and_ours("CategoricalCrossentropy", args, {"y_true": _one_hot(rng, (4,)), "y_pred": p})
    _keras_and_ours("SparseCategoricalCrossentropy", args, {"y_true": np.array(2), "y_pred": p})


def test_float_labels_are_cast_as_keras_does():
    rng = rng_for("keras-float-labels")
    p = _simplex(rng, (4, 3))
    labels = rng.integers(0, 3, 4).astype(np.float64)
    _keras_and_ours("SparseCategoricalCrossentropy", {"dtype": "float64"}, {"y_true": labels, "y_pred": p})
    _keras_and_ours("CategoricalGeneralizedCrossEntropy", {"dtype": "float64"}, {"y_true": labels, "y_pred": p})


def test_all_ignored_and_empty_batches():
    """Everything ignored: Keras' mask weight is 0/0 = 0; an empty batch: Keras
    returns the empty per-sample tensor itself for every reduction."""
    p = _simplex(rng_for("keras-empty"), (3, 4))
    for reduction in REDUCTIONS:
        args = {"ignore_class": 1, "reduction": reduction, "dtype": "float64"}
        ignored = {"y_true": np.ones(3, np.int64), "y_pred": p}
        peer = keras.losses.SparseCategoricalCrossentropy(**args)(**ignored)
        for module, tensor in ((ours_torch, torch.as_tensor), (ours_tf, tf.constant)):
            value = module.SparseCategoricalCrossentropy(**args)(**{k: tensor(v) for k, v in ignored.items()})
            np.testing.assert_array_equal(np.asarray(value), np.asarray(peer))
        empty = {"y_true": np.zeros((0, 3)), "y_pred": np.zeros((0, 3))}
        peer = keras.losses.MeanSquaredError(reduction=reduction, dtype="float64")(**empty)
        for module, tensor in ((ours_torch, torch.as_tensor), (ours_tf, tf.constant)):
            value = module.MeanSquaredError(reduction=reduction, dtype="float64")(
                **{k: tensor(v) for k, v in empty.items()}
            )
            assert tuple(value.shape) == tuple(peer.shape) == (0,)


def test_the_unreduced_call_is_keras_call():
    """``loss.call(y_true, y_pred)`` (what Keras subclasses override) gives Keras' per-sample losses."""
    rng = rng_for("keras-call")
    p = _simplex(rng, (2, 3, 4))
    labels = rng.integers(0, 4, (2, 3))
    for name, args, y_true in (
        ("SparseCategoricalCrossentropy", {"ignore_class": 2}, labels),
        ("CategoricalCrossentropy", {"label_smoothing": 0.1, "axis": 1}, _one_hot(rng, (2, 3, 4), 1)),
        ("Dice", {"axis": (1,)}, (rng.random((2, 3, 4)) < 0.5) * 1.0),
    ):
        peer = getattr(keras.losses, name)(dtype="float64", **args).call(tf.constant(y_true), tf.constant(p))
        ours = getattr(ours_tf, name)(dtype="float64", **args).call(tf.constant(y_true), tf.constant(p))
        np.testing.assert_allclose(np.asarray(ours), np.asarray(peer), rtol=1e-12, atol=1e-15)


def _saturated():
    rng = rng_for("keras-saturated")
    logits = rng.normal(0.0, 2.0, (4, 3))
    logits[:2] = [[30.0, -30.0, 3.0], [-40.0, 40.0, 0.5]]
    binary = (rng.random((4, 3)) < 0.5).astype(np.float64)
    binary[:2] = [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    p = _simplex(rng, (4, 3))
    p[:2] = [[0.0, 0.3, 0.7], [1.0, 0.0, 0.0]]  # outside [1e-7, 1 - 1e-7]: Keras clips
    p_binary = rng.uniform(0.1, 0.9, (4, 3))
    p_binary[0] = [0.0, 1.0, 1.0]
    labels = np.array([1, 0, 2, 1])
    return [
        (
            "BinaryFocalCrossentropy",
            {"from_logits": True},
            {"y_true": binary, "y_pred": logits},
            ("float64", "float32"),
        ),
        (
            "BinaryFocalCrossentropy",
            {"from_logits": True, "apply_class_balancing": True, "gamma": 3.0},
            {"y_true": binary, "y_pred": logits},
            ("float64", "float32"),
        ),
        ("BinaryCrossentropy", {"from_logits": True}, {"y_true": binary, "y_pred": logits}, ("float64", "float32")),
        ("BinaryCrossentropy", {}, {"y_true": binary, "y_pred": p_binary}, ("float64",)),
        (
            "CategoricalFocalCrossentropy",
            {"from_logits": True},
            {"y_true": _one_hot(rng, (4, 3)), "y_pred": logits},
            ("float64", "float32"),
        ),
        ("CategoricalCrossentropy", {}, {"y_true": _one_hot(rng, (4, 3)), "y_pred": p}, ("float64", "float32")),
        ("SparseCategoricalCrossentropy", {}, {"y_true": labels, "y_pred": p}, ("float64", "float32")),
        ("SparseCategoricalCrossentropy", {"ignore_class": 0}, {"y_true": labels, "y_pred": p}, ("float64", "float32")),
        ("KLDivergence", {}, {"y_true": p[::-1].copy(), "y_pred": p}, ("float64", "float32")),
    ]


@pytest.mark.parametrize(
    ("name", "args", "call", "dtypes"), _saturated(), ids=[f"{n}-{a}" for n, a, _, _ in _saturated()]
)
def test_saturated_inputs(name, args, call, dtypes):
    """On purpose at Keras' clips and beyond them: probabilities of 0 and 1, logits of +-30 and +-40
    (Keras on TensorFlow recovers BinaryFocalCrossentropy's logits from its own sigmoid, so nothing is
    clipped there; CategoricalFocalCrossentropy clips its softmax).  BinaryCrossentropy from
    probabilities is checked in float64: in float32 Keras' ``1 - clip(p)`` and ours ``clip(1 - p)``
    differ at p = 1 (15.94 against 16.12, see its notes).  BinaryFocalCrossentropy with gamma < 1 is
    left out: where Keras' ``1 - p_t`` rounds to 0 its gradient is NaN (ours is finite)."""
    case = Case(args, call, ("y_pred",))
    for dtype in dtypes:
        kwargs = dict(args, dtype=dtype)
        expected = run_tf(getattr(keras.losses, name)(reduction=None, **kwargs), case, ORDER, dtype)
        for framework, module, run in (("torch", ours_torch, run_torch), ("tensorflow", ours_tf, run_tf)):
            ours = run(getattr(module, name)(reduction=None, **kwargs), case, ORDER, dtype)
            assert_conforms(ours, expected, RTOL[dtype], f"{framework} {dtype}")


def test_cce_gradient_of_unnormalised_targets():
    """Where the smoothed targets do not sum to 1 (``axis`` not last), Keras'
    value is ours, and its gradient is TensorFlow's fused ``softmax - targets``;
    ours is the derivative of that value, ``softmax * sum(targets) - targets``."""
    rng = rng_for("keras-cce-unnormalised")
    shape, e = (2, 3, 4), 0.2
    x, y = rng.normal(size=shape), _one_hot(rng, shape, 1)
    case = Case({}, {"y_true": y, "y_pred": x}, ("y_pred",))
    args = {"from_logits": True, "label_smoothing": e, "axis": 1, "reduction": "sum", "dtype": "float64"}
    peer_value, peer_grad = run_tf(keras.losses.CategoricalCrossentropy(**args), case, ORDER, "float64")
    value, grad = run_torch(ours_torch.CategoricalCrossentropy(**args), case, ORDER, "float64")
    np.testing.assert_allclose(value, peer_value, rtol=1e-12)
    softmax = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    target_sum = 1.0 - e + e * shape[1] / shape[-1]  # Keras smooths with e / shape[-1] over 3 classes
    np.testing.assert_allclose(grad["y_pred"], peer_grad["y_pred"] + softmax * (target_sum - 1.0), atol=1e-12)


def _unknown_batch_problems():
    rng = rng_for("keras-graph")
    masks = (rng.random((3, 4, 2)) < 0.5) * 1.0
    labels = rng.integers(0, 4, (3, 2))
    labels[0, 0] = 1
    sequences = _sequences(rng, SHAPES["sequences"], {})[0][1]
    return [
        ("MeanSquaredError", {}, {"y_true": rng.normal(size=(3, 4)), "y_pred": rng.normal(size=(3, 4))}),
        ("Dice", {"axis": (1,)}, {"y_true": masks, "y_pred": rng.uniform(0.1, 0.9, (3, 4, 2))}),
        ("Tversky", {}, {"y_true": masks, "y_pred": rng.uniform(0.1, 0.9, (3, 4, 2))}),
        ("SparseCategoricalCrossentropy", {"ignore_class": 1}, {"y_true": labels, "y_pred": _simplex(rng, (3, 2, 4))}),
        ("CTC", {}, sequences),
    ]


@pytest.mark.parametrize("reduction", ["mean_with_sample_weight", None])
def test_graphs_with_an_unknown_batch_size(reduction):
    """Inside ``tf.function`` with ``None`` batch dimensions (what ``fit`` traces
    after a batch of another size) the classes give Keras' eager values.
    ``Circle`` is left out: the spec's ``circle`` needs a static batch size."""
    rng = rng_for("keras-graph-weights", reduction)
    for name, args, call in _unknown_batch_problems():
        kwargs = dict(args, reduction=reduction, dtype="float64")
        weight = None if name == "Tversky" else rng.uniform(0.2, 2.0, (call["y_pred"].shape[0], 1))
        expected = getattr(keras.losses, name)(**kwargs)(call["y_true"], call["y_pred"], sample_weight=weight)
        loss = getattr(ours_tf, name)(**kwargs)
        arrays = [call["y_true"], call["y_pred"]] + ([] if weight is None else [weight])
        signature = [tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)) for a in arrays]
        graph = tf.function(lambda *tensors, loss=loss: loss(*tensors), input_signature=signature)
        value = graph(*[tf.constant(a) for a in arrays])
        np.testing.assert_allclose(
            np.asarray(value), np.asarray(expected), rtol=1e-6 if name == "CTC" else 1e-12, err_msg=name
        )


# --------------------------------------------------------------------------- dtype


def test_dtype_none_follows_each_framework():
    """TensorFlow: ``dtype=None`` computes in floatx (float32), as Keras; torch keeps the inputs' dtype."""
    rng = rng_for("keras-dtype")
    y, x = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    peer = keras.losses.MeanSquaredError()(y, x)
    ours = ours_tf.MeanSquaredError()(tf.constant(y), tf.constant(x))
    assert peer.dtype == ours.dtype == tf.float32
    np.testing.assert_allclose(float(ours), float(peer), rtol=1e-6)
    assert ours_torch.MeanSquaredError()(torch.as_tensor(y), torch.as_tensor(x)).dtype == torch.float64
    assert ours_torch.MeanSquaredError(dtype="float32")(torch.as_tensor(y), torch.as_tensor(x)).dtype == torch.float32
    assert ours_tf.MeanSquaredError(dtype="float64")(tf.constant(y), tf.constant(x)).dtype == tf.float64


def test_log_cosh_reproduces_keras_float32_log2():
    """Keras' float64 LogCosh subtracts log 2 rounded to float32 (1.9e-9 too much); so does ours, to a few
    ulps of log 2 (tiny errors make the values 1e-7, so the offset would be 1% of them)."""
    rng = rng_for("keras-log-cosh")
    y, x = rng.normal(size=(4, 3)) * 1e-3, rng.normal(size=(4, 3)) * 1e-3
    peer = keras.losses.LogCosh(reduction=None, dtype="float64")(y, x).numpy()
    ours = ours_torch.LogCosh(reduction=None, dtype="float64")(torch.as_tensor(y), torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(ours, peer, rtol=0.0, atol=5e-16)


# --------------------------------------------------------------------------- Keras-native behaviour


CONFIGURED = {
    "CategoricalCrossentropy": {"from_logits": True, "label_smoothing": 0.1},
    "SparseCategoricalCrossentropy": {"from_logits": True, "ignore_class": 2},
    "BinaryFocalCrossentropy": {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5},
    "CategoricalFocalCrossentropy": {"alpha": [0.5, 1.0, 2.0]},
    "Huber": {"delta": 0.5},
    "Tversky": {"alpha": 0.3, "beta": 0.7, "axis": (0, 1)},
    "Dice": {"axis": [1]},
    "Circle": {"gamma": 32.0, "margin": 0.3, "remove_diagonal": False},
    "CategoricalGeneralizedCrossEntropy": {"q": 0.7},
    "CosineSimilarity": {"axis": 0},
}


def _native_inputs(name):
    rng = rng_for("keras-native", name)
    make = {"Circle": _embeddings, "CTC": _sequences}.get(name)
    if make is not None:
        call = make(rng, SHAPES["embeddings" if name == "Circle" else "sequences"], {})[0][1]
    else:
        case = CASES[name]()[0]
        call = {k: case.call[k] for k in ("y_true", "y_pred")}
    return {k: tf.constant(v) for k, v in call.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip_and_serialization(name):
    loss = getattr(ours_tf, name)(**CONFIGURED.get(name, {}), reduction="sum", name="custom", dtype="float64")
    inputs = _native_inputs(name)
    value = float(loss(**inputs))
    config = loss.get_config()
    assert config["name"] == "custom" and config["reduction"] == "sum"
    assert float(type(loss).from_config(config)(**inputs)) == value
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss) and restored.get_config() == config
    assert float(restored(**inputs)) == value


def test_compile_and_fit_with_compat_losses():
    """The same model trained from the same weights on the same batches with
    Keras' losses and with ours (a last batch of another size included) logs the
    same losses."""
    rng = rng_for("keras-fit")
    x = rng.normal(size=(12, 5)).astype("float32")
    targets = {"classes": rng.integers(0, 3, 12), "value": x[:, :1] * 2.0}
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(4, activation="tanh")(inputs)
    outputs = {
        "classes": keras.layers.Dense(3, name="classes")(hidden),
        "value": keras.layers.Dense(1, name="value")(hidden),
    }
    model = keras.Model(inputs, outputs)
    initial = model.get_weights()
    histories = []
    for module in (keras.losses, ours_tf):
        model.set_weights(initial)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss={"classes": module.SparseCategoricalCrossentropy(from_logits=True), "value": module.Huber(delta=0.5)},
        )
        history = model.fit(x, targets, batch_size=5, epochs=2, shuffle=False, verbose=0).history
        histories.append(history)
    keras_history, ours = histories
    for key in ("loss", "classes_loss", "value_loss"):
        np.testing.assert_allclose(ours[key], keras_history[key], rtol=1e-5, err_msg=key)
    assert np.all(np.isfinite(ours["loss"]))


# --------------------------------------------------------------------------- refused arguments


REFUSED = [
    ("MeanSquaredError", {"reduction": "avg"}, r"reduction must be one of 'sum_over_batch_size'.*got 'avg'"),
    ("MeanSquaredError", {"dtype": "mixed_float16"}, r"dtype='mixed_float16' is not supported.*expected None or"),
    ("Huber", {"delta": 0.0}, r"delta=0.0 is not supported.*a float > 0"),
    ("BinaryCrossentropy", {"label_smoothing": 1.5}, r"label_smoothing=1.5 is not supported.*\[0, 1\]"),
    ("BinaryCrossentropy", {"axis": (1, 2)}, r"axis=\(1, 2\) is not supported.*an int"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 1.5}, r"alpha=1.5 is not supported"),
    ("BinaryFocalCrossentropy", {"gamma": -1.0}, r"gamma=-1.0 is not supported.*>= 0"),
    ("CategoricalCrossentropy", {"axis": True}, r"axis=True is not supported.*an int"),
    ("CategoricalFocalCrossentropy", {"alpha": -0.1}, r"alpha=-0.1 is not supported"),
    ("CategoricalFocalCrossentropy", {"gamma": -2.0}, r"gamma=-2.0 is not supported"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1.5}, r"ignore_class=1.5 is not supported.*int label"),
    ("CategoricalGeneralizedCrossEntropy", {"q": 1.0}, r"q=1.0 is not supported.*\(0, 1\)"),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.0}, r"q=0.0 is not supported"),
    ("Tversky", {"alpha": -1.0}, r"alpha=-1.0 is not supported.*>= 0"),
    ("Dice", {"axis": "all"}, r"axis='all' is not supported.*an int"),
    ("Circle", {"gamma": 0.0}, r"gamma=0.0 is not supported.*> 0"),
]


@pytest.mark.parametrize("module", [ours_torch, ours_tf], ids=["torch", "tensorflow"])
@pytest.mark.parametrize(("name", "args", "message"), REFUSED, ids=[f"{n}-{a}" for n, a, _ in REFUSED])
def test_refused_constructor_arguments(module, name, args, message):
    with pytest.raises(ValueError, match=message):
        getattr(module, name)(**args)


def test_keras_refuses_what_we_refuse_alike():
    """Where Keras 3.15.1 itself raises, so do we: q outside (0, 1), an unknown reduction."""
    with pytest.raises(ValueError):
        keras.losses.CategoricalGeneralizedCrossEntropy(q=1.0)
    with pytest.raises(ValueError):
        keras.losses.MeanSquaredError(reduction="avg")


def _call_refusals(tensor):
    rng = rng_for("keras-call-refusals")
    p = tensor(_simplex(rng, (2, 3, 4)))
    labels = tensor(rng.integers(0, 4, (2, 3)))
    return [
        (("SparseCategoricalCrossentropy", {"axis": 1}), (labels, p), r"axis=1 is not supported.*the last axis"),
        (
            ("CategoricalFocalCrossentropy", {"alpha": [1.0, 2.0, 3.0], "axis": 1}),
            (tensor(_one_hot(rng, (2, 3, 4), 1)), p),
            r"alpha=\[1.0, 2.0, 3.0\] is not supported.*when axis is not the last",
        ),
        (("CategoricalCrossentropy", {}), (labels, p), r"y_true of shape \(2, 3\) must have y_pred's shape"),
        (
            ("CategoricalGeneralizedCrossEntropy", {}),
            (tensor(np.ones((2, 3, 1), np.int64)), p),
            r"y_true must hold integer labels of shape \(2, 3\)",
        ),
        (("CTC", {}), (labels, tensor(np.zeros((2, 3)))), r"expected integer y_true of shape \(N, max_length\)"),
        (("CosineSimilarity", {"axis": 3}), (p, p), r"axis=3 is out of range for inputs of rank 3"),
    ]


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_refused_calls(framework):
    module, tensor = (ours_torch, torch.as_tensor) if framework == "torch" else (ours_tf, tf.constant)
    for (name, args), call, message in _call_refusals(tensor):
        with pytest.raises(ValueError, match=message):
            getattr(module, name)(dtype="float64", **args)(*call)


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_sample_weight_that_keras_cannot_broadcast(framework):
    """``(N,)`` weights against ``(N, d)`` per-sample losses fail in Keras (a
    shape error) and here (a ``ValueError`` saying what fits)."""
    rng = rng_for("keras-bad-weight")
    y, x, w = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4)), rng.uniform(size=2)
    with pytest.raises(tf.errors.InvalidArgumentError):
        keras.losses.MeanSquaredError()(y, x, sample_weight=w)
    module, tensor = (ours_torch, torch.as_tensor) if framework == "torch" else (ours_tf, tf.constant)
    message = r"sample_weight of shape \(2,\) does not broadcast against the per-sample losses of shape \(2, 3\)"
    with pytest.raises(ValueError, match=message):
        module.MeanSquaredError()(tensor(y), tensor(x), tensor(w))
