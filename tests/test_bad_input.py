"""Bad input gets a one-line usage error (exit code 4) and never touches the baseline."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

VALID = {
    "schema_version": 1,
    "entries": {
        "test_model.py::test_model_latency": {
            "kind": "latency",
            "tolerance": {"p50": 0.1, "p95": 0.2},
            "machines": {
                "ci": {
                    "n": 300,
                    "batch_size": 1,
                    "mean_ms": 1.0,
                    "stdev_ms": 0.01,
                    "min_ms": 0.99,
                    "max_ms": 1.2,
                    "p50_ms": 1.0,
                    "p90_ms": 1.01,
                    "p95_ms": 1.02,
                    "p99_ms": 1.1,
                    "history_p50_ms": [1.0],
                    "sketch_ms": [0.99, 1.0, 1.2],
                    "recorded_at": "2026-11-25T00:00:00+00:00",
                }
            },
        }
    },
    "machines": {},
}


def _with(path: list[str], value: object) -> str:
    document = json.loads(json.dumps(VALID))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(document, indent=2)


RECORD = ["entries", "test_model.py::test_model_latency", "machines", "ci"]

BAD_FILES = {
    "malformed JSON": ('{"schema_version": 1, "entries": {,}}', "not valid JSON"),
    "truncated file": (json.dumps(VALID, indent=2)[:200], "not valid JSON"),
    "unknown schema version": (_with(["schema_version"], 99), "upgrade pytest-infergate"),
    "schema version of the wrong type": (_with(["schema_version"], "1"), "schema_version"),
    "entries of the wrong type": (_with(["entries"], []), "entries: expected an object"),
    "latency of the wrong type": (_with([*RECORD, "p50_ms"], "fast"), "p50_ms"),
    "NaN latency": (_with([*RECORD, "p50_ms"], float("nan")), "p50_ms"),
    "negative latency": (_with([*RECORD, "p95_ms"], -1.0), "p95_ms"),
    "negative sample count": (_with([*RECORD, "n"], -3), ".n: expected an integer"),
    "unknown entry kind": (
        _with(["entries", "test_model.py::test_model_latency", "kind"], "speed"),
        "unknown entry kind",
    ),
    "not our file": ("[1, 2, 3]", "expected an object"),
}


def _assert_usage_error(result: pytest.RunResult, fragment: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, errors
    assert errors[0].startswith("ERROR: infergate: ")
    assert fragment in errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("update", [False, True], ids=["gate", "update"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_baseline_is_a_usage_error_and_left_alone(
    project: pytest.Pytester, case: str, update: bool
) -> None:
    text, fragment = BAD_FILES[case]
    baseline = project.path / "baseline.json"
    baseline.write_text(text)
    before = baseline.read_bytes()
    args = [f"--infer-baseline={baseline}", *(["--infer-update-baseline"] if update else [])]
    _assert_usage_error(project.runpytest(*args), fragment)
    assert baseline.read_bytes() == before


def test_baseline_path_that_is_a_directory(project: pytest.Pytester) -> None:
    (project.path / "somedir").mkdir()
    result = project.runpytest(f"--infer-baseline={project.path / 'somedir'}")
    _assert_usage_error(result, "is a directory")


@pytest.mark.parametrize(
    ("marker", "fragment"),
    [
        (
            "latency_tolerence=0.1",
            "unknown setting(s) latency_tolerence (did you mean latency_tolerance?)",
        ),
        ("latency_tolerance=-0.1", "latency_tolerance: a tolerance must be a finite number >= 0"),
        ("latency_tolerance=10", "latency_tolerance: 10 is a fraction above 1: did you mean 10%?"),
        ("percentiles=('p42',)", "unknown percentile 'p42'"),
        ("warmup='many'", "warmup: expected a whole number"),
        ("max_time_s=0", "max_time_s: expected a finite number of seconds > 0"),
        ("0.2", "takes keyword arguments only"),
    ],
)
def test_bad_marker_fails_only_its_test(
    pytester: pytest.Pytester, marker: str, fragment: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.infergate({marker})
        def test_it(infer_bench):
            infer_bench(sum, range(3))

        def test_other():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of test_it*", "infergate: @pytest.mark.infergate: *"]
    )
    (line,) = [x for x in result.outlines if x.startswith("infergate: @pytest.mark.infergate: ")]
    assert fragment in line
    assert "Traceback" not in result.stdout.str()
    # deselected, the bad marker stops nothing
    pytester.runpytest("-k", "test_other").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ("--infer-latency-tolerance=-0.1", "a tolerance must be a finite number >= 0"),
        ("--infer-latency-tolerance=fast", "expected a number such as 0.1 or 10%"),
        ("--infer-max-time=0", "expected a finite number of seconds > 0"),
        ("--infer-mode=loud", "expected one of gate, report, off"),
        ("--infer-latency-tolerance=10", "did you mean 10%? Write 1000% to allow +1000%"),
    ],
)
def test_bad_option_is_a_usage_error(project: pytest.Pytester, option: str, fragment: str) -> None:
    result = project.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option.split('=')[0]}*{fragment}*"])


@pytest.mark.parametrize(
    ("ini", "fragment"),
    [
        ("infer_latency_tolerance = -1", "ini infer_latency_tolerance: a tolerance must be"),
        ("infer_max_time = soon", "ini infer_max_time: expected a number of seconds"),
        ("infer_mode = maybe", "ini infer_mode: expected one of gate, report, off"),
        ("infer_strict = perhaps", "ini infer_strict: expected true or false"),
        ("infer_latency_tolerance = 10", "ini infer_latency_tolerance: '10' is a fraction above"),
    ],
)
def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester, ini: str, fragment: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_nothing(): pass")
    _assert_usage_error(pytester.runpytest(), fragment)


@contextlib.contextmanager
def _unwritable(directory: Path) -> Iterator[None]:
    """Make ``directory`` refuse new files, also for root (chattr +i) where possible."""
    directory.chmod(0o500)
    immutable = os.geteuid() == 0 and shutil.which("chattr") is not None
    if immutable:
        immutable = subprocess.run(["chattr", "+i", str(directory)], check=False).returncode == 0
    try:
        try:
            fd, probe = tempfile.mkstemp(dir=directory)
        except OSError:
            yield
        else:
            os.close(fd)
            os.unlink(probe)
            pytest.skip("this machine cannot make a directory unwritable for this user")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=False)
        directory.chmod(0o700)


def test_unwritable_directory_on_update(project: pytest.Pytester) -> None:
    locked = project.path / "locked"
    locked.mkdir()
    baseline = locked / "baseline.json"
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    before = baseline.read_bytes()
    with _unwritable(locked):
        result = project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
        _assert_usage_error(result, "cannot write in")
    assert baseline.read_bytes() == before
