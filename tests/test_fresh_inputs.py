"""``infer_bench(fn, setup=...)``: fresh inputs per call, made outside the timed region.

Real pytest sessions. The calls busy-wait on the wall clock for a fixed time, so what
the tests compare is a ratio of two measurements taken side by side in one test (setup
three times the call's length would read ~3x if it were timed), never a wall-clock
bound.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pytest_infergate.measure.fresh import FreshCall, as_args, setup_problem

FAST = "@pytest.mark.infergate(warmup=2, warmup_s=0, min_samples=20, min_time_s=0, max_time_s=0.5)"

FRESH = f"""
import time
import pytest

def busy(ms):
    end = time.perf_counter() + ms / 1e3
    while time.perf_counter() < end:
        pass

made, seen = [], []

def make():
    made.append(1)
    return ([0],)

def call(x):
    assert x == [0], "an input was reused"
    x[0] = 1  # consumes its input, as an in-place op would
    seen.append(id(x))
    return len(seen)

{FAST}
def test_setup_runs_once_per_call(infer_bench):
    calls = infer_bench(call, setup=make)
    assert calls == len(seen) == len(made)
    assert calls >= 20

{FAST}
def test_setup_is_not_timed(infer_bench):
    plain = infer_bench.measure(busy, args=(1.0,), name="plain")
    fresh = infer_bench.measure(busy, setup=lambda: (1.0, busy(3.0))[0], name="fresh")
    print("RATIO", fresh.p50_ms / plain.p50_ms)
    assert fresh.calls_per_sample == 1
    assert fresh.p50_ms < 1.5 * plain.p50_ms, (fresh.p50_ms, plain.p50_ms)

{FAST}
def test_setup_results_are_spread_and_keywords_kept(infer_bench):
    got = []
    infer_bench.measure(lambda a, b, *, k: got.append((a, b, k)), setup=lambda: (1, 2),
                        kwargs={{"k": 3}}, name="tuple")
    infer_bench.measure(lambda x: got.append(x), setup=lambda: "one", name="single")
    infer_bench.measure(lambda: got.append("none"), setup=lambda: None, name="none")
    assert {{(1, 2, 3), "one", "none"}} <= set(got)
"""


def test_setup_gives_each_call_fresh_untimed_inputs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fresh=FRESH)
    result = pytester.runpytest("-p", "no:randomly", "-s")
    result.assert_outcomes(passed=3)


def test_setup_works_in_off_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_off="""
        def test_off(infer_bench):
            made = []
            assert infer_bench(lambda x: x * 2, setup=lambda: made.append(1) or 21) == 42
            assert made == [1]
        """
    )
    pytester.runpytest("-p", "no:randomly", "--infer-mode=off").assert_outcomes(passed=1)


BAD = """
def test_not_callable(infer_bench):
    infer_bench(lambda x: x, setup=(1,))

def test_args_and_setup(infer_bench):
    infer_bench(lambda x: x, 1, setup=lambda: 2)

def test_measure_not_callable(infer_bench):
    infer_bench.measure(lambda x: x, setup=[1])
"""


def test_a_setup_that_cannot_apply_fails_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad=BAD)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=3)
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "TypeError" not in output
    failures = [line for line in result.outlines if line.startswith("infer_bench")]
    assert failures == [
        "infer_bench(): setup must be a callable that returns the call's arguments, got an "
        "object of type tuple; pass a function, e.g. setup=lambda: (make_inputs(),)",
        "infer_bench(): setup= makes the call's positional arguments; pass them from setup, "
        "not also after fn (keyword arguments may stay)",
        "infer_bench.measure(): setup must be a callable that returns the call's arguments, "
        "got an object of type list; pass a function, e.g. setup=lambda: (make_inputs(),)",
    ]


def _git(where: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=where, capture_output=True, check=True, timeout=60)


def test_setup_is_refused_under_infer_against(pytester: pytest.Pytester) -> None:
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "config", "user.email", "ci@example.com")
    _git(pytester.path, "config", "user.name", "ci")
    pytester.makeini("[pytest]\ninfer_max_time = 0.3\n")
    pytester.makepyfile(
        test_model="""
        def test_fresh(infer_bench):
            infer_bench(lambda x: x, setup=lambda: 1)
        """
    )
    _git(pytester.path, "add", ".")
    _git(pytester.path, "commit", "-q", "-m", "one")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--infer-against=HEAD")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["infer_bench(): setup= cannot run under --infer-against*"])
    assert "Traceback" not in result.stdout.str()


def test_fresh_call_makes_its_own_input_when_none_was_prepared() -> None:
    made: list[int] = []

    def setup() -> tuple[int]:
        made.append(1)
        return (len(made),)

    call = FreshCall(lambda x, *, k: (x, k), setup, {"k": "kw"})
    call.prepare()
    assert call() == (1, "kw")
    assert call() == (2, "kw")  # no prepare(): it made one itself
    assert made == [1, 1]


def test_setup_results_stand_for_arguments() -> None:
    assert as_args(None) == ()
    assert as_args((1, 2)) == (1, 2)
    assert as_args(((1, 2),)) == ((1, 2),)
    assert as_args([1, 2]) == ([1, 2],)
    assert setup_problem(lambda: 1, (), against=False) is None
    assert "--infer-against" in (setup_problem(lambda: 1, (), against=True) or "")
