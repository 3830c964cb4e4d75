"""CPU cost per call: how it is measured, stored, and when the stored gate decides on it.

The gate's cases run on seeded synthetic samples: wall and CPU time per call are set
apart by hand, as a neighbour on the core (wall up, CPU not) or a real slowdown (both
up) would set them.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pytest_infergate.judge.cpu_cost import contention
from pytest_infergate.judge.latency import LatencyPolicy, compare_latency
from pytest_infergate.judge.thresholds import CPU_UNMEASURED_DRIFT
from pytest_infergate.measure.cpu import CpuUsage, run_queue_wait_ns
from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.measure.timing import SamplingPlan, TimingSetup, run
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import (
    Baseline,
    BaselineError,
    LatencyEntry,
    LatencyRecord,
    decode_baseline,
    dumps,
    encode_baseline,
    load_baseline,
)
from pytest_infergate.verdicts import Outcome

P50_ONLY = LatencyPolicy(tolerances={"p50": 0.10, "p95": 0.20}, percentiles=("p50",))
QUICK = SamplingPlan(warmup_calls=3, warmup_s=0.0, min_samples=8, min_time_s=0.0, max_time_s=5.0)
#: A history recorded a day apart per run: rule 2 without the one-sitting allowance.
DAYS = tuple(f"2026-11-{10 + i:02d}T00:00:00+00:00" for i in range(5))
QUIET = CpuUsage(1.0, 0.99, 2, load_average=0.5, run_queue_wait_s=0.001)
STARVED = CpuUsage(1.0, 0.5, 2, load_average=1.5, run_queue_wait_s=0.45)
SLEEPING = CpuUsage(1.0, 0.5, 2, load_average=0.5, run_queue_wait_s=0.001)


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_each_sample_records_the_calls_cpu_time_on_the_calling_thread() -> None:
    def half_asleep() -> None:  # 1 ms of work, 2 ms of waiting: CPU is a third of wall
        _burn(0.001)
        time.sleep(0.002)

    timing = run(half_asleep, setup=TimingSetup(plan=QUICK))
    assert timing.cpu_clock == "thread"
    assert len(timing.cpu_samples_ns) == len(timing.samples_ns)
    result = LatencyResult(
        "t",
        timing.samples_ns,
        1,
        timing.calls_per_sample,
        0,
        0.0,
        cpu_samples_ns=timing.cpu_samples_ns,
        cpu_clock=timing.cpu_clock,
    )
    assert result.cpu_p50_ms is not None
    assert result.cpu_p50_ms >= 1.0
    assert result.cpu_per_wall is not None
    assert result.cpu_per_wall < 0.6


def test_work_done_on_other_threads_is_read_on_the_process_clock() -> None:
    def on_a_pool() -> None:  # the caller waits while another thread computes
        worker = threading.Thread(target=_burn, args=(0.002,))
        worker.start()
        worker.join()

    timing = run(on_a_pool, setup=TimingSetup(plan=QUICK))
    assert timing.cpu_clock == "process"
    assert np.median(timing.cpu_samples_ns) >= 2_000_000
    forced = run(on_a_pool, setup=TimingSetup(plan=QUICK, cpu_clock="thread"))
    assert forced.cpu_clock == "thread"
    assert np.median(forced.cpu_samples_ns) < 1_000_000
    with pytest.raises(ValueError, match="cpu_clock must be one of"):
        run(on_a_pool, setup=TimingSetup(plan=QUICK, cpu_clock="wall"))


def _result(wall_ms: float, cpu_ms: float, n: int = 150, seed: int = 0) -> LatencyResult:
    rng = np.random.default_rng(seed)
    noise = rng.lognormal(0.0, 0.01, n)
    wall = tuple(int(v) for v in wall_ms * 1e6 * noise)
    cpu = tuple(int(v) for v in cpu_ms * 1e6 * noise)
    return LatencyResult("t", wall, 1, 1, 0, 0.0, cpu_samples_ns=cpu, cpu_clock="thread")


def _entry(
    wall: tuple[float, ...], cpu: tuple[float, ...], clock: str = "thread", stamps=DAYS
) -> LatencyEntry:
    record = LatencyRecord(
        n=300,
        batch_size=1,
        mean_ms=wall[-1],
        stdev_ms=0.01,
        min_ms=wall[-1] * 0.9,
        max_ms=wall[-1] * 2,
        p50_ms=wall[-1],
        p90_ms=wall[-1] * 1.02,
        p95_ms=wall[-1] * 1.03,
        p99_ms=wall[-1] * 1.1,
        history_p50_ms=wall,
        sketch_ms=(wall[-1],),
        recorded_at="2026-11-25T00:00:00+00:00",
        history_recorded_at=stamps[: len(wall)],
        cpu_clock=clock,
        cpu_p50_ms=cpu[-1],
        history_cpu_p50_ms=cpu,
        history_cpu_per_wall=tuple(c / w for c, w in zip(cpu, wall, strict=True)),
    )
    return LatencyEntry(machines={"ci": record})


WALL = (3.0, 3.03, 2.97, 3.01, 2.99)
CPU = (2.97, 3.0, 2.94, 2.98, 2.96)


def _checks(verdict):
    return {c.metric: c for c in verdict.checks}


def test_a_neighbour_on_the_core_stretches_wall_time_and_cpu_cost_decides() -> None:
    result = _result(6.0, 2.97)  # wall x2, CPU unchanged: it waited for a core
    verdict = compare_latency(result, _entry(WALL, CPU), "ci", P50_ONLY, STARVED)
    assert verdict.outcome is Outcome.PASS
    checks = _checks(verdict)
    assert checks["cpu_p50_ms"].deciding
    assert checks["p50_ms"].outcome is Outcome.REGRESSED
    assert not checks["p50_ms"].deciding
    assert "decided by CPU cost (thread clock): the run was contended" in verdict.reason
    assert "waited for a core 45% of the time" in verdict.reason
    # without the CPU figures in the baseline, the same run is judged on wall time
    old = _entry(WALL, CPU)
    record = old.machines["ci"]
    bare = LatencyRecord(**{**record.__dict__, "cpu_p50_ms": None, "history_cpu_p50_ms": ()})
    plain = compare_latency(result, LatencyEntry({"ci": bare}), "ci", P50_ONLY, STARVED)
    assert plain.outcome is Outcome.REGRESSED


def test_a_real_slowdown_under_contention_is_caught_on_cpu_cost() -> None:
    verdict = compare_latency(_result(7.2, 3.6), _entry(WALL, CPU), "ci", P50_ONLY, STARVED)
    assert verdict.outcome is Outcome.REGRESSED
    assert _checks(verdict)["cpu_p50_ms"].outcome is Outcome.REGRESSED


def test_a_quiet_run_is_judged_on_wall_time_with_cpu_cost_beside_it() -> None:
    verdict = compare_latency(_result(3.6, 3.56), _entry(WALL, CPU), "ci", P50_ONLY, QUIET)
    assert verdict.outcome is Outcome.REGRESSED
    checks = _checks(verdict)
    assert checks["p50_ms"].deciding
    assert not checks["cpu_p50_ms"].deciding
    assert "decided by CPU cost" not in verdict.reason


def test_a_call_that_now_sleeps_is_judged_on_wall_time_where_the_run_queue_is_known() -> None:
    slower = _result(6.0, 2.97)  # the same CPU, but it now waits on its own
    verdict = compare_latency(slower, _entry(WALL, CPU), "ci", P50_ONLY, SLEEPING)
    assert verdict.outcome is Outcome.REGRESSED
    assert _checks(verdict)["p50_ms"].deciding
    # without scheduler statistics, the share alone says "contended"
    unknown = CpuUsage(1.0, 0.5, 2, load_average=0.5)
    assert contention(slower, _entry(WALL, CPU).machines["ci"], unknown).contended


def test_a_run_that_lost_a_sixth_of_its_core_is_contended() -> None:
    """Share 0.85 of the recorded one: waiting for a core alone stretched the wall time by
    18%, past the 10% tolerance, so unchanged code must not be judged on wall time."""
    slower = _result(3.0 / 0.85, 2.97)
    waiting = CpuUsage(1.0, 0.85, 2, load_average=1.2, run_queue_wait_s=0.15)
    verdict = compare_latency(slower, _entry(WALL, CPU), "ci", P50_ONLY, waiting)
    assert contention(slower, _entry(WALL, CPU).machines["ci"], waiting).contended
    assert _checks(verdict)["cpu_p50_ms"].deciding
    assert verdict.outcome is Outcome.PASS


def test_a_call_that_always_waits_is_judged_against_its_own_share() -> None:
    wall, cpu = (3.0, 3.03, 2.97, 3.01, 2.99), (1.0, 1.01, 0.99, 1.0, 1.0)  # share 0.33
    verdict = compare_latency(_result(3.0, 1.0), _entry(wall, cpu), "ci", P50_ONLY, QUIET)
    assert _checks(verdict)["p50_ms"].deciding
    assert not contention(_result(3.0, 1.0), _entry(wall, cpu).machines["ci"], QUIET).contended


def test_a_loaded_machine_whose_call_got_its_core_is_judged_on_wall_time() -> None:
    busy = CpuUsage(1.0, 0.99, 2, load_average=3.5, run_queue_wait_s=0.0)
    state = contention(_result(3.0, 2.97), _entry(WALL, CPU).machines["ci"], busy)
    assert not state.contended
    assert "load average 3.50 on 2 cores" in state.describe()


def test_another_clock_gives_no_cpu_check() -> None:
    entry = _entry(WALL, CPU, clock="process")
    verdict = compare_latency(_result(6.0, 2.97), entry, "ci", P50_ONLY, STARVED)
    assert [c.metric for c in verdict.checks] == ["p50_ms"]


def test_one_sitting_cpu_history_gets_the_measured_cpu_allowance() -> None:
    minutes = tuple(f"2026-11-25T00:0{i}:00+00:00" for i in range(3))
    entry = _entry(WALL[:3], CPU[:3], stamps=minutes)
    centre = float(np.exp(np.mean(np.log(CPU[:3]))))
    below = centre * (1 + 0.10 + CPU_UNMEASURED_DRIFT) * 0.98
    above = centre * (1 + 0.10 + CPU_UNMEASURED_DRIFT) * 1.03
    unsure = compare_latency(_result(2 * below, below), entry, "ci", P50_ONLY, STARVED)
    caught = compare_latency(_result(2 * above, above), entry, "ci", P50_ONLY, STARVED)
    assert unsure.outcome is Outcome.INCONCLUSIVE
    assert caught.outcome is Outcome.REGRESSED
    assert _checks(caught)["cpu_p50_ms"].mdr == pytest.approx(0.10 + CPU_UNMEASURED_DRIFT)


def test_one_sitting_cpu_history_is_not_judged_by_its_own_spread() -> None:
    """Three runs of one sitting that spread 3.0 +/- 7% (as the 2-core runner's quiet
    processes did) put a prediction bound with 2 d.f. at +70%; the measured CPU drift
    allowance catches a +25% CPU cost and passes an unchanged +3%."""
    minutes = tuple(f"2026-11-25T00:0{i}:00+00:00" for i in range(3))
    cpu = (2.8, 3.0, 3.2)
    entry = _entry(WALL[:3], cpu, stamps=minutes)
    centre = float(np.exp(np.mean(np.log(cpu))))
    slower = compare_latency(_result(7.5, centre * 1.25), entry, "ci", P50_ONLY, STARVED)
    same = compare_latency(_result(6.0, centre * 1.03), entry, "ci", P50_ONLY, STARVED)
    assert slower.outcome is Outcome.REGRESSED
    assert _checks(slower)["cpu_p50_ms"].deciding
    assert "one sitting" in slower.reason
    assert same.outcome is Outcome.PASS


def _fingerprint() -> Fingerprint:
    return Fingerprint("cpu", 2, 4.0, "linux", "x86_64", "3.12", {}, {})


def test_the_baseline_keeps_the_cpu_cost_and_restarts_its_history_on_another_clock() -> None:
    baseline = Baseline()
    for cpu_ms in (2.9, 3.0):
        baseline = baseline.with_latency(
            _result(3.0, cpu_ms),
            profile="ci",
            fingerprint=_fingerprint(),
            tolerance={"p50": 0.1},
            recorded_at="2026-11-25T00:00:00+00:00",
        )
    document = json.loads(json.dumps(encode_baseline(baseline)))
    record = decode_baseline(document, "b.json").entries["t"].machines["ci"]
    assert record.cpu_clock == "thread"
    assert record.history_cpu_p50_ms == pytest.approx((2.9, 3.0), rel=0.01)
    pooled = LatencyResult(
        "t",
        (3_000_000,) * 10,
        1,
        1,
        0,
        0.0,
        cpu_samples_ns=(6_000_000,) * 10,
        cpu_clock="process",
    )
    again = baseline.with_latency(
        pooled,
        profile="ci",
        fingerprint=_fingerprint(),
        tolerance={"p50": 0.1},
        recorded_at="2026-11-26T00:00:00+00:00",
    )
    record = again.entries["t"].machines["ci"]
    assert record.cpu_clock == "process"
    assert record.history_cpu_p50_ms == (6.0,)
    assert len(record.history_p50_ms) == 3  # the wall-time history goes on


def test_records_without_cpu_cost_load_and_a_bad_clock_is_named() -> None:
    baseline = Baseline().with_latency(
        _result(3.0, 2.9),
        profile="ci",
        fingerprint=_fingerprint(),
        tolerance={},
        recorded_at="2026-11-25T00:00:00+00:00",
    )
    document = json.loads(json.dumps(encode_baseline(baseline)))
    raw = document["entries"]["t"]["machines"]["ci"]
    for name in ("cpu_clock", "cpu_p50_ms", "history_cpu_p50_ms"):
        raw.pop(name)
    assert decode_baseline(document, "b.json").entries["t"].machines["ci"].cpu_p50_ms is None
    raw.update(cpu_clock="wall", cpu_p50_ms=2.9)
    with pytest.raises(BaselineError, match=r"cpu_clock: unknown clock 'wall'"):
        decode_baseline(document, "b.json")


def test_run_queue_wait_is_read_where_linux_keeps_it() -> None:
    waited = run_queue_wait_ns()
    if waited is None:
        pytest.skip("no /proc/self/task/*/schedstat here")
    assert waited >= 0


@pytest.mark.parametrize("path", ["example_project/baseline.json", "tests/data/baseline_v1.json"])
def test_the_committed_baselines_load_unchanged_and_gate_on_wall_time(path: str) -> None:
    file = Path(__file__).resolve().parents[2] / path
    baseline = load_baseline(file)
    records = [
        r
        for e in baseline.entries.values()
        if isinstance(e, LatencyEntry)
        for r in e.machines.values()
    ]
    assert records
    assert all(r.cpu_p50_ms is None and r.cpu_clock is None for r in records)
    if 'schema_version": 2' in file.read_text():  # the current schema writes it back as it was
        assert dumps(encode_baseline(baseline)) == file.read_text()
