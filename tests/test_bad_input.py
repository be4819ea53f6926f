"""Bad input fails eagerly in both frameworks with a message that names the
argument, what it got and what was expected."""

import numpy as np
import pytest
import tensorflow as tf
import torch

import losses_tf
import losses_torch
import spec
from spec.samples import one_hot


def call_torch(name, y_pred, y_true, sample_weight=None, reduction="mean", extras=None, **params):
    loss = getattr(losses_torch, name)(reduction=reduction, **params)
    target = torch.tensor(y_true)
    weight = None if sample_weight is None else torch.tensor(sample_weight)
    return loss(
        torch.tensor(y_pred), target, sample_weight=weight, **{k: torch.tensor(v) for k, v in (extras or {}).items()}
    )


def call_keras(name, y_pred, y_true, sample_weight=None, reduction="mean", extras=None, **params):
    if "class_axis" in getattr(losses_tf, name).spec.params.names():
        params.setdefault("class_axis", 1)  # reuse the channels-first arrays
    loss = getattr(losses_tf, name)(reduction=reduction, dtype="float64", **params)
    return loss(tf.constant(y_true), tf.constant(y_pred), sample_weight=sample_weight, **(extras or {}))


def extras_for(loss_spec, y_pred):
    """Valid extra inputs of a loss for channels-first ``y_pred`` (so that
    only the tested argument is wrong)."""
    rng = np.random.default_rng(2)
    shapes = {
        "prediction": y_pred.shape,
        "positions": y_pred.shape[:1] + y_pred.shape[2:],
        "sample": y_pred.shape[:1],
        "classes": y_pred.shape[:2],
    }
    return {
        e.name: rng.integers(1, 3, shapes[e.shape]) if e.integer else np.abs(rng.normal(size=shapes[e.shape])) + 0.1
        for e in loss_spec.inputs.extras
    }


FRAMEWORKS = [pytest.param(call_torch, id="torch"), pytest.param(call_keras, id="keras")]

LOGITS = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
LABELS = np.random.default_rng(1).integers(0, 3, (2, 4, 4))
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)


def onehot(labels, classes=3):
    return np.moveaxis(np.eye(classes)[labels], -1, 1)


@pytest.mark.parametrize("call", FRAMEWORKS)
@pytest.mark.parametrize("name", ["DiceLoss", "CategoricalCrossentropyLoss", "TverskyLoss"])
def test_shape_mismatch(call, name):
    with pytest.raises(ValueError, match=r"y_true shape \(2, 3, 4, 5\) does not match y_pred shape \(2, 3, 4, 4\)"):
        call(name, LOGITS, np.zeros((2, 3, 4, 5)))


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_wrong_class_axis_size(call):
    with pytest.raises(ValueError, match=r"y_true shape \(2, 4, 4, 4\).*3 classes on class_axis=1"):
        call("DiceLoss", LOGITS, onehot(LABELS, 4))


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_label_shape_mismatch(call):
    with pytest.raises(ValueError, match=r"integer labels y_true must have shape \(2, 4, 4\).*got \(2, 4, 3\)"):
        call("CategoricalCrossentropyLoss", LOGITS, LABELS[:, :, :3])


@pytest.mark.parametrize("call", FRAMEWORKS)
@pytest.mark.parametrize("name", ["DiceLoss", "CategoricalCrossentropyLoss", "GeneralizedDiceLoss"])
def test_labels_out_of_range(call, name):
    labels = LABELS.copy()
    labels[0, 0, 0] = 7
    with pytest.raises(
        ValueError, match=r"labels in y_true must be in \[0, 3\).*got 1 label\(s\) outside it, e\.g\. 7"
    ):
        call(name, LOGITS, labels)


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_negative_label_without_ignore_index(call):
    labels = LABELS.copy()
    labels[1, 2, 3] = -100
    with pytest.raises(ValueError, match=r"must be in \[0, 3\).*e\.g\. -100"):
        call("CategoricalCrossentropyLoss", LOGITS, labels)
    # the same label is fine once declared ignored
    assert np.isfinite(float(call("CategoricalCrossentropyLoss", LOGITS, labels, ignore_index=-100)))


