"""The compat definitions' building blocks: a peer loss, its arguments, and what they map to.

A :class:`PeerLoss` describes one loss class (or function) of a peer library
exactly as the peer spells it: constructor arguments in the peer's order with
the peer's defaults, call arguments in the peer's order, and ``build``, which
maps the bound constructor arguments onto a registered spec loss and its
parameters (:class:`Mapped`).  It never computes a loss itself: a mapping may
move axes, choose the spec parameters that express a peer's convention, and
apply the peer's own reduction rule to the spec's unreduced elements, all
through the ops protocol.

Both frameworks generate their compat classes from these definitions
(``losses_torch.compat.<peer>``, ``losses_tf.compat.<peer>``), so a peer class
behaves the same, in the peer's layout, whichever framework runs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spec import registry
from spec.ops import Ops

Tensor = Any

REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Arg:
    """One argument of a peer's constructor (or call).

    Attributes:
        name: the peer's keyword.
        default: the peer's default (``REQUIRED`` for none).
        means: what it becomes in lossbridge, for ``docs/compat.md``
            (e.g. ``"class_weights"``, ``"reduction"``).
        keyword_only: the peer declares it after ``*``.
    """

    name: str
    default: Any = REQUIRED
    means: str = ""
    keyword_only: bool = False


@dataclass
class Inputs:
    """A peer call's tensors in the spec's terms.

    ``mapped`` overrides the configuration for this call (a peer that treats
    integer and probability targets differently); ``output_shape`` reshapes
    an unreduced value (a peer's unbatched call returns a 0-d loss).
    """

    y_pred: Tensor
    y_true: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)
    sample_weight: Tensor | None = None
    mapped: Mapped | None = None
    output_shape: tuple[int, ...] | None = None


Prepare = Callable[[Ops, dict[str, Any]], Inputs]
Finish = Callable[[Ops, Tensor, Inputs], Tensor]


@dataclass(frozen=True, eq=False)
class Mapped:
    """What one configuration of a peer loss computes.

    Attributes:
        loss: the registered spec loss.
        params: its parameters, validated (``spec.bind``) when built.
        reduction: the spec reduction to evaluate with.
        prepare: peer call arguments (by name) -> :class:`Inputs`; ``None``
            assigns them by the definition's ``roles``.
        finish: the peer's post-processing of the spec's value (its own
            reduction rule or output shape); ``None`` returns it as is.
    """

    loss: str
    params: Mapping[str, Any]
    reduction: str = "mean"
    prepare: Prepare | None = None
    finish: Finish | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", registry.get(self.loss).bind(self.params))


@dataclass(frozen=True, eq=False)
class Sum:
    """A peer loss that is a weighted sum of configurations, each evaluated on the
    same call with its own ``prepare`` and ``finish`` (MONAI's ``DiceCELoss``,
    ``lambda_dice * Dice + lambda_ce * CE``, whose terms differ in activation and
    reduction); the terms broadcast against each other as the peer's do."""

    parts: tuple[tuple[float, Mapped], ...]


@dataclass(frozen=True, eq=False)
class Composed:
    """A peer loss computed by a rule over other losses rather than by a spec loss
    (MONAI's ``DeepSupervisionLoss`` around a compat loss): ``compute(ops, call)``."""

    compute: Callable[[Ops, dict[str, Any]], Tensor]


@dataclass(frozen=True, eq=False)
class PeerLoss:
    """One peer loss API.

    Attributes:
        peer: ``"keras"``, ``"torch"``, ``"monai"`` or ``"smp"``.
        name: the peer's class (or function) name.
        args: constructor arguments in the peer's order.
        call: call arguments in the peer's order.
        roles: call argument -> ``"y_pred"``, ``"y_true"``, ``"sample_weight"``
            or the name of a spec extra input (the default ``prepare``).
        build: bound constructor arguments -> :class:`Mapped` (or a
            :class:`Sum` / :class:`Composed` of them); raises
            ``ValueError``/``TypeError`` (via :func:`refuse`) for what cannot
            be honoured.
        losses: every spec loss ``build`` may map to (for the docs and the
            conformance matrix).
        unsupported: argument -> the values that are refused and why.
        notes: the peer's quirks that are reproduced, and the spec parameter
            that expresses each (the docstring and ``docs/compat.md``).
        function: the peer API is a function ``name(*call, *args)``, not a class.
        keras_loss: the TensorFlow class is a ``keras.losses.Loss``
            (``call = (y_true, y_pred, sample_weight)``).
        integer_inputs: call arguments holding integer labels that the peer
            also accepts as floats (Keras casts them); the frameworks convert.
        module: the peer's module when it is not the peer's usual one
            (torchvision's ``sigmoid_focal_loss``).
    """

    peer: str
    name: str
    args: tuple[Arg, ...]
    call: tuple[Arg, ...]
    build: Callable[[dict[str, Any]], Mapped | Sum | Composed]
    losses: tuple[str, ...]
    roles: Mapping[str, str] = field(default_factory=dict)
    unsupported: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""
    function: bool = False
    keras_loss: bool = False
    integer_inputs: tuple[str, ...] = ()
    module: str = ""

    @property
    def qualname(self) -> str:
        return f"{self.module or PEER_MODULES[self.peer]}.{self.name}"

    @property
    def class_axis(self) -> int:
        """The peer's layout: Keras is channels-last, the others channels-first."""
        return -1 if self.peer == "keras" else 1

    def signature(self) -> inspect.Signature:
        """The constructor's signature (the function's, for a function API)."""
        args = (*self.call, *self.args) if self.function else self.args
        return _signature(args)

    def call_signature(self) -> inspect.Signature:
        return _signature(self.call)

    def bind(self, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor arguments by name, defaults filled in; a
        ``TypeError`` naming the peer class for a wrong call."""
        return _bind(self.qualname, _signature(self.args), args, kwargs)

    def bind_call(self, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return _bind(f"{self.qualname}(...)", self.call_signature(), args, kwargs)

    def configure(self, args: Mapping[str, Any]) -> Mapped | Sum | Composed:
        return self.build(dict(args))


PEER_MODULES = {"keras": "keras.losses", "torch": "torch.nn", "monai": "monai.losses", "smp": "smp.losses"}
PEER_VERSIONS = {
    "keras": "Keras 3.15.1",
    "torch": "torch 2.13; torchvision 0.28 for sigmoid_focal_loss",
    "monai": "MONAI 1.6.1",
    "smp": "segmentation-models-pytorch 0.6.0",
}


def _signature(args: tuple[Arg, ...]) -> inspect.Signature:
    kinds = {False: inspect.Parameter.POSITIONAL_OR_KEYWORD, True: inspect.Parameter.KEYWORD_ONLY}
    return inspect.Signature([inspect.Parameter(a.name, kinds[a.keyword_only], default=a.default) for a in args])


def _bind(owner: str, signature: inspect.Signature, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"{owner}: {error}; expected {owner.split('(')[0]}{signature}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def refuse(owner: str, argument: str, value: Any, expected: str) -> None:
    """Raise the compat layer's error for an argument it cannot honour."""
    raise ValueError(
        f"{owner}: {argument}={value!r} is not supported by lossbridge's compat layer; expected {expected}"
    )


def as_array(value: Any) -> np.ndarray | None:
    """A constant argument (tensor, array, sequence or number) as a float64
    NumPy array, ``None`` for ``None``."""
    if value is None:
        return None
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def by_roles(roles: Mapping[str, str]) -> Prepare:
    """A ``prepare`` that assigns call arguments by role."""

    def prepare(ops: Ops, call: dict[str, Any]) -> Inputs:
        named = {role: call[arg] for arg, role in roles.items() if call.get(arg) is not None}
        y_pred, y_true = named.pop("y_pred"), named.pop("y_true")
        sample_weight = named.pop("sample_weight", None)
        return Inputs(y_pred, y_true, named, sample_weight)

    return prepare


def evaluate(definition: PeerLoss, mapped: Mapped | Sum | Composed, ops: Ops, call: dict[str, Any]) -> Tensor:
    """The peer loss's value on one call's tensors (any backend)."""
    if isinstance(mapped, Sum):
        total = None
        for weight, part in mapped.parts:
            term = weight * evaluate(definition, part, ops, call)
            total = term if total is None else total + term
        return total
    if isinstance(mapped, Composed):
        return mapped.compute(ops, call)
    prepare = mapped.prepare or by_roles(definition.roles)
    inputs = prepare(ops, call)
    mapped = inputs.mapped or mapped
    value = registry.evaluate(
        registry.get(mapped.loss),
        mapped.params,
        inputs.y_pred,
        inputs.y_true,
        sample_weight=inputs.sample_weight,
        reduction=mapped.reduction,
        extras=inputs.extras,
        default_class_axis=definition.class_axis,
        ops=ops,
    )
    if mapped.finish is not None:
        value = mapped.finish(ops, value, inputs)
    if inputs.output_shape is not None and ops.shape(value):
        value = ops.reshape(value, inputs.output_shape)
    return value


_DEFINITIONS: dict[tuple[str, str], PeerLoss] = {}


def define(definition: PeerLoss) -> PeerLoss:
    """Register a compat definition (each ``(peer, name)`` once)."""
    key = (definition.peer, definition.name)
    if key in _DEFINITIONS:
        raise ValueError(f"compat definition {definition.qualname} is already registered")
    if definition.peer not in PEER_MODULES:
        raise ValueError(f"unknown peer {definition.peer!r}; expected one of {sorted(PEER_MODULES)}")
    for loss in definition.losses:
        registry.get(loss)
    _DEFINITIONS[key] = definition
    return definition


def definitions(peer: str | None = None) -> list[PeerLoss]:
    """Every compat definition (of one peer), in registration order."""
    return [d for d in _DEFINITIONS.values() if peer is None or d.peer == peer]


def get_definition(peer: str, name: str) -> PeerLoss:
    try:
        return _DEFINITIONS[(peer, name)]
    except KeyError:
        known = ", ".join(d.name for d in definitions(peer))
        raise ValueError(f"no compat definition {peer}.{name}; {peer} has: {known}") from None


def bind_function(definition: PeerLoss, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """All arguments of a function API (tensors and settings) by name."""
    return _bind(definition.qualname, definition.signature(), args, kwargs)
