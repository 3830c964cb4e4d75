"""The results file (``--infer-json``): decoding and validation.

The encoder lives with the session (:meth:`GateSession.results_document`); this is
its inverse, for the ``infergate`` command and the reports. Decoding rebuilds the
same immutable records the plugin made (:class:`Measurement` with its result and
verdict), so the reports and ``infergate compare`` run on exactly the plugin's
types, and a re-judged verdict comes from the same ``compare_*`` functions.

Errors are :class:`BaselineError` naming the file and the first bad field. The
statistics of a latency result are recomputed from its raw samples, not read
back. ``Measurement.tolerances`` is not stored in the file and decodes empty;
runtime facts decode when present (files written before them hold none). GPU
telemetry decodes from its ``series`` (at most 500 readings; the file's min/mean/max
were taken over all of them); telemetry written before the series was stored decodes
as ``None``. A ``trace`` and a ``cpu`` decode when present; their derived figures
(``covered_share``, ``outside_share``, ``utilisation``) are recomputed, and a trace
written before ``by_type`` was stored decodes with none. A latency result's CPU time
per call (``cpu_samples_ns`` on ``cpu_clock``) decodes when present; ``cpu_p50_ms``
is recomputed from it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_infergate.measure.cpu import CpuUsage
from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.measure.provenance import RuntimeFacts
from pytest_infergate.measure.telemetry import SERIES_DECIMALS, GpuSample, GpuTelemetry
from pytest_infergate.measure.trace import OpTime, OpTypeTime, Trace
from pytest_infergate.results import (
    AccuracyCheck,
    AccuracyResult,
    Check,
    ComparisonResult,
    FixedGates,
    LatencyResult,
    Measurement,
    Outcome,
    StopReason,
    Verdict,
)
from pytest_infergate.store.baseline import (
    MAX_INTEGER,
    BaselineError,
    _Reader,
    _short,
    decode_fingerprint,
)

#: Must match :data:`pytest_infergate.session.RESULTS_SCHEMA_VERSION` (a test checks it;
#: kept here too so decoding does not import the session).
RESULTS_SCHEMA_VERSION = 2
KINDS = ("latency", "ratio", "accuracy")


@dataclass(frozen=True)
class ResultsFile:
    """A decoded results file: the machine it ran on and every judged measurement."""

    schema_version: int
    machine: str
    fingerprint: Fingerprint
    measurements: tuple[Measurement, ...]


def _enum(r: _Reader, enum_type: Any, value: object, where: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        known = ", ".join(str(e.value) for e in enum_type)
        raise r.fail(where, f"unknown value {value!r}; known: {known}") from None


def _ints(
    r: _Reader, obj: Mapping[str, Any], name: str, where: str, minimum: int = 0
) -> tuple[int, ...]:
    value = r.items(obj, name, where)
    for i, item in enumerate(value):
        if (
            isinstance(item, bool)
            or not isinstance(item, int)
            or not minimum <= item <= MAX_INTEGER
        ):
            raise r.fail(
                f"{where}.{name}[{i}]", f"expected an integer >= {minimum}, got {_short(item)}"
            )
    return tuple(value)


def _optional_number(r: _Reader, obj: Mapping[str, Any], name: str, where: str) -> float | None:
    if obj.get(name) is None:
        return None
    return r.number(obj, name, where)


def _stop_reason(r: _Reader, obj: Mapping[str, Any], where: str) -> StopReason:
    raw = obj.get("stop_reason", StopReason.PLAN.value)  # absent in schema 1
    reason: StopReason = _enum(r, StopReason, raw, f"{where}.stop_reason")
    return reason


def _latency(r: _Reader, raw: object, key: str, where: str) -> LatencyResult:
    obj = r.mapping(raw, where)
    samples = _ints(r, obj, "samples_ns", where, minimum=1)
    if not samples:
        raise r.fail(f"{where}.samples_ns", "a measurement needs at least one sample")
    cpu = _ints(r, obj, "cpu_samples_ns", where) if "cpu_samples_ns" in obj else ()
    clock = r.string(obj, "cpu_clock", where) if cpu else None
    speed = _ints(r, obj, "yardstick_ns", where) if "yardstick_ns" in obj else ()
    blocks = _ints(r, obj, "yardstick_blocks", where) if "yardstick_blocks" in obj else ()
    try:
        return LatencyResult(
            key=key,
            samples_ns=samples,
            batch_size=r.integer(obj, "batch_size", where, minimum=1),
            calls_per_sample=r.integer(obj, "calls_per_sample", where, minimum=1),
            warmup_calls=r.integer(obj, "warmup_calls", where),
            measured_s=r.duration(r.get(obj, "measured_s", where), f"{where}.measured_s"),
            stop_reason=_stop_reason(r, obj, where),
            cpu_samples_ns=cpu,
            cpu_clock=clock,
            yardstick_ns=speed,
            yardstick_blocks=blocks,
        )
    except ValueError as exc:
        if isinstance(exc, BaselineError):
            raise
        raise r.fail(where, str(exc)) from None


def _gates(r: _Reader, obj: Mapping[str, Any], where: str) -> FixedGates:
    where = f"{where}.gates"
    gates = r.mapping(obj.get("gates", {}), where)  # absent before the gates were stored
    known = [f.name for f in dataclasses.fields(FixedGates)]
    unknown = sorted(set(gates) - set(known))
    if unknown:
        raise r.fail(where, f"unknown gate(s) {', '.join(unknown)}; known: {', '.join(known)}")
    stored_ratio = gates.get("stored_ratio", True)  # written only when turned off
    if not isinstance(stored_ratio, bool):
        raise r.fail(f"{where}.stored_ratio", f"expected true or false, got {stored_ratio!r}")
    numbers = [name for name in known if name != "stored_ratio"]
    try:
        return FixedGates(
            **{name: _optional_number(r, gates, name, where) for name in numbers},
            stored_ratio=stored_ratio,
        )
    except ValueError as exc:
        if isinstance(exc, BaselineError):
            raise
        raise r.fail(where, str(exc)) from None


def _ratio(r: _Reader, obj: Mapping[str, Any], key: str, where: str) -> ComparisonResult:
    gates = _gates(r, obj, where)
    try:
        return ComparisonResult(
            key=key,
            candidate=_latency(r, r.get(obj, "candidate", where), key, f"{where}.candidate"),
            reference=_latency(r, r.get(obj, "reference", where), key, f"{where}.reference"),
            measured_s=r.duration(r.get(obj, "measured_s", where), f"{where}.measured_s"),
            stop_reason=_stop_reason(r, obj, where),
            confidence=r.number(obj, "confidence", where),
            gates=gates,
        )
    except ValueError as exc:
        if isinstance(exc, BaselineError):
            raise
        raise r.fail(where, str(exc)) from None


def _accuracy(r: _Reader, obj: Mapping[str, Any], key: str, where: str) -> AccuracyResult:
    try:
        return AccuracyResult(
            key=key,
            metric=r.string(obj, "metric", where),
            value=r.number(obj, "value", where),
            predictions=_ints(r, obj, "predictions", where),
            labels=_ints(r, obj, "labels", where),
            slice_sha256=r.string(obj, "slice_sha256", where),
            sampling=r.string(obj, "sampling", where),
            predict_s=r.duration(r.get(obj, "predict_s", where), f"{where}.predict_s"),
        )
    except ValueError as exc:
        if isinstance(exc, BaselineError):
            raise
        raise r.fail(where, str(exc)) from None


def _gpu(r: _Reader, obj: Mapping[str, Any], where: str) -> GpuTelemetry | None:
    if obj.get("gpu_telemetry") is None:
        return None
    where = f"{where}.gpu_telemetry"
    telemetry = r.mapping(obj["gpu_telemetry"], where)
    if "series" not in telemetry:
        return None
    at = f"{where}.series"
    series = r.mapping(telemetry["series"], at)
    columns: dict[str, tuple[float, ...]] = {
        name: r.durations(series, name, at) for name in SERIES_DECIMALS
    }
    masks = _ints(r, series, "slowdown_mask", at)
    readings = len(columns["t_s"])
    if not readings:
        raise r.fail(f"{at}.t_s", "a series needs at least one reading")
    for name, values in (*columns.items(), ("slowdown_mask", masks)):
        if len(values) != readings:
            raise r.fail(f"{at}.{name}", f"{len(values)} values for {readings} readings (t_s)")
    samples = tuple(
        GpuSample(**{name: values[i] for name, values in columns.items()}, slowdown_mask=masks[i])
        for i in range(readings)
    )
    return GpuTelemetry(
        index=r.integer(telemetry, "gpu", where),
        samples=samples,
        other_processes=r.integer(telemetry, "other_processes", where),
    )


def _op(r: _Reader, raw: object, where: str) -> OpTime:
    obj = r.mapping(raw, where)
    return OpTime(
        op_type=r.string(obj, "op_type", where),
        node=r.string(obj, "node", where),
        total_ms=r.duration(r.get(obj, "total_ms", where), f"{where}.total_ms"),
        calls=r.integer(obj, "calls", where),
        share=r.duration(r.get(obj, "share", where), f"{where}.share"),
    )


def _op_type(r: _Reader, raw: object, where: str) -> OpTypeTime:
    obj = r.mapping(raw, where)
    return OpTypeTime(
        op_type=r.string(obj, "op_type", where),
        per_call=r.integer(obj, "per_call", where),
        total_ms=r.duration(r.get(obj, "total_ms", where), f"{where}.total_ms"),
        share=r.duration(r.get(obj, "share", where), f"{where}.share"),
    )


def _trace(r: _Reader, obj: Mapping[str, Any], where: str) -> Trace | None:
    if obj.get("trace") is None:
        return None
    where = f"{where}.trace"
    raw = r.mapping(obj["trace"], where)
    by_type = r.items(raw, "by_type", where, optional=True)
    return Trace(
        runtime=r.string(raw, "runtime", where),
        calls=r.integer(raw, "calls", where, minimum=1),
        call_ms=r.duration(r.get(raw, "call_ms", where), f"{where}.call_ms"),
        ops=tuple(
            _op(r, op, f"{where}.ops[{i}]") for i, op in enumerate(r.items(raw, "ops", where))
        ),
        by_type=tuple(_op_type(r, t, f"{where}.by_type[{i}]") for i, t in enumerate(by_type)),
    )


def _cpu(r: _Reader, obj: Mapping[str, Any], where: str) -> CpuUsage | None:
    if obj.get("cpu") is None:
        return None
    where = f"{where}.cpu"
    raw = r.mapping(obj["cpu"], where)
    load = raw.get("load_average")
    threads = raw.get("torch_threads")
    waited = raw.get("run_queue_wait_s")  # absent before it was recorded
    wait_at = f"{where}.run_queue_wait_s"
    return CpuUsage(
        wall_s=r.duration(r.get(raw, "wall_s", where), f"{where}.wall_s"),
        process_cpu_s=r.duration(r.get(raw, "process_cpu_s", where), f"{where}.process_cpu_s"),
        cores=r.integer(raw, "cores", where, minimum=1),
        load_average=None if load is None else r.duration(load, f"{where}.load_average"),
        torch_threads=None if threads is None else r.integer(raw, "torch_threads", where, 1),
        run_queue_wait_s=None if waited is None else r.duration(waited, wait_at),
    )


def _check(r: _Reader, raw: object, where: str) -> Check:
    obj = r.mapping(raw, where)
    low = _optional_number(r, obj, "low", where)
    high = _optional_number(r, obj, "high", where)
    common: dict[str, Any] = {
        "metric": r.string(obj, "metric", where),
        "baseline": r.number(obj, "baseline", where),
        "current": r.number(obj, "current", where),
        "low": -math.inf if low is None else low,
        "high": math.inf if high is None else high,
        "tolerance": r.number(obj, "tolerance", where),
        "outcome": _enum(r, Outcome, r.get(obj, "outcome", where), f"{where}.outcome"),
        "mdr": _optional_number(r, obj, "mdr", where),
        "p_value": _optional_number(r, obj, "p_value", where),
    }
    deciding = obj.get("deciding", True)  # absent: it decided (files before it was written)
    if not isinstance(deciding, bool):
        raise r.fail(f"{where}.deciding", f"expected true or false, got {deciding!r}")
    if "paired" not in obj:
        return Check(**common, deciding=deciding)
    worse, better = obj.get("worse"), obj.get("better")
    return AccuracyCheck(
        **common,
        paired=bool(obj["paired"]),
        worse=None if worse is None else r.integer(obj, "worse", where),
        better=None if better is None else r.integer(obj, "better", where),
        flip_rate=_optional_number(r, obj, "flip_rate", where),
    )


def _verdict(r: _Reader, raw: object, key: str, kind: str, where: str) -> Verdict:
    obj = r.mapping(raw, where)
    checks_raw = r.items(obj, "checks", where)
    reason = obj.get("reason", "")
    change = obj.get("model_change", "")
    return Verdict(
        key=key,
        kind=kind,
        outcome=_enum(r, Outcome, r.get(obj, "outcome", where), f"{where}.outcome"),
        checks=tuple(_check(r, c, f"{where}.checks[{i}]") for i, c in enumerate(checks_raw)),
        reason=reason if isinstance(reason, str) else "",
        model_change=change if isinstance(change, str) else "",
    )


#: Runtime-fact fields by JSON type; the rest are optional strings.
_FACT_INTEGERS = frozenset(
    {"intra_op_threads", "inter_op_threads", "model_bytes", "parameters", "torch_threads"}
)
_FACT_FLAGS = frozenset({"spinning"})


def _facts(r: _Reader, obj: Mapping[str, Any], name: str, where: str) -> RuntimeFacts | None:
    """The runtime facts under ``name``, or ``None`` when absent or null."""
    if obj.get(name) is None:
        return None
    at = f"{where}.{name}"
    raw = r.mapping(obj[name], at)
    fields: dict[str, Any] = {"runtime": r.string(raw, "runtime", at)}
    providers = raw.get("providers", [])
    if not isinstance(providers, list) or not all(isinstance(p, str) for p in providers):
        raise r.fail(f"{at}.providers", f"expected a list of strings, got {providers!r}")
    fields["providers"] = tuple(providers)
    histogram = r.mapping(raw.get("op_histogram", {}), f"{at}.op_histogram")
    fields["op_histogram"] = {
        op: r.integer(histogram, op, f"{at}.op_histogram") for op in histogram
    }
    for f in dataclasses.fields(RuntimeFacts):
        if f.name in fields or raw.get(f.name) is None:
            continue
        if f.name in _FACT_INTEGERS:
            fields[f.name] = r.integer(raw, f.name, at)
        elif f.name in _FACT_FLAGS:
            if not isinstance(raw[f.name], bool):
                raise r.fail(f"{at}.{f.name}", f"expected true or false, got {raw[f.name]!r}")
            fields[f.name] = raw[f.name]
        else:
            fields[f.name] = r.string(raw, f.name, at)
    return RuntimeFacts(**fields)


def _measurement(r: _Reader, raw: object, where: str) -> Measurement:
    obj = r.mapping(raw, where)
    key = r.string(obj, "key", where)
    kind = r.string(obj, "kind", where)
    result: LatencyResult | ComparisonResult | AccuracyResult
    if kind == "latency":
        result = _latency(r, obj, key, where)
    elif kind == "ratio":
        result = _ratio(r, obj, key, where)
    elif kind == "accuracy":
        result = _accuracy(r, obj, key, where)
    else:
        raise r.fail(f"{where}.kind", f"unknown measurement kind {kind!r}; known: {KINDS}")
    verdict = _verdict(r, r.get(obj, "verdict", where), key, kind, f"{where}.verdict")
    return Measurement(
        nodeid=r.string(obj, "nodeid", where),
        result=result,
        verdict=verdict,
        tolerances={},
        gpu=_gpu(r, obj, where),
        facts=_facts(r, obj, "runtime_facts", where),
        reference_facts=_facts(r, obj, "reference_runtime_facts", where),
        trace=_trace(r, obj, where),
        cpu=_cpu(r, obj, where),
    )


def decode_results(document: object, source: str) -> ResultsFile:
    """Validate and decode a parsed results document; ``source`` names it in errors."""
    r = _Reader(source)
    obj = r.mapping(document, "top level")
    not_ours = "not a pytest-infergate results file (write one with --infer-json)"
    if "schema_version" not in obj:
        raise r.fail("top level.schema_version", f"missing: {not_ours}")
    version = obj["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise r.fail("schema_version", f"expected an integer >= 1, got {version!r}")
    if version > RESULTS_SCHEMA_VERSION:
        raise r.fail(
            "schema_version",
            f"version {version} is newer than this pytest-infergate reads "
            f"({RESULTS_SCHEMA_VERSION}); upgrade pytest-infergate",
        )
    if "measurements" not in obj:
        hint = "; it looks like a baseline" if "entries" in obj else ""
        raise r.fail("top level.measurements", f"missing: {not_ours}{hint}")
    raw = obj["measurements"]
    if not isinstance(raw, list):
        raise r.fail("measurements", f"expected a list, got {type(raw).__name__}")
    return ResultsFile(
        schema_version=version,
        machine=r.string(obj, "machine", "top level"),
        fingerprint=decode_fingerprint(r, r.get(obj, "fingerprint", "top level"), "fingerprint"),
        measurements=tuple(_measurement(r, m, f"measurements[{i}]") for i, m in enumerate(raw)),
    )
