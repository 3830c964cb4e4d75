"""The stored-baseline rules on synthetic samples: prediction interval of past runs, the MDR,
tails, and when sampling may stop early."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from pytest_infergate.judge import stats
from pytest_infergate.judge.latency import LatencyPolicy, compare_latency, latency_settled
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import LatencyEntry, LatencyRecord, RatioEntry
from pytest_infergate.verdicts import Outcome

P50_ONLY = LatencyPolicy(tolerances={"p50": 0.10, "p95": 0.20}, percentiles=("p50",))
WITH_TAIL = LatencyPolicy(tolerances={"p50": 0.10, "p95": 0.20}, percentiles=("p50", "p95"))


def _result(median_ms: float, n: int = 150, seed: int = 0) -> LatencyResult:
    rng = np.random.default_rng(seed)
    samples = tuple(int(v) for v in median_ms * 1e6 * rng.lognormal(0.0, 0.01, n))
    return LatencyResult("t", samples, 1, 1, 0, 0.0)


def _entry(
    history: tuple[float, ...],
    *,
    n: int = 300,
    p95: float | None = None,
    history_p95: tuple[float, ...] = (),
    days_apart: bool = True,
) -> LatencyEntry:
    """A one-machine entry; its runs were recorded a day apart (a CI history) unless
    ``days_apart`` is false (minutes apart: one sitting)."""
    last = history[-1]
    step = "day" if days_apart else "minute"
    stamps = tuple(
        f"2026-11-{10 + i:02d}T00:00:00+00:00" if step == "day" else f"2026-11-25T00:{i:02d}:00"
        for i in range(len(history))
    )
    record = LatencyRecord(
        n=n,
        batch_size=1,
        mean_ms=last,
        stdev_ms=0.01,
        min_ms=last * 0.9,
        max_ms=last * 2,
        p50_ms=last,
        p90_ms=last * 1.02,
        p95_ms=p95 if p95 is not None else last * 1.03,
        p99_ms=last * 1.1,
        history_p50_ms=history,
        sketch_ms=(last,),
        recorded_at="2026-11-25T00:00:00+00:00",
        history_p95_ms=history_p95,
        history_recorded_at=stamps,
    )
    return LatencyEntry(machines={"ci": record})


STEADY = (3.0, 3.03, 2.97, 3.01, 2.99, 3.02, 2.98, 3.0)  # 1% run-to-run spread
DRIFTY = (3.0, 3.3, 2.8, 3.4, 2.9, 3.2, 2.7, 3.1)  # ~8% run-to-run spread


def test_prediction_bound_and_mdr_match_their_formulas() -> None:
    logs = np.log(STEADY)
    k, s = len(logs), logs.std(ddof=1)
    t99 = scipy_stats.t.ppf(0.99, k - 1)
    assert stats.prediction_upper_log(STEADY) == pytest.approx(
        logs.mean() + t99 * s * math.sqrt(1 + 1 / k)
    )
    t80 = scipy_stats.t.ppf(0.80, k - 1)
    assert stats.minimum_detectable_change(STEADY) == pytest.approx(
        math.expm1((t99 + t80) * s * math.sqrt(1 + 1 / k))
    )
    with pytest.raises(ValueError, match=">= 3 past runs"):
        stats.prediction_upper_log((3.0, 3.1))


@pytest.mark.parametrize(
    ("history", "median_ms", "expected"),
    [
        (STEADY, 3.0, Outcome.PASS),  # A/A
        (STEADY, 3.3, Outcome.REGRESSED),  # +10%, beyond a 1%-spread history's bound
        (STEADY, 3.6, Outcome.REGRESSED),  # +20%
        (DRIFTY, 3.6, Outcome.INCONCLUSIVE),  # +20% but within an 8%-spread history's bound
        (DRIFTY, 3.05, Outcome.PASS),
        (STEADY, 2.5, Outcome.IMPROVED),
    ],
)
def test_history_rule(history: tuple[float, ...], median_ms: float, expected: Outcome) -> None:
    verdict = compare_latency(_result(median_ms), _entry(history), "ci", P50_ONLY)
    assert verdict.outcome is expected
    (check,) = verdict.checks
    assert check.mdr == pytest.approx(stats.minimum_detectable_change(history))
    assert check.baseline == pytest.approx(math.exp(np.mean(np.log(history))))
    assert f"{len(history)} past runs" in verdict.reason


def test_tolerance_below_the_mdr_is_marked() -> None:
    (check,) = compare_latency(_result(3.0), _entry(DRIFTY), "ci", P50_ONLY).checks
    assert check.mdr is not None
    assert check.mdr > 0.10
    assert "tolerance 10% is below the" in check.note
    assert "infer_bench.compare()" in check.note
    (steady,) = compare_latency(_result(3.0), _entry(STEADY), "ci", P50_ONLY).checks
    assert steady.note == ""


def test_fewer_than_three_runs_fall_back_to_the_interval_rule() -> None:
    """Two stored runs cannot measure drift: +20% (beyond the 10% tolerance, within the
    15% unmeasured drift on top of it) is INCONCLUSIVE and says how to do better; +40%
    is REGRESSED."""
    unsure = compare_latency(_result(3.6), _entry((3.0, 3.0)), "ci", P50_ONLY)
    assert unsure.outcome is Outcome.INCONCLUSIVE
    (check,) = unsure.checks
    assert check.mdr == pytest.approx(0.25)
    assert check.note.startswith("2 stored run(s) cannot tell a change below 25%")
    assert "past runs" not in unsure.reason
    slower = compare_latency(_result(4.2), _entry((3.0, 3.0)), "ci", P50_ONLY)
    assert slower.outcome is Outcome.REGRESSED
    assert slower.checks[0].note == ""


def test_history_rule_false_alarms_stay_below_one_percent() -> None:
    """20,000 seeded A/A runs, vectorised: a history of 10 log-normal run medians (8%
    run-to-run spread) and a new run from the same distribution. The 99% prediction bound
    flags 1% by construction (the 10% tolerance adds nothing at this spread), and a
    slowdown of the stated MDR is caught about 80% of the time."""
    rng = np.random.default_rng(40)
    runs = 20_000
    history = 3.0 * rng.lognormal(0.0, 0.08, (runs, 10))
    current = 3.0 * rng.lognormal(0.0, 0.08, runs)
    bound = np.exp(stats.prediction_upper_log(history))
    limit = 1.10 * np.exp(np.log(history).mean(axis=1))
    mdr = stats.minimum_detectable_change(history)
    alarms = (current > np.maximum(bound, limit)).mean()
    caught = (current * (1 + mdr) > np.maximum(bound, limit)).mean()
    assert alarms <= 0.012  # 1% design rate + 3 standard errors
    assert 0.76 <= caught <= 0.84
    # The plugin's verdict is this same computation (checked on the first 200 runs).
    for h, c, b, lim in zip(history[:200], current[:200], bound[:200], limit[:200], strict=True):
        result = LatencyResult("t", (int(c * 1e6),) * 60, 1, 1, 0, 0.0)
        verdict = compare_latency(result, _entry(tuple(h)), "ci", P50_ONLY)
        assert verdict.failed == (int(c * 1e6) / 1e6 > max(b, lim))


def test_tail_only_regression_is_caught_by_the_p95_check() -> None:
    """Same median, 10% of calls 2x slower: p50 passes, p95 (>= 300 samples) regresses."""
    rng = np.random.default_rng(41)
    core = 3e6 * rng.lognormal(0.0, 0.01, 400)
    slow_tail = np.where(core > np.quantile(core, 0.9), core * 2.0, core)
    result = LatencyResult("t", tuple(int(v) for v in slow_tail), 1, 1, 0, 0.0)
    entry = _entry((3.0,), n=400, p95=3.05)
    verdict = compare_latency(result, entry, "ci", WITH_TAIL)
    outcomes = {c.metric: c.outcome for c in verdict.checks}
    assert outcomes == {"p50_ms": Outcome.PASS, "p95_ms": Outcome.REGRESSED}
    assert verdict.outcome is Outcome.REGRESSED


def test_p95_uses_its_own_history_when_it_has_three_runs() -> None:
    history_p95 = (3.1, 3.12, 3.09, 3.11)
    entry = _entry(STEADY, n=400, history_p95=history_p95)
    (_p50, p95) = compare_latency(_result(3.0, n=400), entry, "ci", WITH_TAIL).checks
    assert p95.metric == "p95_ms"
    assert p95.mdr == pytest.approx(stats.minimum_detectable_change(history_p95))


def test_sampling_may_stop_only_when_the_verdict_is_clear() -> None:
    entry = _entry(STEADY)
    assert latency_settled(_result(3.0, n=50), entry, "ci", P50_ONLY)  # clearly fine
    assert latency_settled(_result(4.0, n=50), entry, "ci", P50_ONLY)  # clearly regressed
    wide = LatencyResult("t", tuple(int(v) for v in np.linspace(2.5e6, 3.7e6, 50)), 1, 1, 0, 0.0)
    assert not latency_settled(wide, entry, "ci", P50_ONLY)  # interval straddles the limit
    # A gated tail waits for its 300 samples when the baseline has them.
    tail_entry = _entry(STEADY, n=400)
    assert not latency_settled(_result(3.0, n=150), tail_entry, "ci", WITH_TAIL)
    assert latency_settled(_result(3.0, n=300), tail_entry, "ci", WITH_TAIL)


def test_an_entry_of_another_kind_is_inconclusive() -> None:
    verdict = compare_latency(_result(3.0), RatioEntry(machines={}), "ci", P50_ONLY)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "'ratio' entry" in verdict.reason


def test_identical_rounded_history_does_not_claim_zero_drift() -> None:
    """Stored values are rounded to 4 significant digits: three runs stored as 1.002 ms
    mean "within the rounding step", not "no drift at all"."""
    history = (1.002, 1.002, 1.002)
    assert stats.minimum_detectable_change(history) == 0.0
    assert stats.minimum_detectable_change(history, resolution=1e-3) > 0.0
    zero_tolerance = LatencyPolicy(tolerances={"p50": 0.0, "p95": 0.0}, percentiles=("p50",))
    within_rounding = _result(1.002 * 1.0005)
    verdict = compare_latency(within_rounding, _entry(history), "ci", zero_tolerance)
    assert verdict.outcome is not Outcome.REGRESSED
    assert verdict.checks[0].mdr is not None
    assert verdict.checks[0].mdr > 0.0
    assert "tolerance 0% is below the 0." in verdict.checks[0].note
    with pytest.raises(ValueError, match="resolution"):
        stats.prediction_upper_log(history, resolution=-1.0)


def test_a_history_of_one_sitting_allows_unmeasured_drift() -> None:
    """Runs recorded minutes apart share the sitting's quiet: their spread says nothing of
    the drift between sittings (a 27-minute A/A benchmark here drifted +6% on median and
    false-alarmed 31/200 against such a history). +20% is then INCONCLUSIVE; +40% fails."""
    steady = (3.0, 3.01, 2.99, 3.0, 3.02)
    across_days = compare_latency(_result(3.6), _entry(steady), "ci", P50_ONLY)
    assert across_days.outcome is Outcome.REGRESSED
    one_sitting = _entry(steady, days_apart=False)
    unsure = compare_latency(_result(3.6), one_sitting, "ci", P50_ONLY)
    assert unsure.outcome is Outcome.INCONCLUSIVE
    (check,) = unsure.checks
    assert check.mdr == pytest.approx(0.25)
    assert check.note.startswith("the 5 stored runs were recorded within 1 h")
    assert "one sitting" in unsure.reason
    assert compare_latency(_result(4.2), one_sitting, "ci", P50_ONLY).outcome is (Outcome.REGRESSED)


def test_runs_without_recorded_times_count_as_one_sitting() -> None:
    entry = _entry((3.0, 3.01, 2.99))
    record = entry.machines["ci"]
    stampless = LatencyEntry(machines={"ci": dataclasses.replace(record, history_recorded_at=())})
    assert compare_latency(_result(3.6), stampless, "ci", P50_ONLY).outcome is (
        Outcome.INCONCLUSIVE
    )
