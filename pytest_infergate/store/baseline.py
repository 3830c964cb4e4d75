"""The baseline file: a schema-versioned JSON codec, updates, and atomic writes.

The baseline is meant to be committed, so its text is diff-friendly (sorted
keys, two-space indent, one number per line, 4 significant digits) and a write
either replaces the whole file or leaves it as it was.

Schema history (a line per format change, with its commit: docs/design.md, "Schema
history"):

* 1 -- (pytest-infergate 0.1) latency entries with per-machine statistics, a
  history of the last 10 run medians and a 21-point quantile sketch.
* 2 -- "ratio" entries (``infer_bench.compare``: candidate/reference ratio of
  medians per machine, with a history of the last 10 ratios); "accuracy" entries
  (machine-independent) with the metric, the slice's sha256 and the per-example
  predictions as base64 of little-endian uint16/uint32 class ids; latency records
  gain ``history_p95_ms`` (optional; the newest run last, like
  ``history_p50_ms``). Version 1 files load unchanged. Later, still version 2:
  latency records gain an optional ``model_sha256`` (the measured model's
  digest, see :mod:`pytest_infergate.measure.provenance`); files without it load.
  Later again, still version 2: accuracy entries gain an optional
  ``model_sha256``, ratio records optional ``model_sha256`` (the candidate's)
  and ``reference_model_sha256``; files without them load. Later again: latency
  records gain an optional ``history_recorded_at`` (when each of the newest runs
  of the history was recorded, newest last), which tells the gate whether the
  history spans more than one sitting; files without it load. Later again:
  latency records gain optional ``cpu_clock`` (``"thread"`` or ``"process"``),
  ``cpu_p50_ms`` (the median CPU time per call on that clock) and
  ``history_cpu_p50_ms`` (its run medians, newest last, restarted when the clock
  changes) with ``history_cpu_per_wall`` (each run's CPU time over wall time of its
  timed calls); files without them load, and their entries are gated on wall time only.
  Later again: every record that keeps a model digest may keep ``model_build_sha256``
  too (ratio records also ``reference_model_build_sha256``): the digest of what the
  model was built from, when its build says so, so that a rebuild from the same
  inputs on another machine is told from another model; files without them load.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as _dt
import glob
import hashlib
import json
import math
import os
import re
import signal
import stat
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.measure.telemetry import GpuFacts
from pytest_infergate.results import AccuracyResult, ComparisonResult, LatencyResult

SCHEMA_VERSION = 2
HISTORY_LENGTH = 10
#: The CPU clocks a record's CPU cost can be measured on (see
#: :mod:`pytest_infergate.measure.timing`).
CPU_CLOCKS = ("thread", "process")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BaselineError(ValueError):
    """A baseline or results file that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class LatencyRecord:
    """One machine profile's stored statistics for a latency entry."""

    n: int
    batch_size: int
    mean_ms: float
    stdev_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    history_p50_ms: tuple[float, ...]
    sketch_ms: tuple[float, ...]
    recorded_at: str
    history_p95_ms: tuple[float, ...] = ()
    model_sha256: str | None = None
    #: ISO times of the newest runs of the history, newest last (may be shorter than the
    #: history: runs recorded before the times were kept have none).
    history_recorded_at: tuple[str, ...] = ()
    #: The digest of what the model was built from, when its build says so (see
    #: :func:`pytest_infergate.measure.provenance.build_digest`): a rebuild on another machine
    #: differs in bytes, not in inputs.
    model_build_sha256: str | None = None
    #: The CPU clock of the CPU-cost figures (``"thread"`` or ``"process"``), the median
    #: CPU time per call on it, and its past run medians (newest last); absent in records
    #: written before CPU cost was measured.
    cpu_clock: str | None = None
    cpu_p50_ms: float | None = None
    history_cpu_p50_ms: tuple[float, ...] = ()
    #: Each of those runs' CPU time over wall time of its timed calls (sums over the
    #: samples): what the call got of a core, against which a later run is "starved".
    history_cpu_per_wall: tuple[float, ...] = ()

    def percentile_ms(self, name: str) -> float:
        value: float = getattr(self, f"{name}_ms")
        return value

    def history_ms(self, name: str) -> tuple[float, ...]:
        """Past run values of percentile ``name`` (oldest first); empty when not kept."""
        if name == "p50":
            return self.history_p50_ms
        if name == "p95":
            return self.history_p95_ms
        return ()


