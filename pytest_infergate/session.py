"""GateSession: one per pytest run; holds the baseline, collects verdicts, writes files.

Plain Python, no pytest import: the plugin's hooks call into it, and tests can
drive it directly.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_infergate.against.revision import current_commit
from pytest_infergate.config import GateConfig, Mode, Settings
from pytest_infergate.judge.accuracy import compare_accuracy
from pytest_infergate.judge.latency import compare_latency, session_policy
from pytest_infergate.judge.messages import as_recorded
from pytest_infergate.judge.provenance import applied, changed_model, model_change
from pytest_infergate.judge.thresholds import MIN_SAMPLES_FOR_TAIL, MIN_SAMPLES_PER_ARM
from pytest_infergate.measure.environment import Fingerprint, collect_fingerprint
from pytest_infergate.measure.telemetry import GpuSampler, open_nvml
from pytest_infergate.results import (
    NOTHING_OBSERVED,
    AccuracyResult,
    ComparisonResult,
    LatencyResult,
    Measurement,
    Observed,
    ResultsFile,
)
from pytest_infergate.store.baseline import (
    Baseline,
    BaselineError,
    LatencyEntry,
    ModelDigests,
    RecordedCommit,
    check_writable,
    dumps,
    load_baseline,
    update_baseline,
    write_atomic,
)
from pytest_infergate.store.results_file import RESULTS_SCHEMA_VERSION, encode_results
from pytest_infergate.verdicts import Outcome, Verdict

if TYPE_CHECKING:
    from pytest_infergate.against.link import Companion, Follower
    from pytest_infergate.judge.latency import LatencyPolicy
    from pytest_infergate.measure.cpu import CpuUsage
    from pytest_infergate.measure.telemetry import GpuSampler


#: Outcomes that fail only under ``--infer-strict``: the figure was not gated.
STRICT_OUTCOMES = (Outcome.NEW, Outcome.INCONCLUSIVE, Outcome.NO_BASELINE_FOR_MACHINE)


@dataclass(frozen=True)
class FinishReport:
    """What the session wrote at the end, for the terminal summary: what was written,
    why the baseline was not (``skipped_reason``), and what went wrong (``failures``:
    each one line; any of them makes the run a usage error)."""

    baseline_written: Path | None = None
    results_written: Path | None = None
    skipped_reason: str = ""
    failures: tuple[str, ...] = ()
    not_recorded: tuple[str, ...] = ()
    interrupted: bool = False


class GateSession:
    """The gate's state for one test session."""

    def __init__(
        self, config: GateConfig, baseline: Baseline | None = None, *, missing: bool = False
    ) -> None:
        self.config = config
        self.baseline = baseline if baseline is not None else Baseline()
        #: The configured baseline file does not exist: every entry reads NEW.
        self.baseline_missing = missing
        self.measurements: list[Measurement] = []
        self._fingerprint: Fingerprint | None = None
        #: Held around every timed section; a cross-process file lock under
        #: pytest-xdist, so that two workers never time at once.
        self.timing_lock: AbstractContextManager[object] = contextlib.nullcontext()
        self._nvml: ModuleType | bool | None = False  # False: not opened yet
        #: Tests whose measurements a baseline update must not record, with why
        #: ("failed", "skipped", "xfailed", ...): their numbers describe a broken run.
        self.unrecordable: dict[str, str] = {}
        #: Which test measured each key, so that two tests never share one key.
        self._claimed: dict[str, str] = {}
        #: Measurements dropped because their key was measured by two tests.
        self.collisions: list[str] = []
        #: Stored latency checks this session will make (counted when collection ends):
        #: the session's false-alarm rate is shared among them (:func:`gate.session_policy`).
        self.planned_checks = 0
        #: ``--infer-against``: the companion at the other revision (this run leads), or
        #: the channel to the leader (this run is the companion); why the mode could not
        #: be used, when it could not.
        self.companion: Companion | None = None
        self.follower: Follower | None = None
        self.against_problem = ""
        #: A caveat about the revision measured against (``--infer-against=baseline``).
        self.against_note = ""

    @classmethod
    def open(cls, config: GateConfig) -> GateSession:
        """Load the configured baseline and check that every file the run will write can
        be written; raises ``BaselineError`` for a bad file or path."""
        for output in (config.json_path, config.markdown_path, config.html_path, config.csv_path):
            if output is not None:
                check_writable(output)  # now, not after the whole run
        path = config.baseline_path
        if path is None:
            return cls(config)
        missing = not path.exists() and not path.is_symlink()
        baseline = load_baseline(path)
        if config.update:
            check_writable(path)
        return cls(config, baseline, missing=missing)

    def missing_baseline_problem(self) -> str:
        """Why the gate has nothing to gate against, when the configured baseline file does
        not exist and this run is not recording it (a typo in the path turns every entry
        NEW); else empty."""
        path = self.config.baseline_path
        if not self.baseline_missing or self.config.update or path is None:
            return ""
        return (
            f"baseline {path} does not exist, so every entry is NEW and nothing was gated; "
            "record it with --infer-update-baseline, or fix the path"
        )

    @property
    def fingerprint(self) -> Fingerprint:
        if self._fingerprint is None:
            self._fingerprint = collect_fingerprint()
        return self._fingerprint

    @property
    def profile(self) -> str:
        """The machine profile id latencies are stored under."""
        return self.config.machine or self.fingerprint.profile_id()

    @contextlib.contextmanager
    def gpu_sampling(self) -> Iterator[GpuSampler | None]:
        """Sample GPU 0 in the background while the block runs; yields ``None`` (and
        samples nothing) without NVML or a GPU. NVML is opened once per session."""
        if self._nvml is False:
            self._nvml = open_nvml() if self.fingerprint.gpus else None
        if not isinstance(self._nvml, ModuleType):
            yield None
            return

        with GpuSampler(self._nvml, 0) as sampler:
            yield sampler

    def plan_checks(self, nodeids: Sequence[str]) -> int:
        """Count the stored latency checks the selected tests will make on this machine:
        p50 for each of their entries with a record here, p95 too where the record holds
        300 samples (an upper bound: sampling may stop before the tail is gated)."""
        selected = set(nodeids)
        entries = [
            entry
            for key, entry in self.baseline.entries.items()
            if isinstance(entry, LatencyEntry)
            and (key in selected or key.rsplit("::", 1)[0] in selected)
        ]
        checks = 0
        if entries and self.config.mode is not Mode.OFF:
            for entry in entries:
                record = entry.machines.get(self.profile)
                if record is not None:
                    checks += 2 if record.n >= MIN_SAMPLES_FOR_TAIL else 1
        self.planned_checks = checks
        return checks

    def policy(self, settings: Settings) -> LatencyPolicy:
        """The latency policy of ``settings``, with this session's share of its false-alarm
        rate (:func:`gate.session_policy`)."""
        return session_policy(settings.policy(), self.planned_checks)

    def claim(self, key: str, nodeid: str) -> str:
        """Reserve ``key`` for ``nodeid``; returns why not ("" when it is ``nodeid``'s): a
        second test with the same key (a parametrize id holding ``::`` can spell another
        test's ``nodeid::name``) must not overwrite the first's."""
        owner = self._claimed.setdefault(key, nodeid)
        if owner == nodeid:
            return ""
        return (
            f"{key} is already the key of a measurement of {owner}; "
            "give one of them a distinct name="
        )

    def exclude(self, nodeid: str, why: str) -> None:
        """Keep ``nodeid``'s measurements out of a baseline update (its test did not pass)."""
        self.unrecordable.setdefault(nodeid, why)

    def entry(self, key: str) -> object:
        """The loaded baseline's entry for ``key`` (of any kind), or ``None``."""
        return self.baseline.entries.get(key)

    def judge(
        self,
        result: LatencyResult | AccuracyResult,
        settings: Settings,
        cpu: CpuUsage | None = None,
    ) -> Verdict:
        """The verdict for ``result`` against the loaded baseline (``cpu``: the timed
        window's CPU use, for the contention test)."""
        entry = self.baseline.entries.get(result.key)
        if isinstance(result, AccuracyResult):
            return compare_accuracy(result, entry, settings.accuracy_policy())
        return compare_latency(result, entry, self.profile, self.policy(settings), cpu)

    def record(
        self,
        nodeid: str,
        result: LatencyResult | ComparisonResult | AccuracyResult,
        settings: Settings,
        observed: Observed = NOTHING_OBSERVED,
        verdict: Verdict | None = None,
    ) -> Measurement:
        """Judge ``result`` against the baseline (unless its ``verdict`` was reached while
        sampling: an A/B or lock-step run) and keep it; one key holds one kind of
        measurement. What was ``observed`` is kept with it: the runtime facts are checked
        against the settings' expectations (NOT-APPLIED), and they and an A/B run's
        reference facts against the stored model digests."""
        if verdict is None:
            if isinstance(result, ComparisonResult):
                raise TypeError("an A/B result is judged while it samples; pass its verdict")
            verdict = self.judge(result, settings, observed.cpu)
        for earlier in self.measurements:
            if earlier.result.key == result.key and earlier.verdict.kind != verdict.kind:
                raise ValueError(
                    f"{result.key} already holds a {earlier.verdict.kind} measurement of this "
                    "session; pass a distinct name= to tell them apart"
                )
        if isinstance(result, AccuracyResult):
            tolerances = {"accuracy": settings.accuracy_policy().tolerance}
            if settings.max_flip_rate is not None:
                tolerances["max_flip_rate"] = settings.max_flip_rate
        else:
            tolerances = dict(settings.latency_tolerance or {})
        change = model_change(
            self.baseline.entries.get(result.key),
            self.profile,
            observed.facts,
            observed.reference_facts,
        )
        verdict = applied(verdict, settings.expectations(), observed.facts, change)
        keeps_no_ratio = isinstance(result, ComparisonResult) and not result.gates.stored_ratio
        updating = self.config.update and self.config.baseline_path is not None
        too_few = isinstance(result, ComparisonResult) and result.n < MIN_SAMPLES_PER_ARM
        if updating and too_few and not keeps_no_ratio:
            # A ratio the A/B rule could not judge is no figure to gate later runs on:
            # three samples per arm once stored 0.0045 and the next run read +22158%.
            self.exclude(
                nodeid,
                f"{result.key}: only {result.n} samples per arm, fewer than the "
                f"{MIN_SAMPLES_PER_ARM} the A/B rule needs; raise --infer-max-time",
            )
            keeps_no_ratio = True
        if updating and not keeps_no_ratio:
            verdict = as_recorded(verdict, fresh=self._fresh(verdict))
        measurement = Measurement(
            nodeid=nodeid,
            result=result,
            verdict=verdict,
            tolerances=tolerances,
            facts=observed.facts,
            gpu=observed.gpu,
            trace=observed.trace,
            cpu=observed.cpu,
            reference_facts=observed.reference_facts,
        )
        self.measurements.append(measurement)
        return measurement

    def _fresh(self, verdict: Verdict) -> bool:
        """Whether recording ``verdict``'s measurement adds a figure rather than replacing
        one: no entry of its kind, or (latency, ratio) none for this machine."""
        entry = self.baseline.entries.get(verdict.key)
        if entry is None or getattr(entry, "kind", None) != verdict.kind:
            return True
        machines = getattr(entry, "machines", None)
        return machines is not None and self.profile not in machines

    def merge(self, measurements: Sequence[Measurement]) -> None:
        """Add measurements judged elsewhere (a pytest-xdist worker's). One key holds
        one measurement, as in a single process: a key that two tests on different
        workers measured is kept for the first and listed in :attr:`collisions`."""
        taken = {m.result.key: m.nodeid for m in self.measurements}
        for m in measurements:
            owner = taken.setdefault(m.result.key, m.nodeid)
            if owner != m.nodeid:
                self.collisions.append(
                    f"{m.result.key} was measured by {owner} and {m.nodeid}; "
                    "give one of them a distinct name= (the second was not kept)"
                )
                continue
            self.measurements.append(m)

    def fails(self, verdict: Verdict) -> bool:
        """Whether ``verdict`` fails its test under this session's mode and flags.

        NOT-APPLIED fails even while re-recording: a new baseline does not fix a
        runtime that is not the one the test expects. With ``--infer-strict``, a
        changed model fails unless the baseline is being re-recorded, and so do NEW,
        INCONCLUSIVE and NO-BASELINE-FOR-MACHINE: each is a figure nobody judged (a new
        runner type has no latency of its own to be gated against)."""
        if self.config.mode is not Mode.GATE:
            return False
        if verdict.outcome is Outcome.NOT_APPLIED:
            return True
        if self.config.update:
            # only an A/B test's fixed gate is still REGRESSED here (see gate.as_recorded)
            return verdict.outcome is Outcome.REGRESSED and verdict.kind == "ratio"
        if verdict.outcome is Outcome.REGRESSED:
            return True
        return self.config.strict and (
            changed_model(verdict.model_change) or verdict.outcome in STRICT_OUTCOMES
        )

    def updated_baseline(self, base: Baseline | None = None) -> Baseline:
        """``base`` (default: the baseline loaded at start-up) with every recordable
        measurement of this session recorded."""
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        baseline = self.baseline if base is None else base
        path = self.config.baseline_path
        commit = current_commit(path.resolve().parent) if path is not None else None
        if commit is not None:
            baseline = replace(baseline, revision=RecordedCommit(*commit))
        for m in self._recordable():
            digest = m.facts.digest if m.facts is not None else None
            build = m.facts.build_sha256 if m.facts is not None else None
            if isinstance(m.result, AccuracyResult):
                baseline = baseline.with_accuracy(
                    m.result, recorded_at=now, model_sha256=digest, model_build_sha256=build
                )
                continue
            if isinstance(m.result, ComparisonResult):
                if not m.result.gates.stored_ratio:
                    continue  # compare(stored_ratio=False): the test keeps no stored ratio
                baseline = baseline.with_ratio(
                    m.result,
                    profile=self.profile,
                    fingerprint=self.fingerprint,
                    tolerance={"ratio": m.tolerances["p50"]} if "p50" in m.tolerances else {},
                    recorded_at=now,
                    models=(ModelDigests.of(m.facts), ModelDigests.of(m.reference_facts)),
                )
                continue
            baseline = baseline.with_latency(
                m.result,
                profile=self.profile,
                fingerprint=self.fingerprint,
                tolerance={k: m.tolerances[k] for k in ("p50", "p95") if k in m.tolerances},
                recorded_at=now,
                model_sha256=digest,
                model_build_sha256=build,
            )
        return baseline

    def _recordable(self) -> list[Measurement]:
        """The measurements a baseline update records: never those of the wrong runtime,
        nor those of a test that then failed, skipped or xfailed."""
        return [
            m
            for m in self.measurements
            if m.verdict.outcome is not Outcome.NOT_APPLIED and m.nodeid not in self.unrecordable
        ]

    def _not_recorded(self) -> tuple[str, ...]:
        measured = dict.fromkeys(m.nodeid for m in self.measurements)
        return tuple(
            f"{nodeid} ({self.unrecordable[nodeid]})"
            for nodeid in measured
            if nodeid in self.unrecordable
        )

    def finish(self, *, interrupted: bool) -> FinishReport:
        """Update the baseline (never after an interrupt), then write the results file.

        The baseline is re-read and updated under its lock, so a concurrent update's
        entries survive; each file's failure is reported without undoing the other."""
        failures: list[str] = []
        report = self._update_baseline(interrupted, failures)
        results_written = None
        if self.config.json_path is not None:
            try:
                write_atomic(self.config.json_path, dumps(self.results_document()))
                results_written = self.config.json_path
            except OSError as exc:
                failures.append(f"writing the results file failed: {exc}")
        return replace(report, results_written=results_written, failures=tuple(failures))

    def _update_baseline(self, interrupted: bool, failures: list[str]) -> FinishReport:

        path = self.config.baseline_path
        if not self.config.update or path is None:
            return FinishReport()
        unchanged = "the baseline was left as it was"
        not_recorded = self._not_recorded() if self.measurements else ()
        if interrupted:
            return FinishReport(skipped_reason=f"the run was interrupted; {unchanged}")
        if not self._recordable():
            why = "no measurement ran" if not self.measurements else "no test that measured passed"
            return FinishReport(skipped_reason=f"{why}; {unchanged}", not_recorded=not_recorded)
        try:
            update_baseline(path, self.updated_baseline)
        except KeyboardInterrupt:
            return FinishReport(
                skipped_reason=f"interrupted while writing the baseline; {unchanged}",
                interrupted=True,
            )
        except (OSError, BaselineError) as exc:
            failures.append(f"writing the baseline failed, {unchanged}: {exc}")
            return FinishReport(not_recorded=not_recorded)
        return FinishReport(baseline_written=path, not_recorded=not_recorded)

    def results(self) -> ResultsFile:
        """Every measurement with its raw samples and verdict, plus the machine."""
        return ResultsFile(
            RESULTS_SCHEMA_VERSION, self.profile, self.fingerprint, tuple(self.measurements)
        )

    def results_document(self) -> dict[str, Any]:
        """:meth:`results` as the results file's JSON data."""
        return encode_results(self.results())
