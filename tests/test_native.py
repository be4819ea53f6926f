"""Each side feels native: torch modules and functions, Keras losses in
``model.fit`` (graph mode), defaults per framework layout, user-defined losses."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

import losses_tf
import losses_torch
import spec
from spec.registry import unregister

RNG = np.random.default_rng(3)
LOGITS = RNG.normal(size=(2, 3, 4, 5))
LABELS = RNG.integers(0, 3, (2, 4, 5))


def test_torch_module_conventions():
    loss = losses_torch.DiceLoss(smooth=1.0)
    assert isinstance(loss, torch.nn.Module)
    assert repr(loss) == "DiceLoss(smooth=1.0)"
    assert list(loss.state_dict()) == []
    x = torch.tensor(LOGITS, requires_grad=True)
    value = loss(x, torch.tensor(LABELS))
    value.backward()
    assert value.shape == () and x.grad.shape == x.shape


def test_reduction_none_shapes():
    x, t = torch.tensor(LOGITS), torch.tensor(LABELS)
    assert losses_torch.CategoricalCrossentropyLoss(reduction="none")(x, t).shape == (2, 4, 5)
    assert losses_torch.DiceLoss(reduction="none")(x, t).shape == (2,)
    assert losses_torch.DiceLoss(reduction="none", batch=True)(x, t).shape == ()
    keras_ce = losses_tf.CategoricalCrossentropyLoss(reduction=None)
    assert keras_ce(tf.constant(LABELS), tf.constant(np.moveaxis(LOGITS, 1, -1))).shape == (2, 4, 5)


def test_functional_equals_module():
    x, t = torch.tensor(LOGITS), torch.tensor(LABELS)
    module = losses_torch.TverskyLoss(alpha=0.2, beta=0.8, reduction="sum")(x, t)
    function = losses_torch.functional.tversky(x, t, alpha=0.2, beta=0.8, reduction="sum")
    assert torch.equal(module, function)
    y_pred = tf.constant(np.moveaxis(LOGITS, 1, -1))
    keras_value = losses_tf.TverskyLoss(alpha=0.2, beta=0.8, reduction="sum", dtype="float64")(
        tf.constant(LABELS), y_pred
    )
    keras_function = losses_tf.functional.tversky(tf.constant(LABELS), y_pred, alpha=0.2, beta=0.8, reduction="sum")
    np.testing.assert_allclose(keras_value, keras_function, rtol=1e-15)
    np.testing.assert_allclose(keras_value, module.item(), rtol=1e-12)


def test_framework_default_layouts():
    """torch reads the class axis at 1, Keras at -1, with the same config."""
    torch_value = losses_torch.CategoricalCrossentropyLoss()(torch.tensor(LOGITS), torch.tensor(LABELS)).item()
    keras_value = losses_tf.CategoricalCrossentropyLoss(dtype="float64")(
        tf.constant(LABELS), tf.constant(np.moveaxis(LOGITS, 1, -1))
    )
    np.testing.assert_allclose(float(keras_value), torch_value, rtol=1e-12)


def test_keras_casts_to_its_dtype_policy():
    loss = losses_tf.DiceLoss()
    value = loss(tf.constant(LABELS), tf.constant(np.moveaxis(LOGITS, 1, -1)))
    assert value.dtype == tf.float32


def test_keras_fit_sparse_and_elementwise_targets():
    """In model.fit the loss runs traced (tf.function) with an unknown batch
    size; Keras pairs (N,) targets with (N, 1) outputs."""
    x = RNG.normal(size=(8, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=losses_tf.CategoricalCrossentropyLoss(ignore_index=-1))
    history = model.fit(x, np.array([0, 1, 2, -1, 0, 1, 2, 0]), epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    regression = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    regression.compile(optimizer="sgd", loss=losses_tf.HuberLoss(delta=0.5))
    history = regression.fit(x, RNG.normal(size=(8,)).astype("float32"), epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_keras_fit_matches_eager_value():
    x = RNG.normal(size=(6, 5, 5, 2)).astype("float32")
    y = RNG.integers(0, 3, (6, 5, 5))
    model = keras.Sequential([keras.Input((5, 5, 2)), keras.layers.Conv2D(3, 1)])
    loss = losses_tf.GeneralizedDiceLoss()
    model.compile(optimizer="sgd", loss=loss)
    evaluated = model.evaluate(x, y, batch_size=6, verbose=0)
    np.testing.assert_allclose(evaluated, float(loss(y, model(x))), rtol=1e-6)


@pytest.fixture
def scaled_l2():
    @spec.define_loss(
        "scaled_l2_for_tests",
        params=[spec.Param("scale", "float", 1.0, "factor on the squared error", low=0.0)],
        presets={"default": {}, "scaled": {"scale": 3.0}},
    )
    def scaled_l2(ops, y_pred, y_true, *, scale):
        r"""Scaled squared error.

        .. math:: \ell = s\,(\hat y - y)^2
        """
        error = y_pred - y_true
        return scale * error * error

    yield scaled_l2
    unregister("scaled_l2_for_tests")


def test_user_defined_loss_in_both_frameworks(scaled_l2, frameworks):
    from spec import parity

    torch_cls = losses_torch.loss_class("scaled_l2_for_tests")
    keras_cls = losses_tf.loss_class("scaled_l2_for_tests")
    assert torch_cls.__name__ == keras_cls.__name__ == "ScaledL2ForTestsLoss"
    assert losses_torch.ScaledL2ForTestsLoss is torch_cls
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    torch_value = torch_cls(scale=3.0)(torch.tensor(a), torch.tensor(b)).item()
    keras_value = float(keras_cls(scale=3.0, dtype="float64")(tf.constant(b), tf.constant(a)))
    np.testing.assert_allclose(keras_value, 3.0 * np.mean((a - b) ** 2), rtol=1e-14)
    np.testing.assert_allclose(torch_value, keras_value, rtol=1e-14)
    rows = parity.check(scaled_l2, frameworks=frameworks)
    assert [row.preset for row in rows] == ["default", "scaled"] and all(row.passed for row in rows)
    rebuilt = losses_tf.from_config(torch_cls(scale=2.0).get_config())
    assert rebuilt.params == {"scale": 2.0}
