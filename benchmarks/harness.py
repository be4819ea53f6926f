"""The benchmark of the whole registry: cases, value checks, timing, memory.

For every registered loss (``spec.specs()``), every size its samples cover
(``benchmarks/inputs.py``) and every target form, one *case*:

* **groups** -- the spec's default parameters, plus one group per distinct
  parameter set that a peer needs to compute the same number (smp's Dice is
  ``dice(smooth=0, batch=True, ...)``); each group has its own inputs;
* **candidates** -- ours in each mode (torch eager and ``torch.compile``;
  TensorFlow eager, ``tf.function``, ``tf.function(jit_compile=True)``), ours
  with ``LOSSBRIDGE_COMPOSITE_OPS=1`` (default group: torch eager and
  ``tf.function``), the peers that agree (``benchmarks/peers.py``), and per
  prediction shape the read-the-inputs floor;
* **checks before timing** -- every candidate's value and gradient against
  ours in eager mode of the same framework on the same inputs; a candidate
  that raises is reported with its error and not timed, one that disagrees is
  timed but flagged;
* **timing** -- the candidates of one framework and group are sampled
  round-robin (``benchmarks/timing.py``); **memory** -- one extra step each
  (``benchmarks/memory.py``).

``check=True`` stops after the checks (tiny sizes, one evaluation each): what
``tests/test_benchmarks.py`` and ``python -m benchmarks --check`` run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks import inputs as case_inputs
from benchmarks.frameworks import TfCase, TorchCase
from benchmarks.inputs import CHECK_SIZES, CaseInputs, Size
from benchmarks.peers import PeerConfig, call_forms, configs_for
from benchmarks.timing import Candidate, Settings, Timing, measure, second_step
from spec.registry import LossSpec

# agreement of a candidate with ours (float32): |v - v_ours| <= VALUE_RTOL * max(1, |v_ours|) and
# max|g - g_ours| <= GRAD_RTOL * max|g_ours| (+ GRAD_ATOL for an all-zero gradient)
VALUE_RTOL = 1e-4
SKIPPED = "not comparable"
NO_SAMPLE = "no sample of this rank"
GRAD_RTOL = 1e-3
GRAD_ATOL = 1e-7

TORCH_MODES = ("torch-eager", "torch-compile")
TF_MODES = ("tf-eager", "tf-function", "tf-jit")
ALL_MODES = TORCH_MODES + TF_MODES


@dataclass
class Options:
    """What to run.

    Attributes:
        sizes: the benchmark sizes.
        modes: subset of ``ALL_MODES``.
        one_hot: ``"segmentation"`` (one-hot targets too for that family),
            ``"all"`` or ``"none"``.
        check: stop after the value checks (no timing or memory).
        settings: sampling (timing runs only).
        tf_composite: also time ours with composite ops in ``tf.function``
            (torch eager always has its composite row).
    """

    sizes: Sequence[Size]
    modes: Sequence[str] = ALL_MODES
    one_hot: str = "segmentation"
    check: bool = False
    settings: Settings | None = None
    tf_composite: bool = True


@dataclass
class Row:
    """One candidate of one case: what the tables show."""

    loss: str
    size: str
    shape: tuple[int, ...]
    form: str
    group: str
    framework: str
    mode: str
    kind: str
    name: str
    note: str = ""
    value: float = math.nan
    check: str = ""
    error: str = ""
    median_ms: float = math.nan
    min_ms: float = math.nan
    first_ms: float = math.nan
    peak_mib: float | None = None
    ratios: dict[str, tuple[float, float]] = field(default_factory=dict)
    x_floor: float = math.nan

    @property
    def timed(self) -> bool:
        return not math.isnan(self.median_ms)

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.check.startswith("DIFFERS")


# ---------------------------------------------------------------------------
# inputs and agreement
# ---------------------------------------------------------------------------


def _evaluates(spec: LossSpec, params: dict[str, Any], inputs: CaseInputs) -> str:
    """'' if ours (torch eager) evaluates to a finite value and gradient, else why not."""
    try:
        value, grad = TorchCase(spec, inputs).ours(_ours_params(params)).value_and_grad()
    except Exception as error:
        return describe(error)
    return "" if np.isfinite(value) and np.all(np.isfinite(grad)) else "non-finite value or gradient"


def valid_inputs(spec: LossSpec, params: dict[str, Any], size: Size, form: str) -> tuple[CaseInputs | None, str]:
    """Inputs of ``spec`` at ``size`` that ours evaluates, or None and why.

    The classification size retries with the batch resized only (a loss with
    fixed non-batch sizes: 4 box coordinates)."""
    built = case_inputs.build(spec, params, size, form)
    if built is None:
        return None, NO_SAMPLE
    problem = _evaluates(spec, params, built)
    if problem and size.rank == 2:
        retry = case_inputs.build(spec, params, size, form, batch_only=True)
        if retry is not None and not _evaluates(spec, params, retry):
            return retry, ""
    return (None, problem) if problem else (built, "")


def agreement(value: float, grad: np.ndarray, ref_value: float, ref_grad: np.ndarray) -> str:
    """'ok' or what differs (see ``VALUE_RTOL``/``GRAD_RTOL``)."""
    if not (np.isfinite(value) and np.all(np.isfinite(grad))):
        return "DIFFERS: non-finite value or gradient"
    value_error = abs(value - ref_value) / max(1.0, abs(ref_value))
    if grad.shape != ref_grad.shape:
        return f"DIFFERS: gradient shape {grad.shape} vs {ref_grad.shape}"
    scale = float(np.max(np.abs(ref_grad), initial=0.0))
    grad_error = float(np.max(np.abs(grad - ref_grad), initial=0.0))
    if value_error > VALUE_RTOL or grad_error > GRAD_RTOL * scale + GRAD_ATOL:
        return f"DIFFERS: value {value:.6g} vs {ref_value:.6g}, gradient max diff {grad_error:.2g} (max {scale:.2g})"
    return "ok"


def describe(error: BaseException) -> str:
    """An exception in one line: its type and the first line of its message
    (the last for TensorFlow's ``in user code:`` traces, where the cause is)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    line = lines[-1] if lines[0].startswith("in user code") else lines[0]
    return f"{type(error).__name__}: {line[:200]}"


def _non_default(spec: LossSpec, params: dict[str, Any]) -> str:
    defaults = spec.bind({})
    return ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "class_axis" and defaults.get(k) != v)


