"""The stored-baseline latency gate: rule 1 (order-statistic interval, with an allowance for
unmeasured drift), rule 2 (prediction bound of the run history), the CPU-cost check under
contention, and the session's share of false alarms (docs/design.md, "Stored baseline",
"CPU cost under contention", "Many checks in one session")."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pytest_infergate.judge.thresholds import (
    CONFIDENCE,
    CPU_FIGURE,
    CPU_UNMEASURED_DRIFT,
    HISTORY_SPAN_S,
    MDR_BOUND,
    MIN_HISTORY,
    MIN_SAMPLES_FOR_TAIL,
    SESSION_ALPHA,
    SPEED_DEADBAND,
    SPEED_NOISE_Z,
    STARVED_SHARE,
    UNMEASURED_DRIFT,
    WAITING_SHARE,
)
from pytest_infergate.judge.wording import _level, percent
from pytest_infergate.results import (
    Check,
    LatencyResult,
    Outcome,
    Verdict,
    worst,
)
from pytest_infergate.store.baseline import (
    RELATIVE_RESOLUTION,
    LatencyEntry,
    LatencyRecord,
    parse_time,
)

if TYPE_CHECKING:
    from pytest_infergate.measure.cpu import CpuUsage


@dataclass(frozen=True)
class LatencyPolicy:
    """What to gate and how much slack each gated percentile gets (relative, 0.1 = 10%)."""

    tolerances: Mapping[str, float] = field(default_factory=lambda: {"p50": 0.10, "p95": 0.20})
    percentiles: tuple[str, ...] = ("p50", "p95")
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        for name in self.percentiles:
            if name not in self.tolerances:
                raise ValueError(f"no tolerance for gated percentile {name!r}")


def session_policy(policy: LatencyPolicy, checks: int) -> LatencyPolicy:
    """``policy`` with each check's false-alarm rate lowered so that a session of ``checks``
    stored latency checks keeps :data:`SESSION_ALPHA` in all (Bonferroni): each check
    runs at ``min(1 - policy.confidence, SESSION_ALPHA / checks)``.

    Why: every check spends its own 1%, so a session spends up to 1% per check. In
    ``benchmarks/session_false_alarms.py`` (the gate's functions on seeded samples with a
    4% session offset and a 3% offset per entry between runs, 10-run histories a day
    apart; benchmarks/results/session_false_alarms.txt) 10 entries gated at p50 and p95
    raised a false alarm in 95 of 2000 sessions (4.75%); with this control, in 10
    (0.50%), and the median MDR of a check grew from 21% to 31%. Why Bonferroni
    and not Holm's step-down: a regression fails its own test while the session runs,
    before the other checks' p-values exist, and Holm's first step is Bonferroni; it
    holds the session's rate under any dependence between the checks (they share the
    machine's drift). ``checks`` is counted when collection ends, from the baseline:
    every selected test's stored entries on this machine, p50 and (from 300 stored
    samples) p95. The price is power: an entry's MDR grows with the session's size, and
    each check says so in its MDR.
    """
    alpha = min(1.0 - policy.confidence, SESSION_ALPHA / max(checks, 1))
    return replace(policy, confidence=1.0 - alpha)


@dataclass(frozen=True)
class _Judged:
    check: Check
    settled: bool
    detail: str


def _interval_ms(result: LatencyResult, name: str, confidence: float) -> tuple[float, float]:
    from pytest_infergate.judge.stats import QUANTILES, quantile_interval

    samples = result.cpu_samples_ns if name == CPU_FIGURE else result.samples_ns
    q = QUANTILES["p50" if name == CPU_FIGURE else name]
    interval = quantile_interval(samples, q, confidence)
    return interval.low / 1e6, interval.high / 1e6


def _current_ms(result: LatencyResult, name: str) -> float:
    if name == CPU_FIGURE:
        return result.cpu_p50_ms or 0.0
    return result.percentile_ms(name)


def _check_interval(
    name: str,
    result: LatencyResult,
    baseline_ms: float,
    tolerance: float,
    confidence: float,
    runs: int,
    drift: float = UNMEASURED_DRIFT,
    speed: float | None = None,
) -> _Judged:
    """Rule 1: the current value's order-statistic interval against the baseline value,
    with ``drift`` allowed beyond the tolerance (``runs`` stored runs; ``speed``: the
    factor the baseline value was scaled by, see :func:`at_this_speed`)."""
    low_ms, high_ms = _interval_ms(result, name, confidence)
    current = _current_ms(result, name)
    limit = baseline_ms * (1.0 + tolerance)
    regressed_above = baseline_ms * (1.0 + tolerance + drift)
    if low_ms > regressed_above:
        outcome = Outcome.REGRESSED
    elif current > limit:
        outcome = Outcome.INCONCLUSIVE
    elif high_ms < baseline_ms * (1.0 - tolerance - drift):
        outcome = Outcome.IMPROVED
    else:
        outcome = Outcome.PASS
    settled = outcome in (Outcome.REGRESSED, Outcome.IMPROVED) or high_ms <= limit
    mdr = tolerance + drift
    note = ""
    if outcome is Outcome.INCONCLUSIVE:
        note = (
            f"{runs} stored run(s) cannot tell a change below {percent(mdr)} from the "
            "machine's run-to-run drift; record 3 runs (--infer-update-baseline) or use "
            "infer_bench.compare()"
        )
    check = Check(
        f"{name}_ms", baseline_ms, current, low_ms, high_ms, tolerance, outcome, mdr=mdr, note=note
    )
    return _Judged(check, settled, _speed_detail(speed))


def _spans_sittings(stamps: Sequence[str], runs: int) -> bool:
    """Whether the newest ``runs`` runs of a history were recorded over at least
    :data:`HISTORY_SPAN_S` (each with a known time): only then is their spread the
    machine's run-to-run drift rather than the quiet of one sitting."""
    if len(stamps) < runs:
        return False
    times = [parse_time(s) for s in stamps[-runs:]]
    known = [t for t in times if t is not None]
    if len(known) < runs:
        return False
    return (max(known) - min(known)).total_seconds() >= HISTORY_SPAN_S


