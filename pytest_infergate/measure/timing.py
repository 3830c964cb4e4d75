"""The measurement loop: warm-up, calibration, sampling, with gc off and sync hooks.

Method: calls are timed with ``time.perf_counter_ns``. Warm-up calls (by count
*and* time) are discarded. A call shorter than :data:`MIN_SAMPLE_NS` is timed in
groups so the clock's resolution and the loop's own cost stay below ~1% of a
sample; each sample is then the mean per call of its group. The garbage
collector is off while timing (a collection inside a timed call is noise that
depends on what ran before) and is restored afterwards, even on error.
``sync`` runs before each clock read so asynchronous devices (CUDA) finish the
work being timed.

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
import gc
import inspect
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pytest_infergate.measure import yardstick as _yardstick
from pytest_infergate.results import StopReason

#: Shortest wall time of one sample; shorter calls are grouped.
MIN_SAMPLE_NS = 100_000

#: Shortest wall time of one sample of an interleaved A/B run: switching between
#: two models costs cache state, so each arm runs at least this long per sample.
MIN_PAIR_SAMPLE_NS = 1_000_000

#: CPU clocks a measurement can use: the calling thread's, or the whole process's.
CPU_CLOCKS = ("thread", "process")

#: Process CPU over thread CPU during the warm-up above which the call is taken to run
#: on a thread pool, and the process clock is used. One thread doing the work reads
#: 1.0-1.05 (the interpreter's other threads are idle); a pool of two reads near 2.
POOL_CPU_FACTOR = 1.5

#: ``decide(samples_ns, cpu_samples_ns, cpu_clock, look_index, final, yardstick) -> stop``:
#: the verdict rule at one look (``cpu_samples_ns``: each sample's CPU time per call on
#: ``cpu_clock``; ``yardstick``: the yardstick's blocks so far, see :mod:`.yardstick`).
Decide = Callable[[tuple[int, ...], tuple[int, ...], str | None, int, bool, "YardstickCalls"], bool]


@dataclass(frozen=True)
class YardstickCalls:
    """The machine-speed yardstick's calls of one run (ns each, the calling thread's
    clock) and how many calls each of its blocks made."""

    calls_ns: tuple[int, ...] = ()
    block_sizes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Hooks:
    """Work done between samples, never inside the timed region.

    ``before_call`` runs before every call, warm-up ones too (fresh inputs: see
    :mod:`.fresh`); with it each sample is one call, since calls grouped for the clock
    would share one preparation. ``after_sample`` sees the samples so far after each
    one (progress: :mod:`.progress`); it must return quickly and rarely do more."""

    before_call: Callable[[], object] | None = None
    after_sample: Callable[[Sequence[int]], object] | None = None


#: No work between samples.
NO_HOOKS = Hooks()

#: ``decide(candidate_ns, reference_ns, look_index, final) -> stop`` for A/B runs.
PairDecide = Callable[[tuple[int, ...], tuple[int, ...], int, bool], bool]


@dataclass(frozen=True)
class SamplingPlan:
    """How long to warm up and how many samples to take."""

    warmup_calls: int = 10
    warmup_s: float = 0.5
    min_samples: int = 100
    min_time_s: float = 1.0
    max_time_s: float = 10.0

    def __post_init__(self) -> None:
        if self.warmup_calls < 0 or self.min_samples < 1:
            raise ValueError("warmup_calls must be >= 0 and min_samples >= 1")
        for name in ("warmup_s", "min_time_s", "max_time_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.max_time_s <= 0:
            raise ValueError(f"max_time_s must be > 0, got {self.max_time_s!r}")


@dataclass(frozen=True)
class Timing:
    """Raw output of one measurement; ``last_value`` is what the timed function returned."""

    samples_ns: tuple[int, ...]
    calls_per_sample: int
    warmup_calls: int
    measured_s: float
    last_value: Any
    stop_reason: StopReason = StopReason.PLAN
    #: CPU time per call of each sample (ns), on ``cpu_clock``; empty when not measured.
    cpu_samples_ns: tuple[int, ...] = ()
    cpu_clock: str | None = None
    #: The yardstick's calls, in blocks spread through the run
    #: (:mod:`pytest_infergate.measure.yardstick`); empty when not measured.
    yardstick: YardstickCalls = YardstickCalls()


def resolve_sync(
    sync: Callable[[], object] | str | None, involved: Sequence[object] = ()
) -> Callable[[], object] | None:
    """The hook run before each clock read.

    ``"cuda"`` is ``torch.cuda.synchronize``; ``"none"`` is no hook; a callable is
    itself. ``None`` chooses: ``torch.cuda.synchronize`` when one of ``involved``
    (the arguments, the model) is a CUDA tensor or module, or when torch has created
    its CUDA context at all, since CUDA calls return before the GPU has finished and
    an unsynchronised time is the launch time only. The arguments alone miss a closure
    (``lambda: m16(x)`` has none): on an H200 such a compare read fp16 0.86x of fp32
    where it is 1.18x, with a confident p-value. With a context but only CPU work, the
    price is one empty synchronize (microseconds) per sample; ``sync="none"`` opts out.
    torch is imported only for ``"cuda"``; ``None`` looks at it only when the test
    already imported it, and never creates a CUDA context itself.
    """
    if callable(sync):
        return sync
    if sync is None:
        return _cuda_synchronize() if _uses_cuda(involved) or _cuda_context() else None
    if sync == "none":
        return None
    if sync == "cuda":
        try:
            import torch
        except ModuleNotFoundError:
            raise ValueError('sync="cuda" needs torch: pip install torch') from None
        if not torch.cuda.is_available():
            raise ValueError('sync="cuda" was asked for, but torch sees no CUDA device')
        return _cuda_synchronize()
    raise ValueError(f'sync must be a callable, "cuda", "none" or None, got {sync!r}')


def _cuda_synchronize() -> Callable[[], object]:
    import torch

    synchronize: Callable[[], object] = torch.cuda.synchronize
    return synchronize


def _cuda_context() -> bool:
    """Whether torch is imported and has initialised CUDA in this process (a model moved
    to the GPU, a tensor created there). ``is_initialized`` reads a flag: unlike
    ``is_available`` it touches no driver, so a CPU-only test is left exactly as it was."""
    torch = sys.modules.get("torch")
    return torch is not None and bool(torch.cuda.is_initialized())


def _uses_cuda(involved: Sequence[object]) -> bool:
    """Whether any object, or a value of a mapping or sequence among them (a tokenizer's
    batch, a tuple of tensors), is a CUDA tensor or a module whose weights are on a GPU.
    A bound method counts through its object, a transformers pipeline through its ``model``."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False

    def on_cuda(obj: object) -> bool:
        if isinstance(obj, torch.Tensor):
            return bool(obj.is_cuda)
        if isinstance(obj, torch.nn.Module):
            first = next(obj.parameters(), None)
            return first is not None and bool(first.is_cuda)
        return False

    values: list[object] = []
    for item in involved:
        if isinstance(item, Mapping):
            values.extend(item.values())
        elif isinstance(item, (list, tuple)):
            values.extend(item)
        else:
            values.append(item)
    return any(
        on_cuda(candidate)
        for value in values
        for candidate in (value, getattr(value, "__self__", None), getattr(value, "model", None))
    )