@dataclass(frozen=True)
class LatencyEntry:
    """A latency measurement's baseline: statistics per machine profile."""

    machines: dict[str, LatencyRecord]
    tolerance: dict[str, float] = field(default_factory=dict)
    kind: str = "latency"


@dataclass(frozen=True)
class AccuracyEntry:
    """An accuracy measurement's baseline; machine-independent, so one per key.

    ``predictions`` are the class ids predicted for the slice, in slice order: a
    later run on the same slice (same ``slice_sha256``) is paired with them
    example by example. ``correct`` and ``n`` serve the unpaired fallback when
    the slice changed; ``sampling`` lets the summary say how.
    """

    metric: str
    value: float
    n: int
    correct: int
    slice_sha256: str
    sampling: str
    predictions: tuple[int, ...]
    recorded_at: str
    model_sha256: str | None = None
    kind: str = "accuracy"
    model_build_sha256: str | None = None


@dataclass(frozen=True)
class RatioRecord:
    """One machine profile's stored A/B ratio (candidate/reference medians; > 1 is slower)."""

    n: int
    batch_size: int
    ratio: float
    ratio_low: float
    ratio_high: float
    candidate_p50_ms: float
    reference_p50_ms: float
    history_ratio: tuple[float, ...]
    recorded_at: str
    model_sha256: str | None = None
    reference_model_sha256: str | None = None
    model_build_sha256: str | None = None
    reference_model_build_sha256: str | None = None


@dataclass(frozen=True)
class RatioEntry:
    """An ``infer_bench.compare`` measurement's baseline: the ratio per machine profile."""

    machines: dict[str, RatioRecord]
    tolerance: dict[str, float] = field(default_factory=dict)
    kind: str = "ratio"


#: Any baseline entry; ``kind`` tells them apart in the file.
Entry = LatencyEntry | RatioEntry | AccuracyEntry


def stored_digests(
    entry: object, profile: str, *, build: bool = False
) -> tuple[str | None, str | None]:
    """The model digests stored with ``entry``: (the measured model's, an A/B reference's);
    with ``build``, the digests of what those models were built from.

    Per-machine entries answer from ``profile``'s record first, then any other
    machine's: re-recording on one machine leaves the others' digests behind."""
    suffix = "_build_sha256" if build else "_sha256"
    if isinstance(entry, AccuracyEntry):
        return getattr(entry, f"model{suffix}"), None
    if not isinstance(entry, (LatencyEntry, RatioEntry)):
        return None, None
    records = [entry.machines.get(profile), *entry.machines.values()]

    def first(name: str) -> str | None:
        found = (getattr(r, name, None) for r in records if r is not None)
        return next((digest for digest in found if digest), None)

    return first(f"model{suffix}"), first(f"reference_model{suffix}")


