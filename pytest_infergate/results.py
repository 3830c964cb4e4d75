"""What a measurement produced and what the gate decided: immutable records.

Nothing here imports numpy or pytest, so the plugin can load it cheaply; the
statistics are computed by :mod:`pytest_infergate.stats` when a result is built.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field


class Outcome(enum.Enum):
    """A verdict's outcome, worst first in :data:`SEVERITY` order."""

    PASS = "PASS"
    REGRESSED = "REGRESSED"
    IMPROVED = "IMPROVED"
    INCONCLUSIVE = "INCONCLUSIVE"
    NEW = "NEW"
    NO_BASELINE_FOR_MACHINE = "NO-BASELINE-FOR-MACHINE"
    SKIPPED = "SKIPPED"


#: How bad an outcome is when several checks of one measurement are combined.
SEVERITY: dict[Outcome, int] = {
    Outcome.REGRESSED: 5,
    Outcome.INCONCLUSIVE: 4,
    Outcome.IMPROVED: 3,
    Outcome.PASS: 2,
    Outcome.NEW: 1,
    Outcome.NO_BASELINE_FOR_MACHINE: 1,
    Outcome.SKIPPED: 0,
}


def worst(outcomes: Sequence[Outcome]) -> Outcome:
    """The most severe of ``outcomes`` (PASS when there are none)."""
    return max(outcomes, key=SEVERITY.__getitem__, default=Outcome.PASS)


@dataclass(frozen=True)
class LatencyResult:
    """One timed measurement: raw per-call samples and the statistics derived from them.

    ``samples_ns`` holds one value per sample: the wall time of one call, or the
    mean per call when ``calls_per_sample`` calls were timed together because a
    single call was too short for the clock.
    """

    key: str
    samples_ns: tuple[int, ...]
    batch_size: int
    calls_per_sample: int
    warmup_calls: int
    measured_s: float
    n: int = field(init=False)
    mean_ms: float = field(init=False)
    stdev_ms: float = field(init=False)
    min_ms: float = field(init=False)
    max_ms: float = field(init=False)
    p50_ms: float = field(init=False)
    p90_ms: float = field(init=False)
    p95_ms: float = field(init=False)
    p99_ms: float = field(init=False)

    def __post_init__(self) -> None:
        if not self.samples_ns:
            raise ValueError(f"{self.key}: a measurement needs at least one sample")
        if any(s < 0 for s in self.samples_ns):
            raise ValueError(f"{self.key}: latency samples must not be negative")
        if self.batch_size < 1 or self.calls_per_sample < 1:
            raise ValueError(f"{self.key}: batch_size and calls_per_sample must be >= 1")
        from pytest_infergate.stats import summarise_ns

        summary = summarise_ns(self.samples_ns)
        for name in ("n", "mean_ms", "stdev_ms", "min_ms", "max_ms"):
            object.__setattr__(self, name, getattr(summary, name))
        for name in ("p50_ms", "p90_ms", "p95_ms", "p99_ms"):
            object.__setattr__(self, name, getattr(summary, name))

    @property
    def throughput_per_s(self) -> float:
        """Items per second at the mean latency (``batch_size / mean``)."""
        return self.batch_size / (self.mean_ms / 1e3) if self.mean_ms > 0 else math.inf

    def percentile_ms(self, name: str) -> float:
        """The percentile called ``name``: ``p50``, ``p90``, ``p95`` or ``p99``."""
        if name not in ("p50", "p90", "p95", "p99"):
            raise KeyError(f"unknown percentile {name!r}; known: p50, p90, p95, p99")
        value: float = getattr(self, f"{name}_ms")
        return value


@dataclass(frozen=True)
class AccuracyResult:
    """One evaluation of a model on a dataset slice: the metric and the predictions behind it.

    ``predictions`` and ``labels`` are class ids in slice order. They are kept, not
    just the metric, because the gate pairs them example by example with the
    baseline's (McNemar): that is what lets a 1-point gate work on a few hundred
    examples. ``low``/``high`` are the 95% Wilson interval of the share of correct
    predictions (the metric's own interval for accuracy and exact match).
    ``sampling`` says how the slice was taken, e.g. ``head 300 of 1000``.
    """

    key: str
    metric: str
    value: float
    predictions: tuple[int, ...]
    labels: tuple[int, ...]
    slice_sha256: str
    sampling: str
    predict_s: float
    n: int = field(init=False)
    correct: int = field(init=False)
    low: float = field(init=False)
    high: float = field(init=False)

    def __post_init__(self) -> None:
        if not self.predictions:
            raise ValueError(f"{self.key}: an evaluation needs at least one example")
        if len(self.predictions) != len(self.labels):
            raise ValueError(
                f"{self.key}: {len(self.predictions)} predictions for {len(self.labels)} labels"
            )
        if not math.isfinite(self.value):
            raise ValueError(f"{self.key}: metric {self.metric!r} is {self.value}")
        if any(p < 0 for p in self.predictions) or any(label < 0 for label in self.labels):
            raise ValueError(f"{self.key}: class ids must not be negative")
        from pytest_infergate.stats import wilson_interval

        correct = sum(p == label for p, label in zip(self.predictions, self.labels, strict=True))
        interval = wilson_interval(correct, len(self.predictions))
        object.__setattr__(self, "n", len(self.predictions))
        object.__setattr__(self, "correct", correct)
        object.__setattr__(self, "low", interval.low)
        object.__setattr__(self, "high", interval.high)

    @property
    def examples_per_s(self) -> float:
        """Prediction throughput: examples over the time spent in the model's batches."""
        return self.n / self.predict_s if self.predict_s > 0 else math.inf


@dataclass(frozen=True)
class Check:
    """One gated figure of a measurement against its baseline value."""

    metric: str
    baseline: float
    current: float
    low: float
    high: float
    tolerance: float
    outcome: Outcome

    @property
    def change(self) -> float:
        """Relative change of the current value against the baseline (0.1 is +10%)."""
        return self.current / self.baseline - 1.0 if self.baseline > 0 else math.inf


@dataclass(frozen=True)
class AccuracyCheck(Check):
    """An accuracy figure against its baseline, with the test behind the decision.

    ``paired`` is true when both runs saw the same slice (exact McNemar on the
    discordant examples), false when the slice changed (two-proportion test).
    ``worse``/``better`` count the examples the candidate newly gets wrong/right
    and ``flip_rate`` the share whose prediction changed at all; the three are
    ``None`` when the runs cannot be paired. ``p_value`` is ``None`` for a check
    that is not a test (the flip-rate limit). Tolerance and change are absolute
    (0.01 is one point).
    """

    p_value: float | None = None
    paired: bool = True
    worse: int | None = None
    better: int | None = None
    flip_rate: float | None = None

    @property
    def change(self) -> float:
        """Absolute change of the current value against the baseline (-0.01 is one point lost)."""
        return self.current - self.baseline


@dataclass(frozen=True)
class Verdict:
    """The gate's decision for one measurement, with the checks behind it."""

    key: str
    kind: str
    outcome: Outcome
    checks: tuple[Check, ...] = ()
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.REGRESSED


@dataclass(frozen=True)
class Measurement:
    """A measurement as the session keeps it: which test made it, and the verdict."""

    nodeid: str
    result: LatencyResult | AccuracyResult
    verdict: Verdict
    tolerances: dict[str, float]
