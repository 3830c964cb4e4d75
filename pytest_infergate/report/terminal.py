"""The terminal summary: one table of every gated figure, worst first.

Latency and accuracy rows share the table. The columns only accuracy fills
(flip rate, p-value) are left out when no row has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_infergate.results import (
    SEVERITY,
    AccuracyCheck,
    AccuracyResult,
    LatencyResult,
    Measurement,
    Outcome,
)

HEADER = ("test", "metric", "baseline", "current", "change", "flips", "p-value", "verdict")
#: Columns shown only when some row fills them.
OPTIONAL_COLUMNS = frozenset({5, 6})


@dataclass(frozen=True)
class Row:
    """One line of the summary table, already formatted (one cell per :data:`HEADER` column);
    ``note`` is a sentence to print under the table (e.g. why a comparison is unpaired)."""

    cells: tuple[str, ...]
    outcome: Outcome
    note: str = ""


def _ms(value: float) -> str:
    return f"{value:.4g} ms"


def _share(value: float) -> str:
    """A metric value: a percentage when it is a share (0..1), else as is."""
    return f"{value:.2%}" if 0.0 <= value <= 1.0 else f"{value:.4g}"


def _latency_rows(m: Measurement, r: LatencyResult) -> list[Row]:
    v = m.verdict
    if not v.checks:
        return [Row((r.key, "p50", "-", _ms(r.p50_ms), "-", "", "", v.outcome.value), v.outcome)]
    return [
        Row(
            (
                r.key,
                c.metric.removesuffix("_ms"),
                _ms(c.baseline),
                _ms(c.current),
                f"{c.change:+.1%}",
                "",
                "",
                c.outcome.value,
            ),
            c.outcome,
        )
        for c in v.checks
    ]


def _accuracy_rows(m: Measurement, r: AccuracyResult) -> list[Row]:
    v = m.verdict
    checks = [c for c in v.checks if isinstance(c, AccuracyCheck)]
    if not checks:
        new = (r.key, r.metric, "-", _share(r.value), "-", "", "", v.outcome.value)
        return [Row(new, v.outcome)]
    table = []
    for c in checks:
        cells: tuple[str, ...]
        if c.p_value is None:  # the flip-rate limit
            cells = (r.key, c.metric, f"max {c.tolerance:.1%}", f"{c.current:.1%}", "", "", "")
        else:
            flips = f"{c.flip_rate:.1%}" if c.flip_rate is not None else "n/a"
            cells = (
                r.key,
                c.metric,
                _share(c.baseline),
                _share(c.current),
                f"{c.change * 100:+.2f} pts",
                flips,
                f"{c.p_value:.2g}",
            )
        note = "" if c.paired else f"{r.key}: {v.reason}"
        table.append(Row((*cells, c.outcome.value), c.outcome, note))
    return table


def rows(measurements: Sequence[Measurement]) -> list[Row]:
    """A row per gated check (or one per measurement without checks), worst first."""
    table: list[Row] = []
    for m in measurements:
        if isinstance(m.result, AccuracyResult):
            table.extend(_accuracy_rows(m, m.result))
        else:
            table.extend(_latency_rows(m, m.result))
    return sorted(table, key=lambda row: -SEVERITY[row.outcome])


def summary(measurements: Sequence[Measurement], *, regressions_only: bool) -> list[Row]:
    """The rows to show; with ``regressions_only`` (``-q``) just the REGRESSED ones."""
    table = rows(measurements)
    if regressions_only:
        return [row for row in table if row.outcome is Outcome.REGRESSED]
    return table


def notes(table: Sequence[Row]) -> list[str]:
    """The rows' notes, once each, in table order."""
    return list(dict.fromkeys(row.note for row in table if row.note))


def format_table(table: Sequence[Row]) -> list[str]:
    """Aligned text lines: the header, then one line per row."""
    shown = [
        i
        for i in range(len(HEADER))
        if i not in OPTIONAL_COLUMNS or any(row.cells[i] for row in table)
    ]
    widths = {i: max([len(HEADER[i]), *(len(row.cells[i]) for row in table)]) for i in shown}
    last = len(HEADER) - 1

    def line(cells: Sequence[str]) -> str:
        parts = [
            cells[i].ljust(widths[i]) if i < 2 or i == last else cells[i].rjust(widths[i])
            for i in shown
        ]
        return "  ".join(parts).rstrip()

    return [line(HEADER), *(line(row.cells) for row in table)]
