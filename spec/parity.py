"""The parity matrix: every registered loss, preset, layout, target form and
sample, evaluated by the NumPy float64 reference, PyTorch and TensorFlow, in
values and gradients.

Errors (all dimensionless):

* value error -- ``max|v - v_ref| / max(max|v_ref|, VALUE_FLOOR[dtype])``,
  against the NumPy float64 reference;
* gradient error -- ``max|g - g_ref| / max(||g_ref||_2, GRAD_FLOOR)``: PyTorch
  against TensorFlow in the same dtype, and each framework (float64) against
  central finite differences of the NumPy reference (floor ``FD_FLOOR``);
* ``torch.autograd.gradcheck`` in float64;
* any NaN or inf in a value or gradient is a failure (the only float32
  check at a sample marked ``float32=False``, where the loss is not
  Lipschitz and float32 rounding of its inputs is amplified without bound).

The floors keep a loss that is 0 up to rounding (perfect predictions) from
turning 1e-17 of cancellation into a "relative error" of 1.  In float32 they
are where float32 rounding of O(1) intermediate terms sets the limit: a value
below 1 is held to an absolute error of 1e-5 (``torch.testing``'s float32
``atol``), a gradient whose norm is below 0.1 to 1e-6.  They bind at perfect
predictions: TensorFlow's CPU softmax can return 1 - 2^-24 for a row
saturated at +-50 (seen on an AVX2 AMD EPYC, for some batch sizes), where
exact arithmetic and PyTorch give 1, and the loss turns that ulp into
1.8e-7 (Jaccard), or 1.9e-6 and a gradient of 2.4e-7 through the focal
exponent ``(1 - T)^0.75``, where the exact answer is 0.  Finite differences
and gradcheck skip samples marked ``smooth=False`` (inputs on a clip
boundary).
"""

from __future__ import annotations

import importlib
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spec.registry import LossSpec, evaluate, get, specs
from spec.samples import Sample, one_hot

TOLERANCE = {
    ("value", "float64"): 1e-10,
    ("value", "float32"): 1e-5,
    ("grad", "float64"): 1e-9,
    ("grad", "float32"): 1e-5,
    ("fd", "float64"): 1e-6,
}
VALUE_FLOOR = {"float64": 1e-6, "float32": 1.0}
GRAD_FLOOR = {"float64": 1e-6, "float32": 1e-1}
FD_FLOOR = 1e-4  # central differences carry ~1e-11 of round-off at |x| = 50
DTYPES = ("float64", "float32")
FRAMEWORKS = {"torch": "losses_torch._parity", "tensorflow": "losses_tf._parity", "onnx": "spec._onnx_parity"}
# the frameworks that differentiate (ONNX graphs are evaluated forward only)
GRADIENT_FRAMEWORKS = ("torch", "tensorflow")
LAYOUTS = {"channels_first": 1, "channels_last": -1}


@dataclass
class Case:
    """One cell of the matrix: inputs already in the case's layout."""

    spec: LossSpec
    preset: str
    params: dict[str, Any]
    layout: str
    target_form: str
    reduction: str
    sample: Sample
    y_pred: np.ndarray
    y_true: np.ndarray
    sample_weight: np.ndarray | None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.spec.name}/{self.preset}/{self.layout}/{self.target_form}/{self.sample.name}/{self.reduction}"


@dataclass
class Row:
    """Worst errors of one (loss, preset) over all its cases."""

    loss: str
    preset: str
    cases: int = 0
    errors: dict[str, float] = field(default_factory=dict)
    worst: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def record(self, key: str, error: float, case: Case) -> None:
        if key not in self.errors or error > self.errors[key] or math.isnan(error):
            self.errors[key] = error
            self.worst[key] = case.label
        dtype = key.rsplit(" ", 1)[-1]
        kind = "fd" if key.startswith("fd") else ("grad" if key.startswith("grad") else "value")
        limit = TOLERANCE[(kind, dtype)]
        if not error <= limit:
            self.failures.append(f"{key} = {error:.3g} > {limit:g} at {case.label}")


def _layout(array: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(array, 1, -1)) if layout == "channels_last" else array


def _extras(spec: LossSpec, sample: Sample, layout: str) -> dict[str, np.ndarray]:
    """The sample's extra inputs in the case's layout (prediction-shaped ones move with y_pred)."""
    given = sample.extras or {}
    return {
        e.name: _layout(given[e.name], layout) if e.shape == "prediction" else given[e.name]
        for e in spec.inputs.extras
        if e.name in given
    }


