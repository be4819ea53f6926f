"""``torch.nn`` losses (torch 2.13) and torchvision 0.28's ``sigmoid_focal_loss``, as compat definitions.

Every class keeps torch's constructor (deprecated ``size_average``/``reduce``
included, resolved by torch's own rule), torch's call ``(input, target)`` and
torch's channels-first layout (class axis 1), whichever framework runs it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spec.compat._core import Arg, Inputs, Mapped, PeerLoss, as_array, by_roles, define, refuse
from spec.ops import Ops

Tensor = Any

REDUCTIONS = ("mean", "sum", "none")
SIZE_AVERAGE = Arg("size_average", None, "reduction (torch's deprecated rule)")
REDUCE = Arg("reduce", None, "reduction (torch's deprecated rule)")
REDUCTION = Arg("reduction", "mean", "reduction")
INPUT_TARGET = (Arg("input"), Arg("target"))
ROLES = {"input": "y_pred", "target": "y_true"}


def reduction_of(owner: str, args: dict[str, Any], choices: tuple[str, ...] = REDUCTIONS) -> str:
    """torch's reduction: ``size_average``/``reduce``, when either is given,
    override ``reduction`` (``torch.nn._reduction.legacy_get_string``)."""
    size_average, reduce = args.get("size_average"), args.get("reduce")
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else bool(size_average)
        reduce = True if reduce is None else bool(reduce)
        return "mean" if size_average and reduce else ("sum" if reduce else "none")
    reduction = args["reduction"]
    if reduction not in choices:
        raise ValueError(f"{owner}: reduction must be one of {', '.join(map(repr, choices))}, got {reduction!r}")
    return reduction


def class_weights(owner: str, argument: str, value: Any) -> list[float] | None:
    """A per-class weight tensor ``(C,)`` as a list."""
    weights = as_array(value)
    if weights is None:
        return None
    if weights.ndim != 1:
        raise ValueError(f"{owner}: {argument} must be a 1-D tensor of one weight per class, got shape {weights.shape}")
    return weights.tolist()


def broadcast_weight(owner: str, argument: str, weight: np.ndarray | None, ops: Ops, like: Tensor) -> Tensor | None:
    """A constant weight tensor broadcast to ``like``'s shape (torch's
    elementwise ``weight``), as ``like``'s dtype."""
    if weight is None:
        return None
    shape = ops.shape(like)
    try:
        full = np.broadcast_to(weight, shape)
    except ValueError:
        raise ValueError(
            f"{owner}: {argument} of shape {tuple(weight.shape)} does not broadcast to the input's shape {shape}"
        ) from None
    return ops.constant(full.tolist(), like)


def unbatched(prepare):
    """torch's unbatched form: a class-score vector ``(C,)`` with a 0-d label
    is a batch of one; ``"none"`` then returns a 0-d value."""

    def wrapped(ops: Ops, call: dict[str, Any]) -> Inputs:
        if len(ops.shape(call["input"])) != 1:
            return prepare(ops, call)
        call = dict(call)
        call["input"] = ops.reshape(call["input"], (1, *ops.shape(call["input"])))
        call["target"] = ops.reshape(call["target"], (1, *ops.shape(call["target"])))
        inputs = prepare(ops, call)
        inputs.output_shape = ()
        return inputs

    return wrapped


def _torch(
    name: str,
    args: tuple[Arg, ...],
    build,
    losses: tuple[str, ...],
    *,
    call=INPUT_TARGET,
    roles=None,
    unsupported=None,
    notes: str = "",
    function: bool = False,
    module: str = "",
) -> PeerLoss:
    return define(
        PeerLoss(
            peer="torch",
            name=name,
            args=args,
            call=call,
            build=build,
            losses=losses,
            roles=roles if roles is not None else ROLES,
            unsupported=unsupported or {},
            notes=notes,
            function=function,
            module=module,
        )
    )


# --------------------------------------------------------------------------- classification


