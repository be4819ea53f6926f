"""Losses over a batch split across replicas give the single-process answer with ``sync=True``.

Real multi-process training on the CPU: PyTorch Lightning ``Trainer(strategy="ddp",
accelerator="cpu", devices=2)`` (gloo, ``tests/distributed/torch_ddp.py``) and Keras
``model.fit`` under ``tf.distribute.MirroredStrategy`` over two logical CPU devices
(``tests/distributed/tf_mirrored.py``), each in its own process.  For every loss whose value
depends on statistics of the whole batch (``tests/distributed/problem.py``), one SGD step on a
global batch of 8 split 4 + 4 must give the loss value and the parameters of the same step in one
process on the whole batch, within 1e-6 relative; with ``sync=False`` the update differs (each
replica's loss is a different function: its own shard's ratio or mean).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import losses_torch
import spec

HERE = Path(__file__).resolve().parent / "distributed"
sys.path.insert(0, str(HERE))

import problem  # noqa: E402

# one worker runs the whole module: the multi-process runs are module fixtures
pytestmark = pytest.mark.xdist_group("distributed")

RTOL = 1e-6
CASES = [case for case, _, _ in problem.CASES]


def single_process_step(class_name: str, arguments: dict, sync: bool) -> dict:
    """The reference: one SGD step of the problem's convolution on the whole batch, no replicas."""
    kernel, bias = problem.initial_weights()
    features, labels = problem.data()
    weight = torch.tensor(kernel, requires_grad=True)
    offset = torch.tensor(bias, requires_grad=True)
    logits = torch.einsum("cf,nfhw->nchw", weight, torch.from_numpy(features)) + offset[:, None, None]
    loss = getattr(losses_torch, class_name)(**arguments, sync=sync)(logits, torch.from_numpy(labels))
    loss.backward()
    with torch.no_grad():
        return {
            "loss": float(loss),
            "weight": (weight - problem.LEARNING_RATE * weight.grad).numpy(),
            "bias": (offset - problem.LEARNING_RATE * offset.grad).numpy(),
        }


REFERENCE = {
    case: single_process_step(class_name, arguments, sync=False) for case, class_name, arguments in problem.CASES
}


def _run(script: str, out: Path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, str(HERE / script), str(out)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    _run("torch_ddp.py", out)
    return out


@pytest.fixture(scope="module")
def mirrored_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored")
    _run("tf_mirrored.py", out)
    return out


def _read(path: Path) -> dict:
    result = json.loads(path.read_text())
    return {"loss": result["loss"], "weight": np.array(result["weight"]), "bias": np.array(result["bias"])}


def _assert_same_step(result: dict, reference: dict, what: str) -> None:
    np.testing.assert_allclose(result["loss"], reference["loss"], rtol=RTOL, err_msg=f"{what}: loss value")
    for name in ("weight", "bias"):
        np.testing.assert_allclose(result[name], reference[name], rtol=RTOL, atol=1e-12, err_msg=f"{what}: {name}")


def _update_error(result: dict, reference: dict) -> float:
    """Largest parameter difference relative to the reference step's largest update."""
    kernel, bias = problem.initial_weights()
    step = max(np.abs(reference["weight"] - kernel).max(), np.abs(reference["bias"] - bias).max())
    error = max(np.abs(result["weight"] - reference["weight"]).max(), np.abs(result["bias"] - reference["bias"]).max())
    return float(error / step)


@pytest.mark.parametrize("case", CASES)
def test_lightning_ddp_with_sync_equals_one_process(ddp_results, case):
    for rank in range(problem.REPLICAS):
        _assert_same_step(_read(ddp_results / f"{case}-sync1-rank{rank}.json"), REFERENCE[case], f"rank {rank}")


@pytest.mark.parametrize("case", CASES)
def test_lightning_ddp_without_sync_trains_on_per_replica_statistics(ddp_results, case):
    ranks = [_read(ddp_results / f"{case}-sync0-rank{rank}.json") for rank in range(problem.REPLICAS)]
    np.testing.assert_allclose(ranks[0]["weight"], ranks[1]["weight"], rtol=1e-12)  # DDP keeps replicas equal
    assert _update_error(ranks[0], REFERENCE[case]) > 1e-3, "sync=False should change the update here"
    assert ranks[0]["loss"] != pytest.approx(ranks[1]["loss"], rel=1e-6), "each rank sees its own shard's loss"


@pytest.mark.parametrize("case", CASES)
def test_mirrored_strategy_with_sync_equals_one_process(mirrored_results, case):
    mirrored = _read(mirrored_results / f"{case}-sync1-mirrored.json")
    single = _read(mirrored_results / f"{case}-sync1-single.json")
    _assert_same_step(single, REFERENCE[case], "Keras without a strategy (vs torch)")
    _assert_same_step(mirrored, REFERENCE[case], "Keras under MirroredStrategy")


@pytest.mark.parametrize("case", CASES)
def test_mirrored_strategy_without_sync_trains_on_per_replica_statistics(mirrored_results, case):
    mirrored = _read(mirrored_results / f"{case}-sync0-mirrored.json")
    assert _update_error(mirrored, REFERENCE[case]) > 1e-3, "sync=False should change the update here"


def test_sync_is_the_identity_in_one_process():
    for case, class_name, arguments in problem.CASES:
        synced = single_process_step(class_name, arguments, sync=True)
        _assert_same_step(synced, REFERENCE[case], case)


def test_a_plain_mean_follows_keras_own_per_replica_rule(mirrored_results):
    """Keras divides a replica's mean by the number of replicas and sums the gradients; a plain
    lossbridge mean does the same, so it trains exactly as Keras' built-in loss."""
    ours = _read(mirrored_results / "keras_rule-ours-mirrored.json")
    keras_builtin = _read(mirrored_results / "keras_rule-keras-mirrored.json")
    _assert_same_step(ours, keras_builtin, "CategoricalCrossentropyLoss vs keras SparseCategoricalCrossentropy")


# masked_categorical_crossentropy takes its mask as a third input, which the two-replica problem
# does not feed; its sync is the reduction's, the one categorical_crossentropy's cases cover.
NOT_IN_THE_PROBLEM = {"masked_categorical_crossentropy"}


def test_every_loss_with_sync_is_trained_on_two_replicas():
    """A loss that gains ``sync`` joins ``tests/distributed/problem.py`` (both strategies)."""
    with_sync = {s.name for s in spec.specs() if "sync" in s.params.names()}
    trained = {losses_torch.loss_class(name).__name__: name for name in with_sync}
    covered = {trained[class_name] for _, class_name, _ in problem.CASES if class_name in trained}
    assert with_sync - covered == NOT_IN_THE_PROBLEM
