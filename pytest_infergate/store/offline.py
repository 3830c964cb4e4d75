"""Work on baselines and results outside pytest: re-judge, merge, prune.

The ``infergate`` command's logic, as pure functions over the decoded records.
Verdicts come from the plugin's own ``compare_*`` functions: there is no second
implementation of the gate here.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pytest_infergate import defaults
from pytest_infergate.config import DEFAULTS
from pytest_infergate.judge.ab_gate import ab_gate, ab_tolerance
from pytest_infergate.judge.accuracy import AccuracyPolicy, compare_accuracy
from pytest_infergate.judge.latency import LatencyPolicy, compare_latency
from pytest_infergate.results import AccuracyResult, ComparisonResult, Measurement, ResultsFile
from pytest_infergate.store.baseline import (
    AccuracyEntry,
    Baseline,
    BaselineError,
    Entry,
    LatencyEntry,
    LatencyRecord,
    RatioEntry,
    RatioRecord,
    parse_time,
)
from pytest_infergate.store.results_file import RESULTS_SCHEMA_VERSION
from pytest_infergate.verdicts import Verdict


def rejudge(
    baseline: Baseline,
    results: ResultsFile,
    *,
    latency_tolerance: Mapping[str, float] | None = None,
    accuracy_tolerance: float | None = None,
    machine: str | None = None,
) -> list[Measurement]:
    """Every measurement of ``results`` judged again against ``baseline``.

    Latency and accuracy go through :func:`compare_latency` / :func:`compare_accuracy`
    with the default policy unless tolerances are given. An A/B ratio is judged at its
    final look against the fixed gates its test set (``max_slowdown``/``min_speedup``,
    stored with the result; else the default slowdown gate at the p50 tolerance) plus
    the baseline's stored ratio at the p50 tolerance: the gates
    :meth:`InferBench.compare` builds (:func:`pytest_infergate.judge.ab_gate.ab_gate`).
    Latencies are looked up under ``machine`` (default: the machine the results were
    measured on).
    """
    tolerances = dict(latency_tolerance or DEFAULTS.latency_tolerance or {})
    percentiles = tuple(p for p in DEFAULTS.percentiles or () if p in tolerances)
    policy = LatencyPolicy(tolerances=tolerances, percentiles=percentiles)
    accuracy = AccuracyPolicy(
        tolerance=accuracy_tolerance
        if accuracy_tolerance is not None
        else DEFAULTS.accuracy_tolerance or defaults.ACCURACY_TOLERANCE
    )
    profile = machine or results.machine
    judged = []
    for m in results.measurements:
        r = m.result
        entry = baseline.entries.get(r.key)
        verdict: Verdict
        if isinstance(r, AccuracyResult):
            verdict = compare_accuracy(r, entry, accuracy)
        elif isinstance(r, ComparisonResult):
            gate = ab_gate(r.gates, ab_tolerance(tolerances), (entry, profile))
            verdict = gate.final_verdict(r)
        else:
            verdict = compare_latency(r, entry, profile, policy, m.cpu)
        judged.append(replace(m, verdict=verdict, tolerances=dict(tolerances)))
    return judged


@dataclass(frozen=True)
class Conflict:
    """One entry (or one machine's record of it) present in two inputs of a merge."""

    key: str
    profile: str
    kept: str
    kept_at: str
    dropped: str
    dropped_at: str

    def describe(self) -> str:
        where = f" [{self.profile}]" if self.profile else ""
        return (
            f"{self.key}{where}: kept {self.kept} (recorded {self.kept_at}), "
            f"dropped {self.dropped} (recorded {self.dropped_at})"
        )


def _recorded_at(entry: Entry) -> str:
    if isinstance(entry, AccuracyEntry):
        return entry.recorded_at
    times = [r.recorded_at for r in entry.machines.values()]
    return max(times, key=_moment, default="")


#: Where a recording time cannot be read: older than any time that can.
_UNREADABLE = _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)


def _moment(recorded_at: str) -> _dt.datetime:
    """``recorded_at`` as a time to compare (text order is not time order across time
    zones or spellings); an unreadable one is older than every readable one."""
    return parse_time(recorded_at) or _UNREADABLE


def _newer_or_same(new: str, old: str) -> bool:
    return _moment(new) >= _moment(old)


def merge_baselines(inputs: Sequence[tuple[str, Baseline]]) -> tuple[Baseline, list[Conflict]]:
    """The union of the inputs' entries and machines.

    Latency and ratio entries merge per machine profile; an accuracy entry is one
    record. Where two inputs hold the same key (and profile) with different values,
    the newer ``recorded_at`` wins (on a tie, the later input) and the conflict is
    returned. Where the kinds differ, the newer entry wins whole.
    """
    entries: dict[str, Entry] = {}
    entry_from: dict[str, str] = {}  # the input an entry as a whole came from
    origin: dict[tuple[str, str], str] = {}  # the input each machine's record came from
    machines = {}
    conflicts: list[Conflict] = []
    for name, baseline in inputs:
        machines.update(baseline.machines)
        for key, entry in baseline.entries.items():
            old = entries.get(key)
            if old is None or old == entry:
                if old is None:
                    entries[key], entry_from[key] = entry, name
                    origin.update({(key, p): name for p in _profiles(entry)})
                continue
            if (
                isinstance(old, (LatencyEntry, RatioEntry))
                and isinstance(entry, (LatencyEntry, RatioEntry))
                and type(old) is type(entry)
            ):
                entries[key] = _merge_machines(key, old, entry, name, origin, conflicts)
                continue
            new_at, old_at = _recorded_at(entry), _recorded_at(old)
            first = entry_from[key]
            if _newer_or_same(new_at, old_at):
                conflicts.append(Conflict(key, "", name, new_at, first, old_at))
                entries[key], entry_from[key] = entry, name
                origin.update({(key, p): name for p in _profiles(entry)})
            else:
                conflicts.append(Conflict(key, "", first, old_at, name, new_at))
    return Baseline(entries=entries, machines=machines), conflicts


