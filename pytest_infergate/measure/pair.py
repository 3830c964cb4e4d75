"""Two callables timed interleaved in ABBA order (candidate, reference, reference,
candidate, ...): the machine's drift then falls on both arms alike and cancels in their
ratio. Clocks, grouping and warm-up as in :mod:`.clocks`; the A/B rule that decides at
each look is :mod:`pytest_infergate.judge.ratio`'s."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from pytest_infergate.measure.clocks import MIN_PAIR_SAMPLE_NS, WarmState, gc_paused, group_size
from pytest_infergate.measure.lazy import refuse_lazy
from pytest_infergate.measure.plan import PairDecide, PairTiming, SamplingPlan, Timing
from pytest_infergate.results import StopReason

#: One block of the interleaved order: candidate (0), reference (1), reference, candidate.
_ABBA = (0, 1, 1, 0)


def run_pair(
    candidate: Callable[[], Any],
    reference: Callable[[], Any],
    *,
    plan: SamplingPlan,
    looks: Sequence[int],
    decide: PairDecide,
    sync: Callable[[], object] | None = None,
    min_sample_ns: int = MIN_PAIR_SAMPLE_NS,
    after_block: Callable[[Sequence[int]], object] | None = None,
) -> PairTiming:
    """Time two zero-argument callables interleaved, in ABBA blocks, until ``decide`` stops.

    Warm-up alternates the two until each made ``plan.warmup_calls`` calls and the
    warm-up time is spent. Each arm's calls are grouped so that one sample lasts at
    least ``min_sample_ns``. Samples are taken in blocks candidate, reference,
    reference, candidate, so a linear drift within a block hits both arms equally and
    each arm follows itself and the other equally often. At each look (samples per
    arm) ``decide`` may stop; the last look, or ``plan.max_time_s``, ends the run
    with a final call. Exceptions from either callable propagate. ``after_block`` sees
    the candidate's samples after each ABBA block, outside the clock reads (progress).
    """
    if not looks:
        raise ValueError("run_pair needs at least one look")
    refuse_lazy(candidate)
    refuse_lazy(reference)
    perf = time.perf_counter_ns
    calls = (candidate, reference)
    with gc_paused():
        warm = [WarmState(), WarmState()]
        start = perf()
        while True:
            for arm in (0, 1):
                warm[arm].call(calls[arm], sync)
            elapsed = perf() - start
            if (
                warm[0].calls >= plan.warmup_calls and elapsed >= plan.warmup_budget_ns
            ) or elapsed >= plan.warmup_cap_ns:
                break
        groups = [group_size(w.calls, w.fastest_ns, min_sample_ns) for w in warm]
        samples: tuple[list[int], list[int]] = ([], [])
        values = [warm[0].value, warm[1].value]
        max_ns = int(plan.max_time_s * 1e9)
        look = 0
        start = perf()
        reason = StopReason.SAMPLE_CAP
        done = False
        while not done:
            for arm in _ABBA:
                call, group = calls[arm], groups[arm]
                if sync is not None:
                    sync()
                t0 = perf()
                for _ in range(group):
                    values[arm] = call()
                if sync is not None:
                    sync()
                t1 = perf()
                samples[arm].append((t1 - t0) // group)
                if t1 - start >= max_ns and samples[1]:
                    done = True
                    break
            if after_block is not None:
                after_block(samples[0])
            n = min(len(samples[0]), len(samples[1]))
            if done or n >= looks[-1]:
                if n > 0:
                    decide(tuple(samples[0][:n]), tuple(samples[1][:n]), look, True)
                reason = StopReason.SAMPLE_CAP if n >= looks[-1] else StopReason.TIME_CAP
                break
            if n >= looks[look]:
                if decide(tuple(samples[0][:n]), tuple(samples[1][:n]), look, False):
                    reason = StopReason.DECIDED
                    break
                look += 1
        measured_s = (perf() - start) / 1e9
    n = min(len(samples[0]), len(samples[1]))
    return PairTiming(
        Timing(tuple(samples[0][:n]), groups[0], warm[0].calls, measured_s, values[0], reason),
        Timing(tuple(samples[1][:n]), groups[1], warm[1].calls, measured_s, values[1], reason),
        measured_s,
        reason,
    )
