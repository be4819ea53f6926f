"""Conformance of ``losses_torch.compat.monai`` / ``losses_tf.compat.monai`` with MONAI 1.6.1.

For every compat class: a grid of constructor arguments (the defaults and
non-default values of each supported argument, every ``reduction``), random
2-D and 3-D channels-first inputs, hard (label maps with ``to_onehot_y`` and
one-hot) and, where MONAI takes them, soft targets; values and gradients of our
torch class and our TensorFlow class against the MONAI class on the same arrays,
in float64 and float32 (see ``tests/compat_conformance.py``).

Tolerances: float32 1e-5 and float64 1e-10 relative to the largest entry,
except where MONAI itself computes in float32 from float64 inputs, checked in
float64 at the float32 level:

* ``FocalLoss`` and the focal terms of ``DiceFocalLoss`` /
  ``GeneralizedDiceFocalLoss`` cast the input to float32 (2e-6);
* ``GeneralizedDiceLoss`` computes its class weights, and
  ``GeneralizedWassersteinDiceLoss`` its ``"GDL"`` weights, in float32 (1e-6);
* ``HausdorffDTLoss`` / ``LogHausdorffDTLoss`` round their distance fields to
  float32 (2e-6);
* ``DeepSupervisionLoss`` casts every output to float32 and sums in float32 (1e-5).

And with ``squared_pred=True`` MONAI computes the intersection as
``(|p|^2 + |g|^2 - |p - g|^2) / 2`` from vector norms, equal to ``sum(p g)`` but
with a cancellation that costs float64 digits when the volumes are large
(``batch=True``): 1e-8 there.

The tests that end in ``_is_refused`` check that what the compat layer cannot
honour raises a ``ValueError``/``TypeError`` naming the argument.
"""

from __future__ import annotations

import itertools

# torch must be imported before tensorflow: keep this order.
# isort: off
import numpy as np
import pytest
import torch

import monai.losses

import losses_torch.compat.monai as ours_torch

import tensorflow as tf

import losses_tf.compat.monai as ours_tf

from compat_conformance import RTOL, Case, assert_conforms, rng_for, run_tf, run_torch, tf_args, torch_args
from spec import compat

# isort: on

SHAPES = {"2d": (2, 3, 5, 4), "3d": (2, 3, 3, 4, 2)}
REDUCTIONS = ("mean", "sum", "none")
FLOAT32_PEER = {"float64": 2e-6}  # MONAI computes in float32 (module docstring)
SQUARED_RTOL = 1e-8  # MONAI's squared_pred intersection loses digits to cancellation (module docstring)
ACTIVATIONS = {"torch": torch.sigmoid, "tensorflow": tf.sigmoid}  # the other_act used by the cases


# --------------------------------------------------------------------------- inputs


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _labels(rng, shape, ignore=None):
    labels = rng.integers(0, shape[1], (shape[0], 1, *shape[2:]))
    if ignore is not None:
        mask = rng.random(labels.shape) < 0.25
        mask.flat[0], mask.flat[-1] = True, False
        labels = np.where(mask, ignore, labels)
    return labels.astype(np.int64)


def _one_hot(labels, classes):
    return np.moveaxis(np.eye(classes)[labels[:, 0]], -1, 1)


def _soft(rng, shape):
    return np.moveaxis(rng.dirichlet(np.ones(shape[1]), (shape[0], *shape[2:])), -1, 1)


def _binary(rng, shape):
    return (rng.random(shape) < 0.4).astype(np.float64)


def logits_labels(rng, shape, ignore=None):
    return {"input": rng.normal(0, 1.5, shape), "target": _labels(rng, shape, ignore)}


def logits_one_hot(rng, shape):
    return {"input": rng.normal(0, 1.5, shape), "target": _one_hot(_labels(rng, shape), shape[1])}


def logits_binary(rng, shape):
    return {"input": rng.normal(0, 1.5, shape), "target": _binary(rng, shape)}


def logits_soft(rng, shape):
    return {"input": rng.normal(0, 1.5, shape), "target": _soft(rng, shape)}


def probabilities_one_hot(rng, shape):
    return {"input": _softmax(rng.normal(0, 1.5, shape)), "target": _one_hot(_labels(rng, shape), shape[1])}


def probabilities_soft(rng, shape):
    return {"input": _softmax(rng.normal(0, 1.5, shape)), "target": _soft(rng, shape)}


