"""The neutral config: JSON round trips, cross-framework rebuilds with each
framework's own layout, and Keras serialization of compiled models."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

import losses_tf
import losses_torch
import spec
from spec import samples

PRESETS = [(s.name, preset) for s in spec.specs() for preset in s.presets]


def _inputs(loss_spec, params):
    rng = np.random.default_rng(7)
    sample = loss_spec.samples(rng, loss_spec.bind(params))[0]
    target = sample.labels if sample.labels is not None else sample.dense
    return sample.y_pred, target, sample.extras or {}


def _channels_last(array, is_labels):
    return array if is_labels else np.moveaxis(array, 1, -1)


@pytest.mark.parametrize(("name", "preset"), PRESETS, ids=[f"{n}-{p}" for n, p in PRESETS])
def test_config_written_by_torch_builds_the_same_keras_loss(name, preset):
    loss_spec = spec.get(name)
    params = dict(loss_spec.presets[preset])
    torch_loss = losses_torch.loss_class(name)(reduction="sum", **params)
    text = json.dumps(torch_loss.get_config())
    keras_loss = losses_tf.from_config(json.loads(text))
    assert keras_loss.get_config()["params"] == torch_loss.get_config()["params"]
    assert keras_loss.get_config()["reduction"] == "sum"
    back = losses_torch.from_config(json.dumps(keras_loss.get_config()))
    assert back.get_config() == torch_loss.get_config()

    # same meaning, each in its own layout: torch channels-first, Keras channels-last
    y_pred, y_true, extras = _inputs(loss_spec, params)
    is_labels = np.issubdtype(y_true.dtype, np.integer) or y_true.ndim < y_pred.ndim
    if not loss_spec.has_class_axis:
        is_labels = True  # elementwise losses: layout does not apply
    torch_extras = {k: torch.tensor(v) for k, v in extras.items()}
    torch_value = torch_loss(torch.tensor(y_pred), torch.tensor(y_true), **torch_extras).item()
    keras_loss = losses_tf.from_config({**torch_loss.get_config(), "dtype": "float64"})
    moves = {e.name for e in loss_spec.inputs.extras if e.shape == "prediction"}
    keras_extras = {
        k: tf.constant(np.moveaxis(v, 1, -1) if k in moves and loss_spec.has_class_axis else v)
        for k, v in extras.items()
    }
    keras_value = float(
        keras_loss(
            tf.constant(_channels_last(y_true, is_labels)),
            tf.constant(y_pred if not loss_spec.has_class_axis else np.moveaxis(y_pred, 1, -1)),
            **keras_extras,
        )
    )
    np.testing.assert_allclose(keras_value, torch_value, rtol=1e-12, atol=1e-14)


def test_class_axis_in_config_overrides_both_layouts():
    config = {"name": "dice", "params": {"class_axis": 1}}
    y_pred = np.random.default_rng(0).normal(size=(2, 3, 5, 5))
    labels = np.random.default_rng(1).integers(0, 3, (2, 5, 5))
    torch_value = losses_torch.from_config(config)(torch.tensor(y_pred), torch.tensor(labels)).item()
    keras_loss = losses_tf.from_config({**config, "dtype": "float64"})
    np.testing.assert_allclose(float(keras_loss(tf.constant(labels), tf.constant(y_pred))), torch_value, rtol=1e-12)


def test_partial_hand_written_config_takes_defaults():
    loss = losses_torch.from_config('{"name": "tversky", "params": {"alpha": 0.3, "beta": 0.7}}')
    assert loss.params["gamma"] == 1.0 and loss.params["smooth"] == 1e-5
    assert loss.reduction == "mean"


def test_keras_serialization_round_trip():
    loss = losses_tf.TverskyLoss(alpha=0.3, beta=0.7, reduction="sum", name="lesions", dtype="float64")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is losses_tf.TverskyLoss
    assert restored.get_config() == loss.get_config()
    assert restored.name == "lesions" and restored.dtype == "float64"


def test_compiled_model_saves_and_loads(tmp_path):
    inputs = keras.Input((8, 8, 2))
    outputs = keras.layers.Conv2D(3, 1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=losses_tf.DiceLoss(smooth=1.0, include_background=False))
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 2)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, (4, 8, 8))
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    before = model.evaluate(x, y, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.loss, losses_tf.DiceLoss)
    assert loaded.loss.params == model.loss.params
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), before, rtol=1e-6)


def test_sample_generators_cover_edge_cases():
    rng = np.random.default_rng(0)
    names = {s.name for s in samples.segmentation_samples(rng, spec.get("dice").bind({}))}
    assert {"empty-class", "perfect", "saturated-wrong"} <= names
