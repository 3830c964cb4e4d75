"""``--infer-only`` / ``--infer-skip``: run just the gate tests, or everything but them."""

from __future__ import annotations

import pytest

TESTS = """
import pytest

@pytest.mark.infergate(warmup=1, warmup_s=0, min_samples=3, min_time_s=0, max_time_s=0.1)
def test_latency(infer_bench):
    infer_bench(lambda: None)

@pytest.fixture
def wrapped(infer_bench):
    return infer_bench

def test_through_a_fixture(wrapped):
    pass

def test_accuracy(accuracy_eval):
    pass

def test_plain():
    pass
"""


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    lines = [ln.split(" ", 2) for ln in result.outlines if ln.startswith("test_mixed.py::")]
    return {ln[0].split("::")[-1]: ln[1] for ln in lines if ln[1] in ("PASSED", "SKIPPED")}


@pytest.mark.parametrize(
    ("flag", "passed", "skipped"),
    [
        (
            "--infer-only",
            {"test_latency", "test_through_a_fixture", "test_accuracy"},
            {"test_plain"},
        ),
        (
            "--infer-skip",
            {"test_plain"},
            {"test_latency", "test_through_a_fixture", "test_accuracy"},
        ),
    ],
)
def test_only_and_skip_pick_the_tests_that_use_the_fixtures(
    pytester: pytest.Pytester, flag: str, passed: set[str], skipped: set[str]
) -> None:
    pytester.makepyfile(test_mixed=TESTS)
    result = pytester.runpytest("-p", "no:randomly", "-v", "-rs", flag)
    result.assert_outcomes(passed=len(passed), skipped=len(skipped))
    outcomes = _outcomes(result)
    assert {t for t, word in outcomes.items() if word.startswith("PASSED")} == passed
    assert {t for t, word in outcomes.items() if word.startswith("SKIPPED")} == skipped
    result.stdout.fnmatch_lines([f"SKIPPED*infergate: *({flag})*"])


def test_only_and_skip_together_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mixed=TESTS)
    result = pytester.runpytest("-p", "no:randomly", "--infer-only", "--infer-skip")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert errors == [
        "ERROR: infergate: --infer-only and --infer-skip exclude each other; give one of them"
    ]
