"""The loss registry: one :class:`LossSpec` per loss, and evaluation on any backend.

A spec bundles the formula (written once against :mod:`spec.ops`), its typed
parameters, the input contract, parameter presets and the sample-input
generator that the parity matrix uses.  Registering a spec is what makes a
loss exist: both framework packages build their classes and functions from
the registry, and the parity matrix iterates over it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from spec.backends import get_ops
from spec.inputs import Inputs, check_extras, check_inputs, check_labels
from spec.ops import Ops, upcast_half
from spec.params import Param, ParamSet
from spec.reduction import canonical_reduction, reduce_loss

Tensor = Any


@dataclass(frozen=True, eq=False)
class LossSpec:
    """A framework-neutral loss definition.

    Attributes:
        name: snake_case spec name; the framework classes are called
            ``CamelCase(name) + "Loss"``.
        formula: ``formula(ops, y_pred, y_true, **params)`` returning the loss
            elements (see :mod:`spec.reduction`).  Its docstring is the loss's
            documentation.
        params: the typed parameters.
        inputs: the input contract.
        family: catalog group (``"classification"``, ``"regression"``,
            ``"segmentation"``, ...).
        presets: named parameter sets covered by the parity matrix; every
            parameter should be moved off its default by at least one preset.
        samples: ``samples(rng, params)`` returning :class:`spec.samples.Sample`
            inputs (channels-first) for one preset, edge cases included.
    """

    name: str
    formula: Callable[..., Any]
    params: ParamSet
    inputs: Inputs
    family: str
    presets: Mapping[str, Mapping[str, Any]]
    samples: Callable[..., list]
    tags: tuple[str, ...] = field(default=())

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_")) + "Loss"

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.formula) or ""

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else self.name

    @property
    def has_class_axis(self) -> bool:
        return "class_axis" in self.params.names()

    def formula_kwargs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` as keywords of the formula: without ``sync`` where the
        formula has no batch statistic of its own (then ``sync`` is a setting
        of the reduction only, :mod:`spec.distributed`)."""
        kwargs = dict(params)
        if "sync" in kwargs and not _takes(self.formula, "sync"):
            del kwargs["sync"]
        return kwargs

    def bind(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Validated parameters (defaults filled in)."""
        return self.params.bind(self.name, dict(params or {}))

    def __call__(
        self,
        y_pred: Tensor,
        y_true: Tensor,
        *,
        sample_weight: Tensor | None = None,
        reduction: str = "mean",
        **params: Any,
    ) -> Tensor:
        """Evaluate on any backend's tensors (``class_axis`` defaults to -1);
        extra inputs are keywords too."""
        extras = {e.name: params.pop(e.name) for e in self.inputs.extras if e.name in params}
        return evaluate(
            self, self.bind(params), y_pred, y_true, sample_weight=sample_weight, reduction=reduction, extras=extras
        )


@functools.lru_cache(maxsize=512)
def _takes(formula: Callable[..., Any], name: str) -> bool:
    parameters = inspect.signature(formula).parameters.values()
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def evaluate(
    spec: LossSpec,
    params: Mapping[str, Any],
    y_pred: Tensor,
    y_true: Tensor,
    *,
    sample_weight: Tensor | None = None,
    reduction: str = "mean",
    default_class_axis: int = -1,
    check_values: bool = True,
    extras: Mapping[str, Tensor] | None = None,
    ops: Ops | None = None,
) -> Tensor:
    """The loss value of ``spec`` with bound ``params``.

    Args:
        spec: the loss.
        params: parameters from :meth:`LossSpec.bind`.
        y_pred: predictions (the backend is chosen from this tensor's type);
            float16/bfloat16 predictions and targets are computed in float32 and
            give a float32 value (:func:`spec.ops.upcast_half`).
        y_true: targets of the same framework.
        sample_weight: ``None``, shape ``(N,)`` or the elements' shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (or a Keras alias).
        default_class_axis: the calling framework's layout convention, used
            when ``params["class_axis"]`` is ``None`` (torch 1, Keras -1).
        check_values: run the value-dependent input checks (label and
            probability ranges).  Finite-difference probes turn them off.
        extras: the loss's extra inputs by name (``spec.inputs.extras``).
        ops: the backend; ``None`` picks it from ``y_pred``'s type.  A
            framework package passes its own, which keeps the backend lookup
            (a module import on first use) out of compiled graphs.
    """
    ops = get_ops(y_pred) if ops is None else ops
    reduction = canonical_reduction(reduction)
    class_axis = None
    if "class_axis" in params:
        class_axis = params["class_axis"] if params["class_axis"] is not None else default_class_axis
    # mixed precision: half-precision inputs are computed in float32 (extras and sample_weight
    # follow y_pred's dtype in check_extras and reduce_loss)
    y_pred = upcast_half(ops, y_pred)
    prepared = check_inputs(ops, spec.name, spec.inputs, params, y_pred, y_true, class_axis, check_values=check_values)
    target = upcast_half(ops, prepared.y_true)
    kwargs = spec.formula_kwargs(params)  # a copy
    if "class_axis" in kwargs:
        kwargs["class_axis"] = prepared.class_axis
    if extras or spec.inputs.extras:
        kwargs.update(check_extras(ops, spec.name, spec.inputs, prepared.y_pred, extras or {}, prepared.class_axis))
    empty = 0 in ops.shape(prepared.y_pred)
    if empty and reduction != "none":
        # An empty batch has no loss element: "mean" and "sum" are 0 with an empty gradient (Keras'
        # sum_over_batch_size and torchvision's box losses give 0; a plain mean would be 0/0, and a
        # batch-level statistic of no pixel is no loss either).
        return ops.sum(prepared.y_pred)
    try:
        sync = bool(params.get("sync", False))
        elements = spec.formula(ops, prepared.y_pred, target, **kwargs)
        value = reduce_loss(ops, elements, sample_weight, reduction, sync=sync)
        return ops.sum(prepared.y_pred) if empty and not ops.shape(value) else value
    except (IndexError, RuntimeError):
        if prepared.is_labels and ops.index_ops_validate and check_values:
            # a native index op refused a label: name it in the spec's words
            num_classes = ops.shape(prepared.y_pred)[prepared.class_axis]
            check_labels(ops, spec.name, prepared.y_true, num_classes, params.get("ignore_index"))
        raise


_REGISTRY: dict[str, LossSpec] = {}


def register(spec: LossSpec, *, replace: bool = False) -> LossSpec:
    """Add ``spec`` to the registry (``replace=True`` to redefine a name)."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"a loss named {spec.name!r} is already registered; pass replace=True to redefine it")
    if not spec.presets:
        raise ValueError(f"{spec.name}: a loss needs at least one preset for the parity matrix")
    for preset, values in spec.presets.items():
        try:
            spec.bind(values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{spec.name}: preset {preset!r} is invalid: {error}") from None
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a loss from the registry (``ValueError`` if it is unknown)."""
    get(name)
    del _REGISTRY[name]


def get(name: str) -> LossSpec:
    """The registered spec called ``name``; ``ValueError`` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown loss name {name!r}; expected one of: {', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
    """Names of all registered losses, in registration order."""
    return list(_REGISTRY)


def specs() -> Iterator[LossSpec]:
    return iter(list(_REGISTRY.values()))


def define_loss(
    name: str,
    *,
    params: tuple[Param, ...] | list[Param] = (),
    inputs: Inputs | None = None,
    family: str = "custom",
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    samples: Callable[..., list] | None = None,
    replace: bool = False,
) -> Callable[[Callable[..., Any]], LossSpec]:
    """Decorator that turns a formula written against the ops protocol into a
    registered loss, usable at once as ``losses_torch.loss_class(name)`` and
    ``losses_tf.loss_class(name)`` and checkable with ``lossbridge parity``::

        @spec.define_loss("scaled_l2", params=[spec.Param("scale", "float", 1.0, "factor")])
        def scaled_l2(ops, y_pred, y_true, *, scale):
            '''scale * (y_pred - y_true)^2 per element.'''
            return scale * (y_pred - y_true) * (y_pred - y_true)

    Without ``inputs`` the loss is elementwise (``y_true`` has ``y_pred``'s
    shape); without ``samples`` it is tested on random regression data.
    """

    def wrap(formula: Callable[..., Any]) -> LossSpec:
        from spec import samples as sample_module

        return register(
            LossSpec(
                name=name,
                formula=formula,
                params=ParamSet(tuple(params)),
                inputs=inputs or Inputs("elementwise"),
                family=family,
                presets=presets or {"default": {}},
                samples=samples or sample_module.regression_samples,
            ),
            replace=replace,
        )

    return wrap