def _check_history(
    name: str,
    result: LatencyResult,
    history: Sequence[float],
    tolerance: float,
    confidence: float,
    stamps: Sequence[str] = (),
    drift: float = UNMEASURED_DRIFT,
    speed: float | None = None,
) -> _Judged:
    """Rule 2: the current value against the prediction bound of past runs and the
    tolerance; with ``drift`` as well when the history was recorded in one sitting
    (``stamps``: when its runs were recorded; ``speed``: the factor the history was
    scaled by, see :func:`at_this_speed`)."""
    from pytest_infergate.judge.stats import minimum_detectable_change, prediction_upper_log

    logs = [math.log(v) for v in history]
    centre = math.exp(sum(logs) / len(logs))
    bound = math.exp(float(prediction_upper_log(history, confidence, RELATIVE_RESOLUTION)))
    lower_bound = centre**2 / bound  # the mirror image of the upper bound in log units
    mdr = float(minimum_detectable_change(history, confidence, resolution=RELATIVE_RESOLUTION))
    low_ms, high_ms = _interval_ms(result, name, confidence)
    current = _current_ms(result, name)
    limit = centre * (1.0 + tolerance)
    threshold = max(bound, limit)
    one_sitting = not _spans_sittings(stamps, len(history))
    if one_sitting:
        threshold = max(threshold, centre * (1.0 + tolerance + drift))
        mdr = max(mdr, tolerance + drift)
    if current > threshold:
        outcome = Outcome.REGRESSED
    elif current > limit:
        outcome = Outcome.INCONCLUSIVE
    elif current < lower_bound and current < centre * (1.0 - tolerance):
        outcome = Outcome.IMPROVED
    else:
        outcome = Outcome.PASS
    settled = low_ms > threshold or high_ms <= limit or (high_ms <= threshold and low_ms > limit)
    note = ""
    if cannot_gate(mdr, tolerance):
        sitting = ", recorded in one sitting," if one_sitting else ""
        note = (
            f"cannot gate here: the {len(history)} stored runs on this machine{sitting} spread "
            f"so widely that only a slowdown beyond {percent(MDR_BOUND)} (over 2x the time) "
            "could be told from their drift; gate it against the base revision in the same "
            "job with --infer-against=REV, or against a reference in the same process with "
            "infer_bench.compare(), or record runs at quieter times"
        )
    elif one_sitting and outcome is Outcome.INCONCLUSIVE:
        note = (
            f"the {len(history)} stored runs were recorded within {HISTORY_SPAN_S // 3600} h, "
            f"so their spread does not show the machine's drift: changes below "
            f"{percent(mdr)} read INCONCLUSIVE; record runs on other days or use "
            "infer_bench.compare()"
        )
    elif tolerance < mdr and not one_sitting:
        note = (
            f"tolerance {percent(tolerance)} is below the {percent(mdr)} this entry's history "
            "can detect on this machine; use infer_bench.compare() or record more runs"
        )
    check = Check(
        f"{name}_ms", centre, current, low_ms, high_ms, tolerance, outcome, mdr=mdr, note=note
    )
    sitting = ", one sitting" if one_sitting else ""
    detail = (
        f"{len(history)} past runs{sitting}, {_level(confidence)} prediction bound {bound:.4g} ms, "
        f"MDR {percent(mdr)}"
    )
    if speed is not None:
        detail += f", {_speed_detail(speed)}"
    return _Judged(check, settled, detail)


