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
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pytest_infergate.measure.clocks import MIN_PAIR_SAMPLE_NS, WarmState, group_size, work_clock
from pytest_infergate.measure.cpu import run_queue_wait_ns
from pytest_infergate.measure.plan import PairTiming, SamplingPlan, Timing
from pytest_infergate.results import StopReason

#: Wall time of one turn's samples (the first turn is half of one).
TURN_NS = 40_000_000


@dataclass(frozen=True)
class Turn:
    """One turn of one arm: each sample's wall and CPU time per call (ns), the turn's
    length (ns) and how long the process's threads waited in the run queue during it
    (``None`` where the OS does not say)."""

    wall_ns: tuple[int, ...]
    cpu_ns: tuple[int, ...]
    span_ns: int
    waited_ns: int | None


@dataclass(frozen=True)
class LockstepSamples:
    """Both arms' samples so far, as the verdict rule sees them at a look."""

    candidate_ns: tuple[int, ...]
    reference_ns: tuple[int, ...]
    candidate_cpu_ns: tuple[int, ...]
    reference_cpu_ns: tuple[int, ...]
    #: The CPU clock both arms read (``"process"`` when either arm's call runs on a pool).
    cpu_clock: Literal["thread", "process"]
    #: Run-queue wait per wall second of each arm's sampling (``None``: not known).
    candidate_waiting: float | None
    reference_waiting: float | None

    @property
    def cpu_share(self) -> float:
        """The smaller arm's CPU time per wall second over its samples (sums)."""
        shares = [
            sum(cpu) / max(1, sum(wall))
            for wall, cpu in (
                (self.candidate_ns, self.candidate_cpu_ns),
                (self.reference_ns, self.reference_cpu_ns),
            )
        ]
        return min(shares)

    @property
    def waiting(self) -> float | None:
        """The larger arm's run-queue wait per wall second, ``None`` when either is unknown."""
        if self.candidate_waiting is None or self.reference_waiting is None:
            return None
        return max(self.candidate_waiting, self.reference_waiting)


#: ``decide(samples, look_index, final) -> stop`` for a lock-step measurement.
LockstepDecide = Callable[[LockstepSamples, int, bool], bool]


