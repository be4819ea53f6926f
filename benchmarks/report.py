"""What a run prints and writes: per-case tables, the Markdown report and the plot.

Ratios are ours / reference: the median ratio (``ratio``) and the median over
sampling rounds of the back-to-back ratio (``paired``, steadier on a busy
machine).  Ours in each mode is compared with the peers of the same
framework and mode (``torch.compile`` with the eager peers: the peers are not
compiled), with our composite path (``LOSSBRIDGE_COMPOSITE_OPS=1``) and with
the read-the-inputs floor of the same prediction shape.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import SKIPPED, Row


def _ms(value: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _mib(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _x(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.2f}x"


def mode_of(row: Row) -> str:
    return f"{row.framework}/{row.mode}"


def _composite(row: Row) -> tuple[float, float] | None:
    return next((value for name, value in row.ratios.items() if "composite" in name), None)


def _case_key(row: Row) -> tuple[str, str, str]:
    return (row.loss, row.size, row.form)


# ---------------------------------------------------------------------------
# console
# ---------------------------------------------------------------------------


def print_case(rows: Sequence[Row], timed: bool) -> None:
    """One case's table: time, memory, ratios and checks of each candidate."""
    if not rows:
        return
    first = rows[0]
    shape = next((r.shape for r in rows if r.shape), ())
    print(f"\n  {first.loss}  {first.size} {'x'.join(map(str, shape))}  target {first.form}")
    for row in rows:
        if row.check.startswith(SKIPPED):
            print(f"    {row.framework:<5} {'':8} {row.name[:58]:<58}  {row.check[:100]}")
            continue
        where = f"{row.framework:<5} {row.mode:<8} {row.name[:58]:<58}"
        params = f"  [{row.group}]" if row.group else ""
        if row.error:
            print(f"    {where}  ERROR {row.error[:150]}{params}")
            continue
        if not timed:
            print(f"    {where}  value {row.value:.6g}  {row.check}{params}")
            continue
        ratios = "  ".join(f"{_x(r)} (paired {_x(p)}) vs {n[:40]}" for n, (r, p) in row.ratios.items())
        flag = "" if row.check in ("ok", "reference") else f"  {row.check[:120]}"
        print(
            f"    {where} {_ms(row.median_ms):>9} ms  {_mib(row.peak_mib):>7} MiB  x floor {_x(row.x_floor):>8}"
            f"  {ratios}{flag}{params}"
        )


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------


@dataclass
class Header:
    """What the report says about the run."""

    command: str
    date: str
    machine: list[str]
    versions: dict[str, str]
    settings: str
    seconds: float


def _table(header: Sequence[str], lines: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines]
    return out


def _ours(rows: Sequence[Row]) -> list[Row]:
    return [r for r in rows if r.kind == "ours" and r.timed]


def _fastest_peer_row(rows: Sequence[Row], ours: Row) -> Row | None:
    peers = [
        r
        for r in rows
        if r.kind == "peer"
        and r.timed
        and _case_key(r) == _case_key(ours)
        and r.group == ours.group
        and r.framework == ours.framework
        and (r.mode == ours.mode or (ours.mode == "compile" and r.mode == "eager"))
    ]
    # like for like: a peer fed the row's own target form (MONAI's labels with a class axis
    # count as labels) when there is one; a peer that only takes one-hot targets is then
    # compared in the one-hot row, where its encoding is not left out of our step alone
    same_form = [r for r in peers if _peer_target(r).startswith(ours.form)]
    peers = same_form or peers
    return min(peers, key=lambda r: r.median_ms) if peers else None


def _peer_target(row: Row) -> str:
    """The target form a peer row was fed (its note ``target: <form>``)."""
    return row.note.removeprefix("target: ") if row.note.startswith("target: ") else ""


def summary_lines(rows: Sequence[Row]) -> list[list[str]]:
    """Ours against the fastest peer of its framework and mode."""
    lines = []
    for ours in _ours(rows):
        peer = _fastest_peer_row(rows, ours)
        if peer is None:
            continue
        ratio, paired = ours.ratios.get(peer.name, (math.nan, math.nan))
        lines.append(
            [
                ours.loss,
                ours.size,
                ours.form,
                ours.group,
                mode_of(ours),
                _ms(ours.median_ms),
                _mib(ours.peak_mib),
                peer.name if _peer_target(peer).startswith(ours.form) else f"{peer.name} (on {_peer_target(peer)})",
                _ms(peer.median_ms),
                _mib(peer.peak_mib),
                _x(ratio),
                _x(paired),
                _x(ours.x_floor),
            ]
        )
    return lines


def no_peer_lines(rows: Sequence[Row]) -> list[list[str]]:
    """Ours (default parameters) where no peer was timed: against the composite path and the floor."""
    with_peer = {(_case_key(r), r.framework) for r in rows if r.kind == "peer" and r.timed}
    lines = []
    for ours in _ours(rows):
        if ours.group or (_case_key(ours), ours.framework) in with_peer:
            continue
        composite = _composite(ours)
        lines.append(
            [
                ours.loss,
                ours.size,
                ours.form,
                mode_of(ours),
                _ms(ours.median_ms),
                _mib(ours.peak_mib),
                _x(composite[0]) if composite else "",
                _x(composite[1]) if composite else "",
                _x(ours.x_floor),
            ]
        )
    return lines