def _ours_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters for our classes: the framework's own layout (class axis default)."""
    return {k: (None if k == "class_axis" else v) for k, v in params.items()}


# ---------------------------------------------------------------------------
# peers: which parameters and target form agree
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """How a peer computes what ours computes: with which of our parameter
    sets and which target form (None and why when none agrees)."""

    params: dict[str, Any] | None
    target: str = ""
    reason: str = ""


_PROBES: dict[tuple, Probe] = {}


def _case_for(framework: str, spec: LossSpec, inputs: CaseInputs) -> TorchCase | TfCase:
    return TorchCase(spec, inputs) if framework == "torch" else TfCase(spec, _layout_inputs(framework, spec, inputs))


def _layout_inputs(framework: str, spec: LossSpec, inputs: CaseInputs) -> CaseInputs:
    return inputs if framework == "torch" else case_inputs.channels_last(spec, inputs)


def parameter_choices(spec: LossSpec, config: PeerConfig) -> list[dict[str, Any]]:
    """Our parameter sets to try against a peer, most natural first: the
    defaults; the compat mapping's parameters with our default ``from_logits``
    (a mapping that applies the peer's activation in its ``prepare`` says
    ``from_logits=False`` for a peer that takes logits); the mapping's own."""
    defaults = spec.bind({})
    choices = [defaults]
    if config.params is not None:
        mapped = dict(config.params)
        if "from_logits" in mapped:
            choices.append({**mapped, "from_logits": defaults["from_logits"]})
        choices.append(mapped)
    unique = []
    for params in map(_ours_params, choices):
        if all(_non_default(spec, params) != _non_default(spec, seen) for seen in unique):
            unique.append(params)
    return unique


