"""Key figures of each measurement as JUnit properties (``--junitxml``).

Names are ``infergate.<figure>`` for a test's unnamed measurement and
``infergate[<name>].<figure>`` for a named one (``infer_bench.measure(..., name="bs8")``).
Values are strings, as JUnit properties are.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_infergate.results import AccuracyResult, ComparisonResult, Measurement


def _prefix(key: str, nodeid: str) -> str:
    return f"infergate[{key[len(nodeid) + 2 :]}]" if key.startswith(nodeid + "::") else "infergate"


def figures(m: Measurement) -> list[tuple[str, str]]:
    """(figure, value) pairs for one measurement: its verdict and the numbers behind it."""
    r = m.result
    pairs = [("kind", m.verdict.kind), ("verdict", m.verdict.outcome.value)]
    if isinstance(r, AccuracyResult):
        pairs += [(r.metric, f"{r.value:.6g}"), ("n", str(r.n)), ("low", f"{r.low:.4g}")]
        pairs.append(("high", f"{r.high:.4g}"))
    elif isinstance(r, ComparisonResult):
        pairs += [("ratio", f"{r.ratio:.4g}"), ("speedup", f"{r.speedup:.4g}")]
        pairs += [("candidate_p50_ms", f"{r.candidate.p50_ms:.4g}"), ("n", str(r.n))]
        pairs.append(("reference_p50_ms", f"{r.reference.p50_ms:.4g}"))
    else:
        pairs += [(f"{p}_ms", f"{r.percentile_ms(p):.4g}") for p in ("p50", "p95", "p99")]
        pairs += [("throughput_per_s", f"{r.throughput_per_s:.4g}"), ("n", str(r.n))]
        if r.cpu_p50_ms is not None:
            pairs += [("cpu_p50_ms", f"{r.cpu_p50_ms:.4g}"), ("cpu_clock", str(r.cpu_clock))]
    for check in m.verdict.checks:
        pairs.append((f"{check.metric}.baseline", f"{check.baseline:.4g}"))
    return pairs


def junit_properties(measurements: Sequence[Measurement], nodeid: str) -> list[tuple[str, str]]:
    """The properties of test ``nodeid``'s measurements, in measurement order."""
    return [
        (f"{_prefix(m.result.key, nodeid)}.{name}", value)
        for m in measurements
        if m.nodeid == nodeid
        for name, value in figures(m)
    ]
