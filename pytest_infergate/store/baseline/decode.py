"""JSON to baseline records, validating every field: a bad one raises
:class:`~pytest_infergate.store.baseline.records.BaselineError` naming the field and what
was expected. Older schema versions are migrated one step at a time."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import math
import re
import struct
from collections.abc import Callable, Mapping
from typing import Any

from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.measure.telemetry import GpuFacts
from pytest_infergate.store.baseline.encode import PREDICTION_DTYPES
from pytest_infergate.store.baseline.records import (
    _SHA256,
    CPU_CLOCKS,
    LATENCY_FIGURES,
    SCHEMA_VERSION,
    AccuracyEntry,
    Baseline,
    BaselineError,
    Entry,
    LatencyEntry,
    LatencyRecord,
    RatioEntry,
    RatioRecord,
    RecordedCommit,
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
        history_yardstick_ms=r.times_ms(obj, "history_yardstick_ms", where, optional=True),
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
        revision=_decode_revision(r, obj.get("revision")),
    )


def _decode_revision(r: _Reader, raw: object) -> RecordedCommit | None:
    if raw is None:
        return None
    obj = r.mapping(raw, "revision")
    sha, dirty = obj.get("sha"), obj.get("dirty", False)
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{7,64}", sha):
        raise r.fail("revision.sha", f"expected a git commit sha, got {_short(sha)}")
    if not isinstance(dirty, bool):
        raise r.fail("revision.dirty", f"expected true or false, got {_short(dirty)}")
    return RecordedCommit(sha, dirty)


def _update_to_2(document: dict[str, Any]) -> dict[str, Any]:
    """1 -> 2: nothing to rewrite; the fields version 2 added are optional."""
    return {**document, "schema_version": 2}


#: Migration to each schema version from the one before it.
_MIGRATIONS = {2: _update_to_2}
