"""Forward+backward timings of lossbridge losses against reference implementations.

What is measured
    One *step* is: clear the gradient, evaluate the loss on fixed inputs and
    backpropagate to the logits.

    * PyTorch (channels-first, integer targets), at (8, 4, 128, 128) and
      (2, 4, 64, 64, 64):
        - ``losses_torch.CategoricalCrossentropyLoss`` against
          ``torch.nn.functional.cross_entropy`` (target: ours <= 1.10x), plus
          an untargeted row with ``LOSSBRIDGE_COMPOSITE_OPS=1`` (the composite
          log-softmax + gather path instead of the fused kernel);
        - ``losses_torch.DiceLoss`` against a plain hand-written torch Dice and
          ``monai.losses.DiceLoss(softmax=True, to_onehot_y=True)``
          (target: ours <= 1.00x MONAI).
    * TensorFlow / Keras 3 (channels-last), same shapes, eager and
      ``tf.function`` (the GradientTape inside the function):
        - ``losses_tf.CategoricalCrossentropyLoss`` (integer and one-hot
          targets) against ``keras.losses.CategoricalCrossentropy(from_logits=True)``
          (one-hot) and, for information, ``SparseCategoricalCrossentropy``;
        - ``losses_tf.DiceLoss`` against ``keras.losses.Dice`` applied to
          ``softmax(logits)``.  Keras' Dice has no smoothing, so it is a cost
          reference, not a value-identical one.
    * CTC, batch-major ``CTC_SHAPE`` logits: ``losses_torch.CtcLoss`` against
      ``F.ctc_loss`` (and the composite recursion), ``losses_tf.CtcLoss``
      against ``tf.nn.ctc_loss`` (eager, ``tf.function``, and the composite
      recursion in a ``tf.function``).

How
    Everything runs in one process and one run, so the ratios compare
    implementations under the same conditions.  torch and TensorFlow are set
    to 2 intra-op and 2 inter-op threads before their first op.  Before timing,
    each comparison's loss values (and gradients) are checked against the
    reference and a WARNING line is printed if they disagree.  Each
    implementation is warmed up (>= 3 calls, which also traces the
    ``tf.function``), then sampled: one sample is a run of repeated steps
    lasting >= 0.1 s (time per step = sample time / repetitions, measured with
    ``time.perf_counter`` and the garbage collector paused).  The
    implementations of a table are sampled round-robin (ours, ref, ours, ref,
    ..., with the starting point rotated every round) so that load drift on a
    shared machine hits all of them alike.  The tables report the median and
    minimum time per step, ratio = median(ours) / median(reference) (the
    targets are judged on it) and "paired" = the median over rounds of
    ours / reference, whose two samples were taken back-to-back; on a busy
    machine the paired ratio is the steadier of the two.

    CPU execution is synchronous in both frameworks, so no explicit device
    synchronisation is needed.  Benchmarks only print: the exit status is 0
    whatever the numbers are.

Usage::

    python benchmarks/run.py            # full run (about 2 minutes on 2 cores)
    python benchmarks/run.py --quick    # smoke run with few, short samples
    python benchmarks/run.py --only torch   # or --only tf
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf
    import torch

THREADS = 2
SEED = 0
# channels-first shapes (N, C, *spatial); the Keras section uses (N, *spatial, C)
SHAPES: tuple[tuple[int, ...], ...] = ((8, 4, 128, 128), (2, 4, 64, 64, 64))
SMOOTH = 1e-5  # DiceLoss' default smoothing, on numerator and denominator
COMPOSITE_ENV = "LOSSBRIDGE_COMPOSITE_OPS"
CE_TARGET = 1.10  # ours / F.cross_entropy
DICE_TARGET = 1.00  # ours / MONAI DiceLoss
# Value agreement: |ours - ref| <= tolerance * max(1, |ref|); gradients
# relative to the largest reference gradient entry.
EXACT_TOLERANCE = 1e-6
GRAD_TOLERANCE = 1e-5
# A table is flagged as noisy when some median exceeds its minimum by this factor.
NOISY_SPREAD = 1.3
# Keras' Dice differs from ours by the smoothing terms only.
KERAS_DICE_TOLERANCE = 1e-4
# CTC: (batch, frames, classes incl. the blank 0), target lengths drawn in this range
CTC_SHAPE = (8, 100, 28)
CTC_TARGET_LENGTHS = (10, 30)


@dataclass(frozen=True)
class Settings:
    """How much to sample."""

    samples: int
    sample_seconds: float
    warmup_calls: int
    warmup_seconds: float


FULL = Settings(samples=17, sample_seconds=0.1, warmup_calls=3, warmup_seconds=0.3)
QUICK = Settings(samples=5, sample_seconds=0.03, warmup_calls=3, warmup_seconds=0.0)


@dataclass(frozen=True)
class Candidate:
    """One implementation to time.

    Attributes:
        name: implementation shown in the table.
        mode: execution mode (``eager``, ``tf.function``).
        step: one forward+backward step.
        reference: the candidate the ratio is taken against (None for references).
        target: the highest acceptable ratio, for the targeted comparisons.
        context: entered around warm-up and every sample (not timed).
    """

    name: str
    mode: str
    step: Callable[[], object]
    reference: Candidate | None = None
    target: float | None = None
    context: Callable[[], AbstractContextManager[None]] = nullcontext


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
        back-to-back, so slow load drift cancels within a pair."""
        return statistics.median(a / b for a, b in zip(self.samples, reference.samples, strict=True))


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------


