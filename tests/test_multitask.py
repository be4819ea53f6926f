"""Multi-output losses: Keras 3's compile(loss=..., loss_weights=...) rule in
both frameworks, checked against Keras itself on the seed's three-output model."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
from siamese import OUTPUTS, keras_siamese, siamese_data

import losses_tf
import losses_torch
from spec import multitask

LOSSES = {name: "categorical_crossentropy" for name in OUTPUTS}
WEIGHTS = {"ctg_out_1": 1.0, "ctg_out_2": 1.0, "bin_out": 0.5}


def batch(seed=1, n=16):
    return siamese_data(n, seed, "float32")


def test_keras_compile_total_and_parts_match_both_frameworks():
    model = keras_siamese()
    model.compile(optimizer="sgd", loss=LOSSES, loss_weights=WEIGHTS)
    x, y = batch()
    y_pred = model(x)
    keras_total = float(model.compute_loss(x, y, y_pred))
    keras_parts = {k: float(keras.losses.CategoricalCrossentropy()(y[k], y_pred[k])) for k in OUTPUTS}

    ours_tf = losses_tf.MultiTaskLoss(LOSSES, WEIGHTS)
    total, parts = ours_tf(y, y_pred)
    np.testing.assert_allclose(float(total), keras_total, rtol=1e-6)
    for k in OUTPUTS:
        np.testing.assert_allclose(float(parts[k]), keras_parts[k], rtol=1e-6)

    ours_torch = losses_torch.from_config(json.loads(json.dumps(ours_tf.get_config())))
    assert isinstance(ours_torch, losses_torch.MultiTaskLoss)
    total_t, parts_t = ours_torch(
        {k: torch.tensor(np.asarray(v)) for k, v in y_pred.items()}, {k: torch.tensor(v) for k, v in y.items()}
    )
    np.testing.assert_allclose(total_t.item(), keras_total, rtol=1e-6)
    assert list(parts_t) == OUTPUTS


def test_gradients_agree_across_frameworks():
    rng = np.random.default_rng(0)
    preds = {k: rng.dirichlet(np.ones(10 if k != "bin_out" else 2), 5) for k in OUTPUTS}
    targets = {k: np.eye(p.shape[1])[rng.integers(0, p.shape[1], 5)] for k, p in preds.items()}
    config = {
        "outputs": {
            "ctg_out_1": "categorical_crossentropy",
            "ctg_out_2": ["categorical_crossentropy", {"name": "mean_squared_error"}],
            "bin_out": {"name": "categorical_crossentropy", "params": {"from_logits": False, "label_smoothing": 0.1}},
        },
        "loss_weights": {"ctg_out_1": 1.0, "ctg_out_2": [1.0, 2.0], "bin_out": 0.5},
    }
    torch_loss = losses_torch.from_config(config)
    x = {k: torch.tensor(v, requires_grad=True) for k, v in preds.items()}
    total_t, parts_t = torch_loss(x, {k: torch.tensor(v) for k, v in targets.items()})
    total_t.backward()
    assert list(parts_t) == ["ctg_out_1", "ctg_out_2", "ctg_out_2_1", "bin_out"]

    keras_config = json.loads(json.dumps(torch_loss.get_config()))
    for entry in keras_config["outputs"].values():
        for item in entry if isinstance(entry, list) else [entry]:
            item["dtype"] = "float64"
    keras_loss = losses_tf.from_config(keras_config)
    xt = {k: tf.constant(v) for k, v in preds.items()}
    with tf.GradientTape() as tape:
        tape.watch(list(xt.values()))
        total_k, parts_k = keras_loss({k: tf.constant(v) for k, v in targets.items()}, xt)
    grads = tape.gradient(total_k, xt)
    np.testing.assert_allclose(float(total_k), total_t.item(), rtol=1e-12)
    assert list(parts_k) == list(parts_t)
    for k in OUTPUTS:
        np.testing.assert_allclose(grads[k].numpy(), x[k].grad.numpy(), rtol=1e-11, atol=1e-15)
    weights = {"ctg_out_1": 1.0, "ctg_out_2": 1.0, "ctg_out_2_1": 2.0, "bin_out": 0.5}
    expected = sum(w * parts_t[name].item() for name, w in weights.items())
    np.testing.assert_allclose(total_t.item(), expected, rtol=1e-14)


def test_plan_forms_and_names():
    objects = lambda v: False
    single = multitask.plan("mse", None, ["a", "b"], objects)
    assert [(t.name, t.output, t.weight) for t in single] == [("a", "a", 1.0), ("b", "b", 1.0)]
    listed = multitask.plan(["mse", None], [2.0, 3.0], ["a", "b"], objects)
    assert [(t.name, t.weight) for t in listed] == [("a", 2.0)]
    several = multitask.plan({"a": ["mse", "mae", "mse"]}, {"a": [1.0, 0.5, 0.25]}, None, objects)
    assert [t.name for t in several] == ["a", "a_1", "a_2"]
    assert multitask.string_config("categorical_crossentropy")["params"] == {"from_logits": False}


@pytest.mark.parametrize(
    ("losses", "weights", "error", "message"),
    [
        (["mse"], None, ValueError, r"losses is a list of 1 entries but there are 2 outputs"),
        ({"c": "mse"}, None, ValueError, r"losses has keys \['c'\] that are not outputs"),
        ({"a": "mse"}, {"b": 1.0}, ValueError, r"loss_weights has keys \['b'\] without a loss"),
        ("mse", 0.5, ValueError, r"a single float loss_weights=0.5 needs a single loss"),
        ({"a": ["mse", "mae"]}, {"a": 1.0}, ValueError, r"output 'a' has 2 losses but loss_weights gives 1 weights"),
        ({"a": "msee"}, None, ValueError, r"loss 'msee' is neither a Keras loss string"),
        ({"a": 3}, None, TypeError, r"a loss must be a loss object, a loss name"),
        ({"a": None, "b": None}, None, ValueError, r"no loss term"),
        ({"a": {"name": "dice", "params": {"smoth": 1}}}, None, TypeError, r"unknown parameter 'smoth'"),
    ],
)
@pytest.mark.parametrize("module", [losses_torch, losses_tf], ids=["torch", "keras"])
def test_bad_multitask_arguments(module, losses, weights, error, message):
    with pytest.raises(error, match=message):
        module.MultiTaskLoss(losses, weights, output_names=["a", "b"])


@pytest.mark.parametrize("module", [losses_torch, losses_tf], ids=["torch", "keras"])
def test_unknown_weighting_is_refused(module):
    with pytest.raises(ValueError, match=r"weighting 'gradnrom' is not available; expected one of .*'gradnorm'"):
        module.MultiTaskLoss("mse", weighting={"name": "gradnrom"}, output_names=["a"])


@pytest.mark.parametrize(
    ("variant", "optimum"),
    [
        ("kendall_regression", lambda v: np.log(v)),
        ("kendall_classification", lambda v: np.log(2 * v)),
        ("log_variance", lambda v: np.log(v)),
        ("liebel", lambda v: np.sqrt((v + np.sqrt(v * v + 8 * v)) / 4)),
    ],
)
def test_uncertainty_variants_have_their_documented_optimum(variant, optimum):
    """For fixed task losses the state minimising each variant's objective is
    the closed form in spec/weighting.py (derivative 0, curvature positive)."""
    from spec.numpy_ops import NumpyOps
    from spec.weighting import resolve

    method = resolve({"name": "uncertainty", "params": {"variant": variant}})
    values = [np.float64(0.7), np.float64(2.5)]
    best = np.array([optimum(v) for v in values])

    def objective(state):
        return float(method.objective(NumpyOps(), values, state, {}, training=True))

    for i in range(2):
        step = np.zeros(2)
        step[i] = 1e-4
        slope = (objective(best + step) - objective(best - step)) / 2e-4
        curvature = objective(best + step) + objective(best - step) - 2 * objective(best)
        assert abs(slope) < 1e-7 and curvature > 0


@pytest.mark.parametrize("module", [losses_torch, losses_tf], ids=["torch", "keras"])
def test_weighting_survives_the_config(module):
    weighting = {"name": "uncertainty", "params": {"variant": "liebel", "init": 2.0}}
    loss = module.MultiTaskLoss({"a": "mse", "b": "mae"}, {"a": 1.0, "b": 0.5}, weighting)
    config = json.loads(json.dumps(loss.get_config()))
    assert config["weighting"] == weighting
    other = (losses_tf if module is losses_torch else losses_torch).from_config(config)
    assert other.get_config() == config


def test_keras_weighting_state_must_be_given():
    loss = losses_tf.MultiTaskLoss({"a": "mse"}, weighting="uncertainty")
    with pytest.raises(ValueError, match=r"weighting 'uncertainty' has trainable state: pass state="):
        loss({"a": np.zeros((2, 1))}, {"a": np.ones((2, 1))})
    total, _ = loss({"a": np.zeros((2, 1))}, {"a": np.ones((2, 1))}, state=[0.0])
    np.testing.assert_allclose(float(total), 0.5, rtol=1e-6)  # exp(0)/2 * 1 + 0/2


def test_keras_style_model_fits_saves_and_loads(tmp_path):
    model = losses_tf.KerasStyleModel(
        keras_siamese(), LOSSES, WEIGHTS, {"name": "uncertainty", "params": {"variant": "log_variance"}}
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05))
    x, y = batch(n=32)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert {"loss", *(f"{name}_loss" for name in OUTPUTS)} <= set(history.history)
    state = model.weighting_state.numpy().copy()
    assert np.all(state != 0.0)
    before = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    path = tmp_path / "siamese.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, losses_tf.KerasStyleModel)
    np.testing.assert_allclose(loaded.weighting_state.numpy(), state)
    after = loaded.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    for key, value in before.items():
        np.testing.assert_allclose(after[key], value, rtol=1e-6, err_msg=key)


def test_convex_weighting_drifts_without_barrier_and_not_with_it():
    """d total / d alpha = v1 - v2: plain gradient descent pushes alpha to the
    smaller loss; with the barrier it settles where
    v1 - v2 = barrier * (1/alpha - 1/(1 - alpha))."""
    from spec.numpy_ops import NumpyOps
    from spec.weighting import resolve

    values = [np.float64(1.0), np.float64(3.0)]

    def descend(barrier, steps=4000, lr=0.5):
        method = resolve({"name": "convex", "params": {"alpha": 0.5, "barrier": barrier}})
        state = np.array(method.trainable_state(2))

        def objective(s):
            return float(method.objective(NumpyOps(), values, s, {}, training=True))

        for _ in range(steps):
            h = 1e-6
            grad = (objective(state + h) - objective(state - h)) / (2 * h)
            state = state - lr * grad
        return 1.0 / (1.0 + np.exp(-state[0]))

    assert descend(0.0) > 0.999  # all weight on the smaller loss
    alpha = descend(0.5)
    np.testing.assert_allclose(values[0] - values[1], 0.5 * (1 / alpha - 1 / (1 - alpha)), rtol=1e-6)
    assert 0.5 < alpha < 0.9


def test_convex_weighting_needs_two_terms():
    with pytest.raises(ValueError, match=r"weighting 'convex' combines exactly 2 loss terms, got 3"):
        losses_torch.MultiTaskLoss(LOSSES, weighting="convex")
