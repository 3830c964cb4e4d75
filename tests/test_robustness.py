"""Nothing lost, nothing hung, no traceback: concurrency, hostile files, signals, xdist.

Each test reproduces one way a run could lose data, hang or end in a traceback, and
checks the promise instead: a one-line ``ERROR: infergate: ...`` (exit 4 in pytest,
2 in the CLI), the baseline byte-identical after a failure, no entry lost.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_infergate.store.baseline import _terminate_as_interrupt, lock_path
from tests.test_bad_input import RECORD, VALID, _assert_usage_error, _with

INFERGATE = [sys.executable, "-m", "pytest_infergate.cli"]


def _cli(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INFERGATE, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def _assert_cli_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("infergate: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def _entries(path: Path) -> dict[str, dict[str, object]]:
    entries: dict[str, dict[str, object]] = json.loads(path.read_text())["entries"]
    return entries


# -- 1. two concurrent updates of one file -----------------------------------------------

CONCURRENT_TESTS = textwrap.dedent(
    """
    def model(x):
        return x * 2

    def test_shared(infer_bench):
        infer_bench(model, 21)

    def test_a(infer_bench):
        infer_bench(model, 1)

    def test_b(infer_bench):
        infer_bench(model, 2)
    """
)


def test_concurrent_updates_lose_no_entry_and_no_history_append(
    pytester: pytest.Pytester,
) -> None:
    """Two real pytest processes update one baseline at the same moment, ten times over:
    one process records ``test_a``, the other ``test_b``, both ``test_shared``. Without
    the lock and the re-read, the last writer's file would lose the other's entry and
    one of the two history appends."""
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(test_models=CONCURRENT_TESTS)
    template = pytester.path / "template.json"
    pytester.runpytest_subprocess(
        f"--infer-baseline={template}", "--infer-update-baseline", "-k", "shared"
    ).assert_outcomes(passed=1)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for trial in range(10):
        baseline = pytester.path / f"baseline{trial}.json"
        shutil.copy(template, baseline)
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
        common = [f"--infer-baseline={baseline}", "--infer-update-baseline"]
        processes = [
            subprocess.Popen(
                [*base, *common, "-k", f"shared or test_{own}"],
                cwd=pytester.path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for own in ("a", "b")
        ]
        outputs = [p.communicate(timeout=120)[0] for p in processes]
        assert [p.returncode for p in processes] == [0, 0], outputs
        entries = _entries(baseline)
        assert sorted(entries) == [
            "test_models.py::test_a",
            "test_models.py::test_b",
            "test_models.py::test_shared",
        ], f"trial {trial}"
        (record,) = entries["test_models.py::test_shared"]["machines"].values()  # type: ignore[attr-defined]
        assert len(record["history_p50_ms"]) == 3, f"trial {trial}: {record['history_p50_ms']}"


def test_the_lock_is_keyed_by_the_real_path(tmp_path: Path) -> None:
    target = tmp_path / "baseline.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert lock_path(link) == lock_path(target)
    assert lock_path(tmp_path / "other.json") != lock_path(target)
    assert not lock_path(target).is_relative_to(tmp_path)  # no litter beside the file


# -- 2. values the README allows must not crash the gate ---------------------------------


def _zero_history(project: pytest.Pytester) -> Path:
    baseline = project.path / "baseline.json"
    baseline.write_text(_with([*RECORD, "history_p50_ms"], [0, 0, 0]))
    return baseline


@pytest.mark.parametrize("update", [False, True], ids=["gate", "update"])
def test_zero_history_is_a_usage_error_naming_the_field(
    project: pytest.Pytester, update: bool
) -> None:
    baseline = _zero_history(project)
    before = baseline.read_bytes()
    args = [f"--infer-baseline={baseline}", *(["--infer-update-baseline"] if update else [])]
    _assert_usage_error(project.runpytest(*args), "history_p50_ms[0]: expected a time in ms > 0")
    assert baseline.read_bytes() == before


def test_zero_history_in_the_cli(project: pytest.Pytester) -> None:
    baseline = _zero_history(project)
    _assert_cli_error(_cli("show", baseline), "history_p50_ms[0]: expected a time in ms > 0")


def test_the_widest_spread_a_file_may_hold_is_judged_without_overflow(
    project: pytest.Pytester,
) -> None:
    """1e-9 ms to 1e9 ms is the range a stored time may take; the history rule takes
    logarithms and exponentials of it and must stay finite."""
    baseline = project.path / "baseline.json"
    record = [*RECORD, "history_p50_ms"]
    document = json.loads(_with(record, [1e-9, 1e9, 1.0, 1e-9, 1e9]))
    document["machines"] = {}
    (profile,) = document["entries"]["test_model.py::test_model_latency"]["machines"]
    baseline.write_text(json.dumps(document))
    results = project.path / "results.json"
    run = project.runpytest(
        f"--infer-baseline={baseline}", f"--infer-machine={profile}", f"--infer-json={results}"
    )
    assert run.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    assert "INTERNALERROR" not in run.stdout.str()
    assert "math" not in run.stdout.str()
    compared = _cli("compare", baseline, results)
    assert compared.returncode in (0, 1), compared.stderr
    assert "Traceback" not in compared.stderr


@pytest.mark.parametrize("value", [1e-10, 2e9], ids=["too small", "too large"])
def test_times_outside_the_stored_range_are_refused(project: pytest.Pytester, value: float) -> None:
    baseline = project.path / "baseline.json"
    baseline.write_text(_with([*RECORD, "history_p50_ms"], [1.0, value]))
    _assert_usage_error(
        project.runpytest(f"--infer-baseline={baseline}"), "history_p50_ms[1]: expected a time"
    )


# -- 3. hostile JSON ---------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INTEGER = _with([*RECORD, "p50_ms"], 0).replace('"p50_ms": 0', '"p50_ms": 1' + "0" * 400)
LONG_INTEGER = _with([*RECORD, "p50_ms"], 0).replace('"p50_ms": 0', '"p50_ms": 1' + "0" * 5000)

HOSTILE = {
    "nested 100k levels": (DEEP, "nested too deeply"),
    "10**400 in a float field": (HUGE_INTEGER, "p50_ms: expected a finite number"),
    "5000-digit integer": (LONG_INTEGER, "not valid JSON"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_baseline_is_one_line_in_pytest(project: pytest.Pytester, case: str) -> None:
    text, fragment = HOSTILE[case]
    baseline = project.path / "baseline.json"
    baseline.write_text(text)
    before = baseline.read_bytes()
    result = project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    _assert_usage_error(result, fragment)
    assert str(baseline) in result.stderr.str()  # the message names the file
    assert baseline.read_bytes() == before


def _hostile_results(results_text: str, case: str) -> tuple[str, str]:
    """The results-file counterpart of ``HOSTILE[case]``."""
    if case == "nested 100k levels":
        return HOSTILE[case]
    digits = 400 if case == "10**400 in a float field" else 5000
    text = re.sub(
        r'"measured_s": [0-9.e-]+', '"measured_s": 1' + "0" * digits, results_text, count=1
    )
    return text, "measured_s: expected a finite number" if digits == 400 else "not valid JSON"


#: Each command, with BAD standing for the hostile file: as a baseline, or as results.
COMMANDS = {
    "show": ("baseline", ["show", "BAD"]),
    "compare baseline": ("baseline", ["compare", "BAD", "GOOD_RESULTS"]),
    "compare results": ("results", ["compare", "GOOD_BASELINE", "BAD"]),
    "report": ("results", ["report", "BAD", "-o", "r.html"]),
    "merge baselines": ("baseline", ["merge", "GOOD_BASELINE", "BAD", "-o", "m.json"]),
    "merge results": ("results", ["merge", "GOOD_RESULTS", "BAD", "-o", "m.json"]),
    "prune": ("baseline", ["prune", "BAD", "--older-than", "1"]),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_are_one_line_in_every_cli_command(
    tmp_path: Path, results_text: str, case: str, command: str
) -> None:
    kind, template = COMMANDS[command]
    text, fragment = HOSTILE[case] if kind == "baseline" else _hostile_results(results_text, case)
    files = {
        "BAD": tmp_path / "bad.json",
        "GOOD_BASELINE": tmp_path / "baseline.json",
        "GOOD_RESULTS": tmp_path / "results.json",
    }
    files["BAD"].write_text(text)
    files["GOOD_BASELINE"].write_text(json.dumps(VALID))
    files["GOOD_RESULTS"].write_text(results_text)
    before = files["BAD"].read_bytes()
    args = [
        files.get(arg, tmp_path / arg if arg.endswith((".html", ".json")) else arg)
        for arg in template
    ]
    result = _cli(*args)
    _assert_cli_error(result, fragment)
    assert str(files["BAD"]) in result.stderr
    assert files["BAD"].read_bytes() == before


# -- 4. not a regular file ---------------------------------------------------------------


def test_fifo_baseline_does_not_hang(project: pytest.Pytester) -> None:
    fifo = project.path / "baseline.json"
    os.mkfifo(fifo)
    result = project.runpytest_subprocess(f"--infer-baseline={fifo}", timeout=60)
    _assert_usage_error(result, "not a regular file")
    _assert_cli_error(_cli("show", fifo, timeout=60), "not a regular file")


def _limited_memory() -> None:
    """A child process may take 4 GiB at most: reading ``/dev/zero`` must not take the
    machine down if the check it tests ever breaks."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_refused_not_read(project: pytest.Pytester) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--infer-baseline=/dev/zero"],
        cwd=project.path, capture_output=True, text=True, timeout=60, preexec_fn=_limited_memory,
    )  # fmt: skip
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert (
        run.stderr.strip()
        == "ERROR: infergate: /dev/zero: not a regular file; pass the path of a JSON file"
    )
    cli = subprocess.run(
        [*INFERGATE, "compare", "/dev/zero", "/dev/zero"],
        capture_output=True, text=True, timeout=60, preexec_fn=_limited_memory,
    )  # fmt: skip
    _assert_cli_error(cli, "not a regular file")


