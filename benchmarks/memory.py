"""Peak memory of one forward+backward step, measured in the benchmark process.

What is measured: the peak of bytes *allocated by the framework's CPU
allocator* during one warmed-up step, above what was live before it.  It
counts every tensor the step creates -- the loss's temporaries, the tensors
autograd saves for the backward pass, the gradient buffer of the prediction
(1x its size: the gradient is cleared before the step) and the gradient's
temporaries -- and nothing the process held before (inputs, weights, caches).

* PyTorch has no allocator statistics on CPU, so the step runs once under
  ``torch.profiler.profile(profile_memory=True)``: its ``[memory]`` events are
  every allocation and free of the CPU allocator with its size; their running
  sum in time order peaks at the step's peak.  (An RSS-based figure measures
  glibc's heap instead; the profiler's agrees with the RSS increase of a fresh
  process within 0.2 MiB, see ``shared/research/perf-baselines.md``.)
* TensorFlow: ``tf.config.experimental.reset_memory_stats("CPU:0")`` before
  the step and ``get_memory_info("CPU:0")["peak"]`` after it, minus the bytes
  in use before.  TensorFlow's CPU allocator is a pool (BFC), so this is the
  peak of its live tensors, not of the process's RSS; XLA's compiled
  executables and their scratch buffers are allocated outside it in part, so
  ``jit`` figures can be lower than the memory the step really touches.

Figures are MiB (2**20 bytes); ``None`` where the measurement failed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MIB = 2.0**20


@contextmanager
def _quiet_stdio() -> Iterator[None]:
    """Keep the profiler's C++ start/stop lines (kineto writes them to the
    process's file descriptors) off the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def torch_peak_mib(step: Callable[[], object], clear: Callable[[], None]) -> float | None:
    """Peak MiB the CPU allocator holds above its starting point during ``step``.

    ``clear`` runs first, outside the measurement (it drops the previous
    step's gradient, so the step's own gradient buffer is counted)."""
    from torch.profiler import ProfilerActivity, profile

    clear()
    try:
        with _quiet_stdio(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except Exception:  # a profiler failure loses one figure, not the run
        return None
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
        peak = max(peak, live)
    return peak / MIB


def tf_peak_mib(step: Callable[[], object]) -> float | None:
    """Peak MiB of TensorFlow's CPU allocator above its use before ``step``."""
    import tensorflow as tf

    try:
        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        result = step()
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
    except Exception:
        return None
    del result
    return max(0, peak - before) / MIB
