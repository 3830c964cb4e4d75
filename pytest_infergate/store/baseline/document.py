"""The baseline file's JSON: records through the one codec (:data:`~..shapes.CODEC`),
the schema version, and the migration of older versions one step at a time."""

from __future__ import annotations

from typing import Any

from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.store import shapes
from pytest_infergate.store.baseline.records import (
    SCHEMA_VERSION,
    Baseline,
    Entry,
    RecordedCommit,
)
from pytest_infergate.store.reader import Reader


def encode_baseline(baseline: Baseline) -> dict[str, Any]:
    """The baseline's JSON data (write it with :func:`~pytest_infergate.store.codec.dumps`)."""
    return {"schema_version": SCHEMA_VERSION, **shapes.CODEC.encode(baseline)}


def encode_fingerprint(fingerprint: Fingerprint) -> dict[str, Any]:
    encoded: dict[str, Any] = shapes.CODEC.encode(fingerprint)
    return encoded


def decode_fingerprint(r: Reader, raw: object, where: str) -> Fingerprint:
    return shapes.CODEC.decode(Fingerprint, raw, where, r)


def decode_baseline(document: object, source: str) -> Baseline:
    """Validate and decode a parsed baseline document; ``source`` names it in errors."""
    r = Reader(source)
    obj = r.mapping(document, "top level")
    version = r.schema_version(obj, SCHEMA_VERSION, "not a pytest-infergate baseline")
    for step in range(version + 1, SCHEMA_VERSION + 1):
        obj = _MIGRATIONS[step](obj)
    entries = r.mapping(r.get(obj, "entries", "top level"), "entries")
    machines = r.mapping(obj.get("machines", {}), "machines")
    revision = obj.get("revision")
    return Baseline(
        entries={
            k: shapes.CODEC.decode_value(Entry, v, f"entries[{k!r}]", r) for k, v in entries.items()
        },
        machines={
            p: shapes.CODEC.decode(Fingerprint, v, f"machines[{p!r}]", r)
            for p, v in machines.items()
        },
        revision=None
        if revision is None
        else shapes.CODEC.decode(RecordedCommit, revision, "revision", r),
    )


def _update_to_2(document: dict[str, Any]) -> dict[str, Any]:
    """1 -> 2: nothing to rewrite; the fields version 2 added are optional."""
    return {**document, "schema_version": 2}


#: Migration to each schema version from the one before it.
_MIGRATIONS = {2: _update_to_2}
