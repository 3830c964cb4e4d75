"""What an A/B measurement times, two :class:`TimedCall` arms, and the
:class:`ComparisonResult` their samples make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pytest_infergate.measure.timed_call import TimedCall
from pytest_infergate.measure.timing import PairTiming, Timing
from pytest_infergate.results import (
    ComparisonResult,
    FixedGates,
    LatencyResult,
    StopReason,
)


@dataclass(frozen=True)
class AbCall:
    """``candidate`` against ``reference`` under ``key``; each arm's key is
    ``key::candidate`` or ``key::reference``, and its ``sync`` the run's."""

    key: str
    candidate: TimedCall
    reference: TimedCall

    @property
    def batch_size(self) -> int:
        return self.candidate.batch_size

    @property
    def sync(self) -> Callable[[], object] | None:
        return self.candidate.sync

    def once(self) -> ComparisonResult:
        """Each arm called once, so that the test still runs; no gate."""
        cand, ref = self.candidate.once(), self.reference.once()
        return ComparisonResult(
            self.key,
            self.candidate.result(cand),
            self.reference.result(ref),
            cand.measured_s + ref.measured_s,
        )

    def result(self, timing: PairTiming, gates: FixedGates) -> ComparisonResult:
        """The result of a finished run, with the test's fixed ``gates``."""
        return comparison_result(
            self.key,
            (timing.candidate.samples_ns, timing.reference.samples_ns),
            self.batch_size,
            timing,
            gates,
        )

    def provisional(
        self, candidate_ns: tuple[int, ...], reference_ns: tuple[int, ...]
    ) -> ComparisonResult:
        """The result of the samples so far, for a look of a running measurement."""
        return comparison_result(self.key, (candidate_ns, reference_ns), self.batch_size)


def comparison_result(
    key: str,
    samples_ns: tuple[tuple[int, ...], tuple[int, ...]],
    batch_size: int,
    timing: PairTiming | None = None,
    gates: FixedGates | None = None,
) -> ComparisonResult:
    """A :class:`ComparisonResult` from the arms' raw samples (candidate, reference);
    ``timing``: the finished run, if any (else one call a sample, no time measured);
    ``gates``: the test's fixed gates."""
    measured_s = timing.measured_s if timing is not None else 0.0
    arms = []
    for arm, samples in zip(("candidate", "reference"), samples_ns, strict=True):
        t: Timing | None = None
        if timing is not None:
            t = timing.candidate if arm == "candidate" else timing.reference
        arms.append(
            LatencyResult(
                f"{key}::{arm}",
                samples,
                batch_size,
                t.calls_per_sample if t else 1,
                t.warmup_calls if t else 0,
                measured_s,
                t.stop_reason if t else StopReason.PLAN,
                t.cpu_samples_ns if t else (),
                t.cpu_clock if t and t.cpu_samples_ns else None,
            )
        )
    stop = timing.stop_reason if timing is not None else StopReason.PLAN
    return ComparisonResult(key, arms[0], arms[1], measured_s, stop, gates=gates or FixedGates())