def one_channel(rng, shape):
    shape = (shape[0], 1, *shape[2:])
    return {"input": rng.normal(0, 1.5, shape), "target": _binary(rng, shape)}


def ignored(value, dense=False):
    """Labels with a quarter of the positions set to ``value``; one-hot with all-zero rows there (``dense``)."""

    def make(rng, shape):
        call = logits_labels(rng, shape, ignore=value)
        if dense:
            labels = call["target"]
            call["target"] = _one_hot(np.where(labels == value, 0, labels), shape[1]) * (labels != value)
        return call

    return make


def one_channel_ignored(rng, shape):
    call = one_channel(rng, shape)
    call["target"] = np.where(rng.random(call["target"].shape) < 0.25, 255.0, call["target"])
    return call


def float_labels(rng, shape):
    call = logits_labels(rng, shape)
    call["target"] = call["target"].astype(np.float64)
    return call


# --------------------------------------------------------------------------- case grids


def _cases(name, variations, reductions=REDUCTIONS, shapes=("2d", "3d"), rtol=None):
    """Each ``(label, args, data)`` variation under every reduction, alternating 2-D and 3-D inputs."""
    cases = []
    for index, ((label, args, data), reduction) in enumerate(itertools.product(variations, reductions)):
        shape_name = shapes[index % len(shapes)]
        rng = rng_for(name, label, reduction, shape_name)
        args = dict(args) if reduction is None else {**args, "reduction": reduction}
        tolerance = dict(rtol or {})
        if args.get("squared_pred"):  # MONAI's squared intersection (module docstring)
            tolerance["float64"] = max(tolerance.get("float64", RTOL["float64"]), SQUARED_RTOL)
        cases.append(
            Case(args, data(rng, SHAPES[shape_name]), ("input",), f"{label}-{reduction}-{shape_name}", tolerance)
        )
    return cases


SOFTMAX = {"softmax": True, "to_onehot_y": True}
REGION_BASES = [
    ("softmax-labels", SOFTMAX, logits_labels),
    ("softmax-one-hot", {"softmax": True}, logits_one_hot),
    ("sigmoid", {"sigmoid": True}, logits_binary),
    ("probabilities", {}, probabilities_one_hot),
    ("other-act", {"other_act": "sigmoid"}, logits_binary),
    ("one-channel", {"sigmoid": True, "softmax": False}, one_channel),
    ("no-background", {**SOFTMAX, "include_background": False}, logits_labels),
    ("batch", {**SOFTMAX, "batch": True}, logits_labels),
    ("smoothing", {**SOFTMAX, "smooth_nr": 0.3, "smooth_dr": 0.7}, logits_labels),
]


def dice_cases():
    variations = [
        *REGION_BASES,
        ("squared", {"sigmoid": True, "squared_pred": True}, logits_binary),
        ("jaccard", {**SOFTMAX, "jaccard": True, "smooth_nr": 1.0, "smooth_dr": 0.5}, logits_labels),
        ("weights", {**SOFTMAX, "weight": [0.5, 2.0, 1.0]}, logits_labels),
        ("scalar-weight-batch", {**SOFTMAX, "weight": 2.5, "batch": True}, logits_labels),
        ("weights-no-background", {**SOFTMAX, "include_background": False, "weight": [3.0, 0.5]}, logits_labels),
        ("soft-label", {"soft_label": True}, probabilities_soft),
        ("soft-label-jaccard", {"soft_label": True, "jaccard": True, "softmax": True}, logits_soft),
        ("product-soft", {"softmax": True}, logits_soft),
        ("ignore-out-of-range", {**SOFTMAX, "ignore_index": 255}, ignored(255)),
        ("ignore-class", {**SOFTMAX, "ignore_index": 1, "include_background": False}, ignored(1)),
        ("ignore-one-hot", {"softmax": True, "ignore_index": -1}, ignored(-1, dense=True)),
        ("ignore-soft-class", {"softmax": True, "ignore_index": 2}, logits_soft),
        ("ignore-one-channel", {"sigmoid": True, "ignore_index": 255}, one_channel_ignored),
        ("float-label-map", SOFTMAX, float_labels),
    ]
    return _cases("DiceLoss", variations)


