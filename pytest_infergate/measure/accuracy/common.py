"""What every part of the accuracy evaluation shares: the one error type, the recognised
id columns, file suffixes and sampling modes, and the class-hierarchy test that tells a
model's library without importing it."""

from __future__ import annotations

from collections.abc import Callable

#: Columns that identify an example, looked for in this order.
ID_COLUMNS = ("id", "idx", "guid", "example_id")
FILE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
SAMPLES = ("head", "random")

#: Called after each batch with (examples done, examples in the slice).
Progress = Callable[[int, int], None]


class AccuracyError(ValueError):
    """Bad input to an accuracy evaluation; the message is one line that says what to fix."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _has_base(obj: object, package: str, name: str) -> bool:
    """Whether ``obj`` is an instance of a class ``name`` from ``package``, without importing it."""
    return any(
        cls.__name__ == name and cls.__module__.split(".")[0] == package
        for cls in type(obj).__mro__
    )
