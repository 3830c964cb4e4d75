"""The end of a pytest run: the verdict table and the notes, written through pytest's
terminal reporter (the lines themselves come from :mod:`pytest_infergate.report.terminal`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_infergate.distributed import XdistHooks
from pytest_infergate.report.terminal import (
    cpu_lines,
    format_notes,
    format_runtime_differences,
    format_table,
    gpu_warnings,
    spinning_warnings,
    summary,
    ungated_line,
)
from pytest_infergate.report.trace_lines import format_traces
from pytest_infergate.session import FinishReport, GateSession

_COLOURS: dict[str, dict[str, bool]] = {
    "NOT-APPLIED": {"red": True, "bold": True},
    "REGRESSED": {"red": True, "bold": True},
    "INCONCLUSIVE": {"yellow": True},
    "IMPROVED": {"cyan": True},
    "PASS": {"green": True},
}


def write_summary(
    terminal: Any,
    gate: GateSession,
    *,
    quiet: bool,
    xdist: XdistHooks | None,
    finish: FinishReport | None,
    reports: Sequence[str],
) -> None:
    """Everything the run has to say, in order: the table (regressions only under ``-q``),
    the machine's warnings, the traces, then what was written and what went wrong."""
    _write_table(terminal, gate, quiet=quiet)
    _write_machine_lines(terminal, gate, quiet=quiet)
    for crash in xdist.crashed if xdist is not None else ():
        terminal.write_line(f"infergate: {crash}", yellow=True)
    if xdist is not None and xdist.workers > 1:
        terminal.write_line(
            f"infergate: {xdist.workers} xdist workers timed one at a time, but the other "
            "workers' tests may still load the CPU; use -n0 for the steadiest figures",
            yellow=True,
        )
    if finish is not None:
        _write_finish(terminal, finish)
    for collision in gate.collisions:
        terminal.write_line(f"ERROR: infergate: {collision}", red=True)
    for line in reports:
        terminal.write_line(f"infergate: {line}")


def _write_table(terminal: Any, gate: GateSession, *, quiet: bool) -> None:
    table = summary(gate.measurements, regressions_only=quiet)
    if table:
        terminal.write_sep("=", f"infergate: machine {gate.profile}")
        header, *lines = format_table(table)
        terminal.write_line(header, bold=True)
        for row, line in zip(table, lines, strict=True):
            terminal.write_line(line, **_COLOURS.get(row.outcome.value, {}))
        for note in format_notes(table):
            terminal.write_line(note, yellow=True)
    ungated = ungated_line(gate.measurements, gate.profile) if quiet else ""
    if ungated:
        terminal.write_line(f"infergate: {ungated}", yellow=True)
    missing = gate.missing_baseline_problem()
    if missing:
        terminal.write_line(f"infergate: {missing}", yellow=True)


def _write_machine_lines(terminal: Any, gate: GateSession, *, quiet: bool) -> None:
    """CPU facts and warnings, operators that differ between A/B arms, traces."""
    cpu_facts, cpu_warnings = cpu_lines(gate.measurements)
    for line in cpu_facts:
        terminal.write_line(f"infergate: {line}")
    warnings = [*cpu_warnings, *gpu_warnings(gate.measurements)]
    warnings.extend(spinning_warnings(gate.measurements))
    for warning in warnings:
        terminal.write_line(f"infergate: {warning}", yellow=True)
    differences = [] if quiet else format_runtime_differences(gate.measurements)
    if differences:
        terminal.write_sep("-", "infergate: operators that differ, A/B reference → candidate")
        for line in differences:
            terminal.write_line(line)
    traces = format_traces(gate.measurements)
    if traces:
        terminal.write_sep("-", "infergate: where the time goes")
        for line in traces:
            terminal.write_line(line)


def _write_finish(terminal: Any, finish: FinishReport) -> None:
    """What the session wrote, what it left out, and its failures."""
    written = (("baseline", finish.baseline_written), ("results", finish.results_written))
    for what, path in written:
        if path is not None:
            terminal.write_line(f"infergate: {what} written to {path}")
    if finish.not_recorded:
        terminal.write_line(
            f"infergate: not recorded, their tests did not pass: {', '.join(finish.not_recorded)}",
            yellow=True,
        )
    if finish.skipped_reason:
        terminal.write_line(f"infergate: {finish.skipped_reason}", yellow=True)
    for failure in finish.failures:
        terminal.write_line(f"ERROR: infergate: {failure}", red=True)
