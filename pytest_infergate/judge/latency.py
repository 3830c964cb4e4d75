"""The stored-baseline latency gate: what it judges (:class:`LatencyPolicy`), the session's
share of false alarms, and the verdict (docs/design.md, "Stored baseline", "CPU cost under
contention", "Many checks in one session").

The rules live in :mod:`.stored_verdict` (the verdict), :mod:`.stored_rules` (rules 1 and 2),
:mod:`.cpu_cost` and :mod:`.machine_speed`; they need numpy, which this module, loaded at
the plugin's import, does not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeGuard

from pytest_infergate import defaults
from pytest_infergate.defaults import PERCENTILES, Percentile
from pytest_infergate.judge.thresholds import CONFIDENCE, SESSION_ALPHA
from pytest_infergate.judge.thresholds import cannot_gate as cannot_gate
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import LatencyEntry
from pytest_infergate.verdicts import Verdict

if TYPE_CHECKING:
    from pytest_infergate.measure.cpu import CpuUsage


def is_percentile(name: str) -> TypeGuard[Percentile]:
    """Whether ``name`` is one of :data:`pytest_infergate.results.PERCENTILES`."""
    return name in PERCENTILES


@dataclass(frozen=True)
class LatencyPolicy:
    """What to gate and how much slack each gated percentile gets (relative, 0.1 = 10%)."""

    tolerances: Mapping[str, float] = field(
        default_factory=lambda: {
            p: t
            for p, t in defaults.latency_tolerances().items()
            if p in defaults.GATED_PERCENTILES
        }
    )
    percentiles: tuple[str, ...] = defaults.GATED_PERCENTILES
    confidence: float = CONFIDENCE

    @property
    def gated(self) -> tuple[Percentile, ...]:
        """The gated percentiles, as :data:`pytest_infergate.results.Percentile` names."""
        return tuple(name for name in self.percentiles if is_percentile(name))

    def __post_init__(self) -> None:
        for name in self.percentiles:
            if not is_percentile(name):
                raise ValueError(f"unknown percentile {name!r}; known: {', '.join(PERCENTILES)}")
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


def compare_latency(
    result: LatencyResult,
    entry: object,
    profile: str,
    policy: LatencyPolicy,
    usage: CpuUsage | None = None,
) -> Verdict:
    """Decide ``result`` against the stored ``entry`` (any kind, or ``None``) for ``profile``;
    ``usage`` (the timed window's CPU use) adds the load average to the contention test."""
    return _judge(result, entry, profile, policy, usage)[0]


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
    return _judge(result, entry, profile, policy, usage)[1]


def wants_adaptive_stop(entry: object, profile: str) -> bool:
    """Whether a measurement has a stored value on this machine to decide against."""
    return isinstance(entry, LatencyEntry) and profile in entry.machines


def _judge(
    result: LatencyResult,
    entry: object,
    profile: str,
    policy: LatencyPolicy,
    usage: CpuUsage | None,
) -> tuple[Verdict, bool]:
    """The verdict, and whether more samples could no longer change it (adaptive stop)."""
    from pytest_infergate.judge.stored_verdict import judge_stored  # the rules load numpy

    return judge_stored(result, entry, profile, policy, usage)