@pytest.mark.parametrize("call", FRAMEWORKS)
@pytest.mark.parametrize("name", ["DiceLoss", "CategoricalCrossentropyLoss", "BinaryCrossentropyLoss"])
def test_probabilities_outside_unit_interval(call, name):
    target = LABELS if name != "BinaryCrossentropyLoss" else np.zeros_like(LOGITS)
    with pytest.raises(
        ValueError, match=r"from_logits=False expects probabilities in \[0, 1\] as y_pred, got values in"
    ):
        call(name, LOGITS, target, from_logits=False)
    assert np.isfinite(float(call(name, PROBS, target, from_logits=False)))


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_targets_outside_unit_interval(call):
    with pytest.raises(ValueError, match=r"y_true must lie in \[0, 1\], got values in \[0, 2\]"):
        call("BinaryCrossentropyLoss", LOGITS, 2.0 * onehot(LABELS))


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_float_labels_are_rejected_in_torch_and_cast_in_keras(call):
    if call is call_torch:
        with pytest.raises(TypeError, match=r"must hold integer labels, got dtype float64"):
            call("CategoricalCrossentropyLoss", LOGITS, LABELS.astype(np.float64))
    else:  # Keras' sparse losses accept float labels
        expected = call("CategoricalCrossentropyLoss", LOGITS, LABELS)
        np.testing.assert_allclose(call("CategoricalCrossentropyLoss", LOGITS, LABELS.astype(np.float64)), expected)


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_integer_predictions(call):
    with pytest.raises(TypeError, match=r"y_pred must be a floating-point tensor.*got dtype int"):
        call("MeanSquaredErrorLoss", LABELS, LABELS)


@pytest.mark.parametrize(
    ("name", "params", "error", "message"),
    [
        ("DiceLoss", {"smoth": 1.0}, TypeError, r"dice: unknown parameter 'smoth'; did you mean 'smooth'\?"),
        ("DiceLoss", {"smooth": -1.0}, ValueError, r"dice: smooth must be a float >= 0, got -1\.0"),
        ("DiceLoss", {"smooth": float("nan")}, ValueError, r"dice: smooth must be a float >= 0, got nan"),
        ("DiceLoss", {"from_logits": "yes"}, TypeError, r"from_logits must be a bool, got 'yes' \(str\)"),
        ("TverskyLoss", {"gamma": 0.0}, ValueError, r"tversky: gamma must be a float > 0, got 0\.0"),
        (
            "GeneralizedDiceLoss",
            {"weight_type": "cubic"},
            ValueError,
            r"weight_type must be one of 'square', 'simple', 'uniform', got 'cubic'",
        ),
        (
            "CategoricalCrossentropyLoss",
            {"label_smoothing": 1.5},
            ValueError,
            r"label_smoothing must be a float >= 0 and <= 1, got 1\.5",
        ),
        (
            "CategoricalCrossentropyLoss",
            {"class_weights": "heavy"},
            TypeError,
            r"class_weights must be a sequence of floats",
        ),
        (
            "CategoricalCrossentropyLoss",
            {"class_weights": [0.0, 0.0]},
            ValueError,
            r"class_weights must have a positive sum",
        ),
        (
            "CategoricalCrossentropyLoss",
            {"ignore_index": 2.5},
            TypeError,
            r"ignore_index must be an int or None, got 2\.5 \(float\)",
        ),
        ("HuberLoss", {"delta": 0}, ValueError, r"huber: delta must be a float > 0, got 0\.0"),
        ("DiceLoss", {"reduction": "avg"}, ValueError, r"reduction must be one of 'mean', 'sum', 'none'.*got 'avg'"),
    ],
)
@pytest.mark.parametrize("module", [losses_torch, losses_tf], ids=["torch", "keras"])
def test_bad_parameters_fail_at_construction(module, name, params, error, message):
    with pytest.raises(error, match=message):
        getattr(module, name)(**params)


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_class_weights_length(call):
    with pytest.raises(ValueError, match=r"class_weights has 2 entries but y_pred has 3 classes"):
        call("DiceLoss", LOGITS, LABELS, class_weights=[1.0, 2.0])


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_class_axis_out_of_range(call):
    with pytest.raises(ValueError, match=r"class_axis=5 is out of range for a prediction with 4 dimensions"):
        call("DiceLoss", LOGITS, LABELS, class_axis=5)


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_class_axis_on_batch_axis(call):
    with pytest.raises(ValueError, match=r"class_axis=0 is the batch axis"):
        call("CategoricalCrossentropyLoss", LOGITS, onehot(LABELS), class_axis=0)


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_no_class_left(call):
    with pytest.raises(
        ValueError, match=r"include_background=False and class_weights=None leave zero total weight over 1"
    ):
        call("DiceLoss", LOGITS[:, :1], np.zeros((2, 1, 4, 4)), include_background=False, multilabel=True)


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_sample_weight_shape(call):
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\); expected \(2,\).*or \(2,\)"):
        call("DiceLoss", LOGITS, LABELS, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"sample_weight has shape \(2, 5\); expected \(2,\).*or \(2, 4, 4\)"):
        call("CategoricalCrossentropyLoss", LOGITS, LABELS, sample_weight=np.ones((2, 5)))


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_sample_weight_with_batch_statistics(call):
    with pytest.raises(
        ValueError, match=r"sample_weight cannot be used with a loss that returns one value for the whole batch"
    ):
        call("DiceLoss", LOGITS, LABELS, sample_weight=np.ones(2), batch=True)


@pytest.mark.parametrize("call", FRAMEWORKS)
def test_multilabel_needs_dense_targets(call):
    with pytest.raises(ValueError, match=r"multilabel=True needs y_true with y_pred's shape"):
        call("DiceLoss", LOGITS, LABELS, multilabel=True)


