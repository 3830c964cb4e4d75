from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_infergate.measure.environment import collect_fingerprint
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import (
    SCHEMA_VERSION,
    Baseline,
    BaselineError,
    decode_baseline,
    dumps,
    encode_baseline,
    load_baseline,
    read_json,
    write_atomic,
    write_baseline,
)

DATA = Path(__file__).parent.parent / "data"


def _result(key: str = "t::m", scale: int = 1) -> LatencyResult:
    return LatencyResult(key, tuple(1_000_000 * scale + i for i in range(50)), 1, 1, 10, 0.1)


def _baseline() -> Baseline:
    return Baseline().with_latency(
        _result(),
        profile="ci",
        fingerprint=collect_fingerprint(),
        tolerance={"p50": 0.1},
        recorded_at="2026-11-25T00:00:00+00:00",
    )


def test_round_trip_is_stable():
    text = dumps(encode_baseline(_baseline()))
    assert dumps(encode_baseline(decode_baseline(json.loads(text), "mem"))) == text


def test_text_is_diff_friendly():
    text = dumps(encode_baseline(_baseline()))
    assert text.endswith("\n")
    assert '  "schema_version": 2' in text
    lines = text.splitlines()
    assert all(line.count(",") <= 1 for line in lines), "one value per line"
    assert '"p50_ms": 1.0' in text


@pytest.mark.parametrize("version", sorted(p.name for p in DATA.glob("baseline_v*.json")))
def test_every_released_schema_version_loads(version: str) -> None:
    baseline = load_baseline(DATA / version)
    (entry,) = baseline.entries.values()
    assert entry.machines


def test_newer_schema_is_refused_with_upgrade_hint(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1, "entries": {}}))
    with pytest.raises(BaselineError, match="upgrade pytest-infergate"):
        load_baseline(path)


def test_missing_file_is_an_empty_baseline(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "nope.json") == Baseline()


def test_error_names_file_and_first_bad_field(tmp_path: Path) -> None:
    document = encode_baseline(_baseline())
    document["entries"]["t::m"]["machines"]["ci"]["history_p50_ms"][0] = -1
    with pytest.raises(BaselineError) as info:
        decode_baseline(document, "b.json")
    assert str(info.value).startswith("b.json: entries['t::m'].machines['ci'].history_p50_ms[0]:")


def test_history_keeps_the_last_ten_medians():
    baseline = Baseline()
    for scale in range(1, 13):
        baseline = baseline.with_latency(
            _result(scale=scale),
            profile="ci",
            fingerprint=collect_fingerprint(),
            tolerance={},
            recorded_at="now",
        )
    history = baseline.entries["t::m"].machines["ci"].history_p50_ms
    assert len(history) == 10
    assert history[-1] == pytest.approx(12.0, rel=1e-3)


def test_recording_keeps_other_machines():
    baseline = _baseline().with_latency(
        _result(scale=2),
        profile="laptop",
        fingerprint=collect_fingerprint(),
        tolerance={},
        recorded_at="now",
    )
    assert set(baseline.entries["t::m"].machines) == {"ci", "laptop"}
    assert set(baseline.machines) == {"ci", "laptop"}


def test_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "baseline.json"
    write_baseline(path, _baseline())
    before = path.read_bytes()

    def refuse(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, "{}")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.json"]


def test_read_json_reports_position_of_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{\n  "a": 1,\n}')
    with pytest.raises(BaselineError, match=r"line 3, column 1"):
        read_json(path)


def test_history_keeps_when_each_run_was_recorded():
    baseline = Baseline()
    for day in range(1, 13):
        baseline = baseline.with_latency(
            _result(scale=day),
            profile="ci",
            fingerprint=collect_fingerprint(),
            tolerance={},
            recorded_at=f"2026-11-{day:02d}T09:00:00+00:00",
        )
    record = baseline.entries["t::m"].machines["ci"]
    assert len(record.history_recorded_at) == len(record.history_p50_ms) == 10
    assert record.history_recorded_at[-1] == "2026-11-12T09:00:00+00:00"
    text = dumps(encode_baseline(baseline))
    decoded = decode_baseline(json.loads(text), "mem").entries["t::m"].machines["ci"]
    assert decoded.history_recorded_at == record.history_recorded_at


def test_a_bad_recording_time_names_its_field():
    document = encode_baseline(_baseline())
    document["entries"]["t::m"]["machines"]["ci"]["history_recorded_at"] = ["yesterday"]
    with pytest.raises(BaselineError, match=r"history_recorded_at\[0\]: expected an ISO 8601"):
        decode_baseline(document, "b.json")


def test_the_recorded_revision_round_trips_and_a_bad_one_is_named() -> None:
    from dataclasses import replace

    from pytest_infergate.store.baseline import RecordedCommit

    baseline = replace(_baseline(), revision=RecordedCommit("0123abc" * 4, dirty=True))
    document = encode_baseline(baseline)
    assert document["revision"] == {"sha": "0123abc" * 4, "dirty": True}
    assert decode_baseline(json.loads(dumps(document)), "b.json").revision == baseline.revision
    assert "revision" not in encode_baseline(_baseline())
    for bad, field in (
        ({"sha": "HEAD"}, "revision.sha"),
        ({"sha": "abcdef1", "dirty": 1}, "revision.dirty"),
    ):
        with pytest.raises(BaselineError, match=f"b.json: {field}: expected"):
            decode_baseline({**document, "revision": bad}, "b.json")
