"""The lock-step verdict on seeded synthetic samples: wall time, or CPU time when both
arms waited for a core (the waits are added to samples, diluting the wall ratio)."""

from __future__ import annotations

import numpy as np

from pytest_infergate.judge.against import contended, lockstep_verdict
from pytest_infergate.measure.lockstep import LockstepSamples
from pytest_infergate.verdicts import Outcome

N = 500


def _arm(cpu_ms: float, seed: int, wait_ms: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """CPU time per call with 1% noise; wall time = CPU time + a wait for a core that a
    neighbour's time slices add to some samples (exponential, mean ``wait_ms``)."""
    rng = np.random.default_rng(seed)
    cpu = cpu_ms * 1e6 * rng.lognormal(0.0, 0.01, N)
    wait = rng.exponential(wait_ms * 1e6, N) if wait_ms else np.zeros(N)
    return tuple(int(w) for w in cpu + wait), tuple(int(c) for c in cpu)


def _samples(slower: float, wait_ms: float, waiting: float | None) -> LockstepSamples:
    cand, cand_cpu = _arm(1.0 * slower, 1, wait_ms)
    ref, ref_cpu = _arm(1.0, 2, wait_ms)
    return LockstepSamples(cand, ref, cand_cpu, ref_cpu, "thread", waiting, waiting)


def _outcome(samples: LockstepSamples) -> tuple[Outcome, str]:
    verdict = lockstep_verdict(
        "t", samples, 1, 0.10, look=2, final=True, context="vs abc1234 (HEAD~1)"
    )
    return verdict.outcome, verdict.reason + " ".join(c.note for c in verdict.checks)


def test_a_contended_run_is_judged_on_cpu_time() -> None:
    """+10% work, with waits of 3 ms on 1 ms calls: the wall ratio reads near 1, the CPU
    ratio +10%: REGRESSED, and the verdict says which figure decided and why."""
    diluted = _samples(1.10, wait_ms=3.0, waiting=0.6)
    assert contended(diluted)
    outcome, text = _outcome(diluted)
    assert outcome is Outcome.REGRESSED
    assert "judged on CPU time (thread clock)" in text
    assert "waited 60% of the time" in text
    # The same samples when the run did not wait for a core: wall time decides, and the
    # waits (then the call's own) hide the change.
    quiet_reading = _samples(1.10, wait_ms=3.0, waiting=0.0)
    assert not contended(quiet_reading)
    assert _outcome(quiet_reading)[0] is not Outcome.REGRESSED


def test_unchanged_code_under_contention_passes() -> None:
    outcome, text = _outcome(_samples(1.0, wait_ms=3.0, waiting=0.6))
    assert outcome is Outcome.PASS
    assert "CPU time" in text


def test_a_quiet_run_is_judged_on_wall_time() -> None:
    outcome, text = _outcome(_samples(1.10, wait_ms=0.0, waiting=0.001))
    assert outcome is Outcome.REGRESSED
    assert "CPU time" not in text


def test_without_scheduler_statistics_a_starved_thread_is_contended() -> None:
    starved = _samples(1.0, wait_ms=3.0, waiting=None)
    assert starved.cpu_share < 0.5
    assert contended(starved)
    fed = _samples(1.0, wait_ms=0.0, waiting=None)
    assert not contended(fed)
    # A pool's process clock says nothing about one thread's share of a core.
    pooled = LockstepSamples(
        starved.candidate_ns,
        starved.reference_ns,
        starved.candidate_cpu_ns,
        starved.reference_cpu_ns,
        "process",
        None,
        None,
    )
    assert not contended(pooled)
