"""Merging and pruning baselines: the pure functions behind ``infergate merge/prune``."""

from __future__ import annotations

import datetime as dt

import pytest

from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.results import ComparisonResult, FixedGates, LatencyResult, Measurement
from pytest_infergate.store.baseline import AccuracyEntry, Baseline, LatencyEntry, LatencyRecord
from pytest_infergate.store.offline import merge_baselines, prune_missing, prune_older, rejudge
from pytest_infergate.store.results_file import ResultsFile
from pytest_infergate.verdicts import Outcome, Verdict


def record(p50: float, at: str) -> LatencyRecord:
    return LatencyRecord(
        n=100,
        batch_size=1,
        mean_ms=p50,
        stdev_ms=0.1,
        min_ms=p50,
        max_ms=p50,
        p50_ms=p50,
        p90_ms=p50,
        p95_ms=p50,
        p99_ms=p50,
        history_p50_ms=(p50,),
        sketch_ms=(p50, p50),
        recorded_at=at,
    )


def accuracy(value: float, at: str) -> AccuracyEntry:
    return AccuracyEntry(
        metric="accuracy",
        value=value,
        n=2,
        correct=1,
        slice_sha256="0" * 64,
        sampling="head 2 of 2",
        predictions=(0, 1),
        recorded_at=at,
    )


OLD, NEW = "2026-01-01T00:00:00+00:00", "2026-06-01T00:00:00+00:00"


def test_merge_unions_machines_and_keeps_the_newer_record() -> None:
    a = Baseline(
        entries={
            "t": LatencyEntry(machines={"ci": record(1.0, NEW), "laptop": record(3.0, OLD)}),
            "acc": accuracy(0.9, OLD),
        }
    )
    b = Baseline(
        entries={
            "t": LatencyEntry(machines={"ci": record(2.0, OLD), "gpu": record(0.5, OLD)}),
            "acc": accuracy(0.8, NEW),
            "only_b": accuracy(0.7, OLD),
        }
    )
    merged, conflicts = merge_baselines([("a.json", a), ("b.json", b)])
    entry = merged.entries["t"]
    assert isinstance(entry, LatencyEntry)
    assert {p: r.p50_ms for p, r in entry.machines.items()} == {
        "ci": 1.0,
        "laptop": 3.0,
        "gpu": 0.5,
    }
    acc = merged.entries["acc"]
    assert isinstance(acc, AccuracyEntry)
    assert acc.value == 0.8
    assert sorted(merged.entries) == ["acc", "only_b", "t"]
    assert [c.describe() for c in conflicts] == [
        f"t [ci]: kept a.json (recorded {NEW}), dropped b.json (recorded {OLD})",
        f"acc: kept b.json (recorded {NEW}), dropped a.json (recorded {OLD})",
    ]


def test_merge_of_identical_inputs_has_no_conflict() -> None:
    a = Baseline(entries={"t": LatencyEntry(machines={"ci": record(1.0, NEW)})})
    merged, conflicts = merge_baselines([("a", a), ("b", a)])
    assert merged == a
    assert conflicts == []


def test_prune() -> None:
    baseline = Baseline(
        entries={
            "t": LatencyEntry(machines={"ci": record(1.0, NEW), "old": record(3.0, OLD)}),
            "gone": LatencyEntry(machines={"old": record(3.0, OLD)}),
            "acc": accuracy(0.9, OLD),
        }
    )
    kept, dropped = prune_missing(baseline, {"t", "acc"})
    assert sorted(kept.entries) == ["acc", "t"]
    assert dropped == ["gone"]
    cutoff = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    fresh, dropped = prune_older(baseline, cutoff)
    assert dropped == ["acc", "gone [old]", "t [old]"]
    entry = fresh.entries["t"]
    assert isinstance(entry, LatencyEntry)
    assert list(fresh.entries) == ["t"]
    assert list(entry.machines) == ["ci"]


def _ab_results(scale: float, gates: FixedGates) -> ResultsFile:
    """One A/B measurement of 500 samples per arm: the candidate takes ``scale`` times
    the reference's time."""
    cand = tuple(int(3e6 * scale * (1 + 0.001 * (i % 7))) for i in range(500))
    ref = tuple(int(3e6 * (1 + 0.001 * (i % 5))) for i in range(500))
    result = ComparisonResult(
        "t::ab",
        LatencyResult("t::ab::candidate", cand, 1, 1, 0, 1.0),
        LatencyResult("t::ab::reference", ref, 1, 1, 0, 1.0),
        1.0,
        gates=gates,
    )
    measurement = Measurement("t::ab", result, Verdict("t::ab", "ratio", Outcome.PASS), {})
    fingerprint = Fingerprint("cpu", 2, 8.0, "linux", "x86_64", "3.11")
    return ResultsFile(2, "ci", fingerprint, (measurement,))


@pytest.mark.parametrize(
    ("scale", "gates", "tolerance", "metric", "outcome"),
    [
        # 1.2x faster, 1.3x required: the test's own gate, not the default slowdown gate
        (1 / 1.2, FixedGates(min_speedup=1.3), None, "speedup", Outcome.REGRESSED),
        (1 / 1.2, FixedGates(), None, "slowdown", Outcome.PASS),
        # a fixed max_slowdown is the test's, whatever the tolerance given offline
        (1.2, FixedGates(max_slowdown=0.5), {"p50": 0.05}, "slowdown", Outcome.PASS),
        (1.2, FixedGates(), {"p50": 0.5}, "slowdown", Outcome.PASS),
        (1.2, FixedGates(), None, "slowdown", Outcome.REGRESSED),
    ],
)
def test_rejudge_applies_each_ab_tests_own_gates(
    scale: float,
    gates: FixedGates,
    tolerance: dict[str, float] | None,
    metric: str,
    outcome: Outcome,
) -> None:
    (judged,) = rejudge(Baseline(), _ab_results(scale, gates), latency_tolerance=tolerance)
    assert [c.metric for c in judged.verdict.checks] == [metric]
    assert judged.verdict.outcome is outcome
