"""One latency measurement: timed alone and judged against the stored baseline, or timed
in lock-step with the other revision and judged by the A/B rule (``--infer-against``), or
timed for the other revision when this process is its companion."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pytest_infergate.against.link import Follower, PeerFailed
from pytest_infergate.against.revision import Revision
from pytest_infergate.config import Mode, Settings
from pytest_infergate.judge.ab_gate import ab_looks, ab_tolerance
from pytest_infergate.judge.against import lockstep_verdict
from pytest_infergate.judge.latency import latency_settled, wants_adaptive_stop
from pytest_infergate.judge.ratio import ratio_settled
from pytest_infergate.judge.thresholds import LATENCY_LOOKS
from pytest_infergate.measure.ab import comparison_result
from pytest_infergate.measure.cpu import CpuWindow, cpu_window
from pytest_infergate.measure.lockstep import ArmTimer, LockstepSamples, Peer, lead
from pytest_infergate.measure.plan import Decide
from pytest_infergate.measure.progress import measuring
from pytest_infergate.measure.provenance import RuntimeFacts
from pytest_infergate.measure.timed_call import ONE_CALL, TimedCall, cpu_clock
from pytest_infergate.measure.timing import (
    PairTiming,
    Timing,
    TimingSetup,
    YardstickCalls,
    run,
)
from pytest_infergate.results import FixedGates, LatencyResult, Observed
from pytest_infergate.runs import BenchContext, Measured
from pytest_infergate.verdicts import Verdict


def measure_latency(context: BenchContext, call: TimedCall, settings: Settings) -> Measured:
    """Time, judge and record ``call`` as the session's mode says."""
    __tracebackhide__ = True
    session = context.session
    if session.config.mode is Mode.OFF:
        timing = call.once()
        return Measured(call.result(timing), timing.last_value)
    follower, companion = session.follower, session.companion
    if follower is not None:
        return _serve(context, call, follower)
    facts = call.facts()  # outside the timed loop
    if companion is not None and (turns := companion.pair(call.key, context.nodeid)) is not None:
        return _lockstep(context, call, settings, facts, turns, companion.revision)
    return _alone(context, call, settings, facts)


def _alone(
    context: BenchContext, call: TimedCall, settings: Settings, facts: RuntimeFacts | None
) -> Measured:
    """Time ``call`` alone, with GPU and CPU telemetry, and judge it against the baseline."""
    session = context.session
    with (
        measuring(context.progress, call.key, context.sweep_started) as progress,
        session.timing_lock,
        session.gpu_sampling() as sampler,
        cpu_window() as cpu,
    ):
        timing = _time(context, call, settings, _Telemetry(cpu_clock(facts), cpu, progress))
    gpu = sampler.telemetry if sampler is not None else None
    trace = None
    if settings.trace:
        with session.timing_lock:
            trace = call.trace(facts)
    result = call.result(timing)
    observed = Observed(facts=facts, gpu=gpu, trace=trace, cpu=cpu.usage)
    measurement = session.record(context.nodeid, result, settings, observed)
    return Measured(
        result, timing.last_value, context.failure(call.key, "latency", measurement.verdict)
    )


@dataclass(frozen=True)
class _Telemetry:
    """What a timing run reads besides the clock: the CPU clock the runtime facts call for
    (``None``: the warm-up's), the timed window's CPU readings (for the contention test at
    each look) and the progress display's hook."""

    clock: str | None
    window: CpuWindow
    progress: Callable[[Sequence[int]], None] | None


def _time(
    context: BenchContext, call: TimedCall, settings: Settings, telemetry: _Telemetry
) -> Timing:
    """Sample adaptively when there is a stored value to decide against, else by plan."""
    fn, args, kwargs, hooks = call.timed()
    if telemetry.progress is not None:
        hooks = replace(hooks, after_sample=telemetry.progress)
    decide = _adaptive_stop(context, call, settings, telemetry.window)
    setup = TimingSetup(
        plan=settings.plan(),
        sync=call.sync,
        looks=LATENCY_LOOKS if decide is not None else (),
        decide=decide,
        events=call.events,
        cpu_clock=telemetry.clock,
        # The machine's speed, for the stored gate to scale by; not under a device sync,
        # where the call's time is the device's, not this core's.
        yardstick=call.sync is None and call.events is None,
        hooks=hooks,
    )
    return run(fn, args, kwargs, setup)