def all_lines(rows: Sequence[Row]) -> list[list[str]]:
    lines = []
    for row in rows:
        if row.check.startswith(SKIPPED):
            continue
        ratios = "; ".join(f"{_x(r)} / {_x(p)} vs {n}" for n, (r, p) in row.ratios.items())
        check = row.error or ("" if row.check in ("ok", "reference") else row.check)
        lines.append(
            [
                row.loss,
                row.size,
                "x".join(map(str, row.shape)),
                row.form,
                row.group,
                mode_of(row),
                row.name + (f" ({row.note})" if row.note else ""),
                _ms(row.median_ms),
                _ms(row.min_ms),
                _mib(row.peak_mib),
                _ms(row.first_ms),
                _x(row.x_floor),
                ratios,
                check,
            ]
        )
    return lines


def floor_lines(rows: Sequence[Row]) -> list[list[str]]:
    """The floor per prediction shape and mode: the median of its medians over the cases."""
    medians: dict[tuple[str, tuple[int, ...], str], list[Row]] = {}
    for row in rows:
        if row.kind == "floor" and row.timed:
            medians.setdefault((row.size, row.shape, mode_of(row)), []).append(row)
    return [
        [size, "x".join(map(str, shape)), mode, _ms(statistics.median(r.median_ms for r in found)), str(len(found))]
        for (size, shape, mode), found in medians.items()
    ]


def markdown(header: Header, rows: Sequence[Row], not_benchmarked: Sequence[str]) -> str:
    """The whole report."""
    out = [
        "# lossbridge benchmarks",
        "",
        f"Generated by `{header.command}` on {header.date} in {header.seconds / 60:.1f} minutes.",
        "",
        "* machine: " + "; ".join(header.machine),
        "* versions: " + ", ".join(f"{k} {v}" for k, v in header.versions.items()),
        f"* sampling: {header.settings}",
        "* one step = forward + backward to the prediction; times are medians over round-robin samples (ms per "
        "step); `paired` = median of back-to-back ratios; peak MiB = allocator peak above the live set during one "
        "step, gradient included (torch: profiler `[memory]` events; TensorFlow: `get_memory_info('CPU:0')`); "
        "`x floor` = time / the `(x*w).sum()` forward+backward of the same prediction, same table. Method and caveats: "
        "`benchmarks/README.md`.",
        "",
        "## Ours against the fastest peer (same framework and mode)",
        "",
    ]
    out += _table(
        [
            "loss",
            "size",
            "target",
            "our params",
            "fw/mode",
            "ours ms",
            "ours MiB",
            "fastest peer",
            "peer ms",
            "peer MiB",
            "ratio",
            "paired",
            "ours x floor",
        ],
        summary_lines(rows),
    )
    out += ["", "## Losses without a timed peer: ours against our composite path and the floor", ""]
    out += _table(
        ["loss", "size", "target", "fw/mode", "ours ms", "ours MiB", "vs composite", "paired", "x floor"],
        no_peer_lines(rows),
    )
    out += ["", "## Every row", ""]
    out += _table(
        [
            "loss",
            "size",
            "shape",
            "target",
            "params",
            "fw/mode",
            "implementation",
            "median ms",
            "min ms",
            "peak MiB",
            "first call ms",
            "x floor",
            "ratio / paired",
            "check",
        ],
        all_lines(rows),
    )
    out += ["", "## Floors", ""]
    out += _table(["size", "shape", "fw/mode", "median of the cases' medians, ms", "cases"], floor_lines(rows))
    skipped = sorted({(r.loss, r.name, r.check) for r in rows if r.check.startswith(SKIPPED)})
    out += ["", "## Peers not timed (they compute another number on these inputs, or cannot be called)", ""]
    out += [f"* `{loss}` / `{name}`: {check[len(SKIPPED) + 2 :]}" for loss, name, check in skipped]
    if not_benchmarked:
        out += ["", "Compat definitions without a benchmark configuration: " + ", ".join(not_benchmarked) + "."]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------


def plot(rows: Sequence[Row], path: Path) -> bool:
    """Horizontal bars: ours / fastest peer per loss, size and mode (log scale); False if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = []
    for ours in _ours(rows):
        peer = _fastest_peer_row(rows, ours)
        if peer is not None:
            label = f"{ours.loss} {ours.size} {ours.form}" + (" *" if ours.group else "")
            bars.append((label, mode_of(ours), ours.median_ms / peer.median_ms))
    if not bars:
        return False
    modes = sorted({mode for _, mode, _ in bars})
    colors = dict(zip(modes, plt.get_cmap("tab10").colors, strict=False))
    figure, axes = plt.subplots(figsize=(9, 1.5 + 0.16 * len(bars)))
    positions = range(len(bars))
    axes.barh(list(positions), [ratio for _, _, ratio in bars], color=[colors[mode] for _, mode, _ in bars])
    axes.set_yticks(list(positions), [f"{label} [{mode}]" for label, mode, _ in bars], fontsize=6)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xlabel("ours / fastest peer, forward+backward median time (log scale; < 1 is faster)")
    axes.set_title("lossbridge: time per loss as a ratio to the fastest peer (* = peer-specific parameters)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[m]) for m in modes]
    axes.legend(handles, modes, fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
