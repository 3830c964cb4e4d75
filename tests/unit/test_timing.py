from __future__ import annotations

import gc

import pytest

from pytest_infergate.measure.timing import (
    MIN_SAMPLE_NS,
    SamplingPlan,
    TimingSetup,
    resolve_sync,
    run,
)

QUICK = SamplingPlan(warmup_calls=3, warmup_s=0.0, min_samples=20, min_time_s=0.0, max_time_s=1.0)


def test_warmup_is_discarded_and_samples_are_taken():
    calls = []
    timing = run(lambda: calls.append(1), setup=TimingSetup(plan=QUICK))
    # Three warm-up calls, then the calls that size a group of this short call.
    assert timing.warmup_calls >= 3
    assert len(timing.samples_ns) == 20
    assert len(calls) == timing.warmup_calls + 20 * timing.calls_per_sample


def test_short_calls_are_grouped_so_a_sample_outlasts_the_clock():
    timing = run(lambda: None, setup=TimingSetup(plan=QUICK))
    assert timing.calls_per_sample > 1
    assert min(timing.samples_ns) * timing.calls_per_sample > MIN_SAMPLE_NS / 4


def test_returns_the_last_value_and_passes_arguments():
    timing = run(lambda a, b=0: a + b, (2,), {"b": 3}, setup=TimingSetup(plan=QUICK))
    assert timing.last_value == 5


def test_sync_runs_around_every_timed_group():
    syncs = []
    timing = run(lambda: None, setup=TimingSetup(plan=QUICK, sync=lambda: syncs.append(1)))
    assert len(syncs) == 2 * (timing.warmup_calls + len(timing.samples_ns))


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_is_off_while_timing_and_restored_even_on_error(enabled: bool) -> None:
    seen = []

    def model() -> None:
        seen.append(gc.isenabled())
        if len(seen) == 5:
            raise RuntimeError("boom")

    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(RuntimeError, match="boom"):
            run(model, setup=TimingSetup(plan=QUICK))
        assert not any(seen)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_max_time_caps_sampling():
    plan = SamplingPlan(
        warmup_calls=0, warmup_s=0, min_samples=10**9, min_time_s=0, max_time_s=0.05
    )
    timing = run(lambda: None, setup=TimingSetup(plan=plan))
    assert timing.measured_s < 1.0
    assert len(timing.samples_ns) < 10**9


def test_sync_names():
    assert resolve_sync(None) is None
    with pytest.raises(ValueError, match='sync must be a callable, "cuda", "none" or None'):
        resolve_sync("rocm")
