"""Twin training, the proof of the port: the seed's three-output siamese
classifier trained in Keras (plain ``compile(loss=..., loss_weights=...)``)
and in PyTorch Lightning (``KerasStyleModule``) from identical initial
weights on identical batches gives the same losses at every step and the same
final weights (float64: relative 1e-9; float32: 1e-5)."""

import keras
import numpy as np
import pytest
import torch
from siamese import OUTPUTS, TorchSiamese, fit_lightning, keras_siamese, siamese_data

import losses_tf
import losses_torch
from losses_torch.lightning import KerasStyleModule

LOSSES = {name: "categorical_crossentropy" for name in OUTPUTS}
WEIGHTS = {"ctg_out_1": 1.0, "ctg_out_2": 1.0, "bin_out": 0.5}
STEPS, BATCH, LR = 50, 16, 0.1


def batches():
    return [siamese_data(BATCH, 42 + step) for step in range(STEPS)]


class Recording(KerasStyleModule):
    """Records every training step's logged values (no extra forward pass,
    which would advance the weighting's state)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.history, self._current = [], {}

    def log(self, name, value, *args, **kwargs):
        if kwargs.get("on_step"):
            self._current[name] = float(value.detach())
        super().log(name, value, *args, **kwargs)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.history.append(self._current)
        self._current = {}


RTOL = {"float64": 1e-9, "float32": 1e-5}


def twin_train(keras_model, torch_loss, weights_from=None, outputs=OUTPUTS, shared=False, dtype="float64"):
    """Train both sides on the same batches; return both per-step logs and the models."""
    data = [([v.astype(dtype) for v in x], {k: v.astype(dtype) for k, v in y.items()}) for x, y in batches()]
    torch_model = TorchSiamese().to(getattr(torch, dtype))
    torch_model.copy_from(weights_from or keras_model)
    keras_history = [keras_model.train_on_batch(x, y, return_dict=True) for x, y in data]
    module = Recording(
        torch_model,
        torch_loss,
        optimizer=lambda params: torch.optim.SGD(params, lr=LR),
        shared=torch_model.shared if shared else None,
    )
    trainer = fit_lightning(module, data, STEPS)
    assert len(module.history) == STEPS
    keys = ["loss", *(f"{name}_loss" for name in outputs)]
    for step, (ours, theirs) in enumerate(zip(module.history, keras_history, strict=True)):
        for key in keys:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL[dtype], err_msg=f"step {step} {key}")
    first, last = (sum(module.history[i][f"{name}_loss"] for name in outputs) for i in (0, -1))
    assert last < first  # it trained
    assert set(keys) <= set(trainer.callback_metrics)
    return torch_model, module


def assert_same_weights(keras_model, torch_model, dtype="float64"):
    atol = 1e-12 if dtype == "float64" else 1e-6
    for name, layer in [("shared", torch_model.shared), *torch_model.heads.items()]:
        kernel, bias = keras_model.get_layer(name).get_weights()
        np.testing.assert_allclose(layer.weight.detach().numpy(), kernel.T, rtol=RTOL[dtype], atol=atol)
        np.testing.assert_allclose(layer.bias.detach().numpy(), bias, rtol=RTOL[dtype], atol=atol)


def test_fixed_loss_weights_keras_vs_lightning(float64_keras):
    """Keras' own compile(loss=..., loss_weights=...) is the reference."""
    model = keras_siamese()
    assert all(w.dtype == "float64" for w in model.weights)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), loss=LOSSES, loss_weights=WEIGHTS)
    torch_model, _ = twin_train(model, losses_torch.MultiTaskLoss(LOSSES, WEIGHTS))
    assert_same_weights(model, torch_model)


