"""infer_bench.compare() end to end, as a user runs it: controlled slowdowns (busy-waits of
1 ms times a factor), never wall-clock bounds; and the adaptive stop of stored measurements."""

from __future__ import annotations

import json
import textwrap

import pytest

AB_MODULE = textwrap.dedent(
    """
    import os
    import time

    import pytest

    def busy(ms):
        end = time.perf_counter() + ms / 1000
        while time.perf_counter() < end:
            pass

    def reference(x):
        busy(1.0)
        return x

    def candidate(x):
        busy(float(os.environ.get("INFERGATE_TEST_SLOWDOWN", "1")))
        return x * 2

    MAX_SLOWDOWN = os.environ.get("INFERGATE_TEST_MAX_SLOWDOWN", "10%")

    @pytest.mark.infergate(warmup_s=0.05)
    def test_ab(infer_bench):
        result = infer_bench.compare(candidate, reference, args=(21,), max_slowdown=MAX_SLOWDOWN)
        assert result.n >= 1
        assert result.candidate.throughput_per_s > 0
        assert result.reference.throughput_per_s > 0
    """
)

INI = "[pytest]\ninfer_max_time = 5\n"


@pytest.fixture
def ab_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(test_ab=AB_MODULE)
    return pytester


def _measurement(path) -> dict:
    (measurement,) = json.loads(path.read_text())["measurements"]
    return measurement


def test_compare_gates_without_a_baseline(ab_project: pytest.Pytester, slowdown) -> None:
    results = ab_project.path / "results.json"
    same = ab_project.runpytest(f"--infer-json={results}")
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines(["*test_ab.py::test_ab*slowdown*1.0*x*/arm (*)*"])
    measurement = _measurement(results)
    assert measurement["kind"] == "ratio"
    assert measurement["verdict"]["outcome"] in ("PASS", "INCONCLUSIVE")
    assert measurement["n"] in (50, 150, 500)
    assert len(measurement["candidate"]["samples_ns"]) == measurement["n"]
    assert 0.9 < measurement["ratio"] < 1.1
    assert measurement["ratio_low"] <= measurement["ratio"] <= measurement["ratio_high"]
    assert measurement["p95_ratio"] is None

    slowdown(2.0)
    slower = ab_project.runpytest(f"--infer-json={results}")
    assert slower.ret == pytest.ExitCode.TESTS_FAILED
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(
        [
            "*test_ab.py::test_ab: A/B REGRESSED: candidate/reference 2.0*max slowdown 10%*"
            "relax max_slowdown= or min_speedup=*",
            "*test_ab.py::test_ab*slowdown*2.0*x*REGRESSED*",
        ]
    )
    measurement = _measurement(results)
    assert measurement["verdict"]["outcome"] == "REGRESSED"
    assert measurement["verdict"]["checks"][0]["p_value"] < 0.0005


def test_min_speedup(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        import time
        import pytest

        def busy(ms):
            end = time.perf_counter() + ms / 1000
            while time.perf_counter() < end:
                pass

        def int8(x):
            busy(1.0)

        def fp32(x):
            busy(2.0)

        @pytest.mark.infergate(warmup_s=0.05)
        @pytest.mark.parametrize("required", [1.5, 20.0])
        def test_int8_is_faster(infer_bench, required):
            result = infer_bench.compare(int8, fp32, args=(1,), min_speedup=required)
            assert result.speedup > 1
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_int8_is_faster[[]20.0[]]: A/B REGRESSED: speedup *x (required 20.00x*"]
    )
    result.stdout.fnmatch_lines(["*speedup*20.00x*REGRESSED*"])


def test_stored_ratio_lifecycle(ab_project: pytest.Pytester, slowdown, monkeypatch) -> None:
    baseline = ab_project.path / "baseline.json"
    ab_project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline").assert_outcomes(
        passed=1
    )
    entry = json.loads(baseline.read_text())["entries"]["test_ab.py::test_ab"]
    assert entry["kind"] == "ratio"
    (record,) = entry["machines"].values()
    assert 0.8 < record["ratio"] < 1.25
    assert record["history_ratio"] == [record["ratio"]]

    # The fixed gate allows 300% (margin 150%); the stored ratio allows 10% (margin 5%).
    monkeypatch.setenv("INFERGATE_TEST_MAX_SLOWDOWN", "300%")
    slowdown(2.0)
    worse = ab_project.runpytest(f"--infer-baseline={baseline}")
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines(
        [
            "*A/B REGRESSED: ratio * vs stored 1.0*re-record with --infer-update-baseline*",
            "*test_ab.py::test_ab*ratio*REGRESSED*",
        ]
    )

    # On another machine the stored ratio is still gated, with twice the tolerance.
    elsewhere = ab_project.runpytest(f"--infer-baseline={baseline}", "--infer-machine=laptop")
    elsewhere.assert_outcomes(failed=1)
    elsewhere.stdout.fnmatch_lines(
        [
            "*A/B REGRESSED: ratio * vs stored 1.0*tolerance 20%*[[]ratio stored on machine*",
            "*test_ab.py::test_ab*ratio*REGRESSED [[]1[]]*",
            "[[]1[]] ratio stored on machine *, not this one ('laptop'): tolerance widened to 20%",
        ]
    )


