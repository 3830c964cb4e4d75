"""False alarms and power of the accuracy gate's paired test, enumerated exactly.

Nothing is timed or sampled: for a slice of ``n`` examples of which a share ``q`` is
discordant (the candidate and the baseline disagree on correctness), each discordant
example is newly wrong with probability ``p`` and newly right otherwise, so the count of
discordant examples is Binomial(n, q) and the newly wrong among them Binomial(., p).
The gate calls REGRESSED when the drop is at least the tolerance and the test is
significant. This sums the probability of that over every outcome:

* at ``p = 1/2`` (the same accuracy): the false-alarm rate per verdict;
* at ``p = 1/2 + d / (2 q)`` (a true drop of ``d``): the power.

Rules compared: the exact two-sided McNemar test at 0.05 (the gate before), the exact
test one-sided at 0.01, and the one-sided mid-p test at 0.01 (the gate now,
:func:`pytest_infergate.judge.stats.mcnemar_midp`).

    python benchmarks/accuracy_gate_rates.py
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable

from scipy import stats

from pytest_infergate.judge.stats import mcnemar_exact, mcnemar_midp

PValue = Callable[[int, int], float]

RULES: dict[str, tuple[PValue, float]] = {
    "exact two-sided, 0.05 (before)": (functools.lru_cache(maxsize=None)(mcnemar_exact), 0.05),
    "exact one-sided, 0.01": (
        functools.lru_cache(maxsize=None)(lambda w, b: mcnemar_exact(w, b) / 2 if w > b else 1.0),
        0.01,
    ),
    "mid-p one-sided, 0.01 (now)": (functools.lru_cache(maxsize=None)(mcnemar_midp), 0.01),
}


def regressed_rate(
    n: int, q: float, p_worse: float, p_value: PValue, alpha: float, tolerance: float
) -> float:
    """P(REGRESSED) for ``n`` examples, discordance ``q``, P(newly wrong | discordant)."""
    total = 0.0
    for nd in range(1, n + 1):
        weight = float(stats.binom.pmf(nd, n, q))
        if weight < 1e-13:
            continue
        # the drop grows and the p-value falls with the newly wrong count: find the first
        # count that regresses, and every count above it does too
        for worse in range(nd // 2 + 1, nd + 1):
            if (2 * worse - nd) / n >= tolerance - 1e-6 and p_value(worse, nd - worse) < alpha:
                total += weight * float(stats.binom.sf(worse - 1, nd, p_worse))
                break
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,500,1000")
    parser.add_argument("--discordance", default="0.02,0.05,0.1,0.3")
    parser.add_argument("--drops", default="0.02,0.03,0.05")
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    sizes = [int(v) for v in args.sizes.split(",")]
    shares = [float(v) for v in args.discordance.split(",")]
    drops = [float(v) for v in args.drops.split(",")]
    print(f"tolerance {args.tolerance:.0%} (absolute)")
    print("false alarms per verdict, the largest over the discordance shares:")
    for name, (p_value, alpha) in RULES.items():
        worst = {
            n: max(regressed_rate(n, q, 0.5, p_value, alpha, args.tolerance) for q in shares)
            for n in sizes
        }
        print(f"  {name:32} " + "  ".join(f"n={n}: {r:.2%}" for n, r in worst.items()))
    print("power (REGRESSED at a true drop):")
    for n in sizes:
        for q in (0.05, 0.1):
            for d in drops:
                p_worse = 0.5 + d / (2 * q)
                if p_worse > 1:
                    continue
                cells = [
                    f"{regressed_rate(n, q, p_worse, p_value, alpha, args.tolerance):.1%}"
                    for p_value, alpha in RULES.values()
                ]
                print(f"  n={n:<5} discordant {q:.0%} drop {d:.0%}: " + " / ".join(cells))
    print("(power columns: " + " / ".join(RULES) + ")")


if __name__ == "__main__":
    main()
