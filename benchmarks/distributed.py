"""What ``sync=True`` costs: forward+backward time per step on 2 CPU processes (gloo).

``python -m benchmarks.distributed`` starts two ``torch.distributed`` processes on this machine,
gives each a shard of a segmentation batch and times one training step of each loss (forward,
backward to the logits) with ``sync`` off and on, in the same processes and rounds.  The
difference is the all-reduce of the batch statistics (a few floats per class) and its backward;
it prints milliseconds per step and the ratio.  Not a test: it never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import losses_torch

CASES = [
    ("DiceLoss(batch=True)", "DiceLoss", {"batch": True}),
    ("GeneralizedDiceLoss(batch=True)", "GeneralizedDiceLoss", {"batch": True}),
    ("CategoricalCrossentropyLoss(ignore_index=255)", "CategoricalCrossentropyLoss", {"ignore_index": 255}),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _step_ms(loss: torch.nn.Module, logits: torch.Tensor, labels: torch.Tensor, steps: int) -> float:
    dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        logits.grad = None
        loss(logits, labels).backward()
    dist.barrier()
    return (time.perf_counter() - start) / steps * 1e3


def _worker(rank: int, world: int, port: int, shape: tuple[int, ...], steps: int, rounds: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    generator = torch.Generator().manual_seed(rank)
    logits = torch.randn(shape, generator=generator).requires_grad_()
    labels = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=generator)
    for label, class_name, arguments in CASES:
        losses = {sync: getattr(losses_torch, class_name)(**arguments, sync=sync) for sync in (False, True)}
        for loss in losses.values():
            _step_ms(loss, logits, labels, 3)  # warm-up
        times = {False: [], True: []}
        for _ in range(rounds):
            for sync, loss in losses.items():
                times[sync].append(_step_ms(loss, logits, labels, steps))
        if rank == 0:
            queue.put((label, statistics.median(times[False]), statistics.median(times[True])))
    dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="4,4,64,64", help="each process's logits shape (N, C, H, W)")
    parser.add_argument("--steps", type=int, default=20, help="steps per sample")
    parser.add_argument("--rounds", type=int, default=7, help="samples per loss and setting")
    args = parser.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    world = 2
    context = mp.get_context("spawn")
    queue = context.SimpleQueue()
    mp.spawn(_worker, args=(world, _free_port(), shape, args.steps, args.rounds, queue), nprocs=world, join=True)
    print(f"sync cost on {world} processes (gloo, 1 thread each), logits {shape} per process, median ms per step")
    print(f"{'loss':48s} {'sync=False':>11s} {'sync=True':>10s} {'extra':>8s} {'ratio':>6s}")
    while not queue.empty():
        label, off, on = queue.get()
        print(f"{label:48s} {off:11.3f} {on:10.3f} {on - off:8.3f} {on / off:5.2f}x")


if __name__ == "__main__":
    main()