def test_undecided_is_inconclusive_and_fails_only_when_strict(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.004\n")
    pytester.makepyfile(test_ab=AB_MODULE)
    lenient = pytester.runpytest("-p", "no:randomly")
    lenient.assert_outcomes(passed=1)
    lenient.stdout.fnmatch_lines(["*test_ab.py::test_ab*slowdown*(time cap)*INCONCLUSIVE*"])
    strict = pytester.runpytest("--infer-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*A/B INCONCLUSIVE: only * samples per arm*--infer-max-time*"])


def test_report_mode_never_fails(ab_project: pytest.Pytester, slowdown) -> None:
    slowdown(2.0)
    result = ab_project.runpytest("--infer-mode=report")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_ab.py::test_ab*slowdown*REGRESSED*"])


def test_off_mode_calls_each_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        calls = []

        def test_off(infer_bench):
            result = infer_bench.compare(lambda: calls.append("c"), lambda: calls.append("r"))
            assert calls == ["c", "r"]
            assert result.n == 1
        """
    )
    pytester.runpytest("--infer-mode=off").assert_outcomes(passed=1)


def test_bad_arguments_are_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def f():
            pass

        def test_negative_slowdown(infer_bench):
            with pytest.raises(ValueError, match="compare.*a tolerance must be .* >= 0"):
                infer_bench.compare(f, f, max_slowdown=-0.1)

        def test_zero_speedup(infer_bench):
            with pytest.raises(ValueError, match="min_speedup must be a number > 0"):
                infer_bench.compare(f, f, min_speedup=0)

        def test_not_callable(infer_bench):
            with pytest.raises(pytest.fail.Exception, match="reference must be callable"):
                infer_bench.compare(f, "fp32")
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_stored_measurement_stops_once_decided(project: pytest.Pytester, slowdown) -> None:
    """With a stored value to decide against, sampling stops at the first clear look; a
    recording samples by plan. (The looks themselves are unit-tested without timing.)"""
    project.makeini("[pytest]\ninfer_max_time = 5\n")
    baseline = project.path / "baseline.json"
    results = project.path / "results.json"
    project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", f"--infer-json={results}"
    ).assert_outcomes(passed=1)
    recorded = _measurement(results)
    assert recorded["stop_reason"] == "plan complete"
    assert recorded["n"] >= 100

    slowdown(2.0)
    project.runpytest(
        f"--infer-baseline={baseline}", f"--infer-json={results}", "--infer-mode=report"
    )
    gated = _measurement(results)
    assert gated["verdict"]["outcome"] == "REGRESSED"
    assert gated["stop_reason"] == "decided"
    assert gated["n"] in (50, 150, 300, 500)


def test_history_rule_reports_the_mdr_and_marks_a_tolerance_below_it(
    project: pytest.Pytester,
) -> None:
    baseline = project.path / "baseline.json"
    for _ in range(3):
        project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    args = (
        f"--infer-baseline={baseline}",
        "--infer-latency-tolerance=0.001",
        "--infer-mode=report",
    )
    # Three runs of one sitting: the gate allows 15% of drift it could not measure.
    one_sitting = project.runpytest(*args)
    one_sitting.stdout.fnmatch_lines(["*test_model_latency*p50 *ms*% *15%  *"])
    # The same runs dated a day apart: now their spread is the machine's drift.
    document = json.loads(baseline.read_text())
    (record,) = document["entries"]["test_model.py::test_model_latency"]["machines"].values()
    record["history_recorded_at"] = [f"2026-11-2{day}T09:00:00+00:00" for day in range(3)]
    baseline.write_text(json.dumps(document))
    result = project.runpytest(*args)
    result.stdout.fnmatch_lines(
        [
            "*metric*baseline*current*change*mdr*samples*verdict*",
            "*test_model_latency*p50*ms*%*%*) * [[]1[]]",
            "[[]1[]] tolerance 0.1% is below the *% this entry's history can detect*compare()*",
        ]
    )
