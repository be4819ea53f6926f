"""One SGD step under PyTorch Lightning DDP (2 CPU processes, gloo) for every case of
``problem.py``, each replica writing its loss value and parameters after the step.

Usage: ``python tests/distributed/torch_ddp.py OUT_DIR`` (Lightning starts the second process).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import problem
import pytorch_lightning as pl
import torch

import losses_torch

warnings.filterwarnings("ignore")
torch.set_num_threads(1)


class OneStep(pl.LightningModule):
    """The problem's 1x1 convolution trained by the given loss."""

    def __init__(self, loss: torch.nn.Module) -> None:
        super().__init__()
        kernel, bias = problem.initial_weights()
        self.conv = torch.nn.Conv2d(problem.FEATURES, problem.CLASSES, 1, dtype=torch.float64)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(kernel).reshape(self.conv.weight.shape))
            self.conv.bias.copy_(torch.from_numpy(bias))
        self.loss = loss
        self.step_loss = float("nan")

    def training_step(self, batch, batch_index):
        features, labels = batch
        value = self.loss(self.conv(features), labels)
        self.step_loss = float(value.detach())
        return value

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=problem.LEARNING_RATE)

    def train_dataloader(self):
        features, labels = problem.data()
        index = problem.shard(self.trainer.global_rank)
        dataset = torch.utils.data.TensorDataset(torch.from_numpy(features[index]), torch.from_numpy(labels[index]))
        return torch.utils.data.DataLoader(dataset, batch_size=len(index), shuffle=False)


def main(out: Path) -> None:
    for case, class_name, arguments in problem.CASES:
        for sync in (False, True):
            module = OneStep(getattr(losses_torch, class_name)(**arguments, sync=sync))
            trainer = pl.Trainer(
                strategy="ddp",
                accelerator="cpu",
                devices=problem.REPLICAS,
                max_steps=1,
                use_distributed_sampler=False,  # each rank loads its own shard (problem.shard)
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
            )
            trainer.fit(module)
            result = {
                "loss": module.step_loss,
                "weight": module.conv.weight.detach().reshape(problem.CLASSES, problem.FEATURES).tolist(),
                "bias": module.conv.bias.detach().tolist(),
            }
            name = f"{case}-sync{int(sync)}-rank{trainer.global_rank}.json"
            (out / name).write_text(json.dumps(result))
    print("done", os.environ.get("LOCAL_RANK", "0"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