def test_oversized_file_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_infergate.store.baseline import files as baseline_module

    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(VALID))
    monkeypatch.setattr(baseline_module, "MAX_FILE_BYTES", 100)
    with pytest.raises(baseline_module.BaselineError, match="larger than the 100"):
        baseline_module.read_json(path)


# -- 5. an xdist worker that crashes -----------------------------------------------------

CRASHING_TESTS = textwrap.dedent(
    """
    import os
    import pytest

    def model(x):
        return x * 2

    @pytest.mark.parametrize("i", range(5))
    def test_measured(infer_bench, i):
        infer_bench(model, i)

    def test_zz_crash():
        os._exit(1)
    """
)


def test_a_crashing_worker_keeps_the_measurements_it_sent(pytester: pytest.Pytester) -> None:
    """The five measured tests and the crashing one run on one worker (``-n 1``), in
    order; the worker dies before its session could finish (xdist replaces it). Every
    passed test's entry is kept, and the summary says a worker went down."""
    pytest.importorskip("xdist")
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(test_crash=CRASHING_TESTS)
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest_subprocess(
        "-n", "1", f"--infer-baseline={baseline}", "--infer-update-baseline", timeout=300,
    )  # fmt: skip
    assert result.ret != pytest.ExitCode.OK
    assert sorted(_entries(baseline)) == [f"test_crash.py::test_measured[{i}]" for i in range(5)]
    result.stdout.fnmatch_lines(["*infergate: xdist worker gw* went down*not recorded*"])