def cases(spec: LossSpec, presets: Mapping[str, Mapping[str, Any]] | None = None, seed: int = 0) -> list[Case]:
    """All matrix cells of ``spec`` (its own presets unless ``presets`` is given)."""
    presets = spec.presets if presets is None else presets
    result = []
    for preset_index, (preset, values) in enumerate(presets.items()):
        base = spec.bind(values)
        rng = np.random.default_rng([seed, preset_index])
        samples = spec.samples(rng, base)
        layouts = list(LAYOUTS) if spec.has_class_axis else ["channels_first"]
        reductions = ("mean", "sum", "none") if preset == "default" else ("mean",)
        for layout, sample, reduction in itertools.product(layouts, samples, reductions):
            params = dict(base)
            if spec.has_class_axis:
                params["class_axis"] = LAYOUTS[layout]
            forms = []
            if sample.labels is not None and spec.inputs.labels:
                forms.append(("labels", sample.labels))
            if sample.dense is not None:
                forms.append(("dense", sample.dense))
            elif sample.labels is not None:
                forms.append(("dense", one_hot(sample.labels, sample.y_pred.shape[1])))
            for form, target in forms:
                target = target if form == "labels" else _layout(target, layout)
                result.append(
                    Case(
                        spec,
                        preset,
                        params,
                        layout,
                        form,
                        reduction,
                        sample,
                        _layout(sample.y_pred, layout),
                        target,
                        sample.sample_weight,
                        _extras(spec, sample, layout),
                    )
                )
    return result


def reference(case: Case, y_pred: np.ndarray | None = None, *, check_values: bool = True) -> np.ndarray:
    """The NumPy float64 value of ``case`` (optionally at another ``y_pred``)."""
    value = evaluate(
        case.spec,
        case.params,
        case.y_pred if y_pred is None else y_pred,
        case.y_true,
        sample_weight=case.sample_weight,
        reduction=case.reduction,
        check_values=check_values,
        extras=case.extras,
    )
    return np.asarray(value, dtype=np.float64)


def _steps(case: Case, x: np.ndarray) -> np.ndarray:
    """Per-element finite-difference steps: ``1e-4 * max(|x|, 1)``; for
    probabilities ``1e-3`` of the distance to 0 or 1, so every probe is a
    probability and ``log p`` stays well resolved near 0."""
    if case.params.get("from_logits") is False:
        return 1e-3 * np.minimum(x, 1.0 - x)
    return 1e-4 * np.maximum(np.abs(x), 1.0)


def _central_difference(total_at: Callable[[float], float]) -> float:
    """Fourth-order central difference at 0 with unit step (truncation O(h^4))."""
    return (8.0 * (total_at(1.0) - total_at(-1.0)) - (total_at(2.0) - total_at(-2.0))) / 12.0


def finite_difference_gradient(case: Case) -> np.ndarray:
    """Fourth-order central differences of ``sum(reference value)`` with
    respect to each element of ``y_pred`` (steps from :func:`_steps`)."""
    x = np.array(case.y_pred, dtype=np.float64, order="C")  # writable: probes write through reshape(-1)
    flat, steps = x.reshape(-1), _steps(case, x).reshape(-1)
    grad = np.zeros(flat.size)
    for i in range(flat.size):
        saved, h = flat[i], steps[i]

        def total_at(t: float, i: int = i, saved: float = saved, h: float = h) -> float:
            flat[i] = saved + t * h
            return float(reference(case, x, check_values=False).sum())

        grad[i] = _central_difference(total_at) / h
        flat[i] = saved
    return grad.reshape(x.shape)


