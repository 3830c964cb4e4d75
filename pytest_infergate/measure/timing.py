"""The measurement loop of one callable: warm-up, calibration, sampling, with gc off and
sync hooks. Warm-up calls (by count *and* time) are discarded; the clocks, the sync and
the calls grouped per sample are :mod:`.clocks`'s (a call shorter than
:data:`MIN_SAMPLE_NS` is timed in groups); two callables interleaved are :mod:`.pair`'s.

CPU cost: beside its wall time, each sample records the CPU time its calls used,
per call (a group's mean, like the wall time), read just outside the wall-clock
reads. The clock is the calling thread's (``time.thread_time_ns``) when the call
computes on that thread, the process's (``time.process_time_ns``) when the runtime
hands the work to a thread pool: a pool the caller names (``cpu_clock="process"``),
or one the warm-up shows, when the process used more than
:data:`POOL_CPU_FACTOR` times the calling thread's CPU time over it. Another job on
the same cores stretches the wall time by the time the call waited for a core; it
does not stretch the call's own CPU time (much: see the gate's CPU-cost rule), so
the stored gate can judge that figure when the run was contended.

Adaptive effort: given ``looks`` (sample counts) and a ``decide`` callback, the
loop asks at each look whether the verdict is already clear and stops as soon as
it is; the last look (the sample cap, or the time cap if that comes first) is
marked final. :func:`run_pair` does the same for two callables measured
interleaved in ABBA order (candidate, reference, reference, candidate, ...): the
machine's drift then falls on both arms alike and cancels in their ratio.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_infergate.measure import yardstick as _yardstick
from pytest_infergate.measure.clocks import (
    MIN_SAMPLE_NS,
    POOL_CPU_FACTOR,
    CpuClock,
    EventFactory,
    WarmState,
    as_cpu_clock,
    calibrate_group,
    gc_paused,
    group_size,
    resolve_sync,
    resolve_timer,
    work_clock,
)
from pytest_infergate.measure.lazy import LazyCallError, refuse_lazy
from pytest_infergate.measure.pair import run_pair
from pytest_infergate.measure.plan import (
    NO_HOOKS,
    Decide,
    Hooks,
    PairTiming,
    SamplingPlan,
    Timing,
    YardstickCalls,
)
from pytest_infergate.results import StopReason

__all__ = [
    "MIN_SAMPLE_NS",
    "NO_HOOKS",
    "PLAIN",
    "POOL_CPU_FACTOR",
    "EventFactory",
    "Hooks",
    "LazyCallError",
    "PairTiming",
    "SamplingPlan",
    "Timing",
    "TimingSetup",
    "YardstickCalls",
    "refuse_lazy",
    "resolve_sync",
    "resolve_timer",
    "run",
    "run_pair",
]


@dataclass(frozen=True)
class TimingSetup:
    """Everything :func:`run` does besides calling ``fn``: the ``plan``; the ``sync`` run
    before each clock read; adaptive stopping (``decide`` asked at each of ``looks``);
    what is read beside the wall clock (CUDA ``events``, the ``cpu_clock``, the
    machine-speed ``yardstick``); the ``hooks`` between samples."""

    plan: SamplingPlan = field(default_factory=SamplingPlan)
    sync: Callable[[], object] | None = None
    looks: Sequence[int] = ()
    decide: Decide | None = None
    events: EventFactory | None = None
    cpu_clock: str | None = None
    yardstick: bool = False
    hooks: Hooks = NO_HOOKS

    def __post_init__(self) -> None:
        if self.decide is not None and not self.looks:
            raise ValueError("decide needs at least one look")
        if self.cpu_clock is not None:
            as_cpu_clock(self.cpu_clock)


#: Sampling by the default plan, nothing read beside the wall clock.
PLAIN = TimingSetup()


def run(
    fn: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    setup: TimingSetup = PLAIN,
) -> Timing:
    """Time ``fn(*args, **kwargs)`` as ``setup`` says; exceptions from ``fn`` propagate.

    Each sample's CPU time per call is read on ``cpu_clock`` (``"thread"`` or
    ``"process"``; ``None``: the one the warm-up shows, see the module's docstring).
    With ``yardstick`` (and no ``events``), blocks of a fixed workload are timed on the
    calling thread's clock after the warm-up, every :data:`.yardstick.EVERY_NS` of sampling and at
    the end: the machine's speed during the run, which the stored gate scales by.

    With ``events`` (see :func:`resolve_timer`), each sample is the GPU time between
    two CUDA events recorded on the current stream around the sample's calls (the
    end event is waited for); the wall clock still bounds the run's time caps.

    Without ``decide``, sampling follows ``plan`` (``min_samples`` and ``min_time_s``,
    capped by ``max_time_s``). With it, ``plan``'s minimums are replaced by the
    ``looks``: sampling stops at the first look where ``decide`` says the verdict is
    clear, at the last look, or at ``max_time_s``, whichever comes first.

    ``hooks`` run between samples, outside the clock reads (:class:`Hooks`).
    """
    refuse_lazy(fn)
    with gc_paused():
        return _Sampler(functools.partial(fn, *args, **(kwargs or {})), setup).run()


class _Sampler:
    """One run of :func:`run`: the warm-up sizes the group and picks the CPU clock, then
    samples are taken until the plan or ``decide`` stops them."""

    def __init__(self, call: Callable[[], Any], setup: TimingSetup) -> None:
        self._call, self._setup = call, setup
        warm, seen_clock = _warm_up(call, setup.plan, setup.sync, setup.hooks.before_call)
        self.warmup_calls, self.value = warm.calls, warm.value
        clock = as_cpu_clock(setup.cpu_clock) if setup.cpu_clock is not None else seen_clock
        self._cpu = time.thread_time_ns if clock == "thread" else time.process_time_ns
        # Event-timed samples are GPU time already, the figure host contention leaves
        # alone; the host's CPU time of an asynchronous launch is no cost figure.
        self.cpu_clock: CpuClock | None = clock if setup.events is None else None
        if setup.hooks.before_call is not None:
            self.group = 1
        else:
            self.group = group_size(warm.calls, warm.fastest_ns, MIN_SAMPLE_NS)
        if setup.sync is None:
            self.group, calibration_calls = calibrate_group(call, self.group, MIN_SAMPLE_NS)
            self.warmup_calls += calibration_calls
        self.samples: list[int] = []
        self.cpu_samples: list[int] = []
        self._speed = _Speed() if setup.yardstick and setup.events is None else None

    def run(self) -> Timing:
        setup, plan, perf = self._setup, self._setup.plan, time.perf_counter_ns
        after, decide, looks = setup.hooks.after_sample, setup.decide, setup.looks
        min_ns, max_ns = int(plan.min_time_s * 1e9), int(plan.max_time_s * 1e9)
        look = 0
        start = perf()
        while True:
            t1 = self._sample()
            if self._speed is not None:
                self._speed.maybe_block(t1)
            if after is not None:
                after(self.samples)
            elapsed, n = t1 - start, len(self.samples)
            if decide is None:
                if n >= plan.min_samples and elapsed >= min_ns:
                    reason = StopReason.PLAN
                    break
                if elapsed >= max_ns:
                    reason = StopReason.TIME_CAP
                    break
                continue
            if n >= looks[-1] or elapsed >= max_ns:
                decide(*self._so_far(), look, True, self._yardstick())
                reason = StopReason.SAMPLE_CAP if n >= looks[-1] else StopReason.TIME_CAP
                break
            if n >= looks[look]:
                if decide(*self._so_far(), look, False, self._yardstick()):
                    reason = StopReason.DECIDED
                    break
                look += 1
        if self._speed is not None:
            self._speed.block()  # the run's end: a short run is bracketed by two blocks
        measured_s = (perf() - start) / 1e9
        return Timing(
            tuple(self.samples),
            self.group,
            self.warmup_calls,
            measured_s,
            self.value,
            reason,
            tuple(self.cpu_samples),
            self.cpu_clock,
            self._yardstick(),
        )

    def _sample(self) -> int:
        """Take one sample; returns the wall clock (ns) at its end."""
        call, group, cpu, perf = self._call, self.group, self._cpu, time.perf_counter_ns
        sync, events = self._setup.sync, self._setup.events
        before = self._setup.hooks.before_call
        if before is not None:
            before()
        if events is not None:
            begin, end = events(), events()
            begin.record()
            for _ in range(group):
                self.value = call()
            end.record()
            end.synchronize()
            self.samples.append(int(begin.elapsed_time(end) * 1e6) // group)
            return perf()
        if sync is not None:
            sync()
        c0 = cpu()
        t0 = perf()
        for _ in range(group):
            self.value = call()
        if sync is not None:
            sync()
        t1 = perf()
        c1 = cpu()
        self.samples.append((t1 - t0) // group)
        self.cpu_samples.append((c1 - c0) // group)
        return t1

    def _so_far(self) -> tuple[tuple[int, ...], tuple[int, ...], CpuClock | None]:
        return tuple(self.samples), tuple(self.cpu_samples), self.cpu_clock

    def _yardstick(self) -> YardstickCalls:
        return self._speed.calls() if self._speed is not None else YardstickCalls()


def _warm_up(
    call: Callable[[], Any],
    plan: SamplingPlan,
    sync: Callable[[], object] | None,
    before_call: Callable[[], object] | None = None,
) -> tuple[WarmState, CpuClock]:
    """Run the warm-up; returns its calls (count, fastest, last value) and the CPU clock
    the call's work shows (:func:`.clocks.work_clock`).

    It lasts ``warmup_calls`` calls and ``warmup_s``, but never past
    :attr:`SamplingPlan.warmup_cap_ns` once one call was made."""
    perf = time.perf_counter_ns
    budget_ns, cap_ns = plan.warmup_budget_ns, plan.warmup_cap_ns
    warm = WarmState()
    thread0, process0 = time.thread_time_ns(), time.process_time_ns()
    start = perf()
    while warm.calls < plan.warmup_calls or perf() - start < budget_ns:
        if warm.calls and perf() - start >= cap_ns:
            break
        if before_call is not None:
            before_call()
        warm.call(call, sync)
        if warm.calls >= plan.warmup_calls and perf() - start >= budget_ns:
            break
    return warm, work_clock(thread0, process0)


class _Speed:
    """The yardstick's blocks during one run (:mod:`pytest_infergate.measure.yardstick`)."""

    def __init__(self) -> None:
        # The calling thread's clock on either CPU clock: the yardstick runs on this thread
        # alone, and a runtime's pool spinning after the model's call would inflate the
        # process clock.
        self._cpu = time.thread_time_ns
        self._work = _yardstick.make_yardstick()
        # One untimed block first: the first block of a process read up to 10% slow on
        # the 2-core EPYC runner (pages, caches, the core's clock after the model's
        # warm-up), which moves the yardstick of a short run by as much.
        _yardstick.time_block(self._work, self._cpu)
        self._calls: list[int] = []
        self._sizes: list[int] = []
        self._last = 0
        self.block()

    def block(self) -> None:
        block = _yardstick.time_block(self._work, self._cpu)
        self._calls += block
        self._sizes.append(len(block))
        self._last = time.perf_counter_ns()

    def maybe_block(self, now_ns: int) -> None:
        if now_ns - self._last >= _yardstick.EVERY_NS:
            self.block()

    def calls(self) -> YardstickCalls:
        return YardstickCalls(tuple(self._calls), tuple(self._sizes))
