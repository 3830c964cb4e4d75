"""CPU cost per call in real sessions: recorded, shown, and deciding when a neighbour shares
the core."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from pytest_infergate.measure.cpu import run_queue_wait_ns

#: A model whose call does 1 ms of CPU work on the calling thread (times
#: $INFERGATE_TEST_SLOWDOWN). Measured on the thread's own clock, so a neighbour on the
#: core stretches its wall time but not its work. With $INFERGATE_TEST_NEIGHBOUR, the
#: test pins itself to one core and starts a busy loop pinned to the same core.
CPU_MODULE = textwrap.dedent(
    """
    import os
    import subprocess
    import sys
    import time

    def model(x):
        factor = float(os.environ.get("INFERGATE_TEST_SLOWDOWN", "1"))
        end = time.thread_time() + 0.001 * factor
        while time.thread_time() < end:
            pass
        return x

    def test_model_latency(infer_bench):
        neighbour = None
        if os.environ.get("INFERGATE_TEST_NEIGHBOUR"):
            core = min(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {core})
            neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            os.sched_setaffinity(neighbour.pid, {core})
            time.sleep(0.2)
        try:
            infer_bench(model, 1)
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    """
)


@pytest.fixture
def cpu_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\ninfer_max_time = 0.5\n")
    pytester.makepyfile(test_model=CPU_MODULE)
    return pytester


def test_the_cpu_cost_is_recorded_stored_and_shown(
    cpu_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline, results = cpu_project.path / "baseline.json", cpu_project.path / "r.json"
    recorded = cpu_project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", f"--infer-json={results}"
    )
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(["*test_model_latency*cpu_p50 (thread)*RECORDED*"])
    (entry,) = json.loads(baseline.read_text())["entries"].values()
    (record,) = entry["machines"].values()
    assert record["cpu_clock"] == "thread"
    assert record["cpu_p50_ms"] >= 1.0
    assert record["history_cpu_p50_ms"] == [record["cpu_p50_ms"]]
    (m,) = json.loads(results.read_text())["measurements"]
    assert m["cpu_clock"] == "thread"
    assert len(m["cpu_samples_ns"]) == len(m["samples_ns"])
    # twice the work: both wall time and CPU cost double, whichever of them decides
    monkeypatch.setenv("INFERGATE_TEST_SLOWDOWN", "2")
    slower = cpu_project.runpytest(f"--infer-baseline={baseline}")
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(["*cpu_p50 (thread)*"])


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or run_queue_wait_ns() is None,
    reason="needs Linux's CPU affinity and scheduler statistics",
)
def test_a_neighbour_on_the_core_is_judged_on_cpu_cost(
    cpu_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline, results = cpu_project.path / "baseline.json", cpu_project.path / "r.json"
    cpu_project.runpytest_subprocess(
        f"--infer-baseline={baseline}", "--infer-update-baseline"
    ).assert_outcomes(passed=1)
    monkeypatch.setenv("INFERGATE_TEST_NEIGHBOUR", "1")
    shared = cpu_project.runpytest_subprocess(
        f"--infer-baseline={baseline}", f"--infer-json={results}"
    )
    # the wall time about doubles (the busy loop takes half the core); the work does not
    shared.assert_outcomes(passed=1)
    (m,) = json.loads(results.read_text())["measurements"]
    checks = {c["metric"]: c for c in m["verdict"]["checks"]}
    assert checks["p50_ms"]["deciding"] is False
    assert "deciding" not in checks["cpu_p50_ms"]
    assert "decided by CPU cost (thread clock): the run was contended" in m["verdict"]["reason"]
    assert m["cpu"]["waiting_share"] >= 0.10
    shared.stdout.fnmatch_lines(["*test_model_latency*p50*(*)*"])
