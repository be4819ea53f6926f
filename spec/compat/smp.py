"""segmentation-models-pytorch 0.6.0's losses (``segmentation_models_pytorch.losses``), as compat definitions.

Every class keeps smp's constructor (``mode`` first where smp has one), its
call ``(y_pred, y_true)`` and its channels-first layout.  smp flattens the
spatial axes before computing, so the mappings do too: any number of spatial
axes works wherever smp's own code does.  Target conventions by ``mode``:
``"binary"`` -- one channel, targets ``(N, H, W)`` or ``(N, 1, H, W)`` (all
entries of a sample form one map); ``"multiclass"`` -- integer labels
``(N, H, W)``; ``"multilabel"`` -- 0/1 targets ``(N, C, H, W)``.

smp stores ``class_weights`` as float32 tensors: the mappings round them to
float32 too, so float64 runs agree with smp to the last digit.

See :mod:`spec.compat._core` for what a definition holds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spec.compat._core import Arg, Inputs, Mapped, PeerLoss, as_array, define, refuse
from spec.compat.torch import broadcast_weight
from spec.losses._targets import class_probabilities, dense_targets
from spec.ops import Ops, clip, safe_divide

Tensor = Any

MODES = ("binary", "multiclass", "multilabel")
MODE = Arg("mode", means="multilabel (sigmoid) for binary/multilabel, softmax for multiclass; the target layout")
CALL = (Arg("y_pred"), Arg("y_true"))
ROLES = {"y_pred": "y_pred", "y_true": "y_true"}


def _owner(name: str) -> str:
    return f"smp.losses.{name}"


def _smp(name: str, args: tuple[Arg, ...], build, losses: tuple[str, ...], *, unsupported=None, notes="") -> PeerLoss:
    return define(
        PeerLoss(
            peer="smp",
            name=name,
            args=args,
            call=CALL,
            build=build,
            losses=losses,
            roles=ROLES,
            unsupported=unsupported or {},
            notes=notes,
        )
    )


# --------------------------------------------------------------------------- shared argument checks


def _mode(owner: str, mode: Any) -> str:
    if mode not in MODES:
        refuse(owner, "mode", mode, "'binary', 'multiclass' or 'multilabel'")
    return mode


def _non_negative(owner: str, argument: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        refuse(owner, argument, value, "a float >= 0")
    return float(value)


def _float32_weights(owner: str, value: Any) -> list[float] | None:
    """``class_weights`` as smp keeps them: a float32 vector (here: its values as floats)."""
    weights = as_array(value)
    if weights is None:
        return None
    if weights.ndim != 1 or (weights < 0).any():
        refuse(owner, "class_weights", value, "a list of non-negative weights, one per class")
    return [float(w) for w in weights.astype(np.float32)]


def _class_indices(owner: str, value: Any) -> list[int] | None:
    if value is None:
        return None
    indices = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        refuse(owner, "classes", value, "a list of integer class indices")
    return [int(c) for c in indices]


def _no_binary_classes(owner: str, mode: str, args: dict[str, Any]) -> None:
    """smp refuses class selection in binary mode (``classes`` by an assertion)."""
    if mode == "binary" and args.get("class_weights") is not None:
        refuse(owner, "class_weights", args["class_weights"], "None with mode='binary' (smp rejects it too)")
    if mode == "binary" and args.get("classes") is not None:
        refuse(owner, "classes", args["classes"], "None with mode='binary' (smp rejects it too)")


def _average_weights(
    owner: str, classes: list[int] | None, weights: list[float] | None, num_classes: int
) -> list[float] | None:
    """smp's class selection as the spec's weights of the class average.

    ``loss[classes]`` averaged (or weighted by ``class_weights[classes]``)
    is the average of every class weighted by ``w_c`` times the number of
    times ``c`` occurs in ``classes`` (negative indices count from the end).
    """
    if weights is not None and len(weights) != num_classes:
        raise ValueError(
            f"{owner}: class_weights has {len(weights)} entries but y_pred has {num_classes} classes; "
            f"expected one weight per class"
        )
    if classes is None:
        return weights
    counts = [0] * num_classes
    for c in classes:
        if not -num_classes <= c < num_classes:
            raise ValueError(f"{owner}: classes holds {c}, out of range for {num_classes} classes")
        counts[c % num_classes] += 1
    base = weights if weights is not None else [1.0] * num_classes
    return [w * n for w, n in zip(base, counts, strict=True)]


def _float32_total(owner: str, classes: list[int] | None, weights: list[float], num_classes: int) -> float:
    """smp's denominator ``weights[classes].sum()``: a float32 sum, in the order of ``classes``."""
    selected = weights if classes is None else [weights[c % num_classes] for c in classes]
    total = np.float32(0.0)
    for w in selected:
        total = np.float32(total + np.float32(w))
    return float(total)


