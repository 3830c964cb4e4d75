"""Describing one run: quantiles, their distribution-free confidence intervals, the summary
of a run's samples and its quantile sketch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as _scipy_stats

from pytest_infergate.defaults import PERCENTILES, Percentile
from pytest_infergate.results import LatencyFigures

FloatArray = NDArray[np.float64]

#: Quantiles we report, by name (``p95``: 0.95). ``p50`` is the median.
QUANTILES: dict[Percentile, float] = {name: int(name[1:]) / 100 for name in PERCENTILES}


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval; an end that the data cannot bound is infinite."""

    low: float
    high: float
    confidence: float

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"interval low {self.low} is above high {self.high}")


def quantile(samples: Sequence[float], q: float) -> float:
    """The sample quantile by linear interpolation (numpy's default, Hyndman & Fan type 7)."""
    if not samples:
        raise ValueError("no samples")
    return float(np.quantile(np.asarray(samples, dtype=float), q))


def quantile_interval(samples: Sequence[float], q: float, confidence: float = 0.99) -> Interval:
    """Distribution-free confidence interval for the ``q`` quantile from order statistics.

    For sorted samples x(1) <= ... <= x(n), the number of samples below the true
    quantile is Binomial(n, q), so [x(l), x(u)] covers it with probability
    P(l <= B < u). We pick l and u from the binomial quantiles at (1-c)/2 and
    1-(1-c)/2. No assumption on the latency distribution (skewed and
    multi-modal are fine); samples are assumed independent. When n is too small
    for an end to exist (e.g. the 99% bound of p99 needs n >= 459), that end is
    infinite, and a gate on it cannot conclude.
    Reference: Conover, *Practical Nonparametric Statistics*, 3rd ed., §3.2.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile {q} is not in (0, 1)")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence} is not in (0, 1)")
    ordered = np.sort(np.asarray(samples, dtype=float))
    n = len(ordered)
    if n == 0:
        raise ValueError("no samples")
    alpha = 1.0 - confidence
    lower_rank = int(_scipy_stats.binom.ppf(alpha / 2, n, q))
    upper_rank = int(_scipy_stats.binom.ppf(1 - alpha / 2, n, q)) + 1
    low = float(ordered[lower_rank - 1]) if lower_rank >= 1 else -math.inf
    high = float(ordered[upper_rank - 1]) if upper_rank <= n else math.inf
    return Interval(low, high, confidence)


@dataclass(frozen=True)
class Summary(LatencyFigures):
    """Descriptive statistics of one set of latency samples, in milliseconds."""

    n: int
    mean_ms: float
    stdev_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float


def summarise_ns(samples_ns: Sequence[int]) -> Summary:
    """Summarise per-call latencies given in nanoseconds.

    The standard deviation is the sample one (ddof=1); it is 0 for one sample.
    """
    if len(samples_ns) == 0:
        raise ValueError("no samples")
    values_ms = np.asarray(samples_ns, dtype=float) / 1e6
    quantiles = np.quantile(values_ms, [QUANTILES[name] for name in PERCENTILES])
    return Summary(
        n=len(values_ms),
        mean_ms=float(values_ms.mean()),
        stdev_ms=float(values_ms.std(ddof=1)) if len(values_ms) > 1 else 0.0,
        min_ms=float(values_ms.min()),
        max_ms=float(values_ms.max()),
        **{f"{name}_ms": float(q) for name, q in zip(PERCENTILES, quantiles, strict=True)},
    )


def sketch_ms(samples_ns: Sequence[int], points: int = 21) -> tuple[float, ...]:
    """Evenly spaced quantiles (0%, 5%, ..., 100% for 21 points): a compact stand-in
    for the raw samples, enough to redraw the distribution."""
    values_ms = np.asarray(samples_ns, dtype=float) / 1e6
    return tuple(float(v) for v in np.quantile(values_ms, np.linspace(0.0, 1.0, points)))
