"""The one codec: every record round-trips, every committed file version reads, and the
committed baselines re-encode byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pytest_infergate.measure.cpu import CpuUsage  # noqa: E402
from pytest_infergate.measure.environment import Fingerprint  # noqa: E402
from pytest_infergate.measure.provenance import RuntimeFacts  # noqa: E402
from pytest_infergate.measure.telemetry import GpuSample, GpuTelemetry  # noqa: E402
from pytest_infergate.measure.trace import OpTime, OpTypeTime, Trace  # noqa: E402
from pytest_infergate.results import (  # noqa: E402
    AccuracyResult,
    ComparisonResult,
    FixedGates,
    LatencyResult,
    Measurement,
    ResultsFile,
    StopReason,
)
from pytest_infergate.store.baseline import (  # noqa: E402
    Baseline,
    RecordedCommit,
    decode_baseline,
    dumps,
    encode_baseline,
)
from pytest_infergate.store.results_file import (  # noqa: E402
    RESULTS_SCHEMA_VERSION,
    WireError,
    decode_measurements,
    decode_record,
    decode_results,
    encode_measurements,
    encode_record,
    encode_results,
)
from pytest_infergate.verdicts import AccuracyCheck, Check, Outcome, Verdict  # noqa: E402

ROOT = Path(__file__).parent.parent.parent
DATA = ROOT / "tests" / "data"

KEYS = st.text("abc:_[]0", min_size=1, max_size=12)
NAMES = st.text("abcxyz_", min_size=1, max_size=8)
SAMPLES = st.lists(st.integers(1, 10**9), min_size=1, max_size=30).map(tuple)
#: A/B arms of one model call: within a factor of 10^5 of each other.
ARM_SAMPLES = st.integers(100, 10**7)
#: Finite floats that survive JSON text exactly (every float does: repr round-trips).
FRACTIONS = st.floats(0, 1, allow_nan=False)
SECONDS = st.floats(0, 1e4, allow_nan=False, allow_subnormal=False)


@st.composite
def latency_results(draw: st.DrawFn, key: str | None = None) -> LatencyResult:
    samples = draw(SAMPLES)
    cpu = draw(st.booleans())
    blocks = draw(st.lists(st.integers(1, 5), max_size=4).map(tuple))
    return LatencyResult(
        key=key or draw(KEYS),
        samples_ns=samples,
        batch_size=draw(st.integers(1, 64)),
        calls_per_sample=draw(st.integers(1, 100)),
        warmup_calls=draw(st.integers(0, 100)),
        measured_s=draw(SECONDS),
        stop_reason=draw(st.sampled_from(StopReason)),
        cpu_samples_ns=tuple(draw(st.integers(0, 10**9)) for _ in samples) if cpu else (),
        cpu_clock=draw(st.sampled_from(["thread", "process"])) if cpu else None,
        yardstick_ns=tuple(draw(st.integers(1, 10**6)) for _ in range(sum(blocks))),
        yardstick_blocks=blocks,
    )


@st.composite
def comparison_results(draw: st.DrawFn) -> ComparisonResult:
    key = draw(KEYS)
    n = draw(st.integers(1, 20))
    arm = st.lists(ARM_SAMPLES, min_size=n, max_size=n).map(tuple)
    batch = draw(st.integers(1, 8))
    candidate = LatencyResult(f"{key}::candidate", draw(arm), batch, 1, 0, 0.1)
    reference = LatencyResult(f"{key}::reference", draw(arm), batch, 1, 0, 0.1)
    gates = FixedGates(
        max_slowdown=draw(st.none() | st.floats(0, 10)),
        min_speedup=draw(st.none() | st.floats(0.01, 10)),
        stored_ratio=draw(st.booleans()),
    )
    return ComparisonResult(key, candidate, reference, draw(SECONDS), confidence=0.99, gates=gates)


@st.composite
def accuracy_results(draw: st.DrawFn) -> AccuracyResult:
    n = draw(st.integers(1, 30))
    ids = st.lists(st.integers(0, 70000), min_size=n, max_size=n).map(tuple)
    return AccuracyResult(
        draw(KEYS), "accuracy", draw(FRACTIONS), draw(ids), draw(ids), "ab" * 32, "head", 0.5
    )


@st.composite
def checks(draw: st.DrawFn) -> Check:
    common = {
        "metric": draw(NAMES),
        "baseline": draw(SECONDS),
        "current": draw(SECONDS),
        "low": draw(st.sampled_from([float("-inf"), 0.5])),
        "high": draw(st.sampled_from([float("inf"), 2.0])),
        "tolerance": draw(FRACTIONS),
        "outcome": draw(st.sampled_from(Outcome)),
        "mdr": draw(st.none() | FRACTIONS),
        "p_value": draw(st.none() | FRACTIONS),
        "note": draw(st.sampled_from(["", "stored on another machine"])),
        "deciding": draw(st.booleans()),
    }
    if draw(st.booleans()):
        return Check(**common)
    return AccuracyCheck(
        **common,
        paired=draw(st.booleans()),
        worse=draw(st.none() | st.integers(0, 9)),
        better=draw(st.none() | st.integers(0, 9)),
        flip_rate=draw(st.none() | FRACTIONS),
    )


RUNTIME_FACTS = st.builds(
    RuntimeFacts,
    runtime=NAMES,
    providers=st.lists(NAMES, max_size=2).map(tuple),
    intra_op_threads=st.none() | st.integers(1, 16),
    op_histogram=st.dictionaries(NAMES, st.integers(0, 50), max_size=3),
    spinning=st.none() | st.booleans(),
    model_sha256=st.none() | st.just("cd" * 32),
)
GPU = st.builds(
    GpuTelemetry,
    index=st.integers(0, 3),
    samples=st.lists(
        st.builds(
            GpuSample,
            # the series keeps what NVML reports: ms, tenths, whole MHz
            t_s=st.integers(0, 10**4).map(lambda t: t / 1000),
            utilization_pct=st.integers(0, 100).map(float),
            memory_used_mib=st.integers(0, 80000).map(lambda m: m / 10),
            power_w=st.integers(0, 7000).map(lambda p: p / 10),
            sm_clock_mhz=st.integers(0, 2000).map(float),
            temperature_c=st.integers(0, 90).map(float),
            slowdown_mask=st.sampled_from([0, 0x40]),
        ),
        min_size=1,
        max_size=5,
    ).map(tuple),
    other_processes=st.integers(0, 3),
)
TRACES = st.builds(
    Trace,
    runtime=NAMES,
    calls=st.integers(1, 10),
    call_ms=SECONDS,
    ops=st.lists(st.builds(OpTime, NAMES, NAMES, SECONDS, st.integers(0, 9), FRACTIONS)).map(tuple),
    by_type=st.lists(st.builds(OpTypeTime, NAMES, st.integers(0, 9), SECONDS, FRACTIONS)).map(
        tuple
    ),
)
CPU = st.builds(
    CpuUsage,
    wall_s=st.floats(1e-3, 1e4),  # a timed window, never empty
    process_cpu_s=SECONDS,
    cores=st.integers(1, 64),
    load_average=st.none() | SECONDS,
    torch_threads=st.none() | st.integers(1, 16),
    run_queue_wait_s=st.none() | SECONDS,
)


@st.composite
def measurements(draw: st.DrawFn) -> Measurement:
    result = draw(st.one_of(latency_results(), comparison_results(), accuracy_results()))
    kind = {LatencyResult: "latency", ComparisonResult: "ratio", AccuracyResult: "accuracy"}
    verdict = Verdict(
        result.key,
        kind[type(result)],
        draw(st.sampled_from(Outcome)),
        tuple(draw(st.lists(checks(), max_size=3))),
        draw(st.sampled_from(["", "no CUDA"])),
        draw(st.sampled_from(["", "model changed (sha256 ab… → cd…)"])),
    )
    return Measurement(
        nodeid=draw(KEYS),
        result=result,
        verdict=verdict,
        tolerances=draw(st.dictionaries(st.sampled_from(["p50", "p95", "ratio"]), FRACTIONS)),
        facts=draw(st.none() | RUNTIME_FACTS),
        gpu=draw(st.none() | GPU),
        trace=draw(st.none() | TRACES),
        cpu=draw(st.none() | CPU),
        reference_facts=draw(st.none() | RUNTIME_FACTS),
    )


MACHINE = Fingerprint("Fixture CPU", 2, 8.0, "Linux", "x86_64", "3.11.7", {"numpy": "2.4.6"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(measurements(), max_size=4))
def test_every_measurement_round_trips_between_processes_and_through_the_file(
    sent: list[Measurement],
) -> None:
    assert decode_measurements(encode_measurements(sent)) == sent
    results = ResultsFile(RESULTS_SCHEMA_VERSION, "ci", MACHINE, tuple(sent))
    text = dumps(encode_results(results))
    assert decode_results(json.loads(text), "r.json") == results


@settings(max_examples=50, deadline=None)
@given(accuracy_results())
def test_an_accuracy_result_round_trips_between_revisions(result: AccuracyResult) -> None:
    assert decode_record(json.loads(json.dumps(encode_record(result)))) == result


def test_a_record_of_another_kind_is_refused_by_name() -> None:
    """A record is read as the type the reader expects: its ``kind`` must say so."""
    latency = {"schema_version": RESULTS_SCHEMA_VERSION, "kind": "latency", "key": "t"}
    with pytest.raises(WireError, match=r"result\.kind: expected 'accuracy', got 'latency'"):
        decode_record(latency)


@st.composite
def baselines(draw: st.DrawFn) -> Baseline:
    """Baselines as a run records them: the codec rounds stored figures to 4 digits, so a
    record read back is the record written once rounded, and every later write is stable."""
    baseline = Baseline(revision=draw(st.none() | st.builds(RecordedCommit, st.just("abc1234"))))
    for i in range(draw(st.integers(0, 3))):
        when = f"2026-11-0{i + 1}T10:00:00+00:00"
        profile = draw(st.sampled_from(["a-2c", "b-16c"]))
        baseline = baseline.with_latency(
            draw(latency_results()),
            profile=profile,
            fingerprint=MACHINE,
            tolerance={"p50": 0.1},
            recorded_at=when,
            model_sha256=draw(st.none() | st.just("ab" * 32)),
        )
        baseline = baseline.with_ratio(
            draw(comparison_results()),
            profile=profile,
            fingerprint=MACHINE,
            tolerance={"ratio": 0.05},
            recorded_at=when,
        )
        baseline = baseline.with_accuracy(draw(accuracy_results()), recorded_at=when)
    return baseline


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(baselines())
def test_every_baseline_record_round_trips_once_rounded(baseline: Baseline) -> None:
    text = dumps(encode_baseline(baseline))
    once = decode_baseline(json.loads(text), "b.json")
    assert dumps(encode_baseline(once)) == text
    assert decode_baseline(json.loads(text), "b.json") == once
    assert once.entries.keys() == baseline.entries.keys()
    assert once.revision == baseline.revision


@pytest.mark.parametrize(
    "path",
    [ROOT / "example_project" / "baseline.json", DATA / "all_kinds_baseline_v2.json"],
    ids=str,
)
def test_committed_baselines_re_encode_byte_for_byte(path: Path) -> None:
    text = path.read_text()
    assert dumps(encode_baseline(decode_baseline(json.loads(text), str(path)))) == text


def test_a_version_1_baseline_reads_and_is_written_as_the_current_version() -> None:
    decoded = decode_baseline(json.loads((DATA / "baseline_v1.json").read_text()), "v1")
    assert encode_baseline(decoded)["schema_version"] == 2
    assert decoded.entries


@pytest.mark.parametrize("version", range(1, RESULTS_SCHEMA_VERSION + 1))
def test_every_results_file_version_reads(version: int) -> None:
    """A committed file of each version (written by the release that wrote that version)
    decodes; the current one re-encodes byte for byte."""
    path = DATA / f"results_v{version}.json"
    text = path.read_text()
    results = decode_results(json.loads(text), str(path))
    assert results.schema_version == version
    assert {m.result.key for m in results.measurements} >= {"t::a", "t::d"}
    if version == RESULTS_SCHEMA_VERSION:
        assert dumps(encode_results(results)) == text


def test_version_2_reads_as_version_3_did_without_what_it_lacked() -> None:
    """Version 3 only added tolerances and check notes: the same measurements, written by
    each, decode to the same records once those are cleared."""
    v2, v3 = (
        decode_results(json.loads((DATA / f"results_v{v}.json").read_text()), "r") for v in (2, 3)
    )

    def without_v3_keys(m: Measurement) -> object:
        checks = tuple(
            Check(**{**vars(c), "note": ""}) if type(c) is Check else c for c in m.verdict.checks
        )
        result = m.result
        if isinstance(result, ComparisonResult):  # version 2 gave the arms the measurement's key
            result = ComparisonResult(
                result.key,
                LatencyResult(**{**_init(result.candidate), "key": result.key}),
                LatencyResult(**{**_init(result.reference), "key": result.key}),
                result.measured_s,
                result.stop_reason,
                result.confidence,
                result.gates,
            )
        verdict = Verdict(**{**vars(m.verdict), "checks": checks})
        return Measurement(**{**_init(m), "tolerances": {}, "verdict": verdict, "result": result})

    assert [without_v3_keys(m) for m in v3.measurements] == list(v2.measurements)


def _init(record: object) -> dict[str, object]:
    import dataclasses

    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.init}  # type: ignore[arg-type]