def at_this_speed(
    values: Sequence[float], record: LatencyRecord, result: LatencyResult
) -> tuple[tuple[float, ...], float | None]:
    """The stored runs' ``values`` at this run's machine speed, and the factor applied
    (this run's yardstick over the stored runs', geometric mean; ``None``: unscaled).

    Each stored run's value is multiplied by this run's yardstick time over that run's:
    a core running at x1.3 of its recorded pace makes every stored figure x1.3 before
    the rules compare, so the machine's pace is not read as the model's change while
    extra work in the model still is (docs/design.md, "Machine speed"). Only the newest
    runs that timed the yardstick are kept; a history that has fewer of them than the
    rule needs (files of older versions, a run without one) is judged unscaled, whole.
    """
    speeds, current = record.history_yardstick_ms, result.yardstick_ms
    if not speeds or not current or not values:
        return tuple(values), None
    kept = min(len(values), len(speeds))
    if kept < len(values) and kept < MIN_HISTORY:
        return tuple(values), None
    pairs = list(zip(values[-kept:], speeds[-kept:], strict=True))
    factor = math.exp(sum(math.log(current / s) for _, s in pairs) / kept)
    if not _beyond_noise(factor, result):
        return tuple(values), None
    return tuple(v * current / s for v, s in pairs), factor


def _newest_speed(record: LatencyRecord, result: LatencyResult) -> float | None:
    """This run's yardstick over the newest stored run's (``None`` when either has none):
    the factor for a rule that compares against the newest run's figures."""
    speeds, current = record.history_yardstick_ms, result.yardstick_ms
    if not speeds or not current:
        return None
    factor = current / speeds[-1]
    return factor if _beyond_noise(factor, result) else None


def _beyond_noise(factor: float, result: LatencyResult) -> bool:
    """Whether the yardstick moved by more than its own noise: beyond
    :data:`SPEED_DEADBAND` and beyond :data:`SPEED_NOISE_Z` times the wander of this run's
    own blocks, in a run with enough blocks to show its wander at all."""
    noise = result.yardstick_noise
    if noise is None:
        return False
    band = max(math.log(SPEED_DEADBAND), SPEED_NOISE_Z * noise)
    return abs(math.log(factor)) > band


def _speed_detail(speed: float | None) -> str:
    if speed is None:
        return ""
    return f"stored at this run's machine speed (yardstick x{speed:.3g} of the stored runs')"