@dataclass(frozen=True)
class Baseline:
    """The whole baseline file: entries by measurement key, fingerprints by profile id."""

    entries: dict[str, Entry] = field(default_factory=dict)
    machines: dict[str, Fingerprint] = field(default_factory=dict)

    def with_latency(
        self,
        result: LatencyResult,
        *,
        profile: str,
        fingerprint: Fingerprint,
        tolerance: Mapping[str, float],
        recorded_at: str,
        model_sha256: str | None = None,
        model_build_sha256: str | None = None,
    ) -> Baseline:
        """A copy with ``result`` recorded for ``profile``; other machines and entries stay.
        ``model_sha256`` is the measured model's digest, when it is known, and
        ``model_build_sha256`` the digest of its build's inputs."""
        from pytest_infergate.judge.stats import sketch_ms

        previous = self.entries.get(result.key)
        machines = dict(previous.machines) if isinstance(previous, LatencyEntry) else {}
        old = machines.get(profile)
        history = (*(old.history_p50_ms if old else ()), result.p50_ms)[-HISTORY_LENGTH:]
        history_p95 = (*(old.history_p95_ms if old else ()), result.p95_ms)[-HISTORY_LENGTH:]
        stamps = (*(old.history_recorded_at if old else ()), recorded_at)[-len(history) :]
        history_cpu: tuple[float, ...] = ()
        history_share: tuple[float, ...] = ()
        # A call that used no measurable CPU (all waiting, or a coarse clock) has no cost figure.
        measured = result.cpu_p50_ms and result.cpu_per_wall
        if measured and result.cpu_p50_ms is not None and result.cpu_per_wall is not None:
            same_clock = old is not None and old.cpu_clock == result.cpu_clock
            past_cpu = old.history_cpu_p50_ms if old is not None and same_clock else ()
            history_cpu = (*past_cpu, result.cpu_p50_ms)[-HISTORY_LENGTH:]
            past_share = old.history_cpu_per_wall if old is not None and same_clock else ()
            history_share = (*past_share, result.cpu_per_wall)[-HISTORY_LENGTH:]
        machines[profile] = LatencyRecord(
            n=result.n,
            batch_size=result.batch_size,
            mean_ms=result.mean_ms,
            stdev_ms=result.stdev_ms,
            min_ms=result.min_ms,
            max_ms=result.max_ms,
            p50_ms=result.p50_ms,
            p90_ms=result.p90_ms,
            p95_ms=result.p95_ms,
            p99_ms=result.p99_ms,
            history_p50_ms=history,
            sketch_ms=sketch_ms(result.samples_ns),
            recorded_at=recorded_at,
            history_p95_ms=history_p95,
            model_sha256=model_sha256,
            history_recorded_at=stamps,
            model_build_sha256=model_build_sha256,
            cpu_clock=result.cpu_clock if history_cpu else None,
            cpu_p50_ms=result.cpu_p50_ms if history_cpu else None,
            history_cpu_p50_ms=history_cpu,
            history_cpu_per_wall=history_share,
        )
        entries = dict(self.entries)
        entries[result.key] = LatencyEntry(machines=machines, tolerance=dict(tolerance))
        return replace(self, entries=entries, machines={**self.machines, profile: fingerprint})

    def with_accuracy(
        self,
        result: AccuracyResult,
        *,
        recorded_at: str,
        model_sha256: str | None = None,
        model_build_sha256: str | None = None,
    ) -> Baseline:
        """A copy with ``result`` as the accuracy entry of its key; other entries stay.
        ``model_sha256`` is the evaluated model's digest, when it is known."""
        entries = dict(self.entries)
        entries[result.key] = AccuracyEntry(
            metric=result.metric,
            value=result.value,
            n=result.n,
            correct=result.correct,
            slice_sha256=result.slice_sha256,
            sampling=result.sampling,
            predictions=result.predictions,
            recorded_at=recorded_at,
            model_sha256=model_sha256,
            model_build_sha256=model_build_sha256,
        )
        return replace(self, entries=entries)

    def with_ratio(
        self,
        result: ComparisonResult,
        *,
        profile: str,
        fingerprint: Fingerprint,
        tolerance: Mapping[str, float],
        recorded_at: str,
        model_sha256: str | None = None,
        reference_model_sha256: str | None = None,
        model_build_sha256: str | None = None,
        reference_model_build_sha256: str | None = None,
    ) -> Baseline:
        """A copy with the A/B ``result``'s ratio recorded for ``profile``; others stay.
        ``model_sha256``/``reference_model_sha256`` are the arms' model digests, when known."""
        previous = self.entries.get(result.key)
        machines = dict(previous.machines) if isinstance(previous, RatioEntry) else {}
        old = machines.get(profile)
        history = (*(old.history_ratio if old else ()), result.ratio)[-HISTORY_LENGTH:]
        machines[profile] = RatioRecord(
            n=result.n,
            batch_size=result.batch_size,
            ratio=result.ratio,
            ratio_low=result.ratio_low,
            ratio_high=result.ratio_high,
            candidate_p50_ms=result.candidate.p50_ms,
            reference_p50_ms=result.reference.p50_ms,
            history_ratio=history,
            recorded_at=recorded_at,
            model_sha256=model_sha256,
            reference_model_sha256=reference_model_sha256,
            model_build_sha256=model_build_sha256,
            reference_model_build_sha256=reference_model_build_sha256,
        )
        entries = dict(self.entries)
        entries[result.key] = RatioEntry(machines=machines, tolerance=dict(tolerance))
        return replace(self, entries=entries, machines={**self.machines, profile: fingerprint})


