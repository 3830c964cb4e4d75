"""The result records read in one line: figures, not a dump of every raw sample."""

from __future__ import annotations

from pytest_infergate.results import (
    AccuracyResult,
    ComparisonResult,
    LatencyResult,
    StopReason,
    SweepPoint,
    SweepResult,
)

SAMPLES = tuple(range(1_000_000, 1_300_000, 1_000))  # 300 samples, 1.0-1.3 ms


def _latency(key: str = "t.py::test_m", batch: int = 1) -> LatencyResult:
    return LatencyResult(key, SAMPLES, batch, 1, 10, 1.0, StopReason.DECIDED)


def test_latency_result_repr_is_one_short_line() -> None:
    text = repr(_latency())
    assert text == "LatencyResult('t.py::test_m', p50=1.15 ms, p95=1.28 ms, n=300, decided)"
    assert "batch=4" in repr(_latency(batch=4))


def test_comparison_result_repr_has_the_ratio_and_both_medians() -> None:
    result = ComparisonResult("t.py::test_ab", _latency("a"), _latency("b"), 1.0)
    text = repr(result)
    assert text.startswith("ComparisonResult('t.py::test_ab', ratio=1.000 [")
    assert "candidate p50=1.15 ms, reference p50=1.15 ms, n=300/arm" in text
    assert "\n" not in text
    assert len(text) < 160


def test_accuracy_result_repr_has_the_metric_and_interval() -> None:
    result = AccuracyResult(
        "t.py::test_acc", "accuracy", 0.9, (1,) * 9 + (0,), (1,) * 10, "ab", "head 10", 0.1
    )
    assert repr(result) == (
        "AccuracyResult('t.py::test_acc', accuracy=0.9, 9/10 correct, 95% [0.5958, 0.9821])"
    )


def test_sweep_result_repr_names_the_best_point() -> None:
    sweep = SweepResult((SweepPoint(1, 1.0, 1.2, 1000.0), SweepPoint(8, 3.0, 3.5, 2666.6)), 5.0)
    assert repr(sweep) == (
        "SweepResult(best=SweepPoint(bs=8, p50=3 ms, p95=3.5 ms, 2667 items/s), "
        "batch sizes 1,8, p95 <= 5 ms)"
    )
    tight = SweepResult(sweep.points, 0.5)
    assert repr(tight).startswith("SweepResult(best=none within the budget")
