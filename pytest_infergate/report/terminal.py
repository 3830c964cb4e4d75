"""The terminal summary: one table of every gated figure, worst first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_infergate.results import SEVERITY, Measurement, Outcome

HEADER = ("test", "metric", "baseline", "current", "change", "verdict")


@dataclass(frozen=True)
class Row:
    """One line of the summary table, already formatted."""

    cells: tuple[str, str, str, str, str, str]
    outcome: Outcome


def _ms(value: float) -> str:
    return f"{value:.4g} ms"


def rows(measurements: Sequence[Measurement]) -> list[Row]:
    """A row per gated check (or one per measurement without checks), worst first."""
    table: list[Row] = []
    for m in measurements:
        v, r = m.verdict, m.result
        if not v.checks:
            cells = (r.key, "p50", "-", _ms(r.p50_ms), "-", v.outcome.value)
            table.append(Row(cells, v.outcome))
        for c in v.checks:
            name = c.metric.removesuffix("_ms")
            cells = (
                r.key,
                name,
                _ms(c.baseline),
                _ms(c.current),
                f"{c.change:+.1%}",
                c.outcome.value,
            )
            table.append(Row(cells, c.outcome))
    return sorted(table, key=lambda row: -SEVERITY[row.outcome])


def summary(measurements: Sequence[Measurement], *, regressions_only: bool) -> list[Row]:
    """The rows to show; with ``regressions_only`` (``-q``) just the REGRESSED ones."""
    table = rows(measurements)
    if regressions_only:
        return [row for row in table if row.outcome is Outcome.REGRESSED]
    return table


def format_table(table: Sequence[Row]) -> list[str]:
    """Aligned text lines: the header, then one line per row."""
    widths = [max([len(h), *(len(row.cells[i]) for row in table)]) for i, h in enumerate(HEADER)]

    def line(cells: Sequence[str]) -> str:
        left = [c.ljust(widths[i]) for i, c in enumerate(cells[:2])]
        right = [c.rjust(widths[i + 2]) for i, c in enumerate(cells[2:5])]
        return "  ".join([*left, *right, cells[5]]).rstrip()

    return [line(HEADER), *(line(row.cells) for row in table)]