def _agreeing_target(
    spec: LossSpec, config: PeerConfig, params: dict[str, Any], inputs: CaseInputs
) -> tuple[str | None, list[str]]:
    """The first target form in which ``config`` agrees with ours(``params``)
    on ``inputs``, and why the forms tried before it did not."""
    case = _case_for(config.framework, spec, inputs)
    try:
        ours = case.ours(params).value_and_grad()
    except Exception as error:
        return None, [f"ours: {describe(error)}"]
    forms = call_forms(config, _layout_inputs(config.framework, spec, inputs), config.framework == "tf")
    if not forms:
        return None, ["a call argument has no counterpart in the spec's inputs"]
    reasons = []
    for call in forms:
        try:
            verdict = agreement(*case.peer(config, call).value_and_grad(), *ours)
        except Exception as error:
            verdict = describe(error)
        if verdict == "ok":
            return call.target, reasons
        reasons.append(f"target {call.target}: {verdict}")
    return None, reasons


def probe(spec: LossSpec, config: PeerConfig, size: Size, form: str) -> Probe:
    """Find, on tiny inputs of ``size``'s rank, our parameters and the peer's
    target form for which the peer's value and gradient agree with ours."""
    key = (spec.name, config.key, form, size.rank)
    if key not in _PROBES:
        tiny = next((s for s in CHECK_SIZES if s.rank == size.rank), size)
        reasons: list[str] = []
        found = Probe(None)
        for params in parameter_choices(spec, config):
            inputs, problem = valid_inputs(spec, params, tiny, form)
            target, why = _agreeing_target(spec, config, params, inputs) if inputs is not None else (None, [problem])
            reasons += why
            if target is not None:
                found = Probe(params, target)
                break
        _PROBES[key] = found if found.params is not None else Probe(None, reason="; ".join(dict.fromkeys(reasons)))
    return _PROBES[key]


# ---------------------------------------------------------------------------
# one case
# ---------------------------------------------------------------------------


@dataclass
class Group:
    """Candidates sharing one parameter set and one set of inputs."""

    params: dict[str, Any]
    label: str
    peers: list[tuple[PeerConfig, str]] = field(default_factory=list)
    default: bool = False


def groups_of(
    spec: LossSpec, size: Size, form: str, modes: Sequence[str]
) -> tuple[list[Group], list[tuple[PeerConfig, str]]]:
    """The default group and the peer groups of a case; notes on peers that do not agree."""
    defaults = spec.bind({})
    groups = {"": Group(defaults, "", default=True)}
    notes = []
    for config in configs_for(spec.name, form):
        if (config.framework == "torch" and "torch-eager" not in modes) or (
            config.framework == "tf" and not any(m in modes for m in TF_MODES)
        ):
            continue
        found = probe(spec, config, size, form)
        if found.params is None:
            notes.append((config, found.reason))
            continue
        label = _non_default(spec, found.params)
        group = groups.setdefault(label, Group(found.params, label))
        group.peers.append((config, found.target))
    return list(groups.values()), notes


def _candidates(
    spec: LossSpec, group: Group, inputs: CaseInputs, options: Options
) -> tuple[list[Candidate], list[Candidate], list[Row]]:
    """Torch and TensorFlow candidates of a group (and rows for those that could not be built)."""
    torch_side: list[Candidate] = []
    tf_side: list[Candidate] = []
    broken: list[Row] = []
    params = _ours_params(group.params)
    modes = options.modes

    def add(side: list[Candidate], build: Callable[[], Candidate], what: tuple[str, str, str, str]) -> None:
        try:
            side.append(build())
        except Exception as error:
            broken.append(Row(spec.name, "", (), "", group.label, *what, error=describe(error)))

    torch_case: TorchCase | None = None
    tf_case: TfCase | None = None
    torch_peers = [(c, t) for c, t in group.peers if c.framework == "torch"]
    tf_peers = [(c, t) for c, t in group.peers if c.framework == "tf"]
    if "torch-eager" in modes and (group.default or torch_peers):
        torch_case = TorchCase(spec, inputs)
        add(torch_side, lambda: torch_case.ours(params), ("torch", "eager", "ours", "ours"))
        if group.default:
            add(torch_side, lambda: torch_case.ours(params, kind="composite"), ("torch", "eager", "composite", "ours"))
            if "torch-compile" in modes:
                add(torch_side, lambda: torch_case.ours(params, "compile"), ("torch", "compile", "ours", "ours"))
        for config, target in torch_peers:
            add(
                torch_side,
                lambda c=config, t=target: torch_case.peer(c, _form_named(c, inputs, t, "torch", spec)),
                ("torch", "eager", "peer", config.label),
            )
    tf_modes = [m.split("-", 1)[1] for m in modes if m in TF_MODES]
    if tf_modes and (group.default or tf_peers):
        tf_case = TfCase(spec, case_inputs.channels_last(spec, inputs))
        for mode in tf_modes:
            add(tf_side, lambda m=mode: tf_case.ours(params, m), ("tf", mode, "ours", "ours"))
            for config, target in tf_peers:
                add(
                    tf_side,
                    lambda c=config, t=target, m=mode: tf_case.peer(c, _form_named(c, inputs, t, "tf", spec), m),
                    ("tf", mode, "peer", config.label),
                )
        if group.default and "function" in tf_modes and options.tf_composite:
            add(tf_side, lambda: tf_case.ours(params, "function", "composite"), ("tf", "function", "composite", "ours"))
    if not options.check:  # the floor of the same prediction shape, sampled in the same rounds
        if torch_case is not None:
            add(torch_side, lambda: floor("torch", inputs.shape, "eager"), ("torch", "eager", "floor", "floor"))
        if tf_case is not None:
            for mode in tf_modes:
                add(tf_side, lambda m=mode: floor("tf", inputs.shape, m), ("tf", mode, "floor", "floor"))
    return torch_side, tf_side, broken


