"""Progress of a long measurement: drawn on a terminal (a real pseudo-terminal here),
absent from a pipe (a CI log) and under ``-q``; throttled, and erased when done."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_infergate
from pytest_infergate.measure.progress import SamplingProgress, Terminal, progress_wanted

ROOT = Path(pytest_infergate.__file__).resolve().parents[1]

#: Longer than the 2 s after which progress appears; the sample cap is never reached.
LONG = """
import time
import pytest

def busy():
    end = time.perf_counter() + 0.001
    while time.perf_counter() < end:
        pass

@pytest.mark.infergate(warmup=1, warmup_s=0, min_samples=10**6, min_time_s=2.6, max_time_s=2.6)
def test_long(infer_bench):
    infer_bench(busy)
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "BUILD_NUMBER")}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "120"
    return env


def _pytest(where: Path, *args: str, tty: bool) -> str:
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"]
    command += [*args, "test_long.py"]
    if not tty:
        done = subprocess.run(
            command, cwd=where, env=_env(), capture_output=True, text=True, timeout=120
        )
        return done.stdout + done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, cwd=where, env=_env(), stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def test_progress_shows_on_a_terminal_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_long=LONG)
    on_terminal = _pytest(pytester.path, tty=True)
    assert "test_long.py::test_long: " in on_terminal
    assert " samples, p50 ~1" in on_terminal  # ~1 ms calls
    assert "1 passed" in on_terminal
    piped = _pytest(pytester.path, tty=False)
    assert "1 passed" in piped
    assert " samples, p50 ~" not in piped
    quiet = _pytest(pytester.path, "-q", tty=True)
    assert "1 passed" in quiet
    assert " samples, p50 ~" not in quiet


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_plain_line_waits_for_the_delay_throttles_and_is_erased() -> None:
    written: list[str] = []
    clock = _Clock()
    progress = SamplingProgress(
        "t.py::test_m", Terminal(written.append), delay_s=2.0, interval_s=0.25, clock=clock
    )
    samples = [1_000_000, 3_000_000, 2_000_000]
    progress(samples)
    clock.now += 1.9
    progress(samples)
    assert written == []  # a short measurement stays silent
    clock.now += 0.2
    progress(samples)
    assert written == ["\nt.py::test_m: 3 samples, p50 ~2 ms, 2 s"]
    clock.now += 0.1
    progress([*samples, 5_000_000])
    assert len(written) == 1  # at most every interval_s
    clock.now += 0.2
    progress([*samples, 5_000_000, 6_000_000])
    assert written[-1].startswith("\rt.py::test_m: 5 samples, p50 ~3 ms")
    progress.close()
    assert written[-1].strip() == ""
    assert written[-1].startswith("\r")


def test_progress_is_wanted_by_a_person_at_a_terminal_only() -> None:
    assert progress_wanted(isatty=True, verbosity=0, environ={})
    assert not progress_wanted(isatty=False, verbosity=0, environ={})
    assert not progress_wanted(isatty=True, verbosity=-1, environ={})
    assert not progress_wanted(isatty=True, verbosity=0, environ={"CI": "true"})


def test_an_ab_run_reports_the_candidates_samples_after_each_block() -> None:
    from pytest_infergate.measure.timing import SamplingPlan, run_pair

    seen: list[int] = []
    plan = SamplingPlan(warmup_calls=1, warmup_s=0, min_samples=1, min_time_s=0, max_time_s=5)
    timing = run_pair(
        lambda: None,
        lambda: None,
        plan=plan,
        looks=[6],
        decide=lambda *_: False,
        min_sample_ns=1000,
        after_block=lambda samples: seen.append(len(samples)),
    )
    assert seen == [2, 4, 6]  # ABBA: two candidate samples a block
    assert timing.candidate.samples_ns
