"""What a measurement produced and what the gate decided: immutable records.

Nothing here imports numpy or pytest, so the plugin can load it cheaply; the
statistics are computed by :mod:`pytest_infergate.judge.stats` when a result is built.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_infergate.defaults import PERCENTILES
from pytest_infergate.measure import yardstick as _yardstick
from pytest_infergate.verdicts import Verdict

if TYPE_CHECKING:
    from pytest_infergate.measure.cpu import CpuUsage
    from pytest_infergate.measure.environment import Fingerprint
    from pytest_infergate.measure.provenance import RuntimeFacts
    from pytest_infergate.measure.telemetry import GpuTelemetry
    from pytest_infergate.measure.trace import Trace


class StopReason(enum.Enum):
    """Why sampling stopped: the verdict was clear, or a cap was hit first."""

    DECIDED = "decided"
    SAMPLE_CAP = "sample cap"
    TIME_CAP = "time cap"
    PLAN = "plan complete"


#: The figures (ms) every latency record holds, in one spelling: a run's statistics
#: (:class:`LatencyResult`, ``stats.Summary``) and a stored record (``LatencyRecord``).
LATENCY_FIGURES = ("mean_ms", "stdev_ms", "min_ms", "max_ms", *(f"{p}_ms" for p in PERCENTILES))


class LatencyFigures:
    """A record holding :data:`LATENCY_FIGURES`: its percentiles by name."""

    def percentile_ms(self, name: str) -> float:
        """The percentile called ``name``, one of :data:`~pytest_infergate.defaults.PERCENTILES`."""
        if name not in PERCENTILES:
            raise KeyError(f"unknown percentile {name!r}; known: {', '.join(PERCENTILES)}")
        value: float = getattr(self, f"{name}_ms")
        return value


def _ms(value: float) -> str:
    """Milliseconds to 3 significant digits: enough to read, short enough for one line."""
    return f"{value:.3g} ms"


@dataclass(frozen=True)
class LatencyResult(LatencyFigures):
    """One timed measurement: raw per-call samples and the statistics derived from them.

    ``samples_ns`` holds one value per sample: the wall time of one call, or the
    mean per call when ``calls_per_sample`` calls were timed together because a
    single call was too short for the clock. ``stop_reason`` says why sampling
    ended (``n`` is the number of samples taken).

    ``cpu_samples_ns`` holds, per sample, the CPU time one call used (a group's
    mean, like ``samples_ns``) on ``cpu_clock``: ``"thread"`` (the calling thread's)
    or ``"process"`` (the whole process's, for a call that runs on a thread pool).
    Empty (and ``cpu_clock`` ``None``) where it was not measured: results written
    before it was, an A/B arm.
    """

    key: str
    samples_ns: tuple[int, ...]
    batch_size: int
    calls_per_sample: int
    warmup_calls: int
    measured_s: float
    stop_reason: StopReason = StopReason.PLAN
    cpu_samples_ns: tuple[int, ...] = ()
    cpu_clock: str | None = None
    #: CPU time of each call of the machine-speed yardstick timed between the samples (ns,
    #: the calling thread's clock; :mod:`pytest_infergate.measure.yardstick`); empty when
    #: not measured.
    yardstick_ns: tuple[int, ...] = ()
    #: How many of ``yardstick_ns`` each of the yardstick's blocks timed, in order; empty
    #: where not recorded (results files of older versions).
    yardstick_blocks: tuple[int, ...] = ()
    n: int = field(init=False)
    mean_ms: float = field(init=False)
    stdev_ms: float = field(init=False)
    min_ms: float = field(init=False)
    max_ms: float = field(init=False)
    p50_ms: float = field(init=False)
    p90_ms: float = field(init=False)
    p95_ms: float = field(init=False)
    p99_ms: float = field(init=False)
    #: Median CPU time per call (ms) on ``cpu_clock``; ``None`` when not measured.
    cpu_p50_ms: float | None = field(init=False)

    def __post_init__(self) -> None:
        if not self.samples_ns:
            raise ValueError(f"{self.key}: a measurement needs at least one sample")
        if any(s < 0 for s in self.samples_ns):
            raise ValueError(f"{self.key}: latency samples must not be negative")
        if self.batch_size < 1 or self.calls_per_sample < 1:
            raise ValueError(f"{self.key}: batch_size and calls_per_sample must be >= 1")
        if self.cpu_samples_ns:
            if len(self.cpu_samples_ns) != len(self.samples_ns):
                raise ValueError(
                    f"{self.key}: {len(self.cpu_samples_ns)} CPU samples for "
                    f"{len(self.samples_ns)} latency samples"
                )
            if any(s < 0 for s in self.cpu_samples_ns):
                raise ValueError(f"{self.key}: CPU samples must not be negative")
            if self.cpu_clock not in ("thread", "process"):
                raise ValueError(
                    f"{self.key}: cpu_clock must be 'thread' or 'process', got {self.cpu_clock!r}"
                )
        if any(s < 0 for s in self.yardstick_ns):
            raise ValueError(f"{self.key}: yardstick samples must not be negative")
        if self.yardstick_blocks and (
            any(b < 0 for b in self.yardstick_blocks)
            or sum(self.yardstick_blocks) != len(self.yardstick_ns)
        ):
            raise ValueError(
                f"{self.key}: yardstick blocks of {sum(self.yardstick_blocks)} calls "
                f"for {len(self.yardstick_ns)} yardstick samples"
            )
        from pytest_infergate.judge.stats import summarise_ns

        summary = summarise_ns(self.samples_ns)
        for name in ("n", "mean_ms", "stdev_ms", "min_ms", "max_ms"):
            object.__setattr__(self, name, getattr(summary, name))
        for name in ("p50_ms", "p90_ms", "p95_ms", "p99_ms"):
            object.__setattr__(self, name, getattr(summary, name))
        cpu_p50 = summarise_ns(self.cpu_samples_ns).p50_ms if self.cpu_samples_ns else None
        object.__setattr__(self, "cpu_p50_ms", cpu_p50)

    def __repr__(self) -> str:
        """One line a person can read in a test's output: the figures, not every raw sample."""
        batch = f", batch={self.batch_size}" if self.batch_size != 1 else ""
        return (
            f"LatencyResult({self.key!r}, p50={_ms(self.p50_ms)}, p95={_ms(self.p95_ms)}, "
            f"n={self.n}{batch}, {self.stop_reason.value})"
        )

    @property
    def yardstick_ms(self) -> float | None:
        """The machine's speed during this run (ms a yardstick call, larger is slower):
        :func:`pytest_infergate.measure.yardstick.pace_ms` of its calls; ``None`` when
        not measured."""
        if not self.yardstick_ns:
            return None
        return _yardstick.pace_ms(self.yardstick_ns)

    @property
    def yardstick_noise(self) -> float | None:
        """How far the yardstick's pace wandered within this run (sd of the log of its
        blocks' paces, :func:`pytest_infergate.measure.yardstick.pace_noise`); ``None``
        when the run has too few blocks to say."""
        if not self.yardstick_blocks:
            return None
        return _yardstick.pace_noise(self.yardstick_ns, self.yardstick_blocks)

    @property
    def cpu_per_wall(self) -> float | None:
        """CPU time over wall time of the timed calls (sums over every sample): the share
        of a core a single-threaded call got (0.5: it waited half the time), about the
        pool's busy threads for a pooled one; ``None`` when not measured."""
        wall = sum(self.samples_ns)
        if not self.cpu_samples_ns or wall <= 0:
            return None
        return sum(self.cpu_samples_ns) / wall

    @property
    def throughput_per_s(self) -> float:
        """Items per second at the mean latency (``batch_size / mean``)."""
        return self.batch_size / (self.mean_ms / 1e3) if self.mean_ms > 0 else math.inf


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
        from pytest_infergate.judge.stats import wilson_interval

        correct = sum(p == label for p, label in zip(self.predictions, self.labels, strict=True))
        interval = wilson_interval(correct, len(self.predictions))
        object.__setattr__(self, "n", len(self.predictions))
        object.__setattr__(self, "correct", correct)
        object.__setattr__(self, "low", interval.low)
        object.__setattr__(self, "high", interval.high)

    def __repr__(self) -> str:
        """One line: the metric and its interval, not every prediction."""
        return (
            f"AccuracyResult({self.key!r}, {self.metric}={self.value:.4g}, "
            f"{self.correct}/{self.n} correct, 95% [{self.low:.4g}, {self.high:.4g}])"
        )

    @property
    def examples_per_s(self) -> float:
        """Prediction throughput: examples over the time spent in the model's batches."""
        return self.n / self.predict_s if self.predict_s > 0 else math.inf


@dataclass(frozen=True)
class FixedGates:
    """The fixed ratio gates an A/B test asked for: ``compare(max_slowdown=...,
    min_speedup=...)``, and whether the stored ratio is checked too. Kept with the
    result so that ``infergate compare`` judges it as the run did; neither set means the
    default slowdown gate, at the latency tolerance."""

    max_slowdown: float | None = None
    min_speedup: float | None = None
    #: ``compare(stored_ratio=False)``: no check against (and no record of) a stored ratio.
    stored_ratio: bool = True

    def __post_init__(self) -> None:
        slowdown, speedup = self.max_slowdown, self.min_speedup
        if slowdown is not None and not (math.isfinite(slowdown) and slowdown >= 0):
            raise ValueError(f"max_slowdown must be a finite number >= 0, got {slowdown!r}")
        if speedup is not None and not (math.isfinite(speedup) and speedup > 0):
            raise ValueError(f"min_speedup must be a finite number > 0, got {speedup!r}")


@dataclass(frozen=True)
class ComparisonResult:
    """An interleaved A/B measurement: candidate and reference timed alternately.

    ``ratio`` is median(candidate) / median(reference) (above 1: the candidate is
    slower), with a two-sided ``confidence`` interval [``ratio_low``, ``ratio_high``]
    from :func:`pytest_infergate.judge.stats.ratio_of_medians` (Price & Bonett). ``n`` is
    the samples per arm; ``p95_ratio`` is reported once ``n`` >= 300 (the order
    statistics cannot pin a p95 down with fewer), else ``None``. Both arms keep their
    raw samples, so throughput and percentiles of each are at hand. ``gates`` are the
    fixed gates the test set.
    """

    key: str
    candidate: LatencyResult
    reference: LatencyResult
    measured_s: float
    stop_reason: StopReason = StopReason.PLAN
    confidence: float = 0.99
    gates: FixedGates = FixedGates()
    n: int = field(init=False)
    ratio: float = field(init=False)
    ratio_low: float = field(init=False)
    ratio_high: float = field(init=False)
    p95_ratio: float | None = field(init=False)

    def __post_init__(self) -> None:
        if self.candidate.n != self.reference.n:
            raise ValueError(
                f"{self.key}: the arms need equal sample counts, got "
                f"{self.candidate.n} and {self.reference.n}"
            )
        if self.candidate.batch_size != self.reference.batch_size:
            raise ValueError(f"{self.key}: candidate and reference need the same batch_size")
        if min(self.candidate.min_ms, self.reference.min_ms) <= 0:
            raise ValueError(f"{self.key}: a ratio needs positive latencies")
        n = self.candidate.n
        ratio = self.candidate.p50_ms / self.reference.p50_ms
        low, high = -math.inf, math.inf
        if n >= 3:
            from pytest_infergate.judge.stats import ratio_of_medians

            estimate = ratio_of_medians(
                self.candidate.samples_ns, self.reference.samples_ns, self.confidence
            )
            ratio, low, high = estimate.ratio, estimate.low, estimate.high
        p95 = self.candidate.p95_ms / self.reference.p95_ms if n >= 300 else None
        for name, value in (
            ("n", n),
            ("ratio", ratio),
            ("ratio_low", low),
            ("ratio_high", high),
            ("p95_ratio", p95),
        ):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        """One line: the ratio and its interval, each arm's median, not the raw samples."""
        interval = ""
        if math.isfinite(self.ratio_low) and math.isfinite(self.ratio_high):
            interval = f" [{self.ratio_low:.3f}, {self.ratio_high:.3f}]"
        return (
            f"ComparisonResult({self.key!r}, ratio={self.ratio:.3f}{interval}, "
            f"candidate p50={_ms(self.candidate.p50_ms)}, "
            f"reference p50={_ms(self.reference.p50_ms)}, n={self.n}/arm, "
            f"{self.stop_reason.value})"
        )

    @property
    def speedup(self) -> float:
        """How many times faster the candidate is (``1 / ratio``)."""
        return 1.0 / self.ratio

    @property
    def batch_size(self) -> int:
        return self.candidate.batch_size


@dataclass(frozen=True)
class Measurement:
    """A measurement as the session keeps it: which test made it, and the verdict."""

    nodeid: str
    result: LatencyResult | ComparisonResult | AccuracyResult
    verdict: Verdict
    tolerances: dict[str, float]
    #: What ran (providers, op histogram, model digest...), when the model exposes it.
    facts: RuntimeFacts | None = None
    #: GPU readings over the timed window (NVML), when a GPU is present.
    gpu: GpuTelemetry | None = None
    #: Top operators of a few profiled calls (``--infer-trace``, marker ``trace=True``).
    trace: Trace | None = None
    #: Process CPU time against wall time over the timed window, and the machine's load
    #: average after it: under pytest-xdist, how busy the other workers kept the machine.
    cpu: CpuUsage | None = None
    #: An A/B measurement's reference arm: what ran there, when its model exposes it.
    reference_facts: RuntimeFacts | None = None


@dataclass(frozen=True)
class Observed:
    """What was seen around a measurement besides its samples, kept with it
    (:class:`Measurement` has the meaning of each)."""

    facts: RuntimeFacts | None = None
    gpu: GpuTelemetry | None = None
    trace: Trace | None = None
    cpu: CpuUsage | None = None
    reference_facts: RuntimeFacts | None = None


NOTHING_OBSERVED = Observed()


@dataclass(frozen=True)
class ResultsFile:
    """A session's results (``--infer-json``): the machine it ran on and every judged
    measurement. The reports and ``infergate compare`` take this record; in-process it is
    the session's own, read from a file it is decoded back to the same records."""

    schema_version: int
    machine: str
    fingerprint: Fingerprint
    measurements: tuple[Measurement, ...]


@dataclass(frozen=True)
class SweepPoint:
    """One batch size of a sweep: its latency and throughput."""

    batch_size: int
    p50_ms: float
    p95_ms: float
    throughput_per_s: float

    def __repr__(self) -> str:
        return (
            f"SweepPoint(bs={self.batch_size}, p50={_ms(self.p50_ms)}, p95={_ms(self.p95_ms)}, "
            f"{self.throughput_per_s:.4g} items/s)"
        )


@dataclass(frozen=True)
class SweepResult:
    """A batch-size search: every point, and the best one under the latency budget."""

    points: tuple[SweepPoint, ...]
    latency_budget_ms: float | None = None

    def __repr__(self) -> str:
        """One line: the best point and the sizes swept; :meth:`table` has them all."""
        best = self.best
        chosen = "none within the budget" if best is None else repr(best)
        sizes = ",".join(str(p.batch_size) for p in self.points)
        budget = "" if self.latency_budget_ms is None else f", p95 <= {self.latency_budget_ms:g} ms"
        return f"SweepResult(best={chosen}, batch sizes {sizes}{budget})"

    @property
    def best(self) -> SweepPoint | None:
        """Highest throughput whose p95 is within the budget (``None``: none fits)."""
        fitting = [
            p
            for p in self.points
            if self.latency_budget_ms is None or p.p95_ms <= self.latency_budget_ms
        ]
        return max(fitting, key=lambda p: p.throughput_per_s, default=None)

    def table(self) -> str:
        """A small text table of the points, the best one marked."""
        best = self.best
        lines = [f"{'batch':>5}  {'p50 ms':>8}  {'p95 ms':>8}  {'items/s':>9}"]
        for p in self.points:
            mark = "  <- best" if p is best else ""
            lines.append(
                f"{p.batch_size:>5}  {p.p50_ms:>8.3f}  {p.p95_ms:>8.3f}  "
                f"{p.throughput_per_s:>9.1f}{mark}"
            )
        if self.latency_budget_ms is not None:
            lines.append(f"latency budget: p95 <= {self.latency_budget_ms:g} ms")
        return "\n".join(lines)
