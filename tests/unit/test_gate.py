"""The stored-baseline latency rule on synthetic samples with fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_infergate.judge.latency import LatencyPolicy, compare_latency
from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import Baseline
from pytest_infergate.verdicts import Outcome

FINGERPRINT = Fingerprint(
    cpu="Test CPU", cores=2, ram_gib=8, os="Linux", arch="x86_64", python="3.11"
)
POLICY = LatencyPolicy(tolerances={"p50": 0.10, "p95": 0.20}, percentiles=("p50", "p95"))


def _result(scale: float, n: int, seed: int, key: str = "t::m", batch_size: int = 1):
    rng = np.random.default_rng(seed)
    samples = (rng.lognormal(mean=0.0, sigma=0.05, size=n) * 2e6 * scale).astype(int)
    return LatencyResult(
        key=key,
        samples_ns=tuple(int(s) for s in samples),
        batch_size=batch_size,
        calls_per_sample=1,
        warmup_calls=10,
        measured_s=1.0,
    )


def _entry(result: LatencyResult, profile: str = "ci"):
    baseline = Baseline().with_latency(
        result, profile=profile, fingerprint=FINGERPRINT, tolerance={}, recorded_at="now"
    )
    return baseline.entries[result.key]


def test_same_distribution_passes():
    entry = _entry(_result(1.0, 300, seed=1))
    verdict = compare_latency(_result(1.0, 300, seed=2), entry, "ci", POLICY)
    assert verdict.outcome is Outcome.PASS
    assert [c.metric for c in verdict.checks] == ["p50_ms", "p95_ms"]


def test_twice_as_slow_regresses():
    entry = _entry(_result(1.0, 300, seed=1))
    verdict = compare_latency(_result(2.0, 300, seed=2), entry, "ci", POLICY)
    assert verdict.outcome is Outcome.REGRESSED
    assert verdict.failed
    p50 = verdict.checks[0]
    assert p50.outcome is Outcome.REGRESSED
    assert p50.low > p50.baseline * 1.10
    assert verdict.reason.startswith("p50 ")


def test_slightly_over_tolerance_with_few_samples_is_inconclusive():
    """15% slower at the median of 9 spread samples: the point estimate crosses the 10% limit,
    but the 99% interval of the median (here from the smallest to the largest) does not."""
    entry = _entry(_result(1.0, 300, seed=1))
    base_ns = entry.machines["ci"].p50_ms * 1e6
    factors = (0.9, 1.1, 1.12, 1.14, 1.15, 1.16, 1.18, 1.2, 1.3)
    current = LatencyResult("t::m", tuple(int(base_ns * f) for f in factors), 1, 1, 0, 0.1)
    verdict = compare_latency(current, entry, "ci", POLICY)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    (check,) = verdict.checks
    assert check.low < check.baseline * 1.1 < check.current


def test_twice_as_fast_is_improved():
    entry = _entry(_result(1.0, 300, seed=1))
    assert compare_latency(_result(0.5, 300, seed=2), entry, "ci", POLICY).outcome is (
        Outcome.IMPROVED
    )


def test_tail_is_gated_only_from_300_samples():
    entry = _entry(_result(1.0, 299, seed=1))
    verdict = compare_latency(_result(1.0, 299, seed=2), entry, "ci", POLICY)
    assert [c.metric for c in verdict.checks] == ["p50_ms"]


def test_tail_only_regression_is_caught_from_300_samples():
    base = _result(1.0, 400, seed=1)
    rng = np.random.default_rng(5)
    samples = np.array(_result(1.0, 400, seed=2).samples_ns)
    tail = rng.choice(len(samples), size=60, replace=False)
    samples[tail] = samples[tail] * 2
    current = LatencyResult("t::m", tuple(int(s) for s in samples), 1, 1, 0, 1.0)
    verdict = compare_latency(current, _entry(base), "ci", POLICY)
    by_metric = {c.metric: c.outcome for c in verdict.checks}
    assert by_metric == {"p50_ms": Outcome.PASS, "p95_ms": Outcome.REGRESSED}
    assert verdict.outcome is Outcome.REGRESSED


def test_no_entry_is_new_and_other_machine_is_no_baseline_for_machine():
    result = _result(1.0, 100, seed=1)
    assert compare_latency(result, None, "ci", POLICY).outcome is Outcome.NEW
    verdict = compare_latency(result, _entry(result, profile="laptop"), "ci", POLICY)
    assert verdict.outcome is Outcome.NO_BASELINE_FOR_MACHINE
    assert "laptop" in verdict.reason


def test_another_batch_size_is_not_compared():
    entry = _entry(_result(1.0, 100, seed=1, batch_size=1))
    verdict = compare_latency(_result(1.0, 100, seed=2, batch_size=8), entry, "ci", POLICY)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "batch size 8" in verdict.reason


@pytest.mark.parametrize("seed", range(20))
def test_aa_runs_from_one_distribution_do_not_regress(seed: int) -> None:
    entry = _entry(_result(1.0, 300, seed=1000 + seed))
    verdict = compare_latency(_result(1.0, 300, seed=seed), entry, "ci", POLICY)
    assert verdict.outcome is not Outcome.REGRESSED