# -- 6. names that matplotlib would read as math -----------------------------------------

MATH_NAMES = textwrap.dedent(
    """
    import pytest

    def model(x):
        return x * 2

    @pytest.mark.parametrize("v", ["$x^^y$"])
    def test_math(infer_bench, v):
        infer_bench.measure(model, args=(1,), name="$\\\\frac{a$")
    """
)


def test_math_text_in_names_is_drawn_as_text(pytester: pytest.Pytester) -> None:
    pytest.importorskip("matplotlib")
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(test_math=MATH_NAMES)
    html, results = pytester.path / "report.html", pytester.path / "results.json"
    run = pytester.runpytest_subprocess(f"--infer-html={html}", f"--infer-json={results}")
    run.assert_outcomes(passed=1)
    assert run.ret == pytest.ExitCode.OK
    assert "$x^^y$" in html.read_text()
    offline = _cli("report", results, "-o", pytester.path / "offline.html")
    assert offline.returncode == 0, offline.stderr


# -- 7. a symlinked baseline -------------------------------------------------------------


def test_update_through_a_symlink_writes_its_target(project: pytest.Pytester) -> None:
    shared = project.path / "shared"
    shared.mkdir()
    target = shared / "baseline.json"
    target.write_text(json.dumps({"schema_version": 2, "entries": {}, "machines": {}}))
    link = project.path / "baseline.json"
    link.symlink_to(target)
    project.runpytest(f"--infer-baseline={link}", "--infer-update-baseline").assert_outcomes(
        passed=1
    )
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert list(_entries(target)) == ["test_model.py::test_model_latency"]
    assert [p.name for p in shared.iterdir()] == ["baseline.json"]


