"""Epoch logs, the user-visible side of the port: a Keras ``History`` and
Lightning's logged metrics compared key by key, epoch by epoch (training and
validation losses, per-output losses, metrics), with an uneven last batch so
the batch-size weighting of epoch means is exercised; DWA, whose weights come
from those epoch means, rides on the same run."""

import keras
import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from siamese import OUTPUTS, TorchSiamese, keras_siamese, siamese_data

import losses_tf
from losses_torch.lightning import KerasStyleModule

LOSSES = {name: "categorical_crossentropy" for name in OUTPUTS}
WEIGHTS = {"ctg_out_1": 1.0, "ctg_out_2": 1.0, "bin_out": 0.5}
METRICS = {"ctg_out_1": ["accuracy"], "bin_out": ["accuracy"]}
EPOCHS, BATCH, LR = 4, 16, 0.2


def dataset(n, seed):
    return siamese_data(n, seed)


def loader(x, y):
    n = len(x[0])
    batches = [
        ([torch.tensor(a[i : i + BATCH]) for a in x], {k: torch.tensor(v[i : i + BATCH]) for k, v in y.items()})
        for i in range(0, n, BATCH)
    ]
    return torch.utils.data.DataLoader(batches, batch_size=None)


class EpochLogs(pl.Callback):
    def __init__(self):
        self.epochs = []

    def on_train_epoch_end(self, trainer, module):
        self.epochs.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def lightning_history(keras_model, weighting, n):
    torch_model = TorchSiamese().double()
    torch_model.copy_from(keras_model)
    module = KerasStyleModule(
        torch_model,
        LOSSES,
        WEIGHTS,
        weighting,
        optimizer=lambda params: torch.optim.SGD(params, lr=LR),
        metrics=METRICS,
    ).double()
    logs = EpochLogs()
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[logs],
        accelerator="cpu",
    )
    trainer.fit(module, loader(*dataset(n, 0)), loader(*dataset(n // 2, 1)))
    return logs.epochs, module


def compare(keras_history, lightning_epochs):
    expected_keys = {"loss", *(f"{o}_loss" for o in OUTPUTS), "ctg_out_1_accuracy", "bin_out_accuracy"}
    expected_keys |= {f"val_{k}" for k in expected_keys}
    assert set(keras_history) == expected_keys
    assert len(lightning_epochs) == EPOCHS
    for key in sorted(expected_keys):
        ours = [epoch[key] for epoch in lightning_epochs]
        np.testing.assert_allclose(ours, keras_history[key], rtol=1e-9, err_msg=key)


def fit_keras(model, n):
    x, y = dataset(n, 0)
    return model.fit(
        x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0, validation_data=dataset(n // 2, 1)
    ).history


@pytest.mark.parametrize("weighting", ["fixed", "dwa"])
def test_history_matches_lightning_logs_with_an_uneven_last_batch(float64_keras, weighting):
    """70 samples in batches of 16 (last batch 6): every epoch value of every
    key agrees, so the batch-size weighting is the same on both sides."""
    inner = keras_siamese()
    wrapped = losses_tf.KerasStyleModel(inner, LOSSES, WEIGHTS, weighting)
    wrapped.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), metrics=METRICS)
    lightning_epochs, module = lightning_history(inner, weighting, 70)
    history = fit_keras(wrapped, 70)
    compare(history, lightning_epochs)
    if weighting == "dwa":
        dwa = module.loss.weighting_weights.numpy()
        np.testing.assert_allclose(dwa, wrapped.weighting_buffers["weights"].numpy(), rtol=1e-9)
        # the documented formula on the logged epoch means of the last two epochs
        means = np.array([[history[f"{o}_loss"][e] * WEIGHTS[o] for o in OUTPUTS] for e in (EPOCHS - 2, EPOCHS - 1)])
        ratio = means[1] / means[0]
        np.testing.assert_allclose(dwa, 3 * np.exp(ratio / 2) / np.exp(ratio / 2).sum(), rtol=1e-9)
        assert np.abs(dwa - 1).max() > 1e-4


def test_plain_compile_history_matches_lightning_logs(float64_keras):
    """Fixed loss_weights through Keras' own compile: with batches that divide
    the data (Keras' TF per-output trackers ignore the size of an uneven last
    batch, see DEVELOPERS.md), every key agrees."""
    model = keras_siamese()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), loss=LOSSES, loss_weights=WEIGHTS, metrics=METRICS)
    lightning_epochs, _ = lightning_history(model, None, 64)
    compare(fit_keras(model, 64), lightning_epochs)


def test_keras_tf_per_output_trackers_ignore_batch_sizes(float64_keras):
    """A measured fact about Keras 3 on TensorFlow, documented in DEVELOPERS.md:
    with an uneven last batch, plain compile's `<output>_loss` epoch values are
    unweighted means over batches (so they differ from Lightning's and
    KerasStyleModel's batch-size-weighted means) while `loss` agrees."""
    model = keras_siamese()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), loss=LOSSES, loss_weights=WEIGHTS, metrics=METRICS)
    lightning_epochs, _ = lightning_history(model, None, 70)
    history = fit_keras(model, 70)
    for key in ("loss", "val_loss", "ctg_out_1_accuracy"):
        np.testing.assert_allclose([e[key] for e in lightning_epochs], history[key], rtol=1e-9, err_msg=key)
    ours = np.array([e["ctg_out_1_loss"] for e in lightning_epochs])
    gap = np.abs(ours / np.array(history["ctg_out_1_loss"]) - 1).max()
    assert gap > 1e-3, "Keras now weights per-output losses by batch size: update README and DEVELOPERS.md"
