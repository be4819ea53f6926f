"""The peer implementations a spec loss is timed against, derived from ``spec.compat``.

Every compat definition (``spec/compat/<peer>.py``) names a peer loss API --
``torch.nn``, ``keras.losses``, MONAI, smp -- and the spec loss it computes.
The benchmark turns each into a :class:`PeerConfig`: constructor arguments
chosen by a fixed policy (``from_logits=True``/``softmax=True`` so the peer
takes logits as our defaults do; ``to_onehot_y`` following the target form;
smp's required ``mode`` tried as ``"multiclass"`` and ``"binary"``; a
function's ``reduction="none"`` made ``"mean"``) and the spec loss and
parameters ``definition.configure`` maps them to.  A few peers that the
compat layer expresses as sums of spec losses, or not at all, are listed in
``EXTRA`` with the spec loss they equal (torchvision's box losses, MONAI's
Dice + CE/focal compounds).

Calling a peer: its call arguments are assigned by the definition's roles
(``y_pred``, ``y_true``, extra inputs by name) in the peer's layout (Keras
channels-last, the others channels-first).  The target is tried in the forms
the peer may take -- labels, labels with a singleton class axis (MONAI),
one-hot -- and the first whose value *and gradient* agree with ours on the
same inputs is used; ours runs with the spec's default parameters if they
agree, else with the parameters the compat mapping gives (``probe`` in
``benchmarks/harness.py``).  A peer none of whose forms agree is reported as
such, never timed against a different number.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.inputs import LABELS, ONE_HOT, CaseInputs
from spec import compat
from spec.compat._core import REQUIRED, Composed, Mapped, PeerLoss, Sum
from spec.samples import one_hot

ROOT = Path(__file__).resolve().parents[1]

# constructor arguments whose peer default does not run: smp's SoftCrossEntropyLoss divides by its
# default smooth_factor=None
OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {("smp", "SoftCrossEntropyLoss"): {"smooth_factor": 0.0}}

# an ``axis`` argument meaning the spatial axes of a channels-last input (Keras' Dice and Tversky
# per sample and class, the cost reference of shared/research/perf-baselines.md)
SPATIAL = "spatial"

# call argument names that are not in a definition's roles
ALIASES = {
    "targets": "y_true",
    "target": "y_true",
    "y_true": "y_true",
    "log_probs": "y_pred",
    "inputs": "y_pred",
    "input": "y_pred",
    "y_pred": "y_pred",
    "boxes1": "y_pred",
    "boxes2": "y_true",
}


@dataclass(frozen=True)
class PeerConfig:
    """One configured peer loss.

    Attributes:
        peer: ``"torch"``, ``"keras"``, ``"monai"``, ``"smp"`` or ``"torchvision"``.
        name: the peer's class or function.
        args: constructor arguments that differ from the peer's defaults.
        loss: the spec loss it computes.
        params: the spec parameters the compat mapping gives (None if unknown).
        reduction: the mapping's spec reduction (``"mean"`` where unknown).
        call: the call's argument names in order.
        roles: call argument -> ``y_pred``, ``y_true`` or an extra input.
        function: a function API ``name(*call, **args)`` rather than a class.
        pred_transform: applied to the prediction inside the step:
            ``"ctc_log_probs"`` (torch's CTC takes ``(T, N, C)``
            log-probabilities), ``"softmax"`` (a peer taking probabilities).
    """

    peer: str
    name: str
    args: Mapping[str, Any]
    loss: str
    params: Mapping[str, Any] | None
    reduction: str = "mean"
    call: tuple[str, ...] = ()
    roles: Mapping[str, str] = field(default_factory=dict)
    function: bool = False
    pred_transform: str = ""

    @property
    def framework(self) -> str:
        return "tf" if self.peer == "keras" else "torch"

    @property
    def label(self) -> str:
        shown = ", ".join(f"{k}={v if v == SPATIAL else repr(v)}" for k, v in self.args.items())
        prefix = "softmax + " if self.pred_transform == "softmax" else ""
        return f"{prefix}{self.peer}.{self.name}({shown})"

    @property
    def key(self) -> tuple:
        return (self.peer, self.name, tuple(sorted(self.args.items())))


# ---------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------


def _arg_sets(definition: PeerLoss, form: str) -> list[dict[str, Any]]:
    """Constructor arguments to benchmark, by the policy of the module docstring."""
    declared = {arg.name: arg for arg in definition.args}
    required = [a.name for a in definition.args if a.default is REQUIRED]
    if [name for name in required if name != "mode"]:
        return []  # an argument without a default we cannot choose (MONAI's dist_matrix, a wrapped loss)
    sets: list[dict[str, Any]] = [{"mode": m} for m in ("multiclass", "binary")] if "mode" in required else [{}]
    for chosen in sets:
        if "from_logits" in declared:
            chosen["from_logits"] = True
        if "softmax" in declared:
            chosen["softmax"] = True
        if "to_onehot_y" in declared:
            chosen["to_onehot_y"] = form == LABELS
        if "reduction" in declared and declared["reduction"].default == "none":
            chosen["reduction"] = "mean"
    if "use_softmax" in declared:
        sets += [{**chosen, "use_softmax": True} for chosen in sets]
    for chosen in sets:
        chosen.update(OVERRIDES.get((definition.peer, definition.name), {}))
    return [{k: v for k, v in chosen.items() if declared[k].default != v} for chosen in sets]


def _mapped(definition: PeerLoss, args: dict[str, Any]) -> Mapped | None:
    try:
        mapped = definition.configure(definition.bind((), args))
    except (TypeError, ValueError):
        return None
    return None if isinstance(mapped, (Sum, Composed)) else mapped


def _from_definition(definition: PeerLoss, args: dict[str, Any], mapped: Mapped) -> PeerConfig:
    transform = "ctc_log_probs" if (definition.peer, definition.name) == ("torch", "CTCLoss") else ""
    return PeerConfig(
        definition.peer,
        definition.name,
        args,
        mapped.loss,
        dict(mapped.params),
        mapped.reduction,
        tuple(a.name for a in definition.call),
        dict(definition.roles),
        definition.function,
        transform,
    )


def _extra(form: str) -> list[PeerConfig]:
    """Peers the compat layer maps to a sum of spec losses or not at all."""
    onehot = {"to_onehot_y": True} if form == LABELS else {}
    monai_call = ("input", "target")
    boxes = ("boxes1", "boxes2")
    keras_call = ("y_true", "y_pred")
    return [
        PeerConfig("keras", "Dice", {"axis": SPATIAL}, "dice", None, call=keras_call, pred_transform="softmax"),
        PeerConfig("keras", "Tversky", {"axis": SPATIAL}, "tversky", None, call=keras_call, pred_transform="softmax"),
        PeerConfig("monai", "DiceCELoss", {"softmax": True, **onehot}, "dice_crossentropy", None, call=monai_call),
        PeerConfig("monai", "DiceFocalLoss", {"softmax": True, **onehot}, "dice_focal", None, call=monai_call),
        PeerConfig(
            "monai",
            "GeneralizedDiceFocalLoss",
            {"softmax": True, **onehot},
            "generalized_dice_focal",
            None,
            call=monai_call,
        ),
        PeerConfig(
            "torchvision", "generalized_box_iou_loss", {"reduction": "mean"}, "giou", None, call=boxes, function=True
        ),
        PeerConfig(
            "torchvision", "distance_box_iou_loss", {"reduction": "mean"}, "diou", None, call=boxes, function=True
        ),
        PeerConfig(
            "torchvision", "complete_box_iou_loss", {"reduction": "mean"}, "ciou", None, call=boxes, function=True
        ),
    ]


@cache
def _configs(form: str) -> tuple[PeerConfig, ...]:
    found = []
    for definition in compat.definitions():
        for args in _arg_sets(definition, form):
            mapped = _mapped(definition, args)
            if mapped is not None:
                found.append(_from_definition(definition, args, mapped))
    return tuple(found) + tuple(_extra(form))


def configs_for(loss: str, form: str) -> list[PeerConfig]:
    """The peer configurations of spec loss ``loss`` for target ``form``."""
    return [c for c in _configs(form) if c.loss == loss]


def unbenchmarked() -> list[str]:
    """Compat definitions no configuration came from (for the report)."""
    covered = {(c.peer, c.name) for form in (LABELS, ONE_HOT, "dense") for c in _configs(form)}
    return [d.qualname for d in compat.definitions() if (d.peer, d.name) not in covered]


# ---------------------------------------------------------------------------
# the peers' objects and calls
# ---------------------------------------------------------------------------


@cache
def _peer_libraries() -> ModuleType:
    """``tests/peer_libraries.py``: how smp's losses and torchvision's loss files
    load beside torch 2.13 (see its docstring); the test session's own copy if it has one."""
    if "peer_libraries" in sys.modules:
        return sys.modules["peer_libraries"]
    path = ROOT / "tests" / "peer_libraries.py"
    spec = importlib.util.spec_from_file_location("_lossbridge_peer_libraries", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def instantiate(config: PeerConfig, rank: int) -> Callable[..., Any]:
    """The peer's loss as a callable on its call arguments (in order), for
    predictions of ``rank``."""
    libraries = _peer_libraries()
    args = {k: tuple(range(1, rank - 1)) if v == SPATIAL else v for k, v in config.args.items()}
    if config.peer == "torchvision":
        api = getattr(libraries.torchvision_losses(), config.name)
    else:
        api = libraries.peer_api(config.peer, config.name)
    if config.function:
        return lambda *tensors: api(*tensors, **args)
    return api(**args)


def _role(config: PeerConfig, argument: str, extras: Mapping[str, np.ndarray]) -> str | None:
    role = config.roles.get(argument)
    if role in ("y_pred", "y_true") or role in extras:
        return role
    if argument in extras:
        return argument
    return ALIASES.get(argument)


@dataclass(frozen=True)
class CallForm:
    """One way of calling a peer: the target form and the NumPy arrays of
    its non-prediction arguments (in the peer's layout)."""

    target: str
    arrays: tuple[tuple[str, np.ndarray], ...]
    prediction: str  # the call argument that takes the prediction

    def tensors(self, convert: Callable[[np.ndarray], Any]) -> dict[str, Any]:
        return {name: convert(array) for name, array in self.arrays}


def call_forms(config: PeerConfig, inputs: CaseInputs, class_last: bool) -> list[CallForm]:
    """The ways to call ``config`` on ``inputs`` (already in the peer's layout);
    empty when a call argument has no role."""
    targets = _target_forms(inputs, class_last)
    forms = []
    for target, y_true in targets:
        arrays, prediction = [], None
        for argument in config.call:
            role = _role(config, argument, inputs.extras)
            if argument == "sample_weight":
                continue
            if role == "y_pred":
                prediction = argument
            elif role == "y_true":
                arrays.append((argument, y_true))
            elif role in inputs.extras:
                arrays.append((argument, inputs.extras[role]))
            else:
                return []
        if prediction is None:
            return []
        forms.append(CallForm(target, tuple(arrays), prediction))
    return forms


def _target_forms(inputs: CaseInputs, class_last: bool) -> list[tuple[str, np.ndarray]]:
    if inputs.form != LABELS:
        return [(inputs.form, inputs.y_true)]
    labels = inputs.y_true
    axis = -1 if class_last else 1
    dense = one_hot(labels, inputs.y_pred.shape[axis]).astype(np.float32)
    if class_last:
        dense = np.ascontiguousarray(np.moveaxis(dense, 1, -1))
    return [
        ("labels", labels),
        ("labels with a class axis of 1", np.expand_dims(labels, axis)),
        ("one-hot", dense),
    ]
