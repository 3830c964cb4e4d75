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
