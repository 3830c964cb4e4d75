"""The CPU-cost check under contention: whether other work competed with the timed calls
for a core, and the stored rules applied to the median CPU time per call, which decides
in the wall time's place when it did (docs/design.md, "CPU cost under contention")."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pytest_infergate import defaults
from pytest_infergate.judge.machine_speed import at_this_speed, newest_speed
from pytest_infergate.judge.stored_rules import (
    Judged,
    check_history,
    check_interval,
    spans_sittings,
)
from pytest_infergate.judge.thresholds import (
    CPU_FIGURE,
    CPU_UNMEASURED_DRIFT,
    HISTORY_SPAN_S,
    MIN_HISTORY,
    STARVED_SHARE,
    WAITING_SHARE,
)
from pytest_infergate.judge.wording import percent
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import LatencyRecord
from pytest_infergate.verdicts import Outcome

if TYPE_CHECKING:
    from pytest_infergate.judge.latency import LatencyPolicy
    from pytest_infergate.measure.cpu import CpuUsage


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


def judge_cpu(result: LatencyResult, record: LatencyRecord, policy: LatencyPolicy) -> Judged | None:
    """The CPU-cost check (rules 1 and 2 on the median CPU time per call, with
    :data:`CPU_UNMEASURED_DRIFT`), or ``None`` when the run or the record has no CPU
    figure on the same clock."""
    if not result.cpu_p50_ms or not record.cpu_p50_ms:  # none, or no measurable CPU time
        return None
    if record.cpu_clock != result.cpu_clock:
        return None
    tolerance = policy.tolerances.get("p50", defaults.LATENCY_TOLERANCE)
    history, speed = at_this_speed(record.history_cpu_p50_ms, record, result)
    stamps = record.history_recorded_at[-len(history) :] if history else ()
    if len(history) >= MIN_HISTORY and not spans_sittings(stamps, len(history)):
        # A one-sitting history's spread is not the drift between processes and sittings,
        # and a prediction bound from 3 runs (t with 2 d.f., 6.96 at 99%) made its noise
        # the threshold: MDRs of 24-103% on the 2-core runner. The allowance measured for
        # CPU cost takes its place (docs/design.md, "CPU cost under contention").
        judged = check_interval(
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
        return check_history(
            CPU_FIGURE,
            result,
            history,
            tolerance,
            policy.confidence,
            stamps,
            drift=CPU_UNMEASURED_DRIFT,
            speed=speed,
        )
    newest = newest_speed(record, result)
    return check_interval(
        CPU_FIGURE,
        result,
        record.cpu_p50_ms * (newest or 1.0),
        tolerance,
        policy.confidence,
        max(1, len(history)),
        drift=CPU_UNMEASURED_DRIFT,
        speed=newest,
    )