def _time_steps(step: Callable[[], object], repetitions: int) -> float:
    """Wall time of ``repetitions`` consecutive steps, garbage collector paused."""
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(repetitions):
            step()
        return time.perf_counter() - start
    finally:
        gc.enable()


def _warm_up(step: Callable[[], object], settings: Settings) -> float:
    """Run ``step`` at least ``warmup_calls`` times and ``warmup_seconds``
    long; return the fastest single step (the first one may trace or allocate)."""
    fastest = math.inf
    calls, started = 0, time.perf_counter()
    while calls < settings.warmup_calls or time.perf_counter() - started < settings.warmup_seconds:
        fastest = min(fastest, _time_steps(step, 1))
        calls += 1
    return fastest


def measure(candidates: Sequence[Candidate], settings: Settings) -> list[Timing]:
    """Per-step times of each candidate (one per round), sampled round-robin
    with the starting candidate rotated every round."""
    repetitions = []
    for candidate in candidates:
        with candidate.context():
            fastest = _warm_up(candidate.step, settings)
        repetitions.append(max(1, math.ceil(settings.sample_seconds / fastest)))
    per_step: list[list[float]] = [[] for _ in candidates]
    count = len(candidates)
    for round_index in range(settings.samples):
        for offset in range(count):
            i = (round_index + offset) % count
            with candidates[i].context():
                per_step[i].append(_time_steps(candidates[i].step, repetitions[i]) / repetitions[i])
    return [Timing(tuple(times)) for times in per_step]


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------