@pytest.mark.parametrize("variant", ["kendall_regression", "log_variance", "liebel"])
def test_uncertainty_weighting_keras_vs_lightning(float64_keras, variant):
    weighting = {"name": "uncertainty", "params": {"variant": variant}}
    inner = keras_siamese()
    wrapped = losses_tf.KerasStyleModel(inner, LOSSES, WEIGHTS, weighting)
    wrapped.compile(optimizer=keras.optimizers.SGD(learning_rate=LR))
    torch_loss = losses_torch.MultiTaskLoss(LOSSES, WEIGHTS, weighting).double()
    torch_model, module = twin_train(wrapped, torch_loss, weights_from=inner)
    assert_same_weights(inner, torch_model)
    learned = module.loss.weighting_state.detach().numpy()
    np.testing.assert_allclose(learned, wrapped.weighting_state.numpy(), rtol=1e-9)
    start = 1.0 if variant == "liebel" else 0.0
    assert np.all(np.abs(learned - start) > 1e-3)  # the weights moved


@pytest.mark.parametrize("output", OUTPUTS)
def test_gradient_routing(output):
    """A loss attached to one output moves only the parameters feeding it:
    the other heads get exactly zero gradient, in both frameworks."""
    import tensorflow as tf

    import losses_tf
    import losses_torch

    ((x, y),) = batches()[:1]
    model = keras_siamese()
    torch_model = TorchSiamese().double()
    torch_model.copy_from(model)
    single = {output: "categorical_crossentropy"}

    total, _ = losses_torch.MultiTaskLoss(single)(
        torch_model(*[torch.tensor(v) for v in x]), {output: torch.tensor(y[output])}
    )
    total.backward()
    with tf.GradientTape() as tape:
        keras_total, _ = losses_tf.MultiTaskLoss(single)({output: y[output]}, model(x))
    keras_grads = dict(
        zip([w.path for w in model.trainable_weights], tape.gradient(keras_total, model.trainable_weights), strict=True)
    )

    for name in OUTPUTS:
        torch_grad = torch_model.heads[name].weight.grad
        keras_grad = keras_grads[f"{name}/kernel"]
        if name == output:
            assert torch_grad is not None and torch_grad.abs().sum() > 0
            assert keras_grad is not None and float(tf.reduce_sum(tf.abs(keras_grad))) > 0
        else:
            assert torch_grad is None or torch.count_nonzero(torch_grad) == 0
            assert keras_grad is None or float(tf.reduce_sum(tf.abs(keras_grad))) == 0.0
    assert torch.count_nonzero(torch_model.shared.weight.grad) > 0


@pytest.mark.parametrize("barrier", [0.0, 0.2])
def test_convex_weighting_keras_vs_lightning(float64_keras, barrier):
    two = {"ctg_out_1": "categorical_crossentropy", "ctg_out_2": "categorical_crossentropy"}
    weighting = {"name": "convex", "params": {"alpha": 0.3, "barrier": barrier}}
    inner = keras_siamese()
    wrapped = losses_tf.KerasStyleModel(inner, two, None, weighting)
    wrapped.compile(optimizer=keras.optimizers.SGD(learning_rate=LR))
    torch_loss = losses_torch.MultiTaskLoss(two, None, weighting).double()
    torch_model, module = twin_train(wrapped, torch_loss, weights_from=inner, outputs=list(two))
    assert_same_weights(inner, torch_model)
    np.testing.assert_allclose(module.loss.weighting_state.detach().numpy(), wrapped.weighting_state.numpy(), rtol=1e-9)


def wrapped_pair(weighting, losses=LOSSES, weights=WEIGHTS, shared=None):
    inner = keras_siamese()
    wrapped = losses_tf.KerasStyleModel(inner, losses, weights, weighting, shared=shared)
    wrapped.compile(optimizer=keras.optimizers.SGD(learning_rate=LR))
    return inner, wrapped, losses_torch.MultiTaskLoss(losses, weights, weighting).double()


def test_gradnorm_keras_vs_lightning(float64_keras):
    """GradNorm (paper version) on the last shared layer: manual optimization
    in Lightning, a train_step override in Keras; same trajectory."""
    weighting = {"name": "gradnorm", "params": {"alpha": 1.5}}
    inner, wrapped, torch_loss = wrapped_pair(weighting, shared=["shared"])
    torch_model, module = twin_train(wrapped, torch_loss, weights_from=inner, shared=True)
    assert not module.automatic_optimization
    assert_same_weights(inner, torch_model)
    learned = module.loss.weighting_state.detach().numpy()
    np.testing.assert_allclose(learned, wrapped.weighting_state.numpy(), rtol=1e-9)
    assert np.abs(learned - 1.0).max() > 1e-2  # the task weights moved
    initial = module.loss.weighting_initial.numpy()
    np.testing.assert_allclose(initial, wrapped.weighting_buffers["initial"].numpy(), rtol=1e-9)
    assert int(module.loss.weighting_step) == int(wrapped.weighting_buffers["step"].numpy()) == STEPS