# -- encoding ---------------------------------------------------------------------------


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
    return {
        "schema_version": SCHEMA_VERSION,
        "entries": {key: _encode_entry(entry) for key, entry in baseline.entries.items()},
        "machines": {p: encode_fingerprint(f) for p, f in baseline.machines.items()},
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The one text form of our JSON files: sorted keys, 2-space indent, newline at the end."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"


# -- decoding ---------------------------------------------------------------------------

LATENCY_FIGURES = (
    "mean_ms",
    "stdev_ms",
    "min_ms",
    "max_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
)


#: The range a stored time (in ms) or ratio may take: 1 fs to about 11.6 days, far
#: beyond any model call either way, and narrow enough that the gate's logarithms and
#: exponentials of a history stay finite (and 0, whose logarithm is not, is out).
MIN_TIME_MS = 1e-9
MAX_TIME_MS = 1e9

#: The largest integer a count or a raw sample (ns) may hold: what numpy's int64 holds.
MAX_INTEGER = 2**63 - 1


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value: object) -> str:
    """``repr(value)``, cut short: a 5000-digit integer does not belong in a one-line error."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else f"{text[:57]}..."


class _Reader:
    """Typed access to untrusted JSON that names the first bad field in its error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> BaselineError:
        return BaselineError(f"{self.source}: {where}: {problem}")

    def mapping(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {type(value).__name__}")
        return value

    def get(self, obj: Mapping[str, Any], name: str, where: str) -> Any:
        if name not in obj:
            raise self.fail(f"{where}.{name}", "missing")
        return obj[name]

    def string(self, obj: Mapping[str, Any], name: str, where: str) -> str:
        value = self.get(obj, name, where)
        if not isinstance(value, str):
            raise self.fail(f"{where}.{name}", f"expected a string, got {_short(value)}")
        return value

    def integer(self, obj: Mapping[str, Any], name: str, where: str, minimum: int = 0) -> int:
        value = self.get(obj, name, where)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not minimum <= value <= MAX_INTEGER
        ):
            raise self.fail(
                f"{where}.{name}", f"expected an integer >= {minimum}, got {_short(value)}"
            )
        return value

    def real(self, value: object, where: str) -> float:
        """A finite JSON number as a float (an integer too large for a float is refused)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a finite number, got {_short(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise self.fail(where, f"expected a finite number, got {_short(value)}") from None
        if not math.isfinite(number):
            raise self.fail(where, f"expected a finite number, got {_short(value)}")
        return number

    def duration(self, value: object, where: str) -> float:
        try:
            number = self.real(value, where)
        except BaselineError:
            number = math.nan
        if not number >= 0:
            raise self.fail(where, f"expected a finite number >= 0, got {_short(value)}")
        return number

    def time_ms(self, value: object, where: str, *, zero: bool = False) -> float:
        """A stored time in milliseconds, within :data:`MIN_TIME_MS`..:data:`MAX_TIME_MS`
        (or 0, with ``zero``): the gate takes logarithms of these."""
        return self.positive(value, where, zero=zero, what="a time in ms")

    def positive(
        self, value: object, where: str, *, zero: bool = False, what: str = "a number"
    ) -> float:
        """A finite number from :data:`MIN_TIME_MS` to :data:`MAX_TIME_MS` (or 0, with
        ``zero``)."""
        number = self.real(value, where)
        if not ((zero and number == 0) or MIN_TIME_MS <= number <= MAX_TIME_MS):
            bound = ">= 0 (0, or" if zero else "> 0 (from"
            raise self.fail(
                where,
                f"expected {what} {bound} {MIN_TIME_MS:g} to {MAX_TIME_MS:g}), got "
                f"{_short(value)}; fix the value or delete the entry, then re-record it",
            )
        return number

    def number(self, obj: Mapping[str, Any], name: str, where: str) -> float:
        return self.real(self.get(obj, name, where), f"{where}.{name}")

    def items(
        self, obj: Mapping[str, Any], name: str, where: str, *, optional: bool = False
    ) -> list[Any]:
        """The list under ``name`` (empty when ``optional`` and absent), items unchecked."""
        if optional and name not in obj:
            return []
        value = self.get(obj, name, where)
        if not isinstance(value, list):
            raise self.fail(f"{where}.{name}", f"expected a list, got {type(value).__name__}")
        return value

    def durations(
        self, obj: Mapping[str, Any], name: str, where: str, *, optional: bool = False
    ) -> tuple[float, ...]:
        value = self.items(obj, name, where, optional=optional)
        return tuple(self.duration(v, f"{where}.{name}[{i}]") for i, v in enumerate(value))

    def times_ms(
        self, obj: Mapping[str, Any], name: str, where: str, *, optional: bool = False
    ) -> tuple[float, ...]:
        value = self.items(obj, name, where, optional=optional)
        return tuple(self.time_ms(v, f"{where}.{name}[{i}]") for i, v in enumerate(value))

    def digest(self, obj: Mapping[str, Any], name: str, where: str) -> str | None:
        """An optional sha256: 64 lowercase hex digits, or ``None`` when absent."""
        if name not in obj:
            return None
        value = self.string(obj, name, where)
        if not _SHA256.fullmatch(value):
            raise self.fail(
                f"{where}.{name}", f"expected 64 lowercase hex digits, got {_short(value)}"
            )
        return value

    def times(self, obj: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
        """An optional list of ISO 8601 times (empty when absent)."""
        value = self.items(obj, name, where, optional=True)
        for i, item in enumerate(value):
            if not isinstance(item, str) or parse_time(item) is None:
                raise self.fail(
                    f"{where}.{name}[{i}]", f"expected an ISO 8601 time, got {_short(item)}"
                )
        return tuple(value)

    def string_map(self, obj: Mapping[str, Any], name: str, where: str) -> dict[str, str]:
        value = self.mapping(obj.get(name, {}), f"{where}.{name}")
        for key, item in value.items():
            if not isinstance(item, str):
                raise self.fail(f"{where}.{name}.{key}", f"expected a string, got {_short(item)}")
        return dict(value)


def parse_time(text: str) -> _dt.datetime | None:
    """An ISO 8601 time (naive times read as UTC), or ``None`` when ``text`` is not one."""
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def _decode_record(r: _Reader, raw: object, where: str) -> LatencyRecord:
    obj = r.mapping(raw, where)
    floats: dict[str, Any] = {
        name: r.time_ms(r.get(obj, name, where), f"{where}.{name}", zero=name == "stdev_ms")
        for name in LATENCY_FIGURES
    }
    return LatencyRecord(
        n=r.integer(obj, "n", where, minimum=1),
        batch_size=r.integer(obj, "batch_size", where, minimum=1),
        history_p50_ms=r.times_ms(obj, "history_p50_ms", where),
        sketch_ms=r.times_ms(obj, "sketch_ms", where),
        recorded_at=r.string(obj, "recorded_at", where),
        history_p95_ms=r.times_ms(obj, "history_p95_ms", where, optional=True),
        model_sha256=r.digest(obj, "model_sha256", where),
        history_recorded_at=r.times(obj, "history_recorded_at", where),
        model_build_sha256=r.digest(obj, "model_build_sha256", where),
        **_decode_cpu(r, obj, where),
        **floats,
    )


def _decode_cpu(r: _Reader, obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A record's optional CPU-cost fields: all three, or none."""
    if "cpu_p50_ms" not in obj:
        return {}
    clock = r.string(obj, "cpu_clock", where)
    if clock not in CPU_CLOCKS:
        known = ", ".join(CPU_CLOCKS)
        raise r.fail(f"{where}.cpu_clock", f"unknown clock {clock!r}; known: {known}")
    return {
        "cpu_clock": clock,
        "cpu_p50_ms": r.time_ms(r.get(obj, "cpu_p50_ms", where), f"{where}.cpu_p50_ms"),
        "history_cpu_p50_ms": r.times_ms(obj, "history_cpu_p50_ms", where, optional=True),
        "history_cpu_per_wall": tuple(
            r.positive(v, f"{where}.history_cpu_per_wall[{i}]")
            for i, v in enumerate(r.items(obj, "history_cpu_per_wall", where, optional=True))
        ),
    }