_FLOORS: dict[tuple[str, tuple[int, ...], str], Candidate] = {}


def floor(framework: str, shape: tuple[int, ...], mode: str) -> Candidate:
    """The floor candidate of a prediction shape, built (and traced) once per run."""
    key = (framework, shape, mode)
    if key not in _FLOORS:
        inputs = CaseInputs(np.zeros(shape, np.float32), np.zeros(shape, np.float32))
        _FLOORS[key] = TorchCase(None, inputs).floor() if framework == "torch" else TfCase(None, inputs).floor(mode)
    return _FLOORS[key]


def _form_named(config: PeerConfig, inputs: CaseInputs, target: str, framework: str, spec: LossSpec) -> Any:
    forms = call_forms(config, _layout_inputs(framework, spec, inputs), framework == "tf")
    return next(f for f in forms if f.target == target)


def _check(candidates: Sequence[Candidate], rows: list[Row]) -> list[Candidate]:
    """Evaluate every candidate once (its first call, timed: tracing and
    compilation); compare with ours in eager mode; return the ones that ran."""
    reference = None
    ran = []
    for candidate, row in zip(candidates, rows, strict=True):
        started = time.perf_counter()
        try:
            value, grad = candidate.value_and_grad()
        except Exception as error:
            row.error = describe(error)
            continue
        row.first_ms = 1e3 * (time.perf_counter() - started)
        row.value = value
        if candidate.kind == "floor":
            row.check = "floor"
        elif candidate.kind == "ours" and candidate.mode == "eager":
            reference = (value, grad)
            row.check = "reference"
        elif reference is None:
            row.check = "no reference"
        else:
            row.check = agreement(value, grad, *reference)
        ran.append(candidate)
    return ran


def _row(spec: LossSpec, size: Size, inputs: CaseInputs, group: Group, candidate: Candidate) -> Row:
    return Row(
        spec.name,
        size.name,
        inputs.shape,
        inputs.form,
        group.label,
        candidate.framework,
        candidate.mode,
        candidate.kind,
        candidate.name,
        candidate.note,
    )


def _time(candidates: list[Candidate], rows: dict[int, Row], settings: Settings) -> None:
    """Sample ``candidates`` round-robin (the slow ones once each), measure their
    memory and record the ratios of ours to the peers and to the composite path."""
    if not candidates:
        return
    second_steps = {id(c): second_step(c) for c in candidates}  # the first, in the checks, traced or compiled
    slow = [c for c in candidates if second_steps[id(c)] > settings.max_step_seconds]
    sampled = [c for c in candidates if c not in slow]
    by_id = {id(c): t for c, t in zip(sampled, measure(sampled, settings), strict=True)}
    for candidate in slow:
        by_id[id(candidate)] = Timing((second_steps[id(candidate)],))
        rows[id(candidate)].note = "; ".join(filter(None, [rows[id(candidate)].note, "slow: 1 sample"]))
    for candidate in candidates:
        row, timing = rows[id(candidate)], by_id[id(candidate)]
        row.median_ms, row.min_ms = 1e3 * timing.median, 1e3 * timing.minimum
        row.peak_mib = candidate.memory()
    _record_ratios(candidates, by_id, rows)


