"""The one table of defaults: what a measurement gets when neither the command line, an ini
key, a marker nor the call says otherwise. The option table (:mod:`pytest_infergate.options`)
and the layers below it (the sampling plan, the gate's policies) take their defaults from
here, so a default is changed in one place. Plain constants: every layer may import it."""

from __future__ import annotations

from typing import Literal

#: The latency percentiles a measurement reports and a gate may judge, by name.
Percentile = Literal["p50", "p90", "p95", "p99"]
PERCENTILES: tuple[Percentile, ...] = ("p50", "p90", "p95", "p99")

#: Relative slack of the median (0.1: +10%); each tail gets it times its factor below.
LATENCY_TOLERANCE = 0.10
#: How a single tolerance scales to the tail: a p95 is noisier than a median.
TAIL_TOLERANCE_FACTOR = {"p50": 1.0, "p90": 1.5, "p95": 2.0, "p99": 3.0}
#: The percentiles a stored latency gate judges.
GATED_PERCENTILES = ("p50", "p95")
#: Absolute slack of an accuracy metric (0.01: one point).
ACCURACY_TOLERANCE = 0.01

#: The sampling plan: warm-up calls and seconds, then samples until both minimums are met,
#: never past the time cap.
WARMUP_CALLS = 10
WARMUP_S = 0.5
MIN_SAMPLES = 100
MIN_TIME_S = 1.0
MAX_TIME_S = 10.0


def latency_tolerances(base: float = LATENCY_TOLERANCE) -> dict[str, float]:
    """Every percentile's tolerance from the median's ``base``."""
    return {name: base * factor for name, factor in TAIL_TOLERANCE_FACTOR.items()}
