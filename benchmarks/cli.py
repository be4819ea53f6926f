"""``python -m benchmarks`` / ``lossbridge bench``: time every registered loss against its peers.

Usage::

    python -m benchmarks                       # full run: writes benchmarks/results.md and .png
    python -m benchmarks --quick               # smoke run (< 5 minutes on 2 cores); prints only
    python -m benchmarks --check               # no timing: build and evaluate every row once (exit 1 on a mismatch)
    python -m benchmarks --loss dice --loss categorical_crossentropy --sizes 3d
    python -m benchmarks --modes torch-eager,tf-jit --out /tmp/bench.md

A timing run exits 0 whatever the numbers are (it is not a test).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import pickle
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.inputs import SIZE_SETS, Size

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
THREADS = 2
DEFAULT_OUT = HERE / "results.md"
COMMAND_ENV = "LOSSBRIDGE_BENCH_COMMAND"  # how the user ran it, kept across the re-execution
ROWS_ENV = "LOSSBRIDGE_BENCH_ROWS"  # where the child keeps each finished loss's rows
STARTED_ENV = "LOSSBRIDGE_BENCH_STARTED"  # when the parent started (the run's duration spans restarts)
MAX_RESTARTS = 8
# --check evaluates eagerly: tests/test_compile.py covers torch.compile and XLA on every loss
CHECK_MODES = ("torch-eager", "tf-eager")

# glibc returns freed blocks above its mmap threshold to the kernel, so every
# step pays fresh page faults for its multi-MB temporaries; that cost swamped
# the differences between implementations and made medians swing by 1.5x.
# Keeping freed memory in the heap (same settings for every implementation)
# measures the losses instead of the allocator.  (The allocator-level memory
# figures do not depend on it.)
ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(2**30),
    "MALLOC_TOP_PAD_": str(256 * 2**20),
}


def parse_args(argv: Sequence[str] | None, prog: str = "python -m benchmarks") -> argparse.Namespace:
    from benchmarks.harness import ALL_MODES

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Forward+backward time and peak memory of every registered loss against native and peer "
        "implementations (PyTorch and TensorFlow, eager and compiled).",
    )
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--quick", action="store_true", help="smaller sizes, few short samples (< 5 min on 2 cores)")
    how.add_argument(
        "--check", action="store_true", help="tiny sizes, one evaluation per row, no timing; exit 1 on a mismatch"
    )
    parser.add_argument("--loss", action="append", metavar="NAME", help="only this loss (repeatable; default: all)")
    parser.add_argument("--sizes", help="comma-separated subset of cls,2d,3d")
    parser.add_argument(
        "--modes",
        help=f"comma-separated subset of {','.join(ALL_MODES)} (default: all; --quick leaves out "
        f"torch-compile, --check runs {','.join(CHECK_MODES)})",
    )
    parser.add_argument(
        "--one-hot",
        choices=("segmentation", "all", "none"),
        help="also time one-hot targets for losses that take labels (default: the segmentation family; "
        "none with --quick)",
    )
    parser.add_argument(
        "--out", type=Path, help=f"Markdown report (default for a full run: {DEFAULT_OUT.relative_to(ROOT)})"
    )
    parser.add_argument("--plot", type=Path, help="plot (default: the --out path with .png)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    return parser.parse_args(argv)


def _with_steady_allocator(argv: Sequence[str], command: str) -> None:
    """Run as a child ``python -m benchmarks`` with ``ALLOCATOR_ENV`` (read by glibc at start-up)
    and exit with its status; return at once in that child.

    The child keeps each finished loss's rows in a directory (``ROWS_ENV``).  A native crash
    (a framework aborting the process) loses only the loss it happened in: the parent starts a
    new child, which reloads the finished losses, records the crashed one as an error row and
    goes on."""
    if all(os.environ.get(k) == v for k, v in ALLOCATOR_ENV.items()):
        return
    env = {**os.environ, **ALLOCATOR_ENV, COMMAND_ENV: command, STARTED_ENV: repr(time.time())}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    sys.stdout.flush()
    with tempfile.TemporaryDirectory(prefix="lossbridge-bench-") as rows_dir:
        env[ROWS_ENV] = rows_dir
        for _ in range(MAX_RESTARTS):
            code = subprocess.call([sys.executable, "-m", "benchmarks", *argv], env=env)
            if code == 0 or not _crashed_losses(Path(rows_dir)):
                break
            print(
                f"\nthe benchmark process died (status {code}) in {', '.join(_crashed_losses(Path(rows_dir)))}; "
                "restarting with the finished losses kept",
                flush=True,
            )
    raise SystemExit(code)


def _crashed_losses(rows_dir: Path) -> list[str]:
    """Losses a child started but did not finish."""
    return sorted(p.stem for p in rows_dir.glob("*.started") if not p.with_suffix(".rows").exists())


def _run_keeping_rows(specs: Sequence[Any], options: Any, progress: Any, rows_dir: Path) -> list[Any]:
    """``harness.run`` loss by loss, each loss's rows kept in ``rows_dir``: finished losses are
    reloaded, and a loss an earlier child died in becomes an error row."""
    from benchmarks import harness

    rows: list[Any] = []
    for loss in specs:
        finished, started = rows_dir / f"{loss.name}.rows", rows_dir / f"{loss.name}.started"
        if not finished.exists():
            if started.exists():
                problem = "the benchmark process crashed in this loss (a native abort; see the log): no timing"
                crashed = [harness.Row(loss.name, "", (), "", "", "", "", "ours", "ours", error=problem)]
                finished.write_bytes(pickle.dumps(crashed))
            else:
                started.touch()
                finished.write_bytes(pickle.dumps(harness.run([loss], options, progress)))
        rows += pickle.loads(finished.read_bytes())
    return rows


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def configure_frameworks() -> None:
    """torch first, then TensorFlow (the import order the tests use); 2 intra-op
    and 2 inter-op threads each; quiet logs; no composite ops left set."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.pop("LOSSBRIDGE_COMPOSITE_OPS", None)
    import torch

    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(THREADS)
    except RuntimeError:  # already set in this process
        pass
    import torch._dynamo

    # every loss and size is a new graph of the same forward(): never fall back to eager
    for limit in ("cache_size_limit", "recompile_limit"):
        if hasattr(torch._dynamo.config, limit):
            setattr(torch._dynamo.config, limit, 4096)
    with _quiet_stderr():  # TensorFlow's start-up banner, printed from C++ before its log level applies
        import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    except RuntimeError:  # TensorFlow already initialised (a test process)
        pass
    tf.get_logger().setLevel("ERROR")  # each tf.function is traced once; TF's retracing warning is noise


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment() -> tuple[list[str], dict[str, str]]:
    """The machine and the versions, for the report's header."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import tensorflow as tf

    machine = [
        platform.platform(),
        cpu,
        f"{os.cpu_count()} CPUs",
        f"torch threads {torch.get_num_threads()}/{torch.get_num_interop_threads()}, "
        f"TF threads {tf.config.threading.get_intra_op_parallelism_threads()}/"
        f"{tf.config.threading.get_inter_op_parallelism_threads()} (intra/inter)",
        f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}",
        f"load average before the run {os.getloadavg()[0]:.2f}",
        "allocator " + " ".join(f"{k}={v}" for k, v in ALLOCATOR_ENV.items() if os.environ.get(k) == v),
    ]
    versions = {"python": platform.python_version()}
    for name, distribution in (
        ("numpy", "numpy"),
        ("torch", "torch"),
        ("tensorflow", "tensorflow-cpu"),
        ("keras", "keras"),
        ("monai", "monai"),
        ("smp", "segmentation-models-pytorch"),
    ):
        versions[name] = _version(distribution)
    if versions["tensorflow"] == "not installed":
        versions["tensorflow"] = tf.__version__
    return machine, versions


def _sizes(args: argparse.Namespace) -> tuple[Size, ...]:
    chosen = SIZE_SETS["check" if args.check else "quick" if args.quick else "full"]
    if args.sizes:
        wanted = args.sizes.split(",")
        unknown = sorted(set(wanted) - {s.name for s in chosen})
        if unknown:
            raise SystemExit(f"--sizes: unknown size(s) {unknown}; expected a subset of cls,2d,3d")
        chosen = tuple(s for s in chosen if s.name in wanted)
    return chosen


def _modes(args: argparse.Namespace) -> tuple[str, ...]:
    from benchmarks.harness import ALL_MODES

    if not args.modes:
        if args.check:
            return CHECK_MODES
        return tuple(m for m in ALL_MODES if not (args.quick and m == "torch-compile"))
    wanted = tuple(args.modes.split(","))
    unknown = sorted(set(wanted) - set(ALL_MODES))
    if unknown:
        raise SystemExit(f"--modes: unknown mode(s) {unknown}; expected a subset of {','.join(ALL_MODES)}")
    return wanted


def main(argv: Sequence[str] | None = None, *, command: str = "python -m benchmarks") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = os.environ.get(COMMAND_ENV, command)
    args = parse_args(argv, command)
    if not args.check:
        _with_steady_allocator(argv, command)
    configure_frameworks()
    import spec
    from benchmarks import harness, peers, report, timing

    names = args.loss or spec.names()
    specs = [spec.get(name) for name in names]
    settings = timing.QUICK if args.quick else timing.FULL
    one_hot = args.one_hot or ("none" if args.quick else "segmentation")
    options = harness.Options(
        _sizes(args), _modes(args), one_hot, args.check, None if args.check else settings, tf_composite=not args.quick
    )
    machine, versions = environment()
    sampling = (
        "none (--check: one evaluation per row)"
        if args.check
        else f"{settings.samples} samples of >= {settings.sample_seconds:g} s per candidate, warm-up >= "
        f"{settings.warmup_calls} calls and >= {settings.warmup_seconds:g} s, round-robin"
    )
    print("lossbridge benchmarks: forward+backward time and peak memory per step")
    for line in [*machine, ", ".join(f"{k} {v}" for k, v in versions.items()), f"sampling: {sampling}"]:
        print(f"  {line}")
    print(f"  sizes: {', '.join(f'{s.name} {s.label}' for s in options.sizes)}; modes: {', '.join(options.modes)}")
    started = time.perf_counter() - (time.time() - float(os.environ.get(STARTED_ENV, repr(time.time()))))
    rows: list[harness.Row] = []

    def progress(item: object) -> None:
        if isinstance(item, str):
            sys.stderr.write(f"[{time.perf_counter() - started:7.1f} s] {item}\n")
            sys.stderr.flush()
        else:
            report.print_case(item, timed=not args.check)
            sys.stdout.flush()

    rows_dir = os.environ.get(ROWS_ENV)
    if rows_dir and not args.check:
        rows = _run_keeping_rows(specs, options, progress, Path(rows_dir))
    else:
        rows = harness.run(specs, options, progress)
    seconds = time.perf_counter() - started
    failures = [r for r in rows if r.failed]
    covered = sorted({r.loss for r in rows if r.kind == "ours" and not r.error})
    missing = [name for name in names if name not in covered]
    print(f"\n{len(rows)} rows for {len(covered)} of {len(names)} losses in {seconds:.0f} s")
    if missing:
        print(f"  no row for: {', '.join(missing)}")
    if failures:
        print(f"  {len(failures)} rows with an error or a value that differs from ours:")
        for row in failures:
            print(
                f"    {row.loss} {row.size} {row.form} {row.framework}/{row.mode} {row.name}: {row.error or row.check}"
            )
    out = args.out or (None if args.quick or args.check or args.loss or args.sizes or args.modes else DEFAULT_OUT)
    if out is not None and not args.check:
        header = report.Header(
            " ".join([command, shlex.join(argv)]).strip(),
            datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            machine,
            versions,
            sampling,
            seconds,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report.markdown(header, rows, peers.unbenchmarked()))
        print(f"wrote {out}")
        if not args.no_plot:
            picture = args.plot or out.with_suffix(".png")
            if report.plot(rows, picture):
                print(f"wrote {picture}")
    if args.check:
        return 1 if failures or missing else 0
    return 0