def masked_dice_cases():
    def masked(data, full_batch=True):
        def make(rng, shape):
            call = data(rng, shape)
            mask_shape = (shape[0] if full_batch else 1, 1, *shape[2:])
            call["mask"] = (rng.random(mask_shape) < 0.7).astype(np.float64)
            return call

        return make

    variations = [
        ("softmax-labels", SOFTMAX, masked(logits_labels)),
        ("softmax-no-background", {**SOFTMAX, "include_background": False}, masked(logits_labels, False)),
        ("sigmoid", {"sigmoid": True, "batch": True}, masked(logits_binary)),
        ("probabilities-jaccard", {"jaccard": True}, masked(probabilities_one_hot)),
        ("other-act-squared", {"other_act": "sigmoid", "squared_pred": True}, masked(logits_binary, False)),
        (
            "weights-smoothing",
            {**SOFTMAX, "weight": [0.5, 2.0, 1.0], "smooth_nr": 0.0, "smooth_dr": 1e-3},
            masked(logits_labels),
        ),
        ("soft-label", {"soft_label": True, "softmax": True}, masked(logits_soft)),
        ("no-mask", SOFTMAX, logits_labels),
    ]
    return _cases("MaskedDiceLoss", variations)


def generalized_dice_cases():
    def absent_class(rng, shape):
        call = logits_labels(rng, shape)
        call["target"] = np.where(call["target"] == 2, 0, call["target"])  # class 2 absent everywhere
        return call

    variations = [
        *REGION_BASES,
        ("simple", {**SOFTMAX, "w_type": "simple"}, logits_labels),
        ("uniform-batch", {**SOFTMAX, "w_type": "uniform", "batch": True}, logits_labels),
        ("absent-class", SOFTMAX, absent_class),
        ("absent-class-batch", {**SOFTMAX, "batch": True, "include_background": False}, absent_class),
        ("soft-label", {"soft_label": True, "softmax": True}, logits_soft),
    ]
    return _cases("GeneralizedDiceLoss", variations, rtol={"float64": 1e-6})


def tversky_cases():
    variations = [
        *REGION_BASES,
        ("alpha-beta", {**SOFTMAX, "alpha": 0.3, "beta": 0.7}, logits_labels),
        ("negative-loss", {**SOFTMAX, "smooth_nr": 2.0, "smooth_dr": 0.1, "alpha": 0.9}, logits_labels),
        ("soft-label", {"soft_label": True, "alpha": 0.2, "beta": 0.6}, probabilities_soft),
        ("ignore-out-of-range", {**SOFTMAX, "ignore_index": 255, "batch": True}, ignored(255)),
        ("ignore-class", {"softmax": True, "ignore_index": 0}, logits_one_hot),
    ]
    return _cases("TverskyLoss", variations)


def mcc_cases():
    return _cases("MCCLoss", [*REGION_BASES, ("numerator-smoothing", {**SOFTMAX, "smooth_nr": 0.2}, logits_labels)])


def focal_cases():
    softmax = {"use_softmax": True, "to_onehot_y": True}

    def flat(rng, shape):
        return logits_labels(rng, (6, 4))

    def flat_dense(rng, shape):
        return logits_binary(rng, (6, 4))

    variations = [
        ("sigmoid-binary", {}, logits_binary),
        ("sigmoid-labels", {"to_onehot_y": True}, logits_labels),
        ("sigmoid-soft", {"gamma": 0.5}, logits_soft),
        ("sigmoid-alpha", {"alpha": 0.25, "gamma": 1.5}, logits_binary),
        ("sigmoid-alpha-list", {"alpha": [0.2, 0.5, 0.8]}, logits_binary),
        ("sigmoid-alpha-list-soft", {"alpha": [0.2, 0.5, 0.8], "weight": 2.0}, logits_soft),
        ("sigmoid-weights", {"weight": [0.5, 2.0, 1.0], "alpha": 0.7}, logits_binary),
        ("sigmoid-scalar-weight", {"weight": 3.0, "gamma": 0.0}, logits_soft),
        ("sigmoid-no-background", {"include_background": False, "weight": [2.0, 0.5]}, logits_binary),
        ("sigmoid-ignore", {"to_onehot_y": True, "ignore_index": 255}, ignored(255)),
        ("sigmoid-ignore-weights", {"to_onehot_y": True, "ignore_index": 1, "weight": [1.0, 2.0, 3.0]}, ignored(1)),
        ("sigmoid-one-channel", {}, one_channel),
        ("sigmoid-one-channel-ignore", {"ignore_index": 255}, one_channel_ignored),
        ("sigmoid-no-spatial", {}, flat_dense),
        ("softmax", softmax, logits_labels),
        ("softmax-soft", {"use_softmax": True, "gamma": 1.0}, logits_soft),
        ("softmax-alpha", {**softmax, "alpha": 0.25}, logits_labels),
        ("softmax-alpha-list-weights", {**softmax, "alpha": [0.2, 0.3, 0.5], "weight": [1.0, 2.0, 0.5]}, logits_labels),
        ("softmax-scalar-weight", {**softmax, "weight": 0.5, "alpha": 0.6}, logits_labels),
        ("softmax-no-background", {**softmax, "include_background": False, "alpha": 0.25}, logits_labels),
        ("softmax-no-background-list", {**softmax, "include_background": False, "alpha": [0.4, 0.6]}, logits_labels),
        ("softmax-ignore", {**softmax, "ignore_index": 255, "gamma": 3.0}, ignored(255)),
        ("softmax-ignore-no-background", {**softmax, "ignore_index": 0, "include_background": False}, ignored(0)),
        ("softmax-ignore-one-hot", {"use_softmax": True, "ignore_index": 7}, ignored(7, dense=True)),
        ("softmax-no-spatial", softmax, flat),
    ]
    return _cases("FocalLoss", variations, rtol=FLOAT32_PEER)


