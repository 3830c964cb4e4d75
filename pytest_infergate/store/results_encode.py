"""Measurements to the results file's JSON (``--infer-json``), the format
:mod:`pytest_infergate.store.results_file` reads back."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_infergate.results import (
    AccuracyCheck,
    AccuracyResult,
    Check,
    ComparisonResult,
    FixedGates,
    LatencyResult,
    Measurement,
    Verdict,
)
from pytest_infergate.store.baseline import (
    LATENCY_FIGURES,
)

if TYPE_CHECKING:
    from pytest_infergate.measure.cpu import CpuUsage
    from pytest_infergate.measure.provenance import RuntimeFacts
    from pytest_infergate.measure.telemetry import GpuTelemetry
    from pytest_infergate.measure.trace import Trace


#: Results file history (a line per format change: docs/design.md, "Schema history"):
#: 1 -- latency measurements; 2 -- adds "ratio" measurements
#: (``infer_bench.compare``), ``stop_reason`` on every measurement, and ``mdr`` and
#: ``p_value`` on checks. Later, still 2 (additive, optional): ``runtime_facts`` on
#: measurements and ``model_change`` on verdicts (model provenance); then
#: ``runtime_facts`` on accuracy measurements too, and ``reference_runtime_facts`` on
#: ratio measurements (the A/B reference's); ``series`` in ``gpu_telemetry`` (the readings
#: over the timed window, at most 500) and ``gates`` on ratio measurements (the test's
#: ``max_slowdown``/``min_speedup``); ``cpu`` (process CPU time against wall
#: time over the timed window); on latency measurements ``cpu_clock``,
#: ``cpu_p50_ms`` and ``cpu_samples_ns`` (CPU time per call) and on checks ``deciding``
#: (written only when false: a check reported beside the one that decided); on latency
#: measurements ``yardstick_ms``, ``yardstick_ns`` (the machine-speed yardstick's calls) and
#: ``yardstick_blocks`` (calls in each of its blocks; optional, so files without it still read).
RESULTS_SCHEMA_VERSION = 2


def _encode_gates(gates: FixedGates) -> dict[str, Any]:
    """The fixed gates a test set; ``stored_ratio`` only when it was turned off."""
    encoded = {k: v for k, v in dataclasses.asdict(gates).items() if v is not None}
    if gates.stored_ratio:
        del encoded["stored_ratio"]
    return encoded


def _encode_latency(r: LatencyResult) -> dict[str, Any]:
    return {
        "batch_size": r.batch_size,
        "calls_per_sample": r.calls_per_sample,
        "warmup_calls": r.warmup_calls,
        "measured_s": r.measured_s,
        "n": r.n,
        "stop_reason": r.stop_reason.value,
        **{name: getattr(r, name) for name in LATENCY_FIGURES},
        "throughput_per_s": r.throughput_per_s,
        "samples_ns": list(r.samples_ns),
        **(
            {
                "cpu_clock": r.cpu_clock,
                "cpu_p50_ms": r.cpu_p50_ms,
                "cpu_samples_ns": list(r.cpu_samples_ns),
            }
            if r.cpu_samples_ns
            else {}
        ),
        **(
            {
                "yardstick_ms": r.yardstick_ms,
                "yardstick_ns": list(r.yardstick_ns),
                **({"yardstick_blocks": list(r.yardstick_blocks)} if r.yardstick_blocks else {}),
            }
            if r.yardstick_ns
            else {}
        ),
    }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _encode_check(c: Check) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "metric": c.metric,
        "baseline": c.baseline,
        "current": c.current,
        "low": _finite(c.low),
        "high": _finite(c.high),
        "tolerance": c.tolerance,
        "outcome": c.outcome.value,
        "mdr": c.mdr,
        "p_value": c.p_value,
        **({} if c.deciding else {"deciding": False}),
    }
    if isinstance(c, AccuracyCheck):
        encoded.update(
            change=c.change,
            paired=c.paired,
            worse=c.worse,
            better=c.better,
            flip_rate=c.flip_rate,
        )
    return encoded


def _encode_verdict(v: Verdict) -> dict[str, Any]:
    return {
        "outcome": v.outcome.value,
        "reason": v.reason,
        "checks": [_encode_check(c) for c in v.checks],
        "model_change": v.model_change,
    }


#: GPU reading fields summarised as min/mean/max in the results file.
GPU_FIELDS = ("utilization_pct", "memory_used_mib", "power_w", "sm_clock_mhz", "temperature_c")


def encode_gpu(gpu: GpuTelemetry) -> dict[str, Any]:
    """GPU telemetry as min/mean/max per reading field (over every reading), slowdowns,
    other processes, and the readings themselves as a downsampled ``series`` for charts."""
    figures = {}
    for name in GPU_FIELDS:
        low, mean, high = gpu.stats(name)
        figures[name] = {"min": low, "mean": mean, "max": high}
    return {
        "gpu": gpu.index,
        "readings": len(gpu.samples),
        "slowdowns": list(gpu.slowdowns),
        "other_processes": gpu.other_processes,
        **figures,
        "series": gpu.series(),
    }


def encode_trace(trace: Trace) -> dict[str, Any]:
    """A trace's top operators and every operator type (``total_ms`` over all profiled
    calls, ``share`` of them); ``outside_share`` is the call's time outside any operator."""
    return {
        "runtime": trace.runtime,
        "calls": trace.calls,
        "call_ms": trace.call_ms,
        "covered_share": trace.covered_share,
        "ops": [dataclasses.asdict(op) for op in trace.ops],
        "by_type": [dataclasses.asdict(t) for t in trace.by_type],
        "outside_share": trace.outside_share,
    }


