"""What a timing loop reads and how it sizes a sample: the device sync, the timer, the CPU
clock, the calls grouped per sample and the warm-up that measures them.

Method (the loops are :mod:`.timing` and :mod:`.pair`): calls are timed with
``time.perf_counter_ns``. A call shorter than :data:`MIN_SAMPLE_NS` is timed in groups so
the clock's resolution and the loop's own cost stay below ~1% of a sample; each sample is
then the mean per call of its group. ``sync`` runs before each clock read so asynchronous
devices (CUDA) finish the work being timed; the garbage collector is paused while timing
(:func:`gc_paused`).
"""

from __future__ import annotations

import functools
import gc
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Literal

from pytest_infergate.measure.lazy import refuse_lazy_value

#: Shortest wall time of one sample; shorter calls are grouped.
MIN_SAMPLE_NS = 100_000

#: Shortest wall time of one sample of an interleaved A/B run: switching between
#: two models costs cache state, so each arm runs at least this long per sample.
MIN_PAIR_SAMPLE_NS = 1_000_000

#: A CPU clock a measurement can use: the calling thread's, or the whole process's.
CpuClock = Literal["thread", "process"]
CPU_CLOCKS: tuple[CpuClock, ...] = ("thread", "process")

#: Process CPU over thread CPU during the warm-up above which the call is taken to run
#: on a thread pool, and the process clock is used. One thread doing the work reads
#: 1.0-1.05 (the interpreter's other threads are idle); a pool of two reads near 2.
POOL_CPU_FACTOR = 1.5

#: Timers a measurement can use: the wall clock, or CUDA events on the current stream.
TIMERS = ("perf_counter", "cuda_events")

#: ``() -> event`` with ``record()``, ``synchronize()`` and ``elapsed_time(other)`` (ms).
EventFactory = Callable[[], Any]


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
        torch = sys.modules.get("torch")
        if torch is not None and (_uses_cuda(torch, involved) or torch.cuda.is_initialized()):
            return _synchronize(torch)
        return None
    if sync == "none":
        return None
    if sync == "cuda":
        return _synchronize(_cuda_torch('sync="cuda"'))
    raise ValueError(f'sync must be a callable, "cuda", "none" or None, got {sync!r}')


def resolve_timer(timer: str) -> EventFactory | None:
    """``"cuda_events"`` -> a factory of timing-enabled ``torch.cuda.Event``; ``None`` for the
    wall clock. Imports torch only for CUDA events."""
    if timer == "perf_counter":
        return None
    if timer != "cuda_events":
        raise ValueError(f"timer must be one of {', '.join(TIMERS)}, got {timer!r}")
    torch = _cuda_torch('timer="cuda_events"')
    return functools.partial(torch.cuda.Event, enable_timing=True)


def _cuda_torch(option: str) -> ModuleType:
    """torch with a CUDA device, for ``option`` that asked for one (imported here, only
    then: the plugin's import loads no torch)."""
    try:
        import torch
    except ModuleNotFoundError:
        raise ValueError(f"{option} needs torch: pip install torch") from None
    if not torch.cuda.is_available():
        raise ValueError(f"{option} was asked for, but torch sees no CUDA device")
    return torch


def _synchronize(torch: ModuleType) -> Callable[[], object]:
    synchronize: Callable[[], object] = torch.cuda.synchronize
    return synchronize


def _uses_cuda(torch: ModuleType, involved: Sequence[object]) -> bool:
    """Whether any object, or a value of a mapping or sequence among them (a tokenizer's
    batch, a tuple of tensors), is a CUDA tensor or a module whose weights are on a GPU.
    A bound method counts through its object, a transformers pipeline through its ``model``."""

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


def as_cpu_clock(name: str) -> CpuClock:
    """``name`` as a CPU clock; a ``ValueError`` names the clocks there are."""
    for clock in CPU_CLOCKS:
        if name == clock:
            return clock
    raise ValueError(f"cpu_clock must be one of {', '.join(CPU_CLOCKS)}, got {name!r}")


def work_clock(thread0_ns: int, process0_ns: int) -> CpuClock:
    """The CPU clock a call's work since the readings ``thread0_ns``/``process0_ns`` shows:
    ``"process"`` when the process used more than :data:`POOL_CPU_FACTOR` times the
    calling thread's CPU time (a pool did the work), else ``"thread"``."""
    thread_ns = time.thread_time_ns() - thread0_ns
    process_ns = time.process_time_ns() - process0_ns
    pool = thread_ns > 0 and process_ns > POOL_CPU_FACTOR * thread_ns
    return "process" if pool else "thread"


@contextmanager
def gc_paused() -> Iterator[None]:
    """The garbage collector off for the block, restored afterwards even on error: a
    collection inside a timed call is noise that depends on what ran before."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class WarmState:
    """Warm-up bookkeeping of one callable: calls made, fastest call, last value."""

    def __init__(self) -> None:
        self.calls = 0
        self.fastest_ns = 0
        self.value: Any = None

    def call(self, fn: Callable[[], Any], sync: Callable[[], object] | None) -> None:
        """One timed warm-up call; the first one's value must not be an unstarted
        generator or coroutine (:func:`.lazy.refuse_lazy_value`)."""
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


def group_size(warmup_calls: int, fastest_ns: int, min_sample_ns: int) -> int:
    """Calls per sample so that one sample lasts at least ``min_sample_ns``."""
    if warmup_calls == 0:
        return 1
    return max(1, math.ceil(min_sample_ns / max(fastest_ns, 1)))


def calibrate_group(call: Callable[[], Any], group: int, min_sample_ns: int) -> tuple[int, int]:
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
