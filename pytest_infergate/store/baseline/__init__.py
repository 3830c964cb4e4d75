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
  Later again: latency records gain an optional ``history_yardstick_ms`` (the
  machine-speed yardstick's pace, the 10th percentile of its calls, in each of the
  newest runs, newest last),
  by which the gate scales stored times to this run's speed; files without it load,
  and their entries are judged unscaled. Later again: an optional top-level
  ``revision`` (``{"sha": ..., "dirty": ...}``), the git commit the newest
  ``--infer-update-baseline`` ran at, which ``--infer-against=baseline`` measures
  against; files without it load.

The parts: :mod:`.records` (the records and :class:`Baseline`), :mod:`.document` (the
JSON, through the one codec of :mod:`pytest_infergate.store.codec`, and migrations) and
:mod:`.files` (reading, atomic writes, locks).
"""

from __future__ import annotations

from pytest_infergate.results import LATENCY_FIGURES
from pytest_infergate.store.baseline.document import (
    decode_baseline,
    decode_fingerprint,
    encode_baseline,
    encode_fingerprint,
)
from pytest_infergate.store.baseline.files import (
    LOCK_TIMEOUT_S,
    MAX_FILE_BYTES,
    _terminate_as_interrupt,
    check_writable,
    load_baseline,
    lock_path,
    read_json,
    remove_stale_temporaries,
    update_baseline,
    write_atomic,
    write_baseline,
)
from pytest_infergate.store.baseline.records import (
    CPU_CLOCKS,
    HISTORY_LENGTH,
    PREDICTION_DTYPES,
    SCHEMA_VERSION,
    AccuracyEntry,
    Baseline,
    Entry,
    LatencyEntry,
    LatencyRecord,
    ModelDigests,
    RatioEntry,
    RatioRecord,
    RecordedCommit,
    encode_predictions,
    stored_digests,
)
from pytest_infergate.store.codec import RELATIVE_RESOLUTION, dumps
from pytest_infergate.store.reader import (
    MAX_INTEGER,
    MAX_TIME_MS,
    MIN_TIME_MS,
    BaselineError,
    Reader,
    parse_time,
)

__all__ = [
    "CPU_CLOCKS",
    "HISTORY_LENGTH",
    "LATENCY_FIGURES",
    "LOCK_TIMEOUT_S",
    "MAX_FILE_BYTES",
    "MAX_INTEGER",
    "MAX_TIME_MS",
    "MIN_TIME_MS",
    "PREDICTION_DTYPES",
    "RELATIVE_RESOLUTION",
    "SCHEMA_VERSION",
    "AccuracyEntry",
    "Baseline",
    "BaselineError",
    "Entry",
    "LatencyEntry",
    "LatencyRecord",
    "ModelDigests",
    "RatioEntry",
    "RatioRecord",
    "Reader",
    "RecordedCommit",
    "_terminate_as_interrupt",
    "check_writable",
    "decode_baseline",
    "decode_fingerprint",
    "dumps",
    "encode_baseline",
    "encode_fingerprint",
    "encode_predictions",
    "load_baseline",
    "lock_path",
    "parse_time",
    "read_json",
    "remove_stale_temporaries",
    "stored_digests",
    "update_baseline",
    "write_atomic",
    "write_baseline",
]