def _decode_ratio_record(r: _Reader, raw: object, where: str) -> RatioRecord:
    obj = r.mapping(raw, where)

    def positive(name: str) -> float:
        return r.positive(r.get(obj, name, where), f"{where}.{name}")

    history_raw = r.items(obj, "history_ratio", where)
    history = tuple(r.positive(v, f"{where}.history_ratio[{i}]") for i, v in enumerate(history_raw))
    high_raw = r.get(obj, "ratio_high", where)
    ratio = positive("ratio")
    low = r.positive(r.get(obj, "ratio_low", where), f"{where}.ratio_low", zero=True)
    high = math.inf if high_raw is None else r.positive(high_raw, f"{where}.ratio_high")
    if not low <= ratio <= high:
        raise r.fail(where, f"ratio {ratio} is not inside its interval [{low}, {high}]")
    return RatioRecord(
        n=r.integer(obj, "n", where, minimum=1),
        batch_size=r.integer(obj, "batch_size", where, minimum=1),
        ratio=ratio,
        ratio_low=low,
        ratio_high=high,
        candidate_p50_ms=positive("candidate_p50_ms"),
        reference_p50_ms=positive("reference_p50_ms"),
        history_ratio=history,
        recorded_at=r.string(obj, "recorded_at", where),
        model_sha256=r.digest(obj, "model_sha256", where),
        reference_model_sha256=r.digest(obj, "reference_model_sha256", where),
        model_build_sha256=r.digest(obj, "model_build_sha256", where),
        reference_model_build_sha256=r.digest(obj, "reference_model_build_sha256", where),
    )


