"""How often does a session of many stored-latency checks raise at least one false alarm?

A seeded simulation through the gate's own functions (:func:`gate.compare_latency` on
synthetic samples, alone and under :func:`gate.session_policy`, the session's share of
its false-alarm rate): nothing is timed, so it runs anywhere. Each simulated session gates
``--entries`` unchanged entries, p50 and p95 each (300 samples a run, so the tail is
gated too): 20 checks for 10 entries. Between runs the machine drifts as measured on
shared runners (docs/design.md, "Why the gate is statistical": 5-15% between processes),
in two parts:

* a session offset shared by every entry of a run (a slower runner slows every test),
  log-sd ``--session-sd`` (default 0.04);
* an entry's own offset in that run (layout, what ran before), log-sd ``--entry-sd``
  (default 0.03), shared by its p50 and p95.

Within a run, samples are log-normal around the run's median (log-sd 0.05) with 2% of
them preempted (x1.1-3; ``--preempted``). At 5% the p95 sits on the knee of that tail
and jumps between the bulk and the tail from run to run: the history's log-normal
prediction bound then misses (2.4% false alarms per check in 1000 sessions).

Each entry's history holds ``--history`` past runs drawn the same way, recorded a day
apart (so rule 2 applies without the one-sitting allowance; ``--one-sitting`` records
them minutes apart instead).

A session raises a false alarm when any of its checks says REGRESSED. Printed: the
share of sessions with a false alarm, per check, per verdict, before and after the
session's control.

    python benchmarks/session_false_alarms.py --sessions 2000
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_infergate.judge.latency import (  # noqa: E402
    LatencyPolicy,
    compare_latency,
    session_policy,
)
from pytest_infergate.results import LatencyResult  # noqa: E402
from pytest_infergate.store.baseline import LatencyEntry, LatencyRecord  # noqa: E402
from pytest_infergate.verdicts import Outcome  # noqa: E402

POLICY = LatencyPolicy()  # p50 and p95, tolerances 10% / 20%


#: Share of a run's samples preempted (x1.1-3); ``--preempted`` sets it.
PREEMPTED = [0.02]


def run_samples(rng: np.random.Generator, median_ms: float, n: int) -> tuple[int, ...]:
    """One run's samples: log-normal around ``median_ms``, a share preempted x1.1-3."""
    values = median_ms * rng.lognormal(0.0, 0.05, n)
    hit = rng.random(n) < PREEMPTED[0]
    values[hit] *= rng.uniform(1.1, 3.0, hit.sum())
    return tuple(int(v * 1e6) for v in values)


def record_of(
    rng: np.random.Generator, medians: list[float], n: int, one_sitting: bool
) -> LatencyRecord:
    p50s, p95s = [], []
    for median in medians:
        samples = np.asarray(run_samples(rng, median, n)) / 1e6
        p50s.append(float(np.quantile(samples, 0.5)))
        p95s.append(float(np.quantile(samples, 0.95)))
    stamps = tuple(
        f"2026-11-25T00:{i:02d}:00+00:00" if one_sitting else f"2026-11-{i + 1:02d}T00:00:00+00:00"
        for i in range(len(medians))
    )
    last = p50s[-1]
    return LatencyRecord(
        n=n,
        batch_size=1,
        mean_ms=last,
        stdev_ms=0.1,
        min_ms=last * 0.8,
        max_ms=last * 3,
        p50_ms=last,
        p90_ms=last * 1.1,
        p95_ms=p95s[-1],
        p99_ms=last * 2,
        history_p50_ms=tuple(float(f"{v:.4g}") for v in p50s),
        sketch_ms=(last,),
        recorded_at=stamps[-1],
        history_p95_ms=tuple(float(f"{v:.4g}") for v in p95s),
        history_recorded_at=stamps,
    )


def simulate(args: argparse.Namespace) -> dict[str, float]:
    rng = np.random.default_rng(args.seed)
    n = 300
    counts = {
        "sessions": 0.0,
        "before": 0.0,
        "after": 0.0,
        "checks": 0.0,
        "check_alarms": 0.0,
        "check_alarms_after": 0.0,
        "mdr": 0.0,
        "mdr_after": 0.0,
    }
    for _ in range(args.sessions):
        session = rng.normal(0.0, args.session_sd, args.history + 1)
        controlled_policy = session_policy(POLICY, 2 * args.entries)
        alone, controlled = [], []
        for e in range(args.entries):
            base = 2.0 + e  # entries of different sizes
            runs = base * np.exp(session + rng.normal(0.0, args.entry_sd, args.history + 1))
            record = record_of(rng, list(runs[:-1]), n, args.one_sitting)
            entry = LatencyEntry(machines={"ci": record})
            result = LatencyResult(f"t{e}", run_samples(rng, float(runs[-1]), n), 1, 1, 0, 0.0)
            alone.append(compare_latency(result, entry, "ci", POLICY))
            controlled.append(compare_latency(result, entry, "ci", controlled_policy))
        before = [c for v in alone for c in v.checks if c.deciding]
        after = [c for v in controlled for c in v.checks if c.deciding]
        counts["sessions"] += 1
        counts["checks"] += len(before)
        counts["check_alarms"] += sum(c.outcome is Outcome.REGRESSED for c in before)
        counts["check_alarms_after"] += sum(c.outcome is Outcome.REGRESSED for c in after)
        counts["before"] += any(v.outcome is Outcome.REGRESSED for v in alone)
        counts["after"] += any(v.outcome is Outcome.REGRESSED for v in controlled)
        mdrs = [c.mdr for v in alone for c in v.checks if c.mdr is not None]
        mdrs_after = [c.mdr for v in controlled for c in v.checks if c.mdr is not None]
        counts["mdr"] += float(np.median(mdrs))
        counts["mdr_after"] += float(np.median(mdrs_after))
    return {k: float(v) for k, v in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--history", type=int, default=10)
    parser.add_argument("--session-sd", type=float, default=0.04)
    parser.add_argument("--entry-sd", type=float, default=0.03)
    parser.add_argument("--one-sitting", action="store_true")
    parser.add_argument("--preempted", type=float, default=0.02, help="share of slow samples")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args(argv)
    PREEMPTED[0] = args.preempted
    started = time.monotonic()
    c = simulate(args)
    s, k = c["sessions"], c["checks"]

    def share(x: float, of: float) -> str:
        low = max(0.0, x / of - 1.96 * math.sqrt(x / of * (1 - x / of) / of))
        high = x / of + 1.96 * math.sqrt(max(x / of * (1 - x / of), 1 / of) / of)
        return f"{int(x)}/{int(of)} = {x / of:.2%} [{low:.1%}-{min(high, 1):.1%}]"

    print(
        f"session_false_alarms: {int(s)} sessions x {args.entries} entries (p50 + p95: "
        f"{int(k / s)} checks a session), history {args.history} "
        f"({'one sitting' if args.one_sitting else 'a day apart'}), drift log-sd "
        f"{args.session_sd} (session) + {args.entry_sd} (entry), {args.preempted:.0%} of samples "
        f"preempted; seed {args.seed}; "
        f"{time.monotonic() - started:.0f} s"
    )
    print(f"  sessions with a false alarm, per check alone:  {share(c['before'], s)}")
    print(f"  sessions with a false alarm, session control: {share(c['after'], s)}")
    print(
        f"  false alarms per check, alone / controlled:   {c['check_alarms'] / k:.3%} / "
        f"{c['check_alarms_after'] / k:.3%}"
    )
    print(
        f"  median MDR of a check, alone / controlled:    {c['mdr'] / s:.1%} / "
        f"{c['mdr_after'] / s:.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
