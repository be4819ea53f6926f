"""Sampling: warm-up, round-robin samples of repeated steps, medians and paired ratios.

The method of ``benchmarks/run.py``: each candidate is warmed up (>= a few
calls, which also traces a ``tf.function`` or compiles a ``torch.compile``
graph), then the candidates of
one table are sampled round-robin -- one sample is a run of repeated steps of
>= ``sample_seconds`` with the garbage collector paused, and the starting
candidate rotates every round -- so that load drift on a shared machine hits
them alike.  ``Timing.paired_ratio`` is the median over rounds of the ratio of
two candidates' samples taken back-to-back, the steadier figure on a busy
machine.  CPU execution is synchronous in both frameworks: no device
synchronisation is needed.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """How much to sample.

    Attributes:
        samples: rounds per table.
        sample_seconds: minimum length of one sample (repeated steps).
        warmup_calls: minimum warm-up calls per candidate.
        warmup_seconds: minimum warm-up time per candidate.
        max_repetitions: cap on the steps of one sample (tiny inputs).
        table_seconds: sampling budget of one table: a table of slow
            candidates takes fewer rounds, never fewer than ``min_samples``.
        min_samples: the fewest rounds per table.
        max_step_seconds: a candidate whose second step takes longer is not
            sampled round-robin: that step is its only sample.
    """

    samples: int
    sample_seconds: float
    warmup_calls: int
    warmup_seconds: float
    max_repetitions: int = 10_000
    table_seconds: float = 30.0
    min_samples: int = 5
    max_step_seconds: float = 3.0


FULL = Settings(samples=11, sample_seconds=0.05, warmup_calls=3, warmup_seconds=0.1, table_seconds=30.0)
QUICK = Settings(
    samples=3,
    sample_seconds=0.01,
    warmup_calls=1,
    warmup_seconds=0.0,
    max_repetitions=100,
    table_seconds=1.0,
    min_samples=2,
    max_step_seconds=0.5,
)


@dataclass
class Candidate:
    """One implementation to time.

    Attributes:
        name: implementation shown in the tables.
        framework: ``"torch"`` or ``"tf"``.
        mode: ``"eager"``, ``"compile"`` (torch), ``"function"`` or ``"jit"`` (TensorFlow).
        kind: ``"ours"``, ``"composite"``, ``"peer"`` or ``"floor"``.
        step: one forward+backward step.
        context: entered around warm-up, every sample and the checks (not timed).
        value_and_grad: the loss value and the gradient w.r.t. the prediction, for the checks.
        memory: peak MiB allocated during one step (see ``benchmarks/memory.py``).
        note: how the candidate was called (a peer's target form, ...).
    """

    name: str
    framework: str
    mode: str
    kind: str
    step: Callable[[], object]
    value_and_grad: Callable[[], tuple[float, object]]
    memory: Callable[[], float | None]
    context: Callable[[], AbstractContextManager[None]] = nullcontext
    note: str = ""


@dataclass(frozen=True)
class Timing:
    """Seconds per step, one entry per sampling round."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def minimum(self) -> float:
        return min(self.samples)

    def paired_ratio(self, reference: Timing) -> float:
        """Median over rounds of this/reference: each pair was sampled
        back-to-back, so slow load drift cancels within a pair (NaN for a
        candidate that was not sampled round-robin)."""
        if len(self.samples) != len(reference.samples):
            return math.nan
        return statistics.median(a / b for a, b in zip(self.samples, reference.samples, strict=True))


def time_steps(step: Callable[[], object], repetitions: int) -> float:
    """Wall time of ``repetitions`` consecutive steps, garbage collector paused."""
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(repetitions):
            step()
        return time.perf_counter() - start
    finally:
        gc.enable()


def warm_up(step: Callable[[], object], settings: Settings) -> float:
    """Run ``step`` at least ``warmup_calls`` times and ``warmup_seconds``
    long (one call once ``max_step_seconds`` have passed); return the fastest
    single step (the first one may trace or allocate)."""
    fastest = math.inf
    calls, started = 0, time.perf_counter()
    while calls < settings.warmup_calls or time.perf_counter() - started < settings.warmup_seconds:
        fastest = min(fastest, time_steps(step, 1))
        calls += 1
        if time.perf_counter() - started > settings.max_step_seconds:
            break
    return fastest


def second_step(candidate: Candidate) -> float:
    """Seconds of one step after the first (which traced or compiled): what
    decides whether the candidate is sampled round-robin or once."""
    with candidate.context():
        return time_steps(candidate.step, 1)


def measure(candidates: Sequence[Candidate], settings: Settings) -> list[Timing]:
    """Per-step times of each candidate (one per round), sampled round-robin
    with the starting candidate rotated every round; ``settings.samples``
    rounds, fewer (>= ``min_samples``) where they would exceed ``table_seconds``."""
    repetitions, round_seconds = [], 0.0
    for candidate in candidates:
        with candidate.context():
            fastest = warm_up(candidate.step, settings)
        repetitions.append(min(settings.max_repetitions, max(1, math.ceil(settings.sample_seconds / fastest))))
        round_seconds += repetitions[-1] * fastest
    rounds = max(settings.min_samples, min(settings.samples, int(settings.table_seconds / max(round_seconds, 1e-9))))
    per_step: list[list[float]] = [[] for _ in candidates]
    count = len(candidates)
    for round_index in range(rounds):
        for offset in range(count):
            i = (round_index + offset) % count
            with candidates[i].context():
                per_step[i].append(time_steps(candidates[i].step, repetitions[i]) / repetitions[i])
    return [Timing(tuple(times)) for times in per_step]
