"""What a verdict says outside the gate: the failure message of a test, and a recording run's
verdict (RECORDED, not the words of a gate that is not gating)."""

from __future__ import annotations

from dataclasses import replace

from pytest_infergate.judge.ratio import FIXED_RATIO_METRICS
from pytest_infergate.judge.wording import _points, _value
from pytest_infergate.verdicts import AccuracyCheck, Check, Outcome, Verdict


def as_recorded(verdict: Verdict, *, fresh: bool) -> Verdict:
    """What an ``--infer-update-baseline`` run says about a measurement it records.

    Judged against the entry it replaces, a recording run would print REGRESSED and
    IMPROVED rows while exiting 0: the words of a gate that is not gating. So every
    recorded figure becomes RECORDED (``fresh``: nothing was stored for this machine) or
    UPDATED, its check keeping the old figure as ``baseline`` and the new as ``current``,
    which is what changed. An A/B test's fixed gates are not recorded figures: they keep
    their outcome, and a REGRESSED one still fails (re-recording cannot relax
    ``min_speedup``). NOT-APPLIED stays as it is: it is never recorded.
    """
    if verdict.outcome is Outcome.NOT_APPLIED:
        return verdict
    label = Outcome.RECORDED if fresh else Outcome.UPDATED
    checks = tuple(
        c if c.metric in FIXED_RATIO_METRICS else replace(c, outcome=label, note="")
        for c in verdict.checks
    )
    fixed = [c.outcome for c in checks if c.metric in FIXED_RATIO_METRICS]
    if Outcome.REGRESSED in fixed:
        return replace(verdict, outcome=Outcome.REGRESSED, checks=checks)
    changes = [_recorded_change(c) for c in checks if c.outcome is label]
    if fresh:
        reason = "recorded: nothing was stored for this machine before"
    else:
        reason = "updated: " + ("; ".join(changes) or "the stored entry was replaced")
    return replace(verdict, outcome=label, checks=checks, reason=reason)


def _recorded_change(c: Check) -> str:
    """One recorded figure, old → new: ``p50 1.003 → 1.571 ms (+56.6%)``."""
    if isinstance(c, AccuracyCheck):
        return f"{c.metric} {_value(c.baseline)} → {_value(c.current)} ({_points(c.change)})"
    if c.metric == "ratio":
        return f"ratio {c.baseline:.3f} → {c.current:.3f} ({c.change:+.1%})"
    name = c.metric.removesuffix("_ms")
    return f"{name} {c.baseline:.4g} → {c.current:.4g} ms ({c.change:+.1%})"


def failure_message(key: str, kind: str, verdict: Verdict) -> str:
    """The message a gated failure raises in its test (``kind``: latency, A/B, accuracy)."""
    outcome = verdict.outcome.value
    if verdict.outcome is Outcome.NOT_APPLIED:
        return (
            f"{key}: {outcome}: the optimisation was not applied: {verdict.reason}. "
            "Fix the runtime (or the test's expect_* settings); re-recording does not help."
        )
    if verdict.outcome is Outcome.NO_BASELINE_FOR_MACHINE:
        return (
            f"{key}: {kind} {outcome}: {verdict.reason}, and --infer-strict fails a machine "
            "without a baseline of its own; record it with --infer-update-baseline "
            "(or --infer-machine=NAME to gate against a machine profile that has one)."
        )
    if verdict.outcome not in (Outcome.REGRESSED, Outcome.INCONCLUSIVE, Outcome.NEW):
        return (
            f"{key}: {verdict.model_change}, and --infer-strict is set; "
            "re-record with --infer-update-baseline if the new model is intended."
        )
    change = f" ({verdict.model_change})" if verdict.model_change else ""
    if kind == "A/B":
        return f"{key}: A/B {outcome}{change}: {_hint(verdict)}"
    if kind == "against":
        hint = (
            "Undecided at the time cap; raise --infer-max-time for more samples."
            if verdict.outcome is Outcome.INCONCLUSIVE
            else "If this slowdown is intended, raise the test's latency_tolerance."
        )
        return f"{key}: latency {outcome}{change}: {verdict.reason}. {hint}"
    return (
        f"{key}: {kind} {outcome}{change}: {verdict.reason or 'see the summary'}. "
        "If this change is expected, re-record with --infer-update-baseline."
    )


def _hint(verdict: Verdict) -> str:
    reason = verdict.reason or "see the summary"
    stored = any(c.metric == "ratio" and c.outcome is verdict.outcome for c in verdict.checks)
    if verdict.outcome is Outcome.INCONCLUSIVE:
        return f"{reason}. Undecided at the sample cap; raise --infer-max-time for more samples."
    if stored:
        return f"{reason}. If this change is expected, re-record with --infer-update-baseline."
    return f"{reason}. If this is expected, relax max_slowdown= or min_speedup=."
