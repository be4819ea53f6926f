"""Conformance of ``losses_torch.compat.torch`` / ``losses_tf.compat.torch`` with torch.nn 2.13
(and torchvision 0.28's ``sigmoid_focal_loss``, its own code).

For every compat class: a grid of constructor arguments (the defaults and
non-default values of each), random inputs of 2-D and higher-rank shapes where
torch takes them, values and gradients, our torch class and our TensorFlow
class against the torch peer in float64 (relative 1e-10) and float32
(relative 1e-5) -- see ``tests/compat_conformance.py``.
"""

from __future__ import annotations

import itertools

# torch must be imported before tensorflow: keep this order.
# isort: off
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losses_torch.compat.torch as ours_torch

import losses_tf.compat.torch as ours_tf

from compat_conformance import RTOL, Case, assert_conforms, rng_for, run_tf, run_torch, tf_args, torch_args
from peer_libraries import torchvision_losses
from spec import compat

# isort: on

SHAPES = {"2d": (5, 4), "map": (2, 4, 3, 5), "volume": (2, 3, 2, 3, 2)}
REDUCTIONS = ("mean", "sum", "none")


def _grid(**axes) -> list[dict]:
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]


def _labels(rng, shape, classes, ignore=None):
    labels = rng.integers(0, classes, (shape[0], *shape[2:]))
    if ignore is not None:
        mask = rng.random(labels.shape) < 0.25
        mask.flat[0] = True
        mask.flat[-1] = False
        labels = np.where(mask, ignore, labels)
    return labels.astype(np.int64)


def _probabilities(rng, shape):
    p = rng.dirichlet(np.ones(shape[1]), (shape[0], *shape[2:]))
    return np.moveaxis(p, -1, 1)


# --------------------------------------------------------------------------- cases per class


def cross_entropy_cases():
    cases = []
    for shape_name, args in itertools.product(
        ("2d", "map", "volume"),
        _grid(
            weight=[None, [0.5, 2.0, 1.0, 1.5]],
            ignore_index=[-100, 1],
            reduction=REDUCTIONS,
            label_smoothing=[0.0, 0.2],
        ),
    ):
        shape = SHAPES[shape_name]
        if shape[1] != 4:
            shape = (shape[0], 4, *shape[2:])
        rng = rng_for("ce", shape_name, args)
        labels = _labels(rng, shape, 4, ignore=args["ignore_index"] if args["ignore_index"] >= 0 else None)
        args = dict(args, weight=None if args["weight"] is None else np.array(args["weight"]))
        cases.append(
            Case(
                args,
                {"input": rng.normal(0, 2, shape), "target": labels},
                ("input",),
                f"labels-{shape_name}-{args['reduction']}",
            )
        )
    for args in _grid(weight=[None, [0.5, 2.0, 1.0, 1.5]], reduction=REDUCTIONS, label_smoothing=[0.0, 0.1]):
        rng = rng_for("ce-prob", args)
        shape = SHAPES["map"]
        args = dict(args, weight=None if args["weight"] is None else np.array(args["weight"]))
        cases.append(
            Case(
                args,
                {"input": rng.normal(0, 2, shape), "target": _probabilities(rng, shape)},
                ("input",),
                f"probabilities-{args['reduction']}",
            )
        )
    rng = rng_for("ce-unbatched")
    for reduction in REDUCTIONS:
        cases.append(
            Case(
                {"reduction": reduction},
                {"input": rng.normal(0, 2, (4,)), "target": np.array(2)},
                ("input",),
                f"unbatched-{reduction}",
            )
        )
    cases.append(
        Case(
            {"size_average": False},
            {"input": rng.normal(0, 2, (5, 4)), "target": _labels(rng, (5, 4), 4)},
            ("input",),
            "legacy-size_average",
        )
    )
    cases.append(
        Case(
            {"reduce": False},
            {"input": rng.normal(0, 2, (5, 4)), "target": _labels(rng, (5, 4), 4)},
            ("input",),
            "legacy-reduce",
        )
    )
    return cases