@pytest.mark.parametrize("module", [losses_torch, losses_tf], ids=["torch", "keras"])
def test_unknown_loss_name_in_config(module):
    with pytest.raises(ValueError, match=r"unknown loss name 'dise'; expected one of: .*dice"):
        module.from_config({"name": "dise", "params": {}})


@pytest.mark.parametrize("module", [losses_torch, losses_tf], ids=["torch", "keras"])
def test_bad_config_keys_and_params(module):
    with pytest.raises(ValueError, match=r"config has unknown key\(s\) \['weights'\]"):
        module.from_config({"name": "dice", "params": {}, "weights": 1})
    with pytest.raises(TypeError, match=r"dice: unknown parameter 'alpha'"):
        module.from_config({"name": "dice", "params": {"alpha": 0.3}})
    with pytest.raises(ValueError, match=r"config needs a 'name'"):
        module.from_config({"params": {}})


LABEL_PRESETS = [
    (s.name, preset)
    for s in spec.specs()
    if s.inputs.labels
    for preset, values in s.presets.items()
    if not values.get("multilabel")
]


@pytest.mark.parametrize("composite", [False, True], ids=["native", "composite"])
@pytest.mark.parametrize("bad_label", [3, 7, -1, -100])
@pytest.mark.parametrize(("name", "preset"), LABEL_PRESETS, ids=[f"{n}-{p}" for n, p in LABEL_PRESETS])
@pytest.mark.parametrize("call", FRAMEWORKS)
def test_every_label_loss_rejects_invalid_labels(call, name, preset, bad_label, composite, monkeypatch):
    """Registry-driven: in every preset of every loss taking labels, a label
    outside [0, C) that is not ignore_index raises the spec's message, whether
    the backend checks labels itself or relies on its native index ops."""
    if composite:
        monkeypatch.setenv("LOSSBRIDGE_COMPOSITE_OPS", "1")
    loss_spec = spec.get(name)
    params = dict(loss_spec.presets[preset])
    if params.get("ignore_index") == bad_label:
        params["ignore_index"] = 255
    y_pred = PROBS if params.get("from_logits") is False else LOGITS
    if params.get("class_weights") is not None and len(params["class_weights"]) != 3:
        del params["class_weights"]  # the preset is written for another class count
    labels = LABELS.copy()
    labels[1, 2, 3] = bad_label
    with pytest.raises(ValueError, match=rf"labels in y_true must be in \[0, 3\).*e\.g\. {bad_label}"):
        call(loss_spec.class_name, y_pred, labels, extras=extras_for(loss_spec, y_pred), **params)


RANGED_PRESETS = [
    (s.name, preset)
    for s in spec.specs()
    if s.inputs.target_range is not None and s.inputs.target != "sample"
    for preset in s.presets
]


@pytest.mark.parametrize(("name", "preset"), RANGED_PRESETS, ids=[f"{n}-{p}" for n, p in RANGED_PRESETS])
@pytest.mark.parametrize("call", FRAMEWORKS)
def test_every_dense_target_outside_its_range_is_rejected(call, name, preset):
    """Registry-driven: a dense target entry outside the loss's target range
    raises the spec's message naming the range (an ``ignore_index`` entry is
    allowed); the untouched input is accepted."""
    loss_spec = spec.get(name)
    params = dict(loss_spec.presets[preset])
    rng = np.random.default_rng(3)
    sample = next(s for s in loss_spec.samples(rng, loss_spec.bind(params)) if s.y_pred.ndim >= 2)
    dense = sample.dense if sample.dense is not None else one_hot(sample.labels, sample.y_pred.shape[1])
    # elementwise targets may hold ignore_index as a value; class-axis ones mark ignored rows
    ignore_index = params.get("ignore_index") if loss_spec.inputs.kind == "elementwise" else None
    if ignore_index is not None and sample.dense is not None:
        dense = np.where(sample.dense == ignore_index, 0.0, sample.dense)
    low, high = loss_spec.inputs.target_range
    kwargs = dict(extras=sample.extras, **params)
    assert np.isfinite(np.asarray(call(loss_spec.class_name, sample.y_pred, dense, **kwargs))).all()
    outside = high + 1.5 if np.isfinite(high) else low - 1.5
    bad = dense.copy()
    bad.flat[1] = outside
    if ignore_index is not None and ignore_index != outside:
        bad.flat[0] = ignore_index  # allowed: only the out-of-range entry is reported
    kept = bad if ignore_index is None else bad[bad != ignore_index]
    message = rf"y_true must lie in \[{low:g}, {high:g}\].*, got values in \[{kept.min():.6g}, {kept.max():.6g}\]"
    with pytest.raises(ValueError, match=message):
        call(loss_spec.class_name, sample.y_pred, bad, **kwargs)
