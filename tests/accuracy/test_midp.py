"""The accuracy gate's test: one-sided mid-p McNemar at alpha 0.01, and a drop of exactly
the tolerance."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from pytest_infergate.judge.accuracy import AccuracyPolicy
from pytest_infergate.judge.stats import mcnemar_exact, mcnemar_midp


def test_midp_values() -> None:
    assert mcnemar_midp(0, 0) == 0.5
    assert mcnemar_midp(3, 3) == pytest.approx(0.5)
    assert mcnemar_midp(30, 0) == pytest.approx(0.5**31)
    # 8 of 10 worse: P(X > 8) + P(X = 8) / 2 = (11 + 45 / 2) / 1024
    assert mcnemar_midp(8, 2) == pytest.approx(33.5 / 1024)
    assert mcnemar_midp(8, 2) + mcnemar_midp(2, 8) == pytest.approx(1.0)
    assert mcnemar_midp(8, 2) < mcnemar_exact(8, 2) / 2  # the exact test counts X = 8 in full
    with pytest.raises(ValueError, match="discordant counts"):
        mcnemar_midp(-1, 2)


def _false_alarm_rate(n: int, discordance: float, p_value, alpha: float, tolerance: float):
    """P(REGRESSED) for a candidate of the same accuracy, enumerated exactly: each of
    ``n`` examples is discordant with probability ``discordance``, each discordant one
    newly wrong or newly right with probability 1/2."""
    total = 0.0
    counts = np.arange(n + 1)
    for nd, weight in zip(counts, scipy_stats.binom.pmf(counts, n, discordance), strict=True):
        if weight < 1e-13 or nd == 0:
            continue
        # only a drop can regress; the drop grows and the p-value falls with ``worse``, so
        # every count from the first that regresses on regresses too
        for w in range(nd // 2 + 1, nd + 1):
            if (2 * w - nd) / n >= tolerance - 1e-6 and p_value(w, nd - w) < alpha:
                total += weight * float(scipy_stats.binom.sf(w - 1, nd, 0.5))
                break
    return total


def test_the_gate_keeps_false_alarms_at_one_percent_where_the_exact_rule_did_not() -> None:
    """Enumerated, not sampled: the rule's false-alarm rate per verdict for an unchanged
    accuracy, over slice sizes and discordance rates a CI slice sees. The old rule (exact
    two-sided p < 0.05) reached ~2%: its REGRESSED side is a 2.5% test."""
    policy = AccuracyPolicy()
    assert policy.alpha == 0.01
    midp = functools.lru_cache(maxsize=None)(mcnemar_midp)
    exact = functools.lru_cache(maxsize=None)(mcnemar_exact)
    worst_midp = worst_exact = 0.0
    for n in (100, 300, 1000):
        for discordance in (0.02, 0.05, 0.1, 0.3):
            worst_midp = max(
                worst_midp, _false_alarm_rate(n, discordance, midp, 0.01, policy.tolerance)
            )
            worst_exact = max(
                worst_exact, _false_alarm_rate(n, discordance, exact, 0.05, policy.tolerance)
            )
    assert worst_midp <= 0.0101  # mid-p is near nominal, not below it by construction
    assert worst_exact > 0.019


def test_seeded_simulation_of_the_type_one_rate_at_the_gates_alpha() -> None:
    """20,000 seeded A/A comparisons (300 examples, 10% of them discordant): the mid-p
    test's type-I rate sits at alpha, the exact test's below it (the power it loses)."""
    rng = np.random.default_rng(20261201)
    discordant = rng.binomial(300, 0.10, size=20_000)
    worse = rng.binomial(discordant, 0.5)
    better = discordant - worse
    alpha = AccuracyPolicy().alpha
    midp = functools.lru_cache(maxsize=None)(mcnemar_midp)
    exact = functools.lru_cache(maxsize=None)(mcnemar_exact)
    pairs = list(zip(worse.tolist(), better.tolist(), strict=True))
    midp_rate = np.mean([midp(w, b) < alpha for w, b in pairs])
    exact_rate = np.mean([exact(w, b) / 2 < alpha for w, b in pairs if w > b])
    exact_rate *= np.mean(worse > better)
    assert 0.0075 <= midp_rate <= 0.0125, midp_rate  # 0.01 +- 3.5 standard errors
    assert exact_rate < midp_rate


#: A classifier of integers that gets the first $INFERGATE_TEST_WRONG examples wrong.
EXACT_TOLERANCE = """
import os

N = int(os.environ["INFERGATE_TEST_N"])
DATA = [{"text": i, "label": i % 2, "id": i} for i in range(N)]

def model(batch):
    wrong = int(os.environ["INFERGATE_TEST_WRONG"])
    return [1 - x % 2 if x < wrong else x % 2 for x in batch]

def test_accuracy(accuracy_eval):
    accuracy_eval(model, DATA)
"""


@pytest.mark.parametrize(
    ("n", "wrong", "now_wrong", "verdict"),
    [
        # 256 of 300 right (stored as 0.853333), then 253: one point exactly, 3 newly wrong:
        # material, not significant
        (300, 44, 47, "INCONCLUSIVE"),
        # 2560 of 3000, then 2530: one point exactly, 30 newly wrong: material and significant
        (3000, 440, 470, "REGRESSED"),
        # one example short of the tolerance
        (300, 44, 46, "PASS"),
    ],
)
def test_a_drop_of_exactly_the_tolerance_reaches_it(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    n: int,
    wrong: int,
    now_wrong: int,
    verdict: str,
) -> None:
    pytester.makepyfile(test_exact=EXACT_TOLERANCE)
    monkeypatch.setenv("INFERGATE_TEST_N", str(n))
    baseline = pytester.path / "baseline.json"
    monkeypatch.setenv("INFERGATE_TEST_WRONG", str(wrong))
    pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    stored = json.loads(baseline.read_text())["entries"]["test_exact.py::test_accuracy"]
    assert stored["value"] == float(f"{(n - wrong) / n:.6g}")

    monkeypatch.setenv("INFERGATE_TEST_WRONG", str(now_wrong))
    result = pytester.runpytest(f"--infer-baseline={baseline}")
    result.stdout.fnmatch_lines([f"test_exact.py::test_accuracy*accuracy*{verdict}"])
    assert result.ret == (1 if verdict == "REGRESSED" else 0)
