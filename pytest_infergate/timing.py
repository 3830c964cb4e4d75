"""The measurement loop: warm-up, calibration, sampling, with gc off and sync hooks.

Method: calls are timed with ``time.perf_counter_ns``. Warm-up calls (by count
*and* time) are discarded. A call shorter than :data:`MIN_SAMPLE_NS` is timed in
groups so the clock's resolution and the loop's own cost stay below ~1% of a
sample; each sample is then the mean per call of its group. The garbage
collector is off while timing (a collection inside a timed call is noise that
depends on what ran before) and is restored afterwards, even on error.
``sync`` runs before each clock read so asynchronous devices (CUDA) finish the
work being timed.
"""

from __future__ import annotations

import functools
import gc
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Shortest wall time of one sample; shorter calls are grouped.
MIN_SAMPLE_NS = 100_000


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


def resolve_sync(sync: Callable[[], object] | str | None) -> Callable[[], object] | None:
    """Turn ``sync="cuda"`` into ``torch.cuda.synchronize``, importing torch only then."""
    if sync is None or callable(sync):
        return sync
    if sync == "cuda":
        try:
            import torch
        except ModuleNotFoundError:
            raise ValueError('sync="cuda" needs torch: pip install torch') from None
        if not torch.cuda.is_available():
            raise ValueError('sync="cuda" was asked for, but torch sees no CUDA device')
        synchronize: Callable[[], object] = torch.cuda.synchronize
        return synchronize
    raise ValueError(f'sync must be a callable, "cuda" or None, got {sync!r}')


def _warm_up(
    call: Callable[[], Any], plan: SamplingPlan, sync: Callable[[], object] | None
) -> tuple[int, int, Any]:
    """Run the warm-up; returns (calls made, fastest call in ns, last value)."""
    perf = time.perf_counter_ns
    budget_ns = int(min(plan.warmup_s, plan.max_time_s / 4) * 1e9)
    calls, fastest, value = 0, 0, None
    start = perf()
    while calls < plan.warmup_calls or perf() - start < budget_ns:
        if sync is not None:
            sync()
        t0 = perf()
        value = call()
        if sync is not None:
            sync()
        elapsed = perf() - t0
        fastest = elapsed if calls == 0 else min(fastest, elapsed)
        calls += 1
        if calls >= plan.warmup_calls and perf() - start >= budget_ns:
            break
    return calls, fastest, value


def run(
    fn: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    plan: SamplingPlan = SamplingPlan(),
    sync: Callable[[], object] | None = None,
) -> Timing:
    """Time ``fn(*args, **kwargs)`` following ``plan``; exceptions from ``fn`` propagate."""
    call = functools.partial(fn, *args, **(kwargs or {}))
    perf = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        warmup_calls, fastest_ns, value = _warm_up(call, plan, sync)
        group = 1 if warmup_calls == 0 else max(1, math.ceil(MIN_SAMPLE_NS / max(fastest_ns, 1)))
        min_ns, max_ns = int(plan.min_time_s * 1e9), int(plan.max_time_s * 1e9)
        samples: list[int] = []
        start = perf()
        while True:
            if sync is not None:
                sync()
            t0 = perf()
            for _ in range(group):
                value = call()
            if sync is not None:
                sync()
            t1 = perf()
            samples.append((t1 - t0) // group)
            elapsed = t1 - start
            if elapsed >= max_ns or (len(samples) >= plan.min_samples and elapsed >= min_ns):
                break
        measured_s = (perf() - start) / 1e9
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(tuple(samples), group, warmup_calls, measured_s, value)
