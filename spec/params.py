"""Typed loss parameters: defaults, validation and error messages.

A :class:`Param` validates one value and says exactly what it expected.  The
same validation runs in both frameworks, so a bad value fails identically in
PyTorch and Keras, eagerly at construction time.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One parameter of a loss.

    Attributes:
        name: keyword name, identical in the spec, both frameworks and configs.
        kind: ``"float"``, ``"int"``, ``"bool"``, ``"choice"``, ``"floats"``
            (a sequence of floats, e.g. per-class weights) or ``"matrix"`` (a
            square matrix of floats given as a sequence of equal-length rows,
            e.g. distances between classes; the bounds apply to every entry).
        default: value used when the parameter is not given.
        doc: one line saying what the parameter means.
        optional: ``None`` is accepted (meaning "not set").
        low, high: inclusive numeric bounds; ``low_open``/``high_open`` make
            them exclusive.
        choices: allowed strings for ``kind="choice"``.
        scalar_ok: for ``kind="floats"``, a single number is accepted too.
    """

    name: str
    kind: str
    default: Any
    doc: str
    optional: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    scalar_ok: bool = False

    def describe(self) -> str:
        """Human description of the accepted values."""
        if self.kind == "bool":
            text = "a bool"
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            if self.kind == "floats":
                text = "a sequence of floats" + (" or a float" if self.scalar_ok else "")
            elif self.kind == "matrix":
                text = "a square matrix (a sequence of equal-length sequences) of floats"
            else:
                text = "an int" if self.kind == "int" else "a float"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
            if bounds:
                text += " " + " and ".join(bounds)
        return text + (" or None" if self.optional else "")

    def _check_number(self, loss: str, value: float, shown: Any) -> None:
        if not math.isfinite(value):
            raise ValueError(f"{loss}: {self.name} must be {self.describe()}, got {shown!r}")
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            raise ValueError(f"{loss}: {self.name} must be {self.describe()}, got {shown!r}")

    def validate(self, loss: str, value: Any) -> Any:
        """Return the canonical (JSON-friendly) form of ``value`` or raise
        ``TypeError``/``ValueError`` naming the loss, the parameter, what it got
        and what it expected."""
        if value is None:
            if self.optional:
                return None
            raise TypeError(f"{loss}: {self.name} must be {self.describe()}, got None")
        got = f"{value!r} ({type(value).__name__})"
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise TypeError(f"{loss}: {self.name} must be a bool, got {got}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{loss}: {self.name} must be {self.describe()}, got {value!r}")
            return value
        if self.kind == "int":
            if isinstance(value, bool) or (not isinstance(value, int) and not _is_integral(value)):
                raise TypeError(f"{loss}: {self.name} must be {self.describe()}, got {got}")
            value = int(value)
            self._check_number(loss, value, value)
            return value
        if self.kind == "float":
            if isinstance(value, bool) or not _is_real(value):
                raise TypeError(f"{loss}: {self.name} must be {self.describe()}, got {got}")
            value = float(value)
            self._check_number(loss, value, value)
            return value
        if self.kind == "floats":
            if self.scalar_ok and _is_real(value) and not isinstance(value, bool):
                value = float(value)
                self._check_number(loss, value, value)
                return value
            items = _as_list(value)
            if items is None or not items or any(isinstance(v, bool) or not _is_real(v) for v in items):
                raise TypeError(f"{loss}: {self.name} must be {self.describe()}, got {got}")
            items = [float(v) for v in items]
            for v in items:
                self._check_number(loss, v, value)
            return items
        if self.kind == "matrix":
            rows = _as_rows(value)
            if (
                rows is None
                or any(len(row) != len(rows) for row in rows)
                or any(isinstance(v, bool) or not _is_real(v) for row in rows for v in row)
            ):
                raise TypeError(f"{loss}: {self.name} must be {self.describe()}, got {got}")
            rows = [[float(v) for v in row] for row in rows]
            for row in rows:
                for v in row:
                    self._check_number(loss, v, value)
            return rows
        raise AssertionError(f"unknown parameter kind {self.kind!r}")


def _is_real(value: Any) -> bool:
    try:
        return isinstance(value, (int, float)) or (hasattr(value, "__float__") and getattr(value, "ndim", 0) == 0)
    except Exception:
        return False


def _is_integral(value: Any) -> bool:
    return hasattr(value, "__index__") and not isinstance(value, bool)


def _as_list(value: Any) -> list | None:
    if isinstance(value, (str, bytes, Mapping)):
        return None
    if hasattr(value, "tolist"):  # numpy arrays and framework tensors
        value = value.tolist()
        return value if isinstance(value, list) and all(not isinstance(v, list) for v in value) else None
    if isinstance(value, Sequence):
        return list(value)
    return None


def _as_rows(value: Any) -> list[list] | None:
    """The rows of a non-empty 2-D nested sequence (lists, tuples, arrays, tensors), else None."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or not value:
        return None
    rows = [_as_list(row) for row in value]
    return None if any(row is None or not row for row in rows) else rows


@dataclass(frozen=True)
class ParamSet:
    """The ordered parameters of one loss, with cross-parameter checks."""

    params: tuple[Param, ...]
    checks: tuple[Callable[[str, dict], None], ...] = field(default=())

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def bind(self, loss: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """Validated parameters: defaults overridden by ``given``.  Unknown
        names raise ``TypeError`` with the closest known name."""
        known = {p.name: p for p in self.params}
        for name in given:
            if name not in known:
                hint = difflib.get_close_matches(name, known, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                raise TypeError(
                    f"{loss}: unknown parameter {name!r}{suggestion} Expected one of: {', '.join(known) or '(none)'}"
                )
        bound = {p.name: p.validate(loss, given.get(p.name, p.default)) for p in self.params}
        for check in self.checks:
            check(loss, bound)
        return bound
