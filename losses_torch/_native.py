"""C kernels behind the overlap statistics of :mod:`losses_torch._fused`, compiled on first use.

Eager PyTorch needs at least four passes over the probabilities for the
overlap statistics of integer labels (gather, scatter, sum; a broadcast and a
scatter back), each a separate kernel launch, and three (two products and
their sums) against dense targets.  ``_kernels/overlap_statistics.c`` does
the forward in one read of the probabilities and targets and the backward in
one write of the gradient (the softmax's backward folded in), and never
stores a one-hot tensor.

The source is compiled with the system C compiler (``$CC``, else ``cc`` or
``gcc``) into a cache directory (``$LOSSBRIDGE_CACHE_DIR``, else
``~/.cache/lossbridge``), once per source, compiler and CPU, and loaded with
:mod:`ctypes`.  Where PyTorch runs on GNU OpenMP (its Linux builds), the
kernels are built with ``-fopenmp`` and linked against the very ``libgomp``
file PyTorch loaded, so their parallel blocks run on PyTorch's own worker
threads and follow ``torch.set_num_threads``; elsewhere they run on one
thread.  Without a compiler, or with ``LOSSBRIDGE_NATIVE=0``, the
statistics take the PyTorch-op path (one warning says why).  The kernels
handle CPU float32/float64 probabilities whose positions are contiguous for
each sample and class (channels-first memory); other layouts take the
PyTorch-op path too.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

from spec.ops import environment_variable

Tensor = torch.Tensor
SOURCE = Path(__file__).with_name("_kernels") / "overlap_statistics.c"
FLAGS = ("-O3", "-fPIC", "-fopenmp-simd", "-march=native")
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}


def enabled() -> bool:
    """Whether the native kernels may be used (``LOSSBRIDGE_NATIVE`` is not ``0``)."""
    return environment_variable("LOSSBRIDGE_NATIVE") not in ("0", "false", "False", "")


def available() -> bool:
    """Whether the kernels are compiled and loaded (compiling them if needed)."""
    return enabled() and _library() is not None


def _cpu_signature() -> str:
    """What ``-march=native`` depends on: the CPU's feature flags where Linux lists them."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return flags or platform.node()