@pytest.mark.parametrize(
    "weighting",
    [
        {"name": "rlw", "params": {"seed": 3}},
        {"name": "mgda", "params": {"normalization": "none"}},
        {"name": "mgda", "params": {"normalization": "l2"}},
        {"name": "pcgrad", "params": {"seed": 5}},
        {"name": "cagrad", "params": {"c": 0.4, "rescale": 1}},
    ],
    ids=["rlw", "mgda", "mgda-l2", "pcgrad", "cagrad"],
)
def test_drawn_and_gramian_weightings_keras_vs_lightning(float64_keras, weighting):
    shared = None if weighting["name"] == "rlw" else ["shared"]
    inner, wrapped, torch_loss = wrapped_pair(weighting, shared=shared)
    torch_model, module = twin_train(wrapped, torch_loss, weights_from=inner, shared=shared is not None)
    assert module.automatic_optimization == (shared is None)
    assert_same_weights(inner, torch_model)


@pytest.mark.parametrize(
    ("keras_weighting", "torch_weighting"),
    [
        ({"name": "gradnorm", "params": {"alpha": 1.5}}, {"name": "gradnorm", "params": {"alpha": 1.4}}),
        ({"name": "rlw", "params": {"seed": 3}}, {"name": "rlw", "params": {"seed": 4}}),
        ({"name": "pcgrad", "params": {"seed": 1}}, {"name": "pcgrad", "params": {"seed": 2}}),
        ({"name": "cagrad", "params": {"c": 0.5}}, {"name": "cagrad", "params": {"c": 0.45}}),
    ],
    ids=["gradnorm-alpha", "rlw-seed", "pcgrad-seed", "cagrad-c"],
)
def test_twin_training_fails_when_the_methods_differ(float64_keras, keras_weighting, torch_weighting):
    """The twin check can fail: one parameter changed on the torch side breaks it."""
    shared = None if keras_weighting["name"] == "rlw" else ["shared"]
    inner, wrapped, _ = wrapped_pair(keras_weighting, shared=shared)
    torch_loss = losses_torch.MultiTaskLoss(LOSSES, WEIGHTS, torch_weighting).double()
    with pytest.raises(AssertionError, match=r"step \d+"):
        twin_train(wrapped, torch_loss, weights_from=inner, shared=shared is not None)


@pytest.mark.parametrize(
    "weighting",
    [None, {"name": "uncertainty", "params": {"variant": "kendall_regression"}}, {"name": "gradnorm"}],
    ids=["fixed", "uncertainty", "gradnorm"],
)
def test_float32_twin_training(weighting):
    """The same proof in float32 (Keras' default policy): relative 1e-5."""
    inner = keras_siamese()
    assert all(w.dtype == "float32" for w in inner.weights)
    if weighting is None:
        inner.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), loss=LOSSES, loss_weights=WEIGHTS)
        keras_model, shared = inner, None
    else:
        shared = ["shared"] if weighting["name"] == "gradnorm" else None
        keras_model = losses_tf.KerasStyleModel(inner, LOSSES, WEIGHTS, weighting, shared=shared)
        keras_model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR))
    torch_loss = losses_torch.MultiTaskLoss(LOSSES, WEIGHTS, weighting)
    torch_model, module = twin_train(
        keras_model, torch_loss, weights_from=inner, shared=shared is not None, dtype="float32"
    )
    assert_same_weights(inner, torch_model, dtype="float32")
    if weighting is not None:
        np.testing.assert_allclose(
            module.loss.weighting_state.detach().numpy(), keras_model.weighting_state.numpy(), rtol=1e-5
        )
