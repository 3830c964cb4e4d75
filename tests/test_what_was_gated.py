"""The summary says what could not be gated, and a recording run says what it recorded."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["default", "quiet"])
def test_missing_baseline_file_is_said_in_one_line(
    project: pytest.Pytester, quiet: list[str]
) -> None:
    typo = project.path / "baselin.json"
    result = project.runpytest(f"--infer-baseline={typo}", *quiet)
    result.assert_outcomes(passed=1)
    lines = [line for line in result.outlines if "does not exist" in line]
    assert lines == [
        f"infergate: baseline {typo} does not exist, so every entry is NEW and nothing was "
        "gated; record it with --infer-update-baseline, or fix the path"
    ]
    assert not typo.exists()


def test_missing_baseline_file_under_strict_is_a_usage_error(project: pytest.Pytester) -> None:
    typo = project.path / "baselin.json"
    result = project.runpytest(f"--infer-baseline={typo}", "--infer-strict")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"ERROR: infergate: baseline {typo} does not exist")
    assert errors[0].endswith("(--infer-strict fails NEW entries)")


def test_recording_a_missing_baseline_says_nothing_about_it(project: pytest.Pytester) -> None:
    baseline = project.path / "baseline.json"
    result = project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    result.assert_outcomes(passed=1)
    assert "does not exist" not in result.stdout.str()
    assert baseline.exists()


UNDECIDED = """
import time

def busy():
    end = time.perf_counter() + 0.001
    while time.perf_counter() < end:
        pass

def test_undecided(infer_bench):
    infer_bench.compare(busy, busy, max_time_s=0.004, warmup=0)
"""


def _record_on(project: pytest.Pytester, machine: str) -> str:
    baseline = project.path / "baseline.json"
    project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", f"--infer-machine={machine}"
    ).assert_outcomes(passed=1)
    return str(baseline)


def test_quiet_run_counts_what_it_could_not_gate(project: pytest.Pytester) -> None:
    baseline = _record_on(project, "ci-runner")
    project.makepyfile(test_undecided=UNDECIDED)
    result = project.runpytest(f"--infer-baseline={baseline}", "--infer-machine=laptop", "-q")
    result.assert_outcomes(passed=2)
    lines = [line for line in result.outlines if line.startswith("infergate: not gated:")]
    assert lines == [
        "infergate: not gated: 1 measurement INCONCLUSIVE (the gate could not tell a change "
        "from the machine's noise, or the entry does not fit; the reasons are in the table "
        "without -q); 1 NO-BASELINE-FOR-MACHINE (recorded only on other machines, not "
        "'laptop'; --infer-update-baseline records this one)"
    ]
    # without -q the table shows those rows themselves
    loud = project.runpytest(f"--infer-baseline={baseline}", "--infer-machine=laptop")
    assert "not gated:" not in loud.stdout.str()
    loud.stdout.fnmatch_lines_random(["*test_undecided*INCONCLUSIVE*", "*NO-BASELINE-FOR-MACHINE*"])


def test_strict_fails_a_machine_without_a_baseline(project: pytest.Pytester) -> None:
    baseline = _record_on(project, "ci-runner")
    result = project.runpytest(
        f"--infer-baseline={baseline}", "--infer-machine=new-runner", "--infer-strict"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_model_latency: latency NO-BASELINE-FOR-MACHINE: no latency recorded for machine"
            " 'new-runner' (recorded for: ci-runner), and --infer-strict fails a machine without a"
            " baseline of its own; record it with --infer-update-baseline*"
        ]
    )


def test_recording_says_recorded_and_what_changed(project: pytest.Pytester, slowdown) -> None:
    import json

    baseline = project.path / "baseline.json"
    results = project.path / "results.json"
    update = [f"--infer-baseline={baseline}", "--infer-update-baseline", f"--infer-json={results}"]
    first = project.runpytest(*update)
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*test_model.py::test_model_latency*p50*RECORDED"])
    (measurement,) = json.loads(results.read_text())["measurements"]
    assert measurement["verdict"]["outcome"] == "RECORDED"

    slowdown(2.0)
    again = project.runpytest(*update)
    again.assert_outcomes(passed=1)
    output = again.stdout.str()
    assert "REGRESSED" not in output
    again.stdout.fnmatch_lines(["*test_model_latency*p50*1.0* ms*2.0* ms*+*%*UPDATED (+*%)"])
    (measurement,) = json.loads(results.read_text())["measurements"]
    verdict = measurement["verdict"]
    assert verdict["outcome"] == "UPDATED"
    assert verdict["reason"].startswith("updated: p50 1.0")
    (check,) = [c for c in verdict["checks"] if c["metric"] == "p50_ms"]
    assert check["outcome"] == "UPDATED"
    assert 1.7 < check["current"] / check["baseline"] < 2.6


AB_GATED = """
import os
import time

