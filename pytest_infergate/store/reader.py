"""Typed reading of untrusted JSON: :class:`Reader` names the first bad field in its error,
and the field readers a :class:`~pytest_infergate.store.codec.Field` can name check what a
type alone cannot (a time in ms, a sha256, an ISO time)."""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

#: The range a stored time (in ms) or ratio may take: 1 fs to about 11.6 days, far
#: beyond any model call either way, and narrow enough that the gate's logarithms and
#: exponentials of a history stay finite (and 0, whose logarithm is not, is out).
MIN_TIME_MS = 1e-9
MAX_TIME_MS = 1e9

#: The largest integer a count or a raw sample (ns) may hold: what numpy's int64 holds.
MAX_INTEGER = 2**63 - 1

SHA256 = re.compile(r"[0-9a-f]{64}")


class BaselineError(ValueError):
    """A baseline or results file that cannot be used; the message names the file and field."""


def short(value: object) -> str:
    """``repr(value)``, cut short: a 5000-digit integer does not belong in a one-line error."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else f"{text[:57]}..."


def parse_time(text: str) -> _dt.datetime | None:
    """An ISO 8601 time (naive times read as UTC), or ``None`` when ``text`` is not one."""
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


class Reader:
    """Typed access to untrusted JSON that names the first bad field in its error.

    The field readers take the enclosing object, the key and the object's path, so a
    :class:`Field` can name any of them as its ``read``."""

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
            raise self.fail(f"{where}.{name}", f"expected a string, got {short(value)}")
        return value

    def integer(self, obj: Mapping[str, Any], name: str, where: str, minimum: int = 0) -> int:
        return self.whole(self.get(obj, name, where), f"{where}.{name}", minimum)

    def whole(self, value: object, where: str, minimum: int = 0) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not minimum <= value <= MAX_INTEGER
        ):
            raise self.fail(where, f"expected an integer >= {minimum}, got {short(value)}")
        return value

    def real(self, value: object, where: str) -> float:
        """A finite JSON number as a float (an integer too large for a float is refused)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a finite number, got {short(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise self.fail(where, f"expected a finite number, got {short(value)}") from None
        if not math.isfinite(number):
            raise self.fail(where, f"expected a finite number, got {short(value)}")
        return number

    def number(self, obj: Mapping[str, Any], name: str, where: str) -> float:
        return self.real(self.get(obj, name, where), f"{where}.{name}")

    def duration(self, value: object, where: str) -> float:
        try:
            number = self.real(value, where)
        except BaselineError:
            number = math.nan
        if not number >= 0:
            raise self.fail(where, f"expected a finite number >= 0, got {short(value)}")
        return number

    def positive(
        self, value: object, where: str, *, zero: bool = False, what: str = "a number"
    ) -> float:
        """A finite number from :data:`MIN_TIME_MS` to :data:`MAX_TIME_MS` (or 0, with
        ``zero``): the gate takes logarithms of these."""
        number = self.real(value, where)
        if not ((zero and number == 0) or MIN_TIME_MS <= number <= MAX_TIME_MS):
            bound = ">= 0 (0, or" if zero else "> 0 (from"
            raise self.fail(
                where,
                f"expected {what} {bound} {MIN_TIME_MS:g} to {MAX_TIME_MS:g}), got "
                f"{short(value)}; fix the value or delete the entry, then re-record it",
            )
        return number

    def time_ms(self, value: object, where: str, *, zero: bool = False) -> float:
        return self.positive(value, where, zero=zero, what="a time in ms")

    def items(self, obj: Mapping[str, Any], name: str, where: str) -> list[Any]:
        """The list under ``name``, items unchecked."""
        value = self.get(obj, name, where)
        if not isinstance(value, list):
            raise self.fail(f"{where}.{name}", f"expected a list, got {type(value).__name__}")
        return value

    def schema_version(self, document: Mapping[str, Any], current: int, missing: str) -> int:
        """The document's schema version, 1 to ``current``; ``missing`` says what the
        document is not when it has none."""
        if "schema_version" not in document:
            raise self.fail("top level.schema_version", f"missing: {missing}")
        version = document["schema_version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.fail("schema_version", f"expected an integer >= 1, got {version!r}")
        if version > current:
            raise self.fail(
                "schema_version",
                f"version {version} is newer than this pytest-infergate reads ({current}); "
                "upgrade pytest-infergate",
            )
        return version


#: Reads the value under a key of a JSON object: (reader, object, key, object's path).
Read = Callable[[Reader, Mapping[str, Any], str, str], Any]


# -- field readers, for Field(read=...) ----------------------------------------------------


def integer(minimum: int) -> Read:
    return lambda r, obj, key, where: r.integer(obj, key, where, minimum)


def duration(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> float:
    return r.duration(obj[key], f"{where}.{key}")


def time_ms(*, zero: bool = False) -> Read:
    return lambda r, obj, key, where: r.time_ms(obj[key], f"{where}.{key}", zero=zero)


def positive(*, zero: bool = False) -> Read:
    return lambda r, obj, key, where: r.positive(obj[key], f"{where}.{key}", zero=zero)


def each(read: Callable[[Reader, object, str], Any]) -> Read:
    """A list whose every item is read by ``read(reader, item, path)``."""

    def read_list(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> tuple[Any, ...]:
        items = r.items(obj, key, where)
        return tuple(read(r, item, f"{where}.{key}[{i}]") for i, item in enumerate(items))

    return read_list


def times_ms(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> tuple[float, ...]:
    return each(lambda r, v, at: r.time_ms(v, at))(r, obj, key, where)  # type: ignore[no-any-return]


def digest(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> str:
    """A sha256: 64 lowercase hex digits."""
    value = r.string(obj, key, where)
    if not SHA256.fullmatch(value):
        raise r.fail(f"{where}.{key}", f"expected 64 lowercase hex digits, got {short(value)}")
    return value


def iso_times(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = r.items(obj, key, where)
    for i, item in enumerate(value):
        if not isinstance(item, str) or parse_time(item) is None:
            raise r.fail(f"{where}.{key}[{i}]", f"expected an ISO 8601 time, got {short(item)}")
    return tuple(value)


def choice(known: tuple[str, ...], noun: str) -> Read:
    """One of ``known`` strings; the error calls the value a ``noun``."""

    def read_choice(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> str:
        value = r.string(obj, key, where)
        if value not in known:
            raise r.fail(f"{where}.{key}", f"unknown {noun} {value!r}; known: {', '.join(known)}")
        return value

    return read_choice


def numbers(read: Callable[[Reader, object, str], float]) -> Read:
    """An object of numbers, each read by ``read``, errors naming ``key.name``."""

    def read_numbers(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> dict[str, float]:
        raw = r.mapping(obj[key], f"{where}.{key}")
        return {name: read(r, v, f"{where}.{key}.{name}") for name, v in raw.items()}

    return read_numbers


def strings(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    """An object of strings, errors naming ``key.name``."""
    raw = r.mapping(obj[key], f"{where}.{key}")
    for name, item in raw.items():
        if not isinstance(item, str):
            raise r.fail(f"{where}.{key}.{name}", f"expected a string, got {short(item)}")
    return dict(raw)
