"""The accuracy gate.

Rule: with the same slice (same sha256), pair the runs example by example and test the
discordant ones with the one-sided mid-p McNemar test in the direction of the change.
REGRESSED when the drop is significant (p < alpha = 0.01) AND at least the tolerance
(absolute, 0.01 = one point); IMPROVED symmetrically; INCONCLUSIVE when the drop reaches the
tolerance but is not significant. Why one-sided mid-p at 0.01: the exact two-sided test at
0.05 this rule used before raised up to 2.4% false alarms per verdict (its REGRESSED side is
a 2.5% test), and mid-p at 0.01 keeps them at 1% while giving back most of the power a
stricter exact test would lose (see :func:`pytest_infergate.judge.stats.mcnemar_midp`). A
naive "drop > 1 point" on 300 examples raised 15% false alarms in simulation, an unpaired
test has almost no power (docs/design.md, "Accuracy"). The flip rate (share of predictions
that changed) is always reported and gated only when ``max_flip_rate`` is set. A changed
slice cannot be paired: the same rule runs on an unpaired two-proportion test of the share
correct (one-sided too), and the verdict says so and suggests re-recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_infergate.judge.wording import _points, _value
from pytest_infergate.options import SETTING
from pytest_infergate.results import AccuracyResult
from pytest_infergate.store.baseline import (
    AccuracyEntry,
    Entry,
)
from pytest_infergate.verdicts import AccuracyCheck, Outcome, Verdict, worst

#: Absolute slack when comparing a drop with the tolerance: a baseline value is stored to 6
#: significant digits, so a drop of exactly one point (3 of 300: 256/300 stored as 0.853333)
#: reads 0.0099997, and must still count as reaching a one-point tolerance.
_EPSILON = 1e-6


@dataclass(frozen=True)
class AccuracyPolicy:
    """How much of a drop is material, and the flip-rate limit (``None``: not gated)."""

    tolerance: float = SETTING["accuracy_tolerance"].parse(SETTING["accuracy_tolerance"].default)
    max_flip_rate: float | None = None
    #: One-sided, in the direction of the change.
    alpha: float = 0.01

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


def _metric_check(
    result: AccuracyResult,
    entry: AccuracyEntry,
    policy: AccuracyPolicy,
    outcome: Outcome,
    p_value: float,
    **paired_figures: Any,
) -> AccuracyCheck:
    """The metric's check: current against stored, with the test's p-value;
    ``paired_figures`` are ``paired`` and, for a paired test, its counts."""
    return AccuracyCheck(
        metric=result.metric,
        baseline=entry.value,
        current=result.value,
        low=result.low,
        high=result.high,
        tolerance=policy.tolerance,
        outcome=outcome,
        p_value=p_value,
        **paired_figures,
    )


def _paired(result: AccuracyResult, entry: AccuracyEntry, policy: AccuracyPolicy) -> Verdict:
    from pytest_infergate.judge.stats import mcnemar_midp, wilson_interval  # numpy, scipy

    pairs = tuple(zip(entry.predictions, result.predictions, result.labels, strict=True))
    worse = sum(old == label != new for old, new, label in pairs)
    better = sum(new == label != old for old, new, label in pairs)
    flips = sum(old != new for old, new, _ in pairs)
    flip_rate = flips / result.n
    drop = entry.value - result.value
    p_value = mcnemar_midp(worse, better) if drop >= 0 else mcnemar_midp(better, worse)
    outcome = _accuracy_outcome(drop, p_value, policy)
    check = _metric_check(
        result,
        entry,
        policy,
        outcome,
        p_value,
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
        f"mid-p McNemar p={p_value:.3g} ({'worse' if drop >= 0 else 'better'}, one-sided) "
        f"on {worse} newly wrong vs {better} newly right; "
        f"flip rate {flip_rate:.1%} ({flips}/{result.n})"
    )
    if policy.max_flip_rate is not None:
        reason += f", limit {policy.max_flip_rate:.1%}"
    overall = worst([c.outcome for c in checks])
    if overall is Outcome.IMPROVED:
        reason += "; re-record with --infer-update-baseline to lock the gain in"
    return Verdict(result.key, "accuracy", overall, tuple(checks), reason)


def _unpaired(result: AccuracyResult, entry: AccuracyEntry, policy: AccuracyPolicy) -> Verdict:
    from pytest_infergate.judge.stats import two_proportion_test  # numpy, scipy

    # one-sided in the direction of the difference, as the paired rule
    p_value = two_proportion_test(entry.correct, entry.n, result.correct, result.n) / 2
    drop = entry.value - result.value
    outcome = _accuracy_outcome(drop, p_value, policy)
    check = _metric_check(result, entry, policy, outcome, p_value, paired=False)
    reason = (
        f"slice changed (baseline: {entry.sampling}, sha256 {entry.slice_sha256[:12]}; "
        f"now: {result.sampling}, sha256 {result.slice_sha256[:12]}), so the runs cannot be "
        f"paired: {result.metric} {_value(result.value)} vs baseline {_value(entry.value)} "
        f"({_points(-drop)}, tolerance {_points(policy.tolerance, sign=False)}); "
        f"unpaired two-proportion test p={p_value:.3g} (one-sided); no flip rate. "
        "Re-record with --infer-update-baseline to pair the runs again"
    )
    return Verdict(result.key, "accuracy", outcome, (check,), reason)
