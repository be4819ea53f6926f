"""Multi-output losses: Keras 3's ``compile(loss=..., loss_weights=...)`` rule,
written once.

The rule (Keras 3.7+ ``CompileLoss``, ``keras/src/trainers/compile_utils.py``):

1. ``losses`` is one loss for every output, a list with one entry per output,
   or a dict keyed by output name; an entry may be ``None`` (no loss for that
   output) or a list of several losses for the same output.
2. Each term is the output's loss with its own reduction (``"mean"`` = Keras'
   ``sum_over_batch_size`` by default), computed on that output alone.
3. ``loss_weights`` (a float for a single loss, a list, or a dict by output
   name, with a list for an output that has several losses) multiply the
   reduced terms; a missing weight is 1.
4. The total is the plain sum of the weighted terms.

Terms are named after their output (``"out_a"``); several losses on one
output are named ``"out_a"``, ``"out_a_1"``, ... so that none hides another
(Keras names them all ``out_a_loss``).  ``parts`` reports each term's
*unweighted* value, as Keras 3.7+ logs ``<output>_loss``.

A loss entry can be a framework loss object, a registered spec name, a Keras
string (``"categorical_crossentropy"``, ``"mse"``, ...; these keep Keras'
defaults, e.g. ``from_logits=False``) or a neutral config.  The neutral
multi-task config is::

    {"outputs": {"out_a": <loss config or list of configs>, ...},
     "loss_weights": {"out_a": 1.0, ...},
     "weighting": {"name": "fixed", "params": {}}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spec import config as neutral
from spec.registry import names as registered_names

# Keras string shortcuts -> (spec name, params that reproduce Keras' defaults)
KERAS_STRINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "categorical_crossentropy": ("categorical_crossentropy", {"from_logits": False}),
    "sparse_categorical_crossentropy": ("categorical_crossentropy", {"from_logits": False}),
    "binary_crossentropy": ("binary_crossentropy", {"from_logits": False}),
    "mean_squared_error": ("mean_squared_error", {}),
    "mse": ("mean_squared_error", {}),
    "mean_absolute_error": ("mean_absolute_error", {}),
    "mae": ("mean_absolute_error", {}),
    "huber": ("huber", {}),
}


@dataclass(frozen=True)
class Term:
    """One loss term: its unique name, the output it reads, the loss (a
    framework object or a neutral config) and its weight."""

    name: str
    output: str
    loss: Any
    weight: float


def string_config(name: str) -> dict[str, Any]:
    """The neutral config of a Keras string or a registered spec name."""
    if name in KERAS_STRINGS:
        spec_name, params = KERAS_STRINGS[name]
        return {"name": spec_name, "params": dict(params)}
    if name in registered_names():
        return {"name": name, "params": {}}
    raise ValueError(
        f"loss {name!r} is neither a Keras loss string ({', '.join(sorted(KERAS_STRINGS))}) "
        f"nor a registered loss ({', '.join(sorted(registered_names()))})"
    )


def _entry(value: Any, is_loss_object: Callable[[Any], bool]) -> Any:
    """Normalise one loss entry to a framework object or a neutral config."""
    if isinstance(value, str):
        return string_config(value)
    if isinstance(value, Mapping):
        neutral.from_config(value)  # validates name and params now, eagerly
        return dict(value)
    if is_loss_object(value):
        return value
    raise TypeError(
        f"a loss must be a loss object, a loss name, a Keras loss string or a config dict, got {type(value).__name__}"
    )


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def plan(
    losses: Any,
    loss_weights: Any,
    output_names: Sequence[str] | None,
    is_loss_object: Callable[[Any], bool],
) -> list[Term]:
    """The terms of a multi-output loss, following the rule in this module's docstring.

    Args:
        losses: one loss, a list (one entry per output) or a dict by output name.
        loss_weights: None, a float (single loss), a list or a dict by output name.
        output_names: names of the outputs, in order (needed for a single loss
            or a list; a dict names them itself).
        is_loss_object: recognises the calling framework's loss objects.
    """
    if isinstance(losses, Mapping):
        names = list(losses)
        if output_names is not None and set(names) - set(output_names):
            unknown = sorted(set(names) - set(output_names))
            raise ValueError(
                f"losses has keys {unknown} that are not outputs; expected keys among {list(output_names)}"
            )
        per_output = dict(losses)
    elif isinstance(losses, (list, tuple)):
        if output_names is None:
            output_names = [f"output_{i}" for i in range(len(losses))]
        if len(losses) != len(output_names):
            raise ValueError(
                f"losses is a list of {len(losses)} entries but there are {len(output_names)} outputs "
                f"{list(output_names)}; expected one entry per output"
            )
        per_output = dict(zip(output_names, losses, strict=True))
    else:
        if output_names is None:
            raise ValueError("a single loss for several outputs needs output_names")
        per_output = {name: losses for name in output_names}

    if loss_weights is None:
        weights: dict[str, Any] = {}
    elif isinstance(loss_weights, Mapping):
        unknown = sorted(set(loss_weights) - set(per_output))
        if unknown:
            raise ValueError(f"loss_weights has keys {unknown} without a loss; expected keys among {list(per_output)}")
        weights = dict(loss_weights)
    elif isinstance(loss_weights, (list, tuple)):
        if len(loss_weights) != len(per_output):
            raise ValueError(
                f"loss_weights has {len(loss_weights)} entries for {len(per_output)} outputs; "
                "expected one weight per output"
            )
        weights = dict(zip(per_output, loss_weights, strict=True))
    elif isinstance(loss_weights, (int, float)) and not isinstance(loss_weights, bool):
        if len(per_output) != 1:
            raise ValueError(
                f"a single float loss_weights={loss_weights} needs a single loss; got {len(per_output)} outputs, "
                "pass a list or a dict"
            )
        weights = {next(iter(per_output)): loss_weights}
    else:
        raise TypeError(f"loss_weights must be None, a float, a list or a dict, got {type(loss_weights).__name__}")

    terms: list[Term] = []
    for output, entries in per_output.items():
        if entries is None:
            continue
        entries = _as_list(entries)
        output_weights = weights.get(output, 1.0)
        output_weights = _as_list(output_weights) if len(entries) > 1 else [output_weights]
        if len(output_weights) != len(entries):
            raise ValueError(
                f"output {output!r} has {len(entries)} losses but loss_weights gives {len(output_weights)} weights"
            )
        for index, (entry, weight) in enumerate(zip(entries, output_weights, strict=True)):
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise TypeError(f"loss_weights for {output!r} must be numbers, got {weight!r}")
            name = output if index == 0 else f"{output}_{index}"
            terms.append(Term(name, output, _entry(entry, is_loss_object), float(weight)))
    if not terms:
        raise ValueError("no loss term: every output's loss is None")
    return terms


def by_output(values: Any, output_names: Sequence[str], what: str) -> Mapping[str, Any]:
    """Per-output values as a dict: a dict is kept, a list is matched to
    ``output_names`` in order."""
    if isinstance(values, Mapping):
        return values
    if isinstance(values, (list, tuple)) and len(values) == len(output_names):
        return dict(zip(output_names, values, strict=True))
    raise ValueError(
        f"{what} must be a dict keyed by output name or a list of {len(output_names)} tensors "
        f"(outputs {list(output_names)}), got {type(values).__name__}"
    )


def output_order(terms: Sequence[Term], output_names: Sequence[str] | None) -> list[str]:
    """Output names in order: as given, else in the order the terms read them."""
    return list(dict.fromkeys(output_names or [t.output for t in terms]))


def term_values(parts: Mapping[str, Any], terms: Sequence[Term]) -> list[Any]:
    """``[weight_t * parts[t] for t in terms]`` (a weight of 1 leaves the value as is)."""
    return [parts[t.name] * t.weight if t.weight != 1.0 else parts[t.name] for t in terms]


def weighted_total(parts: Mapping[str, Any], terms: Sequence[Term]) -> Any:
    """``sum_t weight_t * parts[t]`` in term order (Keras sums in the same order)."""
    values = term_values(parts, terms)
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def check_weighting(weighting: Any) -> None:
    """Validate a weighting description (raises naming what it got)."""
    from spec.weighting import resolve

    resolve(weighting)


def batch_size(tensors: Any) -> int:
    """Keras' batch size of a step: the first axis of the first leaf."""
    while isinstance(tensors, (list, tuple, Mapping)):
        tensors = next(iter(tensors.values())) if isinstance(tensors, Mapping) else tensors[0]
    return tensors.shape[0]


