"""The gates one A/B run is judged by, built in one place for the ``infer_bench.compare``
fixture and for ``infergate compare`` (:func:`pytest_infergate.store.offline.rejudge`), so that
a re-judged run meets the gates the run itself met (docs/design.md, "The A/B rule")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_infergate import defaults
from pytest_infergate.judge.ratio import (
    RatioGate,
    compare_ratio,
    fixed_ratio_gates,
    stored_ratio_gate,
)
from pytest_infergate.results import ComparisonResult, FixedGates
from pytest_infergate.verdicts import Verdict

#: The A/B tolerance where the latency tolerance names no p50.
DEFAULT_AB_TOLERANCE = defaults.LATENCY_TOLERANCE


@dataclass(frozen=True)
class AbGate:
    """The ratio gates of one A/B run, and why a stored ratio is not among them
    (``context``, joined to every verdict's reason; empty when it is, or was not asked for)."""

    gates: tuple[RatioGate, ...]
    context: str = ""

    def verdict(self, result: ComparisonResult, *, look: int, final: bool) -> Verdict:
        """The verdict at sequential look ``look`` (:func:`compare_ratio`)."""
        return compare_ratio(result, self.gates, look=look, final=final, context=self.context)

    def final_verdict(self, result: ComparisonResult) -> Verdict:
        """The verdict of a finished run, at the last look its samples reached."""
        return self.verdict(result, look=last_look(result.n), final=True)


def ab_tolerance(latency_tolerance: Mapping[str, float] | None) -> float:
    """The tolerance an A/B ratio is judged at: the latency tolerance of the median."""
    return dict(latency_tolerance or {}).get("p50", DEFAULT_AB_TOLERANCE)


def ab_gate(fixed: FixedGates, tolerance: float, stored: tuple[object, str] | None) -> AbGate:
    """The gates ``fixed`` asks for (none: the default slowdown gate at ``tolerance``), and
    the stored ratio's gate unless ``compare(stored_ratio=False)``.

    ``stored`` is the key's baseline entry (``None`` when it has none) and this machine's
    profile; ``None`` when there is no baseline file at all, where nothing is said about a
    stored ratio."""
    gates = fixed_ratio_gates(fixed.max_slowdown, fixed.min_speedup)
    if not gates:
        gates = fixed_ratio_gates(tolerance, None)
    if stored is None or not fixed.stored_ratio:
        return AbGate(tuple(gates))
    entry, profile = stored
    gate, context = stored_ratio_gate(entry, profile, tolerance)
    if gate is not None:
        gates.append(gate)
    return AbGate(tuple(gates), context)


def ab_looks() -> list[int]:
    """Samples per arm at each sequential look of an A/B run."""
    # judge.stats loads numpy and scipy: only once an A/B run is judged.
    from pytest_infergate.judge.stats import SEQUENTIAL_LOOKS

    return [n for n, _ in SEQUENTIAL_LOOKS]


def last_look(n: int) -> int:
    """The index of the last look a run of ``n`` samples per arm reached (0 before the first)."""
    return max(sum(1 for size in ab_looks() if size <= n) - 1, 0)
