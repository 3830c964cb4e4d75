"""The machine-speed yardstick: measured between the samples, stored per run, and the
stored gate judging stored times at this run's speed.

The gate's cases run on seeded synthetic samples: the yardstick's time per call is set
by hand, as a core running at another pace (model and yardstick both slower) or real
extra work in the model (the model slower, the yardstick not) would set it.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from pytest_infergate.judge.latency import LatencyPolicy, compare_latency
from pytest_infergate.judge.machine_speed import at_this_speed
from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.measure.timing import SamplingPlan, TimingSetup, run
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import (
    Baseline,
    LatencyEntry,
    LatencyRecord,
    decode_baseline,
    dumps,
    encode_baseline,
)
from pytest_infergate.verdicts import Outcome

P50_ONLY = LatencyPolicy(tolerances={"p50": 0.10, "p95": 0.20}, percentiles=("p50",))
QUICK = SamplingPlan(warmup_calls=3, warmup_s=0.0, min_samples=8, min_time_s=0.0, max_time_s=5.0)
DAYS = tuple(f"2026-11-{10 + i:02d}T00:00:00+00:00" for i in range(5))
WALL = (3.0, 3.03, 2.97, 3.01, 2.99)
YARD = (0.100, 0.101, 0.099, 0.100, 0.100)


def _blocks(yardstick_ms: float, wander: float = 0.002, blocks: int = 6) -> list[list[int]]:
    """``blocks`` blocks of 15 yardstick calls, each block's pace moved by a seeded
    log-normal step of sd ``wander``, the fastest at ``yardstick_ms`` (so the run's pace,
    a low quantile of its calls, is ``yardstick_ms``)."""
    steps = np.random.default_rng(2).lognormal(0.0, wander, blocks)
    return [[round(yardstick_ms * 1e6 * step / steps.min()) for _ in range(15)] for step in steps]


def _result(
    wall_ms: float,
    yardstick_ms: float | None,
    n: int = 150,
    *,
    wander: float = 0.002,
    blocks: int = 6,
) -> LatencyResult:
    noise = np.random.default_rng(0).lognormal(0.0, 0.01, n)
    wall = tuple(int(v) for v in wall_ms * 1e6 * noise)
    timed = [] if yardstick_ms is None else _blocks(yardstick_ms, wander, blocks)
    return LatencyResult(
        "t",
        wall,
        1,
        1,
        0,
        0.0,
        cpu_samples_ns=wall,
        cpu_clock="thread",
        yardstick_ns=tuple(ns for block in timed for ns in block),
        yardstick_blocks=tuple(len(block) for block in timed),
    )


def _record(wall: tuple[float, ...], yard: tuple[float, ...]) -> LatencyRecord:
    return LatencyRecord(
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
        history_recorded_at=DAYS[: len(wall)],
        cpu_clock="thread",
        cpu_p50_ms=wall[-1],
        history_cpu_p50_ms=wall,
        history_cpu_per_wall=(1.0,) * len(wall),
        history_yardstick_ms=yard,
    )


def _verdict(result: LatencyResult, record: LatencyRecord) -> Outcome:
    entry = LatencyEntry(machines={"ci": record})
    return compare_latency(result, entry, "ci", P50_ONLY).outcome


def test_a_core_running_slower_is_not_a_regression() -> None:
    """Model and yardstick 30% slower: the machine's pace, not the model's change."""
    slower_machine = _result(3.9, 0.130)
    assert _verdict(slower_machine, _record(WALL, YARD)) is Outcome.PASS
    # The same times with the yardstick at its stored pace are a regression, and so are
    # they against a record that never timed the yardstick (judged unscaled).
    assert _verdict(_result(3.9, 0.100), _record(WALL, YARD)) is Outcome.REGRESSED
    assert _verdict(slower_machine, _record(WALL, ())) is Outcome.REGRESSED


def test_extra_work_is_caught_on_a_faster_core_too() -> None:
    """+30% work in the model on a core 20% faster reads +4% in plain time, +30% scaled."""
    verdict = compare_latency(
        _result(3.0 * 1.3 * 0.8, 0.080),
        LatencyEntry(machines={"ci": _record(WALL, YARD)}),
        "ci",
        P50_ONLY,
    )
    assert verdict.outcome is Outcome.REGRESSED
    assert "machine speed" in verdict.reason
    assert "yardstick x0.8" in verdict.reason


def test_one_stored_run_is_scaled_by_its_own_yardstick() -> None:
    record = _record(WALL[-1:], YARD[-1:])
    assert _verdict(_result(3.9, 0.130), record) is Outcome.PASS
    assert _verdict(_result(3.9, 0.100), record) is Outcome.REGRESSED


def test_at_this_speed_keeps_only_runs_that_timed_the_yardstick() -> None:
    current = _result(3.0, 0.125)
    scaled, factor = at_this_speed(WALL, _record(WALL, YARD[-3:]), current)
    assert len(scaled) == 3
    assert scaled == pytest.approx(
        [w * 0.125 / y for w, y in zip(WALL[-3:], YARD[-3:], strict=True)]
    )
    assert factor == pytest.approx(1.25, rel=0.01)
    # Too few runs with a yardstick for the history rule: the whole history, unscaled.
    unscaled, none = at_this_speed(WALL, _record(WALL, YARD[-2:]), current)
    assert unscaled == WALL
    assert none is None
    assert at_this_speed(WALL, _record(WALL, YARD), _result(3.0, None)) == (WALL, None)


def test_the_loop_times_the_yardstick_in_blocks_through_the_run() -> None:
    def work() -> None:
        end = time.thread_time() + 0.001
        while time.thread_time() < end:
            pass

    plain = run(work, setup=TimingSetup(plan=QUICK))
    timed = run(work, setup=TimingSetup(plan=QUICK, yardstick=True))
    assert plain.yardstick.calls_ns == ()
    # A block after the warm-up and one at the end: each about 10 ms of ~0.1 ms calls.
    assert len(timed.yardstick.calls_ns) >= 10
    assert all(ns > 0 for ns in timed.yardstick.calls_ns)
    assert len(timed.yardstick.block_sizes) >= 2
    assert sum(timed.yardstick.block_sizes) == len(timed.yardstick.calls_ns)


def test_the_yardstick_history_is_stored_and_restarts_without_one() -> None:
    fingerprint = Fingerprint("cpu", 2, 4.0, "linux", "x86_64", "3.12", {}, {})
    baseline = Baseline()
    for speed in (0.1, 0.12, None, 0.11):
        baseline = baseline.with_latency(
            _result(3.0, speed),
            profile="ci",
            fingerprint=fingerprint,
            tolerance={"p50": 0.1},
            recorded_at="2026-12-02T00:00:00+00:00",
        )
        entry = baseline.entries["t"]
        assert isinstance(entry, LatencyEntry)
        record = entry.machines["ci"]
        if speed is None:
            assert record.history_yardstick_ms == ()
    assert record.history_yardstick_ms == pytest.approx((0.11,))
    text = dumps(encode_baseline(baseline))
    again = decode_baseline(json.loads(text), "b.json")
    assert dumps(encode_baseline(again)) == text
    stored = again.entries["t"]
    assert isinstance(stored, LatencyEntry)
    assert stored.machines["ci"].history_yardstick_ms == pytest.approx((0.11,))


def test_a_yardstick_move_within_its_own_noise_leaves_stored_times_unscaled() -> None:
    """x1.10 is inside the yardstick's process-to-process noise: judged unscaled."""
    assert at_this_speed(WALL, _record(WALL, YARD), _result(3.0, 0.110)) == (WALL, None)
    # The one-stored-run rule too: 3.3 ms at a x1.10 yardstick is a regression of 3.0 ms.
    assert _verdict(_result(3.9, 0.110), _record(WALL[-1:], YARD[-1:])) is Outcome.REGRESSED