def _adaptive_stop(
    context: BenchContext, call: TimedCall, settings: Settings, window: CpuWindow
) -> Decide | None:
    """Whether sampling may stop at a look, from the stored value on this machine; ``None``
    when there is none to decide against, or the baseline is being re-recorded."""
    session = context.session
    entry, profile = session.entry(call.key), session.profile
    if session.config.update or not wants_adaptive_stop(entry, profile):
        return None
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
            call.key,
            samples,
            call.batch_size,
            1,
            0,
            0.0,
            cpu_samples_ns=cpu,
            cpu_clock=clock,
            yardstick_ns=speed.calls_ns,
            yardstick_blocks=speed.block_sizes,
        )
        return latency_settled(provisional, entry, profile, policy, window.so_far())

    return decide


def _lockstep(
    context: BenchContext,
    call: TimedCall,
    settings: Settings,
    facts: RuntimeFacts | None,
    turns: Peer,
    revision: Revision,
) -> Measured:
    """Time ``call`` in lock-step with the same key at the other revision and judge
    their ratio by the A/B rule against the latency tolerance (docs/design.md,
    "Against a revision")."""
    __tracebackhide__ = True
    tolerance = ab_tolerance(settings.latency_tolerance)
    context_note = f"vs {revision.label} ({revision.spec})"

    def verdict_at(samples: LockstepSamples, look: int, final: bool) -> Verdict:
        return lockstep_verdict(
            call.key,
            samples,
            call.batch_size,
            tolerance,
            look=look,
            final=final,
            context=context_note,
        )

    try:
        with context.session.timing_lock:
            timing, verdict = _judged_lead(
                ArmTimer(call.call(), call.sync), turns, settings, verdict_at
            )
    except PeerFailed as exc:
        turns.stop()
        return _unpaired(context, call, settings, facts, str(exc))
    turns.stop()
    result = comparison_result(
        call.key,
        (timing.candidate.samples_ns, timing.reference.samples_ns),
        call.batch_size,
        timing,
        FixedGates(tolerance, None, stored_ratio=False),
    )
    # No CPU window: this process waits through the companion's turns by design.
    measurement = context.session.record(
        context.nodeid, result, settings, Observed(facts=facts), verdict
    )
    failure = context.failure(call.key, "against", measurement.verdict)
    return Measured(result.candidate, timing.candidate.last_value, failure)


def _judged_lead(
    own: ArmTimer,
    turns: Peer,
    settings: Settings,
    verdict_at: Callable[[LockstepSamples, int, bool], Verdict],
) -> tuple[PairTiming, Verdict]:
    """:func:`lead`, and the verdict of the look it stopped at (the sampler asks only
    whether to stop)."""
    verdicts: list[Verdict] = []

    def decide(samples: LockstepSamples, look: int, final: bool) -> bool:
        verdicts.append(verdict_at(samples, look, final))
        return ratio_settled(verdicts[-1])

    timing = lead(own, turns, plan=settings.plan(), looks=ab_looks(), decide=decide)
    return timing, verdicts[-1]


def _unpaired(
    context: BenchContext,
    call: TimedCall,
    settings: Settings,
    facts: RuntimeFacts | None,
    why: str,
) -> Measured:
    """The other revision's call failed: this measurement is judged as if that
    revision did not have it (the stored gate, NEW without an entry), saying why."""
    session = context.session
    timing = run(call.call(), setup=TimingSetup(plan=settings.plan(), sync=call.sync))
    result = call.result(timing)
    verdict = session.judge(result, settings)
    verdict = replace(verdict, reason=f"the other revision's call failed: {why}; " + verdict.reason)
    measurement = session.record(context.nodeid, result, settings, Observed(facts=facts), verdict)
    failure = context.failure(call.key, "latency", measurement.verdict)
    return Measured(result, timing.last_value, failure)


def _serve(context: BenchContext, call: TimedCall, follower: Follower) -> Measured:
    """The companion's side of a measurement: time when the leader says, judge nothing."""
    served = follower.measure(call.key, context.nodeid, call.call(), call.sync)
    if served is None or not served[1]:
        timing = run(call.call(), setup=TimingSetup(plan=ONE_CALL, sync=call.sync))
        return Measured(call.result(timing), timing.last_value)
    timer, samples = served
    result = LatencyResult(
        call.key, tuple(samples), call.batch_size, timer.group, timer.warmup_calls, 0.0
    )
    return Measured(result, timer.value)
