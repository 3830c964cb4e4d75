"""The HTML report's charts: matplotlib figures (object-oriented API only) as inline SVG, and
the grouping they need: variants by name stem, batch sweeps, the Pareto front."""

from __future__ import annotations

import html
import io
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_infergate.report.trace_lines import (
    TRACE_TYPES_SHOWN,
    trace_breakdown,
    trace_heading,
)
from pytest_infergate.results import (
    AccuracyResult,
    ComparisonResult,
    LatencyResult,
    Measurement,
)
from pytest_infergate.store.baseline import Baseline, LatencyEntry

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

    from pytest_infergate.measure.telemetry import GpuSample, GpuTelemetry
    from pytest_infergate.measure.trace import Trace


#: A batch-size token in a measurement key; the number is the batch size.
BATCH_TOKEN = re.compile(r"(?<![a-z0-9])(?:bs|batch_size|batch)[_=-]?(\d+)(?![0-9])", re.I)
#: Words dropped from a key when finding its variant stem.
STEM_NOISE = frozenset({"test", "tests", "py", "latency", "accuracy", "acc", "speed", "eval"})


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


def new_figure(height: float = 3.4, width: float = 6.0) -> Figure:
    """A constrained-layout figure off pyplot: no global state, no GUI backend."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def to_svg(figure: Figure) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "infergate"}):
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def log_ticks(low: float, high: float) -> list[float]:
    """Labelled ticks for a log axis over [low, high]: the 1-2-5 values of each decade (only
    the powers of ten over many decades), or, where fewer than three of them fall inside
    (a latency range shorter than a decade), evenly spaced round values, so that a short
    range still reads with three or more labels."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for multiples in ((1.0,), (1.0, 2.0, 5.0)):
        series = [m * 10.0**d for d in decades for m in multiples if low <= m * 10.0**d <= high]
        if 3 <= len(series) <= 9:
            return series
    from matplotlib.ticker import MaxNLocator

    for bins in (4, 6, 9):  # 2.2-13 ms gets only 5 and 10 from four bins
        values = MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
        inside = [float(f"{v:.6g}") for v in values if low <= v <= high]
        if len(inside) >= 3:
            break
    return inside


def _latency_chart(
    label: str,
    arms: Sequence[tuple[str, LatencyResult]],
    base: float | None,
    sketch: Sequence[float] = (),
) -> str:
    figure = new_figure()
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
    from matplotlib.ticker import NullFormatter

    axes.set_xscale("log")
    low, high = axes.get_xlim()
    ticks = log_ticks(low, high)
    axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes.set_xlim(low, high)
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("latency per call (ms, log scale)")
    axes.set_ylabel("share of samples ≤ x")
    axes.set_title(label, fontsize=9)
    # "best" avoids the drawn lines, the quantile markers among them; a fixed corner hid
    # their labels (lower right) or the baseline's sketch (upper left).
    axes.legend(fontsize=7, loc="best")
    return to_svg(figure)


def _baseline_p50(m: Measurement) -> float | None:
    for check in m.verdict.checks:
        if check.metric == "p50_ms":
            return check.baseline
    return None


def _sketch(baseline: Baseline | None, key: str, machine: str) -> tuple[float, ...]:
    entry = baseline.entries.get(key) if baseline is not None else None
    record = entry.machines.get(machine) if isinstance(entry, LatencyEntry) else None
    return record.sketch_ms if record is not None else ()