# -- 8. start-up validation --------------------------------------------------------------


@pytest.mark.parametrize("option", ["--infer-json", "--infer-markdown", "--infer-html"])
def test_missing_output_folder_is_found_before_any_test_runs(
    project: pytest.Pytester, option: str
) -> None:
    if option == "--infer-html":
        pytest.importorskip("matplotlib")
    result = project.runpytest(f"{option}={project.path / 'nope' / 'out.file'}")
    _assert_usage_error(result, "does not exist; create it first")
    assert "passed" not in result.stdout.str()


def test_a_failed_results_write_keeps_the_baseline_update(pytester: pytest.Pytester) -> None:
    """The results folder disappears during the run: the results file cannot be
    written, the baseline update still lands, and the run says both."""
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    out = pytester.path / "out"
    out.mkdir()
    pytester.makepyfile(
        test_one=f"""
        import shutil

        def test_model_latency(infer_bench):
            infer_bench(abs, -1)
            shutil.rmtree({str(out)!r})
        """
    )
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", f"--infer-json={out / 'r.json'}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert list(_entries(baseline)) == ["test_one.py::test_model_latency"]
    result.stdout.fnmatch_lines(
        [
            "*infergate: baseline written to*",
            "*ERROR: infergate: writing the results file failed*",
        ]
    )
    assert "nothing was changed" not in result.stdout.str()


def test_a_failed_baseline_write_says_what_was_written(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    gone = pytester.path / "gone"
    gone.mkdir()
    pytester.makepyfile(
        f"""
        import shutil

        def test_model_latency(infer_bench):
            infer_bench(abs, -1)
            shutil.rmtree({str(gone)!r})
        """
    )
    results = pytester.path / "results.json"
    result = pytester.runpytest(
        f"--infer-baseline={gone / 'baseline.json'}",
        "--infer-update-baseline",
        f"--infer-json={results}",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert results.exists()
    result.stdout.fnmatch_lines(
        [
            "*infergate: results written to*",
            "*ERROR: infergate: writing the baseline failed, the baseline was left as it was*",
        ]
    )


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ("--infer-max-time=1e300", "<= 86400"),
        ("--infer-max-time=inf", "<= 86400"),
        ("--infer-baseline=", "--infer-baseline: an empty path"),
        ("--infer-json= ", "--infer-json: an empty path"),
    ],
)
def test_start_up_refuses(project: pytest.Pytester, option: str, fragment: str) -> None:
    result = project.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fragment in result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_prune_older_than_an_absurd_age_is_an_argument_error(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(VALID))
    result = _cli("prune", baseline, "--older-than", "1e10")
    assert result.returncode == 2
    assert "expected a number of days between 0 and 36500" in result.stderr
    assert "Traceback" not in result.stderr


# -- 9. --infer-max-time bounds a slow call ----------------------------------------------


def test_the_warm_up_of_a_slow_call_stops_at_a_quarter_of_the_cap(
    pytester: pytest.Pytester,
) -> None:
    """A 0.2 s call under a 0.4 s cap: a quarter of the cap is spent after the first
    warm-up call, so the warm-up ends there instead of making its ten calls."""
    pytester.makepyfile(
        """
        import time

        def test_slow(infer_bench):
            infer_bench.measure(time.sleep, args=(0.2,), max_time_s=0.4)
        """
    )
    results = pytester.path / "results.json"
    pytester.runpytest(f"--infer-json={results}").assert_outcomes(passed=1)
    (measurement,) = json.loads(results.read_text())["measurements"]
    assert measurement["warmup_calls"] == 1
    assert measurement["n"] <= 3


