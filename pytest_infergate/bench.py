"""The object behind the ``infer_bench`` fixture: time a call, record it, gate it."""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from pytest_infergate.config import Mode, Settings, parse_fraction
from pytest_infergate.judge.against import lockstep_verdict
from pytest_infergate.judge.latency import latency_settled, wants_adaptive_stop
from pytest_infergate.judge.messages import failure_message
from pytest_infergate.judge.ratio import (
    compare_ratio,
    fixed_ratio_gates,
    ratio_settled,
    stored_ratio_gate,
)
from pytest_infergate.judge.thresholds import LATENCY_LOOKS
from pytest_infergate.measure.cpu import CpuWindow, cpu_window
from pytest_infergate.measure.fresh import FreshCall, setup_problem
from pytest_infergate.measure.lockstep import ArmTimer, LockstepSamples, Peer, lead
from pytest_infergate.measure.progress import ProgressFactory, measuring
from pytest_infergate.measure.provenance import measured_facts
from pytest_infergate.measure.timing import (
    NO_HOOKS,
    EventFactory,
    Hooks,
    PairTiming,
    SamplingPlan,
    Timing,
    YardstickCalls,
    refuse_lazy,
    resolve_sync,
    resolve_timer,
    run,
    run_pair,
)
from pytest_infergate.measure.trace import trace_onnxruntime, trace_torch
from pytest_infergate.results import (
    ComparisonResult,
    FixedGates,
    LatencyResult,
    StopReason,
    SweepPoint,
    SweepResult,
    Verdict,
)
from pytest_infergate.session import GateSession
from pytest_infergate.usage import (
    check_batch_size,
    fail_with,
    lazy_calls_fail,
    problem_at,
    require_callable,
)

if TYPE_CHECKING:
    from pytest_infergate.against.link import Follower
    from pytest_infergate.against.revision import Revision
    from pytest_infergate.measure.cpu import CpuUsage
    from pytest_infergate.measure.provenance import RuntimeFacts
    from pytest_infergate.measure.trace import Trace


