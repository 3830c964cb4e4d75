"""``infer_bench.sweep``: every batch size is measured and shown before the sweep fails."""

from __future__ import annotations

import json

import pytest

SWEEP = """
import os
import time

def model(batch):
    slow = os.environ.get("INFERGATE_TEST_SLOW_SIZES", "").split(",")
    factor = 2.0 if str(len(batch)) in slow else 1.0
    end = time.perf_counter() + 0.001 * factor
    while time.perf_counter() < end:
        pass
    return len(batch)

def test_sweep(infer_bench):
    sweep = infer_bench.sweep(model, lambda size: ([0] * size,), batch_sizes=(1, 2, 4))
    print("SWEEP POINTS", [p.batch_size for p in sweep.points])
"""


def test_sweep_measures_every_point_before_it_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.3\n")
    pytester.makepyfile(test_sweep=SWEEP)
    baseline = pytester.path / "baseline.json"
    pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline").assert_outcomes(
        passed=1
    )
    keys = set(json.loads(baseline.read_text())["entries"])
    assert keys == {f"test_sweep.py::test_sweep::bs{size}" for size in (1, 2, 4)}

    monkeypatch.setenv("INFERGATE_TEST_SLOW_SIZES", "1,2")  # the first two of three
    result = pytester.runpytest(f"--infer-baseline={baseline}")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    # the failure names both regressed points, after the last point was measured
    result.stdout.fnmatch_lines(
        [
            "*infer_bench.sweep(): 2 of 3 batch sizes failed (every size was measured*",
            "*test_sweep::bs1: latency REGRESSED*",
            "*test_sweep::bs2: latency REGRESSED*",
        ]
    )
    assert "test_sweep::bs4: latency REGRESSED" not in output
    # every point is in the summary, the unchanged one too
    result.stdout.fnmatch_lines_random(
        [
            "*test_sweep.py::test_sweep::bs1*p50*REGRESSED*",
            "*test_sweep.py::test_sweep::bs2*p50*REGRESSED*",
        ]
    )
    (unchanged,) = [x for x in result.outlines if "test_sweep::bs4 " in x and " p50 " in x]
    assert " p50 " in unchanged
    assert "REGRESSED" not in unchanged