def busy(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

def test_ab(infer_bench):
    factor = float(os.environ.get("INFERGATE_TEST_SLOWDOWN", "1"))
    infer_bench.compare(lambda: busy(factor), lambda: busy(1.0), max_slowdown="10%")
"""


def test_recording_does_not_relax_an_ab_tests_fixed_gate(
    pytester: pytest.Pytester, slowdown
) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 5\n")
    pytester.makepyfile(test_ab=AB_GATED)
    baseline = pytester.path / "baseline.json"
    first = pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines_random(
        ["*test_ab.py::test_ab*slowdown*PASS", "*test_ab.py::test_ab*ratio*-*x*RECORDED"]
    )
    slowdown(2.0)
    result = pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*test_ab: A/B REGRESSED: candidate/reference*relax max_slowdown= or min_speedup=*",
            "*test_ab.py::test_ab*slowdown*REGRESSED*",
            "*test_ab.py::test_ab*ratio*UPDATED (+*%)*",
        ]
    )


def test_an_entry_whose_history_cannot_gate_says_so(project: pytest.Pytester) -> None:
    import json

    baseline = project.path / "baseline.json"
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline").assert_outcomes(
        passed=1
    )
    # three runs recorded on a loaded machine: 0.5, 1 and 4 ms (a log sd of 1.06)
    document = json.loads(baseline.read_text())
    (record,) = document["entries"]["test_model.py::test_model_latency"]["machines"].values()
    record["history_p50_ms"] = [0.5, 1.0, 4.0]
    record.pop("history_recorded_at", None)
    for field in ("cpu_clock", "cpu_p50_ms", "history_cpu_p50_ms", "history_cpu_per_wall"):
        record.pop(field, None)  # wall time decides, however loaded this machine is
    baseline.write_text(json.dumps(document))

    result = project.runpytest(f"--infer-baseline={baseline}")
    result.assert_outcomes(passed=1)
    (row,) = [x for x in result.outlines if x.startswith("test_model.py::") and " p50 " in x]
    assert " cannot gate " in row
    assert row.count("%") == 1  # the change; no MDR figure
    result.stdout.fnmatch_lines(
        [
            "[[]1[]] cannot gate here: the 3 stored runs on this machine, recorded in one "
            "sitting, spread so widely that only a slowdown beyond 100% (over 2x the time) could "
            "be told from their drift; gate it against the base revision in the same job with "
            "--infer-against=REV, or against a reference in the same process with "
            "infer_bench.compare(), or record runs at quieter times"
        ]
    )
    # -q shows no PASS row, so one line says that this PASS gated nothing
    quiet = project.runpytest(f"--infer-baseline={baseline}", "-q")
    quiet.assert_outcomes(passed=1)
    lines = [line for line in quiet.outlines if line.startswith("infergate: not gated:")]
    assert lines == [
        "infergate: not gated: 1 measurement passed where the stored runs spread too widely "
        "to gate (MDR beyond 100%; --infer-against=REV or infer_bench.compare() can gate them)"
    ]


ACCURACY = """
import os

DATA = [{"text": i, "label": i % 2} for i in range(300)]

def model(batch):
    wrong = int(os.environ.get("INFERGATE_TEST_WRONG", "30"))
    return [1 - x % 2 if x < wrong else x % 2 for x in batch]

def test_accuracy(accuracy_eval):
    accuracy_eval(model, DATA)
"""


def test_recording_an_accuracy_drop_says_updated_everywhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 20-point drop re-recorded on purpose is what changed, not a REGRESSED row in a
    run that exits 0: the terminal, the results JSON and the Markdown report agree."""
    import json

    pytester.makepyfile(test_acc=ACCURACY)
    baseline, results, report = (pytester.path / n for n in ("b.json", "r.json", "r.md"))
    update = [f"--infer-baseline={baseline}", "--infer-update-baseline"]
    pytester.runpytest(*update).assert_outcomes(passed=1)

    monkeypatch.setenv("INFERGATE_TEST_WRONG", "90")  # 90% -> 70% right
    again = pytester.runpytest(*update, f"--infer-json={results}", f"--infer-markdown={report}")
    again.assert_outcomes(passed=1)
    assert "REGRESSED" not in again.stdout.str()
    again.stdout.fnmatch_lines(["*test_accuracy*accuracy*90.00%*70.00%*UPDATED (-20.00 pts)"])
    (measurement,) = json.loads(results.read_text())["measurements"]
    assert measurement["verdict"]["outcome"] == "UPDATED"
    assert measurement["verdict"]["reason"] == "updated: accuracy 90.00% → 70.00% (-20.00 pts)"
    markdown = report.read_text()
    assert "REGRESSED" not in markdown
    assert "## infergate: 1 UPDATED" in markdown

    # the same drop in a gate run is REGRESSED and fails
    monkeypatch.setenv("INFERGATE_TEST_WRONG", "150")
    pytester.runpytest(f"--infer-baseline={baseline}").assert_outcomes(failed=1)