def _comparable(mode: str, other: str) -> bool:
    """``torch.compile`` rows are compared with the eager peers and floor (neither is compiled)."""
    return other == mode or (mode == "compile" and other == "eager")


def _record_ratios(candidates: list[Candidate], timings: dict[int, Timing], rows: dict[int, Row]) -> None:
    """Every candidate over the floor of its mode; ours (and our composite
    path) against each peer of its mode, and ours against our composite path."""
    floors = {c.mode: timings[id(c)] for c in candidates if c.kind == "floor"}
    for candidate in candidates:
        mine = timings[id(candidate)]
        floor = floors.get("eager" if candidate.mode == "compile" else candidate.mode)
        if floor is not None:
            rows[id(candidate)].x_floor = mine.median / floor.median
        if candidate.kind not in ("ours", "composite"):
            continue
        for other in candidates:
            peer = other.kind == "peer" and _comparable(candidate.mode, other.mode)
            composite = other.kind == "composite" and candidate.kind == "ours" and other.mode == candidate.mode
            if other is not candidate and (peer or composite):
                theirs = timings[id(other)]
                rows[id(candidate)].ratios[other.name] = (mine.median / theirs.median, mine.paired_ratio(theirs))


def _note_row(spec: LossSpec, size: Size, form: str, group: str, config: PeerConfig, **what: str) -> Row:
    return Row(spec.name, size.name, (), form, group, config.framework, "", "peer", config.label, **what)


def _run_group(spec: LossSpec, size: Size, group: Group, inputs: CaseInputs, options: Options) -> list[Row]:
    """Check (and unless ``options.check``, time) the candidates of one group."""
    torch_side, tf_side, rows = _candidates(spec, group, inputs, options)
    for row in rows:
        row.size, row.shape, row.form = size.name, inputs.shape, inputs.form
    for side in (torch_side, tf_side):
        side_rows = {id(c): _row(spec, size, inputs, group, c) for c in side}
        ran = _check(side, list(side_rows.values()))
        rows += side_rows.values()
        if not options.check and options.settings is not None:
            _time(ran, side_rows, options.settings)
    return rows


def run_case(spec: LossSpec, size: Size, form: str, options: Options) -> list[Row]:
    """Every row of one (loss, size, form); none where the size does not apply."""
    inputs, problem = valid_inputs(spec, spec.bind({}), size, form)
    if inputs is None:
        if problem == NO_SAMPLE:
            return []
        # the size applies, but ours does not evaluate: that is a row, not a gap
        return [Row(spec.name, size.name, (), form, "", "torch", "eager", "ours", "ours", error=problem)]
    groups, skipped = groups_of(spec, size, form, options.modes)
    rows = [_note_row(spec, size, form, "", config, check=f"{SKIPPED}: {reason}") for config, reason in skipped]
    for group in groups:
        group_inputs, problem = (inputs, "") if group.default else valid_inputs(spec, group.params, size, form)
        if group_inputs is None:
            rows += [_note_row(spec, size, form, group.label, config, error=problem) for config, _ in group.peers]
        else:
            rows += _run_group(spec, size, group, group_inputs, options)
    return rows


# ---------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------


def run(specs: Iterable[LossSpec], options: Options, progress: Callable[[object], None] | None = None) -> list[Row]:
    """Rows of every loss in ``specs``; ``progress`` gets each case's name
    before it runs and its rows after."""
    rows: list[Row] = []
    for spec in specs:
        for size in options.sizes:
            one_hot = options.one_hot == "all" or (options.one_hot == "segmentation" and spec.family == "segmentation")
            for form in case_inputs.target_forms(spec, size, one_hot):
                if progress is not None:
                    progress(f"{spec.name} {size.name} {form}")
                try:
                    case_rows = run_case(spec, size, form, options)
                except Exception as error:  # one broken case is a row, never the end of the run
                    case_rows = [Row(spec.name, size.name, (), form, "", "", "", "ours", "ours", error=describe(error))]
                rows += case_rows
                if progress is not None and case_rows:
                    progress(case_rows)
    return rows
