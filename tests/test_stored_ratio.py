"""The stored A/B ratio end to end: judged against its history, and optional."""

from __future__ import annotations

import json

import pytest

from tests.test_cli import infergate

AB = """
import os
import time

def busy(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

# only the test of stored_ratio=False passes it
OPTIONS = {"stored_ratio": False} if os.environ.get("INFERGATE_TEST_STORED") == "0" else {}

def test_ab(infer_bench):
    factor = float(os.environ.get("INFERGATE_TEST_SLOWDOWN", "1"))
    infer_bench.compare(lambda: busy(factor), lambda: busy(1.0), max_slowdown="300%", **OPTIONS)
"""


@pytest.fixture
def ab(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\ninfer_max_time = 5\n")
    pytester.makepyfile(test_ab=AB)
    return pytester


def _update(ab: pytest.Pytester, baseline) -> None:
    ab.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline").assert_outcomes(
        passed=1
    )


def test_one_outlying_record_does_not_fail_the_runs_after_it(ab: pytest.Pytester, slowdown) -> None:
    baseline = ab.path / "baseline.json"
    _update(ab, baseline)
    _update(ab, baseline)
    slowdown(0.6)  # one record on a machine that made the candidate look 40% faster
    _update(ab, baseline)
    (record,) = json.loads(baseline.read_text())["entries"]["test_ab.py::test_ab"][
        "machines"
    ].values()
    assert len(record["history_ratio"]) == 3
    assert record["ratio"] < 0.7

    slowdown(1.0)  # unchanged code, ordinary machine
    result = ab.runpytest(f"--infer-baseline={baseline}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*judged against [01].*, the median of the last 3 stored ratios: the newest (0.6*"]
    )

    slowdown(2.0)  # a real regression is still caught against the history
    ab.runpytest(f"--infer-baseline={baseline}").assert_outcomes(failed=1)


def test_stored_ratio_false_keeps_only_the_fixed_gates(
    ab: pytest.Pytester, slowdown, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = ab.path / "baseline.json"
    results = ab.path / "results.json"
    _update(ab, baseline)  # a stored ratio of about 1.0
    slowdown(2.0)
    ab.runpytest(f"--infer-baseline={baseline}").assert_outcomes(failed=1)  # stored: +100%

    monkeypatch.setenv("INFERGATE_TEST_STORED", "0")
    kept = ab.runpytest(f"--infer-baseline={baseline}", f"--infer-json={results}")
    kept.assert_outcomes(passed=1)  # 2x is within max_slowdown=300%
    assert " ratio " not in kept.stdout.str()
    (measurement,) = json.loads(results.read_text())["measurements"]
    assert measurement["gates"] == {"max_slowdown": 3.0, "stored_ratio": False}
    assert [c["metric"] for c in measurement["verdict"]["checks"]] == ["slowdown"]
    # offline, the results are judged as the run judged them
    assert infergate("compare", baseline, results).returncode == 0

    # and a recording run with stored_ratio=False keeps no ratio
    fresh = ab.path / "fresh.json"
    ab.runpytest(f"--infer-baseline={fresh}", "--infer-update-baseline").assert_outcomes(passed=1)
    assert "test_ab.py::test_ab" not in json.loads(fresh.read_text())["entries"]


def test_a_ratio_from_too_few_samples_is_not_recorded(ab: pytest.Pytester) -> None:
    """A time cap that leaves fewer samples than the A/B rule needs records no ratio: such a
    ratio once read 0.0045 from 3 samples per arm, and the next run REGRESSED at +22158%."""
    baseline = ab.path / "baseline.json"
    result = ab.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "--infer-max-time=0.001"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*not recorded*samples per arm, fewer than the 10*"])
    assert not baseline.exists() or "test_ab.py::test_ab" not in json.loads(
        baseline.read_text()
    ).get("entries", {})

    _update(ab, baseline)  # with time enough, the same test records its ratio
    assert "test_ab.py::test_ab" in json.loads(baseline.read_text())["entries"]