class InferBench:
    """Times model calls for one test: ``infer_bench(fn, *args)``, ``infer_bench.measure(...)``
    or ``infer_bench.compare(candidate, reference, ...)``.

    Each measurement is compared with the baseline at once; a regression fails
    the test right there, naming the baseline, the current value and the option
    that re-records it.
    """

    def __init__(
        self,
        session: GateSession,
        nodeid: str,
        marker: Settings,
        progress: ProgressFactory | None = None,
    ) -> None:
        self._session = session
        self._nodeid = nodeid
        self._marker = marker
        self._keys: set[str] = set()
        self._progress = progress
        #: A running sweep's start: its points' progress counts from there.
        self._sweep_started: float | None = None

    def __call__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        model: object = None,
        setup: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Time ``fn(*args, **kwargs)`` with the default settings; return its last value.

        ``model`` is the object whose runtime facts are recorded and checked against
        ``expect_*`` settings (default: ``fn``, or the object ``fn`` is bound to, such
        as the ``InferenceSession`` of ``session.run``). ``setup`` makes fresh inputs
        before every call, untimed: ``fn(*setup())`` (:mod:`.measure.fresh`). A keyword
        argument of ``fn`` named ``model`` or ``setup`` must go through
        ``measure(kwargs=...)``."""
        __tracebackhide__ = True
        require_callable("infer_bench()", "the first argument", fn)
        _, value, failure = self._measure(
            fn,
            args,
            kwargs,
            name=None,
            batch_size=1,
            overrides=Settings(),
            model=model,
            setup=setup,
            where="infer_bench()",
        )
        fail_with(failure)
        return value

    def measure(
        self,
        fn: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
        batch_size: int = 1,
        warmup: int | None = None,
        min_samples: int | None = None,
        max_time_s: float | None = None,
        sync: Callable[[], object] | str | None = None,
        model: object = None,
        expect_providers: Sequence[str] | None = None,
        expect_quantized: bool | None = None,
        expect_ops: Mapping[str, str | int] | None = None,
        timer: str = "perf_counter",
        setup: Callable[[], Any] | None = None,
    ) -> LatencyResult:
        """Time ``fn(*args, **kwargs)`` and return the :class:`LatencyResult`.

        ``name`` tells several measurements of one test apart (baseline key
        ``nodeid::name``); ``batch_size`` is the items per call, for throughput;
        ``sync`` (a callable or ``"cuda"``) runs before every clock read; by default it
        is ``torch.cuda.synchronize`` when an argument or the model is on a CUDA device
        (``sync="none"`` turns that off); ``model``
        is the object whose runtime facts are recorded (default: ``fn`` or the object
        it is bound to); ``expect_providers``/``expect_quantized``/``expect_ops`` are
        checked against them (NOT-APPLIED when unmet), as the marker keys are.
        ``timer="cuda_events"`` times each sample with CUDA events (GPU time of the
        current stream) instead of the wall clock. ``setup`` makes fresh inputs before
        every call, untimed, in place of ``args``: ``fn(*setup(), **kwargs)``, one call
        per sample (:mod:`.measure.fresh`).

        With a stored value for this machine, sampling is adaptive: it looks at 50,
        150, 300, 500 and 1000 samples and stops once the verdict is clear (or at
        ``max_time_s``); ``min_samples`` applies when there is nothing to decide
        against (a NEW entry, ``--infer-update-baseline``).
        """
        __tracebackhide__ = True
        require_callable("infer_bench.measure()", "fn", fn)
        try:
            overrides = Settings.from_kwargs(
                {
                    "warmup": warmup,
                    "min_samples": min_samples,
                    "max_time_s": max_time_s,
                    "expect_providers": expect_providers,
                    "expect_quantized": expect_quantized,
                    "expect_ops": expect_ops,
                }
            )
        except ValueError as exc:
            raise ValueError(f"infer_bench.measure(): {exc}") from None
        check_batch_size("measure", batch_size)
        result, _, failure = self._measure(
            fn,
            args,
            kwargs or {},
            name=name,
            batch_size=batch_size,
            overrides=overrides,
            sync=sync,
            model=model,
            timer=timer,
            setup=setup,
            where="infer_bench.measure()",
        )
        fail_with(failure)
        return result

    def sweep(
        self,
        fn: Callable[..., Any],
        make_args: Callable[[int], tuple[Any, ...]],
        batch_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32),
        *,
        latency_budget_ms: float | None = None,
        name: str | None = None,
        max_time_s: float | None = None,
    ) -> SweepResult:
        """Measure ``fn(*make_args(batch_size))`` at each batch size: a batch-size search.

        Each point is an ordinary measurement (key ``nodeid::bs8``, or ``nodeid::NAME-bs8``),
        gated against the baseline like any other. The result names the batch size with
        the highest throughput whose p95 stays within ``latency_budget_ms``.

        Every point is measured before the sweep fails: a regression at batch 4 says
        little without batch 8 and 16 beside it (is it one size, or all of them?), so the
        failure comes after the last point and names each failing one, and every point
        is in the summary table.
        """
        __tracebackhide__ = True
        require_callable("infer_bench.sweep()", "fn", fn)
        require_callable("infer_bench.sweep()", "make_args", make_args)
        if not batch_sizes:
            raise ValueError("infer_bench.sweep(): batch_sizes is empty")
        for size in batch_sizes:
            check_batch_size("sweep", size)
        try:
            overrides = Settings.from_kwargs({"max_time_s": max_time_s})
        except ValueError as exc:
            raise ValueError(f"infer_bench.sweep(): {exc}") from None
        points = []
        failures = []
        self._sweep_started = time.monotonic()
        try:
            for size in batch_sizes:
                label = f"bs{size}" if name is None else f"{name}-bs{size}"
                result, _, failure = self._measure(
                    fn, make_args(size), {}, name=label, batch_size=size, overrides=overrides
                )
                if failure is not None:
                    failures.append(failure)
                point = SweepPoint(size, result.p50_ms, result.p95_ms, result.throughput_per_s)
                points.append(point)
        finally:
            self._sweep_started = None
        if failures:
            heading = (
                f"infer_bench.sweep(): {len(failures)} of {len(points)} batch sizes failed "
                "(every size was measured; all are in the summary):"
            )
            fail_with("\n".join([heading, *failures]))
        return SweepResult(tuple(points), latency_budget_ms)

    def compare(
        self,
        candidate: Callable[..., Any],
        reference: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        reference_args: tuple[Any, ...] | None = None,
        reference_kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
        max_slowdown: float | str | None = None,
        min_speedup: float | None = None,
        batch_size: int = 1,
        warmup: int | None = None,
        max_time_s: float | None = None,
        sync: Callable[[], object] | str | None = None,
        model: object = None,
        reference_model: object = None,
        expect_providers: Sequence[str] | None = None,
        expect_quantized: bool | None = None,
        expect_ops: Mapping[str, str | int] | None = None,
        stored_ratio: bool = True,
    ) -> ComparisonResult:
        """Time ``candidate`` against ``reference`` interleaved, and gate their ratio.

        Both are called with ``args``/``kwargs`` (the reference with
        ``reference_args``/``reference_kwargs`` when given), alternately in ABBA
        blocks in this process, so the machine's drift falls on both alike. Gates,
        applied in every run, with or without a baseline file:

        * ``max_slowdown=0.1``: the candidate may be at most 10% slower than the
          reference (the default, from the latency tolerance, when neither is given);
        * ``min_speedup=1.5``: the candidate must stay at least 1.5x faster;
        * a ratio stored in the baseline (``--infer-update-baseline`` records it): the
          ratio may not get worse by more than the latency tolerance (twice that when
          it was stored on another machine), judged against the larger of its history's
          median and the newest record, so one record under load does not fail the
          next runs. ``stored_ratio=False`` keeps only the fixed gates: the ratio is
          neither checked against the baseline nor recorded in it.

        Sampling is sequential: looks at 50, 150 and 500 samples per arm, stopping as
        soon as every gate is decided; undecided at the cap is INCONCLUSIVE.

        ``model`` is the candidate's model, whose runtime facts are recorded and
        checked against ``expect_*`` settings (default: ``candidate`` or the object
        it is bound to); ``reference_model`` is the reference's, recorded too, so a
        changed reference and the operators that differ between the arms are shown.
        """
        __tracebackhide__ = True
        for what, fn in (("candidate", candidate), ("reference", reference)):
            require_callable("infer_bench.compare()", what, fn)
        try:
            overrides = Settings.from_kwargs(
                {
                    "warmup": warmup,
                    "max_time_s": max_time_s,
                    "expect_providers": expect_providers,
                    "expect_quantized": expect_quantized,
                    "expect_ops": expect_ops,
                }
            )
            slowdown = None if max_slowdown is None else parse_fraction(max_slowdown)
        except ValueError as exc:
            raise ValueError(f"infer_bench.compare(): {exc}") from None
        if min_speedup is not None and (
            isinstance(min_speedup, bool)
            or not isinstance(min_speedup, (int, float))
            or not math.isfinite(min_speedup)
            or min_speedup <= 0
        ):
            raise ValueError(
                f"infer_bench.compare(): min_speedup must be a number > 0, got {min_speedup!r}"
            )
        check_batch_size("compare", batch_size)
        if not isinstance(stored_ratio, bool):
            raise ValueError(
                f"infer_bench.compare(): stored_ratio must be True or False, got {stored_ratio!r}"
            )
        key = self._key(name)
        with lazy_calls_fail("compare"):
            refuse_lazy(candidate)
            refuse_lazy(reference)
        settings = self._session.config.resolve(overrides, self._marker)
        cand_kwargs = dict(kwargs or {})
        ref_args = args if reference_args is None else reference_args
        ref_kwargs = dict(cand_kwargs if reference_kwargs is None else reference_kwargs)
        involved = (*args, cand_kwargs, *ref_args, ref_kwargs, candidate, reference, model)
        sync_fn = resolve_sync(sync, involved)

        def call_candidate() -> Any:
            return candidate(*args, **cand_kwargs)

        def call_reference() -> Any:
            return reference(*ref_args, **ref_kwargs)

        follower, companion = self._session.follower, self._session.companion
        if follower is not None:  # the leader times its own compare() with this one held
            follower.measure(key, self._nodeid, call_candidate, sync_fn)
        if self._session.config.mode is Mode.OFF or follower is not None:
            return _comparison_once(key, call_candidate, call_reference, batch_size, sync_fn)
        facts = measured_facts(candidate, model)
        reference_facts = measured_facts(reference, reference_model)
        held = companion.quiet(key, self._nodeid) if companion else contextlib.nullcontext()
        with lazy_calls_fail("compare"), held:
            result, verdict, cpu = self._compare(
                key,
                call_candidate,
                call_reference,
                settings,
                FixedGates(slowdown, min_speedup, stored_ratio),
                batch_size,
                sync_fn,
            )
        measurement = self._session.record_verdict(
            self._nodeid,
            result,
            verdict,
            settings,
            facts,
            cpu=cpu,
            reference_facts=reference_facts,
        )
        if self._session.fails(measurement.verdict):
            pytest.fail(failure_message(key, "A/B", measurement.verdict), pytrace=False)
        return result

    def _compare(
        self,
        key: str,
        call_candidate: Callable[[], Any],
        call_reference: Callable[[], Any],
        settings: Settings,
        fixed: FixedGates,
        batch_size: int,
        sync: Callable[[], object] | None,
    ) -> tuple[ComparisonResult, Verdict, CpuUsage | None]:
        from pytest_infergate.judge.stats import SEQUENTIAL_LOOKS

        tolerance = dict(settings.latency_tolerance or {}).get("p50", 0.10)
        gates = fixed_ratio_gates(fixed.max_slowdown, fixed.min_speedup)
        if not gates:
            gates = fixed_ratio_gates(tolerance, None)
        context = ""
        if self._session.config.baseline_path is not None and fixed.stored_ratio:
            stored, context = stored_ratio_gate(
                self._session.entry(key), self._session.profile, tolerance
            )
            if stored is not None:
                gates.append(stored)
        last: list[Verdict] = []

        def decide(cand: tuple[int, ...], ref: tuple[int, ...], look: int, final: bool) -> bool:
            provisional = _comparison(key, cand, ref, batch_size, 0.0)
            verdict = compare_ratio(provisional, gates, look=look, final=final, context=context)
            last[:] = [verdict]
            return ratio_settled(verdict)

        with (
            measuring(self._progress, f"{key} (A/B)") as progress,
            self._session.timing_lock,
            cpu_window() as cpu,
        ):
            timing = run_pair(
                call_candidate,
                call_reference,
                plan=settings.plan(),
                looks=[n for n, _ in SEQUENTIAL_LOOKS],
                decide=decide,
                sync=sync,
                after_block=progress,
            )
        result = _comparison(
            key,
            timing.candidate.samples_ns,
            timing.reference.samples_ns,
            batch_size,
            timing.measured_s,
            timing,
            fixed,
        )
        return result, last[0], cpu.usage

    def _key(self, name: str | None) -> str:
        key = self._nodeid if name is None else f"{self._nodeid}::{name}"
        if key in self._keys:
            hint = "pass a distinct name= to each" if name is None else f"name {name!r} is taken"
            raise ValueError(f"{key} was already measured in this test; {hint}")
        taken = self._session.claim(key, self._nodeid)
        if taken:
            pytest.fail(f"infer_bench: {taken}", pytrace=False)
        self._keys.add(key)
        return key

    def _measure(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        name: str | None,
        batch_size: int,
        overrides: Settings,
        sync: Callable[[], object] | str | None = None,
        model: object = None,
        timer: str = "perf_counter",
        setup: Callable[[], Any] | None = None,
        where: str = "infer_bench.measure()",
    ) -> tuple[LatencyResult, Any, str | None]:
        """Time and record one measurement; the third value is the message its test must
        fail with (``None``: it passes), so that a sweep can finish its points first."""
        __tracebackhide__ = True
        fresh = None
        if setup is not None:
            session = self._session
            against = session.companion is not None or session.follower is not None
            fail_with(problem_at(where, setup_problem(setup, args, against=against)))
            fresh = FreshCall(fn, setup, kwargs)
        with lazy_calls_fail("measure"):
            return self._measure_timeable(
                fn, args, kwargs, name, batch_size, overrides, sync, model, timer, fresh
            )

    def _measure_timeable(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        name: str | None,
        batch_size: int,
        overrides: Settings,
        sync: Callable[[], object] | str | None,
        model: object,
        timer: str,
        fresh: FreshCall | None = None,
    ) -> tuple[LatencyResult, Any, str | None]:
        __tracebackhide__ = True
        key = self._key(name)
        refuse_lazy(fn)
        settings = self._session.config.resolve(overrides, self._marker)
        sync_fn = resolve_sync(sync, (*args, kwargs, fn, model))
        events = resolve_timer(timer)
        timed, hooks = fn, NO_HOOKS
        if fresh is not None:  # fresh inputs: the call takes none, setup makes them
            timed, args, kwargs, hooks = fresh, (), {}, Hooks(before_call=fresh.prepare)
        if self._session.config.mode is Mode.OFF:
            timing = run(timed, args, kwargs, plan=_ONE_CALL, sync=sync_fn)
            return _result(key, timing, batch_size), timing.last_value, None
        follower, companion = self._session.follower, self._session.companion
        if follower is not None:
            return _serve(key, self._nodeid, fn, args, kwargs, batch_size, sync_fn, follower)
        facts = measured_facts(fn, model)  # outside the timed loop; file digests are cached
        turns = companion.pair(key, self._nodeid) if companion is not None else None
        if turns is not None:
            assert companion is not None
            return self._lockstep(
                key,
                functools.partial(fn, *args, **kwargs),
                settings,
                batch_size,
                sync_fn,
                facts,
                turns,
                companion.revision,
            )
        with (
            measuring(self._progress, key, self._sweep_started) as progress,
            self._session.timing_lock,
            self._session.gpu_sampling() as sampler,
            cpu_window() as cpu,
        ):
            if progress is not None:
                hooks = replace(hooks, after_sample=progress)
            timing = self._time(
                key,
                timed,
                args,
                kwargs,
                settings,
                batch_size,
                sync_fn,
                events,
                _cpu_clock(facts),
                cpu,
                hooks,
            )
        gpu = sampler.telemetry if sampler is not None else None
        trace = None
        if settings.trace:
            with self._session.timing_lock:
                trace = _trace(functools.partial(timed, *args, **kwargs), fn, model, facts)
        result = _result(key, timing, batch_size)
        measurement = self._session.record(
            self._nodeid, result, settings, facts, gpu, trace, cpu.usage
        )
        failure = None
        if self._session.fails(measurement.verdict):
            failure = failure_message(key, "latency", measurement.verdict)
        return result, timing.last_value, failure

    def _lockstep(
        self,
        key: str,
        call: Callable[[], Any],
        settings: Settings,
        batch_size: int,
        sync: Callable[[], object] | None,
        facts: RuntimeFacts | None,
        turns: Peer,
        revision: Revision,
    ) -> tuple[LatencyResult, Any, str | None]:
        """Time ``call`` in lock-step with the same key at the other revision and judge
        their ratio by the A/B rule against the latency tolerance (docs/design.md,
        "Against a revision")."""
        from pytest_infergate.against.link import PeerFailed
        from pytest_infergate.judge.stats import SEQUENTIAL_LOOKS

        __tracebackhide__ = True
        tolerance = dict(settings.latency_tolerance or {}).get("p50", 0.10)
        context = f"vs {revision.label} ({revision.spec})"
        last: list[Verdict] = []

        def decide(samples: LockstepSamples, look: int, final: bool) -> bool:
            verdict = lockstep_verdict(
                key, samples, batch_size, tolerance, look=look, final=final, context=context
            )
            last[:] = [verdict]
            return ratio_settled(verdict)

        try:
            with self._session.timing_lock:
                timing = lead(
                    ArmTimer(call, sync),
                    turns,
                    plan=settings.plan(),
                    looks=[n for n, _ in SEQUENTIAL_LOOKS],
                    decide=decide,
                )
        except PeerFailed as exc:
            turns.stop()
            return self._unpaired(key, call, settings, batch_size, sync, facts, str(exc))
        turns.stop()
        fixed = FixedGates(tolerance, None, stored_ratio=False)
        result = _comparison(
            key,
            timing.candidate.samples_ns,
            timing.reference.samples_ns,
            batch_size,
            timing.measured_s,
            timing,
            fixed,
        )
        # No CPU window: this process waits through the companion's turns by design.
        measurement = self._session.record_verdict(self._nodeid, result, last[0], settings, facts)
        failure = None
        if self._session.fails(measurement.verdict):
            failure = failure_message(key, "against", measurement.verdict)
        return result.candidate, timing.candidate.last_value, failure

    def _unpaired(
        self,
        key: str,
        call: Callable[[], Any],
        settings: Settings,
        batch_size: int,
        sync: Callable[[], object] | None,
        facts: RuntimeFacts | None,
        why: str,
    ) -> tuple[LatencyResult, Any, str | None]:
        """The other revision's call failed: this measurement is judged as if that
        revision did not have it (the stored gate, NEW without an entry), saying why."""
        timing = run(call, plan=settings.plan(), sync=sync)
        result = _result(key, timing, batch_size)
        verdict = self._session.judge(result, settings)
        verdict = replace(
            verdict, reason=f"the other revision's call failed: {why}; " + verdict.reason
        )
        measurement = self._session.record_verdict(self._nodeid, result, verdict, settings, facts)
        failure = None
        if self._session.fails(measurement.verdict):
            failure = failure_message(key, "latency", measurement.verdict)
        return result, timing.last_value, failure

    def _time(
        self,
        key: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        settings: Settings,
        batch_size: int,
        sync: Callable[[], object] | None,
        events: EventFactory | None = None,
        cpu_clock: str | None = None,
        window: CpuWindow | None = None,
        hooks: Hooks = NO_HOOKS,
    ) -> Timing:
        """Sample adaptively when there is a stored value to decide against, else by plan.
        ``cpu_clock``: the CPU clock the runtime facts call for (``None``: the warm-up's);
        ``window``: the timed window's CPU readings, for the contention test at each look."""
        session = self._session
        entry, profile = session.entry(key), session.profile
        # The machine's speed, for the stored gate to scale by; not under a device sync,
        # where the call's time is the device's, not this core's.
        yardstick = sync is None and events is None
        if session.config.update or not wants_adaptive_stop(entry, profile):
            return run(
                fn,
                args,
                kwargs,
                plan=settings.plan(),
                sync=sync,
                events=events,
                cpu_clock=cpu_clock,
                yardstick=yardstick,
                hooks=hooks,
            )
        policy = session.policy(settings)

        def decide(
            samples: tuple[int, ...],
            cpu: tuple[int, ...],
            clock: str | None,
            look: int,
            final: bool,
            speed: YardstickCalls,
        ) -> bool:
            provisional = LatencyResult(
                key,
                samples,
                batch_size,
                1,
                0,
                0.0,
                cpu_samples_ns=cpu,
                cpu_clock=clock,
                yardstick_ns=speed.calls_ns,
                yardstick_blocks=speed.block_sizes,
            )
            usage = window.so_far() if window is not None else None
            return latency_settled(provisional, entry, profile, policy, usage)

        return run(
            fn,
            args,
            kwargs,
            plan=settings.plan(),
            sync=sync,
            looks=LATENCY_LOOKS,
            decide=decide,
            events=events,
            cpu_clock=cpu_clock,
            yardstick=yardstick,
            hooks=hooks,
        )


_ONE_CALL = SamplingPlan(warmup_calls=0, warmup_s=0, min_samples=1, min_time_s=0, max_time_s=1e-9)


def _cpu_clock(facts: RuntimeFacts | None) -> str | None:
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


def _trace(
    call: Callable[[], Any], fn: Callable[..., Any], model: object, facts: RuntimeFacts | None
) -> Trace | None:
    """Top operators of a few profiled calls, after the timed loop; ``None`` when the
    model is neither an onnxruntime session (or ORTModel) nor a torch model."""
    if facts is None:
        return None
    if facts.runtime == "onnxruntime":
        owner = model if model is not None else getattr(fn, "__self__", fn)
        return trace_onnxruntime(call, owner)
    if facts.runtime == "torch":
        return trace_torch(call)
    return None


def _serve(
    key: str,
    nodeid: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    batch_size: int,
    sync: Callable[[], object] | None,
    follower: Follower,
) -> tuple[LatencyResult, Any, str | None]:
    """The companion's side of a measurement: time when the leader says, judge nothing."""
    call = functools.partial(fn, *args, **kwargs)
    served = follower.measure(key, nodeid, call, sync)
    if served is None or not served[1]:
        timing = run(call, plan=_ONE_CALL, sync=sync)
        return _result(key, timing, batch_size), timing.last_value, None
    timer, samples = served
    result = LatencyResult(key, tuple(samples), batch_size, timer.group, timer.warmup_calls, 0.0)
    return result, timer.value, None


def _result(key: str, timing: Timing, batch_size: int) -> LatencyResult:
    return LatencyResult(
        key=key,
        samples_ns=timing.samples_ns,
        batch_size=batch_size,
        calls_per_sample=timing.calls_per_sample,
        warmup_calls=timing.warmup_calls,
        measured_s=timing.measured_s,
        stop_reason=timing.stop_reason,
        cpu_samples_ns=timing.cpu_samples_ns,
        cpu_clock=timing.cpu_clock,
        yardstick_ns=timing.yardstick.calls_ns,
        yardstick_blocks=timing.yardstick.block_sizes,
    )


def _comparison(
    key: str,
    candidate_ns: tuple[int, ...],
    reference_ns: tuple[int, ...],
    batch_size: int,
    measured_s: float,
    timing: PairTiming | None = None,
    gates: FixedGates | None = None,
) -> ComparisonResult:
    """A :class:`ComparisonResult` from raw samples (``timing``: the finished run, if any;
    ``gates``: the test's fixed gates)."""
    arms = []
    for arm, samples in (("candidate", candidate_ns), ("reference", reference_ns)):
        t: Timing | None = None
        if timing is not None:
            t = timing.candidate if arm == "candidate" else timing.reference
        arms.append(
            LatencyResult(
                key=f"{key}::{arm}",
                samples_ns=samples,
                batch_size=batch_size,
                calls_per_sample=t.calls_per_sample if t else 1,
                warmup_calls=t.warmup_calls if t else 0,
                measured_s=measured_s,
                stop_reason=t.stop_reason if t else StopReason.PLAN,
                cpu_samples_ns=t.cpu_samples_ns if t else (),
                cpu_clock=t.cpu_clock if t and t.cpu_samples_ns else None,
            )
        )
    stop = timing.stop_reason if timing is not None else StopReason.PLAN
    return ComparisonResult(key, arms[0], arms[1], measured_s, stop, gates=gates or FixedGates())


def _comparison_once(
    key: str,
    call_candidate: Callable[[], Any],
    call_reference: Callable[[], Any],
    batch_size: int,
    sync: Callable[[], object] | None,
) -> ComparisonResult:
    """``--infer-mode=off``: call each once so the test still runs; no gate."""
    cand = run(call_candidate, plan=_ONE_CALL, sync=sync)
    ref = run(call_reference, plan=_ONE_CALL, sync=sync)
    return ComparisonResult(
        key,
        _result(f"{key}::candidate", cand, batch_size),
        _result(f"{key}::reference", ref, batch_size),
        cand.measured_s + ref.measured_s,
    )