def _decode_speed_entry(
    r: _Reader, obj: Mapping[str, Any], where: str
) -> LatencyEntry | RatioEntry:
    kind = obj["kind"]
    tolerance_raw = r.mapping(obj.get("tolerance", {}), f"{where}.tolerance")
    tolerance = {k: r.duration(v, f"{where}.tolerance.{k}") for k, v in tolerance_raw.items()}
    machines_raw = r.mapping(r.get(obj, "machines", where), f"{where}.machines")
    if kind == "ratio":
        return RatioEntry(
            machines={
                profile: _decode_ratio_record(r, record, f"{where}.machines[{profile!r}]")
                for profile, record in machines_raw.items()
            },
            tolerance=tolerance,
        )
    machines = {
        profile: _decode_record(r, record, f"{where}.machines[{profile!r}]")
        for profile, record in machines_raw.items()
    }
    return LatencyEntry(machines=machines, tolerance=tolerance)


def _decode_predictions(r: _Reader, obj: Mapping[str, Any], n: int, where: str) -> tuple[int, ...]:
    dtype = r.string(obj, "predictions_dtype", where)
    code = PREDICTION_DTYPES.get(dtype)
    if code is None:
        known = ", ".join(PREDICTION_DTYPES)
        raise r.fail(f"{where}.predictions_dtype", f"unknown dtype {dtype!r}; known: {known}")
    text = r.string(obj, "predictions", where)
    try:
        packed = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise r.fail(f"{where}.predictions", "not valid base64") from None
    size = struct.calcsize(f"<{code}")
    if len(packed) != n * size:
        raise r.fail(
            f"{where}.predictions",
            f"expected {n} {dtype} values ({n * size} bytes) for n={n}, got {len(packed)} bytes",
        )
    return tuple(struct.unpack(f"<{n}{code}", packed))


def _decode_accuracy_entry(r: _Reader, obj: Mapping[str, Any], where: str) -> AccuracyEntry:
    n = r.integer(obj, "n", where, minimum=1)
    correct = r.integer(obj, "correct", where)
    if correct > n:
        raise r.fail(f"{where}.correct", f"{correct} correct out of n={n}")
    digest = r.string(obj, "slice_sha256", where)
    if not _SHA256.fullmatch(digest):
        raise r.fail(f"{where}.slice_sha256", f"expected 64 lowercase hex digits, got {digest!r}")
    return AccuracyEntry(
        metric=r.string(obj, "metric", where),
        value=r.number(obj, "value", where),
        n=n,
        correct=correct,
        slice_sha256=digest,
        sampling=r.string(obj, "sampling", where),
        predictions=_decode_predictions(r, obj, n, where),
        recorded_at=r.string(obj, "recorded_at", where),
        model_sha256=r.digest(obj, "model_sha256", where),
        model_build_sha256=r.digest(obj, "model_build_sha256", where),
    )


_ENTRY_DECODERS: dict[str, Callable[[_Reader, Mapping[str, Any], str], Entry]] = {
    "latency": _decode_speed_entry,
    "ratio": _decode_speed_entry,
    "accuracy": _decode_accuracy_entry,
}


