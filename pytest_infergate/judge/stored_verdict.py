"""The stored-baseline latency verdict: each gated percentile by rule 1 or 2
(:mod:`.stored_rules`) at this run's machine speed (:mod:`.machine_speed`), and the
CPU-cost check deciding in the wall time's place when the run was contended
(:mod:`.cpu_cost`). Loaded when the first verdict is made: the rules need numpy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pytest_infergate.judge.cpu_cost import contention, judge_cpu
from pytest_infergate.judge.machine_speed import at_this_speed, newest_speed
from pytest_infergate.judge.stored_rules import Judged, check_history, check_interval
from pytest_infergate.judge.thresholds import CONFIDENCE, MIN_HISTORY, MIN_SAMPLES_FOR_TAIL
from pytest_infergate.judge.wording import _level
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import LatencyEntry
from pytest_infergate.verdicts import Outcome, Verdict, worst

if TYPE_CHECKING:
    from pytest_infergate.judge.latency import LatencyPolicy
    from pytest_infergate.measure.cpu import CpuUsage


def _aside(judged: Judged, why: str) -> Judged:
    """A check that is reported but does not decide the verdict."""
    note = f"{judged.check.metric.removesuffix('_ms')} not deciding: {why}"
    return replace(judged, check=replace(judged.check, deciding=False, note=note))


def judge_stored(
    result: LatencyResult,
    entry: object,
    profile: str,
    policy: LatencyPolicy,
    usage: CpuUsage | None = None,
) -> tuple[Verdict, bool]:
    """The verdict, and whether more samples could no longer change it (adaptive stop)."""
    if entry is None:
        return Verdict(result.key, "latency", Outcome.NEW, reason="no baseline entry"), True
    if not isinstance(entry, LatencyEntry):
        kind = getattr(entry, "kind", type(entry).__name__)
        reason = (
            f"the baseline entry is a {kind!r} entry, this is a latency measurement; "
            "re-record with --infer-update-baseline"
        )
        return Verdict(result.key, "latency", Outcome.INCONCLUSIVE, reason=reason), True
    record = entry.machines.get(profile)
    if record is None:
        known = ", ".join(sorted(entry.machines)) or "none"
        return Verdict(
            result.key,
            "latency",
            Outcome.NO_BASELINE_FOR_MACHINE,
            reason=f"no latency recorded for machine {profile!r} (recorded for: {known})",
        ), True
    if record.batch_size != result.batch_size:
        return Verdict(
            result.key,
            "latency",
            Outcome.INCONCLUSIVE,
            reason=f"batch size {result.batch_size} differs from the baseline's "
            f"{record.batch_size}; re-record with --infer-update-baseline",
        ), True
    judged: list[Judged] = []
    tail_pending = False
    for name in policy.gated:
        if name != "p50" and min(result.n, record.n) < MIN_SAMPLES_FOR_TAIL:
            tail_pending = tail_pending or record.n >= MIN_SAMPLES_FOR_TAIL
            continue
        tolerance = policy.tolerances[name]
        history, speed = at_this_speed(record.history_ms(name), record, result)
        if len(history) >= MIN_HISTORY:
            judged.append(
                check_history(
                    name,
                    result,
                    history,
                    tolerance,
                    policy.confidence,
                    record.history_recorded_at,
                    speed=speed,
                )
            )
        else:
            newest = newest_speed(record, result)
            judged.append(
                check_interval(
                    name,
                    result,
                    record.percentile_ms(name) * (newest or 1.0),
                    tolerance,
                    policy.confidence,
                    max(1, len(history)),
                    speed=newest,
                )
            )
    cpu = judge_cpu(result, record, policy)
    state = contention(result, record, usage)
    asides: list[Judged] = []
    decided_by = ""
    if cpu is not None and state.contended:
        why = f"the run was contended ({state.describe()}); CPU cost decided"
        asides = [_aside(j, why) for j in judged]
        judged, tail_pending = [cpu], False
        decided_by = f"decided by CPU cost ({result.cpu_clock} clock): {why.split('; ')[0]}"
    elif cpu is not None:
        asides = [_aside(cpu, "the run was not contended; wall time decided")]
    checks = tuple(j.check for j in (*judged, *asides))
    outcome = worst([j.check.outcome for j in judged])
    settled = all(j.settled for j in judged) and not tail_pending
    described = _describe(judged, outcome, policy.confidence)
    reason = "; ".join(p for p in (described, decided_by) if p)
    verdict = Verdict(result.key, "latency", outcome, checks, reason)
    return verdict, settled or outcome is Outcome.REGRESSED


def _describe(judged: Sequence[Judged], outcome: Outcome, confidence: float = CONFIDENCE) -> str:
    shown = [j for j in judged if j.check.outcome is outcome] or list(judged)
    parts = []
    for j in shown:
        c = j.check
        text = (
            f"{c.metric.removesuffix('_ms')} {c.current:.4g} ms vs baseline {c.baseline:.4g} ms "
            f"({c.change:+.1%}; {_level(confidence)} CI {c.low:.4g}-{c.high:.4g} ms; "
            f"tolerance {c.tolerance:.0%}"
        )
        parts.append(text + (f"; {j.detail})" if j.detail else ")"))
    return "; ".join(parts)
