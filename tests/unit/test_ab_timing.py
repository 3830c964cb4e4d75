"""The sampling loops' control flow, without asserting on time: looks, caps, ABBA order."""

from __future__ import annotations

import pytest

from pytest_infergate.measure.timing import SamplingPlan, TimingSetup, run, run_pair
from pytest_infergate.results import StopReason

QUICK = SamplingPlan(warmup_calls=2, warmup_s=0.0, min_samples=1, min_time_s=0.0, max_time_s=60)


def _noop() -> int:
    return 1


def test_run_stops_at_the_first_look_that_decides() -> None:
    seen: list[tuple[int, int, bool]] = []

    def decide(
        samples: tuple[int, ...],
        cpu: tuple[int, ...],
        clock: str | None,
        look: int,
        final: bool,
        yardstick: tuple[int, ...],
    ) -> bool:
        seen.append((len(samples), look, final))
        return look == 1

    timing = run(_noop, setup=TimingSetup(plan=QUICK, looks=(5, 15, 40), decide=decide))
    assert seen == [(5, 0, False), (15, 1, False)]
    assert len(timing.samples_ns) == 15
    assert timing.stop_reason is StopReason.DECIDED


def test_run_makes_a_final_look_at_the_sample_cap() -> None:
    seen: list[tuple[int, int, bool]] = []

    def decide(
        samples: tuple[int, ...],
        cpu: tuple[int, ...],
        clock: str | None,
        look: int,
        final: bool,
        yardstick: tuple[int, ...],
    ) -> bool:
        seen.append((len(samples), look, final))
        return False

    timing = run(_noop, setup=TimingSetup(plan=QUICK, looks=(5, 15, 40), decide=decide))
    assert seen == [(5, 0, False), (15, 1, False), (40, 2, True)]
    assert timing.stop_reason is StopReason.SAMPLE_CAP


def test_run_makes_a_final_look_at_the_time_cap() -> None:
    seen: list[bool] = []
    plan = SamplingPlan(warmup_calls=0, warmup_s=0.0, min_samples=1, min_time_s=0, max_time_s=1e-9)
    decide = lambda s, c, k, look, final, y: seen.append(final) or False  # noqa: E731
    timing = run(_noop, setup=TimingSetup(plan=plan, looks=(1000,), decide=decide))
    assert seen == [True]
    assert len(timing.samples_ns) == 1
    assert timing.stop_reason is StopReason.TIME_CAP


def test_run_without_a_decider_follows_the_plan() -> None:
    plan = SamplingPlan(warmup_calls=1, warmup_s=0.0, min_samples=7, min_time_s=0.0, max_time_s=60)
    timing = run(_noop, setup=TimingSetup(plan=plan))
    assert len(timing.samples_ns) == 7
    assert timing.stop_reason is StopReason.PLAN


def test_run_pair_interleaves_abba_and_keeps_the_arms_equal() -> None:
    calls: list[str] = []
    seen: list[tuple[int, int, int, bool]] = []

    def candidate() -> str:
        calls.append("A")
        return "a"

    def reference() -> str:
        calls.append("B")
        return "b"

    def decide(cand: tuple[int, ...], ref: tuple[int, ...], look: int, final: bool) -> bool:
        seen.append((len(cand), len(ref), look, final))
        return False

    timing = run_pair(
        candidate, reference, plan=QUICK, looks=(4, 8), decide=decide, min_sample_ns=1
    )
    assert seen == [(4, 4, 0, False), (8, 8, 1, True)]
    warm = timing.candidate.warmup_calls + timing.reference.warmup_calls
    assert calls[:warm] == ["A", "B"] * (warm // 2)
    assert "".join(calls[warm:]) == "ABBA" * 4
    assert timing.candidate.last_value == "a"
    assert timing.reference.last_value == "b"
    assert timing.stop_reason is StopReason.SAMPLE_CAP
    assert len(timing.candidate.samples_ns) == len(timing.reference.samples_ns) == 8


def test_run_pair_groups_short_calls_into_samples_of_a_millisecond() -> None:
    timing = run_pair(_noop, _noop, plan=QUICK, looks=(2,), decide=lambda *_: False)
    assert timing.candidate.calls_per_sample > 1
    assert timing.reference.calls_per_sample > 1
    assert min(timing.candidate.samples_ns) > 0


def test_run_pair_time_cap_keeps_at_least_one_sample_per_arm() -> None:
    plan = SamplingPlan(warmup_calls=0, warmup_s=0.0, min_samples=1, min_time_s=0, max_time_s=1e-9)
    finals: list[bool] = []
    timing = run_pair(
        _noop,
        _noop,
        plan=plan,
        looks=(50,),
        decide=lambda c, r, look, final: finals.append(final) or False,
        min_sample_ns=1,
    )
    assert finals == [True]
    assert len(timing.candidate.samples_ns) == len(timing.reference.samples_ns) >= 1
    assert timing.stop_reason is StopReason.TIME_CAP


def test_exceptions_propagate_and_gc_is_restored() -> None:
    import gc

    def broken() -> None:
        raise RuntimeError("model exploded")

    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="model exploded"):
        run_pair(broken, _noop, plan=QUICK, looks=(2,), decide=lambda *_: False)
    assert gc.isenabled()
