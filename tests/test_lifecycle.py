"""The baseline lifecycle, as a user runs it: record, gate, regress, re-record."""

from __future__ import annotations

import json

import pytest


def test_record_gate_regress_rerecord(project: pytest.Pytester, slowdown) -> None:
    baseline = project.path / "baseline.json"

    recorded = project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    recorded.assert_outcomes(passed=1)
    entry = json.loads(baseline.read_text())["entries"]["test_model.py::test_model_latency"]
    assert entry["kind"] == "latency"
    (record,) = entry["machines"].values()
    assert 0.9 <= record["p50_ms"] <= 1.5

    unchanged = project.runpytest(f"--infer-baseline={baseline}")
    unchanged.assert_outcomes(passed=1)
    unchanged.stdout.fnmatch_lines(["*test_model.py::test_model_latency*p50*PASS*"])

    slowdown(2.0)
    slower = project.runpytest(f"--infer-baseline={baseline}")
    assert slower.ret == pytest.ExitCode.TESTS_FAILED
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(
        [
            "*latency REGRESSED: p50 2* ms vs baseline 1* ms*re-record with --infer-update-*",
            "*test_model.py::test_model_latency*p50*REGRESSED*",
        ]
    )

    accepted = project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    accepted.assert_outcomes(passed=1)
    (record,) = json.loads(baseline.read_text())["entries"]["test_model.py::test_model_latency"][
        "machines"
    ].values()
    assert record["p50_ms"] >= 1.8
    assert len(record["history_p50_ms"]) == 2

    project.runpytest(f"--infer-baseline={baseline}").assert_outcomes(passed=1)


def test_update_rewrites_only_the_tests_that_ran(project: pytest.Pytester) -> None:
    baseline = project.path / "baseline.json"
    project.makepyfile(
        test_other="""
        def test_other(infer_bench):
            infer_bench(sum, range(10))
        """
    )
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    before = json.loads(baseline.read_text())["entries"]["test_other.py::test_other"]

    project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "test_model.py"
    ).assert_outcomes(passed=1)

    after = json.loads(baseline.read_text())["entries"]
    assert after["test_other.py::test_other"] == before
    (record,) = after["test_model.py::test_model_latency"]["machines"].values()
    assert len(record["history_p50_ms"]) == 2


def test_named_measurements_get_their_own_entries(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(
        """
        def test_two_models(infer_bench):
            fast = infer_bench.measure(sum, args=(range(10),), name="small", batch_size=4)
            slow = infer_bench.measure(sum, args=(range(1000),), name="large")
            assert fast.batch_size == 4
            assert fast.throughput_per_s > 0
            assert slow.p50_ms > fast.p50_ms

        def test_same_name_twice_is_an_error(infer_bench):
            infer_bench.measure(sum, args=(range(3),), name="a")
            infer_bench.measure(sum, args=(range(3),), name="a")
        """
    )
    baseline = pytester.path / "b.json"
    result = pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*::a was already measured in this test; name 'a' is taken*"])
    keys = set(json.loads(baseline.read_text())["entries"])
    assert {
        "test_named_measurements_get_their_own_entries.py::test_two_models::small",
        "test_named_measurements_get_their_own_entries.py::test_two_models::large",
    } <= keys


def test_exception_in_timed_function_fails_the_test_and_writes_no_entry(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def broken():
            raise RuntimeError("model exploded")

        def test_broken(infer_bench):
            infer_bench(broken)
        """
    )
    baseline = pytester.path / "b.json"
    result = pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: model exploded*"])
    assert not baseline.exists()


def test_interrupted_update_leaves_the_baseline_intact(project: pytest.Pytester) -> None:
    baseline = project.path / "baseline.json"
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    before = baseline.read_bytes()
    project.makepyfile(
        test_zz_interrupt="""
        def test_interrupt(infer_bench):
            infer_bench(sum, range(10))
            raise KeyboardInterrupt
        """
    )
    result = project.runpytest_subprocess(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "-p", "no:randomly"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert baseline.read_bytes() == before


def test_no_baseline_for_this_machine_passes(project: pytest.Pytester) -> None:
    baseline = project.path / "baseline.json"
    project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "--infer-machine=ci-runner"
    )
    result = project.runpytest(f"--infer-baseline={baseline}", "--infer-machine=laptop")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_model_latency*NO-BASELINE-FOR-MACHINE*"])


def test_strict_fails_new_entries(project: pytest.Pytester) -> None:
    baseline = project.path / "baseline.json"
    baseline.write_text('{"schema_version": 2, "entries": {}, "machines": {}}')
    lenient = project.runpytest(f"--infer-baseline={baseline}")
    lenient.assert_outcomes(passed=1)
    lenient.stdout.fnmatch_lines(["*test_model_latency*NEW*"])

    strict = project.runpytest(f"--infer-baseline={baseline}", "--infer-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*latency NEW: no baseline entry*--infer-update-baseline*"])


def test_report_mode_prints_but_never_fails(project: pytest.Pytester, slowdown) -> None:
    baseline = project.path / "baseline.json"
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    slowdown(2.0)
    result = project.runpytest(f"--infer-baseline={baseline}", "--infer-mode=report")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_model_latency*REGRESSED*"])


def test_off_mode_calls_once_and_records_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        calls = []

        def model():
            calls.append(1)
            return "out"

        def test_off(infer_bench):
            assert infer_bench(model) == "out"
            assert len(calls) == 1
        """
    )
    baseline = pytester.path / "b.json"
    result = pytester.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "--infer-mode=off"
    )
    result.assert_outcomes(passed=1)
    assert not baseline.exists()
    assert "infergate: machine" not in result.stdout.str()


