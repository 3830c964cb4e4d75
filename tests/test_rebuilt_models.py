"""A model rebuilt from the same inputs is told from another model, and one change under
many entries is one footnote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_infergate.measure.provenance import BUILD_FILE, build_digest
from pytest_infergate.report.terminal import format_notes, rows
from pytest_infergate.results import AccuracyResult, Measurement
from pytest_infergate.verdicts import Outcome, Verdict

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SAME, OTHER = "1" * 64, "2" * 64


def _write_build(directory: Path, digest: str) -> None:
    (directory / BUILD_FILE).write_text(json.dumps({"build_sha256": digest, "inputs": {}}))


def _rebuild(source: Path, target: Path, note: str) -> None:
    """The same graph with other bytes, as a build on another CPU family gives."""
    model = onnx.load(str(source))
    model.doc_string = note
    onnx.save(model, str(target))


def test_a_rebuild_from_the_same_inputs_is_not_another_model(
    onnx_project: pytest.Pytester, graphs: tuple[Path, Path]
) -> None:
    model = onnx_project.path / "model.onnx"
    model.write_bytes(graphs[0].read_bytes())
    _write_build(onnx_project.path, SAME)
    onnx_project.makepyfile(
        test_built="""
        from models import X, session

        def test_model(infer_bench):
            s = session("model.onnx")
            infer_bench(s.run, None, {"x": X})
        """
    )
    baseline = onnx_project.path / "baseline.json"
    wide = "--infer-latency-tolerance=500%"  # the digests are the point, not a 7 us call
    onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    (record,) = json.loads(baseline.read_text())["entries"]["test_built.py::test_model"][
        "machines"
    ].values()
    assert record["model_build_sha256"] == SAME

    _rebuild(graphs[0], model, "built on another machine")
    rebuilt = onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-strict", wide)
    rebuilt.assert_outcomes(passed=1)  # not another model: strict does not fail it
    rebuilt.stdout.fnmatch_lines(
        [
            "*test_built.py::test_model: model rebuilt from the same inputs (build 111111111111…,"
            " sha256 *… → *…)"
        ]
    )

    _write_build(onnx_project.path, OTHER)
    other = onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-strict", wide)
    other.assert_outcomes(failed=1)
    other.stdout.fnmatch_lines(
        [
            "*test_model: model changed: another build (build 111111111111… → 222222222222…,"
            " sha256 *--infer-strict is set*"
        ]
    )


def test_one_rebuilt_model_under_three_entries_is_one_footnote_in_a_session(
    onnx_project: pytest.Pytester, graphs: tuple[Path, Path]
) -> None:
    """The example's first run on another CPU family printed the same "model changed"
    line under 13 entries; three entries over one rebuilt model print it once."""
    model = onnx_project.path / "model.onnx"
    model.write_bytes(graphs[0].read_bytes())
    _write_build(onnx_project.path, SAME)
    onnx_project.makepyfile(
        test_shared="""
        import pytest
        from models import X, session

        @pytest.mark.parametrize("variant", ["a", "b", "c"])
        def test_model(infer_bench, variant):
            s = session("model.onnx")
            infer_bench(s.run, None, {"x": X})
        """
    )
    baseline = onnx_project.path / "baseline.json"
    wide = "--infer-latency-tolerance=500%"  # the digests are the point, not a 7 us call
    onnx_project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline"
    ).assert_outcomes(passed=3)

    _rebuild(graphs[0], model, "built on another machine")
    result = onnx_project.runpytest(f"--infer-baseline={baseline}", wide)
    result.assert_outcomes(passed=3)
    notes = [line for line in result.outlines if "rebuilt from the same inputs" in line]
    assert len(notes) == 1, notes
    assert notes[0].startswith("[")
    assert "] 3 entries: model rebuilt from the same inputs (build 111111111111…" in notes[0]
    mark = notes[0].split(" ", 1)[0]  # "[1]"
    table = [line for line in result.outlines if line.startswith("test_shared.py::")]
    assert len(table) >= 6  # p50 and p95 of each, CPU rows beside them
    assert all(mark in line for line in table), table  # every row, its CPU row too


def test_build_digest_reads_only_a_well_formed_note(tmp_path: Path) -> None:
    assert build_digest(tmp_path) is None
    assert build_digest(None) is None
    (tmp_path / BUILD_FILE).write_text("not json")
    assert build_digest(tmp_path) is None
    (tmp_path / BUILD_FILE).write_text(json.dumps({"build_sha256": "abc"}))
    assert build_digest(tmp_path) is None
    _write_build(tmp_path, SAME)
    assert build_digest(tmp_path) == SAME


def _changed(key: str, change: str) -> Measurement:
    result = AccuracyResult(key, "accuracy", 1.0, (0, 1), (0, 1), "a" * 64, "all 2", 0.1)
    verdict = Verdict(key, "accuracy", Outcome.PASS, model_change=change)
    return Measurement(key, result, verdict, {})


def test_one_change_under_many_entries_is_one_footnote() -> None:
    rebuilt = "model rebuilt from the same inputs (build 111111111111…, sha256 aaaa… → bbbb…)"
    other = "model changed (sha256 cccc… → dddd…)"
    measurements = [_changed(f"t.py::test_{i}", rebuilt) for i in range(13)]
    measurements.append(_changed("t.py::test_other", other))
    assert format_notes(rows(measurements)) == [
        f"[1] 13 entries: {rebuilt}",
        f"[2] t.py::test_other: {other}",
    ]
