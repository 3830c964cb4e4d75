"""How the ``infer_bench`` fixture runs one measurement once it has checked the test's call:
time it under the session's lock and telemetry (:mod:`pytest_infergate.measure`), judge it
(:mod:`pytest_infergate.judge`), record it in the session, and return the message its test
must fail with. :mod:`.latency` is one call (alone, or in lock-step with the other revision);
:mod:`.ab` is two calls interleaved in this process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pytest_infergate.judge.messages import failure_message
from pytest_infergate.measure.progress import ProgressFactory
from pytest_infergate.results import LatencyResult
from pytest_infergate.session import GateSession
from pytest_infergate.verdicts import Verdict

#: What a failed measurement was, in the message its test fails with.
MeasurementKind = Literal["latency", "against", "A/B"]


@dataclass(frozen=True)
class BenchContext:
    """Where measurements are made: the session, the test, its progress display, and a
    running sweep's start (its points' progress counts from there)."""

    session: GateSession
    nodeid: str
    progress: ProgressFactory | None = None
    sweep_started: float | None = None

    def failure(self, key: str, what: MeasurementKind, verdict: Verdict) -> str | None:
        """The message the test fails with for the recorded ``verdict``; ``None``: it passes."""
        if self.session.fails(verdict):
            return failure_message(key, what, verdict)
        return None


@dataclass(frozen=True)
class Measured:
    """One latency measurement: its result, the timed call's last value, and the message its
    test must fail with (``None``: it passes), so that a sweep can finish its points first."""

    result: LatencyResult
    value: Any
    failure: str | None = None
