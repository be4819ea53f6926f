"""Conformance of ``losses_torch.compat.smp`` / ``losses_tf.compat.smp`` with
segmentation-models-pytorch 0.6.0's losses (its ``losses`` subpackage, loaded by
``tests/peer_libraries.py``).

For every compat class: a grid of constructor arguments (the defaults and a
non-default value of every supported argument), every ``mode``, random inputs
of 2-D maps ``(N, C, H, W)`` and 3-D volumes ``(N, C, D, H, W)`` (and class
vectors ``(N, C)`` where smp takes them), classes present in and absent from
the batch (smp's empty-class rule), ignored pixels and entries; values and
gradients of our torch class and our TensorFlow class against smp's, in float64
(relative 1e-10) and float32 (relative 1e-5) -- see
``tests/compat_conformance.py``.  smp computes in the input's dtype, with two
exceptions: its float32 ``class_weights`` (and their float32 sum) are
reproduced by the mappings, so the grid uses weights that float32 rounds (0.3,
1.7); and its ``LovaszLoss`` computes the Lovász weights in float32 and then
fails on float64 inputs (``torch.dot`` of float64 errors and float32 weights),
so it runs in float32 on float32-representable inputs and our float64 classes
are compared with it at the float32 tolerance (``PEER_DTYPE``).  The refused
arguments raise errors that name them (``test_refused_arguments``), and what
smp rejects on the call is rejected on the call (``test_call_time_errors``).
"""

from __future__ import annotations

import itertools

# torch must be imported before tensorflow: keep this order.
# isort: off
import numpy as np
import pytest
import torch

import losses_torch.compat.smp as ours_torch

import losses_tf.compat.smp as ours_tf

from compat_conformance import RTOL, Case, assert_conforms, rng_for, run_tf, run_torch, tf_args, torch_args
from peer_libraries import smp_losses
from spec import compat

# isort: on

SHAPES = {"2d": (2, 3, 4, 5), "3d": (2, 3, 3, 4, 2), "vector": (6, 3)}
ORDER = ("y_pred", "y_true")
IGNORE = {"binary": -1, "multilabel": -1, "multiclass": 255}


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _targets(rng, mode: str, shape, *, absent: bool = False, squeeze: bool = False) -> np.ndarray:
    """smp's targets for ``mode``: 0/1 maps (binary: ``(N, H, W)`` with
    ``squeeze``, else ``(N, 1, H, W)``), integer labels (multiclass) or 0/1
    channels (multilabel); every class present in the batch, except the last
    one with ``absent``."""
    classes = shape[1]
    for _ in range(100):
        if mode == "multiclass":
            target = rng.integers(0, classes - 1 if absent else classes, (shape[0], *shape[2:]))
            present = np.isin(np.arange(classes), target)
        else:
            target = (rng.random((shape[0], 1 if mode == "binary" else classes, *shape[2:])) < 0.4).astype(float)
            if absent:
                target[:, -1] = 0.0
            present = target.sum(axis=tuple(a for a in range(target.ndim) if a != 1)) > 0
        if present.sum() == (classes - 1 if absent and mode != "binary" else present.size):
            break
    if mode == "binary" and squeeze:
        target = target[:, 0]
    return target


def _ignored(rng, target: np.ndarray, value: int, fraction: float = 0.25) -> np.ndarray:
    out = target.copy()
    out[rng.random(out.shape) < fraction] = value
    return out


def _prediction(rng, mode: str, shape, from_logits: bool, scale: float = 1.5) -> np.ndarray:
    if mode == "binary":
        shape = (shape[0], 1, *shape[2:])
    logits = rng.normal(0.0, scale, shape)
    if from_logits:
        return logits
    return _softmax(logits) if mode == "multiclass" else _sigmoid(logits)


def _case(key, args, mode, shape_name, *, absent=False, ignore=False, squeeze=False, scale=1.5, label="") -> Case:
    shape = SHAPES[shape_name]
    rng = rng_for(*key, mode, shape_name, absent, ignore, squeeze, sorted(args.items(), key=str))
    y_pred = _prediction(rng, mode, shape, args.get("from_logits", True), scale)
    y_true = _targets(rng, mode, shape, absent=absent, squeeze=squeeze)
    if ignore:
        y_true = _ignored(rng, y_true, args.get("ignore_index", IGNORE[mode]))
    if mode == "multiclass":
        y_true = y_true.astype(np.int64)
    args = {"mode": mode, **args}
    if args.get("eps") in ("clamp", "floor"):
        args["eps"] = _active_eps(key[0], args, y_pred, y_true)
    what = f"{mode}-{shape_name}{'-absent' if absent else ''}{'-ignore' if ignore else ''}-{label or args}"
    return Case(args, {"y_pred": y_pred, "y_true": y_true}, ("y_pred",), what)


