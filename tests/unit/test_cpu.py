"""CPU use over a timed window, and the summary lines it gives."""

from __future__ import annotations

import time

from pytest_infergate.measure.cpu import CpuUsage, cpu_window
from pytest_infergate.report.terminal import cpu_lines
from pytest_infergate.results import LatencyResult, Measurement
from pytest_infergate.verdicts import Outcome, Verdict


def test_a_busy_loop_uses_the_cpu_and_a_sleep_does_not() -> None:
    with cpu_window() as busy:
        end = time.process_time() + 0.05
        while time.process_time() < end:
            pass
    with cpu_window() as idle:
        time.sleep(0.05)
    assert busy.usage is not None
    assert idle.usage is not None
    assert busy.usage.process_cpu_s >= 0.05
    assert busy.usage.utilisation > 4 * idle.usage.utilisation
    assert idle.usage.utilisation < 0.5
    assert busy.usage.cores >= 1


def _measured(key: str, cpu: CpuUsage | None) -> Measurement:
    result = LatencyResult(key, (1000, 1100), 1, 1, 0, 0.1)
    return Measurement(key, result, Verdict(key, "latency", Outcome.PASS), {}, cpu=cpu)


def test_summary_states_the_range_and_warns_on_an_overloaded_machine() -> None:
    quiet = CpuUsage(1.0, 0.98, 2, load_average=0.5, torch_threads=1)
    busy = CpuUsage(1.0, 0.6, 2, load_average=3.25, torch_threads=1)
    facts, warnings = cpu_lines(
        [_measured("t::quiet", quiet), _measured("t::busy", busy), _measured("t::acc", None)]
    )
    assert facts == [
        "timed windows used 0.60-0.98 CPU s per wall s (torch threads: 1); "
        "load average 0.50-3.25 on 2 cores"
    ]
    assert len(warnings) == 1
    assert warnings[0].startswith("1 of 2 measurements were timed while the load average")
    assert "(worst: t::busy, 3.25)" in warnings[0]


def test_no_cpu_figures_no_lines() -> None:
    assert cpu_lines([_measured("t::a", None)]) == ([], [])
    quiet = CpuUsage(1.0, 1.0, 4, load_average=None)
    assert cpu_lines([_measured("t::a", quiet)]) == (
        ["timed windows used 1.00-1.00 CPU s per wall s"],
        [],
    )