def _float32_denominator(factor: float):
    """A ``finish`` that turns the spec's exact ``sum(w)`` denominator into smp's float32 one."""

    def finish(ops: Ops, value: Tensor, inputs: Inputs) -> Tensor:
        return value * factor

    return None if factor == 1.0 else finish


def _flat(owner: str, ops: Ops, x: Tensor, shape: tuple[int, ...], what: str) -> Tensor:
    """``x`` reshaped to ``shape`` (smp's ``reshape``), with an error naming the call argument."""
    if math.prod(ops.shape(x)) != math.prod(shape):
        raise ValueError(f"{owner}: {what} of shape {ops.shape(x)} cannot be viewed as {shape}")
    return ops.reshape(x, shape)


def _same_batch(owner: str, ops: Ops, y_pred: Tensor, y_true: Tensor) -> int:
    batch = ops.shape(y_pred)[0]
    if ops.shape(y_true)[0] != batch:
        raise ValueError(
            f"{owner}: y_true has batch size {ops.shape(y_true)[0]}, y_pred {batch}; expected the same batch size"
        )
    return batch


def _per_class_maps(owner: str, mode: str, ops: Ops, y_pred: Tensor, y_true: Tensor) -> tuple[Tensor, Tensor]:
    """smp's flattening: ``(N, C, L)`` predictions and ``(N, L)`` labels
    (multiclass) or ``(N, C, L)`` float targets (binary: ``C = 1``)."""
    batch = _same_batch(owner, ops, y_pred, y_true)
    shape = ops.shape(y_pred)
    if mode == "multiclass":
        length = math.prod(shape[2:])
        return ops.reshape(y_pred, (batch, shape[1], length)), _flat(owner, ops, y_true, (batch, length), "y_true")
    channels = 1 if mode == "binary" else shape[1]
    pred = ops.reshape(y_pred, (batch, channels, -1))
    true = _flat(owner, ops, y_true, ops.shape(pred), "y_true")
    return pred, true if ops.is_floating(true) else ops.cast(true, pred)


# --------------------------------------------------------------------------- Dice, Jaccard, Tversky