#: Timers a measurement can use: the wall clock, or CUDA events on the current stream.
TIMERS = ("perf_counter", "cuda_events")

#: ``() -> event`` with ``record()``, ``synchronize()`` and ``elapsed_time(other)`` (ms).
EventFactory = Callable[[], Any]


def resolve_timer(timer: str) -> EventFactory | None:
    """``"cuda_events"`` -> a factory of timing-enabled ``torch.cuda.Event``; ``None`` for the
    wall clock. Imports torch only for CUDA events."""
    if timer == "perf_counter":
        return None
    if timer != "cuda_events":
        raise ValueError(f"timer must be one of {', '.join(TIMERS)}, got {timer!r}")
    try:
        import torch
    except ModuleNotFoundError:
        raise ValueError('timer="cuda_events" needs torch: pip install torch') from None
    if not torch.cuda.is_available():
        raise ValueError('timer="cuda_events" was asked for, but torch sees no CUDA device')
    return functools.partial(torch.cuda.Event, enable_timing=True)


def _warm_up(
    call: Callable[[], Any],
    plan: SamplingPlan,
    sync: Callable[[], object] | None,
    before_call: Callable[[], object] | None = None,
) -> tuple[int, int, Any, str]:
    """Run the warm-up; returns (calls made, fastest call in ns, last value, the CPU
    clock the call's work shows: ``"process"`` when the process used more than
    :data:`POOL_CPU_FACTOR` times the calling thread's CPU time, else ``"thread"``).

    It lasts ``warmup_calls`` calls and ``warmup_s``, but never past a quarter of
    ``max_time_s`` once one call was made: ten warm-up calls of a 10 s model would
    otherwise take 100 s under a 10 s cap."""
    perf = time.perf_counter_ns
    budget_ns = int(min(plan.warmup_s, plan.max_time_s / 4) * 1e9)
    cap_ns = int(plan.max_time_s / 4 * 1e9)
    calls, fastest, value = 0, 0, None
    thread0, process0 = time.thread_time_ns(), time.process_time_ns()
    start = perf()
    while calls < plan.warmup_calls or perf() - start < budget_ns:
        if calls and perf() - start >= cap_ns:
            break
        if before_call is not None:
            before_call()
        if sync is not None:
            sync()
        t0 = perf()
        value = call()
        if sync is not None:
            sync()
        elapsed = perf() - t0
        if calls == 0:
            refuse_lazy_value(value)
        fastest = elapsed if calls == 0 else min(fastest, elapsed)
        calls += 1
        if calls >= plan.warmup_calls and perf() - start >= budget_ns:
            break
    return calls, fastest, value, work_clock(thread0, process0)


