"""``lossbridge crosscheck``: two hand-written implementations of one loss, one
in TensorFlow/Keras and one in PyTorch, compared on generated inputs.

The use case is research: a paper's loss in one framework, its port (or
another paper's version) in the other.  Both are called on the same arrays --
random inputs and edge cases (saturated logits, perfect predictions, a class
absent from the targets) -- in float64 and float32, and their values and
gradients with respect to the prediction are compared.

Conventions: the TensorFlow function is called Keras-style, ``fn(y_true,
y_pred)``; the torch function torch-style, ``fn(input, target)``.  A class
given instead of a function is instantiated without arguments.  Both receive
the prediction in the layout of ``--shape`` (class axis ``--class-axis``)
unless ``--tf-channels-last`` moves the TensorFlow side's class axis last.

Errors, per case and dtype: ``max|a - b| / max(max|b|, floor)`` for the value
and for the gradient (b = torch), floor 1e-6 in float64 and 1e-2 / 1e-4 in
float32 for values / gradients; NaN or inf in either is a failure.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PREDICTIONS = ("logits", "probabilities", "sigmoid", "values")
TARGETS = ("labels", "one-hot", "binary", "probabilities", "values")
DTYPES = ("float64", "float32")
TOLERANCE = {"float64": 1e-6, "float32": 1e-4}
VALUE_FLOOR = {"float64": 1e-6, "float32": 1e-2}
GRAD_FLOOR = {"float64": 1e-6, "float32": 1e-4}
SATURATION = 30.0


@dataclass
class Problem:
    """One generated input pair (channels as in ``--shape``)."""

    name: str
    y_pred: np.ndarray
    y_true: np.ndarray


@dataclass
class Result:
    case: str
    dtype: str
    value_tf: float
    value_torch: float
    value_error: float
    grad_error: float
    problem: str = ""
    tolerance: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problem and self.value_error <= self.tolerance and self.grad_error <= self.tolerance


def load_callable(path: str, *, what: str) -> Callable[..., Any]:
    """``package.module:attribute`` or ``file.py:attribute``; a class is instantiated without arguments."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{what} must be given as 'package.module:function' or 'file.py:function', got {path!r}")
    if module_name.endswith(".py"):
        file = Path(module_name)
        if not file.is_file():
            raise ValueError(f"{what}: no file {module_name!r}")
        spec = importlib.util.spec_from_file_location(file.stem, file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ValueError(f"{what}: cannot import {module_name!r}: {error}") from None
    try:
        target = module
        for part in attribute.split("."):
            target = getattr(target, part)
    except AttributeError:
        raise ValueError(f"{what}: module {module_name!r} has no attribute {attribute!r}") from None
    if inspect.isclass(target):
        target = target()
    if not callable(target):
        raise ValueError(f"{what}: {path!r} is not callable")
    return target


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _prediction(scores: np.ndarray, kind: str, axis: int) -> np.ndarray:
    """Logit-like ``scores`` as the requested kind of prediction."""
    if kind == "probabilities":
        return _softmax(scores, axis)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-scores))
    return scores


def problems(shape: Sequence[int], prediction: str, target: str, class_axis: int, seed: int = 0) -> list[Problem]:
    """Random inputs and edge cases for the given kinds."""
    shape = tuple(shape)
    axis = class_axis % len(shape)
    classes = shape[axis]
    label_shape = shape[:axis] + shape[axis + 1 :]
    rng = np.random.default_rng(seed)

    def one_hot(labels: np.ndarray) -> np.ndarray:
        return np.moveaxis(np.eye(classes)[labels], -1, axis)

    def random_target(absent: bool = False) -> np.ndarray:
        high = classes - 1 if absent and classes > 1 else classes
        labels = rng.integers(0, high, label_shape)
        if target == "labels":
            return labels
        if target == "one-hot":
            return one_hot(labels)
        if target == "binary":
            binary = (rng.random(shape) < 0.4).astype(np.float64)
            if absent:
                np.moveaxis(binary, axis, 0)[-1] = 0.0
            return binary
        if target == "probabilities":
            soft = _softmax(rng.normal(0.0, 1.0, shape), axis)
            return soft
        return rng.normal(0.0, 1.0, shape)

    def dense(target_array: np.ndarray) -> np.ndarray:
        return one_hot(target_array) if target == "labels" else target_array

    out = []
    for index in range(2):
        out.append(
            Problem(f"random-{index}", _prediction(rng.normal(0.0, 2.0, shape), prediction, axis), random_target())
        )
    if target in ("labels", "one-hot", "binary", "probabilities"):
        out.append(
            Problem(
                "empty-class", _prediction(rng.normal(0.0, 2.0, shape), prediction, axis), random_target(absent=True)
            )
        )
    y = random_target()
    if prediction == "values":
        out.append(Problem("perfect", np.array(dense(y), dtype=np.float64), y))
        out.append(Problem("large", rng.normal(0.0, 100.0, shape), y))
    else:
        signs = 2.0 * np.round(dense(y)) - 1.0
        if prediction == "logits":
            out.append(Problem("perfect", SATURATION * signs, y))
            out.append(Problem("saturated-wrong", -SATURATION * signs, y))
        else:
            out.append(Problem("perfect", _prediction(SATURATION * signs, prediction, axis), y))
            out.append(Problem("saturated-wrong", _prediction(-SATURATION * signs, prediction, axis), y))
    return out