def encode_cpu(cpu: CpuUsage) -> dict[str, Any]:
    """CPU use over the timed window; ``utilisation`` is CPU seconds per wall second,
    ``waiting_share`` run-queue wait per wall second (``None`` where unknown)."""
    return {
        **dataclasses.asdict(cpu),
        "utilisation": cpu.utilisation,
        "waiting_share": cpu.waiting_share,
    }


def encode_facts(facts: RuntimeFacts | None) -> dict[str, Any] | None:
    """Runtime facts as plain JSON values (``None`` when the model exposed none)."""
    if facts is None:
        return None
    encoded = dataclasses.asdict(facts)
    encoded["providers"] = list(facts.providers)
    encoded["op_histogram"] = dict(facts.op_histogram)
    return encoded


def _encode_accuracy(r: AccuracyResult) -> dict[str, Any]:
    return {
        "metric": r.metric,
        "value": r.value,
        "n": r.n,
        "correct": r.correct,
        "low": r.low,
        "high": r.high,
        "slice_sha256": r.slice_sha256,
        "sampling": r.sampling,
        "predict_s": r.predict_s,
        "examples_per_s": _finite(r.examples_per_s),
        "predictions": list(r.predictions),
        "labels": list(r.labels),
    }


def encode_measurement(m: Measurement) -> Mapping[str, Any]:
    r, v = m.result, m.verdict
    body: dict[str, Any]
    if isinstance(r, AccuracyResult):
        body = _encode_accuracy(r)
    elif isinstance(r, ComparisonResult):
        body = {
            "batch_size": r.batch_size,
            "measured_s": r.measured_s,
            "n": r.n,
            "stop_reason": r.stop_reason.value,
            "ratio": r.ratio,
            "ratio_low": _finite(r.ratio_low),
            "ratio_high": _finite(r.ratio_high),
            "confidence": r.confidence,
            "p95_ratio": r.p95_ratio,
            "speedup": r.speedup,
            "gates": _encode_gates(r.gates),
            "candidate": _encode_latency(r.candidate),
            "reference": _encode_latency(r.reference),
            "reference_runtime_facts": encode_facts(m.reference_facts),
        }
    else:
        body = _encode_latency(r)
    return {
        "key": r.key,
        "nodeid": m.nodeid,
        "kind": v.kind,
        **body,
        "runtime_facts": encode_facts(m.facts),
        **({"gpu_telemetry": encode_gpu(m.gpu)} if m.gpu is not None else {}),
        **({"trace": encode_trace(m.trace)} if m.trace is not None else {}),
        "load_average_1m": m.cpu.load_average if m.cpu is not None else None,
        **({"cpu": encode_cpu(m.cpu)} if m.cpu is not None else {}),
        "verdict": _encode_verdict(v),
    }