# --------------------------------------------------------------------------- Dice, Jaccard, Tversky


def _class_statistics(args: dict, y_pred: np.ndarray, y_true: np.ndarray):
    """smp's per-class ``I``, ``FP``, ``FN`` over the batch (for choosing an ``eps`` that bites)."""
    mode, ignore = args["mode"], args.get("ignore_index")
    batch = y_pred.shape[0]
    if mode == "multiclass":
        probs = _softmax(y_pred) if args.get("from_logits", True) else y_pred
        probs, labels = probs.reshape(batch, probs.shape[1], -1), y_true.reshape(batch, -1)
        valid = (labels != ignore)[:, None] if ignore is not None else np.ones_like(labels, bool)[:, None]
        target = np.moveaxis(np.eye(probs.shape[1])[np.where(valid[:, 0], labels, 0)], -1, 1) * valid
    else:
        probs = _sigmoid(y_pred) if args.get("from_logits", True) else y_pred
        probs = probs.reshape(batch, 1 if mode == "binary" else probs.shape[1], -1)
        target = y_true.reshape(probs.shape)
        valid = target != ignore if ignore is not None else np.ones_like(target, bool)
        target = target * valid
    probs = probs * valid
    intersection = (probs * target).sum(axis=(0, 2))
    return intersection, probs.sum(axis=(0, 2)) - intersection, target.sum(axis=(0, 2)) - intersection