def _overlap(name: str, loss: str, smooth_factor: float, **extra: Any):
    """``build`` of smp's region losses.  smp's score is the Tversky index
    ``(I + s)/max(I + a FP + b FN + s, eps)`` with ``I = (P + G - sum|p - g|)/2``;
    Dice (a = b = 1/2) in the spec's ``2I/(P + G)`` form doubles ``s`` and ``eps``."""
    owner = _owner(name)

    def build(args: dict[str, Any]) -> Mapped:
        mode = _mode(owner, args["mode"])
        _no_binary_classes(owner, mode, args)
        smooth = _non_negative(owner, "smooth", args["smooth"])
        eps = _non_negative(owner, "eps", args["eps"])
        log_loss = bool(args["log_loss"])
        if log_loss and eps <= 0.0:
            refuse(owner, "eps", args["eps"], "a float > 0 with log_loss=True (the floor of the score in the log)")
        classes = _class_indices(owner, args["classes"])
        weights = _float32_weights(owner, args["class_weights"])
        ignore_index = args["ignore_index"]
        entrywise_ignore = ignore_index is not None and mode != "multiclass"
        params = dict(
            class_axis=1,
            # binary/multilabel ignore_index masks probabilities, so prepare applies the sigmoid
            from_logits=bool(args["from_logits"]) and not entrywise_ignore,
            multilabel=mode != "multiclass",
            smooth=smooth_factor * smooth,
            batch=True,
            intersection="l1",
            ignore_index=int(ignore_index) if mode == "multiclass" and ignore_index is not None else None,
            empty_class="zero",
            min_denominator=smooth_factor * eps,
            log_loss=log_loss,
            **({"log_epsilon": eps} if log_loss else {}),
            **{key: value(args) for key, value in extra.items()},
        )
        variants: dict[int, Mapped] = {}

        def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
            y_pred, y_true = _per_class_maps(owner, mode, ops, call["y_pred"], call["y_true"])
            if entrywise_ignore:
                valid = ops.cast(ops.not_equal(y_true, float(ignore_index)), y_pred)
                probs = class_probabilities(
                    ops, y_pred, class_axis=1, from_logits=bool(args["from_logits"]), multilabel=True
                )
                y_pred, y_true = probs * valid, y_true * valid
            inputs = Inputs(y_pred, y_true)
            num_classes = ops.shape(y_pred)[1]
            if classes is not None or weights is not None:
                if num_classes not in variants:
                    selected = _average_weights(owner, classes, weights, num_classes)
                    finish = None
                    if weights is not None:
                        factor = sum(selected) / _float32_total(owner, classes, weights, num_classes)
                        factor **= params.get("gamma", 1.0)  # Tversky: the class mean is raised to gamma
                        finish = _float32_denominator(factor)
                    variants[num_classes] = Mapped(loss, {**params, "class_weights": selected}, finish=finish)
                inputs.mapped = variants[num_classes]
            return inputs

        return Mapped(loss, params, prepare=prepare)

    return build


def _region_args(*extra: Arg, factor: str = "") -> tuple[Arg, ...]:
    """smp's region-loss constructor; ``factor`` (``"2 "`` for Dice) scales ``smooth`` and ``eps``."""
    return (
        MODE,
        Arg("classes", None, "class_weights (1 per listed class, 0 elsewhere)"),
        Arg("log_loss", False, "log_loss (log_epsilon = eps)"),
        Arg("from_logits", True, "from_logits"),
        Arg("smooth", 0.0, f"smooth = {factor}smooth"),
        Arg("ignore_index", None, "ignore_index (multiclass); entries masked in binary/multilabel"),
        Arg("eps", 1e-7, f"min_denominator = {factor}eps"),
        *extra,
    )


_REGION_UNSUPPORTED = {
    "mode": "values other than 'binary', 'multiclass', 'multilabel'",
    "classes, class_weights": "with mode='binary' (smp rejects them too); class_weights not one per class",
    "eps": "0 with log_loss=True",
}
_REGION_NOTES = (
    "Statistics pooled over the whole batch per class (`batch=True`); a class with no target pixel in the batch "
    'has loss 0 and stays in the class mean: `empty_class="zero"`. smp\'s `eps` clamps the denominator '
    "(`min_denominator`) and floors the score of `log_loss=True` (`log_epsilon`). `classes` (repeats counted, "
    "negative indices from the end) and `class_weights` (float32 in smp, rounded alike here) become the "
    "weights of the class mean, `sum(w_c l_c) / sum(w_c)`. `ignore_index`: masks pixels in multiclass mode "
    "(`ignore_index`); in binary/multilabel mode single entries (the probabilities and targets of ignored "
    "entries are zeroed, `from_logits=False` on the masked sigmoid). smp's intersection `(P + G - sum|p - g|) / "
    '2` is `intersection="l1"` (`sum(min(p, g))` for soft targets; the sub-gradient 0 of `|p - g|` where a '
    "probability equals its target). Not reproduced: with `eps=0` a class without target and prediction is "
    "0/0 = NaN in smp, 0 here; multiclass targets must be integer tensors (smp also casts float labels when "
    "`ignore_index` is set)."
)

