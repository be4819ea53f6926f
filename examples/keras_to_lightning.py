"""Train the seed's three-output siamese classifier twice -- in Keras with
``compile(loss=..., loss_weights=...)`` and in PyTorch Lightning with
``losses_torch.lightning.KerasStyleModule`` -- from the same initial weights on
the same batches, then plot both loss curves and print the largest difference.

    python examples/keras_to_lightning.py [--steps 200] [--out docs/keras_to_lightning.png]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import keras
import matplotlib
import numpy as np
from siamese import OUTPUTS, TorchSiamese, fit_lightning, keras_siamese

from losses_torch.lightning import KerasStyleModule

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LOSSES = {name: "categorical_crossentropy" for name in OUTPUTS}
WEIGHTS = {"ctg_out_1": 1.0, "ctg_out_2": 1.0, "bin_out": 0.5}


def make_batches(steps: int, batch: int = 32, seed: int = 7) -> list:
    """Batches with a learnable signal: classes depend on the inputs."""
    rng = np.random.default_rng(seed)
    projection = rng.normal(size=(8, 10))
    result = []
    for _ in range(steps):
        a, b = rng.normal(size=(batch, 8)), rng.normal(size=(batch, 8))
        same = (np.abs(a - b).mean(axis=1) < 0.8).astype(int)
        y = {
            "ctg_out_1": np.eye(10)[(a @ projection).argmax(axis=1)],
            "ctg_out_2": np.eye(10)[(b @ projection).argmax(axis=1)],
            "bin_out": np.eye(2)[same],
        }
        result.append(([a, b], y))
    return result


class History(KerasStyleModule):
    """Records the per-step training values Lightning logs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps: list[dict[str, float]] = []

    def on_train_batch_end(self, outputs, batch, batch_idx):
        metrics = self.trainer.callback_metrics
        self.steps.append({k: float(metrics[f"{k}_step"]) for k in ["loss", *(f"{o}_loss" for o in OUTPUTS)]})


def train(steps: int, lr: float) -> tuple[list[dict], list[dict]]:
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    data = make_batches(steps)
    model = keras_siamese()
    torch_model = TorchSiamese().double()
    torch_model.copy_from(model)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=LOSSES, loss_weights=WEIGHTS)
    keras_steps = [model.train_on_batch(x, y, return_dict=True) for x, y in data]

    module = History(torch_model, LOSSES, WEIGHTS, optimizer=lambda params: torch.optim.SGD(params, lr=lr))
    fit_lightning(module, data, steps)
    return keras_steps, module.steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--out", default="docs/keras_to_lightning.png")
    args = parser.parse_args()
    keras_steps, lightning_steps = train(args.steps, args.lr)

    keys = ["loss", *(f"{o}_loss" for o in OUTPUTS)]
    figure, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), sharex=True)
    largest = 0.0
    for axis, key in zip(axes, keys, strict=True):
        theirs = np.array([s[key] for s in keras_steps])
        ours = np.array([s[key] for s in lightning_steps])
        largest = max(largest, float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-12))))
        axis.plot(theirs, label="Keras compile(loss, loss_weights)", linewidth=3, alpha=0.5)
        axis.plot(ours, "--", label="Lightning KerasStyleModule", linewidth=1.2)
        axis.set_title(key)
        axis.set_xlabel("step")
    axes[0].legend(fontsize=8)
    figure.suptitle("Same model, same batches, float64: Keras vs PyTorch Lightning")
    figure.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=90)
    print(f"largest relative difference over {args.steps} steps and {len(keys)} logged losses: {largest:.3e}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
