"""The seed's three-output siamese classifier, in Keras and in PyTorch: two
inputs, a shared feature branch, two 10-way softmax heads (``ctg_out_1``,
``ctg_out_2``) and a 2-way head (``bin_out``) on the squared difference of the
two feature vectors."""

import keras
import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

OUTPUTS = ["ctg_out_1", "ctg_out_2", "bin_out"]


def siamese_data(n: int, seed: int, dtype: str = "float64") -> tuple[list, dict]:
    """``n`` random input pairs and one-hot targets for the three outputs (NumPy)."""
    rng = np.random.default_rng(seed)
    x = [rng.normal(size=(n, 8)).astype(dtype) for _ in range(2)]
    y = {
        "ctg_out_1": np.eye(10, dtype=dtype)[rng.integers(0, 10, n)],
        "ctg_out_2": np.eye(10, dtype=dtype)[rng.integers(0, 10, n)],
        "bin_out": np.eye(2, dtype=dtype)[rng.integers(0, 2, n)],
    }
    return x, y


@keras.saving.register_keras_serializable(package="lossbridge_tests")
class SquaredDifference(keras.layers.Layer):
    """Elementwise squared difference of two feature vectors."""

    def call(self, inputs):
        return keras.ops.square(inputs[0] - inputs[1])


def keras_siamese(seed=0):
    keras.utils.set_random_seed(seed)
    a, b = keras.Input((8,), name="a"), keras.Input((8,), name="b")
    shared = keras.layers.Dense(6, activation="tanh", name="shared")
    fa, fb = shared(a), shared(b)
    distance = SquaredDifference(name="distance")([fa, fb])
    outputs = {
        "ctg_out_1": keras.layers.Dense(10, activation="softmax", name="ctg_out_1")(fa),
        "ctg_out_2": keras.layers.Dense(10, activation="softmax", name="ctg_out_2")(fb),
        "bin_out": keras.layers.Dense(2, activation="softmax", name="bin_out")(distance),
    }
    return keras.Model([a, b], outputs)


class TorchSiamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(8, 6)
        self.heads = nn.ModuleDict(
            {"ctg_out_1": nn.Linear(6, 10), "ctg_out_2": nn.Linear(6, 10), "bin_out": nn.Linear(6, 2)}
        )

    def forward(self, a, b):
        fa, fb = torch.tanh(self.shared(a)), torch.tanh(self.shared(b))
        inputs = {"ctg_out_1": fa, "ctg_out_2": fb, "bin_out": (fa - fb) ** 2}
        return {name: torch.softmax(head(inputs[name]), dim=-1) for name, head in self.heads.items()}

    def copy_from(self, model):
        with torch.no_grad():
            for name, layer in [("shared", self.shared), *self.heads.items()]:
                kernel, bias = model.get_layer(name).get_weights()
                layer.weight.copy_(torch.tensor(kernel.T))
                layer.bias.copy_(torch.tensor(bias))


def fit_lightning(module: pl.LightningModule, data: list, steps: int, **trainer_args) -> pl.Trainer:
    """Fit ``module`` for ``steps`` steps on NumPy batches ``[(x_list, y_dict), ...]``
    (converted to torch tensors of their NumPy dtype), one batch per step, in order."""
    batches = [([torch.tensor(v) for v in x], {k: torch.tensor(v) for k, v in y.items()}) for x, y in data]
    trainer = pl.Trainer(
        max_steps=steps,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        **trainer_args,
    )
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    return trainer
