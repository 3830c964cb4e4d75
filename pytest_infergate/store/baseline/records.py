"""The baseline's records: per-machine latency and ratio records, accuracy entries, and the
immutable :class:`Baseline` whose ``with_*`` methods return updated copies."""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.measure.provenance import RuntimeFacts
from pytest_infergate.results import (
    LATENCY_FIGURES,
    AccuracyResult,
    ComparisonResult,
    LatencyFigures,
    LatencyResult,
)
from pytest_infergate.store.reader import BaselineError as BaselineError

SCHEMA_VERSION = 2
HISTORY_LENGTH = 10
#: The CPU clocks a record's CPU cost can be measured on (see
#: :mod:`pytest_infergate.measure.timing`).
CPU_CLOCKS = ("thread", "process")


@dataclass(frozen=True)
class RecordedCommit:
    """A git commit, and whether the work tree it was recorded from had other changes."""

    sha: str
    dirty: bool = False


@dataclass(frozen=True)
class ModelDigests:
    """A measured model's digests, where known: of its bytes, and of what it was built from
    (see :func:`pytest_infergate.measure.provenance.build_digest`)."""

    sha256: str | None = None
    build_sha256: str | None = None

    @classmethod
    def of(cls, facts: RuntimeFacts | None) -> ModelDigests:
        return cls() if facts is None else cls(facts.digest, facts.build_sha256)


@dataclass(frozen=True)
class LatencyRecord(LatencyFigures):
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
    #: The machine-speed yardstick's pace (the 10th percentile of its CPU time per call) in
    #: each of the newest runs (ms, newest last), aligned with the newest runs of every
    #: history above; restarted when a run has none
    #: (:mod:`pytest_infergate.measure.yardstick`).
    history_yardstick_ms: tuple[float, ...] = ()

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


#: Stored widths of prediction arrays: name -> struct code (little-endian in the file).
PREDICTION_DTYPES = {"uint16": "H", "uint32": "I"}


def encode_predictions(predictions: tuple[int, ...]) -> tuple[str, str]:
    """Class ids as (base64 of a little-endian array, dtype name): 2 bytes an example
    when every id fits, else 4. About 2.7 characters an example in the file."""
    dtype = "uint16" if max(predictions, default=0) <= 0xFFFF else "uint32"
    packed = struct.pack(f"<{len(predictions)}{PREDICTION_DTYPES[dtype]}", *predictions)
    return base64.b64encode(packed).decode("ascii"), dtype


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

    def __post_init__(self) -> None:
        low, ratio, high = self.ratio_low, self.ratio, self.ratio_high
        if not low <= ratio <= high:
            raise ValueError(f"ratio {ratio} is not inside its interval [{low}, {high}]")


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
    #: The git commit the newest ``--infer-update-baseline`` ran at, and whether its work
    #: tree had uncommitted changes (``--infer-against=baseline`` measures against it).
    revision: RecordedCommit | None = None

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
        speed = result.yardstick_ms
        history_speed: tuple[float, ...] = ()
        if speed:  # a run without one restarts it: the list stays aligned with the newest runs
            past_speed = old.history_yardstick_ms if old is not None else ()
            history_speed = (*past_speed, speed)[-HISTORY_LENGTH:]
        machines[profile] = LatencyRecord(
            n=result.n,
            batch_size=result.batch_size,
            **{name: getattr(result, name) for name in LATENCY_FIGURES},
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
            history_yardstick_ms=history_speed,
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
        models: tuple[ModelDigests, ModelDigests] = (ModelDigests(), ModelDigests()),
    ) -> Baseline:
        """A copy with the A/B ``result``'s ratio recorded for ``profile``; others stay.
        ``models`` are the candidate's and the reference's digests, where known."""
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
            model_sha256=models[0].sha256,
            reference_model_sha256=models[1].sha256,
            model_build_sha256=models[0].build_sha256,
            reference_model_build_sha256=models[1].build_sha256,
        )
        entries = dict(self.entries)
        entries[result.key] = RatioEntry(machines=machines, tolerance=dict(tolerance))
        return replace(self, entries=entries, machines={**self.machines, profile: fingerprint})
