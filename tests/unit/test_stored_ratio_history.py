"""The stored A/B ratio check judges against its history, not one record."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_infergate.judge.ratio import compare_ratio, stored_ratio_centre, stored_ratio_gate
from pytest_infergate.results import ComparisonResult, LatencyResult
from pytest_infergate.store.baseline import RatioEntry, RatioRecord
from pytest_infergate.verdicts import Outcome


def _samples(seed: int, n: int, scale: float = 1.0, sigma: float = 0.02) -> tuple[int, ...]:
    rng = np.random.default_rng(seed)
    return tuple(int(v) for v in 1_000_000 * scale * np.exp(rng.normal(0, sigma, n)))


def _comparison(ratio: float, seed: int) -> ComparisonResult:
    cand = LatencyResult("k::candidate", _samples(seed, 150, ratio), 1, 1, 0, 1.0)
    ref = LatencyResult("k::reference", _samples(seed + 1, 150), 1, 1, 0, 1.0)
    return ComparisonResult("k", cand, ref, 1.0)


def _entry(history: tuple[float, ...], profile: str = "ci") -> RatioEntry:
    ratio = history[-1]
    record = RatioRecord(150, 1, ratio, ratio * 0.99, ratio * 1.01, 1.0, 3.0, history, "2026")
    return RatioEntry(machines={profile: record})


def _verdict(history: tuple[float, ...], ratio: float, seed: int) -> Outcome:
    gate, _ = stored_ratio_gate(_entry(history), "ci", 0.10)
    assert gate is not None
    return compare_ratio(_comparison(ratio, seed), [gate], look=1, final=False).outcome


def test_one_record_under_load_does_not_fail_the_unchanged_runs_after_it() -> None:
    """The reported history: 0.3252, 0.3389, then 0.1999 recorded under load; the next
    three unchanged runs measured about 0.33 and failed against 0.1999."""
    history = (0.3252, 0.3389, 0.1999)
    for seed in (1, 3, 5):
        assert _verdict(history, 0.33, seed) is Outcome.PASS
    gate, _ = stored_ratio_gate(_entry(history), "ci", 0.10)
    assert gate is not None
    assert gate.baseline == pytest.approx(0.3252)
    assert "judged against 0.325, the median of the last 3 stored ratios" in gate.note
    assert "newest (0.200, -39%)" in gate.note


def test_a_regression_beyond_the_history_is_still_caught() -> None:
    assert _verdict((0.3252, 0.3389, 0.1999), 0.40, 7) is Outcome.REGRESSED
    assert _verdict((0.33, 0.33, 0.33), 0.40, 9) is Outcome.REGRESSED


def test_a_re_recorded_slowdown_passes_at_once() -> None:
    """Re-recording after a deliberate slowdown accepts it: the newest ratio counts."""
    assert _verdict((0.33, 0.33, 0.40), 0.40, 11) is Outcome.PASS
    assert stored_ratio_centre((0.33, 0.33, 0.40), 0.1) == (0.40, "")


def test_a_faster_level_counts_once_a_second_record_confirms_it() -> None:
    assert _verdict((0.33, 0.33, 0.25), 0.25, 13) is Outcome.IMPROVED  # not a failure
    assert stored_ratio_centre((0.33, 0.33, 0.25, 0.25), 0.1) == (0.25, "")
    assert _verdict((0.33, 0.33, 0.25, 0.25), 0.33, 15) is Outcome.REGRESSED


def test_two_records_that_disagree_gate_against_the_slower() -> None:
    assert stored_ratio_centre((0.33, 0.1999), 0.1)[0] == pytest.approx(0.33)
    assert stored_ratio_centre((0.5,), 0.1) == (0.5, "")