_smp(
    "DiceLoss",
    _region_args(Arg("class_weights", None, "class_weights (float32)"), factor="2 "),
    _overlap("DiceLoss", "dice", 2.0),
    ("dice",),
    unsupported=_REGION_UNSUPPORTED,
    notes="`dice` with smp >= 0.4's doubled smoothing: `smooth=s` is `smooth=2s` (MONAI's `smooth_nr = smooth_dr "
    "= 2s`) and `eps=e` is `min_denominator=2e`. " + _REGION_NOTES,
)
_smp(
    "JaccardLoss",
    _region_args(Arg("class_weights", None, "class_weights (float32)")),
    _overlap("JaccardLoss", "jaccard", 1.0),
    ("jaccard",),
    unsupported=_REGION_UNSUPPORTED,
    notes="`jaccard` with `smooth=s`, `min_denominator=eps` (not doubled). " + _REGION_NOTES,
)
_smp(
    "TverskyLoss",
    _region_args(
        Arg("alpha", 0.5, "alpha (weight of false positives)"),
        Arg("beta", 0.5, "beta (weight of false negatives)"),
        Arg("gamma", 1.0, 'gamma (after the class mean: focal_scope="mean")'),
        Arg("class_weights", None, "class_weights (float32)"),
    ),
    _overlap(
        "TverskyLoss",
        "focal_tversky",
        1.0,
        alpha=lambda args: _non_negative(_owner("TverskyLoss"), "alpha", args["alpha"]),
        beta=lambda args: _non_negative(_owner("TverskyLoss"), "beta", args["beta"]),
        gamma=lambda args: _positive_gamma(args["gamma"]),
        focal_scope=lambda args: "mean",
    ),
    ("focal_tversky",),
    unsupported={**_REGION_UNSUPPORTED, "gamma": "values <= 0", "alpha, beta": "negative values"},
    notes='`focal_tversky(focal_scope="mean")`: smp raises the (weighted) class mean to `gamma`, '
    "`(sum(w_c l_c) / sum(w_c))^gamma`, with `smooth=s`, `min_denominator=eps`. " + _REGION_NOTES,
)


def _positive_gamma(gamma: Any) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or gamma <= 0:
        refuse(_owner("TverskyLoss"), "gamma", gamma, "a float > 0")
    return float(gamma)


# --------------------------------------------------------------------------- FocalLoss

FOCAL_REDUCTIONS = ("mean", "sum", "batchwise_mean", "none", None)