def finite_difference_directions(case: Case, count: int) -> list[tuple[np.ndarray, float]]:
    """``count`` random directional derivatives of ``sum(reference value)``:
    pairs ``(u, d)`` with ``d ~ grad . u``, where ``u`` is a random +-1 sign
    per element times that element's step.

    Four evaluations per direction instead of four per element.  With
    Rademacher signs a gradient error ``e`` in any one element moves
    ``grad . u`` by exactly ``|e| h``, as the per-element check would see
    it; errors in several elements cancel only on a set of sign patterns
    that ``count`` independent draws all miss with probability ``2^-count``
    or less.
    """
    x = np.array(case.y_pred, dtype=np.float64)
    steps = _steps(case, x)
    seed = np.frombuffer(case.label.encode(), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    probes = []
    for _ in range(count):
        u = rng.choice((-1.0, 1.0), size=x.shape) * steps

        def total_at(t: float, u: np.ndarray = u) -> float:
            return float(reference(case, x + t * u, check_values=False).sum())

        probes.append((u, _central_difference(total_at)))
    return probes


def _directional_error(grad: np.ndarray, probes: list[tuple[np.ndarray, float]]) -> float:
    """Largest ``|grad . u - d|`` over the probes, relative to the gradient's
    norm (floor ``FD_FLOOR``) times the largest step."""
    scale = max(float(np.linalg.norm(grad)), FD_FLOOR)
    return max(float(abs(np.sum(grad * u) - d) / (scale * np.max(np.abs(u)))) for u, d in probes)


def _value_error(value: np.ndarray, ref: np.ndarray, dtype: str) -> float:
    if value.shape != ref.shape:
        return math.inf
    scale = max(np.max(np.abs(ref), initial=0.0), VALUE_FLOOR[dtype])
    return float(np.max(np.abs(value - ref), initial=0.0) / scale)


def _grad_error(grad: np.ndarray, ref: np.ndarray, floor: float) -> float:
    return float(np.max(np.abs(grad - ref), initial=0.0) / max(float(np.linalg.norm(ref)), floor))


def load_frameworks(names: Iterable[str] = FRAMEWORKS) -> dict[str, Any]:
    """Import the framework adapters (torch first: importing TensorFlow first
    has crashed torch imports in some version pairs)."""
    return {name: importlib.import_module(FRAMEWORKS[name]) for name in sorted(names, key=lambda n: n != "torch")}


def run_case(
    case: Case,
    frameworks: Mapping[str, Any],
    row: Row,
    *,
    finite_differences: bool = True,
    fd_directions: int | None = None,
) -> None:
    """Evaluate one case everywhere and record its errors in ``row``.

    ``fd_directions``: ``None`` differentiates by every element of
    ``y_pred``; a count probes that many random directions instead (and
    gradcheck runs in its fast, random-projection mode).
    """
    ref = reference(case)
    results: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    differentiating = [name for name in frameworks if name in GRADIENT_FRAMEWORKS]
    for name in differentiating:
        adapter = frameworks[name]
        for dtype in DTYPES:
            value, grad = adapter.value_and_grad(
                case.spec, case.params, case.reduction, case.y_pred, case.y_true, case.sample_weight, dtype, case.extras
            )
            results[name, dtype] = (value, grad)
            if not (np.all(np.isfinite(value)) and np.all(np.isfinite(grad))):
                row.failures.append(f"NaN/inf in {name} {dtype} value or gradient at {case.label}")
            if dtype == "float64" or case.sample.float32:
                row.record(f"value {name} {dtype}", _value_error(value, ref, dtype), case)
    if "onnx" in frameworks:
        for dtype in DTYPES:
            value = frameworks["onnx"].value(case, dtype)
            if not np.all(np.isfinite(value)):
                row.failures.append(f"NaN/inf in the ONNX {dtype} value at {case.label}")
            if dtype == "float64" or case.sample.float32:
                row.record(f"value onnx {dtype}", _value_error(value, ref, dtype), case)
    if not np.all(np.isfinite(ref)):
        row.failures.append(f"NaN/inf in the NumPy reference at {case.label}")
    if "torch" in frameworks and "tensorflow" in frameworks:
        for dtype in DTYPES if case.sample.float32 else ("float64",):
            row.record(
                f"grad torch-tf {dtype}",
                _grad_error(results["torch", dtype][1], results["tensorflow", dtype][1], GRAD_FLOOR[dtype]),
                case,
            )
    if finite_differences and case.sample.smooth:
        if fd_directions is None:
            fd = finite_difference_gradient(case)
            for name in differentiating:
                row.record(f"fd {name} float64", _grad_error(results[name, "float64"][1], fd, FD_FLOOR), case)
        else:
            probes = finite_difference_directions(case, fd_directions)
            for name in differentiating:
                row.record(f"fd {name} float64", _directional_error(results[name, "float64"][1], probes), case)
        if "torch" in frameworks:
            try:
                frameworks["torch"].gradcheck(
                    case.spec,
                    case.params,
                    case.reduction,
                    case.y_pred,
                    case.y_true,
                    case.sample_weight,
                    case.extras,
                    fast_mode=fd_directions is not None,
                )
            except Exception as error:  # gradcheck raises GradcheckError with the Jacobians
                row.failures.append(f"gradcheck failed at {case.label}: {str(error).splitlines()[0]}")
    row.cases += 1


def check(
    spec: LossSpec,
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    frameworks: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    finite_differences: bool | str = True,
    fd_directions: int | None = None,
) -> list[Row]:
    """Run the matrix for one spec; one :class:`Row` per preset.

    ``finite_differences``: ``True`` (every smooth case), ``False``, or
    ``"per_sample"`` -- each smooth sample once per preset and layout, at its
    first target form and reduction (the test suite's setting; the values
    and the PyTorch-TensorFlow gradients still cover every case).
    ``fd_directions``: see :func:`run_case`.
    """
    frameworks = load_frameworks() if frameworks is None else frameworks
    all_cases = cases(spec, presets)
    rows: dict[str, Row] = {}
    probed: set[tuple[str, str, str]] = set()
    for index, case in enumerate(all_cases):
        if progress is not None:
            progress(index, len(all_cases), case.label)
        row = rows.setdefault(case.preset, Row(spec.name, case.preset))
        probe = bool(finite_differences)
        if finite_differences == "per_sample":
            key = (case.preset, case.layout, case.sample.name)
            probe = case.sample.smooth and key not in probed
            if probe:
                probed.add(key)
        try:
            run_case(case, frameworks, row, finite_differences=probe, fd_directions=fd_directions)
        except Exception as error:
            row.failures.append(f"{type(error).__name__} at {case.label}: {error}")
    return list(rows.values())


def check_all(names: Iterable[str] | None = None, **kwargs: Any) -> list[Row]:
    """Run the matrix for the named losses (all registered ones by default)."""
    chosen = [get(name) for name in names] if names else list(specs())
    return [row for spec in chosen for row in check(spec, **kwargs)]
