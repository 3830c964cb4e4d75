"""The reproducible slice of the data that is evaluated (head or seeded random sample), and
the sha256 that fingerprints it, so two runs are paired only on the same examples."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any

from pytest_infergate.measure.accuracy.common import AccuracyError
from pytest_infergate.measure.accuracy.data import Table
from pytest_infergate.measure.accuracy.labels import _Resolver


@dataclass(frozen=True)
class DataSlice:
    """The examples evaluated, in order, with their class ids and the slice's fingerprint."""

    inputs: tuple[Any, ...]
    labels: tuple[int, ...]
    names: tuple[str, ...]
    sampling: str
    sha256: str


def _input_key(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=repr)


def _slice_indices(table: Table, limit: int | None, sample: str, seed: int) -> list[int]:
    total = len(table.inputs)
    count = total if limit is None else min(limit, total)
    if sample == "head" or count == total:
        return list(range(count))
    # Rank examples by a hash of (seed, id): reproducible on any Python or numpy
    # version, and an example keeps its place when others are added around it.
    keys = table.ids or tuple(str(i) for i in range(total))
    digest = [hashlib.sha256(f"{seed}\0{k}".encode()).digest() for k in keys]
    return sorted(sorted(range(total), key=digest.__getitem__)[:count])


def take_slice(
    table: Table, resolver: _Resolver, limit: int | None, sample: str, seed: int
) -> DataSlice:
    """The reproducible slice: the first ``limit`` examples (``head``) or ``limit`` drawn
    with ``seed`` (``random``); its sha256 covers each example's id (or input) and label."""
    total = len(table.inputs)
    if total == 0:
        raise AccuracyError(f"{table.source} is empty: nothing to evaluate")
    indices = _slice_indices(table, limit, sample, seed)
    names = tuple(table.ids[i] if table.ids else f"#{i}" for i in indices)
    labels = tuple(
        resolver.gold(table.labels[i], f"example {name}")
        for i, name in zip(indices, names, strict=True)
    )
    digest = hashlib.sha256(b"infergate-slice/1\n")
    for i, label in zip(indices, labels, strict=True):
        key = (table.ids[i] if table.ids else _input_key(table.inputs[i])).encode()
        digest.update(struct.pack("<Q", len(key)) + key + struct.pack("<Q", label))
    n = len(indices)
    if n == total:
        sampling = f"all {total}"
    elif sample == "head":
        sampling = f"head {n} of {total}"
    else:
        sampling = f"random {n} of {total}, seed {seed}"
    return DataSlice(
        inputs=tuple(table.inputs[i] for i in indices),
        labels=labels,
        names=names,
        sampling=sampling,
        sha256=digest.hexdigest(),
    )