def _focal(args: dict[str, Any]) -> Mapped:
    owner = _owner("FocalLoss")
    mode = _mode(owner, args["mode"])
    _no_binary_classes(owner, mode, args)
    reduction, ignore_index = args["reduction"], args["ignore_index"]
    if reduction not in FOCAL_REDUCTIONS:
        refuse(owner, "reduction", reduction, "'mean', 'sum', 'batchwise_mean', 'none' or None")
    unreduced = reduction in ("none", None)
    gamma, alpha = args["gamma"], args["alpha"]
    if gamma is None or isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or gamma < 0:
        refuse(owner, "gamma", gamma, "a float >= 0 (smp fails on every call with None)")
    if alpha is not None and not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        refuse(owner, "alpha", alpha, "None or a float in [0, 1]")
    if args["normalized"]:
        refuse(owner, "normalized", args["normalized"], "False (no spec parameter normalizes by the focal terms)")
    if args["reduced_threshold"] is not None:
        refuse(owner, "reduced_threshold", args["reduced_threshold"], "None (no spec parameter gives the reduced loss)")
    eps = _non_negative(owner, "eps", args["eps"])
    if not args["from_logits"] and eps >= 0.5:
        refuse(owner, "eps", eps, "a float in [0, 0.5) (the probability clamp of from_logits=False)")
    if mode == "multilabel" and ignore_index is not None:
        refuse(owner, "ignore_index", ignore_index, "None with mode='multilabel' (smp raises IndexError on the call)")
    if mode == "binary" and ignore_index is not None and unreduced:
        refuse(
            owner,
            "reduction",
            reduction,
            "'mean', 'sum' or 'batchwise_mean' with ignore_index (smp returns "
            "the kept entries only: a shape that depends on the values)",
        )
    weights = _float32_weights(owner, args["class_weights"])
    if weights is not None and (unreduced or (reduction == "batchwise_mean" and ignore_index is None)):
        refuse(
            owner,
            "class_weights",
            args["class_weights"],
            f"None with reduction={reduction!r} (smp's weighted sum does not broadcast then)",
        )
    from_logits = bool(args["from_logits"])

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        x, y = call["y_pred"], call["y_true"]
        _same_batch(owner, ops, x, y)
        if not from_logits:  # smp: clamp, then back to logits (binary, multilabel) or to log p (multiclass)
            p = clip(ops, x, eps, 1.0 - eps)
            x = ops.log(p) if mode == "multiclass" else ops.log(p / (1.0 - p))
        if mode == "binary":
            x = ops.reshape(x, (ops.shape(x)[0], -1))
            y = _flat(owner, ops, y, ops.shape(x), "y_true")
            y = y if ops.is_floating(y) else ops.cast(y, x)
            if ignore_index is None:
                return Inputs(x, y)
            valid = ops.not_equal(y, float(ignore_index))
            return Inputs(x, ops.where(valid, y, 0.0), sample_weight=ops.cast(valid, x))
        if mode == "multilabel":
            if ops.shape(y) != ops.shape(x):
                raise ValueError(f"{owner}: y_true of shape {ops.shape(y)} must have y_pred's shape {ops.shape(x)}")
            return Inputs(x, y if ops.is_floating(y) else ops.cast(y, x))
        targets, mask = dense_targets(ops, x, y, class_axis=1, ignore_index=ignore_index)
        return Inputs(x, targets, sample_weight=None if mask is None else targets * 0.0 + mask)

    def finish(ops: Ops, value: Tensor, inputs: Inputs) -> Tensor:
        weight = inputs.sample_weight
        if mode == "binary":
            if unreduced:
                return ops.reshape(value, (-1,))
            total = ops.sum(value)
            if reduction != "mean":
                return total  # "batchwise_mean" sums a flat vector over its only axis
            return (
                total / float(math.prod(ops.shape(value)))
                if weight is None
                else safe_divide(ops, total, ops.sum(weight))
            )
        axes = tuple(a for a in range(len(ops.shape(value))) if a != 1)
        sums = ops.sum(value, axis=axes)  # (C,)
        if reduction == "sum" or (reduction == "batchwise_mean" and weight is not None):
            per_class = sums
        elif reduction == "batchwise_mean":  # per-position batch sums, averaged over the positions
            per_class = sums / float(math.prod(ops.shape(value)[2:]))
        elif weight is None:
            per_class = sums / float(math.prod(ops.shape(value)) // ops.shape(value)[1])
        else:
            per_class = safe_divide(ops, sums, ops.sum(weight, axis=axes))
        if weights is None:
            return ops.mean(per_class)
        if len(weights) != ops.shape(value)[1]:
            raise ValueError(
                f"{owner}: class_weights has {len(weights)} entries but y_pred has {ops.shape(value)[1]} classes; "
                f"expected one weight per class"
            )
        return ops.sum(per_class * ops.constant(weights, per_class)) / _float32_total(
            owner, None, weights, len(weights)
        )

    params = dict(
        from_logits=True, gamma=float(gamma), alpha=None if alpha is None else float(alpha), soft_form="exp_bce"
    )
    return Mapped("sigmoid_focal", params, "none", prepare=prepare, finish=finish)


_smp(
    "FocalLoss",
    (
        MODE,
        Arg("alpha", None, "alpha"),
        Arg("gamma", 2.0, "gamma"),
        Arg("ignore_index", None, "a valid-entry mask (sample_weight) and the mean over kept entries"),
        Arg("from_logits", True, "from_logits=False: clamp to [eps, 1 - eps], then logit (log p in multiclass)"),
        Arg("eps", 1e-7, "the probability clamp of from_logits=False"),
        Arg("reduction", "mean", "smp's per-class reduction, then the class mean"),
        Arg("normalized", False),
        Arg("reduced_threshold", None),
        Arg("class_weights", None, "weights of the class mean (float32)"),
    ),
    _focal,
    ("sigmoid_focal",),
    unsupported={
        "normalized": "True (the focal-term normalisation has no spec parameter)",
        "reduced_threshold": "any float (the reduced focal loss has no spec parameter)",
        "gamma": "None (smp fails on the call), negative values",
        "ignore_index": "with mode='multilabel' (smp raises IndexError on the call)",
        "reduction": "'none'/None with ignore_index in binary mode (value-dependent shape); other strings",
        "class_weights": "with mode='binary'; with 'none'/None, or 'batchwise_mean' without ignore_index",
    },
    notes='`sigmoid_focal(soft_form="exp_bce")` (smp\'s focal factor `(1 - exp(-BCE))^gamma`, also for soft '
    "targets) per entry, reduced as smp does: binary mode flattens everything into one vector (`mean` over the "
    "kept entries, `sum`, `batchwise_mean` = `sum`, `none`: the flat vector); multiclass (one-vs-rest sigmoid on "
    "each channel against the one-hot labels, not a softmax focal loss) and multilabel reduce each class on its "
    "own (`mean` over the kept entries, `sum`, `batchwise_mean`: the batch sums averaged over positions, or the "
    "sum with `ignore_index`; `none`/None: the mean) and then take the class mean or `sum(w_c L_c) / sum(w_c)`. "
    "`from_logits=False` reproduces smp 0.6.0's conversion: binary/multilabel `logit(clamp(p, eps, 1 - eps))`, "
    "multiclass `log(clamp(p, eps, 1 - eps))` fed to the sigmoid focal loss (an inconsistency of the release). "
    "An all-ignored class mean is 0 here, NaN in smp.",
)


# --------------------------------------------------------------------------- LovaszLoss


def _lovasz(args: dict[str, Any]) -> Mapped:
    owner = _owner("LovaszLoss")
    mode = _mode(owner, args["mode"])
    ignore_index = None if args["ignore_index"] is None else int(args["ignore_index"])
    batch = not args["per_image"]

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        y_pred, y_true = call["y_pred"], call["y_true"]
        size = _same_batch(owner, ops, y_pred, y_true)
        if mode != "multiclass":  # every entry of an image (of the batch) is one binary problem
            y_pred = ops.reshape(y_pred, (size, -1))
            y_true = _flat(owner, ops, y_true, ops.shape(y_pred), "y_true")
            return Inputs(y_pred, y_true if ops.is_floating(y_true) else ops.cast(y_true, y_pred))
        if len(ops.shape(y_pred)) == 3:
            raise ValueError(
                f"{owner}: mode='multiclass' takes y_pred (N, C, H, W, ...) or (N, C); smp reads a 3-D y_pred "
                f"{ops.shape(y_pred)} as one sigmoid channel and fails"
            )
        y_pred = ops.reshape(y_pred, (size, ops.shape(y_pred)[1], -1))
        return Inputs(y_pred, _flat(owner, ops, y_true, (size, ops.shape(y_pred)[2]), "y_true"))

    if mode == "multiclass":
        params = dict(class_axis=1, from_logits=True, classes="present", batch=batch, ignore_index=ignore_index)
        return Mapped("lovasz_softmax", params, prepare=prepare)
    return Mapped("lovasz_hinge", dict(batch=batch, ignore_index=ignore_index), prepare=prepare)


_smp(
    "LovaszLoss",
    (
        MODE,
        Arg("per_image", False, "batch = not per_image"),
        Arg("ignore_index", None, "ignore_index"),
        Arg("from_logits", True, "unused (as in smp)"),
    ),
    _lovasz,
    ("lovasz_hinge", "lovasz_softmax"),
    unsupported={"mode": "values other than 'binary', 'multiclass', 'multilabel'"},
    notes="binary/multilabel: `lovasz_hinge` on the logits, every entry of an image (of the batch with "
    '`per_image=False`) one binary problem; multiclass: `lovasz_softmax(classes="present")` on the softmax of '
    "`y_pred`, whatever `from_logits` says (smp never reads it). `per_image=True` averages the images. A 3-D "
    "multiclass `y_pred` is refused (smp fails on it). Not reproduced: smp 0.6.0 computes the Lovász weights in "
    "float32 (`.float()`) and then fails on float64 inputs (`torch.dot` of mixed dtypes), ours computes in the "
    "input's dtype; an image whose pixels are all ignored scores 0 here, smp's multiclass per-image mean then "
    "returns an empty tensor.",
)


# --------------------------------------------------------------------------- MCCLoss


def _mcc(args: dict[str, Any]) -> Mapped:
    owner = _owner("MCCLoss")
    eps = _non_negative(owner, "eps", args["eps"])

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        y_pred, y_true = call["y_pred"], call["y_true"]
        size = _same_batch(owner, ops, y_pred, y_true)
        y_pred = ops.reshape(y_pred, (size, 1, -1))
        y_true = _flat(owner, ops, y_true, ops.shape(y_pred), "y_true")
        return Inputs(y_pred, y_true if ops.is_floating(y_true) else ops.cast(y_true, y_pred))

    params = dict(
        class_axis=1, from_logits=False, multilabel=True, batch=True, epsilon=eps, smooth_nr=0.0, smooth_dr=0.0
    )
    return Mapped("mcc", params, prepare=prepare)


_smp(
    "MCCLoss",
    (Arg("eps", 1e-5, "epsilon (added to each of TP, TN, FP, FN)"),),
    _mcc,
    ("mcc",),
    unsupported={"eps": "negative values"},
    notes="`mcc(from_logits=False, multilabel=True, batch=True, smooth_nr=0, smooth_dr=0)` on the whole batch "
    "flattened into one channel; `y_pred` holds probabilities (smp applies no activation; values outside [0, 1] "
    "are refused here). With `eps=0` a degenerate batch is 0/0 = NaN in smp, a defined value here.",
)


# ------------------------------------------------------------------------ SoftBCEWithLogitsLoss, SoftCrossEntropyLoss

SOFT_REDUCTIONS = ("mean", "sum", "none", None)


def _soft_reduction(owner: str, reduction: Any) -> str:
    """smp reduces ``"mean"`` and ``"sum"`` and returns anything else unreduced."""
    if reduction not in SOFT_REDUCTIONS:
        refuse(owner, "reduction", reduction, "'mean', 'sum', 'none' or None")
    return reduction if reduction in ("mean", "sum") else "none"


def _pos_weight_params(owner: str, value: Any) -> dict[str, Any]:
    """torch's ``pos_weight`` broadcast against the input's trailing axes: a
    scalar, or one weight per class along the one axis of size > 1."""
    pos_weight = as_array(value)
    if pos_weight is None:
        return {"pos_weight": None}
    if pos_weight.size == 1:
        return {"pos_weight": float(pos_weight.reshape(()))}
    if sum(d > 1 for d in pos_weight.shape) == 1:
        axis = next(i for i, d in enumerate(pos_weight.shape) if d > 1) - pos_weight.ndim
        return {"pos_weight": pos_weight.reshape(-1).tolist(), "class_axis": axis}
    refuse(owner, "pos_weight", pos_weight.shape, "a tensor with one axis of size > 1 (one weight per class)")
    return {}


def _soft_bce(args: dict[str, Any]) -> Mapped:
    owner = _owner("SoftBCEWithLogitsLoss")
    reduction = _soft_reduction(owner, args["reduction"])
    smooth = 0.0 if args["smooth_factor"] is None else _non_negative(owner, "smooth_factor", args["smooth_factor"])
    if smooth > 0.5:
        refuse(owner, "smooth_factor", smooth, "None or a float in [0, 0.5] (label_smoothing = 2 smooth_factor)")
    weight, ignore_index = as_array(args["weight"]), args["ignore_index"]
    params = dict(from_logits=True, label_smoothing=2.0 * smooth, **_pos_weight_params(owner, args["pos_weight"]))

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        y_pred, y_true = call["y_pred"], call["y_true"]
        y_true = y_true if ops.is_floating(y_true) else ops.cast(y_true, y_pred)
        sample_weight = broadcast_weight(owner, "weight", weight, ops, y_pred)
        if ignore_index is None:
            return Inputs(y_pred, y_true, sample_weight=sample_weight)
        valid = ops.not_equal(y_true, float(ignore_index))
        mask = ops.cast(valid, y_pred)
        return Inputs(
            y_pred,
            ops.where(valid, y_true, 0.0),
            sample_weight=mask if sample_weight is None else sample_weight * mask,
        )

    return Mapped("binary_crossentropy", params, reduction, prepare=prepare)


_smp(
    "SoftBCEWithLogitsLoss",
    (
        Arg("weight", None, "sample_weight (broadcast to the input)"),
        Arg("ignore_index", -100, "sample_weight 0 on entries equal to it (kept in the mean's count)"),
        Arg("reduction", "mean", "reduction"),
        Arg("smooth_factor", None, "label_smoothing = 2 smooth_factor"),
        Arg("pos_weight", None, "pos_weight (its axis of size > 1 gives class_axis)"),
    ),
    _soft_bce,
    ("binary_crossentropy",),
    unsupported={
        "smooth_factor": "values outside [0, 0.5] (label_smoothing would leave [0, 1])",
        "pos_weight": "a tensor with more than one axis of size > 1",
        "reduction": "strings other than 'mean', 'sum', 'none'",
    },
    notes="`binary_crossentropy(from_logits=True)`; smp's `t(1 - s) + (1 - t)s` is Keras' `label_smoothing = 2s`. "
    'Ignored entries get weight 0 but stay in the `"mean"` count (smp\'s rule): the mask is a `sample_weight`, '
    "and their targets are read as 0. `weight` and `pos_weight` broadcast against the input as in torch.",
)


def _soft_ce(args: dict[str, Any]) -> Mapped:
    owner = _owner("SoftCrossEntropyLoss")
    reduction = _soft_reduction(owner, args["reduction"])
    smooth, ignore_index, dim = args["smooth_factor"], args["ignore_index"], args["dim"]
    if isinstance(dim, bool) or not isinstance(dim, int):
        refuse(owner, "dim", dim, "an int (the class axis)")
    if smooth is not None and not 0.0 <= _non_negative(owner, "smooth_factor", smooth) <= 1.0:
        refuse(owner, "smooth_factor", smooth, "a float in [0, 1]")

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        if smooth is None:
            raise TypeError(
                f"{owner}: smooth_factor=None fails on every call in smp 0.6.0 (it computes 1.0 - None); "
                f"pass smooth_factor=0.0 for the plain cross-entropy"
            )
        y_pred, labels = call["y_pred"], call["y_true"]
        shape = ops.shape(y_pred)
        axis = dim % len(shape)
        label_shape = shape[:axis] + shape[axis + 1 :]
        if len(ops.shape(labels)) == len(shape):  # smp gathers with a size-1 class axis too
            labels = _flat(owner, ops, labels, label_shape, "y_true")
        if ignore_index is None:
            return Inputs(y_pred, labels)
        valid = ops.not_equal(labels, int(ignore_index))
        return Inputs(y_pred, ops.where(valid, labels, 0), sample_weight=ops.cast(valid, y_pred))

    def finish(ops: Ops, value: Tensor, inputs: Inputs) -> Tensor:
        return ops.expand_dims(value, dim)  # smp's unreduced loss keeps the class axis with ignore_index

    params = dict(class_axis=dim, from_logits=True, label_smoothing=0.0 if smooth is None else float(smooth))
    keeps_axis = reduction == "none" and ignore_index is not None
    return Mapped("categorical_crossentropy", params, reduction, prepare=prepare, finish=finish if keeps_axis else None)


_smp(
    "SoftCrossEntropyLoss",
    (
        Arg("reduction", "mean", "reduction"),
        Arg("smooth_factor", None, "label_smoothing"),
        Arg("ignore_index", -100, "sample_weight 0 on its positions (kept in the mean's count)"),
        Arg("dim", 1, "class_axis"),
    ),
    _soft_ce,
    ("categorical_crossentropy",),
    unsupported={
        "smooth_factor": "values outside [0, 1]; None constructs but raises TypeError on the call, as in smp",
        "reduction": "strings other than 'mean', 'sum', 'none'",
    },
    notes="`categorical_crossentropy(from_logits=True, class_axis=dim, label_smoothing=smooth_factor)` (smp's "
    "`(1 - e) NLL + e/C sum(-log p)` is torch's label smoothing). Ignored positions weigh 0 but stay in the "
    '`"mean"` count (smp\'s rule: a `sample_weight` mask, not `ignore_index`); with `ignore_index` set the '
    "unreduced loss keeps a size-1 class axis, as smp's. Labels may carry a size-1 class axis. The default "
    "`smooth_factor=None` raises smp's `TypeError` on the call.",
)
