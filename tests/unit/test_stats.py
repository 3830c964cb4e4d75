from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_infergate.judge.stats import quantile_interval, sketch_ms, summarise_ns


def test_summary_matches_numpy():
    rng = np.random.default_rng(1)
    samples = rng.lognormal(mean=14, sigma=0.3, size=500).astype(int)
    summary = summarise_ns(tuple(samples))
    ms = samples / 1e6
    assert summary.n == 500
    assert summary.p50_ms == pytest.approx(np.median(ms))
    assert summary.p95_ms == pytest.approx(np.quantile(ms, 0.95))
    assert summary.stdev_ms == pytest.approx(ms.std(ddof=1))
    assert summary.min_ms <= summary.p50_ms <= summary.p90_ms <= summary.p99_ms <= summary.max_ms


@pytest.mark.parametrize(("q", "n"), [(0.5, 30), (0.5, 300), (0.95, 300)])
def test_order_statistic_interval_covers_the_true_quantile(q: float, n: int) -> None:
    """Over 2000 seeded draws, the 99% interval misses the true quantile <= ~1% of the time."""
    rng = np.random.default_rng(7)
    true_value = float(np.exp(0.5 * 0) * np.exp(0.5 * _normal_ppf(q)))
    misses = 0
    for _ in range(2000):
        sample = rng.lognormal(mean=0.0, sigma=0.5, size=n)
        interval = quantile_interval(sample, q, confidence=0.99)
        misses += not interval.low <= true_value <= interval.high
    assert misses / 2000 <= 0.015


def _normal_ppf(q: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(q))


def test_interval_end_is_infinite_when_the_data_cannot_bound_it():
    interval = quantile_interval(list(range(1, 51)), 0.99, confidence=0.99)
    assert interval.high == math.inf
    assert interval.low > 0


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5])
def test_interval_rejects_quantiles_outside_the_open_unit_interval(bad: float) -> None:
    with pytest.raises(ValueError, match="is not in"):
        quantile_interval([1.0, 2.0], bad)


def test_sketch_spans_min_to_max():
    sketch = sketch_ms([1_000_000, 2_000_000, 3_000_000])
    assert len(sketch) == 21
    assert sketch[0] == 1.0
    assert sketch[-1] == 3.0
    assert list(sketch) == sorted(sketch)