def _cache_dir() -> Path:
    configured = os.environ.get("LOSSBRIDGE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "lossbridge"


def _torch_openmp() -> Path | None:
    """The GNU OpenMP runtime this process has loaded (PyTorch's), if any.

    Linking the kernels against that file, not the compiler's own
    ``libgomp``, makes the dynamic loader reuse the loaded runtime: one
    thread pool, not a second one competing with PyTorch's for the cores."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/libgomp" in line}
    except OSError:
        return None
    found = sorted(Path(path) for path in paths if Path(path).name.startswith("libgomp") and ".so" in path)
    return found[0] if found and found[0].exists() else None


def _compile(compiler: str, target: Path, openmp: Path | None) -> None:
    """Both precisions of the kernel into one shared library at ``target``
    (written beside it, then renamed: concurrent first uses are safe)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    threads = ("-fopenmp",) if openmp else ()
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        objects = []
        for scalar, suffix, bits in (("float", "f32", 32), ("double", "f64", 64)):
            obj = Path(work) / f"overlap_statistics_{suffix}.o"
            defines = (f"-DSCALAR={scalar}", f"-DSUFFIX={suffix}", f"-DBITS={bits}")
            command = [compiler, *FLAGS, *threads, *defines, "-c", str(SOURCE), "-o", str(obj)]
            subprocess.run(command, check=True, capture_output=True)
            objects.append(str(obj))
        built = Path(work) / target.name
        runtime = (str(openmp), f"-Wl,-rpath,{openmp.parent}") if openmp else ()
        subprocess.run([compiler, "-shared", *objects, *runtime, "-o", str(built)], check=True, capture_output=True)
        os.replace(built, target)


@functools.cache
def _library() -> ctypes.CDLL | None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        warnings.warn(
            "lossbridge: no C compiler found ($CC, cc, gcc): the overlap statistics of integer labels "
            "take the slower PyTorch-op path",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    try:
        version = subprocess.run([compiler, "--version"], check=True, capture_output=True, text=True).stdout
        openmp = _torch_openmp()
        identity = [SOURCE.read_text(), *FLAGS, str(openmp), version, _cpu_signature()]
        key = hashlib.sha256("\0".join(identity).encode()).hexdigest()
        target = _cache_dir() / f"overlap_statistics-{key[:20]}.so"
        if not target.exists():
            _compile(compiler, target, openmp)
        library = ctypes.CDLL(str(target))
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        detail = detail.decode(errors="replace").strip() if isinstance(detail, bytes) else str(detail).strip()
        warnings.warn(
            f"lossbridge: could not build the native overlap kernel with {compiler} ({error}; {detail[:500]}): "
            "the overlap statistics take the slower PyTorch-op path",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    pointer, size, flag = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    layout = [pointer, pointer, pointer, size, size, size, size, size, flag]
    for suffix in _SUFFIX.values():
        forward = getattr(library, f"label_statistics_{suffix}")
        forward.argtypes, forward.restype = [pointer, *layout, pointer], ctypes.c_int64
        backward = getattr(library, f"label_statistics_backward_{suffix}")
        backward.argtypes, backward.restype = [flag, *layout, pointer, pointer, pointer], None
        forward = getattr(library, f"dense_statistics_{suffix}")
        forward.argtypes, forward.restype = [pointer, pointer, pointer, *layout[3:], pointer], ctypes.c_int64
        backward = getattr(library, f"dense_statistics_backward_{suffix}")
        backward.argtypes, backward.restype = [flag, pointer, pointer, *layout[3:], pointer, pointer, pointer], None
    return library


def _channels_first(probs: Tensor, axis: int) -> Tensor | None:
    """``probs`` as a contiguous ``(N, C, ...)`` view (class axis moved to 1),
    or ``None`` when the kernels cannot read it in place."""
    if probs.device.type != "cpu" or probs.dtype not in _SUFFIX or probs.dim() < 2 or axis == 0:
        return None
    moved = probs.movedim(axis, 1)
    return moved if moved.is_contiguous() else None


def _arguments(moved: Tensor, targets: Tensor, valid: Tensor | None, squared: bool) -> tuple:
    """The kernels' leading arguments: label kernels take the mask after the
    targets, dense kernels none."""
    samples, classes = moved.shape[:2]
    positions = moved[0, 0].numel() if samples and classes else 0
    layout = (samples, classes, positions, moved.stride(0), moved.stride(1), int(squared))
    if _is_dense(targets):
        return (moved.data_ptr(), targets.data_ptr(), *layout)
    mask = None if valid is None else valid.data_ptr()
    return (moved.data_ptr(), targets.data_ptr(), mask, *layout)


def _is_dense(targets: Tensor) -> bool:
    """Prepared targets: int64 labels ``(N, S)`` or dense ``(N, C, ...)`` in a float dtype."""
    return targets.dtype != torch.int64


def _kernel(name: str, moved: Tensor, targets: Tensor):
    kind = "dense" if _is_dense(targets) else "label"
    return getattr(_library(), f"{kind}_{name}_{_SUFFIX[moved.dtype]}")


def applies(probs: Tensor, axis: int) -> bool:
    """Whether :func:`prepare` would take ``probs`` (class ``axis``)."""
    return _channels_first(probs, axis) is not None and available()


def prepare(probs: Tensor, targets: Tensor, axis: int, valid: Tensor | None) -> tuple | None:
    """The kernels' inputs ``(moved, targets, valid)``, or ``None`` when they
    do not apply (disabled, not compiled, or a layout they do not read).

    ``moved`` is ``probs`` channels-first.  Integer labels (``probs``' shape
    without the class axis) become int64 and the mask ``probs``' dtype, both
    ``(N, S)`` contiguous; dense targets (``probs``' shape, no mask) are moved
    channels-first in ``probs``' dtype, contiguous."""
    moved = _channels_first(probs, axis)
    if moved is None or not available():
        return None
    samples = moved.shape[0]
    if targets.dim() == probs.dim():
        if valid is not None:
            return None
        return moved, targets.movedim(axis, 1).to(probs.dtype).contiguous(), None
    labels = targets.reshape(samples, -1).to(torch.int64).contiguous()
    if valid is not None:
        valid = valid.reshape(samples, -1).to(probs.dtype).contiguous()
    return moved, labels, valid


def overlap_statistics(
    moved: Tensor, targets: Tensor, valid: Tensor | None, squared: bool, *, logits: Tensor | None = None
) -> tuple[Tensor, ...]:
    """``(I, P, G)``, each ``(N, C)`` in ``moved``'s dtype, from :func:`prepare`'s inputs.

    With ``logits`` (channels-first and contiguous like ``moved``), the
    kernel first writes their softmax over the classes into ``moved``.
    Raises ``RuntimeError`` when a label at a counted position (``valid``
    nonzero) lies outside ``[0, C)``, as PyTorch's index ops do."""
    samples, classes = moved.shape[:2]
    out = torch.empty(3, samples, classes, dtype=torch.float64)
    source = None if logits is None else logits.data_ptr()
    arguments = _arguments(moved, targets, valid, squared)
    outside = _kernel("statistics", moved, targets)(source, *arguments, out.data_ptr())
    if outside < 0:
        raise MemoryError(f"overlap_statistics: no memory for the block sums of {tuple(moved.shape)} probabilities")
    if outside:
        # what F.one_hot and gather raise; the registry names the label in the spec's words
        raise RuntimeError(f"overlap_statistics: {outside} label(s) outside [0, {classes}) at counted positions")
    return tuple(out.to(moved.dtype).unbind(0))


def overlap_statistics_backward(
    moved: Tensor,
    targets: Tensor,
    valid: Tensor | None,
    squared: bool,
    grad_intersection: Tensor,
    grad_pred: Tensor,
    axis: int,
    *,
    softmax: bool = False,
) -> Tensor:
    """The gradient w.r.t. the probabilities ``moved`` (in the original axis
    order), or with ``softmax`` w.r.t. the logits ``moved`` is the softmax of
    (over the classes)."""
    grad = torch.empty_like(moved)
    grad_intersection = grad_intersection.to(moved.dtype).expand(moved.shape[:2]).contiguous()
    grad_pred = grad_pred.to(moved.dtype).expand(moved.shape[:2]).contiguous()
    arguments = (*_arguments(moved, targets, valid, squared), grad_intersection.data_ptr(), grad_pred.data_ptr())
    _kernel("statistics_backward", moved, targets)(int(softmax), *arguments, grad.data_ptr())
    return grad.movedim(1, axis)
