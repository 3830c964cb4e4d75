"""Seeded simulation of the sequential A/B rule: no timing, thousands of gate runs at once.

Each simulated run is one process measuring a candidate and a reference interleaved in
ABBA order, 500 samples per arm at most, on a noisy machine:

* a slow drift shared by everything that runs at that moment (AR(1) in log latency,
  sd ~5%), which interleaving hands to both arms alike;
* per-sample noise (3% log-normal) and preemption outliers (5% of samples, x1.1-3);
* a per-process offset between the two arms (memory layout), measured on our 2-core
  runner: two ORT sessions of the same model differ by sd 2%, mean +0.9%, stable
  within a process. No number of samples removes it.

The rule runs through :func:`pytest_infergate.judge.stats.ratio_look`, the function the
plugin's :func:`pytest_infergate.judge.ratio.compare_ratio` calls at each look.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from pytest_infergate.judge import stats
from pytest_infergate.judge.ratio import compare_ratio, fixed_ratio_gates
from pytest_infergate.results import ComparisonResult, LatencyResult
from pytest_infergate.verdicts import Outcome

ARM = 500
LAYOUT_SD, LAYOUT_BIAS = 0.02, 0.009
LOOKS = [n for n, _ in stats.SEQUENTIAL_LOOKS]


def _simulate(
    runs: int,
    true_ratio: float,
    seed: int,
    *,
    layout_sd: float = LAYOUT_SD,
    layout_bias: float = LAYOUT_BIAS,
    blocked: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate and reference samples (runs x ARM, ns), in the order they were taken."""
    rng = np.random.default_rng(seed)
    steps = 2 * ARM
    drift = lfilter([1.0], [1.0, -0.98], rng.normal(0.0, 0.01, (runs, steps)), axis=1)
    noise = rng.normal(0.0, 0.03, (runs, steps))
    outliers = np.where(
        rng.random((runs, steps)) < 0.05, np.log(rng.uniform(1.1, 3.0, (runs, steps))), 0.0
    )
    logs = np.log(3e6) + drift + noise + outliers
    # ABBA (candidate, reference, reference, candidate, ...) or all candidate samples first.
    arm = np.repeat([0, 1], ARM) if blocked else np.tile([0, 1, 1, 0], steps // 4)
    layout = rng.normal(layout_bias, layout_sd, (runs, 1))
    candidate = np.exp(logs[:, arm == 0] + np.log(true_ratio) + layout)
    reference = np.exp(logs[:, arm == 1])
    return candidate, reference


def _sequential(
    candidate: np.ndarray, reference: np.ndarray, rule: stats.RatioRule
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome code and samples per arm at stopping, for every run, as the plugin samples."""
    runs = candidate.shape[0]
    codes = np.full(runs, stats.CONTINUE)
    stopped_at = np.zeros(runs, dtype=int)
    active = np.ones(runs, dtype=bool)
    for index, n in enumerate(LOOKS):
        final = index == len(LOOKS) - 1
        rows = np.flatnonzero(active)
        look = stats.ratio_look(
            candidate[rows, :n], reference[rows, :n], rule, stats.look_alpha(index, final=final)
        )
        stop = np.ones(len(rows), dtype=bool) if final else look.codes != stats.CONTINUE
        codes[rows[stop]] = look.codes[stop]
        stopped_at[rows[stop]] = n
        active[rows[stop]] = False
    return codes, stopped_at


GATE_10 = stats.RatioRule(1.0, 0.10)


def test_a_a_false_alarms_stay_at_or_below_one_percent() -> None:
    codes, stopped_at = _sequential(*_simulate(4000, 1.0, seed=1), GATE_10)
    false_alarms = float(np.mean(codes == stats.REGRESSED))
    assert false_alarms <= 0.01
    assert float(np.mean(codes == stats.PASSED)) >= 0.98
    assert float(np.mean(stopped_at == 50)) >= 0.9  # A/A is usually settled at the first look


@pytest.mark.parametrize(
    ("true_ratio", "layout_sd", "at_least"),
    [
        (1.20, LAYOUT_SD, 0.99),
        (1.12, LAYOUT_SD, 0.95),
        (1.10, LAYOUT_SD, 0.85),  # the layout offset blurs a slowdown of exactly 10%
        (1.10, 0.0, 0.95),  # without it, +10% is caught >= 95% of the time
    ],
)
def test_detection(true_ratio: float, layout_sd: float, at_least: float) -> None:
    runs = _simulate(2000, true_ratio, seed=2, layout_sd=layout_sd, layout_bias=0.0)
    codes, _ = _sequential(*runs, GATE_10)
    assert float(np.mean(codes == stats.REGRESSED)) >= at_least


def test_the_simulation_can_fail_a_bad_rule() -> None:
    """Guards that the simulated machine is hard enough to catch rules that cry wolf.

    The rule's first wording (U test against 1.0 x reference) lets the
    per-process layout offset alone cross the 5% margin; and without interleaving, a
    U test alone (one look, alpha 0.01) flags the drift itself (29-43%: docs/design.md,
    "Why the gate is statistical").
    """
    design_rule = stats.RatioRule(1.0, 0.10, significance_from="baseline")
    codes, _ = _sequential(*_simulate(4000, 1.0, seed=1), design_rule)
    assert float(np.mean(codes == stats.REGRESSED)) > 0.01

    candidate, reference = _simulate(2000, 1.0, seed=3, layout_sd=0.0, blocked=True)
    p = stats.mann_whitney_slower_p(candidate, reference)
    assert float(np.mean(np.asarray(p) < 0.01)) > 0.10


def test_the_simulation_applies_the_plugins_rule() -> None:
    """The vectorised looks agree with gate.compare_ratio, run by run."""
    candidate, reference = _simulate(12, 1.08, seed=4, layout_sd=0.04)
    gates = fixed_ratio_gates(0.10, None)
    names = {stats.PASSED: Outcome.PASS, stats.REGRESSED: Outcome.REGRESSED}
    for index, n in enumerate(LOOKS):
        final = index == len(LOOKS) - 1
        look = stats.ratio_look(
            candidate[:, :n], reference[:, :n], GATE_10, stats.look_alpha(index, final=final)
        )
        for row in range(candidate.shape[0]):
            arms = [
                LatencyResult(f"t::{name}", tuple(int(v) for v in samples[row, :n]), 1, 1, 0, 0.0)
                for name, samples in (("c", candidate), ("r", reference))
            ]
            verdict = compare_ratio(
                ComparisonResult("t", arms[0], arms[1], 0.0), gates, look=index, final=final
            )
            expected = names.get(int(look.codes[row]), Outcome.INCONCLUSIVE)
            assert verdict.outcome is expected