def work_clock(thread0_ns: int, process0_ns: int) -> Literal["thread", "process"]:
    """The CPU clock a call's work since the readings ``thread0_ns``/``process0_ns`` shows:
    ``"process"`` when the process used more than :data:`POOL_CPU_FACTOR` times the
    calling thread's CPU time (a pool did the work), else ``"thread"``."""
    thread_ns = time.thread_time_ns() - thread0_ns
    process_ns = time.process_time_ns() - process0_ns
    pool = thread_ns > 0 and process_ns > POOL_CPU_FACTOR * thread_ns
    return "process" if pool else "thread"


class LazyCallError(TypeError):
    """The timed function only creates a generator or coroutine: its work is not timed."""


def refuse_lazy(fn: Callable[..., Any]) -> None:
    """Refuse a generator or ``async def`` function: calling one only creates the
    generator or coroutine, so its body would never run inside the timed loop."""
    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
        raise LazyCallError(
            f"{_name(fn)} is an async function: calling it only creates a coroutine, so its "
            "body would not be timed; time a synchronous call, e.g. "
            "lambda: asyncio.run(fn(x)), or the model call inside it"
        )
    if inspect.isgeneratorfunction(target):
        raise LazyCallError(
            f"{_name(fn)} is a generator function: calling it only creates a generator, so "
            "its body would not be timed; time a call that consumes it, e.g. "
            "lambda: list(fn(x))"
        )


