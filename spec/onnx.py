"""ONNX export of any registered loss from its one spec: ``export(config, ...)``.

The formula is traced by the ONNX backend of the ops protocol
(:mod:`spec.onnx_ops`): nothing is restated, and the graph is made of standard
``ai.onnx`` operators (opset 18 by default), so it runs in onnxruntime and in
any runtime that implements them.  Inputs are named after the
framework-neutral arguments -- ``y_pred``, ``y_true``, ``sample_weight`` (when
requested) and the loss's extra inputs (``var``, ``target_distance``, ...) --
and the output is ``loss``.  A multi-task config gives one graph with
``<output>.y_pred``/``<output>.y_true`` inputs per output and the outputs
``loss`` (the weighted total) and ``<term>_loss`` (each unweighted term).

Sizes are symbolic where the formula allows it: the batch axis (``N``) and the
other non-class axes (``d1``, ``d2``, ...).  A formula that needs a size as a
number (CTC's frame loop, a skeleton's iterations over a static grid, a
per-sample Python list) gets it fixed: the exporter tries batch and spatial
axes symbolic, then only the batch, then none, and records the static sizes in
the model's ``metadata_props`` (``static_sizes``).  What ONNX cannot express
at all raises :class:`ExportError` naming the loss and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spec import config as neutral
from spec import multitask
from spec.onnx_ops import Dim, Graph, OnnxOps, OnnxTensor, StaticShapeRequired
from spec.registry import LossSpec, evaluate

DEFAULT_OPSET = 18
# onnx 1.23 writes IR version 14 by default, which onnxruntime 1.31/1.32 refuses (max 13)
IR_VERSION = 10
DTYPES = ("float32", "float64")
TARGET_FORMS = ("labels", "dense")
OPS = OnnxOps()


class ExportError(ValueError):
    """A loss (or a setting of it) that cannot be written as an ONNX graph."""


@dataclass(frozen=True)
class InputSpec:
    """One graph input: its shape (ints; symbolic axes get names) and dtype."""

    shape: tuple[int, ...]
    dtype: str


def input_specs(
    spec: LossSpec,
    params: Mapping[str, Any],
    shape: Sequence[int],
    *,
    target: str = "labels",
    dtype: str = "float32",
    sample_weight: bool = False,
    default_class_axis: int = 1,
) -> dict[str, InputSpec]:
    """The inputs of ``spec`` for a prediction of ``shape``: ``y_pred``,
    ``y_true`` (integer labels or a dense target), the extras and, if asked,
    a per-sample ``sample_weight``."""
    shape = tuple(int(d) for d in shape)
    if target not in TARGET_FORMS:
        raise ValueError(f"target must be one of {TARGET_FORMS}, got {target!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    axis = _class_axis(spec, params, len(shape), default_class_axis)
    positions = shape if axis is None else shape[:axis] + shape[axis + 1 :]
    specs = {"y_pred": InputSpec(shape, dtype)}
    if spec.inputs.kind == "classes" and target == "labels":
        if not spec.inputs.labels:
            raise ValueError(f"{spec.name} takes no integer labels; pass target='dense'")
        specs["y_true"] = InputSpec(positions, "int64")
    elif spec.inputs.kind == "elementwise" and spec.inputs.target == "sample":
        specs["y_true"] = InputSpec(shape[:1], dtype)
    else:
        specs["y_true"] = InputSpec(shape, dtype)
    for extra in spec.inputs.extras:
        extra_shape = {
            "prediction": shape,
            "positions": positions,
            "sample": shape[:1],
            "classes": (shape[0], shape[axis] if axis is not None else 1),
        }[extra.shape]
        specs[extra.name] = InputSpec(extra_shape, "int64" if extra.integer else dtype)
    if sample_weight:
        specs["sample_weight"] = InputSpec(shape[:1], dtype)
    return specs


def _class_axis(spec: LossSpec, params: Mapping[str, Any], ndim: int, default: int) -> int | None:
    if not spec.has_class_axis:
        return None
    axis = params.get("class_axis")
    return (default if axis is None else axis) % ndim


def _symbols(
    spec: LossSpec, params: Mapping[str, Any], specs: Mapping[str, InputSpec], dynamic: str, default_class_axis: int
) -> dict[str, tuple]:
    """Each input's shape with its symbolic axes as :class:`Dim` (named after
    ``y_pred``'s axes so that equal sizes stay equal)."""
    pred_shape = specs["y_pred"].shape
    axis = _class_axis(spec, params, len(pred_shape), default_class_axis)
    names = {}
    for a in range(len(pred_shape)):
        if a == 0 and dynamic in ("batch", "all"):
            names[a] = Dim(["N"])
        elif a != axis and a != 0 and dynamic == "all":
            names[a] = Dim([f"d{a}"])
    pred = tuple(names.get(a, d) for a, d in enumerate(pred_shape))
    positions = pred if axis is None else pred[:axis] + pred[axis + 1 :]
    shaped = {}
    for name, item in specs.items():
        if item.shape == pred_shape:
            shaped[name] = pred
        elif axis is not None and item.shape == tuple(d for a, d in enumerate(pred_shape) if a != axis):
            shaped[name] = positions
        else:
            shaped[name] = tuple(pred[0] if (a == 0 and d == pred_shape[0]) else d for a, d in enumerate(item.shape))
    return shaped