def _profiles(entry: Entry) -> list[str]:
    return [""] if isinstance(entry, AccuracyEntry) else list(entry.machines)


def _merge_machines(
    key: str,
    old: LatencyEntry | RatioEntry,
    new: LatencyEntry | RatioEntry,
    name: str,
    origin: dict[tuple[str, str], str],
    conflicts: list[Conflict],
) -> LatencyEntry | RatioEntry:
    records: dict[str, LatencyRecord | RatioRecord] = dict(old.machines)
    tolerance = old.tolerance
    for profile, record in new.machines.items():
        previous = records.get(profile)
        if previous is None or previous == record:
            records[profile] = record
            origin.setdefault((key, profile), name)
            continue
        first = origin[key, profile]
        if _newer_or_same(record.recorded_at, previous.recorded_at):
            conflicts.append(
                Conflict(key, profile, name, record.recorded_at, first, previous.recorded_at)
            )
            records[profile], origin[key, profile] = record, name
            tolerance = new.tolerance
        else:
            conflicts.append(
                Conflict(key, profile, first, previous.recorded_at, name, record.recorded_at)
            )
    if isinstance(old, RatioEntry):
        ratios = {p: r for p, r in records.items() if isinstance(r, RatioRecord)}
        return RatioEntry(machines=ratios, tolerance=dict(tolerance))
    latencies = {p: r for p, r in records.items() if isinstance(r, LatencyRecord)}
    return LatencyEntry(machines=latencies, tolerance=dict(tolerance))


def prune_missing(baseline: Baseline, keys: set[str]) -> tuple[Baseline, list[str]]:
    """The baseline without the entries whose key is not in ``keys``, and those keys."""
    dropped = sorted(k for k in baseline.entries if k not in keys)
    kept = {k: e for k, e in baseline.entries.items() if k in keys}
    return replace(baseline, entries=kept), dropped


def prune_older(baseline: Baseline, cutoff: _dt.datetime) -> tuple[Baseline, list[str]]:
    """The baseline without records recorded before ``cutoff`` (an entry whose records
    are all gone is dropped), and what was dropped (``key`` or ``key [profile]``).
    A record whose time cannot be read is kept."""

    def stale(recorded_at: str) -> bool:
        moment = parse_time(recorded_at)
        return moment is not None and moment < cutoff

    entries: dict[str, Entry] = {}
    dropped: list[str] = []
    for key, entry in sorted(baseline.entries.items()):
        if isinstance(entry, AccuracyEntry):
            if stale(entry.recorded_at):
                dropped.append(key)
            else:
                entries[key] = entry
            continue
        old = sorted(p for p, r in entry.machines.items() if stale(r.recorded_at))
        dropped.extend(f"{key} [{p}]" for p in old)
        if len(old) < len(entry.machines):
            machines = {p: r for p, r in entry.machines.items() if p not in old}
            entries[key] = replace(entry, machines=machines)  # type: ignore[arg-type]
    return replace(baseline, entries=entries), dropped


def merge_results(inputs: Sequence[tuple[str, ResultsFile]]) -> tuple[ResultsFile, list[str]]:
    """One results file from several of one machine (CI shards), and the conflicts.

    The measurements are concatenated in input order; a key measured in two inputs keeps
    the later input's (results carry no recording time). Inputs from different
    machines cannot share one file: :class:`BaselineError`.
    """
    first_name, first = inputs[0]
    measurements: dict[str, tuple[str, Measurement]] = {}
    conflicts = []
    for name, results in inputs:
        if results.machine != first.machine:
            raise BaselineError(
                f"{name}: machine {results.machine!r} differs from {first_name}'s "
                f"{first.machine!r}; results of different machines cannot be merged"
            )
        for m in results.measurements:
            key = m.result.key
            if key in measurements:
                conflicts.append(
                    f"{key}: kept {name}, dropped {measurements[key][0]} (the later input wins)"
                )
                del measurements[key]
            measurements[key] = (name, m)
    merged = replace(
        first,
        schema_version=RESULTS_SCHEMA_VERSION,
        measurements=tuple(m for _, m in measurements.values()),
    )
    return merged, conflicts


def require_finite(value: object, where: str) -> None:
    """Refuse a NaN or infinity anywhere in a parsed file, also in keys the decoder
    ignores: what is merged is what the inputs say, and they must say numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BaselineError(f"{where}: expected a finite number, got {value!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            require_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            require_finite(item, f"{where}[{i}]")