def print_table(
    title: str,
    candidates: Sequence[Candidate],
    timings: Sequence[Timing],
    also: Sequence[tuple[Candidate, Candidate]] = (),
) -> None:
    """One table: per candidate its times, its ratio to its reference and the
    target verdict; then the ratios of the ``also`` pairs (candidate, reference)."""
    by_candidate = {id(c): t for c, t in zip(candidates, timings, strict=True)}
    print(f"\n  {title}")
    header = (
        f"  {'implementation':<30} {'mode':<12} {'median ms':>9} {'min ms':>8} {'ratio':>6} {'paired':>6}"
        f"  {'vs':<30} target"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for candidate, timing in zip(candidates, timings, strict=True):
        ratio_text, paired_text, versus, verdict = "", "", "(reference)", ""
        if candidate.reference is not None:
            reference = by_candidate[id(candidate.reference)]
            ratio = timing.median / reference.median
            ratio_text, versus = f"{ratio:.2f}x", candidate.reference.name
            paired_text = f"{timing.paired_ratio(reference):.2f}x"
            if candidate.target is not None:
                verdict = f"<= {candidate.target:.2f}x: " + ("meets" if ratio <= candidate.target else "misses")
        print(
            f"  {candidate.name:<30} {candidate.mode:<12} {timing.median * 1e3:>9.3f} {timing.minimum * 1e3:>8.3f}"
            f" {ratio_text:>6} {paired_text:>6}  {versus:<30} {verdict}".rstrip()
        )
    for candidate, reference in also:
        ours, theirs = by_candidate[id(candidate)], by_candidate[id(reference)]
        print(
            f"  {candidate.name} / {reference.name}: ratio {ours.median / theirs.median:.2f}x, "
            f"paired {ours.paired_ratio(theirs):.2f}x"
        )
    spread = max(t.median / t.minimum for t in timings)
    if spread > NOISY_SPREAD:
        print(
            f"  note: noisy, a median is {spread:.1f}x its minimum (a busy machine?); "
            f"trust the paired ratios more than the medians"
        )


def report_agreement(
    label: str, ours: float, reference: float, grad_difference: float, tolerance: float, note: str = ""
) -> None:
    """Print ours/reference values and the gradient difference; WARNING if they disagree."""
    difference = abs(ours - reference)
    agrees = difference <= tolerance * max(1.0, abs(reference)) and grad_difference <= GRAD_TOLERANCE
    print(
        f"  check {label:<55} ours={ours:.9g} ref={reference:.9g} |diff|={difference:.2e} "
        f"grad rel diff={grad_difference:.2e}" + (f" {note}" if note else "")
    )
    if not agrees:
        print(
            f"  WARNING: {label}: values differ by {difference:.3g} (tolerance {tolerance:g} relative) "
            f"or gradients by {grad_difference:.3g} (tolerance {GRAD_TOLERANCE:g})"
        )


def random_inputs(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Channels-first float32 logits and int64 labels (class axis removed)."""
    rng = np.random.default_rng(SEED)
    logits = rng.standard_normal(shape, dtype=np.float32)
    labels = rng.integers(0, shape[1], size=shape[:1] + shape[2:], dtype=np.int64)
    return logits, labels


def ctc_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batch-major float32 logits ``CTC_SHAPE``, labels in ``[1, C)`` padded
    with the blank to the number of frames, input lengths in ``[T/2, T]``,
    target lengths in ``CTC_TARGET_LENGTHS``."""
    rng = np.random.default_rng(SEED)
    batch, frames, classes = CTC_SHAPE
    logits = rng.standard_normal(CTC_SHAPE, dtype=np.float32)
    target_lengths = rng.integers(*CTC_TARGET_LENGTHS, size=batch, endpoint=True)
    input_lengths = rng.integers(frames // 2, frames, size=batch, endpoint=True)
    labels = np.zeros((batch, frames), np.int64)
    for n, length in enumerate(target_lengths):
        labels[n, :length] = rng.integers(1, classes, size=length)
    return logits, labels, input_lengths, target_lengths


@contextmanager
def composite_ops() -> Iterator[None]:
    """Force lossbridge's composite (non-fused) ops while inside."""
    os.environ[COMPOSITE_ENV] = "1"
    try:
        yield
    finally:
        del os.environ[COMPOSITE_ENV]


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------


def configure_torch() -> str:
    import torch

    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(THREADS)
    return (
        f"torch {torch.__version__}: intra-op threads {torch.get_num_threads()}, "
        f"inter-op threads {torch.get_num_interop_threads()}"
    )


def hand_dice(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Plain soft Dice: softmax, one-hot, per-sample per-class ratio, mean.

    The one-hot is scattered straight into the channels-first layout
    (``F.one_hot(...).movedim(-1, 1).float()`` would copy a strided int64
    tensor and roughly double the cost)."""
    import torch

    probs = logits.softmax(1)
    one_hot = torch.zeros_like(probs).scatter_(1, labels.unsqueeze(1), 1.0)
    spatial = tuple(range(2, logits.dim()))
    intersection = (probs * one_hot).sum(spatial)
    volumes = probs.sum(spatial) + one_hot.sum(spatial)
    return (1.0 - (2.0 * intersection + SMOOTH) / (volumes + SMOOTH)).mean()


def torch_step(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor, target: torch.Tensor
) -> Callable[[], None]:
    def step() -> None:
        x.grad = None
        loss_fn(x, target).backward()

    return step


def torch_value_and_grad(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor, target: torch.Tensor
) -> tuple[float, torch.Tensor]:
    x.grad = None
    value = loss_fn(x, target)
    value.backward()
    grad = x.grad.clone()
    x.grad = None
    return value.item(), grad


def check_torch(
    label: str,
    ours: Callable,
    reference: Callable,
    x: torch.Tensor,
    target: torch.Tensor,
    reference_target: torch.Tensor | None = None,
) -> None:
    ours_value, ours_grad = torch_value_and_grad(ours, x, target)
    ref_value, ref_grad = torch_value_and_grad(reference, x, target if reference_target is None else reference_target)
    grad_difference = float((ours_grad - ref_grad).abs().max() / ref_grad.abs().max())
    report_agreement(label, ours_value, ref_value, grad_difference, EXACT_TOLERANCE)


def torch_section(settings: Settings) -> None:
    import monai
    import torch
    import torch.nn.functional as F

    import losses_torch

    print("\n== PyTorch: forward+backward, channels-first, integer targets ==")
    ours_ce = losses_torch.CategoricalCrossentropyLoss()
    ours_dice = losses_torch.DiceLoss()
    monai_dice = monai.losses.DiceLoss(softmax=True, to_onehot_y=True)
    for shape in SHAPES:
        logits, labels = random_inputs(shape)
        x = torch.from_numpy(logits).requires_grad_(True)
        t = torch.from_numpy(labels)
        t_monai = t.unsqueeze(1)  # MONAI takes labels as (N, 1, *spatial)
        print(f"\n shape {shape}")

        def composite_ce(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            with composite_ops():
                return ours_ce(a, b)

        check_torch("categorical_crossentropy vs F.cross_entropy", ours_ce, F.cross_entropy, x, t)
        check_torch("categorical_crossentropy (composite) vs F.cross_entropy", composite_ce, F.cross_entropy, x, t)
        check_torch("dice vs hand-written Dice", ours_dice, hand_dice, x, t)
        check_torch("dice vs MONAI DiceLoss", ours_dice, monai_dice, x, t, reference_target=t_monai)

        reference = Candidate("torch F.cross_entropy", "eager", torch_step(F.cross_entropy, x, t))
        candidates = [
            reference,
            Candidate("ours", "eager", torch_step(ours_ce, x, t), reference, CE_TARGET),
            Candidate("ours, composite", "eager", torch_step(ours_ce, x, t), reference, context=composite_ops),
        ]
        print_table(f"categorical cross-entropy {shape}", candidates, measure(candidates, settings))

        monai_candidate = Candidate("MONAI DiceLoss", "eager", torch_step(monai_dice, x, t_monai))
        hand = Candidate("hand-written torch Dice", "eager", torch_step(hand_dice, x, t))
        ours = Candidate("ours", "eager", torch_step(ours_dice, x, t), monai_candidate, DICE_TARGET)
        candidates = [monai_candidate, hand, ours]
        print_table(f"Dice {shape}", candidates, measure(candidates, settings), also=[(ours, hand)])

    logits, labels, input_lengths, target_lengths = ctc_inputs()
    x = torch.from_numpy(logits).requires_grad_(True)
    t = torch.from_numpy(labels)
    frames, lengths = torch.from_numpy(input_lengths), torch.from_numpy(target_lengths)
    ours_ctc = losses_torch.CtcLoss(class_axis=-1)

    def torch_ctc(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(a, dim=2).transpose(0, 1)
        return F.ctc_loss(log_probs, b, frames, lengths, reduction="none").mean()

    def ctc(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ours_ctc(a, b, input_lengths=frames, target_lengths=lengths)

    def composite_ctc(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        with composite_ops():
            return ctc(a, b)

    print(f"\n CTC (N, T, C) = {CTC_SHAPE}, target lengths {CTC_TARGET_LENGTHS}")
    check_torch("ctc vs F.ctc_loss", ctc, torch_ctc, x, t)
    check_torch("ctc (composite) vs F.ctc_loss", composite_ctc, torch_ctc, x, t)
    reference = Candidate("torch F.ctc_loss", "eager", torch_step(torch_ctc, x, t))
    candidates = [
        reference,
        Candidate("ours", "eager", torch_step(ctc, x, t), reference),
        Candidate("ours, composite", "eager", torch_step(ctc, x, t), reference, context=composite_ops),
    ]
    print_table(f"CTC {CTC_SHAPE}", candidates, measure(candidates, settings))


# ---------------------------------------------------------------------------
# TensorFlow / Keras
# ---------------------------------------------------------------------------


def configure_tf() -> str:
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    # Each tf.function here is traced once (checked after timing); TF's
    # "frequent retracing" warning counts traces across them and is noise.
    tf.get_logger().setLevel("ERROR")
    import keras

    return (
        f"tensorflow {tf.__version__} (keras {keras.__version__}, backend {keras.backend.backend()}): "
        f"intra-op threads {tf.config.threading.get_intra_op_parallelism_threads()}, "
        f"inter-op threads {tf.config.threading.get_inter_op_parallelism_threads()}, "
        f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(unset: on)')}"
    )


KerasLoss = Callable[["tf.Tensor", "tf.Tensor"], "tf.Tensor"]


def tf_gradient(loss_fn: KerasLoss, x: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Loss value and its gradient with respect to the logits ``x``."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss_fn(target, x)
    return value, tape.gradient(value, x)


@dataclass(frozen=True)
class TfSteps:
    """The steps of one Keras loss on fixed inputs, per mode, and the
    ``tf.function`` behind the graph step (to check it traced only once)."""

    modes: dict[str, Callable[[], object]]
    function: Any


def tf_steps(loss_fn: KerasLoss, x: tf.Tensor, target: tf.Tensor) -> TfSteps:
    """The eager step and the ``tf.function`` step (tape inside the function)."""
    import tensorflow as tf

    def gradient(a: tf.Tensor, b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf_gradient(loss_fn, a, b)

    function = tf.function(gradient)
    return TfSteps({"eager": lambda: gradient(x, target), "tf.function": lambda: function(x, target)}, function)


def check_tf(
    label: str,
    ours: KerasLoss,
    reference: KerasLoss,
    x: tf.Tensor,
    target: tf.Tensor,
    reference_target: tf.Tensor,
    tolerance: float = EXACT_TOLERANCE,
    note: str = "",
) -> None:
    ours_value, ours_grad = tf_gradient(ours, x, target)
    ref_value, ref_grad = tf_gradient(reference, x, reference_target)
    ref_grad, ours_grad = ref_grad.numpy(), ours_grad.numpy()
    grad_difference = float(np.abs(ours_grad - ref_grad).max() / np.abs(ref_grad).max())
    report_agreement(label, float(ours_value), float(ref_value), grad_difference, tolerance, note)


def keras_dice_of_logits(spatial_axes: tuple[int, ...]) -> KerasLoss:
    """``keras.losses.Dice`` over ``spatial_axes`` applied to ``softmax(logits)``."""
    import keras

    dice = keras.losses.Dice(axis=spatial_axes)

    def loss(target: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return dice(target, keras.ops.softmax(logits, axis=-1))

    return loss


def tf_section(settings: Settings) -> None:
    import keras
    import tensorflow as tf

    import losses_tf

    print("\n== TensorFlow / Keras: forward+backward, channels-last ==")
    ours_ce = losses_tf.CategoricalCrossentropyLoss()
    ours_dice = losses_tf.DiceLoss()
    keras_cce = keras.losses.CategoricalCrossentropy(from_logits=True)
    keras_sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for shape in SHAPES:
        logits, labels = random_inputs(shape)
        num_classes = shape[1]
        x = tf.constant(np.moveaxis(logits, 1, -1))
        t = tf.constant(labels)
        t_one_hot = tf.one_hot(t, num_classes, dtype=tf.float32)
        keras_dice = keras_dice_of_logits(spatial_axes=tuple(range(1, len(shape) - 1)))
        print(f"\n shape {shape[:1] + shape[2:] + shape[1:2]}")
        check_tf("categorical_crossentropy labels vs keras CCE", ours_ce, keras_cce, x, t, t_one_hot)
        check_tf("categorical_crossentropy one-hot vs keras CCE", ours_ce, keras_cce, x, t_one_hot, t_one_hot)
        check_tf("keras SparseCCE vs keras CCE", keras_sparse, keras_cce, x, t, t_one_hot)
        check_tf(
            "dice vs keras Dice(softmax)",
            ours_dice,
            keras_dice,
            x,
            t,
            t_one_hot,
            KERAS_DICE_TOLERANCE,
            "(Keras Dice has no smoothing)",
        )

        ce_steps = {
            "keras CCE (one-hot)": tf_steps(keras_cce, x, t_one_hot),
            "keras SparseCCE (labels)": tf_steps(keras_sparse, x, t),
            "ours (labels)": tf_steps(ours_ce, x, t),
            "ours (one-hot)": tf_steps(ours_ce, x, t_one_hot),
        }
        dice_steps = {
            "keras Dice(softmax) (one-hot)": tf_steps(keras_dice, x, t_one_hot),
            "ours (labels)": tf_steps(ours_dice, x, t),
            "ours (one-hot)": tf_steps(ours_dice, x, t_one_hot),
        }
        for title, steps in (("categorical cross-entropy", ce_steps), ("Dice", dice_steps)):
            candidates: list[Candidate] = []
            reference_name, *other_names = steps
            for mode in ("eager", "tf.function"):
                reference = Candidate(reference_name, mode, steps[reference_name].modes[mode])
                candidates.append(reference)
                candidates.extend(Candidate(name, mode, steps[name].modes[mode], reference) for name in other_names)
            print_table(f"{title} {shape[:1] + shape[2:] + shape[1:2]}", candidates, measure(candidates, settings))
            for name, step in steps.items():
                traces = step.function.experimental_get_tracing_count()
                if traces != 1:
                    print(f"  WARNING: the tf.function of {name!r} was traced {traces} times (expected once)")

    logits, labels, input_lengths, target_lengths = ctc_inputs()
    x, t = tf.constant(logits), tf.constant(labels)
    frames, lengths = tf.constant(input_lengths), tf.constant(target_lengths)
    ours_ctc = losses_tf.CtcLoss()

    def tf_ctc(b: tf.Tensor, a: tf.Tensor) -> tf.Tensor:
        nll = tf.nn.ctc_loss(
            tf.cast(b, tf.int32), a, tf.cast(lengths, tf.int32), tf.cast(frames, tf.int32), logits_time_major=False
        )
        return tf.reduce_mean(nll)

    def ctc(b: tf.Tensor, a: tf.Tensor) -> tf.Tensor:
        return ours_ctc(b, a, input_lengths=frames, target_lengths=lengths)

    print(f"\n CTC (N, T, C) = {CTC_SHAPE}, target lengths {CTC_TARGET_LENGTHS}")
    check_tf("ctc vs tf.nn.ctc_loss", ctc, tf_ctc, x, t, t, GRAD_TOLERANCE)
    steps = {"tf.nn.ctc_loss": tf_steps(tf_ctc, x, t), "ours": tf_steps(ctc, x, t)}
    candidates = []
    for mode in ("eager", "tf.function"):
        reference = Candidate("tf.nn.ctc_loss", mode, steps["tf.nn.ctc_loss"].modes[mode])
        candidates += [reference, Candidate("ours", mode, steps["ours"].modes[mode], reference)]
    with composite_ops():  # traced with the composite recursion, then timed like the others
        composite = tf_steps(ctc, x, t)
        composite.modes["tf.function"]()
    candidates.append(Candidate("ours, composite", "tf.function", composite.modes["tf.function"], candidates[2]))
    print_table(f"CTC {CTC_SHAPE}", candidates, measure(candidates, settings))


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few short samples (smoke run, noisy numbers)")
    parser.add_argument("--only", choices=("torch", "tf"), help="run one framework's section")
    return parser.parse_args(argv)


# glibc returns freed blocks above its mmap threshold to the kernel, so every
# step of every implementation pays fresh page faults for its multi-MB
# temporaries; that cost swamped the differences between implementations and
# made medians swing by 1.5x.  Keeping freed memory in the heap (same settings
# for every implementation) measures the losses instead of the allocator.
ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(2**30),
    "MALLOC_TOP_PAD_": str(256 * 2**20),
}


def _with_steady_allocator() -> None:
    """Re-execute this script once with ``ALLOCATOR_ENV`` (read by glibc at start-up)."""
    if all(os.environ.get(k) == v for k, v in ALLOCATOR_ENV.items()):
        return
    os.environ.update(ALLOCATOR_ENV)
    os.execv(sys.executable, [sys.executable, *sys.argv])


def main(argv: Sequence[str] | None = None) -> int:
    _with_steady_allocator()
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    sections: list[Callable[[Settings], None]] = []
    header = [
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average before the run {os.getloadavg()[0]:.2f}",
        f"numpy {np.__version__}",
        "allocator: " + " ".join(f"{k}={v}" for k, v in ALLOCATOR_ENV.items()),
    ]
    if os.environ.pop(COMPOSITE_ENV, None) is not None:
        header.append(f"{COMPOSITE_ENV} was set; cleared so that 'ours' rows time the fused path")
    if args.only in (None, "torch"):
        header.append(configure_torch())
        import monai

        header.append(f"monai {monai.__version__}")
        sections.append(torch_section)
    if args.only in (None, "tf"):
        header.append(configure_tf())
        sections.append(tf_section)
    header.append(
        f"sampling: {settings.samples} samples of >= {settings.sample_seconds:g} s each per implementation, "
        f"warm-up >= {settings.warmup_calls} calls and >= {settings.warmup_seconds:g} s, round-robin interleaved"
        + (" (--quick)" if args.quick else "")
    )
    print("lossbridge benchmarks: forward+backward time per step")
    for line in header:
        print(f"  {line}")
    started = time.perf_counter()
    for section in sections:
        section(settings)
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.2f} "
        f"(this run itself adds up to {THREADS})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