def nll_cases():
    cases = []
    for shape_name, args in itertools.product(
        ("2d", "map", "volume"),
        _grid(weight=[None, [0.5, 2.0, 1.0, 1.5]], ignore_index=[-100, 2], reduction=REDUCTIONS),
    ):
        shape = SHAPES[shape_name]
        shape = (shape[0], 4, *shape[2:])
        rng = rng_for("nll", shape_name, args)
        log_p = F.log_softmax(torch.tensor(rng.normal(0, 2, shape)), 1).numpy()
        labels = _labels(rng, shape, 4, ignore=args["ignore_index"] if args["ignore_index"] >= 0 else None)
        args = dict(args, weight=None if args["weight"] is None else np.array(args["weight"]))
        cases.append(Case(args, {"input": log_p, "target": labels}, ("input",), f"{shape_name}-{args['reduction']}"))
    return cases


def _binary(rng, shape, soft):
    return rng.random(shape) if soft else (rng.random(shape) < 0.4).astype(np.float64)


def bce_cases():
    cases = []
    for shape_name, args, soft in itertools.product(
        ("2d", "map"), _grid(weight=[None, "per_class"], reduction=REDUCTIONS), (False, True)
    ):
        shape = SHAPES[shape_name]
        rng = rng_for("bce", shape_name, args, soft)
        weight = None if args["weight"] is None else rng.uniform(0.2, 2.0, shape[-1:])
        p = np.clip(rng.random(shape), 0.02, 0.98)
        cases.append(
            Case(
                dict(args, weight=weight),
                {"input": p, "target": _binary(rng, shape, soft)},
                ("input",),
                f"{shape_name}-{args['reduction']}-{'soft' if soft else 'hard'}",
            )
        )
    return cases


def bce_logits_cases():
    cases = []
    for shape_name, args, soft in itertools.product(
        ("2d", "map"),
        _grid(weight=[None, "elementwise"], pos_weight=[None, "scalar", "per_class"], reduction=REDUCTIONS),
        (False, True),
    ):
        shape = SHAPES[shape_name]
        rng = rng_for("bcel", shape_name, args, soft)
        weight = None if args["weight"] is None else rng.uniform(0.2, 2.0, shape[1:])
        pos_weight = {
            None: None,
            "scalar": np.array([2.5]),
            # torch broadcasts against the trailing axes: (C,) for (N, C), (C, 1, 1) for maps
            "per_class": rng.uniform(0.5, 3.0, (shape[1],) + (1,) * (len(shape) - 2)),
        }[args["pos_weight"]]
        cases.append(
            Case(
                dict(args, weight=weight, pos_weight=pos_weight),
                {"input": rng.normal(0, 2, shape), "target": _binary(rng, shape, soft)},
                ("input",),
                f"{shape_name}-{args['reduction']}-{'soft' if soft else 'hard'}",
            )
        )
    return cases


def pointwise_cases(
    grid: list[dict],
    target=lambda rng, shape: rng.normal(size=shape),
    scale=1.5,
    shapes=("2d", "map", "volume"),
    input_name="input",
):
    def make():
        cases = []
        for shape_name, args in itertools.product(shapes, grid):
            rng = rng_for(input_name, shape_name, args, scale)
            shape = SHAPES[shape_name]
            cases.append(
                Case(
                    args,
                    {input_name: rng.normal(0, scale, shape), "target": target(rng, shape)},
                    (input_name,),
                    f"{shape_name}-{args}",
                )
            )
        return cases

    return make


