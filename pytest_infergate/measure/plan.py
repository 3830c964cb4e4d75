"""What a timing loop is asked to do and what it hands back: the sampling plan, the hooks
between samples, the raw timings of one callable or of an interleaved pair."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_infergate import defaults
from pytest_infergate.measure.clocks import CpuClock
from pytest_infergate.results import StopReason


@dataclass(frozen=True)
class SamplingPlan:
    """How long to warm up and how many samples to take."""

    warmup_calls: int = defaults.WARMUP_CALLS
    warmup_s: float = defaults.WARMUP_S
    min_samples: int = defaults.MIN_SAMPLES
    min_time_s: float = defaults.MIN_TIME_S
    max_time_s: float = defaults.MAX_TIME_S

    def __post_init__(self) -> None:
        if self.warmup_calls < 0 or self.min_samples < 1:
            raise ValueError("warmup_calls must be >= 0 and min_samples >= 1")
        for name in ("warmup_s", "min_time_s", "max_time_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.max_time_s <= 0:
            raise ValueError(f"max_time_s must be > 0, got {self.max_time_s!r}")

    @property
    def warmup_cap_ns(self) -> int:
        """The warm-up never lasts past a quarter of ``max_time_s`` once one call was made:
        ten warm-up calls of a 10 s model would otherwise take 100 s under a 10 s cap."""
        return int(self.max_time_s / 4 * 1e9)

    @property
    def warmup_budget_ns(self) -> int:
        """The warm-up's time: ``warmup_s``, within :attr:`warmup_cap_ns`."""
        return int(min(self.warmup_s, self.max_time_s / 4) * 1e9)


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

#: ``decide(samples_ns, cpu_samples_ns, cpu_clock, look_index, final, yardstick) -> stop``:
#: the verdict rule at one look (``cpu_samples_ns``: each sample's CPU time per call on
#: ``cpu_clock``; ``yardstick``: the yardstick's blocks so far, see :mod:`.yardstick`).
Decide = Callable[
    [tuple[int, ...], tuple[int, ...], CpuClock | None, int, bool, YardstickCalls], bool
]

#: ``decide(candidate_ns, reference_ns, look_index, final) -> stop`` for A/B runs.
PairDecide = Callable[[tuple[int, ...], tuple[int, ...], int, bool], bool]


@dataclass(frozen=True)
class Timing:
    """Raw output of one measurement; ``last_value`` is what the timed function returned.
    The figures derived from it are :class:`pytest_infergate.results.LatencyResult`'s."""

    samples_ns: tuple[int, ...]
    calls_per_sample: int
    warmup_calls: int
    measured_s: float
    last_value: Any
    stop_reason: StopReason = StopReason.PLAN
    #: CPU time per call of each sample (ns), on ``cpu_clock``; empty when not measured.
    cpu_samples_ns: tuple[int, ...] = ()
    cpu_clock: CpuClock | None = None
    #: The yardstick's calls, in blocks spread through the run
    #: (:mod:`pytest_infergate.measure.yardstick`); empty when not measured.
    yardstick: YardstickCalls = YardstickCalls()


@dataclass(frozen=True)
class PairTiming:
    """Raw output of an interleaved A/B measurement; both arms have equal sample counts."""

    candidate: Timing
    reference: Timing
    measured_s: float
    stop_reason: StopReason