def _error(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max(initial=0.0) / max(float(np.abs(b).max(initial=0.0)), floor))


def compare(
    tf_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    cases: Sequence[Problem],
    *,
    class_axis: int,
    tf_channels_last: bool = False,
    tolerance: dict[str, float] | None = None,
) -> list[Result]:
    """Run both functions on every case in float64 and float32; ``tolerance`` per dtype
    (default ``TOLERANCE``)."""
    tolerance = {**TOLERANCE, **(tolerance or {})}
    from spec import parity

    frameworks = parity.load_frameworks(("torch", "tensorflow"))
    torch_side, tf_side = frameworks["torch"], frameworks["tensorflow"]
    results = []
    for case in cases:
        ndim = case.y_pred.ndim
        axis = class_axis % ndim
        move = tf_channels_last and axis != ndim - 1
        tf_pred = np.moveaxis(case.y_pred, axis, -1) if move else case.y_pred
        tf_true = np.moveaxis(case.y_true, axis, -1) if move and case.y_true.ndim == ndim else case.y_true
        for dtype in DTYPES:
            problem = ""
            try:
                value_pt, grad_pt = torch_side.call_value_and_grad(torch_fn, case.y_pred, case.y_true, dtype)
            except Exception as error:  # a user function: report, do not crash the table
                results.append(Result(case.name, dtype, np.nan, np.nan, np.inf, np.inf, f"torch raised {error!r}"))
                continue
            try:
                value_tf, grad_tf = tf_side.call_value_and_grad(tf_fn, tf_pred, tf_true, dtype)
            except Exception as error:
                results.append(Result(case.name, dtype, np.nan, np.nan, np.inf, np.inf, f"TF raised {error!r}"))
                continue
            if move:
                grad_tf = np.moveaxis(grad_tf, -1, axis)
                if value_tf.ndim == ndim:
                    value_tf = np.moveaxis(value_tf, -1, axis)
            if value_tf.shape != value_pt.shape:
                problem = f"value shapes differ: TF {value_tf.shape}, torch {value_pt.shape}"
            finite = all(np.isfinite(a).all() for a in (value_tf, value_pt, grad_tf, grad_pt))
            if not finite and not problem:
                problem = "NaN or inf in a value or gradient"
            results.append(
                Result(
                    case.name,
                    dtype,
                    float(np.mean(value_tf)),
                    float(np.mean(value_pt)),
                    _error(value_tf, value_pt, VALUE_FLOOR[dtype]),
                    _error(grad_tf, grad_pt, GRAD_FLOOR[dtype]),
                    problem,
                    tolerance[dtype],
                )
            )
    return results


def table(results: Sequence[Result]) -> str:
    header = (
        f"{'case':16s} {'dtype':8s} {'value TF':>14s} {'value torch':>14s} {'value err':>10s} {'grad err':>10s}  result"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        verdict = "PASS" if r.passed else "FAIL"
        lines.append(
            f"{r.case:16s} {r.dtype:8s} {r.value_tf:14.7g} {r.value_torch:14.7g} {r.value_error:10.1e} "
            f"{r.grad_error:10.1e}  {verdict}" + (f"  ({r.problem})" if r.problem else "")
        )
    return "\n".join(lines)


def verdict(results: Sequence[Result]) -> str:
    failed = [r for r in results if not r.passed]
    limits = ", ".join(sorted({f"{r.dtype} <= {r.tolerance:g}" for r in results}))
    if not failed:
        return f"AGREE: the two implementations agree in values and gradients on all {len(results)} cases ({limits})"
    names = sorted({f"{r.case}/{r.dtype}" for r in failed})
    return f"DISAGREE: {len(failed)} of {len(results)} cases differ beyond the tolerance ({limits}): {', '.join(names)}"