def dice_ce_cases():
    variations = [
        ("softmax-labels", SOFTMAX, logits_labels),
        ("one-hot", {"softmax": True}, logits_one_hot),
        ("soft", {"softmax": True, "label_smoothing": 0.1}, logits_soft),
        ("weights", {**SOFTMAX, "weight": np.array([0.5, 2.0, 1.0])}, logits_labels),
        (
            "weights-no-background",
            {**SOFTMAX, "weight": np.array([0.5, 2.0, 1.0]), "include_background": False},
            logits_labels,
        ),
        ("lambdas-smoothing", {**SOFTMAX, "lambda_dice": 0.3, "lambda_ce": 2.0, "label_smoothing": 0.2}, logits_labels),
        ("squared-jaccard-batch", {**SOFTMAX, "squared_pred": True, "jaccard": True, "batch": True}, logits_labels),
        ("sigmoid-dice", {"sigmoid": True, "smooth_nr": 0.0, "smooth_dr": 1e-3}, logits_one_hot),
        ("other-act", {"other_act": "sigmoid", "to_onehot_y": True}, logits_labels),
        ("one-channel-bce", {"sigmoid": True, "weight": np.array([2.5])}, one_channel),
        ("float-label-map", SOFTMAX, float_labels),
    ]
    return _cases("DiceCELoss", variations, reductions=("mean", "sum"))


def dice_focal_cases():
    variations = [
        ("softmax-labels", SOFTMAX, logits_labels),
        ("sigmoid", {"sigmoid": True, "gamma": 1.0}, logits_binary),
        ("weights-alpha", {**SOFTMAX, "weight": [0.5, 2.0, 1.0], "alpha": 0.3}, logits_labels),
        ("no-background", {**SOFTMAX, "include_background": False, "weight": [2.0, 1.0]}, logits_labels),
        ("lambdas-jaccard", {"sigmoid": True, "lambda_dice": 0.2, "lambda_focal": 3.0, "jaccard": True}, logits_binary),
        ("squared-batch-smoothing", {**SOFTMAX, "squared_pred": True, "batch": True, "smooth_nr": 0.5}, logits_labels),
        ("other-act", {"other_act": "sigmoid", "smooth_dr": 0.1}, logits_binary),
    ]
    return _cases("DiceFocalLoss", variations, rtol=FLOAT32_PEER)


def generalized_dice_focal_cases():
    variations = [
        ("softmax-labels", SOFTMAX, logits_labels),
        ("sigmoid-simple", {"sigmoid": True, "w_type": "simple"}, logits_binary),
        (
            "weights-lambdas",
            {**SOFTMAX, "weight": [0.5, 2.0, 1.0], "lambda_gdl": 0.4, "lambda_focal": 2.0},
            logits_labels,
        ),
        (
            "no-background-uniform",
            {**SOFTMAX, "include_background": False, "w_type": "uniform", "gamma": 1.0},
            logits_labels,
        ),
        ("batch-smoothing", {**SOFTMAX, "batch": True, "smooth_nr": 0.1, "smooth_dr": 0.2}, logits_labels),
        ("other-act", {"other_act": "sigmoid"}, logits_binary),
    ]
    return _cases("GeneralizedDiceFocalLoss", variations, rtol=FLOAT32_PEER)


