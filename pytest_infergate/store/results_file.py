"""The results file (``--infer-json``), and the same JSON as the message an xdist worker or an
``--infer-against`` companion sends: one encoding, through :data:`~.shapes.CODEC`.

Decoding rebuilds the plugin's own records (:class:`~pytest_infergate.results.Measurement`
with its result and verdict), so the reports and ``infergate compare`` run on exactly the
plugin's types. A latency result's statistics are recomputed from its raw samples, not
read back. GPU telemetry is kept as its readings, thinned to 500 and rounded to what NVML
reports (:data:`~pytest_infergate.measure.telemetry.SERIES_DECIMALS`); everything else
round-trips exactly.

Schema history (a line per format change; docs/design.md, "Schema history"):

* 1 -- latency measurements.
* 2 -- "ratio" measurements (``infer_bench.compare``), ``stop_reason`` on every
  measurement, ``mdr`` and ``p_value`` on checks; then, as optional keys: runtime facts,
  ``model_change`` on verdicts, GPU ``series``, ratio ``gates``, ``cpu``, CPU time per
  call, ``deciding`` on checks, the machine-speed yardstick.
* 3 -- ``tolerances`` on measurements and ``note`` on checks: the file is lossless, so
  xdist workers send it instead of a format of their own. Version 2 files read with
  empty tolerances.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_infergate.measure.telemetry import GpuTelemetry
from pytest_infergate.results import AccuracyResult, Measurement, ResultsFile
from pytest_infergate.store import shapes
from pytest_infergate.store.baseline.document import decode_fingerprint, encode_fingerprint
from pytest_infergate.store.reader import BaselineError, Reader

RESULTS_SCHEMA_VERSION = 3


class WireError(ValueError):
    """A message from another process that cannot be decoded (a version skew, or a bug)."""


def _update_to_2(document: dict[str, Any]) -> dict[str, Any]:
    """1 -> 2: nothing to rewrite; what version 2 added is optional."""
    return document


def _update_to_3(document: dict[str, Any]) -> dict[str, Any]:
    """2 -> 3: measurements gain ``tolerances``; a version 2 file did not keep them."""
    measurements = document.get("measurements")
    if isinstance(measurements, list):
        document["measurements"] = [
            {"tolerances": {}, **m} if isinstance(m, dict) else m for m in measurements
        ]
    return document


#: Migration to each schema version from the one before it.
_MIGRATIONS = {2: _update_to_2, 3: _update_to_3}


def encode_results(results: ResultsFile) -> dict[str, Any]:
    """The results file's JSON data (write it with :func:`~.codec.dumps`)."""
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "machine": results.machine,
        "fingerprint": encode_fingerprint(results.fingerprint),
        "measurements": [shapes.CODEC.encode(m) for m in results.measurements],
    }


def decode_results(document: object, source: str) -> ResultsFile:
    """Validate and decode a parsed results document; ``source`` names it in errors."""
    r = Reader(source)
    obj = dict(r.mapping(document, "top level"))
    not_ours = "not a pytest-infergate results file (write one with --infer-json)"
    version = r.schema_version(obj, RESULTS_SCHEMA_VERSION, not_ours)
    if "measurements" not in obj:
        hint = "; it looks like a baseline" if "entries" in obj else ""
        raise r.fail("top level.measurements", f"missing: {not_ours}{hint}")
    for step in range(version + 1, RESULTS_SCHEMA_VERSION + 1):
        obj = _MIGRATIONS[step](obj)
    raw = obj["measurements"]
    if not isinstance(raw, list):
        raise r.fail("measurements", f"expected a list, got {type(raw).__name__}")
    return ResultsFile(
        schema_version=version,
        machine=r.string(obj, "machine", "top level"),
        fingerprint=decode_fingerprint(r, r.get(obj, "fingerprint", "top level"), "fingerprint"),
        measurements=tuple(
            shapes.CODEC.decode(Measurement, m, f"measurements[{i}]", r) for i, m in enumerate(raw)
        ),
    )


def encode_gpu(gpu: GpuTelemetry) -> dict[str, Any]:
    """GPU telemetry as the results file keeps it: min/mean/max per reading field (over every
    reading), slowdowns, other processes, and the readings as a thinned ``series``."""
    encoded: dict[str, Any] = shapes.CODEC.encode(gpu)
    return encoded


# -- between processes: the same JSON as the file ---------------------------------------------


def encode_measurements(measurements: Sequence[Measurement]) -> str:
    """The measurements as JSON text (a plain ``str``, which execnet can carry)."""
    encoded = [shapes.CODEC.encode(m) for m in measurements]
    document = {"schema_version": RESULTS_SCHEMA_VERSION, "measurements": encoded}
    return json.dumps(document, allow_nan=False)  # the reader refuses them: fail here


def decode_measurements(text: str) -> list[Measurement]:
    """The measurements :func:`encode_measurements` wrote; raises :class:`WireError`."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WireError(f"cannot decode a worker's measurements: {exc}") from None
    _same_version(document, "the workers run")
    r = Reader("a worker's measurements")
    try:
        raw = r.items(document, "measurements", "top level")
        return [
            shapes.CODEC.decode(Measurement, m, f"measurements[{i}]", r) for i, m in enumerate(raw)
        ]
    except BaselineError as exc:
        raise WireError(f"cannot decode {exc}") from None


def encode_record(result: AccuracyResult) -> dict[str, Any]:
    """An accuracy result as plain JSON data (for the ``--infer-against`` channel)."""
    return {"schema_version": RESULTS_SCHEMA_VERSION, **shapes.CODEC.encode(result)}


def decode_record(data: object) -> AccuracyResult:
    """The result :func:`encode_record` wrote; raises :class:`WireError`."""
    _same_version(data, "the other process runs")
    try:
        return shapes.CODEC.decode(
            AccuracyResult, data, "result", Reader("the other process's record")
        )
    except BaselineError as exc:
        raise WireError(f"cannot decode {exc}") from None


def _same_version(document: object, who: str) -> None:
    version = document.get("schema_version") if isinstance(document, Mapping) else None
    if version != RESULTS_SCHEMA_VERSION:
        raise WireError(
            f"version {version!r}, expected {RESULTS_SCHEMA_VERSION}: {who} another "
            "pytest-infergate version"
        )