def _active_eps(name: str, args: dict, y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """An ``eps`` that clamps some classes and not others: between the present classes'
    denominators (``"clamp"``) or, with ``log_loss``, between their scores (``"floor"``)."""
    alpha, beta = {"DiceLoss": (0.5, 0.5), "JaccardLoss": (1.0, 1.0)}.get(
        name, (args.get("alpha", 0.5), args.get("beta", 0.5))
    )
    smooth = args.get("smooth", 0.0)
    intersection, false_pos, false_neg = _class_statistics(args, y_pred, y_true)
    present = intersection + false_neg > 0
    denominators = (intersection + alpha * false_pos + beta * false_neg + smooth)[present]
    values = denominators if args["eps"] == "clamp" else ((intersection + smooth)[present] / denominators)
    if len(values) == 1:  # one class: clamp it (its gradient flows through I), keep its score above the floor
        return float(values[0] * (1.5 if args["eps"] == "clamp" else 0.5))
    low, high = np.sort(values)[:2]
    return float((low + high) / 2)


WEIGHTS = [0.3, 1.7, 2.5]  # 0.3 and 1.7 are rounded by float32, as smp stores them
REGION_ARGS = [
    ({}, "default"),
    ({"smooth": 0.5}, "smooth"),
    ({"eps": "clamp"}, "eps-clamp"),  # above some classes' denominators
    ({"log_loss": True}, "log_loss"),
    ({"log_loss": True, "eps": "floor", "smooth": 0.2}, "log_loss-floor"),  # above some scores
    ({"from_logits": False}, "probabilities"),
    ({"from_logits": False, "log_loss": True, "smooth": 1.0}, "probabilities-log"),
    ({"classes": [0, 2]}, "classes"),
    ({"classes": [2, -1, 1]}, "classes-repeated-negative"),
    ({"class_weights": WEIGHTS}, "class_weights"),
    ({"classes": [1, 2], "class_weights": WEIGHTS, "log_loss": True}, "classes-weights"),
    ({"ignore_index": "mode"}, "ignore"),
    ({"ignore_index": "mode", "from_logits": False, "smooth": 0.5}, "ignore-probabilities"),
]
TVERSKY_ARGS = [
    ({"alpha": 0.3, "beta": 0.7}, "alpha-beta"),
    ({"alpha": 0.8, "beta": 0.2, "gamma": 2.0}, "gamma"),
    ({"gamma": 0.5, "class_weights": WEIGHTS, "smooth": 0.3}, "gamma-half-weights"),
    ({"gamma": 1.5, "log_loss": True, "alpha": 0.6, "beta": 0.9, "eps": "floor"}, "gamma-log"),
    ({"gamma": 0.75, "ignore_index": "mode", "eps": "clamp"}, "gamma-ignore-clamp"),
]
_SELECTION = ("classes", "class_weights")


def region_cases(name: str, extra=()):
    def make():
        cases = []
        for (args, label), mode in itertools.product([*REGION_ARGS, *extra], ("binary", "multiclass", "multilabel")):
            if mode == "binary" and any(k in args for k in _SELECTION):
                continue  # smp refuses class selection in binary mode
            ignore = args.get("ignore_index") == "mode"
            args = dict(args, ignore_index=IGNORE[mode]) if ignore else dict(args)
            key = (name, label)
            cases.append(_case(key, args, mode, "2d", ignore=ignore, squeeze=mode == "binary", label=label))
            # 3-D volumes; the last class absent from the whole batch (loss 0, kept in the mean)
            cases.append(_case(key, args, mode, "3d", absent=mode != "binary", ignore=ignore, label=label))
            if mode == "multiclass" and label in ("default", "class_weights"):
                cases.append(_case(key, args, mode, "vector", label=label))
        # an in-range ignore_index: its class is emptied, so the empty-class rule applies to it
        cases.append(_case((name, "ignore-in-range"), {"ignore_index": 1}, "multiclass", "2d", ignore=True))
        for mode, shape_name in itertools.product(("binary", "multilabel"), ("2d", "3d")):
            cases.append(_soft(_case((name, "soft"), {"smooth": 0.1}, mode, shape_name, label="soft-targets")))
            tied = _case((name, "tied"), {"from_logits": False}, mode, shape_name, label="tied-probabilities")
            cases.append(_tied(tied))
        cases.append(_tied(_case((name, "tied"), {"from_logits": False}, "multiclass", "2d", label="tied")))
        return cases

    return make


def _soft(case: Case) -> Case:
    """Soft targets in [0, 1]: smp's intersection ``(P + G - sum|p - g|)/2`` is then ``sum(min(p, g))``."""
    case.call["y_true"] = rng_for("soft", case.label).random(case.call["y_true"].shape)
    return case


def _tied(case: Case) -> Case:
    """Probabilities equal to their 0/1 target on a fifth of the entries (the pixels, in multiclass
    mode), where smp's ``|p - g|`` takes the sub-gradient 0."""
    probs, target = case.call["y_pred"], case.call["y_true"]
    rng = rng_for("tied", case.label)
    if case.args["mode"] == "multiclass":
        one_hot = np.moveaxis(np.eye(probs.shape[1])[target], -1, 1)
        tied = rng.random((probs.shape[0], 1, *probs.shape[2:])) < 0.2
    else:
        one_hot = target.reshape(probs.shape)
        tied = rng.random(probs.shape) < 0.2
    case.call["y_pred"] = np.where(tied, one_hot, probs)
    return case


# --------------------------------------------------------------------------- FocalLoss


def focal_cases():
    cases = []
    grid = [
        ({}, "default"),
        ({"alpha": 0.25, "gamma": 0.5}, "alpha-gamma"),
        ({"gamma": 0.0, "alpha": 0.7}, "gamma-zero"),
        ({"from_logits": False}, "probabilities"),
        ({"from_logits": False, "eps": 1e-3, "alpha": 0.4}, "probabilities-eps"),
        ({"ignore_index": "mode", "gamma": 1.5}, "ignore"),
        ({"class_weights": WEIGHTS, "alpha": 0.25}, "class_weights"),
        ({"class_weights": WEIGHTS, "ignore_index": "mode"}, "class_weights-ignore"),
    ]
    for (args, label), mode, reduction in itertools.product(
        grid, ("binary", "multiclass", "multilabel"), ("mean", "sum", "batchwise_mean", "none", None)
    ):
        ignore = args.get("ignore_index") == "mode"
        weighted = "class_weights" in args
        if (mode == "binary" and weighted) or (mode == "multilabel" and ignore):
            continue  # refused (smp rejects or fails)
        if mode == "binary" and ignore and reduction in ("none", None):
            continue  # smp returns the kept entries: refused
        if weighted and (reduction in ("none", None) or (reduction == "batchwise_mean" and not ignore)):
            continue  # smp's weighted sum fails to broadcast: refused
        if reduction is None and label not in ("default", "ignore"):
            continue
        args = dict(args, reduction=reduction, **({"ignore_index": IGNORE[mode]} if ignore else {}))
        shape_name = "3d" if label in ("alpha-gamma", "ignore") else "2d"
        cases.append(
            _case(
                ("focal", label, reduction),
                args,
                mode,
                shape_name,
                ignore=ignore,
                scale=2.0,
                label=f"{label}-{reduction}",
            )
        )
    # soft targets: smp's focal factor (1 - exp(-BCE))^gamma
    for mode in ("binary", "multilabel"):
        case = _case(("focal-soft",), {"alpha": 0.3}, mode, "2d", label="soft")
        case.call["y_true"] = rng_for("soft", mode).random(case.call["y_true"].shape)
        cases.append(case)
    cases.append(_case(("focal-in-range",), {"ignore_index": 1}, "multiclass", "2d", ignore=True, label="in-range"))
    for reduction in ("mean", "none"):  # binary targets without the channel axis
        cases.append(
            _case(
                ("focal-squeezed",),
                {"reduction": reduction},
                "binary",
                "2d",
                squeeze=True,
                label=f"squeezed-{reduction}",
            )
        )
    return cases


# --------------------------------------------------------------------------- LovaszLoss


def lovasz_cases():
    cases = []
    for mode, per_image, ignore, shape_name in itertools.product(
        ("binary", "multiclass", "multilabel"), (False, True), (False, True), ("2d", "3d")
    ):
        args = {"per_image": per_image, **({"ignore_index": IGNORE[mode]} if ignore else {})}
        cases.append(
            _case(
                ("lovasz",),
                args,
                mode,
                shape_name,
                ignore=ignore,
                squeeze=shape_name == "2d",
                absent=shape_name == "3d" and mode != "binary",
                scale=1.0,
            )
        )
    cases.append(_case(("lovasz",), {"from_logits": False}, "multiclass", "vector", label="from_logits-unused"))
    for case in cases:  # smp runs in float32 (PEER_DTYPE): inputs it represents exactly
        case.call["y_pred"] = case.call["y_pred"].astype(np.float32).astype(np.float64)
    return cases


# --------------------------------------------------------------------------- MCCLoss


def mcc_cases():
    cases = []
    for eps, shape_name, squeeze in itertools.product((1e-5, 0.5, 0.0), ("2d", "3d"), (False, True)):
        case = _case(("mcc", eps), {"eps": eps}, "binary", shape_name, squeeze=squeeze, label=f"eps={eps}")
        case.args.pop("mode")
        case.call["y_pred"] = _sigmoid(case.call["y_pred"])  # smp's MCC takes probabilities
        cases.append(case)
    return cases


# --------------------------------------------------------------------------- SoftBCEWithLogitsLoss


def soft_bce_cases():
    cases = []
    for shape_name, reduction, weights, ignore, smooth_factor in itertools.product(
        ("vector", "2d"),
        ("mean", "sum", "none"),
        ("none", "weight", "pos_scalar", "pos_per_class", "both"),
        (None, -100, 2),
        (None, 0.1, 0.5),
    ):
        if shape_name == "vector" and (weights != "none") + (ignore is not None) + (smooth_factor is not None) > 1:
            continue  # keep the grid small: the vectors vary one thing at a time
        shape = SHAPES[shape_name]
        rng = rng_for("soft-bce", shape_name, reduction, weights, ignore, smooth_factor)
        soft = smooth_factor is None and weights == "none"
        target = rng.random(shape) if soft else (rng.random(shape) < 0.4).astype(np.float64)
        if ignore is not None:
            target = _ignored(rng, target, ignore, 0.3)
        per_class = rng.uniform(0.5, 3.0, (shape[1],) + (1,) * (len(shape) - 2))
        args = {
            "reduction": reduction,
            "smooth_factor": smooth_factor,
            "ignore_index": ignore,
            "weight": rng.uniform(0.2, 2.0, shape[1:]) if weights in ("weight", "both") else None,
            "pos_weight": {"pos_scalar": np.array([2.5]), "pos_per_class": per_class, "both": per_class}.get(weights),
        }
        cases.append(
            Case(
                args,
                {"y_pred": rng.normal(0, 2, shape), "y_true": target},
                ("y_pred",),
                f"{shape_name}-{reduction}-{weights}-ignore={ignore}-s={smooth_factor}",
            )
        )
    return cases


# --------------------------------------------------------------------------- SoftCrossEntropyLoss


def soft_ce_cases():
    cases = []
    for (shape_name, dim), reduction, ignore, smooth_factor in itertools.product(
        (("vector", 1), ("2d", 1), ("2d", -1), ("3d", 1)), ("mean", "sum", "none"), (None, -100, 1), (0.0, 0.1, 1.0)
    ):
        shape = SHAPES[shape_name]
        rng = rng_for("soft-ce", shape_name, dim, reduction, ignore, smooth_factor)
        axis = dim % len(shape)
        labels = rng.integers(0, shape[axis], shape[:axis] + shape[axis + 1 :])
        if ignore is not None:
            labels = _ignored(rng, labels, ignore, 0.3).astype(np.int64)
        if ignore == 1 and shape_name == "3d":
            labels = np.expand_dims(labels, dim)  # smp also takes labels with a size-1 class axis
        args = {"reduction": reduction, "smooth_factor": smooth_factor, "ignore_index": ignore, "dim": dim}
        cases.append(
            Case(
                args,
                {"y_pred": rng.normal(0, 2, shape), "y_true": labels},
                ("y_pred",),
                f"{shape_name}-dim={dim}-{reduction}-ignore={ignore}-s={smooth_factor}",
            )
        )
    return cases


CASES = {
    "DiceLoss": region_cases("DiceLoss"),
    "JaccardLoss": region_cases("JaccardLoss"),
    "TverskyLoss": region_cases("TverskyLoss", TVERSKY_ARGS),
    "FocalLoss": focal_cases,
    "LovaszLoss": lovasz_cases,
    "MCCLoss": mcc_cases,
    "SoftBCEWithLogitsLoss": soft_bce_cases,
    "SoftCrossEntropyLoss": soft_ce_cases,
}


def _all_cases():
    for name, make in CASES.items():
        for index, case in enumerate(make()):
            yield pytest.param(name, case, id=f"{name}-{index}-{case.label}")


def test_every_smp_compat_class_has_cases():
    assert set(CASES) == {d.name for d in compat.definitions("smp")}


def _peer_args(args, dtype):
    """smp takes weight tensors (``weight``, ``pos_weight``) and Python lists."""
    return torch_args(args, dtype)


# smp's Lovász computes its Jaccard weights in float32 (``.float()``), and ``torch.dot`` then refuses float64
# errors: it runs only in float32, so our float64 classes are compared with it at the float32 tolerance
PEER_DTYPE = {"LovaszLoss": "float32"}


@pytest.mark.parametrize(("name", "case"), list(_all_cases()))
def test_smp_compat_conforms(name, case):
    peer_class = getattr(smp_losses(), name)
    for dtype in ("float64", "float32"):
        peer_dtype = PEER_DTYPE.get(name, dtype)
        rtol = case.rtol.get(dtype, RTOL[peer_dtype])
        expected = run_torch(peer_class(**_peer_args(case.args, peer_dtype)), case, ORDER, peer_dtype)
        ours = getattr(ours_torch, name)(**torch_args(case.args, dtype))
        assert_conforms(run_torch(ours, case, ORDER, dtype), expected, rtol, f"torch {dtype}")
        ours = getattr(ours_tf, name)(**tf_args(case.args, dtype))
        assert_conforms(run_tf(ours, case, ORDER, dtype), expected, rtol, f"tensorflow {dtype}")


# --------------------------------------------------------------------------- refused arguments

REFUSED = [
    ("DiceLoss", {"mode": "multi-class"}, r"mode='multi-class' is not supported"),
    ("DiceLoss", {"mode": "binary", "class_weights": [1.0]}, r"class_weights=\[1.0\] is not supported"),
    ("JaccardLoss", {"mode": "binary", "classes": [0]}, r"classes=\[0\] is not supported"),
    ("JaccardLoss", {"mode": "multiclass", "eps": 0.0, "log_loss": True}, r"eps=0.0 is not supported"),
    ("DiceLoss", {"mode": "multiclass", "smooth": -1.0}, r"smooth=-1.0 is not supported"),
    ("DiceLoss", {"mode": "multiclass", "classes": [0.5]}, r"classes=\[0.5\] is not supported"),
    ("TverskyLoss", {"mode": "multiclass", "gamma": 0.0}, r"gamma=0.0 is not supported"),
    ("TverskyLoss", {"mode": "multiclass", "alpha": -0.1}, r"alpha=-0.1 is not supported"),
    ("TverskyLoss", {"mode": "multiclass", "class_weights": [-1.0, 1.0, 1.0]}, r"class_weights=.* is not supported"),
    ("FocalLoss", {"mode": "binary", "normalized": True}, r"normalized=True is not supported"),
    ("FocalLoss", {"mode": "binary", "reduced_threshold": 0.5}, r"reduced_threshold=0.5 is not supported"),
    ("FocalLoss", {"mode": "binary", "gamma": None}, r"gamma=None is not supported"),
    ("FocalLoss", {"mode": "binary", "alpha": 1.5}, r"alpha=1.5 is not supported"),
    ("FocalLoss", {"mode": "multilabel", "ignore_index": -1}, r"ignore_index=-1 is not supported"),
    ("FocalLoss", {"mode": "binary", "ignore_index": -1, "reduction": "none"}, r"reduction='none' is not supported"),
    ("FocalLoss", {"mode": "binary", "reduction": "avg"}, r"reduction='avg' is not supported"),
    ("FocalLoss", {"mode": "binary", "class_weights": [1.0]}, r"class_weights=\[1.0\] is not supported"),
    (
        "FocalLoss",
        {"mode": "multiclass", "class_weights": [1.0, 2.0, 3.0], "reduction": "none"},
        r"class_weights=\[1.0, 2.0, 3.0\] is not supported",
    ),
    ("FocalLoss", {"mode": "multiclass", "from_logits": False, "eps": 0.5}, r"eps=0.5 is not supported"),
    ("LovaszLoss", {"mode": "sigmoid"}, r"mode='sigmoid' is not supported"),
    ("MCCLoss", {"eps": -1e-5}, r"eps=-1e-05 is not supported"),
    ("SoftBCEWithLogitsLoss", {"smooth_factor": 0.7}, r"smooth_factor=0.7 is not supported"),
    ("SoftBCEWithLogitsLoss", {"pos_weight": np.ones((3, 2))}, r"pos_weight=\(3, 2\) is not supported"),
    ("SoftBCEWithLogitsLoss", {"reduction": "batchwise_mean"}, r"reduction='batchwise_mean' is not supported"),
    ("SoftCrossEntropyLoss", {"smooth_factor": 1.5}, r"smooth_factor=1.5 is not supported"),
    ("SoftCrossEntropyLoss", {"smooth_factor": 0.1, "dim": 1.0}, r"dim=1.0 is not supported"),
]


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
@pytest.mark.parametrize(("name", "args", "message"), REFUSED, ids=[f"{n}-{sorted(a)}" for n, a, _ in REFUSED])
def test_refused_arguments(framework, name, args, message):
    module = ours_torch if framework == "torch" else ours_tf
    with pytest.raises(ValueError, match=message):
        getattr(module, name)(**args)


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_call_time_errors(framework):
    """What smp itself rejects on the call: the default ``smooth_factor=None``
    of SoftCrossEntropyLoss (a TypeError in smp), class weights that are not one
    per class, and a 3-D multiclass Lovász input."""
    module, run = (ours_torch, run_torch) if framework == "torch" else (ours_tf, run_tf)
    rng = rng_for("call-errors")
    x, labels = rng.normal(size=(2, 3, 4, 5)), rng.integers(0, 3, (2, 4, 5))
    case = Case({}, {"y_pred": x, "y_true": labels}, ("y_pred",))
    with pytest.raises(TypeError):
        smp_losses().SoftCrossEntropyLoss()(torch.as_tensor(x), torch.as_tensor(labels))
    with pytest.raises(TypeError, match=r"smooth_factor=None fails on every call"):
        run(module.SoftCrossEntropyLoss(), case, ORDER, "float64")
    with pytest.raises(ValueError, match=r"class_weights has 2 entries but y_pred has 3 classes"):
        run(module.DiceLoss("multiclass", class_weights=[1.0, 2.0]), case, ORDER, "float64")
    with pytest.raises(ValueError, match=r"classes holds 3, out of range for 3 classes"):
        run(module.JaccardLoss("multiclass", classes=[3]), case, ORDER, "float64")
    volume = Case({}, {"y_pred": rng.normal(size=(2, 3, 7)), "y_true": rng.integers(0, 3, (2, 7))}, ("y_pred",))
    with pytest.raises(ValueError, match="Sigmoid output possible only with 1 class"):
        smp_losses().LovaszLoss("multiclass")(torch.randn(2, 3, 7), torch.randint(0, 3, (2, 7)))
    with pytest.raises(ValueError, match=r"mode='multiclass' takes y_pred"):
        run(module.LovaszLoss("multiclass"), volume, ORDER, "float64")
