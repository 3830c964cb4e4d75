"""Schema 2 of the baseline: ratio entries, latency histories, and loading version 1 files."""

from __future__ import annotations

import copy
import json
import math

import pytest

from pytest_infergate import cli
from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.results import ComparisonResult, LatencyResult
from pytest_infergate.store.baseline import (
    SCHEMA_VERSION,
    Baseline,
    BaselineError,
    LatencyEntry,
    ModelDigests,
    RatioEntry,
    decode_baseline,
    dumps,
    encode_baseline,
)

FINGERPRINT = Fingerprint("cpu", 2, 8.0, "linux", "x86_64", "3.11")


def _comparison(key: str, scale: float, n: int = 60) -> ComparisonResult:
    cand = tuple(int(3e6 * scale * (1 + 0.001 * (i % 7))) for i in range(n))
    ref = tuple(int(3e6 * (1 + 0.001 * (i % 5))) for i in range(n))
    return ComparisonResult(
        key,
        LatencyResult(f"{key}::candidate", cand, 1, 1, 0, 0.0),
        LatencyResult(f"{key}::reference", ref, 1, 1, 0, 0.0),
        0.0,
    )


def _with_ratio(baseline: Baseline, scale: float, profile: str = "ci") -> Baseline:
    return baseline.with_ratio(
        _comparison("t::ab", scale),
        profile=profile,
        fingerprint=FINGERPRINT,
        tolerance={"ratio": 0.1},
        recorded_at="2026-11-25T00:00:00+00:00",
    )


def test_ratio_entry_round_trips_and_keeps_a_history() -> None:
    baseline = _with_ratio(_with_ratio(Baseline(), 0.5), 0.55)
    document = json.loads(dumps(encode_baseline(baseline)))
    assert document["schema_version"] == SCHEMA_VERSION == 2
    entry = document["entries"]["t::ab"]
    assert entry["kind"] == "ratio"
    record = entry["machines"]["ci"]
    assert record["history_ratio"] == pytest.approx([0.5, 0.55], rel=0.01)
    decoded = decode_baseline(document, "b.json").entries["t::ab"]
    assert isinstance(decoded, RatioEntry)
    assert decoded.machines["ci"].ratio == pytest.approx(0.55, rel=0.01)
    assert decoded.machines["ci"].ratio_low <= decoded.machines["ci"].ratio


def test_a_latency_measurement_replaces_a_ratio_entry_of_the_same_key() -> None:
    baseline = _with_ratio(Baseline(), 0.5)
    result = LatencyResult("t::ab", (3_000_000,) * 10, 1, 1, 0, 0.0)
    replaced = baseline.with_latency(
        result, profile="ci", fingerprint=FINGERPRINT, tolerance={}, recorded_at="now"
    )
    entry = replaced.entries["t::ab"]
    assert isinstance(entry, LatencyEntry)
    assert entry.machines["ci"].history_p50_ms == (3.0,)


def test_infinite_interval_end_is_stored_as_null() -> None:
    baseline = Baseline().with_ratio(
        _comparison("t::ab", 0.5, n=2),
        profile="ci",
        fingerprint=FINGERPRINT,
        tolerance={},
        recorded_at="now",
    )
    document = json.loads(dumps(encode_baseline(baseline)))
    assert document["entries"]["t::ab"]["machines"]["ci"]["ratio_high"] is None
    decoded = decode_baseline(document, "b.json").entries["t::ab"]
    assert isinstance(decoded, RatioEntry)
    assert math.isinf(decoded.machines["ci"].ratio_high)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("ratio", 0, "ratio: expected a number > 0"),
        ("ratio", "fast", "ratio: expected a finite number"),
        ("ratio_low", 0.9, "is not inside its interval"),
        ("history_ratio", [0.5, -1], "history_ratio[1]"),
        ("reference_p50_ms", 0, "reference_p50_ms: expected a number > 0"),
    ],
)
def test_bad_ratio_records_are_refused(field: str, value: object, fragment: str) -> None:
    document = json.loads(dumps(encode_baseline(_with_ratio(Baseline(), 0.5))))
    document["entries"]["t::ab"]["machines"]["ci"][field] = value
    with pytest.raises(BaselineError, match=r"b\.json") as info:
        decode_baseline(document, "b.json")
    assert fragment in str(info.value)


VERSION_1 = {
    "schema_version": 1,
    "entries": {
        "t::m": {
            "kind": "latency",
            "tolerance": {"p50": 0.1},
            "machines": {
                "ci": {
                    "n": 300,
                    "batch_size": 1,
                    **{
                        f"{name}_ms": 1.0
                        for name in ("mean", "stdev", "min", "max", "p50", "p90", "p95", "p99")
                    },
                    "history_p50_ms": [1.0, 1.01],
                    "sketch_ms": [1.0],
                    "recorded_at": "2026-11-25T00:00:00+00:00",
                }
            },
        }
    },
}


