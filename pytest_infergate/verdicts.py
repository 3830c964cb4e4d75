"""What the gate decided: outcomes, the checks behind a verdict, and the verdict.

Nothing here imports numpy or pytest: the plugin loads it at import.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass


class Outcome(enum.Enum):
    """A verdict's outcome, worst first in :data:`SEVERITY` order."""

    PASS = "PASS"
    REGRESSED = "REGRESSED"
    IMPROVED = "IMPROVED"
    INCONCLUSIVE = "INCONCLUSIVE"
    NEW = "NEW"
    NO_BASELINE_FOR_MACHINE = "NO-BASELINE-FOR-MACHINE"
    SKIPPED = "SKIPPED"
    #: The runtime is not what the test expects (a provider fallback, a float graph
    #: where a quantised one was meant): the numbers measure the wrong thing.
    NOT_APPLIED = "NOT-APPLIED"
    #: ``--infer-update-baseline`` recorded the figure where there was none for this
    #: machine (the entry was NEW, or NO-BASELINE-FOR-MACHINE).
    RECORDED = "RECORDED"
    #: ``--infer-update-baseline`` replaced the stored figure; the checks hold the old
    #: value as ``baseline`` and the new one as ``current``.
    UPDATED = "UPDATED"


#: How bad an outcome is when several checks of one measurement are combined.
SEVERITY: dict[Outcome, int] = {
    Outcome.NOT_APPLIED: 6,
    Outcome.REGRESSED: 5,
    Outcome.INCONCLUSIVE: 4,
    Outcome.IMPROVED: 3,
    Outcome.PASS: 2,
    Outcome.NEW: 1,
    Outcome.NO_BASELINE_FOR_MACHINE: 1,
    Outcome.UPDATED: 1,
    Outcome.RECORDED: 1,
    Outcome.SKIPPED: 0,
}


def worst(outcomes: Sequence[Outcome]) -> Outcome:
    """The most severe of ``outcomes`` (PASS when there are none)."""
    return max(outcomes, key=SEVERITY.__getitem__, default=Outcome.PASS)


@dataclass(frozen=True)
class Check:
    """One gated figure of a measurement against its baseline value.

    For latency checks the figures are milliseconds; for ratio checks (metrics
    ``slowdown``, ``speedup``, ``ratio``) they are candidate/reference ratios, and
    ``baseline`` is the ratio under the null hypothesis. ``mdr`` is the minimum
    detectable regression (a fraction) where the rule knows it; ``p_value`` is the
    significance test's, where one was run; ``note`` is a caveat the summary shows
    (a ratio stored on another machine, a tolerance below the MDR).
    """

    metric: str
    baseline: float
    current: float
    low: float
    high: float
    tolerance: float
    outcome: Outcome
    mdr: float | None = None
    p_value: float | None = None
    note: str = ""
    #: Whether this check's outcome counts towards the verdict: a stored latency
    #: verdict judges either the wall time or, when the run was contended, the CPU
    #: cost; the other is reported beside it, not deciding.
    deciding: bool = True

    @property
    def change(self) -> float:
        """Relative change of the current value against the baseline (0.1 is +10%)."""
        return self.current / self.baseline - 1.0 if self.baseline > 0 else math.inf


@dataclass(frozen=True)
class AccuracyCheck(Check):
    """An accuracy figure against its baseline, with the test behind the decision.

    ``paired`` is true when both runs saw the same slice (exact McNemar on the
    discordant examples), false when the slice changed (two-proportion test).
    ``worse``/``better`` count the examples the candidate newly gets wrong/right
    and ``flip_rate`` the share whose prediction changed at all; the three are
    ``None`` when the runs cannot be paired. ``p_value`` is ``None`` for a check
    that is not a test (the flip-rate limit). Tolerance and change are absolute
    (0.01 is one point).
    """

    p_value: float | None = None
    paired: bool = True
    worse: int | None = None
    better: int | None = None
    flip_rate: float | None = None

    @property
    def change(self) -> float:
        """Absolute change of the current value against the baseline (-0.01 is one point lost)."""
        return self.current - self.baseline


@dataclass(frozen=True)
class Verdict:
    """The gate's decision for one measurement, with the checks behind it."""

    key: str
    kind: str
    outcome: Outcome
    checks: tuple[Check, ...] = ()
    reason: str = ""
    #: ``"model changed (sha256 abc… → def…)"`` when the measured model's digest
    #: differs from the one stored with the baseline entry (for an A/B measurement,
    #: also ``"reference model changed (…)"``), joined by ``"; "``; else empty.
    model_change: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in (Outcome.REGRESSED, Outcome.NOT_APPLIED)
