"""The gate: compare one measurement with its baseline entry and decide.

``compare_latency`` is the single place where a latency verdict is made, and
``compare_accuracy`` the single place for an accuracy verdict; the rules live
here and nowhere else.

Rule (stored baseline): for each gated percentile, take the 99% order-statistic
confidence interval of the current value. REGRESSED when its *lower* end is above
``baseline * (1 + tolerance)``: the slowdown is both significant and material.
INCONCLUSIVE when the point estimate is above that limit but the interval is
not. IMPROVED when the *upper* end is below ``baseline * (1 - tolerance)``.
Tail percentiles are gated only when both runs have >= 300 samples: below that
the order statistics cannot bound them usefully (DESIGN.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pytest_infergate.baseline import AccuracyEntry, Entry, LatencyEntry
from pytest_infergate.results import (
    AccuracyCheck,
    AccuracyResult,
    Check,
    LatencyResult,
    Outcome,
    Verdict,
    worst,
)

#: Samples both runs need before a tail percentile is gated.
MIN_SAMPLES_FOR_TAIL = 300
CONFIDENCE = 0.99


@dataclass(frozen=True)
class LatencyPolicy:
    """What to gate and how much slack each gated percentile gets (relative, 0.1 = 10%)."""

    tolerances: Mapping[str, float] = field(default_factory=lambda: {"p50": 0.10, "p95": 0.20})
    percentiles: tuple[str, ...] = ("p50", "p95")
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        for name in self.percentiles:
            if name not in self.tolerances:
                raise ValueError(f"no tolerance for gated percentile {name!r}")


def _check(
    name: str, result: LatencyResult, baseline_ms: float, tolerance: float, confidence: float
) -> Check:
    from pytest_infergate.stats import QUANTILES, quantile_interval

    interval = quantile_interval(result.samples_ns, QUANTILES[name], confidence)
    low_ms, high_ms = interval.low / 1e6, interval.high / 1e6
    current = result.percentile_ms(name)
    limit = baseline_ms * (1.0 + tolerance)
    if low_ms > limit:
        outcome = Outcome.REGRESSED
    elif current > limit:
        outcome = Outcome.INCONCLUSIVE
    elif high_ms < baseline_ms * (1.0 - tolerance):
        outcome = Outcome.IMPROVED
    else:
        outcome = Outcome.PASS
    return Check(f"{name}_ms", baseline_ms, current, low_ms, high_ms, tolerance, outcome)


def compare_latency(
    result: LatencyResult, entry: LatencyEntry | None, profile: str, policy: LatencyPolicy
) -> Verdict:
    """Decide ``result`` against the stored ``entry`` for machine ``profile``."""
    if entry is None:
        return Verdict(result.key, "latency", Outcome.NEW, reason="no baseline entry")
    record = entry.machines.get(profile)
    if record is None:
        known = ", ".join(sorted(entry.machines)) or "none"
        return Verdict(
            result.key,
            "latency",
            Outcome.NO_BASELINE_FOR_MACHINE,
            reason=f"no latency recorded for machine {profile!r} (recorded for: {known})",
        )
    if record.batch_size != result.batch_size:
        return Verdict(
            result.key,
            "latency",
            Outcome.INCONCLUSIVE,
            reason=f"batch size {result.batch_size} differs from the baseline's "
            f"{record.batch_size}; re-record with --infer-update-baseline",
        )
    checks = tuple(
        _check(name, result, record.percentile_ms(name), policy.tolerances[name], policy.confidence)
        for name in policy.percentiles
        if name == "p50" or min(result.n, record.n) >= MIN_SAMPLES_FOR_TAIL
    )
    outcome = worst([c.outcome for c in checks])
    return Verdict(result.key, "latency", outcome, checks, _describe(checks, outcome))


def _describe(checks: tuple[Check, ...], outcome: Outcome) -> str:
    shown = [c for c in checks if c.outcome is outcome] or list(checks)
    return "; ".join(
        f"{c.metric.removesuffix('_ms')} {c.current:.4g} ms vs baseline {c.baseline:.4g} ms "
        f"({c.change:+.1%}; {CONFIDENCE:.0%} CI {c.low:.4g}-{c.high:.4g} ms; "
        f"tolerance {c.tolerance:.0%})"
        for c in shown
    )


# -- accuracy ---------------------------------------------------------------------------
#
# Rule: with the same slice (same sha256), pair the runs example by example and
# test the discordant ones with the exact McNemar test. REGRESSED when the drop
# is significant (p < alpha) AND at least the tolerance (absolute, 0.01 = one
# point); IMPROVED symmetrically; INCONCLUSIVE when the drop reaches the
# tolerance but is not significant. A naive "drop > 1 point" on 300 examples
# raised 15% false alarms in simulation, an unpaired test has almost no power
# (DESIGN.md §2). The flip rate (share of predictions that changed) is always
# reported and gated only when ``max_flip_rate`` is set. A changed slice cannot
# be paired: the same rule runs on an unpaired two-proportion test of the share
# correct, and the verdict says so and suggests re-recording.

#: Absolute slack when comparing a drop with the tolerance (3/300 is exactly 0.01).
_EPSILON = 1e-9


@dataclass(frozen=True)
class AccuracyPolicy:
    """How much of a drop is material, and the flip-rate limit (``None``: not gated)."""

    tolerance: float = 0.01
    max_flip_rate: float | None = None
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.tolerance <= 1.0:
            raise ValueError(f"accuracy tolerance must be in [0, 1], got {self.tolerance!r}")
        if self.max_flip_rate is not None and not 0.0 <= self.max_flip_rate <= 1.0:
            raise ValueError(f"max_flip_rate must be in [0, 1], got {self.max_flip_rate!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")


def _accuracy_outcome(drop: float, p_value: float, policy: AccuracyPolicy) -> Outcome:
    significant = p_value < policy.alpha
    material = max(policy.tolerance, _EPSILON) - _EPSILON
    if drop > 0 and drop >= material:
        return Outcome.REGRESSED if significant else Outcome.INCONCLUSIVE
    if -drop > 0 and -drop >= material and significant:
        return Outcome.IMPROVED
    return Outcome.PASS


def compare_accuracy(
    result: AccuracyResult, entry: Entry | None, policy: AccuracyPolicy
) -> Verdict:
    """Decide ``result`` against the stored accuracy ``entry`` (see the rule above)."""
    key = result.key
    if not isinstance(entry, AccuracyEntry):
        reason = "no baseline entry"
        if entry is not None:
            reason = f"the baseline entry under this key is a {entry.kind} entry, not accuracy"
        return Verdict(key, "accuracy", Outcome.NEW, reason=reason)
    if entry.metric != result.metric:
        return Verdict(
            key,
            "accuracy",
            Outcome.INCONCLUSIVE,
            reason=f"metric {result.metric!r} differs from the baseline's {entry.metric!r}; "
            "re-record with --infer-update-baseline",
        )
    if entry.slice_sha256 == result.slice_sha256 and entry.n == result.n:
        return _paired(result, entry, policy)
    return _unpaired(result, entry, policy)


def _paired(result: AccuracyResult, entry: AccuracyEntry, policy: AccuracyPolicy) -> Verdict:
    from pytest_infergate.stats import mcnemar_exact, wilson_interval

    pairs = tuple(zip(entry.predictions, result.predictions, result.labels, strict=True))
    worse = sum(old == label != new for old, new, label in pairs)
    better = sum(new == label != old for old, new, label in pairs)
    flips = sum(old != new for old, new, _ in pairs)
    flip_rate = flips / result.n
    p_value = mcnemar_exact(worse, better)
    drop = entry.value - result.value
    outcome = _accuracy_outcome(drop, p_value, policy)
    check = AccuracyCheck(
        metric=result.metric,
        baseline=entry.value,
        current=result.value,
        low=result.low,
        high=result.high,
        tolerance=policy.tolerance,
        outcome=outcome,
        p_value=p_value,
        paired=True,
        worse=worse,
        better=better,
        flip_rate=flip_rate,
    )
    checks: list[AccuracyCheck] = [check]
    if policy.max_flip_rate is not None:
        interval = wilson_interval(flips, result.n)
        too_many = flip_rate > policy.max_flip_rate + _EPSILON
        checks.append(
            AccuracyCheck(
                metric="flip_rate",
                baseline=0.0,
                current=flip_rate,
                low=interval.low,
                high=interval.high,
                tolerance=policy.max_flip_rate,
                outcome=Outcome.REGRESSED if too_many else Outcome.PASS,
                paired=True,
                flip_rate=flip_rate,
            )
        )
    reason = (
        f"{result.metric} {_value(result.value)} vs baseline {_value(entry.value)} "
        f"({_points(-drop)}, tolerance {_points(policy.tolerance, sign=False)}); "
        f"exact McNemar p={p_value:.3g} on {worse} newly wrong vs {better} newly right; "
        f"flip rate {flip_rate:.1%} ({flips}/{result.n})"
    )
    if policy.max_flip_rate is not None:
        reason += f", limit {policy.max_flip_rate:.1%}"
    overall = worst([c.outcome for c in checks])
    if overall is Outcome.IMPROVED:
        reason += "; re-record with --infer-update-baseline to lock the gain in"
    return Verdict(result.key, "accuracy", overall, tuple(checks), reason)


def _unpaired(result: AccuracyResult, entry: AccuracyEntry, policy: AccuracyPolicy) -> Verdict:
    from pytest_infergate.stats import two_proportion_test

    p_value = two_proportion_test(entry.correct, entry.n, result.correct, result.n)
    drop = entry.value - result.value
    outcome = _accuracy_outcome(drop, p_value, policy)
    check = AccuracyCheck(
        metric=result.metric,
        baseline=entry.value,
        current=result.value,
        low=result.low,
        high=result.high,
        tolerance=policy.tolerance,
        outcome=outcome,
        p_value=p_value,
        paired=False,
    )
    reason = (
        f"slice changed (baseline: {entry.sampling}, sha256 {entry.slice_sha256[:12]}; "
        f"now: {result.sampling}, sha256 {result.slice_sha256[:12]}), so the runs cannot be "
        f"paired: {result.metric} {_value(result.value)} vs baseline {_value(entry.value)} "
        f"({_points(-drop)}, tolerance {_points(policy.tolerance, sign=False)}); "
        f"unpaired two-proportion test p={p_value:.3g}; no flip rate. "
        "Re-record with --infer-update-baseline to pair the runs again"
    )
    return Verdict(result.key, "accuracy", outcome, (check,), reason)


def _value(value: float) -> str:
    """A metric value: a percentage when it is a share (0..1), else as is."""
    return f"{value:.2%}" if 0.0 <= value <= 1.0 else f"{value:.4g}"


def _points(change: float, *, sign: bool = True) -> str:
    """An absolute change of a 0..1 metric in percentage points."""
    return f"{change * 100:{'+' if sign else ''}.2f} pts"