def _trace(
    spec: LossSpec,
    params: Mapping[str, Any],
    reduction: str,
    specs: Mapping[str, InputSpec],
    dynamic: str,
    default_class_axis: int,
    prefix: str = "",
    graph: Graph | None = None,
) -> tuple[Graph, dict, OnnxTensor]:
    dtype = specs["y_pred"].dtype
    graph = graph or Graph(dtype)
    shapes = _symbols(spec, params, specs, dynamic, default_class_axis)
    tensors = {}
    for name, item in specs.items():
        tensor = OnnxTensor(graph, prefix + name, item.dtype, shapes[name])
        for axis, dim in enumerate(tensor.shape):
            if isinstance(dim, Dim) and len(dim.symbols) == 1 and dim.coefficient == 1:
                graph.add_symbol(dim.symbols[0], tensor.name, axis)
        tensors[name] = tensor
    extras = {e.name: tensors[e.name] for e in spec.inputs.extras}
    try:
        value = evaluate(
            spec,
            params,
            tensors["y_pred"],
            tensors["y_true"],
            sample_weight=tensors.get("sample_weight"),
            reduction=reduction,
            default_class_axis=default_class_axis,
            check_values=False,
            extras=extras,
            ops=OPS,
        )
    except NotImplementedError as error:
        raise ExportError(f"{spec.name} cannot be exported to ONNX: {error}") from None
    value = graph.cast(value, dtype)
    batch = tensors["y_pred"].shape[0]
    if isinstance(batch, Dim) and reduction != "none":
        # spec.registry.evaluate's rule for an empty batch, decided in the graph when N is symbolic
        value = OPS.where(OPS.equal(graph.scalar_of(batch, "int64"), 0), 0.0, value)
    return graph, tensors, value


def _value_info(name: str, dtype: str, shape: tuple) -> Any:
    from onnx import helper

    from spec.onnx_ops import _DTYPES

    dims = [str(d) if isinstance(d, Dim) else int(d) for d in shape]
    return helper.make_tensor_value_info(name, _DTYPES[dtype], dims)


def _static_sizes(dynamic: str) -> str:
    return {"all": "none", "batch": "all but the batch axis", "none": "all"}[dynamic]


def _model(graph: Graph, inputs: list, outputs: list, opset: int, metadata: dict[str, str], doc: str) -> Any:
    import onnx
    from onnx import helper

    onnx_graph = helper.make_graph(graph.nodes, "lossbridge_loss", inputs, outputs, initializer=graph.initializers)
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="lossbridge",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    return model