def latency_charts(
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
    figure = new_figure()
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
    return to_svg(figure)


def gpu_charts(measurements: Sequence[Measurement]) -> list[Chart]:
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
    figure = new_figure(height=1.4 + 0.26 * len(breakdown))
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
    return to_svg(figure)


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


def trace_charts(measurements: Sequence[Measurement]) -> list[Chart]:
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
    """Per variant stem with both kinds: (p50 ms of its first latency measurement, value of
    its first accuracy measurement). An accuracy stem pairs with the longest latency stem
    it equals or extends by ``-`` words: ``onnx-int8-test`` (the int8 variant on the test
    split) pairs with ``onnx-int8``, not with ``onnx``."""
    latency: dict[str, float] = {}
    scored: list[tuple[str, float]] = []
    for m in measurements:
        stem = variant(m.result.key)
        if isinstance(m.result, LatencyResult):
            latency.setdefault(stem, m.result.p50_ms)
        elif isinstance(m.result, AccuracyResult):
            scored.append((stem, m.result.value))
    accuracy: dict[str, float] = {}
    for stem, value in scored:
        owners = [s for s in latency if stem == s or stem.startswith(f"{s}-")]
        if owners:
            accuracy.setdefault(max(owners, key=len), value)
    return {s: (latency[s], accuracy[s]) for s in latency if s in accuracy}


def tradeoff_chart(points: Mapping[str, tuple[float, float]]) -> str:
    """Variants on the Pareto front in red, joined as a staircase; the others in blue.
    A legend entry only for what is drawn: no "variant" marker when all are on the front."""
    names = sorted(points, key=lambda s: points[s][0])
    xy = [points[s] for s in names]
    front = sorted(pareto_front(xy), key=lambda i: xy[i][0])
    dominated = [i for i in range(len(xy)) if i not in front]
    figure = new_figure()
    axes = figure.add_subplot()
    if dominated:
        axes.scatter(
            [xy[i][0] for i in dominated],
            [xy[i][1] for i in dominated],
            color="tab:blue",
            label="dominated variant",
        )
    axes.plot(
        [xy[i][0] for i in front],
        [xy[i][1] for i in front],
        color="tab:red",
        marker="o",
        drawstyle="steps-post",
        label="Pareto front",
    )
    axes.set_xlabel("p50 latency (ms)")
    axes.set_ylabel("accuracy")
    axes.legend(fontsize=7)
    on_front = set(front)
    items = [
        (name, x, y, i in on_front) for i, (name, (x, y)) in enumerate(zip(names, xy, strict=True))
    ]
    place_point_labels(figure, axes, sorted(items, key=lambda item: (not item[3], item[1])))
    return to_svg(figure)


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


def sweep_chart(group: str, points: Sequence[tuple[int, LatencyResult]]) -> str:
    figure = new_figure()
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
    return to_svg(figure)


#: Where a point's label may go, in points from the point: tried in order, the first whose
#: drawn box stays inside the axes and overlaps no label placed before wins (none: the
#: label is left out; colour and the legend say the run).
_LABEL_OFFSETS = (
    (4, 4),
    (-4, 4),
    (4, -11),
    (-4, -11),
    (4, 15),
    (-4, 15),
    (4, -22),
    (-4, -22),
    (4, 26),
    (-4, 26),
)


def place_point_labels(
    figure: Figure, axes: Axes, items: Sequence[tuple[str, float, float, bool]]
) -> None:
    """Annotate points ``(text, x, y, bold)`` in order so that labels neither overlap nor
    leave the axes, measuring each label as drawn: an estimate from the text's length let
    labels of the example's runs spill past the right edge and onto each other."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)  # a canvas that can measure text
    figure.draw_without_rendering()  # settle the constrained layout before measuring
    frame = axes.get_window_extent()
    placed: list[Bbox] = []
    for text, x, y, bold in items:
        for dx, dy in _LABEL_OFFSETS:
            label = axes.annotate(
                text,
                (x, y),
                fontsize=7,
                xytext=(dx, dy),
                textcoords="offset points",
                ha="left" if dx > 0 else "right",
                fontweight="bold" if bold else "normal",
            )
            label.set_in_layout(False)
            box = label.get_window_extent()
            inside = (
                frame.x0 <= box.x0
                and box.x1 <= frame.x1
                and frame.y0 <= box.y0
                and box.y1 <= frame.y1
            )
            if inside and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            label.remove()