LESION = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5], [1.0, 0.5, 0.0]])


def wasserstein_cases():
    def labels_without_channel(rng, shape):
        call = logits_labels(rng, shape)
        call["target"] = call["target"][:, 0]
        return call

    variations = [
        ("default", {"dist_matrix": LESION}, logits_labels),
        ("scaled-matrix", {"dist_matrix": 4.0 * LESION}, labels_without_channel),
        ("uniform", {"dist_matrix": 1.0 - np.eye(3), "smooth_nr": 0.1, "smooth_dr": 0.5}, logits_labels),
        ("gdl", {"dist_matrix": LESION, "weighting_mode": "GDL"}, logits_labels),
        ("float-labels", {"dist_matrix": LESION}, float_labels),
    ]
    return _cases("GeneralizedWassersteinDiceLoss", variations, rtol={"float64": 1e-6})


HAUSDORFF_BASES = [
    ("softmax-labels", SOFTMAX, logits_labels),
    ("background", {**SOFTMAX, "include_background": True, "alpha": 1.0}, logits_labels),
    ("sigmoid", {"sigmoid": True, "alpha": 0.5}, logits_binary),
    ("probabilities", {"include_background": True}, probabilities_one_hot),
    ("other-act", {"other_act": "sigmoid", "alpha": 3.0}, logits_binary),
    ("one-channel", {"sigmoid": True}, one_channel),
    ("batch", {**SOFTMAX, "batch": True}, logits_labels),
    ("batch-background", {"softmax": True, "batch": True, "include_background": True}, logits_one_hot),
]


def hausdorff_cases():
    return _cases("HausdorffDTLoss", HAUSDORFF_BASES, rtol=FLOAT32_PEER)


def log_hausdorff_cases():
    return _cases("LogHausdorffDTLoss", HAUSDORFF_BASES, rtol=FLOAT32_PEER)


CLDICE_BASES = [
    ("softmax-labels", SOFTMAX, logits_labels),
    ("sigmoid", {"sigmoid": True, "iter_": 1}, logits_binary),
    ("probabilities", {"iter_": 0}, probabilities_one_hot),
    ("other-act", {"other_act": "sigmoid", "smooth": 1e-2}, logits_binary),
    ("no-background", {**SOFTMAX, "include_background": False, "smooth_nr": 0.0, "smooth_dr": 0.5}, logits_labels),
    ("one-channel", {"sigmoid": True, "iter_": 2}, one_channel),
]


def cldice_cases():
    return _cases("SoftclDiceLoss", CLDICE_BASES)


def dice_cldice_cases():
    variations = [*CLDICE_BASES, ("alpha", {**SOFTMAX, "alpha": 0.2}, logits_labels)]
    return _cases("SoftDiceclDiceLoss", variations)


def unified_focal_cases():
    def two_channel(rng, shape):
        shape = (shape[0], 2, *shape[2:])
        return {"input": _softmax(rng.normal(0, 1.5, shape)), "target": _labels(rng, shape)}

    def two_channel_one_hot(rng, shape):
        call = two_channel(rng, shape)
        call["target"] = _one_hot(call["target"], 2)
        return call

    def foreground(rng, shape):
        shape = (shape[0], 1, *shape[2:])
        return {"input": 1.0 / (1.0 + np.exp(-rng.normal(0, 1.5, shape))), "target": _binary(rng, shape)}

    def two_channel_ignored(value):
        def make(rng, shape):
            call = two_channel(rng, shape)
            mask = rng.random(call["target"].shape) < 0.25
            call["target"] = np.where(mask, value, call["target"])
            return call

        return make

    variations = [
        ("labels", {"to_onehot_y": True}, two_channel),
        ("one-hot", {"weight": 0.2, "gamma": 0.3, "delta": 0.6}, two_channel_one_hot),
        ("foreground", {"gamma": 0.75}, foreground),
        ("ignore-out-of-range", {"to_onehot_y": True, "ignore_index": 255}, two_channel_ignored(255)),
        ("ignore-class", {"to_onehot_y": True, "ignore_index": 1, "weight": 0.8}, two_channel_ignored(1)),
    ]
    cases = _cases("AsymmetricUnifiedFocalLoss", variations)
    for case in cases:  # MONAI's call is (y_pred, y_true)
        case.call = {"y_pred": case.call["input"], "y_true": case.call["target"]}
        case.wrt = ("y_pred",)
    return cases


