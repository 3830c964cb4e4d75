"""The verdict of a lock-step measurement against another revision: the A/B rule on wall
time, or on CPU time when waiting for a core stretched the wall time of both arms
(docs/design.md, "Against a revision", "Judged on CPU time when contended")."""

from __future__ import annotations

from pytest_infergate.judge.ratio import RatioGate, compare_ratio
from pytest_infergate.judge.thresholds import STARVED_SHARE, WAITING_SHARE
from pytest_infergate.measure.lockstep import LockstepSamples
from pytest_infergate.results import ComparisonResult, LatencyResult
from pytest_infergate.verdicts import Verdict


def contended(samples: LockstepSamples) -> bool:
    """Whether the arms waited for a core: either arm's threads spent at least
    :data:`WAITING_SHARE` of its turns in the run queue, or, where the OS keeps no
    scheduler statistics, a single-threaded call got less than :data:`STARVED_SHARE` of
    a core.

    Lock-step puts whatever the machine does on both arms, but a wait for a core is
    added to a sample, not multiplied into it: a neighbour's time slice of several
    milliseconds lands on a 1 ms sample of either revision alike and pulls the ratio of
    medians towards 1. On the 2-core runner with a neighbour on the same core, +10%
    extra layers read +4.8% in wall time (docs/design.md, "Against a revision"). The CPU
    time of the call is what the neighbour did not stretch."""
    waiting = samples.waiting
    if waiting is not None:
        return waiting >= WAITING_SHARE
    return samples.cpu_clock == "thread" and samples.cpu_share < STARVED_SHARE


def lockstep_verdict(
    key: str,
    samples: LockstepSamples,
    batch_size: int,
    tolerance: float,
    *,
    look: int,
    final: bool,
    context: str,
) -> Verdict:
    """The A/B rule against ``tolerance`` at look ``look``: on CPU time per call when the
    run was :func:`contended` (and every CPU sample is above zero), else on wall time."""
    on_cpu = (
        contended(samples)
        and min(samples.candidate_cpu_ns, default=0) > 0
        and min(samples.reference_cpu_ns, default=0) > 0
    )
    if on_cpu:
        waiting = samples.waiting
        why = (
            f"their threads waited {waiting:.0%} of the time for a core"
            if waiting is not None
            else f"their calls got {samples.cpu_share:.0%} of a core"
        )
        note = (
            f"judged on CPU time ({samples.cpu_clock} clock): {why}, "
            "which stretched the wall time of both revisions"
        )
        cand, ref = samples.candidate_cpu_ns, samples.reference_cpu_ns
    else:
        note = ""
        cand, ref = samples.candidate_ns, samples.reference_ns
    result = ComparisonResult(
        key,
        LatencyResult(f"{key}::candidate", cand, batch_size, 1, 0, 0.0),
        LatencyResult(f"{key}::reference", ref, batch_size, 1, 0, 0.0),
        0.0,
    )
    gate = RatioGate("slowdown", 1.0, tolerance, note=note)
    return compare_ratio(result, [gate], look=look, final=final, context=context)