def _signs(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def kl_div_cases():
    cases = []
    for shape_name, args in itertools.product(
        ("2d", "map"), _grid(reduction=("mean", "sum", "none", "batchmean"), log_target=[False, True])
    ):
        shape = SHAPES[shape_name]
        rng = rng_for("kl", shape_name, args)
        log_q = F.log_softmax(torch.tensor(rng.normal(0, 1.5, shape)), 1).numpy()
        target = _probabilities(rng, shape)
        if args["log_target"]:
            target = np.log(target)
        cases.append(Case(args, {"input": log_q, "target": target}, ("input",), f"{shape_name}-{args}"))
    return cases


def poisson_nll_cases():
    cases = []
    for shape_name, args in itertools.product(
        ("2d", "map"), _grid(log_input=[True, False], full=[False, True], eps=[1e-8, 0.5], reduction=REDUCTIONS)
    ):
        shape = SHAPES[shape_name]
        rng = rng_for("poisson", shape_name, args)
        rates = rng.normal(0, 1, shape) if args["log_input"] else rng.uniform(0.1, 3.0, shape)
        counts = rng.poisson(2.0, shape).astype(np.float64)
        cases.append(Case(args, {"log_input": rates, "target": counts}, ("log_input",), f"{shape_name}-{args}"))
    return cases


def gaussian_nll_cases():
    cases = []
    for shape_name, var_form, args in itertools.product(
        ("2d", "map"),
        ("full", "no_last_axis", "last_axis_1"),
        _grid(full=[False, True], eps=[1e-6, 0.3], reduction=REDUCTIONS),
    ):
        shape = SHAPES[shape_name]
        rng = rng_for("gauss", shape_name, var_form, args)
        var_shape = {"full": shape, "no_last_axis": shape[:-1], "last_axis_1": (*shape[:-1], 1)}[var_form]
        var = rng.uniform(0.1, 2.0, var_shape)
        var.flat[0] = 0.2 * args["eps"]  # below the clamp
        cases.append(
            Case(
                args,
                {"input": rng.normal(size=shape), "target": rng.normal(size=shape), "var": var},
                ("input", "var"),
                f"{shape_name}-{var_form}-{args}",
            )
        )
    return cases


def pair_cases(kind: str):
    def make():
        cases = []
        margins = [0.0, 0.3, -0.2] if kind == "cosine" else [0.0, 0.5]
        for args in _grid(margin=margins, reduction=REDUCTIONS):
            rng = rng_for(kind, args)
            shape = (6, 5) if kind == "cosine" else (7,)
            cases.append(
                Case(
                    args,
                    {
                        "input1": rng.normal(size=shape),
                        "input2": rng.normal(size=shape),
                        "target": _signs(rng, shape[:1]),
                    },
                    ("input1", "input2"),
                    f"{args}",
                )
            )
        return cases

    return make


def triplet_cases():
    cases = []
    for args in _grid(margin=[1.0, 0.3], p=[2.0, 1.0, 3.0], eps=[1e-6, 0.1], swap=[False, True], reduction=REDUCTIONS):
        rng = rng_for("triplet", args)
        a = rng.normal(size=(6, 5))
        cases.append(
            Case(
                args,
                {"anchor": a, "positive": a + rng.normal(0, 0.8, a.shape), "negative": a + rng.normal(0, 0.8, a.shape)},
                ("anchor", "positive", "negative"),
                f"{args}",
            )
        )
    return cases


def multilabel_soft_margin_cases():
    cases = []
    for args in _grid(weight=[None, [0.5, 1.0, 2.0, 3.0]], reduction=REDUCTIONS):
        rng = rng_for("mlsm", args)
        args = dict(args, weight=None if args["weight"] is None else np.array(args["weight"]))
        cases.append(
            Case(
                args,
                {"input": rng.normal(0, 1.5, (5, 4)), "target": _binary(rng, (5, 4), False)},
                ("input",),
                f"{args['reduction']}",
            )
        )
    return cases


def multi_margin_cases():
    cases = []
    for args in _grid(p=[1, 2], margin=[1.0, 0.4], weight=[None, [0.5, 1.0, 2.0, 3.0]], reduction=REDUCTIONS):
        rng = rng_for("mm", args)
        args = dict(args, weight=None if args["weight"] is None else np.array(args["weight"]))
        cases.append(
            Case(
                args,
                {"input": rng.normal(0, 1.0, (6, 4)), "target": rng.integers(0, 4, (6,))},
                ("input",),
                f"{args['p']}-{args['reduction']}",
            )
        )
    return cases


def ctc_cases():
    cases = []
    frames, classes = 8, 5
    for args, targets in itertools.product(
        _grid(blank=[0, 3], reduction=REDUCTIONS, zero_infinity=[False, True]), ("padded", "concatenated")
    ):
        rng = rng_for("ctc", args, targets)
        lengths = np.array([3, 1, 4, 2])
        input_lengths = np.array([8, 6, 7, 5])
        choices = [c for c in range(classes) if c != args["blank"]]
        padded = rng.choice(choices, (4, 5)).astype(np.int64)
        target = padded if targets == "padded" else np.concatenate([padded[n, : lengths[n]] for n in range(4)])
        log_probs = F.log_softmax(torch.tensor(rng.normal(0, 1.5, (frames, 4, classes))), -1).numpy()
        cases.append(
            Case(
                args,
                {"log_probs": log_probs, "targets": target, "input_lengths": input_lengths, "target_lengths": lengths},
                ("log_probs",),
                f"{targets}-{args}",
                rtol={"float32": 3e-5},
            )
        )
    return cases


def sigmoid_focal_cases():
    cases = []
    for shape_name, args, soft in itertools.product(
        ("2d", "map"), _grid(alpha=[0.25, 0.7, -1.0], gamma=[2.0, 0.0, 1.5], reduction=REDUCTIONS), (False, True)
    ):
        shape = SHAPES[shape_name]
        rng = rng_for("focal", shape_name, args, soft)
        cases.append(
            Case(
                args,
                {"inputs": rng.normal(0, 2, shape), "targets": _binary(rng, shape, soft)},
                ("inputs",),
                f"{shape_name}-{args}-{'soft' if soft else 'hard'}",
            )
        )
    return cases


CASES = {
    "CrossEntropyLoss": cross_entropy_cases,
    "NLLLoss": nll_cases,
    "BCELoss": bce_cases,
    "BCEWithLogitsLoss": bce_logits_cases,
    "MultiLabelSoftMarginLoss": multilabel_soft_margin_cases,
    "MultiMarginLoss": multi_margin_cases,
    "sigmoid_focal_loss": sigmoid_focal_cases,
    "MSELoss": pointwise_cases(_grid(reduction=REDUCTIONS)),
    "L1Loss": pointwise_cases(_grid(reduction=REDUCTIONS)),
    "SmoothL1Loss": pointwise_cases(_grid(reduction=REDUCTIONS, beta=[1.0, 0.3, 0.0])),
    "HuberLoss": pointwise_cases(_grid(reduction=REDUCTIONS, delta=[1.0, 0.3, 2.5])),
    "SoftMarginLoss": pointwise_cases(_grid(reduction=REDUCTIONS), target=_signs),
    "HingeEmbeddingLoss": pointwise_cases(
        _grid(margin=[1.0, 0.5, 2.0], reduction=REDUCTIONS), target=_signs, scale=1.0
    ),
    "KLDivLoss": kl_div_cases,
    "PoissonNLLLoss": poisson_nll_cases,
    "GaussianNLLLoss": gaussian_nll_cases,
    "CosineEmbeddingLoss": pair_cases("cosine"),
    "MarginRankingLoss": pair_cases("ranking"),
    "TripletMarginLoss": triplet_cases,
    "CTCLoss": ctc_cases,
}


def _peer(name: str):
    if name == "sigmoid_focal_loss":
        return torchvision_losses().sigmoid_focal_loss
    return getattr(torch.nn, name)


def _all_cases():
    for name, make in CASES.items():
        for index, case in enumerate(make()):
            yield pytest.param(name, case, id=f"{name}-{index}-{case.label}")


def test_every_torch_compat_class_has_cases():
    assert set(CASES) == {d.name for d in compat.definitions("torch")}


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: size_average/reduce deprecated, KLDiv 'mean'
@pytest.mark.parametrize(("name", "case"), list(_all_cases()))
def test_torch_compat_conforms(name, case):
    definition = compat.get_definition("torch", name)
    order = [arg.name for arg in definition.call]
    for dtype in ("float64", "float32"):
        rtol = case.rtol.get(dtype, RTOL[dtype])
        expected = run_torch(_build(_peer(name), definition, torch_args(case.args, dtype)), case, order, dtype)
        ours = _build(getattr(ours_torch, name), definition, torch_args(case.args, dtype))
        assert_conforms(run_torch(ours, case, order, dtype), expected, rtol, f"torch {dtype}")
        ours = _build(getattr(ours_tf, name), definition, tf_args(case.args, dtype))
        assert_conforms(run_tf(ours, case, order, dtype), expected, rtol, f"tensorflow {dtype}")


def _build(api, definition, args):
    """A loss callable from a class and its arguments, or from a function API."""
    if definition.function:
        return lambda *tensors: api(*tensors, **args)
    return api(**args)
