"""The ``infergate`` command, run as users run it: a subprocess, exit codes, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_infergate

ROOT = Path(pytest_infergate.__file__).resolve().parents[1]


def infergate(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest_infergate.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_every_command_has_help() -> None:
    for command in ("show", "compare", "merge", "report", "csv", "prune"):
        done = infergate(command, "--help")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: infergate {command}")


def test_compare_exits_1_on_a_regression_and_0_otherwise(
    project: pytest.Pytester, slowdown
) -> None:
    baseline, same, slower = (project.path / n for n in ("b.json", "same.json", "slow.json"))
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    project.runpytest(f"--infer-json={same}").assert_outcomes(passed=1)
    slowdown(3.0)
    project.runpytest(f"--infer-json={slower}").assert_outcomes(passed=1)

    unchanged = infergate("compare", baseline, same)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "test_model.py::test_model_latency  p50" in unchanged.stdout
    assert unchanged.stdout.rstrip().endswith("0 of 1 measurements REGRESSED")

    regressed = infergate("compare", baseline, slower)
    assert regressed.returncode == 1
    assert "REGRESSED" in regressed.stdout.splitlines()[2]
    assert regressed.stdout.rstrip().endswith("1 of 1 measurements REGRESSED")
    # a tolerance wide enough to accept a 3x slowdown
    assert infergate("compare", baseline, slower, "--tolerance", "500%").returncode == 0
    assert infergate("compare", baseline, slower, "--tolerance", "lots").returncode == 2


AB_MODULE = """
import time

import pytest