def _cross_entropy(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.CrossEntropyLoss"
    reduction = reduction_of(owner, args)
    weights = class_weights(owner, "weight", args["weight"])
    smoothing = args["label_smoothing"]
    if not 0.0 <= smoothing <= 1.0:
        refuse(owner, "label_smoothing", smoothing, "a float in [0, 1]")
    labels = Mapped(
        "categorical_crossentropy",
        dict(
            class_axis=1,
            from_logits=True,
            class_weights=weights,
            ignore_index=int(args["ignore_index"]),
            label_smoothing=smoothing,
        ),
        reduction,
    )
    # Probability targets: torch applies no ignore_index, and its "mean" divides by the
    # number of positions even with class weights.
    by_positions = weights is not None and reduction == "mean"
    dense = Mapped(
        "categorical_crossentropy",
        dict(class_axis=1, from_logits=True, class_weights=weights, label_smoothing=smoothing),
        "sum" if by_positions else reduction,
        finish=_per_position_mean if by_positions else None,
    )
    return _labels_or_dense(labels, dense)


def _per_position_mean(ops: Ops, total: Tensor, inputs: Inputs) -> Tensor:
    shape = ops.shape(inputs.y_pred)
    return total / float(max(math.prod(shape) // shape[1], 1))


def _labels_or_dense(labels: Mapped, dense: Mapped) -> Mapped:
    """Integer targets use ``labels``; probability targets (the input's shape) ``dense``."""

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        inputs = Inputs(call["input"], call["target"])
        if ops.shape(inputs.y_true) == ops.shape(inputs.y_pred) and ops.is_floating(inputs.y_true):
            inputs.mapped = dense
        return inputs

    return Mapped(labels.loss, labels.params, labels.reduction, prepare=unbatched(prepare), finish=labels.finish)


def _nll(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.NLLLoss"
    return Mapped(
        "negative_log_likelihood",
        dict(
            class_axis=1,
            class_weights=class_weights(owner, "weight", args["weight"]),
            ignore_index=int(args["ignore_index"]),
        ),
        reduction_of(owner, args),
        prepare=unbatched(by_roles(ROLES)),
    )


def _bce(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.BCELoss"
    weight = as_array(args["weight"])

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        return Inputs(
            call["input"], call["target"], sample_weight=broadcast_weight(owner, "weight", weight, ops, call["input"])
        )

    # torch clamps each log at -100: a probability clip at exp(-100)
    return Mapped(
        "binary_crossentropy",
        dict(from_logits=False, epsilon=math.exp(-100.0)),
        reduction_of(owner, args),
        prepare=prepare,
    )


def _bce_with_logits(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.BCEWithLogitsLoss"
    weight = as_array(args["weight"])
    pos_weight = as_array(args["pos_weight"])
    params: dict[str, Any] = dict(from_logits=True)
    if pos_weight is not None:
        # torch broadcasts pos_weight against the input's trailing axes: a (C, 1, 1)
        # tensor weighs axis -3, a (C,) tensor the last axis
        if pos_weight.size == 1:
            params["pos_weight"] = float(pos_weight.reshape(()))
        elif sum(d > 1 for d in pos_weight.shape) == 1:
            axis = next(i for i, d in enumerate(pos_weight.shape) if d > 1) - pos_weight.ndim
            params.update(pos_weight=pos_weight.reshape(-1).tolist(), class_axis=axis)
        else:
            refuse(owner, "pos_weight", pos_weight.shape, "a tensor with one axis of size > 1 (one weight per class)")

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        return Inputs(
            call["input"], call["target"], sample_weight=broadcast_weight(owner, "weight", weight, ops, call["input"])
        )

    return Mapped("binary_crossentropy", params, reduction_of(owner, args), prepare=prepare)


def _multilabel_soft_margin(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.MultiLabelSoftMarginLoss"
    return Mapped(
        "multilabel_soft_margin",
        dict(class_axis=1, class_weights=class_weights(owner, "weight", args["weight"])),
        reduction_of(owner, args),
    )


def _multi_margin(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.MultiMarginLoss"
    if args["p"] not in (1, 2):
        refuse(owner, "p", args["p"], "1 or 2 (torch supports no other)")
    return Mapped(
        "multi_margin",
        dict(
            class_axis=1,
            p=int(args["p"]),
            margin=float(args["margin"]),
            class_weights=class_weights(owner, "weight", args["weight"]),
        ),
        reduction_of(owner, args),
        prepare=unbatched(by_roles(ROLES)),
    )


def _sigmoid_focal_loss(args: dict[str, Any]) -> Mapped:
    owner = "torchvision.ops.sigmoid_focal_loss"
    alpha = float(args["alpha"])
    if alpha >= 0 and alpha > 1:
        refuse(owner, "alpha", alpha, "a float in [0, 1], or a negative value for no weighting")
    reduction = args["reduction"]
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of 'mean', 'sum', 'none', got {reduction!r}")
    return Mapped(
        "sigmoid_focal",
        dict(from_logits=True, alpha=alpha if alpha >= 0 else None, gamma=float(args["gamma"]), soft_form="p_t"),
        reduction,
    )


_torch(
    "CrossEntropyLoss",
    (
        Arg("weight", None, "class_weights"),
        SIZE_AVERAGE,
        Arg("ignore_index", -100, "ignore_index"),
        REDUCE,
        REDUCTION,
        Arg("label_smoothing", 0.0, "label_smoothing"),
    ),
    _cross_entropy,
    ("categorical_crossentropy",),
    notes="Integer targets: `categorical_crossentropy(class_axis=1, from_logits=True)`; "
    '`"mean"` divides by the total weight of the valid targets (torch\'s rule). Probability targets '
    '(the input\'s shape): no `ignore_index`, and `"mean"` divides by the number of positions even with '
    "`weight` (torch's rule, a sum over the positions' count here). All-ignored `\"mean\"`: 0 (torch: NaN).",
)
_torch(
    "NLLLoss",
    (Arg("weight", None, "class_weights"), SIZE_AVERAGE, Arg("ignore_index", -100, "ignore_index"), REDUCE, REDUCTION),
    _nll,
    ("negative_log_likelihood",),
    notes="`negative_log_likelihood(class_axis=1)`: the input is used as it is (gradient `-w_y` at the target). "
    'All-ignored `"mean"`: 0 (torch: NaN).',
)
_torch(
    "BCELoss",
    (Arg("weight", None, "sample_weight (broadcast to the input)"), SIZE_AVERAGE, REDUCE, REDUCTION),
    _bce,
    ("binary_crossentropy",),
    notes="`binary_crossentropy(from_logits=False, epsilon=exp(-100))`: torch's clamp of each log at -100. "
    "Gradients agree where `p(1 - p) >= 1e-11`; torch divides by `max(p(1 - p), 1e-12)` beyond.",
)
_torch(
    "BCEWithLogitsLoss",
    (
        Arg("weight", None, "sample_weight (broadcast to the input)"),
        SIZE_AVERAGE,
        REDUCE,
        REDUCTION,
        Arg("pos_weight", None, "pos_weight (its axis of size > 1 gives class_axis)"),
    ),
    _bce_with_logits,
    ("binary_crossentropy",),
    unsupported={"pos_weight": "a tensor with more than one axis of size > 1"},
    notes="`binary_crossentropy(from_logits=True)`; `pos_weight` broadcasts against the input's trailing axes, "
    "as in torch: a `(C,)` tensor weighs the last axis, `(C, 1, 1)` axis -3.",
)
_torch(
    "MultiLabelSoftMarginLoss",
    (Arg("weight", None, "class_weights"), SIZE_AVERAGE, REDUCE, REDUCTION),
    _multilabel_soft_margin,
    ("multilabel_soft_margin",),
)
_torch(
    "MultiMarginLoss",
    (
        Arg("p", 1, "p"),
        Arg("margin", 1.0, "margin"),
        Arg("weight", None, "class_weights"),
        SIZE_AVERAGE,
        REDUCE,
        REDUCTION,
    ),
    _multi_margin,
    ("multi_margin",),
    unsupported={"p": "values other than 1 and 2 (torch rejects them too)"},
)
_torch(
    "sigmoid_focal_loss",
    (Arg("alpha", 0.25, "alpha (negative: None)"), Arg("gamma", 2.0, "gamma"), Arg("reduction", "none", "reduction")),
    _sigmoid_focal_loss,
    ("sigmoid_focal",),
    call=(Arg("inputs"), Arg("targets")),
    roles={"inputs": "y_pred", "targets": "y_true"},
    function=True,
    module="torchvision.ops",
    notes='torchvision\'s function (not a `torch.nn` class): `sigmoid_focal(from_logits=True, soft_form="p_t")`; '
    "its default reduction is `\"none\"`. Where torchvision's `1 - p_t` rounds to 0 (|x| >= 38 on the target's "
    "side) its value is 0 and, for gamma < 1, its gradient NaN; ours stay finite.",
)


# --------------------------------------------------------------------------- regression and likelihoods


def _simple(loss: str, owner: str, **fixed: Any):
    def build(args: dict[str, Any]) -> Mapped:
        params = {spec_name: args[torch_name] for spec_name, torch_name in fixed.items()}
        return Mapped(loss, params, reduction_of(owner, args))

    return build


_torch(
    "MSELoss",
    (SIZE_AVERAGE, REDUCE, REDUCTION),
    _simple("mean_squared_error", "torch.nn.MSELoss"),
    ("mean_squared_error",),
)
_torch(
    "L1Loss",
    (SIZE_AVERAGE, REDUCE, REDUCTION),
    _simple("mean_absolute_error", "torch.nn.L1Loss"),
    ("mean_absolute_error",),
)
_torch(
    "SmoothL1Loss",
    (SIZE_AVERAGE, REDUCE, REDUCTION, Arg("beta", 1.0, "beta")),
    _simple("smooth_l1", "torch.nn.SmoothL1Loss", beta="beta"),
    ("smooth_l1",),
)
_torch(
    "HuberLoss",
    (REDUCTION, Arg("delta", 1.0, "delta")),
    _simple("huber", "torch.nn.HuberLoss", delta="delta"),
    ("huber",),
)
_torch(
    "SoftMarginLoss",
    (SIZE_AVERAGE, REDUCE, REDUCTION),
    _simple("soft_margin", "torch.nn.SoftMarginLoss"),
    ("soft_margin",),
)
_torch(
    "HingeEmbeddingLoss",
    (Arg("margin", 1.0, "margin"), SIZE_AVERAGE, REDUCE, REDUCTION),
    _simple("hinge_embedding", "torch.nn.HingeEmbeddingLoss", margin="margin"),
    ("hinge_embedding",),
    notes="At the kink (`margin - x = 0` for `y = -1`) torch passes the gradient through; ours is 0 there.",
)


def _kl_div(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.KLDivLoss"
    reduction = reduction_of(owner, args, (*REDUCTIONS, "batchmean"))
    params = dict(
        class_axis=1,
        input_space="log_probabilities",
        target_space="log_probabilities" if args["log_target"] else "probabilities",
        epsilon=0.0,
        sum_over="sample" if reduction == "batchmean" else "none",
    )
    return Mapped("kl_divergence", params, "mean" if reduction == "batchmean" else reduction)


_torch(
    "KLDivLoss",
    (
        SIZE_AVERAGE,
        REDUCE,
        Arg("reduction", "mean", 'reduction (`batchmean`: sum_over="sample")'),
        Arg("log_target", False, "target_space"),
    ),
    _kl_div,
    ("kl_divergence",),
    notes='`kl_divergence(input_space="log_probabilities", epsilon=0)`, pointwise (`sum_over="none"`); '
    '`"batchmean"` is `sum_over="sample"` with `"mean"`. A target of 0 contributes 0, as torch\'s `xlogy`.',
)


def _poisson_nll(args: dict[str, Any]) -> Mapped:
    return Mapped(
        "poisson_nll",
        dict(log_input=args["log_input"], full=args["full"], epsilon=float(args["eps"])),
        reduction_of("torch.nn.PoissonNLLLoss", args),
    )


_torch(
    "PoissonNLLLoss",
    (
        Arg("log_input", True, "log_input"),
        Arg("full", False, "full"),
        SIZE_AVERAGE,
        Arg("eps", 1e-8, "epsilon"),
        REDUCE,
        REDUCTION,
    ),
    _poisson_nll,
    ("poisson_nll",),
    call=(Arg("log_input"), Arg("target")),
    roles={"log_input": "y_pred", "target": "y_true"},
)


def _gaussian_nll(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.GaussianNLLLoss"
    reduction = reduction_of(owner, args)
    if args["eps"] <= 0:
        refuse(owner, "eps", args["eps"], "a float > 0")

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        y_pred, target, var = call["input"], call["target"], call["var"]
        shape = ops.shape(y_pred)
        if isinstance(var, (int, float)):
            var = ops.constant(np.full(shape, float(var)).tolist(), y_pred)
        else:
            var_shape = ops.shape(var)
            if var_shape != shape:
                # torch's rule: var may lack the last axis, or have size 1 there (homoscedastic)
                if var_shape == shape[:-1]:
                    var = ops.expand_dims(var, -1)
                elif not (var_shape[:-1] == shape[:-1] and var_shape[-1:] == (1,)):
                    raise ValueError(
                        f"{owner}: var of shape {var_shape} must have the input's shape {shape}, that shape "
                        f"without its last axis, or size 1 there"
                    )
                var = var * ops.constant(np.ones(shape).tolist(), ops.cast(var, y_pred))
        return Inputs(y_pred, target, {"var": var})

    return Mapped("gaussian_nll", dict(full=args["full"], eps=float(args["eps"])), reduction, prepare=prepare)


_torch(
    "GaussianNLLLoss",
    (
        Arg("full", False, "full", keyword_only=True),
        Arg("eps", 1e-6, "eps", keyword_only=True),
        Arg("reduction", "mean", "reduction", keyword_only=True),
    ),
    _gaussian_nll,
    ("gaussian_nll",),
    call=(Arg("input"), Arg("target"), Arg("var")),
    notes="`gaussian_nll` with the extra input `var`; torch's broadcasting of `var` (no last axis, size 1 there, "
    "or a float) is reproduced.",
)


# --------------------------------------------------------------------------- pairs, triplets, sequences


def _pair(loss: str, owner: str):
    def build(args: dict[str, Any]) -> Mapped:
        return Mapped(loss, dict(margin=float(args["margin"])), reduction_of(owner, args))

    return build


PAIR_CALL = (Arg("input1"), Arg("input2"), Arg("target"))
PAIR_ROLES = {"input1": "y_pred", "input2": "x2", "target": "y_true"}
_torch(
    "CosineEmbeddingLoss",
    (Arg("margin", 0.0, "margin"), SIZE_AVERAGE, REDUCE, REDUCTION),
    _pair("cosine_embedding", "torch.nn.CosineEmbeddingLoss"),
    ("cosine_embedding",),
    call=PAIR_CALL,
    roles=PAIR_ROLES,
)
_torch(
    "MarginRankingLoss",
    (Arg("margin", 0.0, "margin"), SIZE_AVERAGE, REDUCE, REDUCTION),
    _pair("margin_ranking", "torch.nn.MarginRankingLoss"),
    ("margin_ranking",),
    call=PAIR_CALL,
    roles=PAIR_ROLES,
)


def _triplet(args: dict[str, Any]) -> Mapped:
    return Mapped(
        "triplet_margin",
        dict(margin=float(args["margin"]), p=float(args["p"]), eps=float(args["eps"]), swap=bool(args["swap"])),
        reduction_of("torch.nn.TripletMarginLoss", args),
    )


_torch(
    "TripletMarginLoss",
    (
        Arg("margin", 1.0, "margin"),
        Arg("p", 2.0, "p"),
        Arg("eps", 1e-6, "eps"),
        Arg("swap", False, "swap"),
        SIZE_AVERAGE,
        REDUCE,
        REDUCTION,
    ),
    _triplet,
    ("triplet_margin",),
    call=(Arg("anchor"), Arg("positive"), Arg("negative")),
    roles={"anchor": "y_pred", "positive": "y_true", "negative": "negative"},
)


def _ctc(args: dict[str, Any]) -> Mapped:
    owner = "torch.nn.CTCLoss"
    reduction = reduction_of(owner, args)
    blank = int(args["blank"])
    if blank < 0:
        refuse(owner, "blank", blank, "a class index >= 0")

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        log_probs, targets = call["log_probs"], call["targets"]
        input_lengths, target_lengths = call["input_lengths"], call["target_lengths"]
        if len(ops.shape(log_probs)) == 2:  # unbatched (T, C) with (S,) targets
            log_probs = ops.expand_dims(log_probs, 1)
            targets = ops.expand_dims(targets, 0)
            input_lengths, target_lengths = (
                _as_batch(ops, input_lengths, log_probs),
                _as_batch(ops, target_lengths, log_probs),
            )
        y_pred = ops.moveaxis(log_probs, 0, 1)  # (N, T, C)
        frames = ops.shape(y_pred)[1]
        input_lengths = _lengths(ops, input_lengths, targets, y_pred)
        target_lengths = _lengths(ops, target_lengths, targets, y_pred)
        labels = _padded_targets(ops, targets, target_lengths, frames, y_pred)
        return Inputs(y_pred, labels, {"input_lengths": input_lengths, "target_lengths": target_lengths})

    return Mapped(
        "ctc",
        dict(
            class_axis=-1,
            blank=blank,
            zero_infinity=bool(args["zero_infinity"]),
            normalize_by_length=reduction == "mean",
        ),
        reduction,
        prepare=prepare,
    )


def _as_batch(ops: Ops, lengths: Any, like: Tensor) -> Any:
    if isinstance(lengths, (int, np.integer)):
        return [int(lengths)]
    return ops.reshape(lengths, (1,))


def _lengths(ops: Ops, lengths: Any, targets: Tensor, like: Tensor) -> Tensor:
    """Lengths given as a tuple or list of ints become an integer tensor."""
    if isinstance(lengths, (list, tuple)):
        return ops.cast(ops.constant([float(v) for v in lengths], like), targets)
    return lengths


def _padded_targets(ops: Ops, targets: Tensor, target_lengths: Tensor, frames: int, like: Tensor) -> Tensor:
    """torch's targets -- padded ``(N, S)`` or concatenated ``(sum of lengths,)`` --
    as the spec's ``(N, T)`` labels (entries beyond a target's length are padding)."""
    batch = ops.shape(target_lengths)[0]
    positions = ops.constant([[float(t) for t in range(frames)]] * batch, like)  # (N, T)
    if len(ops.shape(targets)) == 1:
        lengths = ops.cast(target_lengths, like)
        starts = ops.cumsum(lengths, axis=0) - lengths  # exclusive cumulative sum
        total = ops.shape(targets)[0]
        index = ops.reshape(starts, (batch, 1)) + positions
        index = ops.where(ops.greater(index, float(max(total - 1, 0))), float(max(total - 1, 0)), index)
        if total == 0:
            return ops.cast(positions * 0.0, targets)
        return ops.gather(targets, ops.cast(index, targets))
    width = ops.shape(targets)[1]
    if width == frames:
        return targets
    index = ops.where(ops.greater(positions, float(max(width - 1, 0))), float(max(width - 1, 0)), positions)
    if width == 0:
        return ops.cast(positions * 0.0, targets)
    return ops.take_along_axis(targets, ops.cast(index, targets), axis=1)


_torch(
    "CTCLoss",
    (Arg("blank", 0, "blank"), REDUCTION, Arg("zero_infinity", False, "zero_infinity")),
    _ctc,
    ("ctc",),
    call=(Arg("log_probs"), Arg("targets"), Arg("input_lengths"), Arg("target_lengths")),
    unsupported={"blank": "negative values"},
    notes="`ctc(class_axis=-1)` on the `(N, T, C)` transpose of torch's `(T, N, C)` log-probabilities; torch's "
    '`"mean"` (each loss over its target length, then the batch mean) is `normalize_by_length=True`. Padded '
    "`(N, S)` and concatenated 1-D targets are accepted. A target no alignment can produce costs "
    "`IMPOSSIBLE_LOSS` (1e4) with zero gradient where torch gives inf (`zero_infinity=False`).",
)