def export(
    config: Mapping[str, Any] | str,
    inputs: Mapping[str, InputSpec | tuple] | None = None,
    *,
    shape: Sequence[int] | None = None,
    target: str = "labels",
    dtype: str = "float32",
    sample_weight: bool = False,
    opset: int = DEFAULT_OPSET,
    dynamic: str = "auto",
    default_class_axis: int = 1,
) -> Any:
    """An ``onnx.ModelProto`` computing the loss of a neutral ``config``.

    Args:
        config: a neutral config (mapping or JSON), a registered loss name, or
            a multi-task config (key ``"outputs"``).
        inputs: ``{name: InputSpec(shape, dtype)}`` (or ``(shape, dtype)``
            tuples) for every input; for a multi-task config, a mapping from
            output name to such a mapping.  Alternatively ``shape``.
        shape: the prediction's shape (one example; sizes become symbolic
            where the formula allows); ``target``, ``dtype`` and
            ``sample_weight`` then describe the other inputs.  For a
            multi-task config, a mapping from output name to its shape.
        target: ``"labels"`` (integer ``y_true`` without the class axis) or
            ``"dense"`` (``y_true`` with ``y_pred``'s shape).
        dtype: ``"float32"`` or ``"float64"``: the graph's float type.
        sample_weight: add a per-sample ``sample_weight`` input ``(N,)``.
        opset: the ``ai.onnx`` opset, 18 or newer.
        dynamic: ``"all"`` (batch and non-class axes symbolic), ``"batch"``,
            ``"none"``, or ``"auto"`` (the first of these the formula allows).
        default_class_axis: the layout when the config leaves ``class_axis``
            unset (1: channels-first, like torch and ONNX's own loss ops).

    Raises:
        ExportError: the loss cannot be written as an ONNX graph.
    """
    if opset < DEFAULT_OPSET:
        raise ValueError(f"opset must be {DEFAULT_OPSET} or newer (Reduce* take axes as inputs), got {opset}")
    if dynamic not in ("auto", "all", "batch", "none"):
        raise ValueError(f"dynamic must be 'auto', 'all', 'batch' or 'none', got {dynamic!r}")
    if isinstance(config, str) and not config.lstrip().startswith("{"):
        config = {"name": config, "params": {}}
    config = neutral.load(config)
    modes = ("all", "batch", "none") if dynamic == "auto" else (dynamic,)
    for index, mode in enumerate(modes):
        try:
            if neutral.is_multitask(config):
                return _export_multitask(
                    config, inputs, shape, target, dtype, sample_weight, opset, mode, default_class_axis
                )
            return _export_single(config, inputs, shape, target, dtype, sample_weight, opset, mode, default_class_axis)
        except ExportError:
            raise
        except StaticShapeRequired as error:
            if index == len(modes) - 1:
                raise ExportError(f"the loss needs static sizes the example shape cannot give: {error}") from None
        except ValueError:
            # a shape check of the formula against a symbolic size (boxes need 4 coordinates):
            # fix more sizes; an error that stays with every size fixed is the input's
            if index == len(modes) - 1:
                raise
    raise AssertionError("unreachable")


def _normalise_inputs(inputs: Mapping[str, Any]) -> dict[str, InputSpec]:
    result = {}
    for name, item in inputs.items():
        if isinstance(item, InputSpec):
            result[name] = item
        elif isinstance(item, np.ndarray):
            result[name] = InputSpec(item.shape, str(item.dtype))
        else:
            item_shape, item_dtype = item
            result[name] = InputSpec(tuple(int(d) for d in item_shape), item_dtype)
    return result