def cannot_gate(mdr: float | None, tolerance: float) -> bool:
    """Whether a check's minimum detectable regression is beyond :data:`MDR_BOUND` because
    of the history's spread (not because the tolerance itself is that wide: a chosen
    300% tolerance on a shared runner is a decision, not a failure to measure)."""
    return mdr is not None and mdr > MDR_BOUND and mdr > tolerance + UNMEASURED_DRIFT


@dataclass(frozen=True)
class Contention:
    """Whether other work competed with the timed calls for the CPU, and the evidence:
    ``share`` is the run's CPU time over wall time of its timed calls (sums: a call
    shorter than the scheduler's slice is mostly not stretched at all, and the few that
    are stretched a lot, so medians would miss it), ``reference_share`` the highest of
    the entry's recorded runs (same figure),
    ``load_average``/``cores`` the machine's after the timed window."""

    contended: bool
    share: float | None = None
    reference_share: float | None = None
    load_average: float | None = None
    cores: int | None = None
    waiting_share: float | None = None

    def describe(self) -> str:
        parts = []
        if self.share is not None and self.reference_share is not None:
            parts.append(
                f"the calls got {self.share:.2f} CPU s per wall s, "
                f"{self.reference_share:.2f} when recorded"
            )
        if self.waiting_share is not None:
            parts.append(f"waited for a core {self.waiting_share:.0%} of the time")
        if self.load_average is not None and self.cores is not None:
            parts.append(f"load average {self.load_average:.2f} on {self.cores} cores")
        return ", ".join(parts)


def contention(
    result: LatencyResult, record: LatencyRecord, usage: CpuUsage | None = None
) -> Contention:
    """Whether the run was contended: its calls got less than :data:`STARVED_SHARE` of the
    CPU time per wall second that the quietest recorded run of ``record`` got and, where
    the OS keeps scheduler statistics, the process's threads waited in the run queue for
    at least :data:`WAITING_SHARE` of the window (``usage``).

    The share is taken against the entry's own runs, not against 1.0, so a call that
    always waits (a blocking GPU sync, I/O) or runs on a pool is judged against itself.
    A run slower for more work keeps its share; a run slower for want of a core loses
    share and waits in the run queue; a run slower because the code now waits on its own
    (a sleep, a lock, I/O) loses share but does not wait in the run queue, so its wall
    time still decides -- where the OS cannot tell those two apart (no
    ``/proc/self/task/*/schedstat``), the share alone decides, and such a regression is
    judged on its CPU cost. The load average is reported, not used: it is the whole
    machine's, a minute late, and says nothing of whether this call got its core (on a
    many-core host, neighbours pinned to the runner's cores never lift it above the
    cores; on a loaded host, a call pinned to an idle core is not starved)."""
    load = usage.load_average if usage is not None else None
    cores = usage.cores if usage is not None else None
    waiting = usage.waiting_share if usage is not None else None
    share = result.cpu_per_wall
    reference = max(record.history_cpu_per_wall, default=None)
    starved = share is not None and reference is not None and share < STARVED_SHARE * reference
    if waiting is not None:
        starved = starved and waiting >= WAITING_SHARE
    return Contention(starved, share, reference, load, cores, waiting)


