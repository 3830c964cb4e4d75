"""The HTML report (``--infer-html``, ``infergate report``): one self-contained file.

No network and no CDN: the charts are matplotlib figures inlined as SVG, the
verdict filter is a few lines of inline JavaScript. matplotlib (the ``report``
extra) is imported only when a report is rendered, and only through its
object-oriented API (``matplotlib.figure.Figure``), so pyplot's global state and
the GUI backends are never touched.

Sections, each a ``<section id=...>``:

* ``verdicts`` -- the summary table (as in the terminal), filterable by verdict.
* ``latency`` -- per latency measurement (and per A/B arm) the ECDF of the raw
  samples with p50/p95/p99 marked, the baseline's p50 (dashed) where the verdict
  has a p50 check, and the baseline's 21-point quantile sketch for this machine
  where the baseline is given.
* ``runtime`` -- what ran, one row per measurement with runtime facts or CPU use:
  runtime, providers, model file and digest, quantised operators, threads, CPU
  seconds per wall second and load average; NOT-APPLIED rows and changed models
  highlighted; then the operators that differ between the arms of each A/B
  comparison of two onnxruntime graphs. Absent when no measurement has either.
* ``gpu`` -- per measurement with GPU telemetry, utilisation and memory used over
  the timed window, slowdowns shaded and other processes noted. Absent when no
  measurement has telemetry (no GPU: nothing to say).
* ``trace`` -- per traced measurement (``--infer-trace``), the time per call by
  operator type as bars that add up to the profiled call, and the slowest graph
  nodes. Absent when no measurement was traced.
* ``tradeoff`` -- p50 latency against accuracy across variants, Pareto front
  marked. Variants pair by name stem (:func:`pytest_infergate.report.charts.variant`): a
  latency and an accuracy measurement whose keys reduce to the same stem are one variant.
* ``sweep`` -- throughput and p95 against batch size, for latency measurements whose keys
  differ only in a batch token (:data:`pytest_infergate.report.charts.BATCH_TOKEN`:
  ``bs8``, ``batch16``, ``batch_size=32``).
* ``machines`` -- the run's fingerprint beside the baseline's (when given), with
  differing values highlighted.

The charts are drawn in :mod:`pytest_infergate.report.charts`.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.report.charts import (
    Chart,
    batch_sweeps,
    gpu_charts,
    latency_charts,
    sweep_chart,
    trace_charts,
    tradeoff_chart,
    variant_points,
)
from pytest_infergate.report.terminal import (
    HEADER,
    cpu_lines,
    format_runtime_differences,
    rows,
)
from pytest_infergate.results import Measurement, ResultsFile
from pytest_infergate.store.baseline import Baseline, encode_fingerprint
from pytest_infergate.store.results_file import decode_results
from pytest_infergate.verdicts import SEVERITY, Outcome

if TYPE_CHECKING:
    from pytest_infergate.measure.provenance import RuntimeFacts


#: Background and text colour of a verdict cell or badge: red for what fails the gate,
#: amber for what could not be decided, blue better, green as before, grey not judged.
VERDICT_COLOURS: dict[Outcome, tuple[str, str]] = {
    Outcome.NOT_APPLIED: ("#8e24aa", "#fff"),
    Outcome.REGRESSED: ("#c62828", "#fff"),
    Outcome.INCONCLUSIVE: ("#f9a825", "#222"),
    Outcome.IMPROVED: ("#1565c0", "#fff"),
    Outcome.PASS: ("#2e7d32", "#fff"),
    Outcome.NEW: ("#616161", "#fff"),
    Outcome.NO_BASELINE_FOR_MACHINE: ("#616161", "#fff"),
    Outcome.UPDATED: ("#616161", "#fff"),
    Outcome.RECORDED: ("#616161", "#fff"),
    Outcome.SKIPPED: ("#bdbdbd", "#222"),
}


def verdict_tally(measurements: Sequence[Measurement]) -> list[tuple[Outcome, int]]:
    """Measurements per verdict, worst first: what a reader should look at first."""
    counts = Counter(m.verdict.outcome for m in measurements)
    return sorted(counts.items(), key=lambda item: (-SEVERITY[item[0]], item[0].value))


def verdict_badges(measurements: Sequence[Measurement]) -> str:
    """The tally as coloured badges (``<span class="badge REGRESSED">2 REGRESSED</span>``)."""
    return (
        "".join(
            f'<span class="badge {o.value}">{n} {o.value}</span>'
            for o, n in verdict_tally(measurements)
        )
        or "no measurements"
    )


SECTIONS = ("verdicts", "runtime", "latency", "gpu", "trace", "tradeoff", "sweep", "machines")

STYLE = (
    """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}
