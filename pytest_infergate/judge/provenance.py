"""Whether a verdict measured the model the test meant: the runtime against the test's
expectations (NOT-APPLIED), and the model's digests against those stored with the entry."""

from __future__ import annotations

from dataclasses import replace

from pytest_infergate.measure.provenance import Expectations, RuntimeFacts, unmet
from pytest_infergate.store.baseline import stored_digests
from pytest_infergate.verdicts import Outcome, Verdict

#: A model digest that changed while its build's inputs did not (a rebuild on another
#: machine): said in the summary, not failed under ``--infer-strict``.
REBUILT = "rebuilt from the same inputs"


def changed_model(model_change: str) -> bool:
    """Whether a verdict's ``model_change`` names another model, not only a rebuild."""
    return any(REBUILT not in part for part in model_change.split("; ") if part)


def model_change(
    entry: object, profile: str, facts: RuntimeFacts | None, reference: RuntimeFacts | None
) -> str:
    """``"model changed (sha256 abc… → def…)"`` when the measured model's digest differs
    from the one stored in ``entry`` (``profile``'s record first), and likewise
    ``"reference model changed (…)"`` for an A/B reference; else empty.

    When both builds left a build digest
    (:func:`pytest_infergate.measure.provenance.build_digest`), the same one reads
    ``"model rebuilt from the same inputs (build …, sha256 … → …)"``: another machine's
    float arithmetic, not another model, and not a failure under ``--infer-strict``
    (:data:`REBUILT`); a different one reads ``"model changed: another build (build … →
    …, sha256 …)"``."""
    stored = stored_digests(entry, profile)
    builds = stored_digests(entry, profile, build=True)
    changes = []
    arms = zip(("model", "reference model"), stored, builds, (facts, reference), strict=True)
    for label, old, old_build, now in arms:
        current = now.digest if now is not None else None
        if old is None or current is None or old == current:
            continue
        files = f"sha256 {old[:12]}… → {current[:12]}…"
        build = now.build_sha256 if now is not None else None
        if old_build is not None and build == old_build:
            changes.append(f"{label} {REBUILT} (build {build[:12]}…, {files})")
        elif old_build is not None and build is not None:
            changes.append(
                f"{label} changed: another build (build {old_build[:12]}… → {build[:12]}…, {files})"
            )
        else:
            changes.append(f"{label} changed ({files})")
    return "; ".join(changes)


def applied(
    verdict: Verdict,
    expectations: Expectations,
    facts: RuntimeFacts | None,
    model: str,
) -> Verdict:
    """``verdict`` turned NOT-APPLIED when the runtime does not meet the test's
    ``expectations`` (an A/B reference is not held to them), and carrying the ``model``
    change (:func:`model_change`), if any."""
    problems = unmet(facts, expectations)
    if problems:
        verdict = replace(verdict, outcome=Outcome.NOT_APPLIED, reason="; ".join(problems))
    return replace(verdict, model_change=model) if model else verdict
