"""The gate: compare one measurement with its baseline entry and decide.

``compare_latency`` is the single place where a latency verdict is made; the
stored-baseline rule lives here and nowhere else.

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

from pytest_infergate.baseline import LatencyEntry
from pytest_infergate.results import Check, LatencyResult, Outcome, Verdict, worst

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
