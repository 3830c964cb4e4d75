"""The report charts' small rules: tick labels a short log axis still reads with, a legend
that names only what is drawn, and the trials caption when the Pareto front is one point."""

from __future__ import annotations

import re

import pytest

from pytest_infergate.report.charts import log_ticks
from pytest_infergate.report.trial_charts import TrialPoint
from pytest_infergate.report.trials import tradeoff_caption
from pytest_infergate.results import LatencyResult, StopReason


@pytest.mark.parametrize(
    ("low", "high"), [(2.0, 2.6), (4.9, 5.6), (0.95, 1.3), (3.3, 9.1), (18.0, 21.0), (2.2, 13.0)]
)
def test_a_range_shorter_than_a_decade_gets_three_labelled_ticks(low: float, high: float) -> None:
    ticks = log_ticks(low, high)
    assert len(ticks) >= 3
    assert all(low <= t <= high for t in ticks)
    assert ticks == sorted(set(ticks))


def test_long_ranges_keep_the_1_2_5_or_decade_ticks() -> None:
    assert log_ticks(1.0, 10.0) == [1.0, 2.0, 5.0, 10.0]
    assert log_ticks(0.1, 1000.0) == [0.1, 1.0, 10.0, 100.0, 1000.0]


def _x_tick_labels(svg: str) -> list[str]:
    """The x axis's tick labels in matplotlib's SVG (fonts kept as text): the numbers among
    the texts of the first axis group (the axis title is the one text that is not)."""
    axis = svg[svg.index('<g id="matplotlib.axis_1">') : svg.index('<g id="matplotlib.axis_2">')]
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", axis)
    return [text for text in texts if re.fullmatch(r"[\d.]+", text)]


def test_the_ecdf_of_a_short_latency_range_labels_three_or_more_ticks() -> None:
    pytest.importorskip("matplotlib")
    from pytest_infergate.report.charts import _latency_chart

    samples = tuple(range(2_000_000, 2_500_000, 2_000))  # 2.0-2.5 ms: inside one decade
    result = LatencyResult("t.py::test_m", samples, 1, 1, 10, 1.0, StopReason.DECIDED)
    svg = _latency_chart("t.py::test_m", [("current", result)], None)
    labels = _x_tick_labels(svg)
    assert len(labels) >= 3, labels
    assert all(2.0 <= float(label) <= 2.5 for label in labels), labels


def _legend_texts(svg: str) -> list[str]:
    legend = svg[svg.index('<g id="legend_1">') :]
    return re.findall(r"<text[^>]*>([^<]*)</text>", legend)


def test_the_tradeoff_legend_names_only_what_is_drawn() -> None:
    pytest.importorskip("matplotlib")
    from pytest_infergate.report.charts import tradeoff_chart

    all_on_front = _legend_texts(tradeoff_chart({"int8": (1.0, 0.90), "fp32": (2.0, 0.95)}))
    assert all_on_front == ["Pareto front"]
    with_dominated = {"int8": (1.0, 0.90), "fp32": (2.0, 0.95), "slow": (3.0, 0.90)}
    assert _legend_texts(tradeoff_chart(with_dominated)) == ["dominated variant", "Pareto front"]


def test_the_trials_caption_names_a_one_point_front() -> None:
    labels = ["fp32", "+int8"]
    tied = [TrialPoint(0, "onnx", 8.0, 0.956), TrialPoint(1, "onnx-int8", 5.0, 0.956)]
    caption = tradeoff_caption(labels, tied)
    assert "staircase" not in caption
    assert "one point, ringed: +int8: onnx-int8" in caption
    traded = [TrialPoint(0, "onnx", 8.0, 0.96), TrialPoint(1, "onnx-int8", 5.0, 0.95)]
    assert "the dashed staircase is the Pareto front" in tradeoff_caption(labels, traded)


def test_point_labels_stay_inside_the_axes_and_apart() -> None:
    """The example's trials page had 'pytorch' labels past the right edge and 'onnx' labels
    on top of each other: crowded points at the top right, labels measured as drawn."""
    pytest.importorskip("matplotlib")
    from pytest_infergate.report.charts import new_figure, place_point_labels

    points = [
        TrialPoint(run, variant, p50, 0.956)
        for run, (variant, p50) in enumerate(
            [("pytorch", 28.0), ("pytorch", 28.5), ("onnx", 9.0), ("onnx", 9.2), ("onnx-int8", 5.0)]
        )
    ]
    figure = new_figure(height=4.0, width=6.0)
    axes = figure.add_subplot()
    axes.scatter([p.p50_ms for p in points], [p.accuracy for p in points])
    axes.set_xscale("log")
    items = [(f"run {p.run}: {p.variant}", p.p50_ms, p.accuracy, p.run == 4) for p in points]
    place_point_labels(figure, axes, items)
    frame = axes.get_window_extent()
    boxes = [text.get_window_extent() for text in axes.texts]
    assert len(boxes) >= 4  # a label may be left out only when no place is free
    for box in boxes:
        assert frame.x0 <= box.x0
        assert box.x1 <= frame.x1
        assert frame.y0 <= box.y0
        assert box.y1 <= frame.y1
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
