"""The stored-baseline rules on one figure: rule 1 (the order-statistic interval, with an
allowance for unmeasured drift) and rule 2 (the prediction bound of the run history)
(docs/design.md, "Stored baseline"; the judge's docstring states both)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_infergate.defaults import Percentile
from pytest_infergate.judge.machine_speed import speed_detail
from pytest_infergate.judge.stats import (
    QUANTILES,
    minimum_detectable_change,
    prediction_upper_log,
    quantile_interval,
)
from pytest_infergate.judge.thresholds import (
    CPU_FIGURE,
    HISTORY_SPAN_S,
    MDR_BOUND,
    UNMEASURED_DRIFT,
    CpuFigure,
    cannot_gate,
)
from pytest_infergate.judge.wording import _level, percent
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import RELATIVE_RESOLUTION, parse_time
from pytest_infergate.verdicts import Check, Outcome

#: A figure a stored rule judges: a latency percentile, or the median CPU time per call.
Figure = Percentile | CpuFigure


@dataclass(frozen=True)
class Judged:
    """One check, whether more samples could still change it, and what its verdict's
    reason adds about it."""

    check: Check
    settled: bool
    detail: str


def _interval_ms(result: LatencyResult, name: Figure, confidence: float) -> tuple[float, float]:
    samples = result.cpu_samples_ns if name == CPU_FIGURE else result.samples_ns
    q = QUANTILES["p50" if name == CPU_FIGURE else name]
    interval = quantile_interval(samples, q, confidence)
    return interval.low / 1e6, interval.high / 1e6


def _current_ms(result: LatencyResult, name: Figure) -> float:
    if name == CPU_FIGURE:
        return result.cpu_p50_ms or 0.0
    return result.percentile_ms(name)


def check_interval(
    name: Figure,
    result: LatencyResult,
    baseline_ms: float,
    tolerance: float,
    confidence: float,
    runs: int,
    drift: float = UNMEASURED_DRIFT,
    speed: float | None = None,
) -> Judged:
    """Rule 1: the current value's order-statistic interval against the baseline value,
    with ``drift`` allowed beyond the tolerance (``runs`` stored runs; ``speed``: the
    factor the baseline value was scaled by, see :func:`.machine_speed.at_this_speed`)."""
    low_ms, high_ms = _interval_ms(result, name, confidence)
    current = _current_ms(result, name)
    limit = baseline_ms * (1.0 + tolerance)
    regressed_above = baseline_ms * (1.0 + tolerance + drift)
    if low_ms > regressed_above:
        outcome = Outcome.REGRESSED
    elif current > limit:
        outcome = Outcome.INCONCLUSIVE
    elif high_ms < baseline_ms * (1.0 - tolerance - drift):
        outcome = Outcome.IMPROVED
    else:
        outcome = Outcome.PASS
    settled = outcome in (Outcome.REGRESSED, Outcome.IMPROVED) or high_ms <= limit
    mdr = tolerance + drift
    note = ""
    if outcome is Outcome.INCONCLUSIVE:
        note = (
            f"{runs} stored run(s) cannot tell a change below {percent(mdr)} from the "
            "machine's run-to-run drift; record 3 runs (--infer-update-baseline) or use "
            "infer_bench.compare()"
        )
    check = Check(
        f"{name}_ms", baseline_ms, current, low_ms, high_ms, tolerance, outcome, mdr=mdr, note=note
    )
    return Judged(check, settled, speed_detail(speed))


def spans_sittings(stamps: Sequence[str], runs: int) -> bool:
    """Whether the newest ``runs`` runs of a history were recorded over at least
    :data:`HISTORY_SPAN_S` (each with a known time): only then is their spread the
    machine's run-to-run drift rather than the quiet of one sitting."""
    if len(stamps) < runs:
        return False
    times = [parse_time(s) for s in stamps[-runs:]]
    known = [t for t in times if t is not None]
    if len(known) < runs:
        return False
    return (max(known) - min(known)).total_seconds() >= HISTORY_SPAN_S


def check_history(
    name: Figure,
    result: LatencyResult,
    history: Sequence[float],
    tolerance: float,
    confidence: float,
    stamps: Sequence[str] = (),
    drift: float = UNMEASURED_DRIFT,
    speed: float | None = None,
) -> Judged:
    """Rule 2: the current value against the prediction bound of past runs and the
    tolerance; with ``drift`` as well when the history was recorded in one sitting
    (``stamps``: when its runs were recorded; ``speed``: the factor the history was
    scaled by, see :func:`.machine_speed.at_this_speed`)."""
    logs = [math.log(v) for v in history]
    centre = math.exp(sum(logs) / len(logs))
    bound = math.exp(float(prediction_upper_log(history, confidence, RELATIVE_RESOLUTION)))
    lower_bound = centre**2 / bound  # the mirror image of the upper bound in log units
    mdr = float(minimum_detectable_change(history, confidence, resolution=RELATIVE_RESOLUTION))
    low_ms, high_ms = _interval_ms(result, name, confidence)
    current = _current_ms(result, name)
    limit = centre * (1.0 + tolerance)
    threshold = max(bound, limit)
    one_sitting = not spans_sittings(stamps, len(history))
    if one_sitting:
        threshold = max(threshold, centre * (1.0 + tolerance + drift))
        mdr = max(mdr, tolerance + drift)
    if current > threshold:
        outcome = Outcome.REGRESSED
    elif current > limit:
        outcome = Outcome.INCONCLUSIVE
    elif current < lower_bound and current < centre * (1.0 - tolerance):
        outcome = Outcome.IMPROVED
    else:
        outcome = Outcome.PASS
    settled = low_ms > threshold or high_ms <= limit or (high_ms <= threshold and low_ms > limit)
    note = ""
    if cannot_gate(mdr, tolerance):
        sitting = ", recorded in one sitting," if one_sitting else ""
        note = (
            f"cannot gate here: the {len(history)} stored runs on this machine{sitting} spread "
            f"so widely that only a slowdown beyond {percent(MDR_BOUND)} (over 2x the time) "
            "could be told from their drift; gate it against the base revision in the same "
            "job with --infer-against=REV, or against a reference in the same process with "
            "infer_bench.compare(), or record runs at quieter times"
        )
    elif one_sitting and outcome is Outcome.INCONCLUSIVE:
        note = (
            f"the {len(history)} stored runs were recorded within {HISTORY_SPAN_S // 3600} h, "
            f"so their spread does not show the machine's drift: changes below "
            f"{percent(mdr)} read INCONCLUSIVE; record runs on other days or use "
            "infer_bench.compare()"
        )
    elif tolerance < mdr and not one_sitting:
        note = (
            f"tolerance {percent(tolerance)} is below the {percent(mdr)} this entry's history "
            "can detect on this machine; use infer_bench.compare() or record more runs"
        )
    check = Check(
        f"{name}_ms", centre, current, low_ms, high_ms, tolerance, outcome, mdr=mdr, note=note
    )
    sitting = ", one sitting" if one_sitting else ""
    detail = (
        f"{len(history)} past runs{sitting}, {_level(confidence)} prediction bound {bound:.4g} ms, "
        f"MDR {percent(mdr)}"
    )
    if speed is not None:
        detail += f", {speed_detail(speed)}"
    return Judged(check, settled, detail)