def _decode_entry(r: _Reader, raw: object, where: str) -> Entry:
    obj = r.mapping(raw, where)
    kind = r.string(obj, "kind", where)
    decode = _ENTRY_DECODERS.get(kind)
    if decode is None:
        known = ", ".join(sorted(_ENTRY_DECODERS))
        raise r.fail(f"{where}.kind", f"unknown entry kind {kind!r}; known: {known}")
    return decode(r, obj, where)


def decode_fingerprint(r: _Reader, raw: object, where: str) -> Fingerprint:
    obj = r.mapping(raw, where)
    ram = r.get(obj, "ram_gib", where)
    return Fingerprint(
        cpu=r.string(obj, "cpu", where),
        cores=r.integer(obj, "cores", where, minimum=1),
        ram_gib=r.duration(ram, f"{where}.ram_gib"),
        os=r.string(obj, "os", where),
        arch=r.string(obj, "arch", where),
        python=r.string(obj, "python", where),
        libraries=r.string_map(obj, "libraries", where),
        thread_env=r.string_map(obj, "thread_env", where),
        gpus=_decode_gpus(r, obj.get("gpus", []), f"{where}.gpus"),
    )


def _decode_gpus(r: _Reader, raw: object, where: str) -> tuple[GpuFacts, ...]:
    if not isinstance(raw, list):
        raise r.fail(where, f"expected a list, got {type(raw).__name__}")
    gpus = []
    for i, item in enumerate(raw):
        obj = r.mapping(item, f"{where}[{i}]")
        at = f"{where}[{i}]"
        gpus.append(
            GpuFacts(
                index=r.integer(obj, "index", at),
                name=r.string(obj, "name", at),
                memory_gib=r.duration(r.get(obj, "memory_gib", at), f"{at}.memory_gib"),
                driver=r.string(obj, "driver", at),
                cuda_driver=r.string(obj, "cuda_driver", at),
                compute_capability=r.string(obj, "compute_capability", at),
            )
        )
    return tuple(gpus)


def check_schema_version(r: _Reader, document: Mapping[str, Any]) -> int:
    """The document's schema version; refuses versions this release cannot read."""
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise r.fail("schema_version", f"expected an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise r.fail(
            "schema_version",
            f"version {version} is newer than this pytest-infergate reads ({SCHEMA_VERSION}); "
            "upgrade pytest-infergate",
        )
    if version < 1:
        raise r.fail("schema_version", f"unknown version {version}")
    return version


def decode_baseline(document: object, source: str) -> Baseline:
    """Validate and decode a parsed baseline document; ``source`` names it in errors."""
    r = _Reader(source)
    obj = r.mapping(document, "top level")
    version = check_schema_version(r, obj)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        obj = _MIGRATIONS[step](obj)
    entries_raw = r.mapping(r.get(obj, "entries", "top level"), "entries")
    machines_raw = r.mapping(obj.get("machines", {}), "machines")
    return Baseline(
        entries={k: _decode_entry(r, v, f"entries[{k!r}]") for k, v in entries_raw.items()},
        machines={p: decode_fingerprint(r, v, f"machines[{p!r}]") for p, v in machines_raw.items()},
    )


def _update_to_2(document: dict[str, Any]) -> dict[str, Any]:
    """1 -> 2: nothing to rewrite; the fields version 2 added are optional."""
    return {**document, "schema_version": 2}


#: Migration to each schema version from the one before it.
_MIGRATIONS = {2: _update_to_2}


#: The largest file :func:`read_json` parses. A results file keeps every raw sample
#: (about 8 bytes each), so a thousand 10 s measurements of 1 ms calls fit in ~80 MB.
MAX_FILE_BYTES = 256 * 1024 * 1024


