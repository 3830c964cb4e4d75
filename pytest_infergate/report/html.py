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
  marked. Variants pair by name stem (:func:`variant`): a latency and an accuracy
  measurement whose keys reduce to the same stem are one variant.
* ``sweep`` -- throughput and p95 against batch size, for latency measurements
  whose keys differ only in a batch token (:data:`BATCH_TOKEN`: ``bs8``,
  ``batch16``, ``batch_size=32``).
* ``machines`` -- the run's fingerprint beside the baseline's (when given), with
  differing values highlighted.
"""

from __future__ import annotations

import html
import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.report.terminal import (
    HEADER,
    TRACE_TYPES_SHOWN,
    cpu_lines,
    format_runtime_differences,
    rows,
    trace_breakdown,
    trace_heading,
)
from pytest_infergate.results import (
    SEVERITY,
    AccuracyResult,
    ComparisonResult,
    LatencyResult,
    Measurement,
    Outcome,
)
from pytest_infergate.store.baseline import Baseline, LatencyEntry, encode_fingerprint
from pytest_infergate.store.results_file import ResultsFile, decode_results

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

    from pytest_infergate.measure.provenance import RuntimeFacts
    from pytest_infergate.measure.telemetry import GpuSample, GpuTelemetry
    from pytest_infergate.measure.trace import Trace

#: A batch-size token in a measurement key; the number is the batch size.
BATCH_TOKEN = re.compile(r"(?<![a-z0-9])(?:bs|batch_size|batch)[_=-]?(\d+)(?![0-9])", re.I)
#: Words dropped from a key when finding its variant stem.
STEM_NOISE = frozenset({"test", "tests", "py", "latency", "accuracy", "acc", "speed", "eval"})
SECTIONS = ("verdicts", "runtime", "latency", "gpu", "trace", "tradeoff", "sweep", "machines")

_STYLE = """
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

_SCRIPT = """
document.getElementById('verdict-filter').addEventListener('change', function (e) {
  var want = e.target.value;
  document.querySelectorAll('#verdict-table tbody tr').forEach(function (row) {
    row.style.display = (want === '' || row.dataset.verdict === want) ? '' : 'none';
  });
});
"""


def variant(key: str) -> str:
    """The variant stem of a measurement key: the file name and test parts, split on
    ``::``, ``_``, ``-``, ``.`` and brackets, without :data:`STEM_NOISE` words, joined
    by ``-``. ``test_int8.py::test_latency`` and ``test_int8.py::test_accuracy`` are
    both ``int8``; ``test_m.py::test_fp32_latency`` is ``m-fp32``."""
    path, _, rest = key.partition("::")
    words = re.split(r"[:_\-.\[\]/= ]+", f"{path.rsplit('/', 1)[-1]}::{rest}")
    return "-".join(w for w in words if w and w.lower() not in STEM_NOISE)


@dataclass(frozen=True)
class Chart:
    """A rendered chart: which section, its caption, the inline SVG, and HTML shown
    under the caption (``detail``, already escaped)."""

    section: str
    caption: str
    svg: str
    detail: str = ""


def _figure(height: float = 3.4) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(6.0, height), layout="constrained")


def _svg(figure: Figure) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "infergate"}):
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _latency_chart(
    label: str,
    arms: Sequence[tuple[str, LatencyResult]],
    base: float | None,
    sketch: Sequence[float] = (),
) -> str:
    figure = _figure()
    axes = figure.add_subplot()
    if len(sketch) >= 2:
        levels = [i / (len(sketch) - 1) for i in range(len(sketch))]
        axes.plot(sketch, levels, color="grey", marker=".", linewidth=1, label="baseline sketch")
    colours = ("tab:blue", "tab:orange")
    for (arm, result), colour in zip(arms, colours, strict=False):
        values = sorted(s / 1e6 for s in result.samples_ns)
        n = len(values)
        axes.step(values, [(i + 1) / n for i in range(n)], where="post", color=colour, label=arm)
        for name, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
            value = result.percentile_ms(name)
            axes.axvline(value, color=colour, linestyle=style, linewidth=0.8, alpha=0.7)
            axes.annotate(name, (value, 0.02), rotation=90, fontsize=7, color=colour, ha="right")
    if base is not None:
        axes.axvline(base, color="black", linestyle="--", linewidth=1.2, label="baseline p50")
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("latency per call (ms, log scale)")
    axes.set_ylabel("share of samples ≤ x")
    axes.set_title(label, fontsize=9)
    axes.legend(fontsize=7, loc="lower right")
    return _svg(figure)