def busy(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

def int8(x):
    busy(1.0 / 1.2)

def fp32(x):
    busy(1.0)

@pytest.mark.infergate(warmup_s=0.05)
def test_int8_speedup(infer_bench):
    infer_bench.compare(int8, fp32, args=(1,), min_speedup=1.3)
"""


def test_compare_reapplies_each_ab_tests_own_gates(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 5\n")
    pytester.makepyfile(test_ab=AB_MODULE)
    results, baseline = pytester.path / "results.json", pytester.path / "empty.json"
    baseline.write_text('{"schema_version": 2, "entries": {}}')
    run = pytester.runpytest(f"--infer-json={results}")
    run.assert_outcomes(failed=1)
    run.stdout.fnmatch_lines(["*A/B REGRESSED: speedup *x (required 1.30x*"])
    document = json.loads(results.read_text())
    (measurement,) = document["measurements"]
    assert measurement["gates"] == {"min_speedup": 1.3}
    assert measurement["verdict"]["outcome"] == "REGRESSED"

    # the plugin's verdict, offline: the stored min_speedup, not the default slowdown gate
    done = infergate("compare", baseline, results)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "test_ab.py::test_int8_speedup  speedup" in done.stdout
    assert done.stdout.rstrip().endswith("1 of 1 measurements REGRESSED")
    # --tolerance widens tolerance-derived gates only, not the test's fixed ones
    assert infergate("compare", baseline, results, "--tolerance", "500%").returncode == 1

    measurement["gates"] = {"min_speedup": 0}
    results.write_text(json.dumps(document))
    bad = infergate("compare", baseline, results)
    assert bad.returncode == 2
    assert bad.stderr == (
        f"infergate: error: {results}: measurements[0].gates: "
        "min_speedup must be a finite number > 0, got 0.0\n"
    )
    measurement["gates"] = {"max_speedup": 2}
    results.write_text(json.dumps(document))
    assert "unknown gate(s) max_speedup; known: max_slowdown, min_speedup" in (
        infergate("compare", baseline, results).stderr
    )


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    good = {"schema_version": 2, "machine": "m", "fingerprint": {}, "measurements": []}
    files = {
        # a newer file is refused before its shape is looked at: one file serves both
        "newer": {**good, "schema_version": 9, "entries": {}},
        "not ours": {"name": "some-package", "version": "1.0"},
    }
    paths = {name: tmp_path / f"{name.replace(' ', '_')}.json" for name in files}
    for name, document in files.items():
        paths[name].write_text(json.dumps(document))
    paths["truncated"] = tmp_path / "truncated.json"
    paths["truncated"].write_text(json.dumps(good)[:30])
    return paths


@pytest.mark.parametrize("which", ["newer", "truncated", "not ours"])
def test_bad_input_is_a_one_line_error_and_exit_2(
    bad_files: dict[str, Path], tmp_path: Path, which: str
) -> None:
    bad = bad_files[which]
    empty = tmp_path / "empty.json"
    empty.write_text('{"schema_version": 2, "entries": {}}')
    for args in (
        ("compare", empty, bad),
        ("report", bad, "-o", tmp_path / "r.html"),
        ("prune", empty, "--missing-from", bad),
        ("show", bad),
        ("merge", empty, bad, "-o", tmp_path / "m.json"),
    ):
        done = infergate(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"infergate: error: {bad}: ")
        expected = {"newer": "upgrade pytest-infergate", "truncated": "not valid JSON"}
        assert expected.get(which, "") in line
    assert not (tmp_path / "r.html").exists()
    assert not (tmp_path / "m.json").exists()


SHARD = """
DATA = [{{"text": f"t{{i}}", "label": i % 3}} for i in range(30)]

def test_{name}_accuracy(accuracy_eval):
    accuracy_eval(lambda batch: [len(x) % 3 for x in batch], DATA)

def test_{name}_latency(infer_bench):
    infer_bench(sum, range(100))
"""


def _normalised(path: Path) -> dict:
    """A baseline without what differs between runs: times, and latency figures."""
    document = json.loads(path.read_text())
    for entry in document["entries"].values():
        entry.pop("recorded_at", None)
        for profile, record in entry.get("machines", {}).items():
            entry["machines"][profile] = sorted(record)
    return document


def test_merge_of_two_shards_equals_a_single_run(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.05\n")
    pytester.makepyfile(test_a=SHARD.format(name="a"), test_b=SHARD.format(name="b"))
    for name, selection in (("a", ["test_a.py"]), ("b", ["test_b.py"]), ("all", [])):
        out = pytester.path / f"{name}.json"
        results = f"--infer-json={pytester.path / f'results_{name}.json'}"
        pytester.runpytest(
            f"--infer-baseline={out}", "--infer-update-baseline", results, *selection
        )
    merged = pytester.path / "merged.json"

    done = infergate("merge", "a.json", "b.json", "-o", merged, cwd=pytester.path)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "merged 2 baselines (4 entries)" in done.stdout
    assert _normalised(merged) == _normalised(pytester.path / "all.json")
    assert len(_normalised(merged)["entries"]) == 4

    # results files of the shards merge too, and not with a baseline
    done = infergate("merge", "results_a.json", "results_b.json", "-o", "r.json", cwd=pytester.path)
    assert done.returncode == 0, done.stderr
    keys = [m["key"] for m in json.loads((pytester.path / "r.json").read_text())["measurements"]]
    single = json.loads((pytester.path / "results_all.json").read_text())["measurements"]
    assert keys == [m["key"] for m in single]
    # timing noise between runs is not under test here: a wide tolerance
    compared = infergate("compare", "all.json", "r.json", "--tolerance", "500%", cwd=pytester.path)
    assert compared.returncode == 0, compared.stdout
    mixed = infergate("merge", "results_a.json", "b.json", "-o", "x.json", cwd=pytester.path)
    assert mixed.returncode == 2
    assert mixed.stderr.startswith("infergate: error: b.json: not a results file")


def test_merge_conflicts_keep_the_newer_and_are_reported(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.05\n")
    pytester.makepyfile(test_a=SHARD.format(name="a"))
    older, newer = pytester.path / "old.json", pytester.path / "new.json"
    pytester.runpytest(f"--infer-baseline={older}", "--infer-update-baseline")
    document = json.loads(older.read_text())
    for entry in document["entries"].values():
        for record in [entry, *entry.get("machines", {}).values()]:
            if "recorded_at" in record:
                record["recorded_at"] = "2020-01-01T00:00:00+00:00"
        for record in entry.get("machines", {}).values():
            record["p50_ms"] = 999.0
    older.write_text(json.dumps(document))
    pytester.runpytest(f"--infer-baseline={newer}", "--infer-update-baseline")

    done = infergate("merge", newer, older, "-o", "out.json", cwd=pytester.path)

    assert done.returncode == 0, done.stderr
    accuracy, latency = done.stderr.splitlines()
    assert accuracy.startswith("infergate: conflict: test_a.py::test_a_accuracy: ")
    assert latency.startswith("infergate: conflict: test_a.py::test_a_latency [")
    for conflict in (accuracy, latency):
        assert f"kept {newer}" in conflict
        assert f"dropped {older} (recorded 2020-01-01T00:00:00+00:00)" in conflict
    (record,) = json.loads((pytester.path / "out.json").read_text())["entries"][
        "test_a.py::test_a_latency"
    ]["machines"].values()
    assert record["p50_ms"] != 999.0


def test_prune_and_report(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.05\n")
    pytester.makepyfile(test_a=SHARD.format(name="a"), test_b=SHARD.format(name="b"))
    baseline, results = pytester.path / "b.json", pytester.path / "r.json"
    pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    pytester.runpytest(f"--infer-json={results}", "test_a.py")

    done = infergate("prune", baseline, "--missing-from", results)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "dropped test_b.py::test_b_accuracy",
        "dropped test_b.py::test_b_latency",
    ]
    assert sorted(json.loads(baseline.read_text())["entries"]) == [
        "test_a.py::test_a_accuracy",
        "test_a.py::test_a_latency",
    ]
    page = pytester.path / "report.html"
    done = infergate("report", results, "-o", page, "--baseline", baseline)
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    for section in ("verdicts", "latency", "tradeoff", "sweep", "machines"):
        assert f'<section id="{section}">' in text
    assert text.count('<figure class="chart" data-chart="latency">') == 1
    assert infergate("prune", baseline).returncode == 2