def refuse_lazy_value(value: object) -> None:
    """Refuse a call whose value is an unstarted coroutine or generator (a lambda over
    an ``async def`` function, say): what was timed is its creation only."""
    kind = (
        "a coroutine"
        if inspect.iscoroutine(value)
        else "an async generator"
        if inspect.isasyncgen(value)
        else "a generator"
        if inspect.isgenerator(value)
        else None
    )
    if kind is None:
        return
    close = getattr(value, "close", None)
    if callable(close) and not inspect.isasyncgen(value):
        close()  # no "coroutine was never awaited" warning on top of the error
    raise LazyCallError(
        f"the timed call returned {kind}, so only its creation would be timed, not its "
        "body; time a call that runs it to the end (asyncio.run(...), list(...))"
    )


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def run(
    fn: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    plan: SamplingPlan = SamplingPlan(),
    sync: Callable[[], object] | None = None,
    looks: Sequence[int] = (),
    decide: Decide | None = None,
    events: EventFactory | None = None,
    cpu_clock: str | None = None,
    yardstick: bool = False,
    hooks: Hooks = NO_HOOKS,
) -> Timing:
    """Time ``fn(*args, **kwargs)``; exceptions from ``fn`` propagate.

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
    if decide is not None and not looks:
        raise ValueError("decide needs at least one look")
    if cpu_clock is not None and cpu_clock not in CPU_CLOCKS:
        raise ValueError(f"cpu_clock must be one of {', '.join(CPU_CLOCKS)}, got {cpu_clock!r}")
    refuse_lazy(fn)
    call = functools.partial(fn, *args, **(kwargs or {}))
    perf = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        before, after = hooks.before_call, hooks.after_sample
        warmup_calls, fastest_ns, value, seen_clock = _warm_up(call, plan, sync, before)
        clock = cpu_clock or seen_clock
        cpu = time.thread_time_ns if clock == "thread" else time.process_time_ns
        # Event-timed samples are GPU time already, the figure host contention leaves
        # alone; the host's CPU time of an asynchronous launch is no cost figure.
        cpu_clock_used = clock if events is None else None
        group = 1 if before is not None else _group_size(warmup_calls, fastest_ns, MIN_SAMPLE_NS)
        if sync is None:
            group, calibration_calls = _calibrate_group(call, group, MIN_SAMPLE_NS)
            warmup_calls += calibration_calls
        min_ns, max_ns = int(plan.min_time_s * 1e9), int(plan.max_time_s * 1e9)
        samples: list[int] = []
        cpu_samples: list[int] = []
        speed = _Speed() if yardstick and events is None else None
        look = 0
        start = perf()
        while True:
            if before is not None:
                before()
            if events is not None:
                c0 = cpu()
                begin, end = events(), events()
                begin.record()
                for _ in range(group):
                    value = call()
                end.record()
                end.synchronize()
                c1 = cpu()
                samples.append(int(begin.elapsed_time(end) * 1e6) // group)
                t1 = perf()
            else:
                if sync is not None:
                    sync()
                c0 = cpu()
                t0 = perf()
                for _ in range(group):
                    value = call()
                if sync is not None:
                    sync()
                t1 = perf()
                c1 = cpu()
                samples.append((t1 - t0) // group)
            if events is None:
                cpu_samples.append((c1 - c0) // group)
            if speed is not None:
                speed.maybe_block(t1)
            if after is not None:
                after(samples)
            elapsed, n = t1 - start, len(samples)
            if decide is None:
                if n >= plan.min_samples and elapsed >= min_ns:
                    reason = StopReason.PLAN
                    break
                if elapsed >= max_ns:
                    reason = StopReason.TIME_CAP
                    break
                continue
            yard = speed.calls() if speed is not None else YardstickCalls()
            if n >= looks[-1] or elapsed >= max_ns:
                decide(tuple(samples), tuple(cpu_samples), cpu_clock_used, look, True, yard)
                reason = StopReason.SAMPLE_CAP if n >= looks[-1] else StopReason.TIME_CAP
                break
            if n >= looks[look]:
                if decide(tuple(samples), tuple(cpu_samples), cpu_clock_used, look, False, yard):
                    reason = StopReason.DECIDED
                    break
                look += 1
        if speed is not None:
            speed.block()  # the run's end: a short run is bracketed by two blocks
        measured_s = (perf() - start) / 1e9
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(
        tuple(samples),
        group,
        warmup_calls,
        measured_s,
        value,
        reason,
        tuple(cpu_samples),
        cpu_clock_used,
        speed.calls() if speed is not None else YardstickCalls(),
    )


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


def _group_size(warmup_calls: int, fastest_ns: int, min_sample_ns: int) -> int:
    """Calls per sample so that one sample lasts at least ``min_sample_ns``."""
    if warmup_calls == 0:
        return 1
    return max(1, math.ceil(min_sample_ns / max(fastest_ns, 1)))


def _calibrate_group(call: Callable[[], Any], group: int, min_sample_ns: int) -> tuple[int, int]:
    """Grow a group estimated from single warm-up calls until one timed group lasts
    ``min_sample_ns``; returns (group, calls made). A single call of a sub-microsecond
    function is mostly the cost of reading the clock around it: a 40 ns call read 186 ns
    cold, and groups sized from it lasted a fifth of the intended 100 us. The calls count
    as warm-up. Synchronised (GPU) calls are not grouped this way: their sync dominates."""
    perf = time.perf_counter_ns
    calls = 0
    for _ in range(3):
        if group == 1:
            break
        t0 = perf()
        for _ in range(group):
            call()
        elapsed = perf() - t0
        calls += group
        if elapsed >= min_sample_ns:
            break
        group = math.ceil(group * min_sample_ns / max(elapsed, 1))
    return group, calls


@dataclass(frozen=True)
class PairTiming:
    """Raw output of an interleaved A/B measurement; both arms have equal sample counts."""

    candidate: Timing
    reference: Timing
    measured_s: float
    stop_reason: StopReason


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
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        warm = [_WarmState(), _WarmState()]
        budget_ns = int(min(plan.warmup_s, plan.max_time_s / 4) * 1e9)
        cap_ns = int(plan.max_time_s / 4 * 1e9)  # as in _warm_up: slow calls are not
        start = perf()  # warmed up past a quarter of the cap
        while True:
            for arm in (0, 1):
                warm[arm].call(calls[arm], sync)
            elapsed = perf() - start
            if (warm[0].calls >= plan.warmup_calls and elapsed >= budget_ns) or elapsed >= cap_ns:
                break
        groups = [_group_size(w.calls, w.fastest_ns, min_sample_ns) for w in warm]
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
    finally:
        if gc_was_enabled:
            gc.enable()
    n = min(len(samples[0]), len(samples[1]))
    return PairTiming(
        Timing(tuple(samples[0][:n]), groups[0], warm[0].calls, measured_s, values[0], reason),
        Timing(tuple(samples[1][:n]), groups[1], warm[1].calls, measured_s, values[1], reason),
        measured_s,
        reason,
    )


#: One block of the interleaved order: candidate (0), reference (1), reference, candidate.
_ABBA = (0, 1, 1, 0)


class _WarmState:
    """Warm-up bookkeeping of one arm: calls made, fastest call, last value."""

    def __init__(self) -> None:
        self.calls = 0
        self.fastest_ns = 0
        self.value: Any = None

    def call(self, fn: Callable[[], Any], sync: Callable[[], object] | None) -> None:
        perf = time.perf_counter_ns
        if sync is not None:
            sync()
        t0 = perf()
        self.value = fn()
        if sync is not None:
            sync()
        elapsed = perf() - t0
        if self.calls == 0:
            refuse_lazy_value(self.value)
        self.fastest_ns = elapsed if self.calls == 0 else min(self.fastest_ns, elapsed)
        self.calls += 1