def _baseline_p50(m: Measurement) -> float | None:
    for check in m.verdict.checks:
        if check.metric == "p50_ms":
            return check.baseline
    return None


def _sketch(baseline: Baseline | None, key: str, machine: str) -> tuple[float, ...]:
    entry = baseline.entries.get(key) if baseline is not None else None
    record = entry.machines.get(machine) if isinstance(entry, LatencyEntry) else None
    return record.sketch_ms if record is not None else ()


def _latency_charts(
    measurements: Sequence[Measurement], baseline: Baseline | None, machine: str
) -> list[Chart]:
    charts = []
    for m in measurements:
        r = m.result
        if isinstance(r, LatencyResult):
            sketch = _sketch(baseline, r.key, machine)
            svg = _latency_chart(r.key, [("current", r)], _baseline_p50(m), sketch)
        elif isinstance(r, ComparisonResult):
            svg = _latency_chart(
                r.key, [("candidate", r.candidate), ("reference", r.reference)], None
            )
        else:
            continue
        charts.append(Chart("latency", f"{r.key}: latency ECDF, p50/p95/p99 marked", svg))
    return charts


def slowdown_spans(samples: Sequence[GpuSample]) -> list[tuple[float, float]]:
    """Time spans (s) of consecutive readings with a slowdown bit set; a span runs to
    the next reading's time (the last reading's own time at the end)."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for i, sample in enumerate(samples):
        if sample.slowdown_mask and start is None:
            start = sample.t_s
        if start is not None and (i + 1 == len(samples) or not samples[i + 1].slowdown_mask):
            spans.append((start, samples[i + 1].t_s if i + 1 < len(samples) else sample.t_s))
            start = None
    return spans


def _gpu_chart(gpu: GpuTelemetry) -> str:
    times = [s.t_s for s in gpu.samples]
    figure = _figure()
    axes = figure.add_subplot()
    (utilisation,) = axes.plot(
        times, [s.utilization_pct for s in gpu.samples], color="tab:blue", label="utilisation"
    )
    axes.set_ylim(0, 105)
    axes.set_xlabel("time in the timed window (s)")
    axes.set_ylabel("GPU utilisation (%)", color="tab:blue")
    memory_axes = axes.twinx()
    (memory,) = memory_axes.plot(
        times,
        [s.memory_used_mib for s in gpu.samples],
        color="tab:orange",
        linestyle="--",
        label="memory used",
    )
    memory_axes.set_ylabel("memory used (MiB)", color="tab:orange")
    handles: list[Artist] = [utilisation, memory]
    for i, (start, end) in enumerate(slowdown_spans(gpu.samples)):
        span = axes.axvspan(start, end, color="tab:red", alpha=0.15, linewidth=0)
        if i == 0:
            span.set_label("slowdown: " + ", ".join(gpu.slowdowns))
            handles.append(span)
    title = f"GPU {gpu.index}"
    if gpu.other_processes:
        title += f" (shared: {gpu.other_processes} other process(es) computing)"
    axes.set_title(title, fontsize=9)
    axes.legend(handles=handles, fontsize=7, loc="lower right")
    return _svg(figure)


def _gpu_charts(measurements: Sequence[Measurement]) -> list[Chart]:
    charts = []
    for m in measurements:
        gpu = m.gpu
        if gpu is None or not gpu.samples:
            continue
        span_s = gpu.samples[-1].t_s - gpu.samples[0].t_s
        caption = f"{m.result.key}: {len(gpu.samples)} readings over {span_s:.2f} s"
        notes = gpu.warnings()
        if notes:
            caption += "; " + "; ".join(notes)
        charts.append(Chart("gpu", caption, _gpu_chart(gpu)))
    return charts


def _trace_chart(key: str, heading: str, trace: Trace) -> str:
    breakdown = trace_breakdown(trace)
    named = min(len(trace.by_type), TRACE_TYPES_SHOWN)
    colours = ["tab:blue"] * named + ["silver"] * (len(breakdown) - named - 1) + ["dimgrey"]
    figure = _figure(height=1.4 + 0.26 * len(breakdown))
    axes = figure.add_subplot()
    positions = range(len(breakdown))
    values = [ms for _, ms, _ in breakdown]
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, [label for label, _, _ in breakdown], fontsize=8)
    axes.invert_yaxis()
    for y, (_, ms, share) in zip(positions, breakdown, strict=True):
        axes.annotate(
            f"{ms:.3g} ms  {share:.1%}",
            (ms, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    axes.set_xlim(0, max(values, default=1.0) * 1.35 or 1.0)
    axes.set_xlabel("ms per profiled call (bars add up to the call)", fontsize=8)
    axes.set_title(f"{key}\n{textwrap.fill(heading, 52)}", fontsize=8)
    return _svg(figure)


def _slowest_nodes(trace: Trace) -> str:
    """The slowest single graph nodes as a small table; empty where each operator is its
    own type (torch), so the chart already says it all."""
    if not any(op.node != op.op_type for op in trace.ops):
        return ""
    calls = max(trace.calls, 1)
    body = "".join(
        f"<tr><td>{html.escape(op.op_type)}</td><td><code>{html.escape(op.node)}</code></td>"
        f"<td>{op.total_ms / calls:.4g}</td><td>{op.share:.1%}</td></tr>"
        for op in trace.ops
    )
    return (
        f'<table class="slowest-nodes"><caption>slowest nodes ({trace.covered_share:.0%} of '
        "the call)</caption><thead><tr><th>op type</th><th>node</th><th>ms/call</th>"
        f"<th>share</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _trace_charts(measurements: Sequence[Measurement]) -> list[Chart]:
    charts = []
    for m in measurements:
        trace = m.trace
        if trace is None:
            continue
        key = m.result.key
        caption = f"{key}: time per call by operator type, then outside any operator"
        svg = _trace_chart(key, trace_heading(m, trace, "\n"), trace) if trace.by_type else ""
        if not svg:
            caption = f"{key}: traced before the time per operator type was recorded"
        charts.append(Chart("trace", caption, svg, _slowest_nodes(trace)))
    return charts


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: lower latency (x) and higher accuracy (y)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (ox <= x and oy >= y) and (ox < x or oy > y)
            for j, (ox, oy) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front


def variant_points(measurements: Sequence[Measurement]) -> dict[str, tuple[float, float]]:
    """Per variant stem with both kinds: (p50 ms of its first latency measurement,
    value of its first accuracy measurement)."""
    latency: dict[str, float] = {}
    accuracy: dict[str, float] = {}
    for m in measurements:
        stem = variant(m.result.key)
        if isinstance(m.result, LatencyResult):
            latency.setdefault(stem, m.result.p50_ms)
        elif isinstance(m.result, AccuracyResult):
            accuracy.setdefault(stem, m.result.value)
    return {s: (latency[s], accuracy[s]) for s in latency if s in accuracy}


def _tradeoff_chart(points: Mapping[str, tuple[float, float]]) -> str:
    names = sorted(points, key=lambda s: points[s][0])
    xy = [points[s] for s in names]
    front = sorted(pareto_front(xy), key=lambda i: xy[i][0])
    figure = _figure()
    axes = figure.add_subplot()
    axes.scatter([x for x, _ in xy], [y for _, y in xy], color="tab:blue", label="variant")
    axes.plot(
        [xy[i][0] for i in front],
        [xy[i][1] for i in front],
        color="tab:red",
        marker="o",
        drawstyle="steps-post",
        label="Pareto front",
    )
    for name, (x, y) in zip(names, xy, strict=True):
        axes.annotate(name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.set_xlabel("p50 latency (ms)")
    axes.set_ylabel("accuracy")
    axes.legend(fontsize=7)
    return _svg(figure)


def batch_sweeps(measurements: Sequence[Measurement]) -> dict[str, list[tuple[int, LatencyResult]]]:
    """Latency measurements grouped by key with the batch token replaced by ``bs*``;
    only groups with two or more batch sizes, sorted by batch size."""
    groups: dict[str, dict[int, LatencyResult]] = {}
    for m in measurements:
        if not isinstance(m.result, LatencyResult):
            continue
        sizes = {int(n) for n in BATCH_TOKEN.findall(m.result.key)}
        if len(sizes) != 1:
            continue
        group = BATCH_TOKEN.sub("bs*", m.result.key)
        groups.setdefault(group, {}).setdefault(sizes.pop(), m.result)
    return {g: sorted(v.items()) for g, v in groups.items() if len(v) >= 2}


def _sweep_chart(group: str, points: Sequence[tuple[int, LatencyResult]]) -> str:
    figure = _figure()
    axes = figure.add_subplot()
    sizes = [n for n, _ in points]
    axes.plot(sizes, [r.throughput_per_s for _, r in points], "o-", color="tab:blue")
    axes.set_xlabel("batch size")
    axes.set_ylabel("throughput (items/s)", color="tab:blue")
    axes.set_xscale("log", base=2)
    axes.set_xticks(sizes, [str(n) for n in sizes])
    p95 = axes.twinx()
    p95.plot(sizes, [r.p95_ms for _, r in points], "s--", color="tab:orange")
    p95.set_ylabel("p95 latency (ms)", color="tab:orange")
    axes.set_title(group, fontsize=9)
    return _svg(figure)


def _verdict_section(measurements: Sequence[Measurement]) -> str:
    table = rows(measurements)
    present = sorted({row.outcome for row in table}, key=lambda o: -SEVERITY[o])
    options = "".join(f'<option value="{o.value}">{o.value}</option>' for o in present)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join(
        f'<tr class="{row.outcome.value}" data-verdict="{row.outcome.value}">'
        + "".join(f"<td>{html.escape(c)}</td>" for c in row.cells)
        + "</tr>"
        for row in table
    )
    reasons = "".join(
        f"<li><code>{html.escape(m.result.key)}</code>: {html.escape(m.verdict.reason)}</li>"
        for m in measurements
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


def _flatten(fingerprint: Fingerprint) -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in encode_fingerprint(fingerprint).items():
        if isinstance(value, dict):
            flat.update({f"{name}.{k}": str(v) for k, v in value.items()})
        else:
            flat[name] = str(value)
    return flat


def _machines_section(current: tuple[str, Fingerprint], others: Mapping[str, Fingerprint]) -> str:
    columns = [(f"this run ({current[0]})", _flatten(current[1]))]
    columns += [(f"baseline ({p})", _flatten(f)) for p, f in sorted(others.items())]
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
    latency = _latency_charts(measurements, baseline, results.machine)
    points = variant_points(measurements)
    tradeoff = (
        [Chart("tradeoff", "p50 latency vs accuracy", _tradeoff_chart(points))] if points else []
    )
    gpu = _gpu_charts(measurements)
    traces = _trace_charts(measurements)
    sweeps = [
        Chart("sweep", f"{group}: throughput and p95 vs batch size", _sweep_chart(group, pts))
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
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>infergate report</h1><p>{len(measurements)} measurements on machine "
        f"<code>{html.escape(results.machine)}</code>.</p>"
        + "".join(parts)
        + f"<script>{_SCRIPT}</script></body></html>\n"
    )