def test_the_warm_up_of_an_ab_pair_stops_at_a_quarter_of_the_cap(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import time

        def test_pair(infer_bench):
            infer_bench.compare(
                lambda: time.sleep(0.1), lambda: time.sleep(0.1), max_time_s=0.4
            )
        """
    )
    results = pytester.path / "results.json"
    pytester.runpytest(f"--infer-json={results}", "--infer-mode=report").assert_outcomes(passed=1)
    (measurement,) = json.loads(results.read_text())["measurements"]
    assert measurement["candidate"]["warmup_calls"] <= 2


# -- 10. measurements of tests that then fail, skip or xfail ------------------------------

OUTCOMES = textwrap.dedent(
    """
    import pytest

    def test_passes(infer_bench):
        infer_bench(abs, -1)

    def test_fails(infer_bench):
        infer_bench(abs, -2)
        assert False

    def test_skips(infer_bench):
        infer_bench(abs, -3)
        pytest.skip("not today")

    def test_xfails(infer_bench):
        infer_bench(abs, -4)
        pytest.xfail("known")

    @pytest.mark.xfail(strict=False)
    def test_xpasses(infer_bench):
        infer_bench(abs, -5)

    @pytest.fixture
    def broken_teardown():
        yield
        raise RuntimeError("teardown")

    def test_teardown_fails(infer_bench, broken_teardown):
        infer_bench(abs, -6)
    """
)


@pytest.mark.parametrize("workers", [None, "2"], ids=["serial", "xdist"])
def test_only_tests_that_passed_are_recorded(
    pytester: pytest.Pytester, workers: str | None
) -> None:
    if workers:
        pytest.importorskip("xdist")
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(test_outcomes=OUTCOMES)
    baseline = pytester.path / "baseline.json"
    args = [f"--infer-baseline={baseline}", "--infer-update-baseline"]
    result = pytester.runpytest_subprocess(*args, *(["-n", workers] if workers else []))
    assert list(_entries(baseline)) == ["test_outcomes.py::test_passes"]
    result.stdout.fnmatch_lines(["*not recorded, their tests did not pass:*"])
    for name, why in (
        ("test_fails", "failed"),
        ("test_skips", "skipped"),
        ("test_xfails", "xfailed"),
        ("test_xpasses", "xpassed"),
        ("test_teardown_fails", "failed in teardown"),
    ):
        assert f"test_outcomes.py::{name} ({why})" in result.stdout.str()


def test_nothing_recorded_when_no_measuring_test_passed(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(
        "def test_fails(infer_bench):\n    infer_bench(abs, -2)\n    assert False\n"
    )
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    assert not baseline.exists()
    result.stdout.fnmatch_lines(["*no test that measured passed; the baseline was left as it was*"])


# -- 11. generators and coroutines -------------------------------------------------------

LAZY = textwrap.dedent(
    """
    import asyncio

    async def predict(x):
        await asyncio.sleep(0)
        return x

    def stream(x):
        yield x

    def test_async(infer_bench):
        infer_bench(predict, 1)

    def test_generator(infer_bench):
        infer_bench(stream, 1)

    def test_lambda_over_async(infer_bench):
        infer_bench(lambda: predict(1))

    def test_compare_async(infer_bench):
        infer_bench.compare(predict, abs, args=(1,))

    def test_consumed(infer_bench):
        assert infer_bench(lambda: list(stream(3))) == [3]
        assert infer_bench.measure(lambda: asyncio.run(predict(2)), name="run").n > 0
    """
)


def test_lazy_calls_fail_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.2\n")
    pytester.makepyfile(test_lazy=LAZY)
    result = pytester.runpytest("-W", "error::RuntimeWarning")
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*infer_bench.measure(): predict is an async function*asyncio.run*",
            "*infer_bench.measure(): stream is a generator function*list(fn(x))*",
            "*infer_bench.measure(): the timed call returned a coroutine*",
            "*infer_bench.compare(): predict is an async function*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "never awaited" not in result.stdout.str()


# -- 12. infergate merge -----------------------------------------------------------------


def test_merge_refuses_nan_in_an_ignored_results_field(tmp_path: Path, results_text: str) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(results_text)
    ignored = '"ignored_by_the_decoder": NaN, "measured_s": '
    bad.write_text(results_text.replace('"measured_s": ', ignored, 1))
    result = _cli("merge", good, bad, "-o", tmp_path / "merged.json")
    _assert_cli_error(result, "ignored_by_the_decoder: expected a finite number, got nan")
    assert not (tmp_path / "merged.json").exists()


def _baseline_recorded_at(path: Path, when: str, p50: float) -> Path:
    document = json.loads(_with([*RECORD, "recorded_at"], when))
    document["entries"]["test_model.py::test_model_latency"]["machines"]["ci"]["p50_ms"] = p50
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("2026-11-25T10:00:00+00:00", "2026-11-25T09:00:00-05:00"),  # 14:00 UTC
        ("not a time", "2026-11-25T09:00:00+00:00"),
    ],
    ids=["time zones", "junk time"],
)
def test_merge_keeps_the_record_that_is_newer_in_time(
    tmp_path: Path, older: str, newer: str
) -> None:
    for order in ((older, newer), (newer, older)):
        inputs = [
            _baseline_recorded_at(tmp_path / f"in{i}.json", when, 1.0 if when == older else 2.0)
            for i, when in enumerate(order)
        ]
        out = tmp_path / "merged.json"
        result = _cli("merge", *inputs, "-o", out)
        assert result.returncode == 0, result.stderr
        (entry,) = _entries(out).values()
        assert entry["machines"]["ci"]["recorded_at"] == newer  # type: ignore[index]


# -- 13. temporaries left by a killed writer ---------------------------------------------


def test_an_update_removes_temporaries_a_killed_writer_left(project: pytest.Pytester) -> None:
    baseline = project.path / "baseline.json"
    leftover = project.path / ".baseline.json.k1ll3d.tmp"
    leftover.write_text('{"partial": ')
    unrelated = project.path / ".results.json.abc.tmp"
    unrelated.write_text("not ours to remove")
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline").assert_outcomes(
        passed=1
    )
    assert not leftover.exists()
    assert unrelated.exists()
    assert list(_entries(baseline)) == ["test_model.py::test_model_latency"]


def test_sigterm_while_writing_becomes_an_interrupt() -> None:
    import signal

    with pytest.raises(KeyboardInterrupt), _terminate_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_killed_write_leaves_the_old_baseline_and_no_temporary(tmp_path: Path) -> None:
    """A writer process killed with SIGTERM in the middle of writing: the baseline
    keeps its old bytes and no temporary file stays behind."""
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(VALID))
    before = baseline.read_bytes()
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        import pytest_infergate.store.baseline as b

        real_fsync = os.fsync
        def fsync_then_die(fd):
            real_fsync(fd)
            os.kill(os.getpid(), signal.SIGTERM)
        os.fsync = fsync_then_die
        b.write_atomic(Path({str(baseline)!r}), "x" * 10_000_000)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "KeyboardInterrupt" in result.stderr
    assert baseline.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.json"]


def test_ctrl_c_while_writing_the_baseline_is_one_line(project: pytest.Pytester) -> None:
    baseline = project.path / "baseline.json"
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    before = baseline.read_bytes()
    project.makeconftest(
        """
        import pytest_infergate.store.baseline.files as b

        def interrupt(path, text):
            raise KeyboardInterrupt

        b.write_atomic = interrupt
        """
    )
    result = project.runpytest_subprocess(f"--infer-baseline={baseline}", "--infer-update-baseline")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*infergate: interrupted while writing the baseline; the baseline was left as it was*"]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert baseline.read_bytes() == before


# -- 14. one key, two tests --------------------------------------------------------------

COLLIDING = textwrap.dedent(
    """
    import pytest

    def model(x):
        return x * 2

    @pytest.mark.parametrize(
        "p",
        [
            pytest.param("a", marks=pytest.mark.xdist_group("first")),
            pytest.param("a]::x[b", marks=pytest.mark.xdist_group("second")),
        ],
        ids=str,
    )
    def test_m(infer_bench, p):
        if p == "a":
            infer_bench.measure(model, args=(1,), name="x[b]")
        else:
            infer_bench(model, 2)
    """
)


def test_a_key_two_tests_share_fails_the_second_serially(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(test_keys=COLLIDING)
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=1, failed=1)
    assert "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*infer_bench: test_keys.py::test_m[[]a[]]::x[[]b[]] is already the key of a "
            "measurement of test_keys.py::test_m[[]a[]]; give one of them a distinct name="
        ]
    )
    (record,) = _entries(baseline)["test_keys.py::test_m[a]::x[b]"]["machines"].values()  # type: ignore[attr-defined]
    assert len(record["history_p50_ms"]) == 1


def test_a_key_two_workers_share_is_an_error_not_an_internal_error(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(test_keys=COLLIDING)
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "loadgroup", f"--infer-baseline={baseline}", "--infer-update-baseline"
    )
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # On two workers the controller finds the collision; on one, the worker's session does.
    assert (
        "ERROR: infergate: test_keys.py::test_m[a]::x[b] was measured by" in output
        or "is already the key of a measurement of" in output
    )
    assert list(_entries(baseline)) == ["test_keys.py::test_m[a]::x[b]"]