def test_a_burst_during_the_recorded_run_does_not_move_its_pace() -> None:
    """Two of the recorded run's three yardstick blocks were stretched x1.5 by a
    neighbour's burst (the CI failure this rule answers): its pace is the quiet block's, so an
    unchanged model passes a run whose yardstick saw no burst."""
    fingerprint = Fingerprint("cpu", 2, 4.0, "linux", "x86_64", "3.12", {}, {})
    quiet_calls = tuple(int(ns) for ns in np.random.default_rng(1).normal(100_000, 2_000, 90))
    burst = quiet_calls + 2 * tuple(int(ns * 1.5) for ns in quiet_calls)
    recorded = _result(3.0, None)
    recorded = LatencyResult(
        "t",
        recorded.samples_ns,
        1,
        1,
        0,
        0.0,
        cpu_samples_ns=recorded.samples_ns,
        cpu_clock="thread",
        yardstick_ns=burst,
    )
    assert sorted(burst)[len(burst) // 2] > 125_000  # its median reads the burst
    baseline = Baseline().with_latency(
        recorded,
        profile="ci",
        fingerprint=fingerprint,
        tolerance={"p50": 0.1},
        recorded_at="2026-12-02T00:00:00+00:00",
    )
    entry = baseline.entries["t"]
    assert isinstance(entry, LatencyEntry)
    (pace,) = entry.machines["ci"].history_yardstick_ms
    assert pace == pytest.approx(0.1, rel=0.05)
    unchanged = LatencyResult(
        "t",
        recorded.samples_ns,
        1,
        1,
        0,
        0.0,
        cpu_samples_ns=recorded.samples_ns,
        cpu_clock="thread",
        yardstick_ns=quiet_calls,
    )
    assert compare_latency(unchanged, entry, "ci", P50_ONLY).outcome is Outcome.PASS
    assert _verdict(_result(6.0, 0.1), entry.machines["ci"]) is Outcome.REGRESSED


def test_a_run_too_short_to_show_its_wander_is_judged_unscaled() -> None:
    """The CI case: two 0.3 s runs of an unchanged busy-wait model, one yardstick block or
    two each, read paces x1.17 apart (recorded 0.1053 ms a call, gated 0.0897 ms). Scaling
    by that read +16.5% INCONCLUSIVE for unchanged code; with too few blocks to show how
    far the pace wanders within a run, the stored times stay as they were."""
    short = _result(3.0, 0.0897, blocks=2)
    assert short.yardstick_noise is None
    recorded = _record(WALL, (0.1053,) * len(WALL))
    assert at_this_speed(WALL, recorded, short) == (WALL, None)
    assert _verdict(short, recorded) is Outcome.PASS
    # The same move in a run of six steady blocks is the machine's pace.
    steady = _result(3.0, 0.0897)
    assert at_this_speed(WALL, recorded, steady)[1] == pytest.approx(0.0897 / 0.1053, rel=0.02)


def test_a_move_within_the_runs_own_wander_is_not_the_machines_pace() -> None:
    """Blocks wandering by sd 0.06 of log (as one quiet process's did on the 2-core EPYC
    runner): a x1.2 move is within three of its deviations, x1.6 is not."""
    wandering = _result(3.0, 0.120, wander=0.06, blocks=8)
    noise = wandering.yardstick_noise
    assert noise is not None
    assert 0.03 < noise < 0.1
    pace = wandering.yardstick_ms
    assert pace is not None
    within = _record(WALL, (pace / 1.2,) * len(WALL))
    assert at_this_speed(WALL, within, wandering) == (WALL, None)
    beyond = _record(WALL, (pace / 1.6,) * len(WALL))
    assert at_this_speed(WALL, beyond, wandering)[1] == pytest.approx(1.6, rel=0.01)


def test_yardstick_blocks_must_add_up_to_its_calls() -> None:
    with pytest.raises(ValueError, match="yardstick blocks"):
        LatencyResult("t", (1, 2), 1, 1, 0, 0.0, yardstick_ns=(5, 5, 5), yardstick_blocks=(2,))