class Peer(Protocol):
    """The other process's side of a measurement, as the leader sees it."""

    def warm(self, seconds: float, calls: int, core: int | None) -> str:
        """Let the other process warm its call up on ``core`` (returns when it has); the
        CPU clock its call's work shows (``"thread"`` or ``"process"``)."""

    def samples(self, count: int, clock: str) -> Turn:
        """Have the other process time ``count`` samples, CPU time on ``clock``."""

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
    """One process's arm: warm-up, then samples of a fixed group of calls, each with its
    wall time and CPU time per call."""

    def __init__(self, call: Callable[[], Any], sync: Callable[[], object] | None) -> None:
        self._call = call
        self._sync = sync
        self._warm = WarmState()
        self.group = 1
        self.value: Any = None
        #: The CPU clock the warm-up showed the call's work on: see
        #: :func:`~pytest_infergate.measure.timing.work_clock`.
        self.clock: Literal["thread", "process"] = "thread"

    @property
    def warmup_calls(self) -> int:
        return self._warm.calls

    def warm(self, seconds: float, calls: int) -> None:
        """Call until ``calls`` calls and ``seconds`` are spent (or 4x ``seconds``)."""
        perf = time.perf_counter_ns
        thread0, process0 = time.thread_time_ns(), time.process_time_ns()
        start = perf()
        budget, cap = int(seconds * 1e9), int(4 * max(seconds, 0.05) * 1e9)
        while True:
            self._warm.call(self._call, self._sync)
            elapsed = perf() - start
            if (self._warm.calls >= calls and elapsed >= budget) or elapsed >= cap:
                break
        self.clock = work_clock(thread0, process0)
        self.value = self._warm.value
        self.group = group_size(self._warm.calls, self._warm.fastest_ns, MIN_PAIR_SAMPLE_NS)

    def samples(self, count: int, clock: str | None = None) -> Turn:
        """``count`` samples (ns per call of each group, wall and CPU on ``clock``,
        default :attr:`clock`), gc off while timing."""
        perf, sync, call, group = time.perf_counter_ns, self._sync, self._call, self.group
        cpu = time.process_time_ns if (clock or self.clock) == "process" else time.thread_time_ns
        wall: list[int] = []
        used: list[int] = []
        gc_was_enabled = gc.isenabled()
        gc.disable()
        waited0 = run_queue_wait_ns()
        start = perf()
        try:
            for _ in range(count):
                if sync is not None:
                    sync()
                t0, c0 = perf(), cpu()
                for _ in range(group):
                    self.value = call()
                if sync is not None:
                    sync()
                c1, t1 = cpu(), perf()
                wall.append((t1 - t0) // group)
                used.append((c1 - c0) // group)
        finally:
            if gc_was_enabled:
                gc.enable()
        span = perf() - start
        waited1 = run_queue_wait_ns()
        waited = waited1 - waited0 if waited0 is not None and waited1 is not None else None
        return Turn(tuple(wall), tuple(used), span, waited)

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
    decide: LockstepDecide,
) -> PairTiming:
    """Time ``own`` (the candidate) against ``peer`` (the reference) in turns until
    ``decide`` stops, at a look, the last look or ``plan.max_time_s``.

    Warm-up: the peer first, then this process, each for ``plan.warmup_s`` (capped at
    a quarter of the time cap) and ``plan.warmup_calls``. Turn sizes come from this
    process's calls (random lengths, 0.5-1.5 x :data:`TURN_NS`); the peer takes as many
    samples as this process per turn, so the arms stay equal in count whatever their
    speeds. Both arms read CPU time on one clock: the process's when either arm's call
    runs on a pool."""
    if not looks:
        raise ValueError("lead needs at least one look")
    warm_s = min(plan.warmup_s, plan.max_time_s / 4)
    with on_one_core() as core:
        peer_clock = peer.warm(warm_s, plan.warmup_calls, core)
        own.warm(warm_s, plan.warmup_calls)
        clock: Literal["thread", "process"] = (
            "process" if "process" in (peer_clock, own.clock) else "thread"
        )
        return _Arms(own, peer, clock).run(plan, looks, decide)


class _Arms:
    """Both arms' samples and run-queue waits of one lock-step measurement."""

    def __init__(self, own: ArmTimer, peer: Peer, clock: Literal["thread", "process"]) -> None:
        self.own, self.peer, self.clock = own, peer, clock
        self.cand: list[int] = []
        self.ref: list[int] = []
        self.cand_cpu: list[int] = []
        self.ref_cpu: list[int] = []
        self.waited: dict[str, int | None] = {"cand": 0, "ref": 0}
        self.span = {"cand": 0, "ref": 0}

    def _add(self, arm: str, turn: Turn) -> None:
        wall, cpu = (self.cand, self.cand_cpu) if arm == "cand" else (self.ref, self.ref_cpu)
        wall += turn.wall_ns
        cpu += turn.cpu_ns
        self.span[arm] += turn.span_ns
        before = self.waited[arm]
        self.waited[arm] = (
            None if before is None or turn.waited_ns is None else before + turn.waited_ns
        )

    def so_far(self) -> LockstepSamples:
        n = min(len(self.cand), len(self.ref))

        def waiting(arm: str) -> float | None:
            waited = self.waited[arm]
            return None if waited is None else waited / max(1, self.span[arm])

        return LockstepSamples(
            tuple(self.cand[:n]),
            tuple(self.ref[:n]),
            tuple(self.cand_cpu[:n]),
            tuple(self.ref_cpu[:n]),
            self.clock,
            waiting("cand"),
            waiting("ref"),
        )

    def run(self, plan: SamplingPlan, looks: Sequence[int], decide: LockstepDecide) -> PairTiming:
        own, peer = self.own, self.peer
        half = max(1, own.turn_size() // 2)
        self._add("cand", own.samples(half, self.clock))
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
            self._add("ref", peer.samples(turn, self.clock))
            self._add("cand", own.samples(turn, self.clock))
            n = min(len(self.cand), len(self.ref))
            timed_out = perf() - start >= max_ns
            if timed_out or n >= looks[-1]:
                decide(self.so_far(), look, True)
                reason = StopReason.SAMPLE_CAP if n >= looks[-1] else StopReason.TIME_CAP
                break
            reached = [i for i in range(look, len(looks) - 1) if n >= looks[i]]
            if reached:
                # Looks a turn went past are skipped, not spent on the same samples.
                look = reached[-1]
                if decide(self.so_far(), look, False):
                    reason = StopReason.DECIDED
                    break
                look += 1
        measured_s = (perf() - start) / 1e9
        final = self.so_far()
        return PairTiming(
            Timing(
                final.candidate_ns,
                own.group,
                own.warmup_calls,
                measured_s,
                own.value,
                reason,
                final.candidate_cpu_ns,
                self.clock,
            ),
            Timing(
                final.reference_ns,
                1,
                0,
                measured_s,
                None,
                reason,
                final.reference_cpu_ns,
                self.clock,
            ),
            measured_s,
            reason,
        )