def _single_specs(spec, params, inputs, shape, target, dtype, sample_weight, default_class_axis):
    if inputs is not None:
        specs = _normalise_inputs(inputs)
        missing = [n for n in ("y_pred", "y_true", *(e.name for e in spec.inputs.extras)) if n not in specs]
        if missing:
            raise ValueError(f"{spec.name}: inputs lacks {missing}; expected y_pred, y_true and the extra inputs")
        return specs
    if shape is None:
        raise ValueError("export needs the example shape of y_pred (shape=...) or the inputs (inputs=...)")
    return input_specs(
        spec,
        params,
        shape,
        target=target,
        dtype=dtype,
        sample_weight=sample_weight,
        default_class_axis=default_class_axis,
    )


def _export_single(config, inputs, shape, target, dtype, sample_weight, opset, mode, default_class_axis):
    spec, params, extras = neutral.from_config(config)
    specs = _single_specs(spec, params, inputs, shape, target, dtype, sample_weight, default_class_axis)
    graph, tensors, value = _trace(spec, params, extras["reduction"], specs, mode, default_class_axis)
    onnx_inputs = [_value_info(t.name, t.dtype, t.shape) for t in tensors.values()]
    graph.output(value, "loss")
    onnx_outputs = [_value_info("loss", value.dtype, value.shape)]
    metadata = {
        "lossbridge_config": json.dumps(neutral.to_config(spec, params, reduction=extras["reduction"])),
        "static_sizes": _static_sizes(mode),
    }
    described = [f"{e.name}: {e.doc}" for e in spec.inputs.extras]
    doc = f"lossbridge {spec.name}: {spec.summary}" + "".join(f"\ninput {line}" for line in described)
    return _model(graph, onnx_inputs, onnx_outputs, opset, metadata, doc)


def _export_multitask(config, inputs, shape, target, dtype, sample_weight, opset, mode, default_class_axis):
    losses, loss_weights, weighting = multitask.parse_config(config)
    if weighting not in (None, {}) and multitask_name(weighting) != "fixed":
        raise ExportError(
            f"a multi-task config with weighting {multitask_name(weighting)!r} has trainable or per-step state; "
            "only the fixed Keras loss_weights rule exports to ONNX"
        )
    terms = multitask.plan(losses, loss_weights, list(losses), lambda value: False)
    graph = Graph(dtype)
    onnx_inputs, outputs, parts, seen = [], [], {}, set()
    for term in terms:
        spec, params, extras = neutral.from_config(term.loss)
        output_inputs = None if inputs is None else inputs.get(term.output)
        output_shape = None if shape is None else (shape[term.output] if isinstance(shape, Mapping) else shape)
        specs = _single_specs(
            spec, params, output_inputs, output_shape, target, dtype, sample_weight, default_class_axis
        )
        _, tensors, value = _trace(
            spec, params, extras["reduction"], specs, mode, default_class_axis, prefix=f"{term.output}.", graph=graph
        )
        for tensor in tensors.values():
            if tensor.name not in seen:
                seen.add(tensor.name)
                onnx_inputs.append(_value_info(tensor.name, tensor.dtype, tensor.shape))
        parts[term.name] = value
        graph.output(value, f"{term.name}_loss")
        outputs.append(_value_info(f"{term.name}_loss", value.dtype, value.shape))
    total = multitask.weighted_total(parts, terms)
    graph.output(total, "loss")
    outputs.insert(0, _value_info("loss", total.dtype, total.shape))
    metadata = {"lossbridge_config": json.dumps(config), "static_sizes": _static_sizes(mode)}
    return _model(graph, onnx_inputs, outputs, opset, metadata, "lossbridge multi-task loss")


def multitask_name(weighting: Any) -> str:
    if isinstance(weighting, str):
        return weighting
    return (weighting or {}).get("name", "fixed")


def run(model: Any, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate an exported model in onnxruntime (CPU): ``{output name: array}``."""
    session = session_of(model)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, dict(feeds)), strict=True))


def session_of(model: Any) -> Any:
    """An onnxruntime CPU session of ``model`` with one non-spinning thread: a loss is
    small, and idle spinning threads would slow the frameworks sharing the process."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
