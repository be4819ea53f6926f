"""ONNX export, driven by the registry: every loss and preset exports from its
spec, passes ``onnx.checker.check_model(full_check=True)``, loads in
onnxruntime and matches the NumPy float64 reference (float32 graphs: 1e-5,
float64 graphs: 1e-10, the parity errors of ``spec.parity``) on several batch
sizes from one exported file.  ``tests/test_parity.py`` runs the same graphs on
every sample of the matrix (its ONNX column)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import spec
from spec import onnx as onnx_export
from spec import parity, registry
from spec.cli import main
from spec.samples import one_hot

# a loss whose formula needs its batch size as a number is exported with it fixed
STATIC_BATCH = {"circle", "nt_xent", "barlow_twins", "asymmetric_unified_focal", "sensitivity_specificity"}


def _target(loss, sample):
    if sample.labels is not None and loss.inputs.labels:
        return "labels", sample.labels
    if sample.dense is not None:
        return "dense", sample.dense
    return "dense", one_hot(sample.labels, sample.y_pred.shape[1])


def _arrays(loss, sample):
    form, target = _target(loss, sample)
    arrays = {"y_pred": sample.y_pred, "y_true": target}
    arrays.update({e.name: sample.extras[e.name] for e in loss.inputs.extras})
    if sample.sample_weight is not None:
        arrays["sample_weight"] = sample.sample_weight
    return form, arrays


def _feeds(arrays, dtype):
    return {k: v.astype(np.int64) if np.issubdtype(v.dtype, np.integer) else v.astype(dtype) for k, v in arrays.items()}


def _reference(loss, params, arrays):
    extras = {e.name: arrays[e.name] for e in loss.inputs.extras}
    value = registry.evaluate(
        loss,
        params,
        arrays["y_pred"],
        arrays["y_true"],
        sample_weight=arrays.get("sample_weight"),
        extras=extras,
        default_class_axis=1,
    )
    return np.asarray(value, dtype=np.float64)


def _batches(arrays, static_batch):
    """The sample itself, twice its batch and (N >= 3) one sample fewer."""
    yield "N", arrays
    if static_batch:
        return
    yield "2N", {k: np.concatenate([v, v]) for k, v in arrays.items()}
    if arrays["y_pred"].shape[0] >= 3:
        yield "N-1", {k: v[:-1] for k, v in arrays.items()}


def _cases():
    for loss in spec.specs():
        for preset in loss.presets:
            yield pytest.param(loss.name, preset, id=f"{loss.name}-{preset}")


@pytest.mark.parametrize(("name", "preset"), list(_cases()))
def test_every_loss_and_preset_exports_and_matches_the_reference(name, preset):
    loss = spec.get(name)
    params = loss.bind(loss.presets[preset])
    samples = [s for s in loss.samples(np.random.default_rng(0), params) if 0 not in s.y_pred.shape]
    sample = max(samples, key=lambda s: s.y_pred.shape[0])
    form, arrays = _arrays(loss, sample)
    config = {"name": name, "params": params}
    for dtype in ("float32", "float64"):
        model = onnx_export.export(
            config, {k: (v.shape, str(_feeds({k: v}, dtype)[k].dtype)) for k, v in arrays.items()}
        )
        onnx.checker.check_model(model, full_check=True)
        assert model.ir_version == onnx_export.IR_VERSION and model.opset_import[0].version == 18
        assert [i.name for i in model.graph.input] == list(arrays)
        assert all(node.domain in ("", "ai.onnx") for node in model.graph.node)
        assert not {n.op_type for n in model.graph.node} & {"SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"}
        batch = model.graph.input[0].type.tensor_type.shape.dim[0]
        static_batch = not batch.dim_param
        assert not static_batch or name in STATIC_BATCH, f"{name}: the batch axis is fixed"
        session = onnx_export.session_of(model)
        for label, batch_arrays in _batches(arrays, static_batch):
            (value,) = session.run(None, _feeds(batch_arrays, dtype))
            expected = _reference(loss, params, batch_arrays)
            error = parity._value_error(np.asarray(value, dtype=np.float64), expected, dtype)
            assert error <= parity.TOLERANCE[("value", dtype)], f"{name}/{preset}/{form}/{label}/{dtype}: {error:.3g}"


def test_the_batch_is_symbolic_for_all_but_the_listed_losses():
    fixed = set()
    for loss in spec.specs():
        sample = loss.samples(np.random.default_rng(0), loss.bind({}))[0]
        _, arrays = _arrays(loss, sample)
        model = onnx_export.export(
            loss.name, {k: (v.shape, str(_feeds({k: v}, "float32")[k].dtype)) for k, v in arrays.items()}
        )
        if not model.graph.input[0].type.tensor_type.shape.dim[0].dim_param:
            fixed.add(loss.name)
    assert fixed <= STATIC_BATCH, sorted(fixed)


def test_spatial_sizes_are_symbolic_for_a_segmentation_loss():
    model = onnx_export.export({"name": "dice", "params": {"include_background": False}}, shape=(2, 4, 8, 8))
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    assert dims == [["N", 4, "d2", "d3"], ["N", "d2", "d3"]]
    rng = np.random.default_rng(3)
    session = onnx_export.session_of(model)
    for shape in [(1, 4, 3, 5), (5, 4, 7, 2), (2, 4, 16, 16)]:
        x = rng.normal(size=shape).astype(np.float32)
        y = rng.integers(0, 4, (shape[0], *shape[2:]))
        (value,) = session.run(None, {"y_pred": x, "y_true": y})
        expected = spec.get("dice")(x.astype(np.float64), y, class_axis=1, include_background=False)
        assert abs(float(value) - float(expected)) <= 1e-5 * abs(float(expected))


def test_an_empty_batch_is_zero_as_in_the_frameworks():
    model = onnx_export.export("categorical_crossentropy", shape=(3, 4))
    (value,) = onnx_export.run(
        model, {"y_pred": np.zeros((0, 4), np.float32), "y_true": np.zeros((0,), np.int64)}
    ).values()
    assert value == 0.0


def test_a_multitask_config_exports_as_one_graph():
    config = {
        "outputs": {
            "seg": {"name": "dice", "params": {}},
            "cls": [
                {"name": "categorical_crossentropy", "params": {"label_smoothing": 0.1}},
                {"name": "focal", "params": {"gamma": 1.5}},
            ],
        },
        "loss_weights": {"seg": 0.5, "cls": [1.0, 2.0]},
    }
    model = onnx_export.export(config, shape={"seg": (2, 3, 4, 4), "cls": (2, 5)})
    assert [o.name for o in model.graph.output] == ["loss", "seg_loss", "cls_loss", "cls_1_loss"]
    assert [i.name for i in model.graph.input] == ["seg.y_pred", "seg.y_true", "cls.y_pred", "cls.y_true"]
    rng = np.random.default_rng(5)
    for batch in (2, 7):
        seg_x, seg_y = rng.normal(size=(batch, 3, 6, 5)), rng.integers(0, 3, (batch, 6, 5))
        cls_x, cls_y = rng.normal(size=(batch, 5)), rng.integers(0, 5, (batch,))
        out = onnx_export.run(
            model,
            {
                "seg.y_pred": seg_x.astype(np.float32),
                "seg.y_true": seg_y,
                "cls.y_pred": cls_x.astype(np.float32),
                "cls.y_true": cls_y,
            },
        )
        parts = {
            "seg": spec.get("dice")(seg_x, seg_y, class_axis=1),
            "cls": spec.get("categorical_crossentropy")(cls_x, cls_y, class_axis=1, label_smoothing=0.1),
            "cls_1": spec.get("focal")(cls_x, cls_y, class_axis=1, gamma=1.5),
        }
        for term, expected in parts.items():
            np.testing.assert_allclose(out[f"{term}_loss"], expected, rtol=1e-5)
        np.testing.assert_allclose(out["loss"], 0.5 * parts["seg"] + parts["cls"] + 2.0 * parts["cls_1"], rtol=1e-5)


def test_what_cannot_be_exported_says_so():
    with pytest.raises(onnx_export.ExportError, match=r"weighting 'uncertainty' has trainable or per-step state"):
        onnx_export.export(
            {
                "outputs": {"a": {"name": "mean_squared_error", "params": {}}},
                "weighting": {"name": "uncertainty", "params": {}},
            },
            shape={"a": (2, 3)},
            target="dense",
        )

    @spec.define_loss("onnx_value_dependent", replace=True)
    def value_dependent(ops, y_pred, y_true):
        """A formula that reads a tensor value in Python (what a graph cannot do)."""
        low, _ = ops.value_range(y_pred)
        return (y_pred - y_true) * low

    try:
        with pytest.raises(
            onnx_export.ExportError, match=r"onnx_value_dependent cannot be exported to ONNX: .*value_range"
        ):
            onnx_export.export("onnx_value_dependent", shape=(2, 3), target="dense")
    finally:
        registry.unregister("onnx_value_dependent")
    with pytest.raises(ValueError, match=r"opset must be 18 or newer"):
        onnx_export.export("dice", shape=(2, 3, 4), opset=13)
    with pytest.raises(ValueError, match=r"takes no integer labels; pass target='dense'"):
        onnx_export.export("multilabel_soft_margin", shape=(2, 3))


def test_cli_writes_a_model_that_runs(tmp_path, capsys):
    config = tmp_path / "loss.json"
    config.write_text(json.dumps({"name": "tversky", "params": {"alpha": 0.3, "beta": 0.7}, "reduction": "none"}))
    out = tmp_path / "loss.onnx"
    assert main(["export-onnx", str(config), "--shape", "2,3,4,4", "--dtype", "float64", "-o", str(out)]) == 0
    assert "inputs y_pred['N', 3, 'd2', 'd3'], y_true['N', 'd2', 'd3']; outputs loss" in capsys.readouterr().out
    model = onnx.load(str(out))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 3, 5, 2)), rng.integers(0, 3, (3, 5, 2))
    (value,) = onnx_export.run(model, {"y_pred": x, "y_true": y}).values()
    expected = spec.get("tversky")(x, y, class_axis=1, alpha=0.3, beta=0.7, reduction="none")
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    assert main(["export-onnx", str(bad), "--shape", "2,3", "-o", str(out)]) == 2
    assert "bad.json is not JSON" in capsys.readouterr().err