def test_quiet_summary_lists_only_regressions(project: pytest.Pytester, slowdown) -> None:
    baseline = project.path / "baseline.json"
    project.makepyfile(
        test_steady="""
        import pytest

        # A 1 us call against a one-run baseline: under load it may wander, and this test
        # is about what -q shows, so only a 6x change could fail it.
        @pytest.mark.infergate(latency_tolerance="500%")
        def test_steady(infer_bench):
            infer_bench(sum, range(100))
        """
    )
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    slowdown(2.0)
    result = project.runpytest(f"--infer-baseline={baseline}", "-q")
    result.stdout.fnmatch_lines(["*test_model_latency*REGRESSED*"])
    assert "test_steady.py::test_steady " not in result.stdout.str()


def test_results_json_has_samples_verdicts_and_fingerprint(project: pytest.Pytester) -> None:
    results = project.path / "out" / "results.json"
    results.parent.mkdir()
    project.runpytest(f"--infer-json={results}").assert_outcomes(passed=1)
    document = json.loads(results.read_text())
    assert document["schema_version"] == 3
    assert document["fingerprint"]["cores"] >= 1
    (measurement,) = document["measurements"]
    assert measurement["key"] == "test_model.py::test_model_latency"
    assert measurement["verdict"]["outcome"] == "NEW"
    assert len(measurement["samples_ns"]) == measurement["n"] >= 100
    assert measurement["p50_ms"] <= measurement["p95_ms"] <= measurement["p99_ms"]


def test_marker_tolerance_overrides_ini_and_cli_overrides_marker(
    project: pytest.Pytester, slowdown
) -> None:
    baseline = project.path / "baseline.json"
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    project.makepyfile(
        test_model="""
        import pytest
        from test_base import model

        @pytest.mark.infergate(latency_tolerance="200%")
        def test_model_latency(infer_bench):
            infer_bench(model, 21)
        """,
        test_base="""
        import os, time

        def model(x):
            end = time.perf_counter() + 0.001 * float(os.environ["INFERGATE_TEST_SLOWDOWN"])
            while time.perf_counter() < end:
                pass
            return x * 2
        """,
    )
    slowdown(2.0)
    project.runpytest(f"--infer-baseline={baseline}").assert_outcomes(passed=1)
    overridden = project.runpytest(f"--infer-baseline={baseline}", "--infer-latency-tolerance=10%")
    overridden.assert_outcomes(failed=1)


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*inference latency and accuracy gate*",
            "*--infer-baseline=PATH*",
            "*--infer-update-baseline*",
            "*--infer-strict*",
            "*--infer-latency-tolerance=FRACTION*",
            "*--infer-max-time=SECONDS*",
            "*--infer-machine=NAME*",
            "*--infer-json=PATH*",
            "*--infer-mode=gate|report|off*",
        ]
    )


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.infergate(**settings):*"])
