"""Lock-step timing of one measurement in two processes: this revision and another.

The interleaved A/B loop (:func:`pytest_infergate.measure.timing.run_pair`) needs both
arms in one process; a revision of the user's code is another process. Here the two
processes take turns over a :class:`Peer` channel, so only one of them runs at a time
and whatever the machine does in a stretch of seconds falls on both: the leader (this
revision) times a turn of samples, tells the follower (the other revision) to time
twice as many, times twice as many itself, and so on (ABBA order by turns: each arm
follows itself and the other equally often). The leader decides at each look, on both
arms' samples, exactly as ``run_pair`` does; the follower only times and reports.

Both processes' calling threads run on one core for the measurement (:func:`on_one_core`):
two processes are otherwise free to sit on different cores, and the cores of a shared
runner differ in pace at any moment (a tenant on the sibling hyperthread, the host taking
a vCPU). On the 2-core EPYC runner, quiet, the same ORT model read A/A ratios of
0.60-1.06 between two unpinned processes, against 0.997-1.021 for two sessions of it in
one process (docs/design.md, "Against a revision"). Only the calling thread is pinned: a
runtime's own pool threads keep the cores they had.

A turn lasts about :data:`TURN_NS` of samples: long enough that the hand-over (one
message each way on a loopback socket, tens of microseconds) is below 1% of it, short
enough that a neighbour's burst of a few hundred milliseconds spans several turns of
both arms.
"""

from __future__ import annotations

import gc
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from pytest_infergate.measure.timing import (
    MIN_PAIR_SAMPLE_NS,
    PairDecide,
    PairTiming,
    SamplingPlan,
    Timing,
    _group_size,
    _WarmState,
)
from pytest_infergate.results import StopReason

#: Wall time of one turn's samples (the first turn is half of one).
TURN_NS = 40_000_000


class Peer(Protocol):
    """The other process's side of a measurement, as the leader sees it."""

    def warm(self, seconds: float, calls: int, core: int | None) -> None:
        """Let the other process warm its call up on ``core`` (returns when it has)."""

    def samples(self, count: int) -> list[int]:
        """Have the other process time ``count`` samples; their ns per call."""

    def stop(self) -> None:
        """End the other process's measurement."""


@contextmanager
def on_one_core(core: int | None = None) -> Iterator[int | None]:
    """Pin the calling thread to ``core`` (default: the highest it may use) and restore its
    cores afterwards; yields the core, or ``None`` where threads cannot be pinned."""
    getter = getattr(os, "sched_getaffinity", None)
    setter = getattr(os, "sched_setaffinity", None)
    if getter is None or setter is None:
        yield None
        return
    allowed = getter(0)
    chosen = max(allowed) if core is None else core
    if chosen not in allowed:
        yield None
        return
    setter(0, {chosen})
    try:
        yield chosen
    finally:
        setter(0, allowed)


class ArmTimer:
    """One process's arm: warm-up, then samples of a fixed group of calls."""

    def __init__(self, call: Callable[[], Any], sync: Callable[[], object] | None) -> None:
        self._call = call
        self._sync = sync
        self._warm = _WarmState()
        self.group = 1
        self.value: Any = None

    @property
    def warmup_calls(self) -> int:
        return self._warm.calls

    def warm(self, seconds: float, calls: int) -> None:
        """Call until ``calls`` calls and ``seconds`` are spent (or 4x ``seconds``)."""
        perf = time.perf_counter_ns
        start = perf()
        budget, cap = int(seconds * 1e9), int(4 * max(seconds, 0.05) * 1e9)
        while True:
            self._warm.call(self._call, self._sync)
            elapsed = perf() - start
            if (self._warm.calls >= calls and elapsed >= budget) or elapsed >= cap:
                break
        self.value = self._warm.value
        self.group = _group_size(self._warm.calls, self._warm.fastest_ns, MIN_PAIR_SAMPLE_NS)

    def samples(self, count: int) -> list[int]:
        """``count`` samples (ns per call of each group), gc off while timing."""
        perf, sync, call, group = time.perf_counter_ns, self._sync, self._call, self.group
        out = []
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(count):
                if sync is not None:
                    sync()
                t0 = perf()
                for _ in range(group):
                    self.value = call()
                if sync is not None:
                    sync()
                out.append((perf() - t0) // group)
        finally:
            if gc_was_enabled:
                gc.enable()
        return out

    def turn_size(self) -> int:
        """Samples in one turn of :data:`TURN_NS`."""
        sample_ns = max(1, self._warm.fastest_ns * self.group)
        return max(1, TURN_NS // sample_ns)


def lead(
    own: ArmTimer,
    peer: Peer,
    *,
    plan: SamplingPlan,
    looks: Sequence[int],
    decide: PairDecide,
) -> PairTiming:
    """Time ``own`` (the candidate) against ``peer`` (the reference) in turns until
    ``decide`` stops, at a look, the last look or ``plan.max_time_s``.

    Warm-up: the peer first, then this process, each for ``plan.warmup_s`` (capped at
    a quarter of the time cap) and ``plan.warmup_calls``. Turn sizes come from this
    process's calls (random lengths, 0.5-1.5 x :data:`TURN_NS`); the peer takes as many
    samples as this process per turn, so the arms stay equal in count whatever their
    speeds."""
    if not looks:
        raise ValueError("lead needs at least one look")
    warm_s = min(plan.warmup_s, plan.max_time_s / 4)
    with on_one_core() as core:
        peer.warm(warm_s, plan.warmup_calls, core)
        own.warm(warm_s, plan.warmup_calls)
        return _turns(own, peer, plan, looks, decide)


def _turns(
    own: ArmTimer, peer: Peer, plan: SamplingPlan, looks: Sequence[int], decide: PairDecide
) -> PairTiming:
    half = max(1, own.turn_size() // 2)
    cand: list[int] = own.samples(half)
    ref: list[int] = []
    perf = time.perf_counter_ns
    max_ns = int(plan.max_time_s * 1e9)
    start = perf()
    look = 0
    reason = StopReason.SAMPLE_CAP
    jitter = random.Random()
    while True:
        # A turn of a random length around TURN_NS, the same for both arms: a neighbour
        # with a period near a fixed turn's would fall on one arm's turns more than the
        # other's for seconds on end.
        turn = max(1, round(own.turn_size() * jitter.uniform(0.5, 1.5)))
        ref += peer.samples(turn)
        cand += own.samples(turn)
        n = min(len(cand), len(ref))
        timed_out = perf() - start >= max_ns
        if timed_out or n >= looks[-1]:
            decide(tuple(cand[:n]), tuple(ref[:n]), look, True)
            reason = StopReason.SAMPLE_CAP if n >= looks[-1] else StopReason.TIME_CAP
            break
        reached = [i for i in range(look, len(looks) - 1) if n >= looks[i]]
        if reached:
            # Looks a turn went past are skipped, not spent on the same samples.
            look = reached[-1]
            if decide(tuple(cand[:n]), tuple(ref[:n]), look, False):
                reason = StopReason.DECIDED
                break
            look += 1
    measured_s = (perf() - start) / 1e9
    n = min(len(cand), len(ref))
    return PairTiming(
        Timing(tuple(cand[:n]), own.group, own.warmup_calls, measured_s, own.value, reason),
        Timing(tuple(ref[:n]), 1, 0, measured_s, None, reason),
        measured_s,
        reason,
    )