def _views(rng, shape):
    a = rng.normal(0, 1.0, (5, 6))
    return {"input": a, "target": a + rng.normal(0, 0.5, a.shape)}


def contrastive_cases():
    variations = [
        ("default", {}, _views),
        ("temperature", {"temperature": 0.1}, _views),
        ("hot", {"temperature": 2.0}, _views),
    ]
    return _cases("ContrastiveLoss", variations, reductions=(None,), shapes=("2d",))


def barlow_twins_cases():
    variations = [("default", {}, _views), ("lambd", {"lambd": 0.3}, _views), ("no-redundancy", {"lambd": 0.0}, _views)]
    return _cases("BarlowTwinsLoss", variations, reductions=(None,), shapes=("2d",))


def deep_supervision_cases():
    """``input`` is a list (``level0``, ``level1``, ...) of coarser and coarser outputs, or one tensor."""

    def levels(count, dense=False):
        def make(rng, shape):
            call = {}
            spatial = shape[2:]
            for level in range(count):
                size = tuple(max(1, s // 2**level) for s in spatial)
                call[f"level{level}"] = rng.normal(0, 1.5, (shape[0], shape[1], *size))
            labels = _labels(rng, shape).astype(np.float64)  # MONAI's nearest-exact resize needs floats
            call["target"] = _one_hot(labels.astype(np.int64), shape[1]) if dense else labels
            return call

        return make

    dice_ce = ("DiceCELoss", SOFTMAX)
    variations = [
        ("exp", {"loss": dice_ce}, levels(3)),
        ("same", {"loss": dice_ce, "weight_mode": "same"}, levels(2)),
        ("two", {"loss": ("DiceLoss", {"softmax": True}), "weight_mode": "two"}, levels(3, dense=True)),
        ("weights", {"loss": dice_ce, "weights": [0.7, 0.2, 0.1]}, levels(3)),
        ("short-weights", {"loss": dice_ce, "weights": [0.7], "weight_mode": "two"}, levels(2)),
        ("unknown-mode", {"loss": ("TverskyLoss", SOFTMAX), "weight_mode": "linear"}, levels(2)),
        ("focal", {"loss": ("FocalLoss", {"to_onehot_y": True})}, levels(2)),
        ("one-tensor", {"loss": dice_ce}, lambda rng, shape: logits_labels(rng, shape)),
    ]
    cases = _cases("DeepSupervisionLoss", variations, reductions=(None,), rtol={"float64": 1e-5})
    for case in cases:
        case.wrt = tuple(name for name in case.call if name != "target")
    return cases


CASES = {
    "DiceLoss": dice_cases,
    "MaskedDiceLoss": masked_dice_cases,
    "GeneralizedDiceLoss": generalized_dice_cases,
    "TverskyLoss": tversky_cases,
    "MCCLoss": mcc_cases,
    "FocalLoss": focal_cases,
    "DiceCELoss": dice_ce_cases,
    "DiceFocalLoss": dice_focal_cases,
    "GeneralizedDiceFocalLoss": generalized_dice_focal_cases,
    "GeneralizedWassersteinDiceLoss": wasserstein_cases,
    "HausdorffDTLoss": hausdorff_cases,
    "LogHausdorffDTLoss": log_hausdorff_cases,
    "SoftclDiceLoss": cldice_cases,
    "SoftDiceclDiceLoss": dice_cldice_cases,
    "AsymmetricUnifiedFocalLoss": unified_focal_cases,
    "ContrastiveLoss": contrastive_cases,
    "BarlowTwinsLoss": barlow_twins_cases,
    "DeepSupervisionLoss": deep_supervision_cases,
}


# --------------------------------------------------------------------------- the comparison


def _library(framework):
    return {"monai": monai.losses, "torch": ours_torch, "tensorflow": ours_tf}[framework]


def _construct(name, args, framework, dtype):
    """The loss of ``framework`` with the case's arguments (framework tensors, the framework's other_act)."""
    args = dict(args)
    if args.get("other_act") == "sigmoid":
        args["other_act"] = ACTIVATIONS["tensorflow" if framework == "tensorflow" else "torch"]
    if name == "DeepSupervisionLoss":
        inner, inner_args = args["loss"]
        args["loss"] = _construct(inner, inner_args, framework, dtype)
    convert = tf_args if framework == "tensorflow" else torch_args
    return getattr(_library(framework), name)(**convert(args, dtype))


def _callable(loss, name, case):
    """The loss called with the case's arrays in ``_order``."""
    if name == "DeepSupervisionLoss" and "level0" in case.call:
        return lambda *tensors: loss(list(tensors[:-1]), tensors[-1])
    return loss


def _order(definition, case):
    if "level0" in case.call:
        return [name for name in case.call if name.startswith("level")] + ["target"]
    return [arg.name for arg in definition.call]


def _all_cases():
    for name, make in CASES.items():
        for index, case in enumerate(make()):
            yield pytest.param(name, case, id=f"{name}-{index}-{case.label}")


def test_every_monai_compat_class_has_cases():
    assert set(CASES) == {d.name for d in compat.definitions("monai")}


@pytest.mark.filterwarnings("ignore::UserWarning")  # MONAI: single-channel flags ignored, no mask, ...
@pytest.mark.parametrize(("name", "case"), list(_all_cases()))
def test_monai_compat_conforms(name, case):
    definition = compat.get_definition("monai", name)
    order = _order(definition, case)
    for dtype in ("float64", "float32"):
        rtol = case.rtol.get(dtype, RTOL[dtype])
        run = {"monai": run_torch, "torch": run_torch, "tensorflow": run_tf}
        results = {
            framework: run[framework](
                _callable(_construct(name, case.args, framework, dtype), name, case), case, order, dtype
            )
            for framework in ("monai", "torch", "tensorflow")
        }
        for framework in ("torch", "tensorflow"):
            assert_conforms(results[framework], results["monai"], rtol, f"{framework} {dtype}")


# --------------------------------------------------------------------------- refusals and errors


@pytest.fixture(params=["torch", "tensorflow"])
def library(request):
    return _library(request.param), request.param


def _tensors(framework, **arrays):
    convert = tf.constant if framework == "tensorflow" else torch.as_tensor
    return {name: convert(value) for name, value in arrays.items()}


def test_reductions_monai_has_not_are_refused(library):
    module, _ = library
    with pytest.raises(ValueError, match=r"DiceCELoss: reduction must be one of 'mean', 'sum', got 'none'"):
        module.DiceCELoss(reduction="none")
    with pytest.raises(ValueError, match=r"DiceLoss: reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        module.DiceLoss(reduction="avg")


def test_unsupported_arguments_are_refused(library):
    module, _ = library
    with pytest.raises(ValueError, match=r"AsymmetricUnifiedFocalLoss: num_classes=3 is not supported .*expected 2"):
        module.AsymmetricUnifiedFocalLoss(num_classes=3)
    with pytest.raises(ValueError, match=r"SoftclDiceLoss: smooth_dr=0.0 is not supported .*expected a value > 0"):
        module.SoftclDiceLoss(smooth_dr=0.0)
    with pytest.raises(ValueError, match=r"SoftDiceclDiceLoss: smooth_nr=-1.0 is not supported"):
        module.SoftDiceclDiceLoss(smooth_nr=-1.0)


def test_monai_argument_errors_are_reproduced(library):
    module, _ = library
    with pytest.raises(ValueError, match=r"DiceLoss: sigmoid=True, softmax=True, .*expected at most one"):
        module.DiceLoss(sigmoid=True, softmax=True)
    with pytest.raises(TypeError, match=r"TverskyLoss: other_act must be None or a callable, got str"):
        module.TverskyLoss(other_act="tanh")
    with pytest.raises(ValueError, match=r"DiceCELoss: lambda_ce must be >= 0, got -1.0"):
        module.DiceCELoss(lambda_ce=-1.0)
    with pytest.raises(ValueError, match=r"GeneralizedDiceLoss: w_type must be one of"):
        module.GeneralizedDiceLoss(w_type="cubic")
    with pytest.raises(ValueError, match=r"GeneralizedWassersteinDiceLoss: dist_matrix must be a C x C matrix"):
        module.GeneralizedWassersteinDiceLoss(dist_matrix=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"SoftDiceclDiceLoss: alpha must be in \[0, 1\], got 1.5"):
        module.SoftDiceclDiceLoss(alpha=1.5)
    with pytest.raises(TypeError, match=r"SoftclDiceLoss: iter_ must be an integer, got float"):
        module.SoftclDiceLoss(iter_=2.0)
    with pytest.raises(ValueError, match=r"FocalLoss: weight must be >= 0"):
        module.FocalLoss(weight=[1.0, -1.0])
    with pytest.raises(TypeError, match=r"DeepSupervisionLoss: loss must be a loss instance"):
        module.DeepSupervisionLoss(loss="dice")


def test_call_errors_name_the_argument(library):
    module, framework = library
    rng = rng_for("call-errors")
    logits = rng.normal(size=(2, 3, 4, 4))
    labels = rng.integers(0, 3, (2, 1, 4, 4))
    call = _tensors(framework, input=logits, target=labels)
    with pytest.raises(ValueError, match=r"DiceLoss: target of shape .* does not match input .*to_onehot_y=True"):
        module.DiceLoss(softmax=True)(call["input"], call["target"])
    with pytest.raises(ValueError, match=r"DiceLoss: weight has 2 entries but 3 classes are kept"):
        module.DiceLoss(softmax=True, to_onehot_y=True, weight=[1.0, 2.0])(call["input"], call["target"])
    with pytest.raises(ValueError, match=r"FocalLoss: alpha has 2 entries; expected one per kept class, 3"):
        module.FocalLoss(to_onehot_y=True, alpha=[0.5, 0.5])(call["input"], call["target"])
    float_labels = _tensors(framework, target=labels.astype(np.float64))["target"]
    with pytest.raises(ValueError, match=r"DiceCELoss: a floating-point label map with weight="):
        module.DiceCELoss(softmax=True, to_onehot_y=True, weight=_tensors(framework, w=np.ones(3))["w"])(
            call["input"], float_labels
        )
    with pytest.raises(ValueError, match=r"HausdorffDTLoss: only 2-D .* and 3-D .* inputs"):
        module.HausdorffDTLoss()(call["input"][..., 0], call["input"][..., 0])
    with pytest.raises(ValueError, match=r"AsymmetricUnifiedFocalLoss: y_pred has 3 channels"):
        module.AsymmetricUnifiedFocalLoss()(call["input"], call["input"])
    with pytest.raises(ValueError, match=r"DeepSupervisionLoss: input=\[\] is not supported"):
        module.DeepSupervisionLoss(module.DiceLoss())([], call["target"])
    with pytest.raises(ValueError, match=r"from_logits=False expects probabilities in \[0, 1\]"):
        module.DiceLoss(to_onehot_y=True)(call["input"], call["target"])  # raw logits without an activation


def test_monai_enum_arguments_are_accepted(library):
    """MONAI's ``LossReduction`` / ``Weight`` members work where their strings do."""
    from monai.utils import LossReduction, Weight

    module, framework = library
    rng = rng_for("enums")
    call = logits_labels(rng, SHAPES["2d"])
    tensors = _tensors(framework, **call)
    for name, enum_args, string_args in [
        ("DiceLoss", {"reduction": LossReduction.SUM}, {"reduction": "sum"}),
        ("GeneralizedDiceLoss", {"w_type": Weight.SIMPLE}, {"w_type": "simple"}),
    ]:
        with_enum = getattr(module, name)(**SOFTMAX, **enum_args)(tensors["input"], tensors["target"])
        with_string = getattr(module, name)(**SOFTMAX, **string_args)(tensors["input"], tensors["target"])
        peer = getattr(monai.losses, name)(**SOFTMAX, **enum_args)(*map(torch.as_tensor, call.values()))
        np.testing.assert_allclose(np.asarray(with_enum), np.asarray(with_string), rtol=0, atol=0)
        np.testing.assert_allclose(np.asarray(with_enum), peer.numpy(), rtol=1e-6)


def test_contrastive_batch_size_warns_as_monai(library):
    module, _ = library
    with pytest.warns(UserWarning, match=r"batch_size is no longer required"):
        module.ContrastiveLoss(batch_size=8)


def test_hausdorff_maps_need_eager_execution():
    """The distance maps are host data (SciPy), as in MONAI: a traced call says so."""
    loss = ours_tf.HausdorffDTLoss(softmax=True, to_onehot_y=True)
    call = logits_labels(rng_for("traced"), SHAPES["2d"])
    traced = tf.function(lambda x, y: loss(x, y))
    with pytest.raises(ValueError, match=r"HausdorffDTLoss: the distance maps are computed on the host"):
        traced(tf.constant(call["input"]), tf.constant(call["target"]))
