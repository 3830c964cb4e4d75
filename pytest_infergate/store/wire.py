"""Measurements as plain JSON text, for pytest-xdist workers to send to the controller
and for an ``--infer-against`` companion to send its accuracy results.

Lossless, unlike the results file (which drops what only the session needs, such as
tolerances and check notes), and pickle-free: the decoder builds only the record
types listed in :data:`_RECORDS` and :data:`_ENUMS`, from their constructor fields,
so each record's ``__post_init__`` validates and derives its statistics again.

Encoding: a dataclass is ``{"@": type name, field: value, ...}`` (``init`` fields
only); an enum member ``{"@enum": type name, "value": value}``; a tuple
``{"@tuple": [...]}``; a dict ``{"@dict": {...}}`` (string keys). Floats may be
infinite (JSON ``Infinity``, as Python's ``json`` writes it).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Sequence
from typing import Any

from pytest_infergate.measure.cpu import CpuUsage
from pytest_infergate.measure.provenance import RuntimeFacts
from pytest_infergate.measure.telemetry import GpuSample, GpuTelemetry
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

#: Wire format history: 1 -- first version.
WIRE_VERSION = 1

_RECORDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        AccuracyCheck,
        AccuracyResult,
        Check,
        CpuUsage,
        ComparisonResult,
        FixedGates,
        LatencyResult,
        Measurement,
        RuntimeFacts,
        Verdict,
        GpuSample,
        GpuTelemetry,
        OpTime,
        OpTypeTime,
        Trace,
    )
}
_ENUMS: dict[str, type[enum.Enum]] = {cls.__name__: cls for cls in (Outcome, StopReason)}


class WireError(ValueError):
    """A worker's message that cannot be decoded (a version skew, or a bug)."""


def _plain(value: object) -> Any:
    if isinstance(value, enum.Enum):
        return {"@enum": type(value).__name__, "value": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _RECORDS.get(name) is not type(value):
            raise TypeError(f"{name} is not a wire record")
        fields = {
            f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return {"@": name, **fields}
    if isinstance(value, tuple):
        return {"@tuple": [_plain(v) for v in value]}
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys")):
        return {"@dict": {str(k): _plain(v) for k, v in value.items()}}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} to the controller")


def _built(value: Any) -> Any:
    if isinstance(value, list):
        return [_built(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "@enum" in value:
        cls = _ENUMS.get(value["@enum"])
        if cls is None:
            raise WireError(f"unknown enum {value['@enum']!r}")
        return cls(value["value"])
    if "@tuple" in value:
        return tuple(_built(v) for v in value["@tuple"])
    if "@dict" in value:
        return {k: _built(v) for k, v in value["@dict"].items()}
    if "@" in value:
        record = _RECORDS.get(value["@"])
        if record is None:
            raise WireError(f"unknown record type {value['@']!r}")
        return record(**{k: _built(v) for k, v in value.items() if k != "@"})
    raise WireError(f"untagged object with keys {sorted(value)}")


def encode_measurements(measurements: Sequence[Measurement]) -> str:
    """The measurements as JSON text (a plain ``str``, which execnet can carry)."""
    return json.dumps({"wire_version": WIRE_VERSION, "measurements": _plain(list(measurements))})


def decode_measurements(text: str) -> list[Measurement]:
    """The measurements :func:`encode_measurements` wrote; raises :class:`WireError`."""
    try:
        document = json.loads(text)
        if document.get("wire_version") != WIRE_VERSION:
            raise WireError(
                f"wire version {document.get('wire_version')!r}, expected {WIRE_VERSION}: "
                "the workers run another pytest-infergate version"
            )
        decoded = _built(document["measurements"])
    except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as exc:
        raise WireError(f"cannot decode a worker's measurements: {exc}") from None
    if not all(isinstance(m, Measurement) for m in decoded):
        raise WireError("a worker sent something other than measurements")
    return list(decoded)


def encode_record(record: object) -> Any:
    """One record as plain JSON data (for the ``--infer-against`` channel)."""
    return {"wire_version": WIRE_VERSION, "record": _plain(record)}


def decode_record(data: object, expected: type[Any]) -> Any:
    """The record :func:`encode_record` wrote, checked to be an ``expected``; raises
    :class:`WireError`."""
    try:
        if not isinstance(data, dict) or data.get("wire_version") != WIRE_VERSION:
            raise WireError("the other process runs another pytest-infergate version")
        record = _built(data["record"])
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise WireError(f"cannot decode the other process's record: {exc}") from None
    if not isinstance(record, expected):
        raise WireError(f"expected a {expected.__name__}, got {type(record).__name__}")
    return record
