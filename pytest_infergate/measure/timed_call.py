"""What one measurement times, as the ``infer_bench`` fixture resolved it, and the
:class:`LatencyResult` a timing run of it makes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_infergate.measure.fresh import FreshCall
from pytest_infergate.measure.provenance import RuntimeFacts, measured_facts
from pytest_infergate.measure.timing import (
    NO_HOOKS,
    EventFactory,
    Hooks,
    SamplingPlan,
    Timing,
    TimingSetup,
    run,
)
from pytest_infergate.measure.trace import Trace, trace_onnxruntime, trace_torch
from pytest_infergate.results import LatencyResult

#: One untimed-in-effect call: the off mode, or a measurement nobody judges.
ONE_CALL = SamplingPlan(warmup_calls=0, warmup_s=0, min_samples=1, min_time_s=0, max_time_s=1e-9)


@dataclass(frozen=True)
class TimedCall:
    """``fn(*args, **kwargs)`` under ``key``: how it is clocked (``sync`` before each clock
    read, CUDA ``events`` in place of the wall clock), whose runtime facts it records
    (``model``; default: ``fn`` or the object it is bound to), and ``fresh`` inputs made
    before each call in place of ``args`` (:mod:`.fresh`)."""

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    sync: Callable[[], object] | None = None
    events: EventFactory | None = None
    model: object = None
    fresh: FreshCall | None = None

    def call(self) -> Callable[[], Any]:
        """The call as the test wrote it, with no fresh inputs."""
        return functools.partial(self.fn, *self.args, **self.kwargs)

    def timed(self) -> tuple[Callable[..., Any], tuple[Any, ...], Mapping[str, Any], Hooks]:
        """What the timing loop calls, with what, and the work it does between calls."""
        if self.fresh is not None:  # the call takes no inputs: setup makes them
            return self.fresh, (), {}, Hooks(before_call=self.fresh.prepare)
        return self.fn, self.args, self.kwargs, NO_HOOKS

    def once(self) -> Timing:
        """One call, so that the test still runs where nothing is measured."""
        fn, args, kwargs, _ = self.timed()
        return run(fn, args, kwargs, setup=TimingSetup(plan=ONE_CALL, sync=self.sync))

    def facts(self) -> RuntimeFacts | None:
        """The runtime facts of what is measured (file digests are cached)."""
        return measured_facts(self.fn, self.model)

    def result(self, timing: Timing) -> LatencyResult:
        """The result of a timing run of this call."""
        return latency_result(self.key, timing, self.batch_size)

    def trace(self, facts: RuntimeFacts | None) -> Trace | None:
        """Top operators of a few profiled calls, after the timed loop; ``None`` when the
        model is neither an onnxruntime session (or ORTModel) nor a torch model."""
        if facts is None:
            return None
        fn, args, kwargs, _ = self.timed()
        call = functools.partial(fn, *args, **kwargs)
        if facts.runtime == "onnxruntime":
            owner = self.model if self.model is not None else getattr(self.fn, "__self__", self.fn)
            return trace_onnxruntime(call, owner)
        if facts.runtime == "torch":
            return trace_torch(call)
        return None


def latency_result(key: str, timing: Timing, batch_size: int) -> LatencyResult:
    """The :class:`LatencyResult` of ``timing``, ``batch_size`` items a call."""
    speed = timing.yardstick
    return LatencyResult(
        key,
        timing.samples_ns,
        batch_size,
        timing.calls_per_sample,
        timing.warmup_calls,
        timing.measured_s,
        timing.stop_reason,
        timing.cpu_samples_ns,
        timing.cpu_clock,
        speed.calls_ns,
        speed.block_sizes,
    )


def cpu_clock(facts: RuntimeFacts | None) -> str | None:
    """``"process"`` when the runtime facts show a thread pool doing the call's work
    (onnxruntime with more than one intra-op thread, torch with more than one thread);
    ``None`` otherwise: the warm-up tells (:mod:`pytest_infergate.measure.timing`)."""
    if facts is None:
        return None
    if facts.runtime == "onnxruntime" and (facts.intra_op_threads or 0) > 1:
        return "process"
    if facts.runtime == "torch" and (facts.torch_threads or 0) > 1:
        return "process"
    return None
