"""The trials page (``infergate report A.json B.json ...``): several runs side by side.

The plugin's job is comparing trials (PyTorch vs ONNX vs int8, batch sizes, today vs
last week), and one run's report cannot show that. This page puts the runs in columns,
each run with its colour and marker in every chart, all in one self-contained file like
the single-run report (:mod:`pytest_infergate.report.html`). Sections, each a
``<section id=...>``:

* ``runs`` -- each run: label, file, machine, measurement count, verdicts.
* ``figures`` -- per measurement key, a row per figure (latency p50/p95 and throughput,
  an A/B speed-up, accuracy, the verdict) and a column per run; the best value of a row
  in bold, the change against the row's first run beside each later value.
* ``tradeoff`` -- p50 latency against accuracy, every run's variants
  (:func:`pytest_infergate.report.charts.variant_points`), the Pareto front over all.
* ``sweep`` -- per batch sweep, every run's throughput and p95 against batch size.
* ``history`` -- with a baseline, each latency and A/B entry's stored history as a
  trend line per machine, each run's value for it after the trend.
* ``differences`` -- the runtime facts (providers, threads, quantised operators, the
  model) of a measurement that differ between the runs it is in, then the machine and
  software fields (versions, thread variables) that differ between the runs.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from pytest_infergate.report.charts import batch_sweeps, pareto_front, variant_points
from pytest_infergate.report.html import STYLE, flatten_fingerprint, verdict_badges
from pytest_infergate.report.trial_charts import (
    History,
    TrialPoint,
    history_chart,
    overlaid_sweep_chart,
    run_style,
    trials_tradeoff_chart,
)
from pytest_infergate.results import (
    AccuracyResult,
    ComparisonResult,
    LatencyResult,
    Measurement,
    ResultsFile,
)
from pytest_infergate.store.baseline import Baseline, LatencyEntry, RatioEntry

SECTIONS = ("runs", "tradeoff", "sweep", "figures", "history", "differences")

_TRIALS_STYLE = """
td.best{font-weight:700}small.change{color:#555;margin-left:.4em}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.3em}
td.absent{color:#aaa}#figures-table td.num{text-align:right;white-space:nowrap}
#figures-table td.verdict{font-size:.7em;white-space:nowrap}
figure.chart{display:inline-flex;flex-direction:column;width:min-content}
.charts-row{display:flex;flex-wrap:wrap;column-gap:1em}
"""


@dataclass(frozen=True)
class Run:
    """One results file on the page, under its label (the file's stem unless given)."""

    label: str
    source: str
    results: ResultsFile


@dataclass(frozen=True)
class _Figure:
    """A row of the figures table: its name, how to read it off a result, and whether
    lower is better."""

    name: str
    value: Callable[[Measurement], float]
    lower_is_better: bool


def _latency(m: Measurement) -> LatencyResult:
    assert isinstance(m.result, LatencyResult)
    return m.result


def _ratio(m: Measurement) -> ComparisonResult:
    assert isinstance(m.result, ComparisonResult)
    return m.result


def _accuracy(m: Measurement) -> AccuracyResult:
    assert isinstance(m.result, AccuracyResult)
    return m.result


_FIGURES: dict[str, tuple[_Figure, ...]] = {
    "latency": (
        _Figure("p50 ms", lambda m: _latency(m).p50_ms, True),
        _Figure("p95 ms", lambda m: _latency(m).p95_ms, True),
        _Figure("throughput /s", lambda m: _latency(m).throughput_per_s, False),
    ),
    "ratio": (
        _Figure("speed-up (x)", lambda m: _ratio(m).speedup, False),
        _Figure("candidate p50 ms", lambda m: _ratio(m).candidate.p50_ms, True),
    ),
    "accuracy": (_Figure("accuracy", lambda m: _accuracy(m).value, False),),
}


def _by_key(run: Run) -> dict[str, Measurement]:
    return {m.result.key: m for m in run.results.measurements}


def _keys(runs: Sequence[Run]) -> list[str]:
    """Every measurement key, in the order the runs first measured it."""
    return list(dict.fromkeys(m.result.key for run in runs for m in run.results.measurements))


def _swatch(index: int, label: str) -> str:
    colour, _ = run_style(index)
    return f'<span class="swatch" style="background:{colour}"></span>{html.escape(label)}'


def _runs_section(runs: Sequence[Run]) -> str:
    body = "".join(
        f'<tr data-run="{html.escape(run.label)}"><td>{_swatch(i, run.label)}</td>'
        f"<td><code>{html.escape(run.source)}</code></td>"
        f"<td><code>{html.escape(run.results.machine)}</code></td>"
        f"<td>{len(run.results.measurements)}</td>"
        f"<td>{verdict_badges(run.results.measurements)}</td></tr>"
        for i, run in enumerate(runs)
    )
    return (
        '<section id="runs"><h2>Runs</h2><table id="runs-table"><thead><tr><th>run</th>'
        "<th>file</th><th>machine</th><th>measurements</th><th>verdicts</th></tr></thead>"
        f"<tbody>{body}</tbody></table></section>"
    )


def _figure_cells(labels: Sequence[str], found: Sequence[Measurement | None], f: _Figure) -> str:
    values = [None if m is None else f.value(m) for m in found]
    present = [v for v in values if v is not None]
    best = (min if f.lower_is_better else max)(present) if len(present) > 1 else None
    first = next((i for i, v in enumerate(values) if v is not None), len(values))
    cells = ""
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        run = f' data-run="{html.escape(label)}"'
        if value is None:
            cells += f'<td class="num absent"{run}>—</td>'
            continue
        change = ""
        reference = values[first] if first < i else None
        if reference:
            change = f'<small class="change">{value / reference - 1:+.1%}</small>'
        cls = "num best" if value == best else "num"
        cells += f'<td class="{cls}"{run} data-value="{value:.6g}">{value:.4g}{change}</td>'
    return cells


def _figures_section(runs: Sequence[Run]) -> str:
    labels = [run.label for run in runs]
    tables = [_by_key(run) for run in runs]
    body = ""
    for key in _keys(runs):
        found = [table.get(key) for table in tables]
        kind = next(m for m in found if m is not None).verdict.kind
        figures = _FIGURES.get(kind, ())
        same_kind = [m if m is not None and m.verdict.kind == kind else None for m in found]
        verdicts = "".join(
            '<td class="absent">—</td>'
            if m is None
            else f'<td class="verdict {m.verdict.outcome.value}" data-run="{html.escape(label)}">'
            f"{m.verdict.outcome.value}</td>"
            for label, m in zip(labels, found, strict=True)
        )
        head = f'<td rowspan="{len(figures) + 1}"><code>{html.escape(key)}</code></td>'
        for f in figures:
            body += (
                f'<tr data-key="{html.escape(key)}" data-figure="{html.escape(f.name)}">{head}'
                f"<td>{html.escape(f.name)}</td>{_figure_cells(labels, same_kind, f)}</tr>"
            )
            head = ""
        body += (
            f'<tr data-key="{html.escape(key)}" data-figure="verdict">{head}'
            f"<td>verdict</td>{verdicts}</tr>"
        )
    columns = "".join(f"<th>{_swatch(i, label)}</th>" for i, label in enumerate(labels))
    return (
        '<section id="figures"><h2>Figures per measurement</h2>'
        "<p>Bold: the best run of a row; beside a later run's value, its change against the "
        "row's first run.</p>"
        f'<table id="figures-table"><thead><tr><th>measurement</th><th>figure</th>{columns}'
        f"</tr></thead><tbody>{body}</tbody></table></section>"
    )


def _chart(section: str, caption: str, svg: str) -> str:
    return (
        f'<figure class="chart" data-chart="{section}">{svg}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _tradeoff_section(runs: Sequence[Run]) -> str:
    points = [
        TrialPoint(index, name, p50, accuracy)
        for index, run in enumerate(runs)
        for name, (p50, accuracy) in variant_points(run.results.measurements).items()
    ]
    labels = [run.label for run in runs]
    inner = (
        _chart(
            "tradeoff",
            tradeoff_caption(labels, points),
            trials_tradeoff_chart(labels, points),
        )
        if points
        else "<p>No run has a variant with both a latency and an accuracy measurement.</p>"
    )
    return f'<section id="tradeoff"><h2>Latency vs accuracy</h2>{inner}</section>'


def tradeoff_caption(labels: Sequence[str], points: Sequence[TrialPoint]) -> str:
    """The latency-vs-accuracy chart's caption. A front of one point has no staircase to
    point at: the caption names the variant that is as fast and as accurate as any."""
    head = f"{len(points)} variants over {len({p.run for p in points})} runs; "
    front = pareto_front([(p.p50_ms, p.accuracy) for p in points])
    if len(front) == 1 and len(points) > 1:
        best = points[front[0]]
        return (
            f"{head}the Pareto front across all runs is one point, ringed: "
            f"{labels[best.run]}: {best.variant}, at least as fast and as accurate as "
            "every other variant"
        )
    return (
        f"{head}the dashed staircase is the Pareto front across all runs (no other point "
        "is both faster and more accurate), its points labelled with their run"
    )


def _sweep_section(runs: Sequence[Run]) -> str:
    per_run = [batch_sweeps(run.results.measurements) for run in runs]
    groups = list(dict.fromkeys(group for sweeps in per_run for group in sweeps))
    labels = [run.label for run in runs]
    inner = ""
    for group in groups:
        sweeps = [(i, sweeps[group]) for i, sweeps in enumerate(per_run) if group in sweeps]
        sizes = "; ".join(
            f"{labels[i]}: batch {', '.join(str(n) for n, _ in points)}" for i, points in sweeps
        )
        svg = overlaid_sweep_chart(group, labels, sweeps)
        inner += _chart("sweep", f"{group}: throughput and p95 vs batch size ({sizes})", svg)
    empty = "<p>No run has a batch-size sweep (keys with bs1, bs2...).</p>"
    return f'<section id="sweep"><h2>Batch-size sweeps</h2>{inner or empty}</section>'


def _run_value(run: Run, key: str, machine: str, entry: LatencyEntry | RatioEntry) -> float | None:
    """What ``run`` measured for the entry, when it ran on the entry's ``machine``."""
    m = _by_key(run).get(key)
    if m is None or run.results.machine != machine:
        return None
    if isinstance(entry, LatencyEntry) and isinstance(m.result, LatencyResult):
        return m.result.p50_ms
    if isinstance(entry, RatioEntry) and isinstance(m.result, ComparisonResult):
        return m.result.ratio
    return None


def histories(runs: Sequence[Run], baseline: Baseline) -> tuple[list[History], int]:
    """The baseline's latency and A/B histories with two or more stored runs, and how many
    per-machine records hold fewer (nothing to draw a trend through)."""
    charted: list[History] = []
    short = 0
    for key in sorted(baseline.entries):
        entry = baseline.entries[key]
        if not isinstance(entry, LatencyEntry | RatioEntry):
            continue
        for machine in sorted(entry.machines):
            if isinstance(entry, LatencyEntry):
                record = entry.machines[machine]
                stored, p95, metric = record.history_p50_ms, record.history_p95_ms, "p50 ms"
            else:
                stored, p95 = entry.machines[machine].history_ratio, ()
                metric = "candidate/reference"
            if len(stored) < 2:
                short += 1
                continue
            values = tuple(_run_value(run, key, machine, entry) for run in runs)
            charted.append(History(key, machine, metric, tuple(stored), tuple(p95), values))
    return charted, short


def _history_section(runs: Sequence[Run], baseline: Baseline | None) -> str:
    if baseline is None:
        inner = "<p>Give <code>--baseline BASELINE</code> to chart each entry's history.</p>"
        return f'<section id="history"><h2>Baseline history</h2>{inner}</section>'
    labels = [run.label for run in runs]
    charted, short = histories(runs, baseline)
    inner = "".join(
        _chart(
            "history",
            f"{h.key} on {h.machine}: stored {h.metric}, newest last; then each run's value",
            history_chart(h, labels),
        )
        for h in charted
    )
    notes = [f"{short} record(s) with fewer than two stored runs, not charted"] if short else []
    if any(not isinstance(e, LatencyEntry | RatioEntry) for e in baseline.entries.values()):
        notes.append("accuracy entries keep one value, no history")
    note = f"<p>{html.escape('; '.join(notes))}.</p>" if notes else ""
    empty = "" if inner else "<p>No baseline entry has a history of two or more runs.</p>"
    return f'<section id="history"><h2>Baseline history</h2>{note}{inner}{empty}</section>'


def _facts(m: Measurement) -> dict[str, str]:
    facts = m.facts
    if facts is None:
        return {}
    quantised = facts.quantized_ops
    threads = (
        f"torch {facts.torch_threads}"
        if facts.torch_threads is not None
        else "/".join(
            "?" if n is None else "auto" if n == 0 else str(n)
            for n in (facts.intra_op_threads, facts.inter_op_threads)
        )
    )
    model = PurePath(facts.model_file).name if facts.model_file else ""
    return {
        "runtime": facts.runtime,
        "providers": ", ".join(facts.providers) or facts.device or "",
        "threads": threads,
        "quantised ops": ", ".join(f"{op} {n}" for op, n in sorted(quantised.items()))
        or ("none" if facts.op_histogram else ""),
        "model": f"{model} {(facts.digest or '')[:12]}".strip(),
        "dtype": facts.dtype or "",
        "graph optimisation": facts.graph_optimization_level or "",
    }


def _differing(columns: Sequence[dict[str, str] | None]) -> list[str]:
    """The fields whose values differ between the columns that have them."""
    fields = dict.fromkeys(name for c in columns if c is not None for name in c)
    return [name for name in fields if len({c.get(name, "") for c in columns if c is not None}) > 1]


def _cells(columns: Sequence[dict[str, str] | None], name: str) -> str:
    cells = ""
    for c in columns:
        value = "—" if c is None else c.get(name, "")
        cells += f'<td class="diff">{html.escape(value)}</td>'
    return cells


def _differences_section(runs: Sequence[Run]) -> str:
    labels = [run.label for run in runs]
    head = "".join(f"<th>{_swatch(i, label)}</th>" for i, label in enumerate(labels))
    tables = [_by_key(run) for run in runs]
    facts_body = ""
    for key in _keys(runs):
        found = [table.get(key) for table in tables]
        columns = [None if m is None else _facts(m) for m in found]
        if sum(c is not None for c in columns) < 2:
            continue
        for name in _differing(columns):
            facts_body += (
                f'<tr data-key="{html.escape(key)}"><td><code>{html.escape(key)}</code></td>'
                f"<td>{html.escape(name)}</td>{_cells(columns, name)}</tr>"
            )
    machines = [
        {"machine profile": run.results.machine, **flatten_fingerprint(run.results.fingerprint)}
        for run in runs
    ]
    machine_body = "".join(
        f"<tr><td>{html.escape(name)}</td>{_cells(machines, name)}</tr>"
        for name in _differing(machines)
    )
    facts = (
        f'<table id="facts-table"><thead><tr><th>measurement</th><th>fact</th>{head}</tr>'
        f"</thead><tbody>{facts_body}</tbody></table>"
        if facts_body
        else "<p>The measurements in two or more runs ran with the same runtime facts.</p>"
    )
    same = machines[0]
    machine = (
        f'<table id="machine-differences"><thead><tr><th>field</th>{head}</tr></thead>'
        f"<tbody>{machine_body}</tbody></table>"
        if machine_body
        else f"<p>Every run: machine <code>{html.escape(same['machine profile'])}</code>, "
        f"Python {html.escape(same.get('python', '?'))}, the same library versions.</p>"
    )
    return (
        '<section id="differences"><h2>What differs between the runs</h2>'
        f"<h3>Runtime facts</h3>{facts}<h3>Machine and software</h3>{machine}</section>"
    )


def render_trials(runs: Sequence[Run], baseline: Baseline | None = None) -> str:
    """The trials page of ``runs`` (two or more); with the ``baseline``, its histories.

    Test ids and run labels are drawn as plain text, as in the single-run report."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        parts = [
            _runs_section(runs),
            f'<div class="charts-row">{_tradeoff_section(runs)}{_sweep_section(runs)}</div>',
            _figures_section(runs),
            _history_section(runs, baseline),
            _differences_section(runs),
        ]
    labels = ", ".join(run.label for run in runs)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>infergate trials: {html.escape(labels)}</title>"
        f"<style>{STYLE}{_TRIALS_STYLE}</style></head><body>"
        f"<h1>infergate trials</h1><p>{len(runs)} runs side by side: {html.escape(labels)}."
        "</p>" + "".join(parts) + "</body></html>\n"
    )
