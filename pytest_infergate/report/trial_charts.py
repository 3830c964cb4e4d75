"""The trials page's charts: several runs on one set of axes, each run in its own colour
and marker (so that the page reads in grey print and for colour-blind readers too)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_infergate.report.charts import (
    log_ticks,
    new_figure,
    pareto_front,
    place_point_labels,
    to_svg,
)

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

    from pytest_infergate.results import LatencyResult

#: Run colours and markers, by the run's position on the page.
RUN_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)
RUN_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def run_style(index: int) -> tuple[str, str]:
    """(colour, marker) of the run at ``index``."""
    return RUN_COLOURS[index % len(RUN_COLOURS)], RUN_MARKERS[index % len(RUN_MARKERS)]


@dataclass(frozen=True)
class TrialPoint:
    """One variant of one run on the latency-vs-accuracy chart."""

    run: int
    variant: str
    p50_ms: float
    accuracy: float


def _legend(axes: Axes, handles: Sequence[Artist] | None = None) -> None:
    """8 pt (11 px on the page) over a mostly opaque frame: readable where it covers lines."""
    if handles is None:
        axes.legend(fontsize=8, framealpha=0.9, loc="best")
    else:
        axes.legend(handles=handles, fontsize=8, framealpha=0.9, loc="best")


def trials_tradeoff_chart(labels: Sequence[str], points: Sequence[TrialPoint]) -> str:
    """Every run's variants, and the Pareto front over all of them: what is worth
    keeping, whichever run it came from."""
    from matplotlib.ticker import NullFormatter

    figure = new_figure(height=4.0, width=6.0)
    axes = figure.add_subplot()
    for index, label in enumerate(labels):
        mine = [p for p in points if p.run == index]
        if not mine:
            continue
        colour, marker = run_style(index)
        axes.scatter(
            [p.p50_ms for p in mine],
            [p.accuracy for p in mine],
            color=colour,
            marker=marker,
            s=42,
            label=label,
            zorder=3,
        )
    front = sorted(
        pareto_front([(p.p50_ms, p.accuracy) for p in points]), key=lambda i: points[i].p50_ms
    )
    axes.plot(
        [points[i].p50_ms for i in front],
        [points[i].accuracy for i in front],
        color="black",
        linestyle="--",
        linewidth=1,
        marker="o",
        markersize=13,
        markerfacecolor="none",
        drawstyle="steps-post",
        label="Pareto front (all runs)",
        zorder=2,
    )
    xs = [p.p50_ms for p in points]
    log_x = min(xs) > 0 and max(xs) / min(xs) > 4
    if log_x:
        axes.set_xscale("log")
        low, high = axes.get_xlim()
        ticks = log_ticks(low, high)
        axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlim(low, high)
    labels_at = [
        (f"{labels[p.run]}: {p.variant}" if i in front else p.variant, p, i in front)
        for i, p in enumerate(points)
    ]
    labels_at.sort(key=lambda item: (not item[2], item[1].p50_ms))
    axes.set_xlabel("p50 latency per call (ms)")
    axes.set_ylabel("accuracy")
    _legend(axes)
    place_point_labels(
        figure, axes, [(text, p.p50_ms, p.accuracy, bold) for text, p, bold in labels_at]
    )
    return to_svg(figure)


def overlaid_sweep_chart(
    group: str,
    labels: Sequence[str],
    sweeps: Sequence[tuple[int, Sequence[tuple[int, LatencyResult]]]],
) -> str:
    """Throughput (solid, left axis) and p95 (dashed, right axis) against batch size, one
    colour per run: a changed sweep shows as curves that part."""
    from matplotlib.lines import Line2D

    figure = new_figure(height=3.6, width=6.0)
    axes = figure.add_subplot()
    p95 = axes.twinx()
    sizes: set[int] = set()
    handles: list[Artist] = []
    for index, points in sweeps:
        colour, marker = run_style(index)
        batch = [n for n, _ in points]
        sizes.update(batch)
        (line,) = axes.plot(
            batch,
            [r.throughput_per_s for _, r in points],
            color=colour,
            marker=marker,
            label=labels[index],
        )
        handles.append(line)
        p95.plot(batch, [r.p95_ms for _, r in points], color=colour, marker=marker, ls="--")
    handles += [
        Line2D([], [], color="grey", label="throughput (left)"),
        Line2D([], [], color="grey", ls="--", label="p95 latency (right)"),
    ]
    axes.set_xscale("log", base=2)
    ordered = sorted(sizes)
    axes.set_xticks(ordered, [str(n) for n in ordered])
    axes.set_xlabel("batch size")
    axes.set_ylabel("throughput (items/s)")
    p95.set_ylabel("p95 latency (ms)")
    axes.set_title(group, fontsize=9)
    _legend(axes, handles)
    return to_svg(figure)


@dataclass(frozen=True)
class History:
    """A baseline entry's stored run values on one machine (oldest first), and the value
    each run of the page measured for the entry there (``None``: not measured)."""

    key: str
    machine: str
    metric: str
    stored: tuple[float, ...]
    stored_p95: tuple[float, ...]
    runs: tuple[float | None, ...]


def history_chart(history: History, labels: Sequence[str]) -> str:
    """The entry's stored values as a trend line, then each run's value in its colour: is
    a run in line with what the baseline saw, or off the trend?"""
    figure = new_figure(height=2.8, width=3.9)
    axes = figure.add_subplot()
    stored = range(1, len(history.stored) + 1)
    axes.plot(stored, history.stored, color="black", marker=".", label=f"stored {history.metric}")
    if len(history.stored_p95) == len(history.stored):
        axes.plot(stored, history.stored_p95, color="grey", ls="--", marker=".", label="stored p95")
    ticks, names = list(stored), [str(i) for i in stored]
    for index, value in enumerate(history.runs):
        if value is None:
            continue
        colour, marker = run_style(index)
        x = len(history.stored) + 1 + index
        axes.scatter([x], [value], color=colour, marker=marker, s=42, zorder=3)
        ticks.append(x)
        names.append(labels[index])
    axes.set_xticks(ticks, names, fontsize=7)
    for tick in axes.get_xticklabels()[len(history.stored) :]:
        tick.set_rotation(25)
        tick.set_horizontalalignment("right")
    axes.set_xlabel("stored runs (oldest first), then this page's runs", fontsize=8)
    axes.set_ylabel(history.metric, fontsize=8)
    axes.set_title(f"{history.key}\n[{history.machine}]", fontsize=8)
    _legend(axes)
    return to_svg(figure)
