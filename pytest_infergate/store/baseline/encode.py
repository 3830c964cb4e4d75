"""Baseline records to diff-friendly JSON: sorted keys, two-space indent, values rounded to
4 significant digits where exactness does not matter, predictions as base64."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import struct
from collections.abc import Mapping
from typing import Any

from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.store.baseline.records import (
    LATENCY_FIGURES,
    SCHEMA_VERSION,
    AccuracyEntry,
    Baseline,
    Entry,
    LatencyEntry,
    LatencyRecord,
    RatioEntry,
    RatioRecord,
)

#: The largest relative step of a value rounded by :func:`_round` (1.001 -> 1.002).
RELATIVE_RESOLUTION = 1e-3


def _round(value: float) -> float:
    """4 significant digits: plenty for latencies, and it keeps diffs quiet."""
    return float(f"{value:.4g}")


def encode_fingerprint(fingerprint: Fingerprint) -> dict[str, Any]:
    return {
        "cpu": fingerprint.cpu,
        "cores": fingerprint.cores,
        "ram_gib": fingerprint.ram_gib,
        "os": fingerprint.os,
        "arch": fingerprint.arch,
        "python": fingerprint.python,
        "libraries": dict(fingerprint.libraries),
        "thread_env": dict(fingerprint.thread_env),
        **({"gpus": [dataclasses.asdict(g) for g in fingerprint.gpus]} if fingerprint.gpus else {}),
    }


def _digests(record: LatencyRecord | RatioRecord | AccuracyEntry) -> dict[str, str]:
    """The record's model digests that are known: absent fields keep older files' diffs quiet."""
    names = (
        "model_sha256",
        "reference_model_sha256",
        "model_build_sha256",
        "reference_model_build_sha256",
    )
    return {name: value for name in names if (value := getattr(record, name, None))}


def _encode_record(record: LatencyRecord) -> dict[str, Any]:
    return {
        **_digests(record),
        "n": record.n,
        "batch_size": record.batch_size,
        **{name: _round(getattr(record, name)) for name in LATENCY_FIGURES},
        "history_p50_ms": [_round(v) for v in record.history_p50_ms],
        "history_p95_ms": [_round(v) for v in record.history_p95_ms],
        "sketch_ms": [_round(v) for v in record.sketch_ms],
        "recorded_at": record.recorded_at,
        **(
            {"history_recorded_at": list(record.history_recorded_at)}
            if record.history_recorded_at
            else {}
        ),
        **(
            {
                "cpu_clock": record.cpu_clock,
                "cpu_p50_ms": _round(record.cpu_p50_ms),
                "history_cpu_p50_ms": [_round(v) for v in record.history_cpu_p50_ms],
                "history_cpu_per_wall": [_round(v) for v in record.history_cpu_per_wall],
            }
            if record.cpu_p50_ms is not None
            else {}
        ),
        **(
            {"history_yardstick_ms": [_round(v) for v in record.history_yardstick_ms]}
            if record.history_yardstick_ms
            else {}
        ),
    }


#: Stored widths of prediction arrays: name -> struct code (little-endian in the file).
PREDICTION_DTYPES = {"uint16": "H", "uint32": "I"}


def encode_predictions(predictions: tuple[int, ...]) -> tuple[str, str]:
    """Class ids as (base64 of a little-endian array, dtype name): 2 bytes an example
    when every id fits, else 4. About 2.7 characters an example in the file."""
    dtype = "uint16" if max(predictions, default=0) <= 0xFFFF else "uint32"
    packed = struct.pack(f"<{len(predictions)}{PREDICTION_DTYPES[dtype]}", *predictions)
    return base64.b64encode(packed).decode("ascii"), dtype


def _encode_latency_entry(entry: LatencyEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "tolerance": dict(entry.tolerance),
        "machines": {p: _encode_record(r) for p, r in entry.machines.items()},
    }


def _encode_accuracy_entry(entry: AccuracyEntry) -> dict[str, Any]:
    predictions, dtype = encode_predictions(entry.predictions)
    return {
        "kind": entry.kind,
        "metric": entry.metric,
        "value": float(f"{entry.value:.6g}"),
        "n": entry.n,
        "correct": entry.correct,
        "slice_sha256": entry.slice_sha256,
        "sampling": entry.sampling,
        "predictions": predictions,
        "predictions_dtype": dtype,
        "recorded_at": entry.recorded_at,
        **_digests(entry),
    }


def _encode_ratio_record(record: RatioRecord) -> dict[str, Any]:
    finite_high = math.isfinite(record.ratio_high)
    return {
        "n": record.n,
        "batch_size": record.batch_size,
        "ratio": _round(record.ratio),
        "ratio_low": _round(max(record.ratio_low, 0.0)),
        "ratio_high": _round(record.ratio_high) if finite_high else None,
        "candidate_p50_ms": _round(record.candidate_p50_ms),
        "reference_p50_ms": _round(record.reference_p50_ms),
        "history_ratio": [_round(v) for v in record.history_ratio],
        "recorded_at": record.recorded_at,
        **_digests(record),
    }


def _encode_entry(entry: Entry) -> dict[str, Any]:
    if isinstance(entry, AccuracyEntry):
        return _encode_accuracy_entry(entry)
    if isinstance(entry, RatioEntry):
        machines = {p: _encode_ratio_record(r) for p, r in entry.machines.items()}
        return {"kind": entry.kind, "tolerance": dict(entry.tolerance), "machines": machines}
    return _encode_latency_entry(entry)


def encode_baseline(baseline: Baseline) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "entries": {key: _encode_entry(entry) for key, entry in baseline.entries.items()},
        "machines": {p: encode_fingerprint(f) for p, f in baseline.machines.items()},
    }
    if baseline.revision is not None:
        document["revision"] = {"sha": baseline.revision.sha, "dirty": baseline.revision.dirty}
    return document


def dumps(document: Mapping[str, Any]) -> str:
    """The one text form of our JSON files: sorted keys, 2-space indent, newline at the end."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