def _judge_cpu(
    result: LatencyResult, record: LatencyRecord, policy: LatencyPolicy
) -> _Judged | None:
    """The CPU-cost check (rules 1 and 2 on the median CPU time per call, with
    :data:`CPU_UNMEASURED_DRIFT`), or ``None`` when the run or the record has no CPU
    figure on the same clock."""
    if not result.cpu_p50_ms or not record.cpu_p50_ms:  # none, or no measurable CPU time
        return None
    if record.cpu_clock != result.cpu_clock:
        return None
    tolerance = policy.tolerances.get("p50", 0.10)
    history, speed = at_this_speed(record.history_cpu_p50_ms, record, result)
    stamps = record.history_recorded_at[-len(history) :] if history else ()
    if len(history) >= MIN_HISTORY and not _spans_sittings(stamps, len(history)):
        # A one-sitting history's spread is not the drift between processes and sittings,
        # and a prediction bound from 3 runs (t with 2 d.f., 6.96 at 99%) made its noise
        # the threshold: MDRs of 24-103% on the 2-core runner. The allowance measured for
        # CPU cost takes its place (docs/design.md, "CPU cost under contention").
        judged = _check_interval(
            CPU_FIGURE,
            result,
            math.exp(sum(math.log(v) for v in history) / len(history)),
            tolerance,
            policy.confidence,
            len(history),
            drift=CPU_UNMEASURED_DRIFT,
            speed=speed,
        )
        detail = (
            f"{len(history)} past runs, one sitting: their centre, "
            f"{percent(CPU_UNMEASURED_DRIFT)} measured CPU drift allowed"
        )
        check = judged.check
        if check.outcome is Outcome.INCONCLUSIVE:
            note = (
                f"the {len(history)} stored runs were recorded within "
                f"{HISTORY_SPAN_S // 3600} h, so a CPU-cost change below "
                f"{percent(tolerance + CPU_UNMEASURED_DRIFT)} "
                "reads INCONCLUSIVE; record runs on other days or use --infer-against"
            )
            check = replace(check, note=note)
        joined = ", ".join(d for d in (detail, judged.detail) if d)
        return replace(judged, check=check, detail=joined)
    if len(history) >= MIN_HISTORY:
        return _check_history(
            CPU_FIGURE,
            result,
            history,
            tolerance,
            policy.confidence,
            stamps,
            drift=CPU_UNMEASURED_DRIFT,
            speed=speed,
        )
    newest = _newest_speed(record, result)
    return _check_interval(
        CPU_FIGURE,
        result,
        record.cpu_p50_ms * (newest or 1.0),
        tolerance,
        policy.confidence,
        max(1, len(history)),
        drift=CPU_UNMEASURED_DRIFT,
        speed=newest,
    )


def _aside(judged: _Judged, why: str) -> _Judged:
    """A check that is reported but does not decide the verdict."""
    note = f"{judged.check.metric.removesuffix('_ms')} not deciding: {why}"
    return replace(judged, check=replace(judged.check, deciding=False, note=note))


def _judge_latency(
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
    judged: list[_Judged] = []
    tail_pending = False
    for name in policy.percentiles:
        if name != "p50" and min(result.n, record.n) < MIN_SAMPLES_FOR_TAIL:
            tail_pending = tail_pending or record.n >= MIN_SAMPLES_FOR_TAIL
            continue
        tolerance = policy.tolerances[name]
        history, speed = at_this_speed(record.history_ms(name), record, result)
        if len(history) >= MIN_HISTORY:
            judged.append(
                _check_history(
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
            newest = _newest_speed(record, result)
            judged.append(
                _check_interval(
                    name,
                    result,
                    record.percentile_ms(name) * (newest or 1.0),
                    tolerance,
                    policy.confidence,
                    max(1, len(history)),
                    speed=newest,
                )
            )
    cpu = _judge_cpu(result, record, policy)
    state = contention(result, record, usage)
    asides: list[_Judged] = []
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


def compare_latency(
    result: LatencyResult,
    entry: object,
    profile: str,
    policy: LatencyPolicy,
    usage: CpuUsage | None = None,
) -> Verdict:
    """Decide ``result`` against the stored ``entry`` (any kind, or ``None``) for ``profile``;
    ``usage`` (the timed window's CPU use) adds the load average to the contention test."""
    return _judge_latency(result, entry, profile, policy, usage)[0]


def latency_settled(
    result: LatencyResult,
    entry: object,
    profile: str,
    policy: LatencyPolicy,
    usage: CpuUsage | None = None,
) -> bool:
    """Whether sampling can stop: every deciding check's interval lies on one side of its
    decision threshold (or the verdict is REGRESSED), and no tail check is still waiting
    for its 300 samples."""
    return _judge_latency(result, entry, profile, policy, usage)[1]


def wants_adaptive_stop(entry: object, profile: str) -> bool:
    """Whether a measurement has a stored value on this machine to decide against."""
    return isinstance(entry, LatencyEntry) and profile in entry.machines


def _describe(judged: Sequence[_Judged], outcome: Outcome, confidence: float = CONFIDENCE) -> str:
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
