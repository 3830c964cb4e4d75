"""CSV export (``--infer-csv``, ``infergate csv``): one row per gated figure, for a
spreadsheet or pandas, as pytest-benchmark's ``--benchmark-csv``.

Numbers are written raw (milliseconds, ratios, shares), not formatted as the terminal
shows them; a figure a measurement does not have (a percentile of an accuracy
evaluation, a baseline of a NEW entry) is an empty cell. An A/B comparison's
percentiles and throughput are its candidate's. A pure function of the results.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_infergate.results import (
    AccuracyResult,
    ComparisonResult,
    LatencyResult,
    Measurement,
    ResultsFile,
)
from pytest_infergate.store.results_file import decode_results
from pytest_infergate.verdicts import Check

#: The columns, in order.
COLUMNS = (
    "test",
    "key",
    "kind",
    "metric",
    "baseline",
    "current",
    "change",
    "verdict",
    "measurement_verdict",
    "samples",
    "stop_reason",
    "batch_size",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "mean_ms",
    "throughput_per_s",
    "machine",
)


def csv_document(document: Mapping[str, Any]) -> str:
    """The CSV of a results document (as ``--infer-json`` writes it)."""
    return render_csv(decode_results(document, "results"))


def render_csv(results: ResultsFile) -> str:
    """The CSV of decoded results: a header, then a row per check of each measurement
    (one row for a measurement without checks: a NEW entry), in run order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for m in results.measurements:
        writer.writerows(measurement_rows(m, results.machine))
    return out.getvalue()


def measurement_rows(m: Measurement, machine: str) -> list[list[str]]:
    """The CSV rows of one measurement."""
    figures = _figures(m.result)
    checks: Sequence[Check | None] = m.verdict.checks or (None,)
    rows = []
    for check in checks:
        if check is None:  # nothing to judge against: the figure alone
            metric, current = _current(m.result)
            baseline, change, verdict = "", "", m.verdict.outcome.value
        else:
            metric, verdict = check.metric, check.outcome.value
            baseline, current = _num(check.baseline), _num(check.current)
            change = _num(check.change)
        rows.append(
            [
                m.nodeid,
                m.result.key,
                m.verdict.kind,
                metric,
                baseline,
                current,
                change,
                verdict,
                m.verdict.outcome.value,
                *figures,
                machine,
            ]
        )
    return rows


def _figures(result: LatencyResult | ComparisonResult | AccuracyResult) -> list[str]:
    """samples, stop_reason, batch_size, p50..p99, mean and throughput of a result."""
    if isinstance(result, AccuracyResult):
        return [str(result.n), "", "", "", "", "", "", "", _num(result.examples_per_s)]
    arm = result.candidate if isinstance(result, ComparisonResult) else result
    return [
        str(result.n),
        result.stop_reason.value,
        str(arm.batch_size),
        *(_num(getattr(arm, f"{p}_ms")) for p in ("p50", "p90", "p95", "p99", "mean")),
        _num(arm.throughput_per_s),
    ]


def _current(result: LatencyResult | ComparisonResult | AccuracyResult) -> tuple[str, str]:
    """The metric and value of a measurement without checks."""
    if isinstance(result, AccuracyResult):
        return result.metric, _num(result.value)
    if isinstance(result, ComparisonResult):
        return "ratio", _num(result.ratio)
    return "p50", _num(result.p50_ms)


def _num(value: float) -> str:
    """A number as Python reads it back (``repr``); an empty cell for inf and NaN."""
    return repr(float(value)) if math.isfinite(value) else ""
