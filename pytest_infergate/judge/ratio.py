"""The A/B gate: the ratio of an interleaved candidate/reference measurement, against a fixed
requirement or a stored ratio, at sequential looks (docs/design.md, "The A/B rule")."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_infergate.judge.thresholds import (
    CONFIDENCE,
    CROSS_MACHINE_FACTOR,
    EFFECT_FRACTION,
    MIN_SAMPLES_PER_ARM,
    RATIO_WINDOW,
    check_ratio_limits,
)
from pytest_infergate.judge.wording import _join
from pytest_infergate.results import ComparisonResult
from pytest_infergate.store.baseline import (
    RatioEntry,
)
from pytest_infergate.verdicts import Check, Outcome, Verdict, worst


@dataclass(frozen=True)
class RatioGate:
    """One gated ratio (candidate / reference medians; larger is slower).

    ``baseline`` is the ratio under the null hypothesis and ``tolerance`` the allowed
    relative excess over it: ``max_slowdown=0.1`` is ``RatioGate("slowdown", 1.0, 0.1)``,
    ``min_speedup=1.5`` is ``RatioGate("speedup", 1/1.5, 0.0)``, a stored ratio r is
    ``RatioGate("ratio", r, tolerance)``. ``note`` is shown in the summary.
    """

    metric: str
    baseline: float
    tolerance: float
    improvable: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        check_ratio_limits(self.baseline, self.tolerance, f"{self.metric}: ")


def fixed_ratio_gates(max_slowdown: float | None, min_speedup: float | None) -> list[RatioGate]:
    """The gates ``compare(max_slowdown=..., min_speedup=...)`` asked for."""
    gates = []
    if max_slowdown is not None:
        gates.append(RatioGate("slowdown", 1.0, max_slowdown))
    if min_speedup is not None:
        gates.append(RatioGate("speedup", 1.0 / min_speedup, 0.0))
    return gates


def stored_ratio_gate(
    entry: object, profile: str, tolerance: float
) -> tuple[RatioGate | None, str]:
    """The gate against a stored ratio, or ``None`` with the reason there is none.

    On this machine the tolerance is ``tolerance``; when the ratio was stored only on
    other machines, the newest of them is used with ``CROSS_MACHINE_FACTOR`` times the
    tolerance, and the gate's note says so.
    """
    if entry is None:
        return None, "no stored ratio yet (--infer-update-baseline records one)"
    if not isinstance(entry, RatioEntry):
        kind = getattr(entry, "kind", type(entry).__name__)
        return None, (
            f"the baseline entry is a {kind!r} entry, not a ratio; "
            "re-record with --infer-update-baseline"
        )
    record = entry.machines.get(profile)
    if record is not None:
        centre, note = stored_ratio_centre(record.history_ratio or (record.ratio,), tolerance)
        return RatioGate("ratio", centre, tolerance, improvable=True, note=note), ""
    if not entry.machines:
        return None, "the stored ratio entry has no machines; re-record it"
    other, record = max(entry.machines.items(), key=lambda item: item[1].recorded_at)
    widened = tolerance * CROSS_MACHINE_FACTOR
    centre, history_note = stored_ratio_centre(record.history_ratio or (record.ratio,), widened)
    note = (
        f"ratio stored on machine {other!r}, not this one ({profile!r}): "
        f"tolerance widened to {widened:.0%}"
    )
    note = f"{note}; {history_note}" if history_note else note
    return RatioGate("ratio", centre, widened, improvable=True, note=note), ""


def stored_ratio_centre(history: Sequence[float], tolerance: float) -> tuple[float, str]:
    """The ratio a stored A/B check judges against, from the record's history (newest
    last), and a note when that is not simply the newest ratio.

    The newest ratio alone is one run: re-recorded once under load, a history of
    0.3252, 0.3389, 0.1999 made the next three unchanged runs (about 0.33) fail. One
    record cannot tell an outlier from a change the user accepted (re-recording after a
    deliberate slowdown), so the check accepts either: it judges against the larger of
    the upper median of the last :data:`RATIO_WINDOW` records and the newest one. A
    faster-looking outlier is outvoted by the two records before it; a re-recorded
    slowdown is the newest ratio and passes at once; a faster level is the median once a
    second record confirms it (until then it reads IMPROVED, which does not fail). The
    latency rule's prediction interval is not used here: with the 3 runs above its 99%
    bound is 10.6x their centre (Student t with 2 d.f.), so one outlier would switch the
    check off instead of being outvoted.
    """
    newest = history[-1]
    centre = max(statistics.median_high(history[-RATIO_WINDOW:]), newest)
    if centre == newest or len(history) < 2:
        return newest, ""
    off = newest / centre - 1.0
    if abs(off) <= tolerance:
        return centre, ""
    window = min(len(history), RATIO_WINDOW)
    note = (
        f"judged against {centre:.3f}, the median of the last {window} stored ratios: the "
        f"newest ({newest:.3f}, {off:+.0%}) is one record, which a loaded machine can skew; "
        "another --infer-update-baseline confirms it"
    )
    return centre, note


def compare_ratio(
    result: ComparisonResult,
    gates: Sequence[RatioGate],
    *,
    look: int,
    final: bool,
    context: str = "",
) -> Verdict:
    """The A/B verdict at sequential look ``look`` (0-based); ``final`` at the last one.

    Rule (docs/design.md, "The A/B rule"), for each gate: REGRESSED when the one-sided
    Mann-Whitney U test says the candidate is slower than the effect margin
    ``baseline * (1 + tolerance / 2)`` x reference at this look's alpha (0.0005 / 0.002 /
    0.0075 at 50 / 150 / 500 samples per arm; the last look spends what is left of 0.01)
    AND the ratio of medians is above that margin (:func:`pytest_infergate.judge.stats.ratio_look`
    says why the test runs from the margin rather than from ``baseline``); PASS when the
    upper end of the ratio's 99% interval is below ``baseline * (1 + tolerance)``; IMPROVED
    (stored ratios only) when it is below ``baseline * (1 - tolerance)``. Undecided gates
    are INCONCLUSIVE; before the last look that means "keep sampling". Each gate spends its
    own 0.01.
    """
    # numpy and scipy load when the first A/B verdict is made, not at the plugin's import.
    from pytest_infergate.judge.stats import (
        IMPROVED,
        PASSED,
        REGRESSED,
        RatioRule,
        look_alpha,
        ratio_look,
    )

    if result.n < MIN_SAMPLES_PER_ARM:
        checks = tuple(
            Check(
                g.metric,
                g.baseline,
                result.ratio,
                result.ratio_low,
                result.ratio_high,
                g.tolerance,
                Outcome.INCONCLUSIVE,
                note=g.note,
            )
            for g in gates
        )
        reason = (
            f"only {result.n} samples per arm (the rule needs {MIN_SAMPLES_PER_ARM}); "
            "raise --infer-max-time"
        )
        return Verdict(result.key, "ratio", Outcome.INCONCLUSIVE, checks, _join(reason, context))
    alpha = look_alpha(look, final=final)
    codes = {PASSED: Outcome.PASS, REGRESSED: Outcome.REGRESSED, IMPROVED: Outcome.IMPROVED}
    checks_list = []
    for g in gates:
        rule = RatioRule(g.baseline, g.tolerance, EFFECT_FRACTION, improvable=g.improvable)
        at = ratio_look(
            result.candidate.samples_ns, result.reference.samples_ns, rule, alpha, CONFIDENCE
        )
        p = float(at.p_value[0])
        checks_list.append(
            Check(
                g.metric,
                g.baseline,
                float(at.ratio[0]),
                float(at.low[0]),
                float(at.high[0]),
                g.tolerance,
                codes.get(int(at.codes[0]), Outcome.INCONCLUSIVE),
                p_value=p,
                note=g.note,
            )
        )
    checks = tuple(checks_list)
    outcome = worst([c.outcome for c in checks]) if checks else Outcome.PASS
    reason = _describe_ratio(result, gates, checks, outcome, alpha)
    return Verdict(result.key, "ratio", outcome, checks, _join(reason, context))


def ratio_settled(verdict: Verdict) -> bool:
    """Whether an A/B run can stop: REGRESSED, or every gate decided."""
    return verdict.outcome is not Outcome.INCONCLUSIVE


def _describe_ratio(
    result: ComparisonResult,
    gates: Sequence[RatioGate],
    checks: Sequence[Check],
    outcome: Outcome,
    alpha: float,
) -> str:
    ci = f"{CONFIDENCE:.0%} CI {result.ratio_low:.3f}-{result.ratio_high:.3f}"
    parts = []
    for g, c in zip(gates, checks, strict=True):
        if c.outcome is not outcome:
            continue
        margin = g.baseline * (1.0 + EFFECT_FRACTION * g.tolerance)
        p = (
            f"slower than {margin:.3f}x reference: U-test p={c.p_value:.2g}, alpha {alpha:.2g}"
            if c.p_value is not None
            else ""
        )
        if g.metric == "speedup":
            text = (
                f"speedup {result.speedup:.2f}x (required {1 / g.baseline:.2f}x; "
                f"ratio {result.ratio:.3f}, {ci}; {p})"
            )
        elif g.metric == "slowdown":
            text = (
                f"candidate/reference {result.ratio:.3f} ({result.ratio - 1:+.1%}; {ci}; "
                f"max slowdown {g.tolerance:.0%}; {p})"
            )
        else:
            text = (
                f"ratio {result.ratio:.3f} vs stored {g.baseline:.3f} "
                f"({result.ratio / g.baseline - 1:+.1%}; {ci}; tolerance {g.tolerance:.0%}; {p})"
            )
        parts.append(text + (f" [{g.note}]" if g.note else ""))
    return "; ".join(parts)


#: A/B checks against a fixed requirement (``max_slowdown``, ``min_speedup``, or the default
#: slowdown gate): nothing is recorded for them, so re-recording cannot change them.
FIXED_RATIO_METRICS = ("slowdown", "speedup")
