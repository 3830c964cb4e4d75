"""Many stored checks in one session share its false-alarm rate."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

from pytest_infergate.judge.latency import LatencyPolicy, session_policy
from pytest_infergate.judge.thresholds import SESSION_ALPHA

#: Each record keeps well over 300 samples, so every test counts its p95 check too,
#: whatever the machine's speed: six checks in all.
THREE_TESTS = textwrap.dedent(
    """
    import time

    import pytest

    pytestmark = pytest.mark.infergate(min_samples=400, max_time_s=5)

    def model(x):
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass
        return x

    def test_a(infer_bench):
        infer_bench(model, 1)

    def test_b(infer_bench):
        infer_bench(model, 1)

    def test_c(infer_bench):
        infer_bench(model, 1)
    """
)


def test_each_check_gets_its_share_of_the_session_rate() -> None:
    policy = LatencyPolicy()
    assert session_policy(policy, 1).confidence == pytest.approx(0.99)
    assert session_policy(policy, 2).confidence == pytest.approx(0.99)
    assert session_policy(policy, 20).confidence == pytest.approx(1 - SESSION_ALPHA / 20)


def test_the_session_counts_its_stored_checks_when_collection_ends(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.3\n")
    pytester.makepyfile(test_model=THREE_TESTS)
    baseline, results = pytester.path / "baseline.json", pytester.path / "r.json"
    pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    pytester.runpytest(f"--infer-baseline={baseline}", f"--infer-json={results}")
    reasons = [m["verdict"]["reason"] for m in json.loads(results.read_text())["measurements"]]
    assert all("99.67% CI" in reason for reason in reasons), reasons  # 2% over 6 checks
    pytester.runpytest(f"--infer-baseline={baseline}", f"--infer-json={results}", "-k", "test_a")
    (m,) = json.loads(results.read_text())["measurements"]
    assert "99% CI" in m["verdict"]["reason"]  # two checks alone keep 1% each


def _simulation():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "session_false_alarms.py"
    spec = importlib.util.spec_from_file_location("session_false_alarms", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_twenty_checks_a_session_keep_the_session_rate_on_seeded_drift() -> None:
    """150 seeded sessions of 10 entries (p50 and p95) with a 4% session and 3% entry
    drift between runs: each check alone raises a false alarm in some 5% of sessions;
    sharing the session's 2% among the 20 checks keeps it below that."""
    sim = _simulation()
    args = sim.argparse.Namespace(
        sessions=150,
        entries=10,
        history=10,
        session_sd=0.04,
        entry_sd=0.03,
        one_sitting=False,
        preempted=0.02,
        seed=7,
    )
    counts = sim.simulate(args)
    assert counts["checks"] == 150 * 20
    assert counts["before"] / counts["sessions"] > SESSION_ALPHA
    assert counts["after"] / counts["sessions"] <= SESSION_ALPHA
    assert counts["mdr_after"] > counts["mdr"]  # the price: a larger detectable change
