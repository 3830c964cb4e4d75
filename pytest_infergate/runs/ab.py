"""One A/B measurement in this process: candidate and reference interleaved in ABBA blocks,
judged at sequential looks by the gates of :func:`pytest_infergate.judge.ab_gate.ab_gate`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from pytest_infergate.config import Mode, Settings
from pytest_infergate.judge.ab_gate import AbGate, ab_gate, ab_looks, ab_tolerance
from pytest_infergate.judge.ratio import ratio_settled
from pytest_infergate.measure.ab import AbCall
from pytest_infergate.measure.cpu import CpuUsage, cpu_window
from pytest_infergate.measure.progress import measuring
from pytest_infergate.measure.timing import PairTiming, run_pair
from pytest_infergate.results import ComparisonResult, FixedGates, Observed
from pytest_infergate.runs import BenchContext
from pytest_infergate.verdicts import Verdict


def measure_ab(
    context: BenchContext, ab: AbCall, settings: Settings, fixed: FixedGates
) -> tuple[ComparisonResult, str | None]:
    """Time, judge and record ``ab`` as the session's mode says; the result, and the message
    its test must fail with (``None``: it passes)."""
    session = context.session
    follower, companion = session.follower, session.companion
    if follower is not None:  # the leader times its own compare() with this one held
        follower.measure(ab.key, context.nodeid, ab.candidate.call(), ab.sync)
    if session.config.mode is Mode.OFF or follower is not None:
        return ab.once(), None
    facts, reference_facts = ab.candidate.facts(), ab.reference.facts()
    held = companion.quiet(ab.key, context.nodeid) if companion else contextlib.nullcontext()
    with held:
        result, verdict, cpu = _interleaved(context, ab, settings, fixed)
    observed = Observed(facts=facts, cpu=cpu, reference_facts=reference_facts)
    measurement = session.record(context.nodeid, result, settings, observed, verdict)
    return result, context.failure(ab.key, "A/B", measurement.verdict)


def _interleaved(
    context: BenchContext, ab: AbCall, settings: Settings, fixed: FixedGates
) -> tuple[ComparisonResult, Verdict, CpuUsage | None]:
    """Time the arms in ABBA blocks until the gates are decided, with the CPU window."""
    session = context.session
    with_baseline = session.config.baseline_path is not None
    stored = (session.entry(ab.key), session.profile) if with_baseline else None
    gate = ab_gate(fixed, ab_tolerance(settings.latency_tolerance), stored)
    with (
        measuring(context.progress, f"{ab.key} (A/B)") as progress,
        session.timing_lock,
        cpu_window() as cpu,
    ):
        timing, verdict = _judged_pair(ab, settings, gate, progress)
    return ab.result(timing, fixed), verdict, cpu.usage


def _judged_pair(
    ab: AbCall, settings: Settings, gate: AbGate, progress: Callable[[Sequence[int]], None] | None
) -> tuple[PairTiming, Verdict]:
    """:func:`run_pair`, and the verdict of the look it stopped at (the sampler asks only
    whether to stop)."""
    verdicts: list[Verdict] = []

    def decide(cand: tuple[int, ...], ref: tuple[int, ...], look: int, final: bool) -> bool:
        verdicts.append(gate.verdict(ab.provisional(cand, ref), look=look, final=final))
        return ratio_settled(verdicts[-1])

    timing = run_pair(
        ab.candidate.call(),
        ab.reference.call(),
        plan=settings.plan(),
        looks=ab_looks(),
        decide=decide,
        sync=ab.sync,
        after_block=progress,
    )
    return timing, verdicts[-1]