def read_json(path: Path) -> object:
    """Parse one of our JSON files, turning every way it can be unusable into a
    :class:`BaselineError`: not a regular file (a FIFO would block forever, ``/dev/zero``
    never ends), larger than :data:`MAX_FILE_BYTES`, not UTF-8, not JSON, nested
    too deeply for the parser, or holding an integer too long to convert. ``NaN``
    parses: the decoders refuse it, naming the field."""
    try:
        status = path.stat()
    except OSError as exc:
        raise BaselineError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(status.st_mode):
        raise BaselineError(f"{path}: is a directory; pass the path of a JSON file")
    if not stat.S_ISREG(status.st_mode):
        raise BaselineError(f"{path}: not a regular file; pass the path of a JSON file")
    if status.st_size > MAX_FILE_BYTES:
        raise BaselineError(
            f"{path}: {status.st_size} bytes, larger than the {MAX_FILE_BYTES} a baseline or "
            "results file may have; pass the right file"
        )
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
        text = data.decode("utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if len(data) > MAX_FILE_BYTES:
        raise BaselineError(f"{path}: grew past {MAX_FILE_BYTES} bytes while being read")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix it, or restore it from version control"
        ) from None
    except RecursionError:
        raise BaselineError(f"{path}: nested too deeply; not a pytest-infergate file") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise BaselineError(f"{path}: not valid JSON ({exc})") from None


def load_baseline(path: Path) -> Baseline:
    """The baseline at ``path``; an empty one when the file does not exist yet."""
    if not path.exists() and not path.is_symlink():
        return Baseline()
    return decode_baseline(read_json(path), str(path))


# -- writing ----------------------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a temporary file beside it, fsync,
    then ``os.replace``. On any failure the old file is untouched and the temporary
    file is removed; SIGTERM while writing counts as a failure, not a silent death.
    A symbolic link is followed: the file it points to is replaced, the link stays."""
    target = Path(os.path.realpath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with _terminate_as_interrupt(), os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
            mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
            os.chmod(temporary, mode)
            os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` while the block runs (main thread only),
    so that the temporary file is removed instead of left behind by a killed process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_writable(path: Path) -> None:
    """Fail early, before any test runs, if ``path`` could not be written at the end.

    Probes by creating a temporary file beside it (beside the file a symbolic link
    points to): permission bits alone say nothing when running as root or on
    read-only mounts.
    """
    if path.is_dir():
        raise BaselineError(f"{path}: is a directory; pass the path of a JSON file")
    directory = Path(os.path.realpath(path)).parent
    if not directory.is_dir():
        raise BaselineError(f"{path}: directory {directory} does not exist; create it first")
    if path.exists() and not path.is_file():
        raise BaselineError(f"{path}: not a regular file; pass the path of a JSON file")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
    except OSError as exc:
        raise BaselineError(
            f"{path}: cannot write in {directory} ({exc.strerror}); "
            "fix its permissions or choose another path"
        ) from None
    os.close(fd)
    os.unlink(probe)


def write_baseline(path: Path, baseline: Baseline) -> None:
    """Write ``baseline`` to ``path`` (atomically); callers that read it first use
    :func:`update_baseline`, so that no concurrent writer's entries are lost."""
    write_atomic(path, dumps(encode_baseline(baseline)))


#: How long a baseline update waits for another process's update of the same file.
LOCK_TIMEOUT_S = 300.0


def lock_path(path: Path) -> Path:
    """The lock file of the baseline at ``path``: in the system's temp directory, keyed
    by the real path, so every process of this machine that updates that file (through
    any symbolic link) takes the same lock, and the user's repository gets no litter."""
    real = os.path.realpath(path)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"infergate-baseline-{digest}.lock"


def update_baseline(
    path: Path, change: Callable[[Baseline], Baseline], *, read: bool = True
) -> Baseline:
    """Read the baseline at ``path``, apply ``change`` and write the result, under the
    file's lock: two runs that update one file at once (two CI jobs on one runner)
    each add their entries to what the other wrote, instead of the last writer
    winning. Temporary files that a killed writer left behind are removed while the
    lock is held (no live writer can own them then). With ``read=False`` the file is
    replaced whole (``change`` gets an empty baseline). Returns what was written."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path(path)), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            remove_stale_temporaries(path)
            updated = change(load_baseline(path) if read else Baseline())
            write_baseline(path, updated)
    except Timeout:
        raise BaselineError(
            f"{path}: another process has held its lock ({lock.lock_file}) for "
            f"{LOCK_TIMEOUT_S:g} s; wait for it to finish, or remove the lock file if "
            "no infergate run is alive"
        ) from None
    return updated


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files of interrupted writes of ``path`` (``.NAME.*.tmp``
    beside the file it resolves to); call it only while holding :func:`lock_path`."""
    target = Path(os.path.realpath(path))
    removed = []
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed.append(leftover)
    return removed