def test_version_1_files_load_and_are_written_as_version_2() -> None:
    original = copy.deepcopy(VERSION_1)
    baseline = decode_baseline(VERSION_1, "old.json")
    assert original == VERSION_1  # the caller's document is not touched
    entry = baseline.entries["t::m"]
    assert isinstance(entry, LatencyEntry)
    record = entry.machines["ci"]
    assert record.history_p50_ms == (1.0, 1.01)
    assert record.history_p95_ms == ()
    assert encode_baseline(baseline)["schema_version"] == 2


def test_cli_show_lists_ratio_entries(tmp_path, capsys) -> None:
    path = tmp_path / "b.json"
    path.write_text(dumps(encode_baseline(_with_ratio(Baseline(), 0.5))))
    assert cli.main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "t::ab  [ci]  n=60 per arm  candidate/reference 0.5" in out
    assert "speed-up 2" in out


DIGEST_A, DIGEST_B = "a" * 64, "b" * 64


def _with_digests(baseline: Baseline) -> Baseline:
    from pytest_infergate.results import AccuracyResult

    accuracy = AccuracyResult("t::acc", "accuracy", 0.5, (1, 0), (1, 1), "c" * 64, "all 2", 0.1)
    return baseline.with_ratio(
        _comparison("t::ab", 0.5),
        profile="ci",
        fingerprint=FINGERPRINT,
        tolerance={"ratio": 0.1},
        recorded_at="2026-11-25T00:00:00+00:00",
        models=(ModelDigests(DIGEST_A), ModelDigests(DIGEST_B)),
    ).with_accuracy(accuracy, recorded_at="2026-11-25T00:00:00+00:00", model_sha256=DIGEST_A)


def test_model_digests_of_ratio_and_accuracy_entries_round_trip() -> None:
    from pytest_infergate.store.baseline import AccuracyEntry, stored_digests

    text = dumps(encode_baseline(_with_digests(Baseline())))
    document = json.loads(text)
    record = document["entries"]["t::ab"]["machines"]["ci"]
    assert (record["model_sha256"], record["reference_model_sha256"]) == (DIGEST_A, DIGEST_B)
    assert document["entries"]["t::acc"]["model_sha256"] == DIGEST_A
    decoded = decode_baseline(document, "b.json")
    assert dumps(encode_baseline(decoded)) == text
    ratio, accuracy = decoded.entries["t::ab"], decoded.entries["t::acc"]
    assert isinstance(ratio, RatioEntry)
    assert isinstance(accuracy, AccuracyEntry)
    assert ratio.machines["ci"].reference_model_sha256 == DIGEST_B
    assert accuracy.model_sha256 == DIGEST_A
    assert stored_digests(ratio, "other-machine") == (DIGEST_A, DIGEST_B)
    assert stored_digests(accuracy, "ci") == (DIGEST_A, None)
    assert stored_digests(None, "ci") == (None, None)


def test_entries_without_model_digests_load_and_write_none() -> None:
    from pytest_infergate.store.baseline import AccuracyEntry

    document = json.loads(dumps(encode_baseline(_with_digests(Baseline()))))
    del document["entries"]["t::ab"]["machines"]["ci"]["model_sha256"]
    del document["entries"]["t::ab"]["machines"]["ci"]["reference_model_sha256"]
    del document["entries"]["t::acc"]["model_sha256"]
    decoded = decode_baseline(document, "b.json")
    ratio, accuracy = decoded.entries["t::ab"], decoded.entries["t::acc"]
    assert isinstance(ratio, RatioEntry)
    assert isinstance(accuracy, AccuracyEntry)
    assert ratio.machines["ci"].model_sha256 is None
    assert ratio.machines["ci"].reference_model_sha256 is None
    assert accuracy.model_sha256 is None
    assert "model_sha256" not in dumps(encode_baseline(decoded))


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("t::ab", "machines", "ci"), "reference_model_sha256"),
        (("t::ab", "machines", "ci"), "model_sha256"),
        (("t::acc",), "model_sha256"),
    ],
)
def test_bad_model_digests_are_refused_naming_the_field(path: tuple[str, ...], field: str) -> None:
    document = json.loads(dumps(encode_baseline(_with_digests(Baseline()))))
    target = document["entries"]
    for step in path:
        target = target[step]
    target[field] = "not-a-digest"
    with pytest.raises(BaselineError, match=rf"\.{field}: expected 64 lowercase hex digits"):
        decode_baseline(document, "b.json")
