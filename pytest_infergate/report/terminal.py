"""The terminal summary: one table of every gated figure, worst first, then its notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_infergate.gate import percent
from pytest_infergate.results import (
    SEVERITY,
    Check,
    ComparisonResult,
    LatencyResult,
    Measurement,
    Outcome,
)

HEADER = ("test", "metric", "baseline", "current", "change", "mdr", "samples", "verdict")
#: Ratio metrics of A/B comparisons; everything else is a latency in milliseconds.
RATIO_METRICS = ("slowdown", "speedup", "ratio")


@dataclass(frozen=True)
class Row:
    """One line of the summary table, already formatted; ``note`` is its footnote."""

    cells: tuple[str, str, str, str, str, str, str, str]
    outcome: Outcome
    note: str = ""


def _ms(value: float) -> str:
    return f"{value:.4g} ms"


def _samples(result: LatencyResult | ComparisonResult) -> str:
    per_arm = "/arm" if isinstance(result, ComparisonResult) else ""
    return f"{result.n}{per_arm} ({result.stop_reason.value})"


def _figures(c: Check) -> tuple[str, str, str]:
    """Baseline, current and change of a check, in the units a reader expects."""
    if c.metric == "speedup":  # shown as speed-ups: higher is better
        return (
            f"{1 / c.baseline:.2f}x",
            f"{1 / c.current:.2f}x",
            f"{c.baseline / c.current - 1:+.1%}",
        )
    if c.metric in RATIO_METRICS:
        return f"{c.baseline:.3f}x", f"{c.current:.3f}x", f"{c.change:+.1%}"
    return _ms(c.baseline), _ms(c.current), f"{c.change:+.1%}"


def rows(measurements: Sequence[Measurement]) -> list[Row]:
    """A row per gated check (or one per measurement without checks), worst first."""
    table: list[Row] = []
    for m in measurements:
        v, r = m.verdict, m.result
        samples = _samples(r)
        if not v.checks:
            current = f"{r.ratio:.3f}x" if isinstance(r, ComparisonResult) else _ms(r.p50_ms)
            metric = "ratio" if isinstance(r, ComparisonResult) else "p50"
            cells = (r.key, metric, "-", current, "-", "-", samples, v.outcome.value)
            table.append(Row(cells, v.outcome))
        for c in v.checks:
            baseline, current, change = _figures(c)
            mdr = percent(c.mdr) if c.mdr is not None else "-"
            cells = (
                r.key,
                c.metric.removesuffix("_ms"),
                baseline,
                current,
                change,
                mdr,
                samples,
                c.outcome.value,
            )
            table.append(Row(cells, c.outcome, c.note))
    return sorted(table, key=lambda row: -SEVERITY[row.outcome])


def summary(measurements: Sequence[Measurement], *, regressions_only: bool) -> list[Row]:
    """The rows to show; with ``regressions_only`` (``-q``) just the REGRESSED ones."""
    table = rows(measurements)
    if regressions_only:
        return [row for row in table if row.outcome is Outcome.REGRESSED]
    return table


def format_table(table: Sequence[Row]) -> list[str]:
    """Aligned text lines: the header, then one line per row (a ``[n]`` marks a note)."""
    notes = _numbered_notes(table)
    marked = [
        (*row.cells[:-1], row.cells[-1] + (f" [{notes[row.note]}]" if row.note else ""))
        for row in table
    ]
    widths = [max([len(h), *(len(cells[i]) for cells in marked)]) for i, h in enumerate(HEADER)]

    def line(cells: Sequence[str]) -> str:
        left = [c.ljust(widths[i]) for i, c in enumerate(cells[:2])]
        right = [c.rjust(widths[i + 2]) for i, c in enumerate(cells[2:7])]
        return "  ".join([*left, *right, cells[7]]).rstrip()

    return [line(HEADER), *(line(cells) for cells in marked)]


def format_notes(table: Sequence[Row]) -> list[str]:
    """The footnotes the table's ``[n]`` marks refer to, one line each."""
    return [f"[{number}] {note}" for note, number in _numbered_notes(table).items()]


def _numbered_notes(table: Sequence[Row]) -> dict[str, int]:
    numbers: dict[str, int] = {}
    for row in table:
        if row.note and row.note not in numbers:
            numbers[row.note] = len(numbers) + 1
    return numbers