def parse_config(config: Mapping[str, Any]) -> tuple[dict, Any, Any]:
    """``(losses, loss_weights, weighting)`` of a neutral multi-task config."""
    unknown = sorted(set(config) - {"outputs", "loss_weights", "weighting"})
    if unknown:
        raise ValueError(
            f"multi-task config has unknown key(s) {unknown}; expected 'outputs', 'loss_weights', 'weighting'"
        )
    outputs = config["outputs"]
    if not isinstance(outputs, Mapping):
        raise TypeError(f"config 'outputs' must map output names to loss configs, got {type(outputs).__name__}")
    check_weighting(config.get("weighting"))
    return dict(outputs), config.get("loss_weights"), config.get("weighting")


def to_config(
    terms: Sequence[Term], term_losses: Mapping[str, Any], weighting: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The neutral multi-task config of ``terms`` whose built losses are
    ``term_losses`` (by term name, each with a ``get_config()``)."""
    outputs: dict[str, Any] = {}
    weights: dict[str, Any] = {}
    for term in terms:
        loss_config = term_losses[term.name].get_config()
        if term.output in outputs:
            outputs[term.output] = [*_as_list(outputs[term.output]), loss_config]
            weights[term.output] = [*_as_list(weights[term.output]), term.weight]
        else:
            outputs[term.output] = loss_config
            weights[term.output] = term.weight
    return {
        "outputs": outputs,
        "loss_weights": weights,
        "weighting": dict(weighting or {"name": "fixed", "params": {}}),
    }