tr.REGRESSED td{background:#fdd}tr.IMPROVED td{background:#def}
tr.INCONCLUSIVE td{background:#ffd}td.diff{background:#fec}
tr.NOT-APPLIED td{background:#fcc}tr.changed td{background:#fec}
pre{font-size:.85em;background:#f6f6f6;padding:.5em}
#runtime-table td{font-size:.8em}.note{min-width:14em;max-width:28em}td.nowrap{white-space:nowrap}
figure{display:inline-block;margin:.5em;vertical-align:top}
figcaption{font-size:.85em;color:#555;max-width:40em}
"""
    + "".join(
        f"td.verdict.{o.value},.badge.{o.value}{{background:{bg};color:{fg};font-weight:600}}"
        for o, (bg, fg) in VERDICT_COLOURS.items()
    )
    + ".badge{display:inline-block;padding:.1em .5em;margin-right:.4em;border-radius:.3em}"
)

_SCRIPT = """
document.getElementById('verdict-filter').addEventListener('change', function (e) {
  var want = e.target.value;
  document.querySelectorAll('#verdict-table tbody tr').forEach(function (row) {
    row.style.display = (want === '' || row.dataset.verdict === want) ? '' : 'none';
  });
});
"""


def _verdict_section(measurements: Sequence[Measurement]) -> str:
    table = rows(measurements)
    present = sorted({row.outcome for row in table}, key=lambda o: -SEVERITY[o])
    options = "".join(f'<option value="{o.value}">{o.value}</option>' for o in present)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join(
        f'<tr class="{row.outcome.value}" data-verdict="{row.outcome.value}">'
        + "".join(f"<td>{html.escape(c)}</td>" for c in row.cells[:-1])
        + f'<td class="verdict {row.outcome.value}">{html.escape(row.cells[-1])}</td>'
        + "</tr>"
        for row in table
    )
    worst_first = sorted(measurements, key=lambda m: -SEVERITY[m.verdict.outcome])
    reasons = "".join(
        f'<li><span class="badge {m.verdict.outcome.value}">{m.verdict.outcome.value}</span>'
        f"<code>{html.escape(m.result.key)}</code>: {html.escape(m.verdict.reason)}</li>"
        for m in worst_first
        if m.verdict.reason
    )
    return (
        '<section id="verdicts"><h2>Verdicts</h2>'
        '<label>Show verdict <select id="verdict-filter"><option value="">all</option>'
        f"{options}</select></label>"
        f'<table id="verdict-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        f"<ul>{reasons}</ul></section>"
    )


def _threads(facts: RuntimeFacts) -> str:
    """``intra/inter`` op threads for onnxruntime (0, the runtime's choice: ``auto``), or
    ``torch N``."""
    if facts.torch_threads is not None:
        return f"torch {facts.torch_threads}"
    counts = (facts.intra_op_threads, facts.inter_op_threads)
    if all(n is None for n in counts):
        return ""
    return "/".join("?" if n is None else "auto" if n == 0 else str(n) for n in counts)


def _fact_cells(facts: RuntimeFacts | None) -> list[tuple[str, str]]:
    """(text, tooltip) for runtime, providers, model file, sha256, quantised ops, threads."""
    if facts is None:
        return [("", "")] * 6
    quantised = facts.quantized_ops
    listed = ", ".join(f"{op} {n}" for op, n in sorted(quantised.items()))
    return [
        (facts.runtime, facts.device or ""),
        (", ".join(facts.providers) or facts.device or "", ""),
        (PurePath(facts.model_file).name if facts.model_file else "", facts.model_file or ""),
        ((facts.digest or "")[:12], facts.digest or ""),
        (str(sum(quantised.values())) if facts.op_histogram else "", listed),
        (_threads(facts), ""),
    ]


def _td(text: str, tip: str = "", cls: str = "") -> str:
    title = f' title="{html.escape(tip)}"' if tip else ""
    css = f' class="{cls}"' if cls else ""
    return f"<td{title}{css}>{html.escape(text)}</td>"


def _runtime_row(label: str, facts: RuntimeFacts | None, m: Measurement | None) -> str:
    """One row of the runtime table; ``m`` is ``None`` for an A/B reference arm, which
    has its facts but neither its own CPU window nor its own verdict."""
    cpu = m.cpu if m is not None else None
    notes, classes = [], []
    if m is not None and m.verdict.outcome is Outcome.NOT_APPLIED:
        notes.append(f"NOT-APPLIED: {m.verdict.reason}")
        classes.append(m.verdict.outcome.value)
    if m is not None and m.verdict.model_change:
        notes.append(m.verdict.model_change)
        classes.append("changed")
    cells = [f"<td><code>{html.escape(label)}</code></td>"]
    cells += [_td(text, tip, "nowrap") for text, tip in _fact_cells(facts)]
    if cpu is not None:
        cells.append(_td(f"{cpu.utilisation:.2f}", f"{cpu.process_cpu_s:.3g} CPU s"))
        load = cpu.load_average
        cells.append(_td("" if load is None else f"{load:.2f}", f"{cpu.cores} cores"))
    else:
        cells += [_td(""), _td("")]
    note = html.escape("; ".join(notes))
    cells.append(f'<td><div class="note">{note}</div></td>' if note else "<td></td>")
    cls = f' class="{" ".join(classes)}"' if classes else ""
    return f"<tr{cls}>{''.join(cells)}</tr>"


#: The runtime table's columns, with what each means (shown on hover).
_RUNTIME_COLUMNS = (
    ("test", ""),
    ("runtime", ""),
    ("providers", "execution providers in use"),
    ("model file", ""),
    ("sha256", "the model file's digest (torch: the weights')"),
    ("quantised ops", "quantised operators in the graph"),
    ("threads", "intra/inter-op threads (auto: the runtime's choice), or torch threads"),
    ("CPU/wall", "process CPU seconds per wall second over the timed window"),
    ("load", "1-minute load average after the timed window"),
    ("notes", ""),
)


def _runtime_section(measurements: Sequence[Measurement]) -> str:
    body = ""
    for m in measurements:
        if m.facts is None and m.cpu is None and m.reference_facts is None:
            continue
        body += _runtime_row(m.result.key, m.facts, m)
        if m.reference_facts is not None:
            body += _runtime_row(f"{m.result.key} (reference)", m.reference_facts, None)
    differences = format_runtime_differences(measurements)
    if not body and not differences:
        return ""
    head = "".join(
        f'<th title="{html.escape(tip)}">{name}</th>' if tip else f"<th>{name}</th>"
        for name, tip in _RUNTIME_COLUMNS
    )
    cpu_facts, cpu_warnings = cpu_lines(measurements)
    cpu = "".join(f"<p>{html.escape(line)}.</p>" for line in cpu_facts)
    cpu += "".join(f'<p class="warning">{html.escape(line)}.</p>' for line in cpu_warnings)
    ops = (
        "<h3>Operators that differ, A/B reference → candidate</h3>"
        f'<pre id="op-differences">{html.escape(chr(10).join(differences))}</pre>'
        if differences
        else ""
    )
    return (
        '<section id="runtime"><h2>What ran</h2>'
        f'<table id="runtime-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        f"{cpu}{ops}</section>"
    )


def flatten_fingerprint(fingerprint: Fingerprint) -> dict[str, str]:
    """The fingerprint as dotted field names (``libraries.torch``) to text, for tables."""
    flat: dict[str, str] = {}
    for name, value in encode_fingerprint(fingerprint).items():
        if isinstance(value, dict):
            flat.update({f"{name}.{k}": str(v) for k, v in value.items()})
        else:
            flat[name] = str(value)
    return flat


def _machines_section(current: tuple[str, Fingerprint], others: Mapping[str, Fingerprint]) -> str:
    columns = [(f"this run ({current[0]})", flatten_fingerprint(current[1]))]
    columns += [(f"baseline ({p})", flatten_fingerprint(f)) for p, f in sorted(others.items())]
    fields = sorted({k for _, flat in columns for k in flat})
    head = "<th>field</th>" + "".join(f"<th>{html.escape(name)}</th>" for name, _ in columns)
    body = ""
    for field_name in fields:
        values = [flat.get(field_name, "") for _, flat in columns]
        cls = ' class="diff"' if len(set(values)) > 1 else ""
        cells = "".join(f"<td{cls}>{html.escape(v)}</td>" for v in values)
        body += f"<tr><td>{html.escape(field_name)}</td>{cells}</tr>"
    return (
        '<section id="machines"><h2>Machines</h2>'
        f'<table id="machine-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</section>"
    )


def _chart_section(section: str, title: str, charts: Sequence[Chart], empty: str) -> str:
    inner = "".join(
        f'<figure class="chart" data-chart="{c.section}">{c.svg}'
        f"<figcaption>{html.escape(c.caption)}</figcaption>{c.detail}</figure>"
        for c in charts
    )
    return f'<section id="{section}"><h2>{title}</h2>{inner or f"<p>{empty}</p>"}</section>'


def html_report(document: Mapping[str, Any], baseline: Baseline | None = None) -> str:
    """The report of a results document (as ``--infer-json`` writes it)."""
    return render_html(decode_results(document, "results"), baseline)


def render_html(results: ResultsFile, baseline: Baseline | None = None) -> str:
    """The report of decoded results; with the ``baseline``, its quantile sketches are
    drawn under the latency distributions and its machines shown beside this run's.

    Test ids and measurement names are drawn as plain text: matplotlib would read
    ``$...$`` in them as math and fail on what is not valid math."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        return _render_html(results, baseline)


def _render_html(results: ResultsFile, baseline: Baseline | None) -> str:
    measurements = results.measurements
    latency = latency_charts(measurements, baseline, results.machine)
    points = variant_points(measurements)
    tradeoff = (
        [Chart("tradeoff", "p50 latency vs accuracy", tradeoff_chart(points))] if points else []
    )
    gpu = gpu_charts(measurements)
    traces = trace_charts(measurements)
    sweeps = [
        Chart("sweep", f"{group}: throughput and p95 vs batch size", sweep_chart(group, pts))
        for group, pts in batch_sweeps(measurements).items()
    ]
    parts = [
        _verdict_section(measurements),
        _runtime_section(measurements),
        _chart_section(
            "latency",
            "Latency distributions",
            latency,
            "No latency measurement.",
        ),
        *(
            [_chart_section("gpu", "GPU utilisation and memory over the timed window", gpu, "")]
            if gpu
            else []
        ),
        *([_chart_section("trace", "Where the time goes", traces, "")] if traces else []),
        _chart_section(
            "tradeoff",
            "Latency vs accuracy",
            tradeoff,
            "No variant has both a latency and an accuracy measurement.",
        ),
        _chart_section(
            "sweep", "Batch-size sweep", sweeps, "No batch-size sweep (keys with bs1, bs2...)."
        ),
        _machines_section(
            (results.machine, results.fingerprint), baseline.machines if baseline else {}
        ),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>infergate report: {html.escape(results.machine)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f'<h1>infergate report</h1><p id="verdict-summary">{verdict_badges(measurements)}</p>'
        f"<p>{len(measurements)} measurements on machine "
        f"<code>{html.escape(results.machine)}</code>.</p>"
        + "".join(parts)
        + f"<script>{_SCRIPT}</script></body></html>\n"
    )
